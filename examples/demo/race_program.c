/*
 * race_program.c - the program the race-report scenario runs under
 * ThreadSanitizer: two goroutines write one map, never at the same time,
 * with nothing ordering the two writes.
 *
 *     m := map[string]int64{"first": 0, "second": 0}
 *     go func() { m["first"] = 1; firstDone = true }()   // no sync
 *     for !firstDone { time.Sleep(time.Millisecond) }
 *     go func() { m["second"] = 2 }()
 *
 * The two writes never overlap, so gort's hashWriting check (Go's
 * "concurrent map writes") has nothing to catch; but no happens-before
 * edge connects them either: the flag that tells main the first write is
 * over is a relaxed atomic, and a relaxed load synchronises with nothing
 * (in Go the sleep alone plays that part: time.Sleep orders nothing).  A
 * goroutine's end orders nothing either (src/goroutine.c).  The map
 * reports every operation to ThreadSanitizer as a read or write of its
 * header (src/map_internal.h, Go's racewritepc), so TSan reports a data
 * race whose two stacks are the two gort_map_set_str calls, and the two
 * goroutines' creation stacks (gort_go in this file).  Go's -race prints
 * the same single report for the Go program above.
 *
 * The keys differ on purpose: for the race detector the map is one
 * variable, whichever keys are written (Go's too), and with distinct
 * value slots the map's report is the only one.  Writing the same key
 * would add a second report, on the slot itself (`*slot = v` is a plain C
 * store racing with the other goroutine's); writing a key the map does
 * not hold yet would add reports on the bucket memory the first write
 * allocated, which TSan sees inside the instrumented library while Go's
 * uninstrumented runtime does not.  Both keys therefore exist before the
 * goroutines start.
 *
 * It is built twice: into gort-demo-race (race_main.c), a separate
 * executable compiled with -fsanitize=thread against a TSan build of the
 * library's sources, which every build tree with a TSan-capable compiler
 * has; and, in a tsan tree, into gort-demo itself as the hidden child
 * part race-report-program.  Without TSan it runs and races unseen.
 */
#include "demo.h"

#include <gort/gort.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* How long main waits for the first write before giving up: the first
 * goroutine needs well under a millisecond, so this bounds a broken run
 * only (a heavily loaded machine or valgrind stays far below it). */
enum { FIRST_WRITE_TIMEOUT_MS = 10000 };

static gort_map *race_map;    /* m: made by main before both goroutines */
static int first_done;        /* relaxed atomic: 1 once firstWrite wrote */
static gort_waitgroup writers; /* both goroutines; waited on after the race */

__attribute__((noinline)) static void first_write(void *unused)
{
    (void)unused;
    *(int64_t *)gort_map_set_str(race_map, "first", 5) = 1;
    printf("goroutine %lld: m[\"first\"] = 1\n", (long long)gort_goid());
    /* Relaxed on purpose: main learns that the write is over without a
     * happens-before edge, which is exactly the bug TSan must report. */
    __atomic_store_n(&first_done, 1, __ATOMIC_RELAXED);
    gort_waitgroup_done(&writers);
}

__attribute__((noinline)) static void second_write(void *unused)
{
    (void)unused;
    *(int64_t *)gort_map_set_str(race_map, "second", 6) = 2;
    printf("goroutine %lld: m[\"second\"] = 2\n", (long long)gort_goid());
    gort_waitgroup_done(&writers);
}

__attribute__((noinline)) int demo_race_program(void)
{
    race_map = gort_map_new_str(sizeof(int64_t), 0);
    *(int64_t *)gort_map_set_str(race_map, "first", 5) = 0;
    *(int64_t *)gort_map_set_str(race_map, "second", 6) = 0;
    gort_waitgroup_add(&writers, 2);
    gort_go(first_write, NULL);

    /* Poll the relaxed flag with 1 ms sleeps: the writes are sequenced in
     * time (so hashWriting never fires) but not ordered for TSan. */
    int waited_ms = 0;
    while (!__atomic_load_n(&first_done, __ATOMIC_RELAXED)) {
        if (waited_ms++ >= FIRST_WRITE_TIMEOUT_MS) {
            printf("main: the first goroutine did not write within %d ms\n",
                   FIRST_WRITE_TIMEOUT_MS);
            return 1;
        }
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    printf("main: the first write is over; starting the second writer\n");
    gort_go(second_write, NULL);

    /* Wait orders both writes before what follows: no race from here. */
    gort_waitgroup_wait(&writers);
    const int64_t *first = gort_map_get_str(race_map, "first", 5);
    const int64_t *second = gort_map_get_str(race_map, "second", 6);
    bool ok = first != NULL && *first == 1 && second != NULL && *second == 2 &&
              gort_map_len(race_map) == 2;
    printf("main: m = map[first:%lld second:%lld], len %zu; done\n",
           first != NULL ? (long long)*first : -1LL,
           second != NULL ? (long long)*second : -1LL, gort_map_len(race_map));
    gort_map_free(race_map);
    return ok ? 0 : 1;
}
