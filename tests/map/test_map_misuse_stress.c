/*
 * Detection rate of concurrent map writes (stress tier, bounded by
 * GORT_STRESS_SECONDS per mode, default 2): child processes of
 * gort-crashers run "concurrent_map_writes 1", two goroutines updating
 * the same keys for up to 1 s, in the default mode and with
 * GORTDEBUG=mapstrict=1.  Prints, per mode, the share of runs that ended
 * with "fatal error: concurrent map writes" (within the 1 s the writers
 * race) and the mean and longest run time.
 *
 * Passes if strict mode detected in every run (an atomic RMW on the
 * flag: of two overlapping writers one always sees the other) and the
 * default mode (Go's plain load/store, best effort: go#31516) in at
 * least one.  Skipped under TSan, which reports the race itself first.
 */
#include "child.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum { MAX_RUNS = 10, MIN_RUNS = 3 };

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double stress_seconds(void)
{
    const char *s = getenv("GORT_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2;
}

typedef struct rate {
    int runs, detected;
    double total_s, max_s;
} rate;

/* Runs up to MAX_RUNS children (at least MIN_RUNS) within the budget. */
static rate measure(const char *mode, const char *const env[])
{
    rate rt = {0, 0, 0, 0};
    double budget = stress_seconds();
    double start = now_seconds();
    while (rt.runs < MAX_RUNS &&
           (rt.runs < MIN_RUNS || now_seconds() - start < budget)) {
        const char *argv[] = {child_sibling_path("../crash/gort-crashers"),
                              "concurrent_map_writes", "1", NULL};
        child_result r;
        double t0 = now_seconds();
        cr_assert(child_run(argv, env, 30, &r), "cannot run gort-crashers");
        double dt = now_seconds() - t0;
        static const char msg[] = "fatal error: concurrent map writes\n";
        bool detected = r.status == 2 && strncmp(r.err, msg, sizeof msg - 1) == 0;
        /* Anything else than a detection or a clean "no detection" is a
         * bug (a crash of the map itself). */
        cr_expect(detected || (r.status == 1 && strstr(r.err, "no detection") != NULL),
                  "%s: exit status %d\nstderr:\n%s", mode, r.status, r.err);
        rt.runs++;
        rt.detected += detected;
        rt.total_s += dt;
        if (dt > rt.max_s)
            rt.max_s = dt;
        child_result_free(&r);
    }
    printf("map misuse stress, %-26s: detected %d/%d (%.0f%%) within 1 s; "
           "run time mean %.3f s, max %.3f s\n",
           mode, rt.detected, rt.runs, 100.0 * rt.detected / rt.runs,
           rt.total_s / rt.runs, rt.max_s);
    fflush(stdout);
    return rt;
}

Test(map_misuse_stress, racing_writers_are_detected_always_in_strict_mode)
{
    if (UNDER_TSAN)
        cr_skip_test("ThreadSanitizer reports the race before gort's check");
    const char *def_env[] = {"GORTDEBUG=mapstrict=0", NULL};
    const char *strict_env[] = {"GORTDEBUG=mapstrict=1", NULL};
    rate def = measure("default", def_env);
    rate strict = measure("GORTDEBUG=mapstrict=1", strict_env);
    cr_expect_eq(strict.detected, strict.runs,
                 "strict mode missed %d of %d runs", strict.runs - strict.detected,
                 strict.runs);
    cr_expect(def.detected >= 1, "default mode detected in none of %d runs", def.runs);
}
