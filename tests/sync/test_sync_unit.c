/*
 * Unit tests of Mutex, RWMutex and Once beyond Go's own tests: zero
 * values, unlock from another goroutine, starvation-mode handoff, writer
 * preference, the try variants against a pending writer, and Once with a
 * panicking, Goexit-ing or NULL function while other callers wait.
 *
 * Some checks read the private state words (sync_test.h names the bits)
 * to know that a goroutine is queued before acting, so that no check
 * depends on timing: waits poll until the state says what the test needs.
 */
#include "sync_test.h"

#include <gort/defer.h>
#include <gort/read_section.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <string.h>

static void count_call(void *arg)
{
    ++*(int *)arg;
}

static void wg_done_deferred(void *arg)
{
    gort_waitgroup_done(arg);
}

static void recover_into_error(void *arg)
{
    const gort_panic_info *p = gort_recover();
    if (p != NULL && gort_panic_error(p) == &gort_err_nil_deref)
        *(volatile int *)arg = 1;
}

static int32_t mutex_waiters(gort_mutex *m)
{
    return __atomic_load_n(&m->state, __ATOMIC_RELAXED) >> TEST_MUTEX_WAITER_SHIFT;
}

static void wait_for_mutex_waiters(gort_mutex *m, int32_t n)
{
    double limit = now_s() + WAIT_LIMIT_S;
    while (mutex_waiters(m) != n) {
        cr_assert(now_s() < limit, "%d waiters never queued", (int)n);
        sleep_us(50);
    }
}

/* ===================================================================
 * Mutex
 * =================================================================== */

Test(sync_unit, zero_values_are_ready_to_use)
{
    static gort_mutex m;
    static gort_rwmutex rw;
    static gort_once o;
    cr_expect_eq(sizeof m, 8);
    cr_expect_eq(sizeof rw, 24);
    cr_expect_eq(sizeof o, 12);
    gort_mutex_lock(&m);
    gort_mutex_unlock(&m);
    gort_rwmutex_rlock(&rw);
    gort_rwmutex_runlock(&rw);
    gort_rwmutex_lock(&rw);
    gort_rwmutex_unlock(&rw);
    int ran = 0;
    gort_once_do(&o, count_call, &ran);
    gort_once_do(&o, count_call, &ran);
    cr_expect_eq(ran, 1);
}

typedef struct handover {
    gort_mutex mu;
    int value; /* plain: written by main under the lock, read after */
    int seen;
    gort_waitgroup done;
} handover;

static void unlock_for_main(void *arg)
{
    handover *h = arg;
    h->seen = h->value; /* ordered after main's write by gort_go */
    gort_mutex_unlock(&h->mu);
    gort_waitgroup_done(&h->done);
}

Test(sync_unit, a_mutex_may_be_unlocked_by_another_goroutine)
{
    static handover h;
    gort_mutex_lock(&h.mu);
    h.value = 42;
    gort_waitgroup_add(&h.done, 1);
    gort_go(unlock_for_main, &h);
    gort_mutex_lock(&h.mu); /* blocks until the goroutine unlocks */
    cr_expect_eq(h.seen, 42);
    gort_mutex_unlock(&h.mu);
    gort_waitgroup_wait(&h.done);
    cr_expect_eq(h.mu.state, 0);
}

typedef struct blocked_locker {
    gort_mutex *mu;
    int got;        /* set under the lock */
    int finished;   /* atomic */
    gort_waitgroup done;
} blocked_locker;

static void lock_once(void *arg)
{
    blocked_locker *b = arg;
    gort_mutex_lock(b->mu);
    b->got = 1;
    gort_mutex_unlock(b->mu);
    __atomic_store_n(&b->finished, 1, __ATOMIC_RELEASE);
    gort_waitgroup_done(&b->done);
}

Test(sync_unit, trylock_fails_while_locked_and_waiters_queue)
{
    static gort_mutex mu;
    static blocked_locker b = {.mu = &mu};
    gort_mutex_lock(&mu);
    cr_expect_not(gort_mutex_trylock(&mu));
    gort_waitgroup_add(&b.done, 1);
    gort_go(lock_once, &b);
    wait_for_mutex_waiters(&mu, 1);
    cr_expect_not(gort_mutex_trylock(&mu));
    gort_mutex_unlock(&mu);
    gort_waitgroup_wait(&b.done);
    cr_expect_eq(b.got, 1);
    cr_expect_eq(mu.state, 0);
}

