/*
 * Map crashes: the nil-map write (a runtime panic) and the three fatal
 * errors of concurrent misuse (Go's hashWriting checks), each run as a
 * child process of gort-crashers: exit status 2, normalised stderr equal
 * to tests/golden/NAME.golden (Go's output, README.md there).
 *
 * The racing scenarios update existing keys from bounded loops (20 s
 * deadline; a run that sees nothing exits 1, "no detection").  Which of
 * two writers detects varies, but both run the same function, so the
 * golden holds either way.
 *
 * ThreadSanitizer reports the race itself before gort's check can fire
 * (and may stop the process), so under the tsan preset the racing tests
 * are skipped: tests/map/test_map_misuse_race.c checks TSan's report
 * there instead.
 */
#include "child.h"
#include "golden.h"

#include <criterion/criterion.h>
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

static void expect_map_golden(const char *scenario)
{
    const char *argv[] = {child_sibling_path("gort-crashers"), scenario, NULL};
    child_result r;
    cr_assert(child_run(argv, NULL, 60, &r), "cannot run gort-crashers");
    cr_expect(!r.timed_out, "%s timed out", scenario);
    cr_expect_eq(r.status, 2, "%s: exit status %d, want 2\nstderr:\n%s",
                 scenario, r.status, r.err);
    cr_expect(golden_match(scenario, r.err), "%s: output differs from Go's",
              scenario);
    child_result_free(&r);
}

static void expect_fatal(const char *scenario)
{
    if (UNDER_TSAN)
        cr_skip_test("ThreadSanitizer reports the race before gort's check "
                     "(map_misuse_race checks its report)");
    expect_map_golden(scenario);
}

Test(crash_map, a_nil_map_written_in_a_deferred_call_panics)
{
    expect_map_golden("nil_map_write_deferred");
}

Test(crash_map, two_racing_writers_are_concurrent_map_writes)
{
    expect_fatal("concurrent_map_writes");
}

Test(crash_map, a_read_racing_a_write_is_concurrent_map_read_and_map_write)
{
    expect_fatal("concurrent_map_read_write");
}

Test(crash_map, an_iteration_racing_a_write_is_concurrent_map_iteration_and_map_write)
{
    expect_fatal("concurrent_map_iter_write");
}
