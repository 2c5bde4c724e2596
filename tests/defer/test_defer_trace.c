/*
 * GORTDEBUG=deferpcstack=1: every defer push and run is traced on stderr
 * as
 *   gort: defer push goroutine G site FUNC (FILE:LINE) pc=0x.. sp=0x.. depth=N
 *   gort: defer run/<return|panic|goexit> goroutine G site ... depth=N
 * (src/defer.c trace_line).  The child program defer_trace_child prints
 * on stdout where it defers; this test checks one push line per defer
 * with the right function, file:line and chain depth, and one run line
 * per push, in LIFO order, with the same site, sp and depth.
 */
#include "child.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trace_line {
    char what[32];   /* push, run/return, run/panic, run/goexit */
    long goroutine;
    char func[128];
    char file[512];
    int line;
    unsigned long pc, sp;
    unsigned depth;
} trace_line;

static bool parse_trace(const char *s, trace_line *t)
{
    return sscanf(s,
                  "gort: defer %31s goroutine %ld site %127s (%511[^:]:%d) "
                  "pc=%lx sp=%lx depth=%u",
                  t->what, &t->goroutine, t->func, t->file, &t->line, &t->pc,
                  &t->sp, &t->depth) == 8;
}

typedef struct expect {
    char func[128];
    int line;
} expect;

enum { MAXN = 64 };

typedef struct traced_run {
    expect expects[MAXN];
    int nexpect;
    trace_line lines[2 * MAXN];
    int nlines;
} traced_run;

static const char *trace_env[] = {"GORTDEBUG=deferpcstack=1", NULL};
static const char *no_trace_env[] = {"GORTDEBUG=", NULL};

