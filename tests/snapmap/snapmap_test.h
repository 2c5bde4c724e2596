/*
 * snapmap_test.h - helpers shared by the snapshot-map tests: panic
 * capture, bounded waits, values read through a view, the free hook.
 */
#ifndef GORT_TEST_SNAPMAP_TEST_H
#define GORT_TEST_SNAPMAP_TEST_H

#include "panic_capture.h"

#include <gort/defer.h>
#include <gort/map.h>
#include <gort/sync.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Declared in src/snapmap.c and exported for the tests: @fn sees the
 * final version when gort_snapmap_free() is done with the pending ops and
 * the open views. */
void gort__snapmap_set_free_hook(gort_snapmap *s,
                                 void (*fn)(const gort_map *, void *),
                                 void *ctx);

/* caught_panic, call_catching: tests/support/panic_capture.h. */

static inline double snap_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void snap_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The int64 value of key @k in @view, or @absent. */
static inline int64_t view_get(const gort_map *view, const char *k,
                               int64_t absent)
{
    const int64_t *v = gort_map_get_str(view, k, strlen(k));
    return v != NULL ? *v : absent;
}

/* The value of @k in a fresh view of @s, or @absent. */
static inline int64_t snap_get(gort_snapmap *s, const char *k, int64_t absent)
{
    const gort_map *view = gort_snapmap_read_begin(s);
    int64_t v = view_get(view, k, absent);
    gort_snapmap_read_end(s, view);
    return v;
}

static inline void snap_set(gort_snapmap *s, const char *k, int64_t v)
{
    gort_snapmap_set_str(s, k, strlen(k), &v);
}

/* Polls (1 ms sleeps) until fresh views of @s have @len entries or
 * @limit_s seconds passed; returns whether they do.  A bounded wait, not
 * a timing assertion: the limit is far above any expected delay. */
static inline bool snap_wait_len(gort_snapmap *s, size_t len, double limit_s)
{
    double end = snap_now() + limit_s;
    for (;;) {
        const gort_map *view = gort_snapmap_read_begin(s);
        size_t n = gort_map_len(view);
        gort_snapmap_read_end(s, view);
        if (n == len)
            return true;
        if (snap_now() > end)
            return false;
        snap_sleep_ms(1);
    }
}

#endif
