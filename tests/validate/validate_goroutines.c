/*
 * validate_goroutines: goroutines, their own defer chains, WaitGroup and
 * panics recovered concurrently.  A plain program (tests/support/check.h)
 * so it also runs under ThreadSanitizer, where Criterion cannot.
 *
 * Phases, each repeated until GORT_STRESS_SECONDS (default 2) elapse:
 *   1. 8 goroutines each run frames with 1..40 defers (past the 8 inline
 *      records, into the per-thread pool) and check their LIFO order;
 *   2. the same goroutines panic inside nested frames and recover at a
 *      random depth; the value and the frame result are checked;
 *   3. gort_goexit ends half of them early; their defers must all run;
 *   4. goroutine ids are unique and never 1.
 */
#include <gort/gort.h>

#include "check.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

enum { GOROUTINES = 8, MAX_DEFERS = 40 };

typedef struct worker {
    gort_waitgroup *wg;
    uint64_t seed;
    int64_t id;          /* gort_goid() seen by the goroutine */
    long rounds;         /* rounds completed */
    int order[MAX_DEFERS];
    int next;            /* slots of order[] filled */
    bool goexit;         /* end with gort_goexit */
    int goexit_defers_ran;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct slot {
    worker *w;
    int index;
} slot;

static void record(void *arg)
{
    slot *s = arg;
    s->w->order[s->w->next++] = s->index;
}

__attribute__((noinline)) static void many_defers(worker *w, int n)
{
    slot slots[MAX_DEFERS];
    GORT_FRAME;
    for (int i = 0; i < n; i++) {
        slots[i].w = w;
        slots[i].index = i;
        gort_defer(record, &slots[i]);
    }
}

static void recover_here(void *arg)
{
    const gort_panic_info *p = gort_recover();
    CHECK(p != NULL);
    CHECK_STR_EQ(gort_panic_message(p), "deep panic");
    *(volatile int *)arg = 7;
}

__attribute__((noinline)) static int nest(int depth, int recover_at)
{
    volatile int result = 0; /* volatile: read after the resume point */
    GORT_FRAME_RETURN(result);
    if (depth == recover_at)
        gort_defer(recover_here, (void *)&result);
    if (depth == 0)
        gort_panic("deep panic");
    result = nest(depth - 1, recover_at) + 1;
    return result;
}

static void count_goexit_defer(void *arg)
{
    ((worker *)arg)->goexit_defers_ran++;
}

static void goexit_now(worker *w)
{
    GORT_FRAME;
    gort_defer(count_goexit_defer, w);
    gort_defer(count_goexit_defer, w);
    gort_goexit();
}

static void done(void *arg)
{
    gort_waitgroup_done(arg);
}

static void run_worker(void *arg)
{
    worker *w = arg;
    GORT_FRAME;
    gort_defer(done, w->wg);
    w->id = gort_goid();
    for (int round = 0; round < 50; round++) {
        int n = 1 + (int)(next_rand(&w->seed) % MAX_DEFERS);
        w->next = 0;
        many_defers(w, n);
        CHECK_EQ_LONG(w->next, n);
        for (int i = 0; i < n; i++)
            CHECK_EQ_LONG(w->order[i], n - 1 - i);

        int depth = 1 + (int)(next_rand(&w->seed) % 30);
        int at = (int)(next_rand(&w->seed) % (uint64_t)(depth + 1));
        /* The frame at depth `at` recovers and returns 7; each frame
         * above adds one. */
        CHECK_EQ_LONG(nest(depth, at), 7 + (depth - at));
        CHECK(gort_recover() == NULL);
        w->rounds++;
    }
    if (w->goexit)
        goexit_now(w);
}

int main(void)
{
    CHECK_EQ_LONG(gort_goid(), 1);
    double deadline = now_s() + check_stress_seconds();
    long total = 0;
    uint64_t seed = 42;
    int64_t max_id = 1;
    do {
        worker workers[GOROUTINES] = {0};
        gort_waitgroup wg = {0};
        gort_waitgroup_add(&wg, GOROUTINES);
        for (int i = 0; i < GOROUTINES; i++) {
            workers[i].wg = &wg;
            workers[i].seed = next_rand(&seed);
            workers[i].goexit = i % 2 == 1;
            int64_t id = gort_go(run_worker, &workers[i]);
            CHECK(id > max_id);
            max_id = id;
        }
        gort_waitgroup_wait(&wg);
        for (int i = 0; i < GOROUTINES; i++) {
            CHECK(workers[i].id > 1);
            for (int j = 0; j < i; j++)
                CHECK(workers[i].id != workers[j].id);
            CHECK_EQ_LONG(workers[i].rounds, 50);
            CHECK_EQ_LONG(workers[i].goexit_defers_ran, workers[i].goexit ? 2 : 0);
            total += workers[i].rounds;
        }
    } while (now_s() < deadline);
    printf("validate_goroutines: %ld rounds in %d goroutines: 1 passed, 0 failed\n",
           total, GOROUTINES);
    return 0;
}
