/*
 * map-crashers: misuse of map iterators that gort ends with a fatal
 * error instead of reading freed memory, one scenario per argument, run
 * as a child by test_map_crash.c.  Each scenario ends the process with
 * "fatal error: ..." and exit status 2; returning from main (exit 1)
 * means the misuse went unnoticed.
 */
#include <gort/map.h>
#include <gort/snapmap.h>

#include "scenario_main.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static gort_map *filled_map(uint64_t n)
{
    gort_map *m = gort_map_new_u64(8, 0);
    for (uint64_t k = 0; k < n; k++)
        *(uint64_t *)gort_map_set_u64(m, k) = k;
    return m;
}

static void run_to_end(gort_map_iter *it)
{
    while (gort_map_iter_next(it)) {
    }
}

/* Two copies of one iteration both run to its end. */
__attribute__((noinline)) static void iter_copy_finished_twice(void)
{
    gort_map *m = filled_map(100);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    gort_map_iter copy = it;
    run_to_end(&it);
    run_to_end(&copy);
}

/* One copy ends the iteration early, the other runs to its end. */
__attribute__((noinline)) static void iter_copy_ended_then_finished(void)
{
    gort_map *m = filled_map(100);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    gort_map_iter copy = it;
    gort_map_iter_end(&it);
    run_to_end(&copy);
}

/* A copy steps on after the other finished and a growth freed what the
 * iteration needed: without the check it would walk a freed array. */
__attribute__((noinline)) static void iter_copy_after_release(void)
{
    gort_map *m = filled_map(100);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    (void)gort_map_iter_next(&it);
    gort_map_iter copy = it;
    for (uint64_t k = 100; k < 1000; k++) /* growths: the array goes */
        gort_map_set_u64(m, k);
    run_to_end(&it);
    for (uint64_t k = 1000; k < 5000; k++) /* a growth finds none live */
        gort_map_set_u64(m, k);
    run_to_end(&copy);
}

/* An iteration of a snapmap view stepped after the view ended and the
 * map published twice (the view's copy has been written since). */
__attribute__((noinline)) static void iter_outlives_view(void)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    int64_t v = 1;
    char key[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        gort_snapmap_set_str(s, key, (size_t)n, &v);
    }
    gort_snapmap_flush(s);
    const gort_map *view = gort_snapmap_read_begin(s);
    gort_map_iter it;
    gort_map_iter_init(&it, view);
    (void)gort_map_iter_next(&it);
    gort_snapmap_read_end(s, view);
    for (int round = 0; round < 2; round++) {
        gort_snapmap_set_str(s, "x", 1, &v);
        gort_snapmap_flush(s);
    }
    run_to_end(&it);
}

int main(int argc, char **argv)
{
    static const scenario scenarios[] = {
        {"iter_copy_finished_twice", iter_copy_finished_twice},
        {"iter_copy_ended_then_finished", iter_copy_ended_then_finished},
        {"iter_copy_after_release", iter_copy_after_release},
        {"iter_outlives_view", iter_outlives_view},
    };
    return scenario_main(argc, argv, "map-crashers", scenarios,
                         sizeof scenarios / sizeof scenarios[0]);
}
