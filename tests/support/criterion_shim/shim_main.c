/*
 * shim_main.c - the runner of the Criterion stand-in (criterion/criterion.h
 * in this directory): runs every registered test in a child process, or
 * only those whose "suite/name" contains argv[1], and prints one line per
 * test and Criterion's synthesis line.  Exit status 0 when all passed.
 */
#include "criterion/criterion.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SKIP_STATUS = 77 };

static shim_test *head;
static shim_test **tail = &head;

void shim_register(shim_test *t)
{
    *tail = t;
    tail = &t->next;
}

void shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: Assertion failed: %s\n", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    fputs("   ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static bool expect_failed;

void shim_expect_fail(const char *file, int line, const char *expr,
                      const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: Expectation failed: %s\n", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    fputs("   ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    expect_failed = true;
}

void shim_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("skipped:", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(SKIP_STATUS);
}

int main(int argc, char **argv)
{
    /* Criterion's own options (--jobs, --short-filename) are ignored. */
    const char *filter = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    int tested = 0, passing = 0, failing = 0, crashing = 0;
    for (shim_test *t = head; t != NULL; t = t->next) {
        char id[256];
        snprintf(id, sizeof id, "%s/%s", t->suite, t->name);
        if (filter != NULL && strstr(id, filter) == NULL)
            continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            t->fn();
            exit(expect_failed ? 1 : 0);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0)
            ;
        const char *verdict;
        if (WIFEXITED(st) && WEXITSTATUS(st) == SKIP_STATUS) {
            verdict = "SKIP";
        } else {
            tested++;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                verdict = "PASS";
                passing++;
            } else if (WIFEXITED(st)) {
                verdict = "FAIL";
                failing++;
            } else {
                verdict = "CRASH";
                crashing++;
            }
        }
        fprintf(stderr, "[%s] %s::%s", verdict, t->suite, t->name);
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != SKIP_STATUS)
            fprintf(stderr, " (exit status %d)", WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
            fprintf(stderr, " (signal %d)", WTERMSIG(st));
        fputc('\n', stderr);
    }
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d \n",
            tested, passing, failing, crashing);
    return failing + crashing == 0 && tested > 0 ? 0 : 1;
}