/* A waiter that waited more than 1 ms switches the mutex to starvation
 * mode; the next unlock hands it over: the unlocker, locking again at
 * once, comes after the waiter (Go's handoff).  The first phase needs the
 * main goroutine to barge in ahead of the woken waiter; if the waiter
 * wins that race instead, the scenario is run again. */
Test(sync_unit, a_starved_waiter_is_handed_the_mutex)
{
    static gort_mutex mu;
    for (int attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 100, "the woken waiter always won the race");
        blocked_locker *b = calloc(1, sizeof *b);
        cr_assert_not_null(b);
        b->mu = &mu;
        gort_mutex_lock(&mu);
        gort_waitgroup_add(&b->done, 1);
        gort_go(lock_once, b);
        wait_for_mutex_waiters(&mu, 1);
        sleep_us(2000); /* the waiter has now waited > 1 ms */
        gort_mutex_unlock(&mu); /* normal mode: wakes it */
        bool barged = false;
        while (!(barged = gort_mutex_trylock(&mu)) &&
               !__atomic_load_n(&b->finished, __ATOMIC_ACQUIRE))
            sched_yield();
        if (barged && b->got) /* the waiter came and went first */
            gort_mutex_unlock(&mu);
        if (!barged || b->got) {
            gort_waitgroup_wait(&b->done);
            free(b);
            continue;
        }
        /* The waiter wakes, sees the mutex held and, having starved,
         * queues again with the starving bit set. */
        cr_assert(wait_until_masked32(&mu.state, TEST_MUTEX_STARVING,
                                      TEST_MUTEX_STARVING),
                  "starvation mode never engaged");
        gort_mutex_unlock(&mu); /* hands off */
        /* Locking again at once must come after the waiter, whether the
         * try finds the mutex still reserved for it (starving), held by
         * it, or already released by it. */
        if (!gort_mutex_trylock(&mu))
            gort_mutex_lock(&mu);
        cr_expect_eq(b->got, 1, "the unlocker relocked before the starved waiter");
        gort_mutex_unlock(&mu);
        gort_waitgroup_wait(&b->done);
        free(b);
        break;
    }
    cr_expect_eq(mu.state, 0, "starvation mode left on: state %d", (int)mu.state);
}

/* ===================================================================
 * RWMutex
 * =================================================================== */

typedef struct wpref {
    gort_rwmutex rw;
    int order[2];   /* who got the lock, in order: 'W' or 'R' */
    int n;          /* entries in order: written under rw */
    gort_waitgroup done;
} wpref;

static void wpref_writer(void *arg)
{
    wpref *t = arg;
    gort_rwmutex_lock(&t->rw);
    t->order[t->n++] = 'W';
    gort_rwmutex_unlock(&t->rw);
    gort_waitgroup_done(&t->done);
}

static void wpref_reader(void *arg)
{
    wpref *t = arg;
    gort_rwmutex_rlock(&t->rw);
    int i = __atomic_fetch_add(&t->n, 1, __ATOMIC_RELAXED);
    t->order[i] = 'R';
    gort_rwmutex_runlock(&t->rw);
    gort_waitgroup_done(&t->done);
}

/* A reader holds the lock; a writer arrives and waits for it; a second
 * reader arrives after the writer: it must wait for the writer, although
 * only readers hold the lock (Go's writer preference). */