static void run_child(const char *mode, const char **env, traced_run *r,
                      child_result *cr)
{
    const char *argv[] = {child_sibling_path("defer_trace_child"), mode, NULL};
    cr_assert(child_run(argv, env, 30, cr), "cannot start %s", argv[0]);
    cr_assert_eq(cr->status, 0, "child %s exited with %d; stderr:\n%s", mode,
                 cr->status, cr->err);
    cr_assert_not_null(strstr(cr->out, "done\n"), "child %s did not finish", mode);

    memset(r, 0, sizeof *r);
    for (char *l = cr->out; l != NULL && *l != '\0';) {
        char *nl = strchr(l, '\n');
        expect e;
        if (sscanf(l, "expect %127s %d", e.func, &e.line) == 2) {
            cr_assert_lt(r->nexpect, MAXN);
            r->expects[r->nexpect++] = e;
        }
        l = nl != NULL ? nl + 1 : NULL;
    }
    for (char *l = cr->err; l != NULL && *l != '\0';) {
        char *nl = strchr(l, '\n');
        if (strncmp(l, "gort: defer ", 12) == 0) {
            cr_assert_lt(r->nlines, 2 * MAXN);
            cr_assert(parse_trace(l, &r->lines[r->nlines]), "unparsable trace line: %.*s",
                      nl != NULL ? (int)(nl - l) : (int)strlen(l), l);
            r->nlines++;
        }
        l = nl != NULL ? nl + 1 : NULL;
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Checks the pushes against the expectations and replays the chain: a
 * push adds one record, a run must be the newest record.  Returns the
 * run kinds in run order through kinds[]. */
static void check_trace(const char *mode, traced_run *r, char kinds[][32])
{
    trace_line *stack[MAXN];
    int depth = 0, npush = 0, nrun = 0;
    for (int i = 0; i < r->nlines; i++) {
        trace_line *t = &r->lines[i];
        cr_assert_eq(t->goroutine, 1, "%s: goroutine %ld", mode, t->goroutine);
        cr_assert(ends_with(t->file, "defer_trace_child.c"), "%s: file %s", mode,
                  t->file);
        if (strcmp(t->what, "push") == 0) {
            cr_assert_lt(npush, r->nexpect, "%s: more pushes than defers", mode);
            const expect *e = &r->expects[npush++];
            cr_assert_str_eq(t->func, e->func, "%s: push %d", mode, npush);
            cr_assert_eq(t->line, e->line, "%s: push %d at line %d, want %d", mode,
                         npush, t->line, e->line);
            cr_assert_neq(t->pc, 0, "%s: push without pc", mode);
            cr_assert_eq(t->depth, (unsigned)depth + 1, "%s: push depth %u, want %d",
                         mode, t->depth, depth + 1);
            stack[depth++] = t;
        } else {
            cr_assert_eq(strncmp(t->what, "run/", 4), 0, "%s: what %s", mode, t->what);
            cr_assert_gt(depth, 0, "%s: a run with an empty chain", mode);
            const trace_line *p = stack[--depth];
            cr_assert_str_eq(t->func, p->func, "%s: run out of LIFO order", mode);
            cr_assert_eq(t->line, p->line, "%s: run of line %d, newest is %d", mode,
                         t->line, p->line);
            cr_assert_eq(t->sp, p->sp, "%s: run sp differs from push sp", mode);
            cr_assert_eq(t->depth, p->depth, "%s: run depth %u, push depth %u", mode,
                         t->depth, p->depth);
            snprintf(kinds[nrun++], 32, "%s", t->what);
        }
    }
    cr_assert_eq(npush, r->nexpect, "%s: %d push lines for %d defers", mode, npush,
                 r->nexpect);
    cr_assert_eq(nrun, npush, "%s: %d run lines for %d pushes", mode, nrun, npush);
    cr_assert_eq(depth, 0);
}

static void check_mode(const char *mode, int want_defers, const char *kind)
{
    traced_run r;
    child_result cr;
    char kinds[MAXN][32];
    run_child(mode, trace_env, &r, &cr);
    cr_assert_eq(r.nexpect, want_defers, "%s: child deferred %d calls", mode,
                 r.nexpect);
    check_trace(mode, &r, kinds);
    if (kind != NULL)
        for (int i = 0; i < want_defers; i++)
            cr_assert_str_eq(kinds[i], kind, "%s: run %d", mode, i);
    child_result_free(&cr);
}

Test(defer_trace, traces_every_push_and_return_run_of_nested_frames)
{
    check_mode("return", 5, "run/return");
}

Test(defer_trace, traces_pooled_records)
{
    check_mode("pooled", 12, "run/return");
}

Test(defer_trace, traces_copied_argument_defers_once)
{
    check_mode("copy", 2, "run/return");
}

Test(defer_trace, traces_runs_by_a_panic_and_after_the_recovery)
{
    traced_run r;
    child_result cr;
    char kinds[MAXN][32];
    run_child("panic", trace_env, &r, &cr);
    cr_assert_eq(r.nexpect, 4);
    check_trace("panic", &r, kinds);
    /* panicking's and middle's calls and the recovering one run by the
     * panic; the oldest one when scenario_panic returns. */
    cr_assert_str_eq(kinds[0], "run/panic");
    cr_assert_str_eq(kinds[1], "run/panic");
    cr_assert_str_eq(kinds[2], "run/panic");
    cr_assert_str_eq(kinds[3], "run/return");
    child_result_free(&cr);
}

/* A site whose file path is longer than the trace's 1024-byte buffer,
 * traced by four goroutines at once: every line is whole (one write), its
 * file shortened to "..." and its last bytes.  Before, such a line went
 * out in two writes and other lines landed between them (found by
 * review). */
Test(defer_trace, long_file_paths_keep_each_line_whole)
{
    const char *argv[] = {child_sibling_path("defer_trace_child"), "long_file",
                          NULL};
    child_result cr;
    cr_assert(child_run(argv, trace_env, 60, &cr), "cannot start %s", argv[0]);
    cr_assert_eq(cr.status, 0, "stderr:\n%s", cr.err);
    int lines = 0;
    for (char *l = cr.err; *l != '\0';) {
        char *nl = strchr(l, '\n');
        cr_assert_not_null(nl, "unterminated line: %s", l);
        cr_assert(strncmp(l, "gort: defer ", 12) == 0 &&
                      strstr(l, " (...") != NULL && strstr(l, " (...") < nl &&
                      strstr(l, "long_file.c:") != NULL &&
                      strstr(l, "long_file.c:") < nl,
                  "line %d is not a whole trace line: %.*s", lines,
                  (int)(nl - l), l);
        cr_assert_leq(nl - l, 1023, "line %d: %td bytes", lines, nl - l);
        lines++;
        l = nl + 1;
    }
    cr_assert_eq(lines, 4 * 50 * 10 * 2, "one push and one run per defer");
    child_result_free(&cr);
}

Test(defer_trace, is_silent_without_gortdebug)
{
    traced_run r;
    child_result cr;
    run_child("panic", no_trace_env, &r, &cr);
    cr_assert_eq(r.nexpect, 4);
    cr_assert_eq(r.nlines, 0, "traced without GORTDEBUG:\n%s", cr.err);
    child_result_free(&cr);
}
