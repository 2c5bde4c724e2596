/*
 * golden.c - normalise crash output and compare it with Go's.
 * The rules are listed in golden.h.
 */
#include "golden.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '*' ||
           c == '(' || c == ')' || c == '[' || c == ']' || c == '-';
}

/* "pkg.name(args)" or "name(args)" -> "name(...)"; returns false if the
 * line is not a frame line. */
static bool frame_line(sbuf *b, const char *line, size_t n)
{
    if (n < 3 || line[n - 1] != ')' || line[0] == '\t' || line[0] == ' ')
        return false;
    const char *open = memchr(line, '(', n);
    if (open == NULL || open == line)
        return false;
    for (const char *c = line; c < open; c++)
        if (!is_ident(*c))
            return false;
    /* Drop the package prefix: up to the last '.' before a lowercase
     * identifier of the function (Go: main.f, main.g.func1 stays g.func1
     * is not used by our programs). */
    const char *name = line;
    const char *dot = memchr(line, '.', (size_t)(open - line));
    if (dot != NULL)
        name = dot + 1;
    sb_put(b, name, (size_t)(open - name));
    sb_str(b, "(...)");
    return true;
}

/* "\t/path/file.ext:123 +0x1f" -> "\tFILE:LINE" */
static bool location_line(sbuf *b, const char *line, size_t n)
{
    if (n < 4 || line[0] != '\t')
        return false;
    const char *colon = NULL;
    for (const char *c = line + 1; c < line + n; c++)
        if (*c == ':' && c + 1 < line + n && isdigit((unsigned char)c[1]))
            colon = c;
    if (colon == NULL)
        return false;
    sb_str(b, "\tFILE:LINE");
    return true;
}

/* Rewrites hex values of pc= and addr= inside a line. */
static void rewrite_hex(sbuf *b, const char *line, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i > 5 && memcmp(line + i, "pc=0x", 5) == 0) {
            sb_str(b, "pc=PC");
            i += 5;
            while (i < n && isxdigit((unsigned char)line[i]))
                i++;
            continue;
        }
        if (n - i > 7 && memcmp(line + i, "addr=0x", 7) == 0) {
            size_t j = i + 7;
            while (j < n && isxdigit((unsigned char)line[j]))
                j++;
            if (j - (i + 7) == 1 && line[i + 7] == '0')
                sb_str(b, "addr=0x0");
            else
                sb_str(b, "addr=ADDR");
            i = j;
            continue;
        }
        if (n - i > 10 && memcmp(line + i, "goroutine ", 10) == 0 &&
            isdigit((unsigned char)line[i + 10])) {
            size_t j = i + 10;
            while (j < n && isdigit((unsigned char)line[j]))
                j++;
            if (j - (i + 10) == 1 && line[i + 10] == '1')
                sb_str(b, "goroutine 1");
            else
                sb_str(b, "goroutine N");
            i = j;
            continue;
        }
        sb_put(b, line + i, 1);
        i++;
    }
}

char *golden_normalize(const char *text)
{
    sbuf b = {0};
    sb_put(&b, "", 0);
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n >= 12 && memcmp(p, "exit status ", 12) == 0) {
            /* go run's own line */
        } else if (n > 11 && memcmp(p, "created by ", 11) == 0) {
            const char *name = p + 11;
            const char *end = p + n;
            const char *in = strstr(name, " in goroutine ");
            if (in != NULL && in < end)
                end = in;
            const char *dot = memchr(name, '.', (size_t)(end - name));
            if (dot != NULL)
                name = dot + 1;
            sb_str(&b, "created by ");
            sb_put(&b, name, (size_t)(end - name));
            sb_str(&b, "\n");
        } else {
            if (!frame_line(&b, p, n) && !location_line(&b, p, n))
                rewrite_hex(&b, p, n);
            sb_str(&b, "\n");
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return b.p;
}

char *golden_read(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.golden", GORT_GOLDEN_DIR, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    sbuf b = {0};
    sb_put(&b, "", 0);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_put(&b, buf, k);
    fclose(f);
    return b.p;
}

bool golden_match(const char *name, const char *actual)
{
    char *want = golden_read(name);
    char *got = golden_normalize(actual);
    bool ok = want != NULL && strcmp(want, got) == 0;
    if (!ok) {
        fprintf(stderr, "golden %s mismatch\n--- want\n%s--- got (normalised)\n%s--- raw\n%s---\n",
                name, want != NULL ? want : "(missing golden file)\n", got, actual);
    }
    free(want);
    free(got);
    return ok;
}
