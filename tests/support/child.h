/*
 * child.h - run a program as a child process and capture what it prints.
 *
 * Crash tests run the code under test in a child (a crash must not take
 * the test runner with it) and check its exit status and its stderr.
 */
#ifndef GORT_TEST_CHILD_H
#define GORT_TEST_CHILD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct child_result {
    int status;   /* exit status, or 128 + signal number when killed */
    char *out;    /* everything written to stdout, NUL-terminated (malloc) */
    char *err;    /* everything written to stderr, NUL-terminated (malloc) */
    bool timed_out; /* killed after the timeout */
} child_result;

/* Runs argv[0] (a path) with argv, adding the NULL-terminated "NAME=value"
 * strings of env (may be NULL) to the environment.  Kills the child after
 * timeout_s seconds.  Returns false if the child could not be started. */
bool child_run(const char *const argv[], const char *const env[],
               double timeout_s, child_result *r);
/* Like child_run, but the child's stdout and stderr are one pipe (its
 * 2>&1): r->out holds both in the order they were written, r->err is
 * empty. */
bool child_run_merged(const char *const argv[], const char *const env[],
                      double timeout_s, child_result *r);
void child_result_free(child_result *r);

/* Path of a program built beside the test executable (same directory as
 * /proc/self/exe, or as `rel` relative to it). */
const char *child_sibling_path(const char *rel);

#endif
