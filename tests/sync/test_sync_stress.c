/*
 * Stress: Mutex, RWMutex and Once under 8 goroutines until
 * GORT_STRESS_SECONDS (default 2) have passed.
 *
 * The data the locks protect are plain (non-atomic) fields: a lost
 * update, a torn read or a missing happens-before edge shows up as a
 * wrong count here, and as a data race under the tsan preset (the locks'
 * acquire/release pairs on their state words are what ThreadSanitizer
 * sees; the futex sleeps are invisible to it).  Some holders sleep while
 * holding a mutex so that waiters starve and the starvation-mode handoff
 * runs too.
 */
#include "sync_test.h"

#include <gort/defer.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

enum { NG = 8 };

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* ===================================================================
 * Mutex
 * =================================================================== */

typedef struct mutex_stress {
    gort_mutex mu;
    long a, b;          /* plain, under mu: always equal outside it */
    int bad;            /* under mu: a != b seen */
    double deadline;
    long ops[NG];       /* per goroutine: increments it made */
    gort_waitgroup done;
} mutex_stress;

typedef struct worker_arg {
    void *shared;
    int id;
} worker_arg;

static void mutex_worker(void *arg)
{
    worker_arg *w = arg;
    mutex_stress *s = w->shared;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->id + 1);
    long ops = 0;
    for (long i = 0;; i++) {
        if ((i & 255) == 0 && now_s() > s->deadline)
            break;
        uint64_t r = rnd(&seed);
        bool locked;
        if (r % 4 == 0) {
            locked = gort_mutex_trylock(&s->mu);
        } else {
            gort_mutex_lock(&s->mu);
            locked = true;
        }
        if (!locked)
            continue;
        if (s->a != s->b)
            s->bad++;
        s->a++;
        /* Rarely hold the mutex for 1.5 ms: waiters pass the starvation
         * threshold and the next unlocks hand off. */
        if (r % 4096 == 1)
            sleep_us(1500);
        s->b++;
        ops++;
        gort_mutex_unlock(&s->mu);
    }
    s->ops[w->id] = ops;
    gort_waitgroup_done(&s->done);
}

Test(sync_stress, mutex_counts_every_increment)
{
    static mutex_stress s;
    static worker_arg args[NG];
    s.deadline = now_s() + stress_seconds();
    gort_waitgroup_add(&s.done, NG);
    for (int i = 0; i < NG; i++) {
        args[i] = (worker_arg){&s, i};
        gort_go(mutex_worker, &args[i]);
    }
    gort_waitgroup_wait(&s.done);
    long total = 0;
    for (int i = 0; i < NG; i++)
        total += s.ops[i];
    cr_expect_eq(s.bad, 0);
    cr_expect_eq(s.a, total, "a %ld, increments %ld", s.a, total);
    cr_expect_eq(s.b, total);
    cr_expect_eq(s.mu.state, 0, "state %d at rest", (int)s.mu.state);
    cr_expect(total > 0);
}

/* ===================================================================
 * RWMutex
 * =================================================================== */

enum { WORDS = 8 };

typedef struct rw_stress {
    gort_rwmutex rw;
    long data[WORDS];   /* plain, under rw: all equal outside a write */
    long writes;        /* plain, under rw (write side) */
    int32_t activity;   /* atomic: readers + 10000 * writers inside */
    int bad;            /* atomic */
    double deadline;
    long my_writes[NG];
    long my_reads[NG];
    gort_waitgroup done;
} rw_stress;

static void rw_write(rw_stress *s)
{
    if (__atomic_add_fetch(&s->activity, 10000, __ATOMIC_RELAXED) != 10000)
        __atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
    long v = s->data[0] + 1;
    for (int k = 0; k < WORDS; k++)
        s->data[k] = v;
    s->writes++;
    __atomic_fetch_sub(&s->activity, 10000, __ATOMIC_RELAXED);
}

static void rw_read(rw_stress *s)
{
    int32_t n = __atomic_add_fetch(&s->activity, 1, __ATOMIC_RELAXED);
    if (n < 1 || n >= 10000)
        __atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
    long v = s->data[0];
    for (int k = 1; k < WORDS; k++)
        if (s->data[k] != v)
            __atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&s->activity, 1, __ATOMIC_RELAXED);
}