Test(sync_unit, a_pending_writer_keeps_new_readers_out)
{
    static wpref t;
    gort_rwmutex_rlock(&t.rw);
    gort_waitgroup_add(&t.done, 2);
    gort_go(wpref_writer, &t);
    /* The writer has announced itself: the count went negative. */
    cr_assert(wait_until_eq32(&t.rw.reader_count, 1 - TEST_RWMUTEX_MAX_READERS));
    /* ... and is waiting for the one active reader (its second add). */
    cr_assert(wait_until_eq32(&t.rw.reader_wait, 1));
    cr_expect_not(gort_rwmutex_tryrlock(&t.rw), "TryRLock got in ahead of a pending writer");
    cr_expect_not(gort_rwmutex_trylock(&t.rw));
    gort_go(wpref_reader, &t);
    /* The new reader has registered, and is therefore blocked. */
    cr_assert(wait_until_eq32(&t.rw.reader_count, 2 - TEST_RWMUTEX_MAX_READERS));
    cr_expect_eq(__atomic_load_n(&t.n, __ATOMIC_RELAXED), 0);
    gort_rwmutex_runlock(&t.rw); /* the writer goes first, then the reader */
    gort_waitgroup_wait(&t.done);
    cr_expect_eq(t.n, 2);
    cr_expect_eq(t.order[0], 'W');
    cr_expect_eq(t.order[1], 'R');
    cr_expect_eq(t.rw.reader_count, 0);
    cr_expect_eq(t.rw.reader_wait, 0);
    cr_expect_eq(t.rw.w.state, 0);
}

typedef struct rw_readers {
    gort_rwmutex rw;
    int data;       /* plain: written by the writer, read by the readers */
    int seen[4];
    gort_waitgroup ready;
    gort_waitgroup done;
} rw_readers;

