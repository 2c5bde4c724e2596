#define _GNU_SOURCE
/*
 * Race mode (tsan preset only): two goroutines use one map with no
 * happens-before edge between them, one after the other (the scenario
 * map_race_sequenced of tests/crash/crashers.c: a set, a 200 ms sleep,
 * then a get in another goroutine).  The map reports every operation to
 * ThreadSanitizer as a read or a write of its header (Go's
 * racereadpc/racewritepc), so TSan must print a data race report naming
 * both map calls, although they never overlap in time.
 */
#include "child.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

Test(map_misuse_race, unsynchronised_set_then_get_is_a_tsan_data_race)
{
    if (!UNDER_TSAN)
        cr_skip_test("race mode needs the tsan preset");
    const char *argv[] = {child_sibling_path("../crash/gort-crashers"),
                          "map_race_sequenced", NULL};
    /* halt_on_error=0 (TSan's default): the program runs to its end. */
    const char *env[] = {"TSAN_OPTIONS=halt_on_error=0", NULL};
    child_result r;
    cr_assert(child_run(argv, env, 60, &r), "cannot run gort-crashers");
    cr_expect(!r.timed_out, "timed out");
    const char *report = strstr(r.err, "WARNING: ThreadSanitizer: data race");
    cr_assert(report != NULL, "no TSan data race report\nstderr:\n%s", r.err);
    /* The report block runs to the next rule line. */
    const char *end = strstr(report, "\n==================");
    size_t len = end != NULL ? (size_t)(end - report) : strlen(report);
    char *block = strndup(report, len);
    cr_expect(strstr(block, "gort_map_set_str") != NULL,
              "the report does not name gort_map_set_str:\n%s", block);
    cr_expect(strstr(block, "gort_map_get_str") != NULL,
              "the report does not name gort_map_get_str:\n%s", block);
    cr_expect(strstr(block, "raceSetter") != NULL && strstr(block, "raceGetter") != NULL,
              "the report does not show both goroutines' stacks:\n%s", block);
    /* TSan's exit status for a run with reports (exitcode=66). */
    cr_expect_eq(r.status, 66, "exit status %d, want 66 (TSan reported)", r.status);
    cr_expect(strstr(r.out, "done") != NULL, "the program did not finish");
    free(block);
    child_result_free(&r);
}
