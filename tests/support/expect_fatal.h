/*
 * expect_fatal.h - runs scenario @scenario of crash program @prog (a
 * sibling of the test executable) as a child process and checks Go's
 * shape of a fatal error: exit status 2, stderr starting with
 * "fatal error: <msg>", a blank line and "goroutine <goroutine>
 * [running]:", and a traceback that names the scenario's function.
 * Header-only (Criterion's cr_expect, or the TSan preset's shim).
 */
#ifndef GORT_TEST_EXPECT_FATAL_H
#define GORT_TEST_EXPECT_FATAL_H

#include "child.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static inline void expect_fatal_child(const char *prog, const char *scenario,
                                      const char *goroutine, const char *msg)
{
    const char *argv[] = {child_sibling_path(prog), scenario, NULL};
    child_result r;
    cr_assert(child_run(argv, NULL, 60, &r), "cannot run %s", prog);
    cr_expect(!r.timed_out, "%s timed out (a deadlock?)", scenario);
    cr_expect_eq(r.status, 2, "%s: exit status %d, want 2\nstderr:\n%s",
                 scenario, r.status, r.err);
    char head[1024];
    snprintf(head, sizeof head, "fatal error: %s\n\ngoroutine %s [running]:\n",
             msg, goroutine);
    cr_expect(strncmp(r.err, head, strlen(head)) == 0,
              "%s: stderr starts\n%s\nwant\n%s", scenario, r.err, head);
    cr_expect(strstr(r.err, scenario) != NULL,
              "%s: the traceback does not name it:\n%s", scenario, r.err);
    child_result_free(&r);
}

#endif /* GORT_TEST_EXPECT_FATAL_H */