static void rw_read_data(void *arg)
{
    rw_readers *t = arg;
    gort_waitgroup_done(&t->ready);
    gort_rwmutex_rlock(&t->rw);
    int slot = -1;
    for (int k = 0; k < 4 && slot < 0; k++) {
        int zero = 0;
        if (__atomic_compare_exchange_n(&t->seen[k], &zero, t->data, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            slot = k;
    }
    gort_rwmutex_runlock(&t->rw);
    gort_waitgroup_done(&t->done);
}

/* Readers queued behind a writer are all released by its unlock and see
 * what it wrote (unlock happens before their rlock returns). */
Test(sync_unit, a_writer_unlock_releases_every_queued_reader)
{
    static rw_readers t;
    gort_rwmutex_lock(&t.rw);
    gort_waitgroup_add(&t.ready, 4);
    gort_waitgroup_add(&t.done, 4);
    for (int i = 0; i < 4; i++)
        gort_go(rw_read_data, &t);
    cr_assert(wait_until_eq32(&t.rw.reader_count, 4 - TEST_RWMUTEX_MAX_READERS));
    t.data = 7;
    gort_rwmutex_unlock(&t.rw);
    gort_waitgroup_wait(&t.done);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(t.seen[i], 7, "reader %d saw %d", i, t.seen[i]);
    cr_expect_eq(t.rw.reader_count, 0);
    cr_expect(gort_rwmutex_trylock(&t.rw));
    gort_rwmutex_unlock(&t.rw);
}

/* ===================================================================
 * Once
 * =================================================================== */

typedef struct once_panic {
    gort_once once;
    gort_waitgroup entered;  /* the first call's function started */
    gort_waitgroup go_on;    /* released by main: the function may panic */
    gort_waitgroup done;
    int second_ran;          /* the second caller's function ran */
    volatile int recovered;  /* the first caller recovered "boom" */
    int second_returned;     /* atomic */
} once_panic;

static void enter_then_panic(void *arg)
{
    once_panic *t = arg;
    gort_waitgroup_done(&t->entered);
    gort_waitgroup_wait(&t->go_on);
    gort_panic("boom");
}

static void recover_boom(void *arg)
{
    once_panic *t = arg;
    const gort_panic_info *p = gort_recover();
    if (p != NULL && strcmp(gort_panic_message(p), "boom") == 0)
        t->recovered = 1;
}

static void first_caller(void *arg)
{
    once_panic *t = arg;
    GORT_FRAME;
    gort_defer(wg_done_deferred, &t->done);
    gort_defer(recover_boom, t);
    gort_once_do(&t->once, enter_then_panic, t);
}

static void second_caller(void *arg)
{
    once_panic *t = arg;
    gort_once_do(&t->once, count_call, &t->second_ran);
    __atomic_store_n(&t->second_returned, 1, __ATOMIC_RELEASE);
    gort_waitgroup_done(&t->done);
}

/* The function of the first call panics while a second caller waits for
 * it inside gort_once_do: the panic counts as done, the first caller
 * recovers it, and the second returns without calling its function (the
 * once's lock was released on the way out). */
Test(sync_unit, a_panic_in_the_function_releases_the_callers_waiting_for_it)
{
    static once_panic t;
    gort_waitgroup_add(&t.entered, 1);
    gort_waitgroup_add(&t.go_on, 1);
    gort_waitgroup_add(&t.done, 2);
    gort_go(first_caller, &t);
    gort_waitgroup_wait(&t.entered);
    gort_go(second_caller, &t);
    wait_for_mutex_waiters(&t.once.m, 1); /* blocked in gort_once_do */
    cr_expect_eq(__atomic_load_n(&t.second_returned, __ATOMIC_ACQUIRE), 0);
    gort_waitgroup_done(&t.go_on);
    gort_waitgroup_wait(&t.done);
    cr_expect_eq(t.recovered, 1);
    cr_expect_eq(t.second_ran, 0);
    cr_expect_eq(t.once.done, 1);
    cr_expect_eq(t.once.m.state, 0);
}

static void goexit_fn(void *arg)
{
    (void)arg;
    gort_goexit();
}

typedef struct once_goexit {
    gort_once once;
    gort_waitgroup done;
} once_goexit;

static void goexit_caller(void *arg)
{
    once_goexit *t = arg;
    GORT_FRAME;
    gort_defer(wg_done_deferred, &t->done);
    gort_once_do(&t->once, goexit_fn, NULL);
}

/* Go: runtime.Goexit in f runs the deferred calls of Do too. */
Test(sync_unit, goexit_in_the_function_counts_as_done)
{
    static once_goexit t;
    gort_waitgroup_add(&t.done, 1);
    gort_go(goexit_caller, &t);
    gort_waitgroup_wait(&t.done);
    int ran = 0;
    gort_once_do(&t.once, count_call, &ran);
    cr_expect_eq(ran, 0);
    cr_expect_eq(t.once.m.state, 0);
}

static void once_null_recovering(gort_once *o, volatile int *recovered)
{
    GORT_FRAME;
    gort_defer(recover_into_error, (void *)recovered);
    gort_once_do(o, NULL, NULL);
}

/* Go's once.Do(nil) panics when it calls f: a nil-dereference runtime
 * error, recoverable, and the once is done. */
Test(sync_unit, a_null_function_panics_with_the_nil_dereference_error)
{
    gort_once o = {0};
    volatile int recovered = 0;
    once_null_recovering(&o, &recovered);
    cr_expect_eq(recovered, 1);
    int ran = 0;
    gort_once_do(&o, count_call, &ran);
    cr_expect_eq(ran, 0);
    cr_expect_eq(o.m.state, 0);
}

static gort_once outer_once, inner_once;

static void inner_fn(void *arg)
{
    ++*(int *)arg;
}

static void outer_fn(void *arg)
{
    gort_once_do(&inner_once, inner_fn, arg);
    ++*(int *)arg;
}

Test(sync_unit, a_function_may_use_another_once)
{
    int n = 0;
    gort_once_do(&outer_once, outer_fn, &n);
    gort_once_do(&outer_once, outer_fn, &n);
    gort_once_do(&inner_once, inner_fn, &n);
    cr_expect_eq(n, 2);
}

/* gort_once_do remembers, per goroutine, the onces whose functions it is
 * running, to report a recursive call as Go's deadlock
 * (test_sync_crash.c).  A panic that leaves such a function, recovered
 * further up, and Goexit must take the once off that list: a fresh once
 * at the same address is not the one that was running. */
static void once_do_null_recovering(gort_once *o)
{
    volatile int recovered = 0;
    once_null_recovering(o, &recovered);
    cr_assert_eq(recovered, 1);
}

Test(sync_unit, a_recovered_panic_leaves_no_once_marked_as_running)
{
    gort_once o = {0};
    once_do_null_recovering(&o);
    memset(&o, 0, sizeof o); /* same address, not done: the slow path */
    int ran = 0;
    gort_once_do(&o, count_call, &ran);
    cr_expect_eq(ran, 1);
}

static gort_once nested_outer, nested_inner;

static void nested_inner_panics(void *arg)
{
    (void)arg;
    gort_panic("inner");
}

static void recover_any(void *arg)
{
    if (gort_recover() != NULL)
        ++*(volatile int *)arg;
}

/* Recovers the inner once's panic inside the outer once's function. */
static void nested_outer_recovers(void *arg)
{
    GORT_FRAME;
    gort_defer(recover_any, arg);
    gort_once_do(&nested_inner, nested_inner_panics, NULL);
}

static void nested_outer_fresh(void *arg)
{
    /* The inner once was reset: running it again from inside the outer
     * one is no recursion. */
    gort_once_do(&nested_inner, count_call, arg);
}

Test(sync_unit, a_panic_recovered_inside_an_outer_once_unwinds_only_the_inner)
{
    volatile int recovered = 0;
    gort_once_do(&nested_outer, nested_outer_recovers, (void *)&recovered);
    cr_expect_eq(recovered, 1);
    memset(&nested_outer, 0, sizeof nested_outer);
    memset(&nested_inner, 0, sizeof nested_inner);
    int ran = 0;
    gort_once_do(&nested_outer, nested_outer_fresh, &ran);
    cr_expect_eq(ran, 1);
}

typedef struct once_recursion {
    gort_once once;
    int inner_ran;      /* atomic */
    int outer_returned; /* atomic */
    int entered;        /* atomic */
} once_recursion;

static void recursion_inner(void *arg)
{
    __atomic_store_n(&((once_recursion *)arg)->inner_ran, 1, __ATOMIC_RELAXED);
}

static void recursion_outer(void *arg)
{
    once_recursion *t = arg;
    __atomic_store_n(&t->entered, 1, __ATOMIC_RELEASE);
    gort_once_do(&t->once, recursion_inner, t);
    __atomic_store_n(&t->outer_returned, 1, __ATOMIC_RELAXED);
}

static void recursion_goroutine(void *arg)
{
    gort_once_do(&((once_recursion *)arg)->once, recursion_outer, arg);
}

/* Go: a goroutine whose Once function calls Do on the same Once blocks
 * for ever, and the rest of the program goes on (main alone would be
 * Go's deadlock error: test_sync_crash.c).  It neither runs the inner
 * function nor returns. */
Test(sync_unit, a_recursive_call_in_another_goroutine_parks_it_as_in_go)
{
    static once_recursion t;
    gort_go(recursion_goroutine, &t);
    cr_assert(wait_until_eq32(&t.entered, 1));
    sleep_us(100 * 1000);
    cr_expect_eq(__atomic_load_n(&t.inner_ran, __ATOMIC_RELAXED), 0);
    cr_expect_eq(__atomic_load_n(&t.outer_returned, __ATOMIC_RELAXED), 0);
}

static void recursion_inner_noop(void *arg)
{
    (void)arg;
}

typedef struct parked_reader {
    gort_once once;
    int entered; /* atomic */
} parked_reader;

static void parked_reader_outer(void *arg)
{
    parked_reader *t = arg;
    __atomic_store_n(&t->entered, 1, __ATOMIC_RELEASE);
    gort_once_do(&t->once, recursion_inner_noop, NULL);
}

static void parked_reader_goroutine(void *arg)
{
    gort_read_begin();
    gort_once_do(&((parked_reader *)arg)->once, parked_reader_outer, arg);
    gort_read_end(); /* never reached */
}

/* A goroutine parked for ever never reads again: its read sections must
 * not hold up a grace period, or a later gort_synchronize (a snapmap
 * flush, a retire barrier) would hang the process where Go, which has no
 * such sections, goes on.  Before: gort_synchronize never returned. */
Test(sync_unit, a_parked_goroutine_holds_up_no_grace_period, .timeout = 20)
{
    static parked_reader t;
    gort_go(parked_reader_goroutine, &t);
    cr_assert(wait_until_eq32(&t.entered, 1));
    sleep_us(100 * 1000);
    gort_synchronize(); /* the check: it returns (.timeout otherwise) */
}