static void rw_worker(void *arg)
{
    worker_arg *w = arg;
    rw_stress *s = w->shared;
    uint64_t seed = 0xD1B54A32D192ED03ULL * (uint64_t)(w->id + 1);
    long writes = 0, reads = 0;
    for (long i = 0;; i++) {
        if ((i & 255) == 0 && now_s() > s->deadline)
            break;
        uint64_t r = rnd(&seed) % 64;
        if (r == 0) {
            gort_rwmutex_lock(&s->rw);
            rw_write(s);
            gort_rwmutex_unlock(&s->rw);
            writes++;
        } else if (r == 1) {
            if (gort_rwmutex_trylock(&s->rw)) {
                rw_write(s);
                gort_rwmutex_unlock(&s->rw);
                writes++;
            }
        } else if (r < 8) {
            if (gort_rwmutex_tryrlock(&s->rw)) {
                rw_read(s);
                gort_rwmutex_runlock(&s->rw);
                reads++;
            }
        } else {
            gort_rwmutex_rlock(&s->rw);
            rw_read(s);
            gort_rwmutex_runlock(&s->rw);
            reads++;
        }
    }
    s->my_writes[w->id] = writes;
    s->my_reads[w->id] = reads;
    gort_waitgroup_done(&s->done);
}

Test(sync_stress, rwmutex_readers_never_see_a_partial_write)
{
    static rw_stress s;
    static worker_arg args[NG];
    s.deadline = now_s() + stress_seconds();
    gort_waitgroup_add(&s.done, NG);
    for (int i = 0; i < NG; i++) {
        args[i] = (worker_arg){&s, i};
        gort_go(rw_worker, &args[i]);
    }
    gort_waitgroup_wait(&s.done);
    long writes = 0, reads = 0;
    for (int i = 0; i < NG; i++) {
        writes += s.my_writes[i];
        reads += s.my_reads[i];
    }
    cr_expect_eq(s.bad, 0);
    cr_expect_eq(s.writes, writes);
    cr_expect_eq(s.data[0], writes);
    cr_expect(reads > 0);
    cr_expect_eq(s.rw.reader_count, 0);
    cr_expect_eq(s.rw.reader_wait, 0);
    cr_expect_eq(s.rw.w.state, 0);
}

/* ===================================================================
 * Once
 * =================================================================== */

enum { ONCES = 32 };

typedef struct once_round {
    gort_once once[ONCES];
    int value[ONCES];   /* plain: written by the function only */
    int calls[ONCES];   /* plain: calls of the function */
    int bad;            /* atomic: a caller saw the value unset */
    gort_waitgroup done;
} once_round;

typedef struct once_call {
    once_round *r;
    int i;
} once_call;

static void once_fn(void *arg)
{
    once_call *c = arg;
    c->r->calls[c->i]++;
    c->r->value[c->i] = c->i + 1;
    if (c->i % 5 == 0)
        gort_panic("once %d", c->i); /* counts as done */
}

static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static void call_once(once_round *r, int i)
{
    once_call c = {r, i};
    GORT_FRAME;
    gort_defer(swallow, NULL);
    gort_once_do(&r->once[i], once_fn, &c);
}

static void once_worker(void *arg)
{
    worker_arg *w = arg;
    once_round *r = w->shared;
    /* Each goroutine walks the onces from its own starting point. */
    for (int k = 0; k < ONCES; k++) {
        int i = (k + w->id * 5) % ONCES;
        call_once(r, i);
        if (r->value[i] != i + 1)
            __atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
    }
    gort_waitgroup_done(&r->done);
}

Test(sync_stress, once_calls_each_function_exactly_once)
{
    double deadline = now_s() + stress_seconds();
    long rounds = 0;
    do {
        once_round *r = calloc(1, sizeof *r);
        cr_assert_not_null(r);
        worker_arg args[NG];
        gort_waitgroup_add(&r->done, NG);
        for (int i = 0; i < NG; i++) {
            args[i] = (worker_arg){r, i};
            gort_go(once_worker, &args[i]);
        }
        gort_waitgroup_wait(&r->done);
        cr_assert_eq(r->bad, 0, "round %ld: a caller returned before the function", rounds);
        for (int i = 0; i < ONCES; i++) {
            cr_assert_eq(r->calls[i], 1, "round %ld: once %d ran %d times",
                         rounds, i, r->calls[i]);
            cr_assert_eq(r->once[i].m.state, 0);
        }
        free(r);
        rounds++;
    } while (now_s() < deadline);
}
