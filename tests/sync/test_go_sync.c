/*
 * Ports of Go 1.19's sync tests for Mutex, RWMutex and Once, rewritten in
 * C (TestMutexMisuse is a crash test: test_sync_crash.c):
 *   - mutex_test.go TestMutex (HammerMutex with TryLock), TestMutexFairness;
 *   - rwmutex_test.go TestParallelReaders, TestRWMutex (HammerRWMutex,
 *     TryLock/TryRLock), TestRLocker (RLocker is a Locker view of the
 *     read side; here the rlock/runlock calls themselves);
 *   - once_test.go TestOnce, TestOncePanic.
 * GOMAXPROCS has no equivalent (goroutines are threads), so the
 * HammerRWMutex configurations that differ only in it run once.
 * Channels become one-slot channels (sync_test.h) and WaitGroups;
 * failures seen in goroutines are counted and asserted on the main one.
 */
#include "sync_test.h"

#include <gort/defer.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

/* ===================================================================
 * TestMutex
 * =================================================================== */

typedef struct hammer_mutex {
    gort_mutex *m;
    int loops;
    gort_waitgroup *done;
} hammer_mutex;

static void hammer_mutex_run(void *arg)
{
    hammer_mutex *h = arg;
    for (int i = 0; i < h->loops; i++) {
        if (i % 3 == 0) {
            if (gort_mutex_trylock(h->m))
                gort_mutex_unlock(h->m);
            continue;
        }
        gort_mutex_lock(h->m);
        gort_mutex_unlock(h->m);
    }
    gort_waitgroup_done(h->done);
}

Test(go_sync, mutex)
{
    gort_mutex m = {0};
    gort_mutex_lock(&m);
    cr_assert_not(gort_mutex_trylock(&m), "TryLock succeeded with mutex locked");
    gort_mutex_unlock(&m);
    cr_assert(gort_mutex_trylock(&m), "TryLock failed with mutex unlocked");
    gort_mutex_unlock(&m);

    gort_waitgroup done = {0};
    hammer_mutex h = {&m, 1000, &done};
    gort_waitgroup_add(&done, 10);
    for (int i = 0; i < 10; i++)
        gort_go(hammer_mutex_run, &h);
    gort_waitgroup_wait(&done);
    cr_expect_eq(m.state, 0, "state %d after the hammer", (int)m.state);
}

/* ===================================================================
 * TestMutexFairness
 * =================================================================== */

typedef struct fairness {
    gort_mutex mu;
    int stop;            /* atomic: the hog stops */
    int finished;        /* atomic: the second goroutine did its 10 locks */
    gort_waitgroup hog_done;
} fairness;

/* Holds the mutex almost all the time, relocking at once. */
static void fairness_hog(void *arg)
{
    fairness *f = arg;
    while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
        gort_mutex_lock(&f->mu);
        sleep_us(100);
        gort_mutex_unlock(&f->mu);
    }
    gort_waitgroup_done(&f->hog_done);
}

static void fairness_waiter(void *arg)
{
    fairness *f = arg;
    for (int i = 0; i < 10; i++) {
        sleep_us(100);
        gort_mutex_lock(&f->mu);
        gort_mutex_unlock(&f->mu);
    }
    __atomic_store_n(&f->finished, 1, __ATOMIC_RELEASE);
}

/* Without starvation mode the waiter, woken after the hog has already
 * relocked, would lose nearly every time.  Go fails the test after 10 s;
 * the wait here is a liveness bound of 60 s (a loaded CI machine), not a
 * measurement. */
Test(go_sync, mutex_fairness)
{
    static fairness f;
    gort_waitgroup_add(&f.hog_done, 1);
    gort_go(fairness_hog, &f);
    gort_go(fairness_waiter, &f);
    double deadline = now_s() + 60;
    while (!__atomic_load_n(&f.finished, __ATOMIC_ACQUIRE)) {
        cr_assert(now_s() < deadline, "can't acquire Mutex in 60 seconds");
        sleep_us(1000);
    }
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
    gort_waitgroup_wait(&f.hog_done);
    cr_expect_eq(f.mu.state, 0);
}

/* ===================================================================
 * TestParallelReaders
 * =================================================================== */

typedef struct parallel {
    gort_rwmutex m;
    gort_waitgroup locked; /* clocked */
    gort_waitgroup unlock; /* cunlock: one Add(1), one Done for everybody */
    gort_waitgroup done;   /* cdone */
} parallel;

static void parallel_reader(void *arg)
{
    parallel *p = arg;
    gort_rwmutex_rlock(&p->m);
    gort_waitgroup_done(&p->locked);
    gort_waitgroup_wait(&p->unlock);
    gort_rwmutex_runlock(&p->m);
    gort_waitgroup_done(&p->done);
}

/* Every reader holds the read lock at the same time: the main goroutine
 * waits until all have it before letting any of them go. */
static void do_test_parallel_readers(int readers)
{
    parallel p;
    memset(&p, 0, sizeof p);
    gort_waitgroup_add(&p.locked, readers);
    gort_waitgroup_add(&p.unlock, 1);
    gort_waitgroup_add(&p.done, readers);
    for (int i = 0; i < readers; i++)
        gort_go(parallel_reader, &p);
    gort_waitgroup_wait(&p.locked);
    cr_expect_eq(p.m.reader_count, readers);
    gort_waitgroup_done(&p.unlock);
    gort_waitgroup_wait(&p.done);
    cr_expect_eq(p.m.reader_count, 0);
}

Test(go_sync, parallel_readers)
{
    do_test_parallel_readers(1);
    do_test_parallel_readers(3);
    do_test_parallel_readers(4);
}

/* ===================================================================
 * TestRWMutex
 * =================================================================== */

typedef struct hammer_rw {
    gort_rwmutex rwm;
    int32_t activity; /* atomic: active readers + 10000 * active writers */
    int iterations;
    int bad;          /* atomic: a reader or writer saw a bad activity */
    gort_waitgroup done;
} hammer_rw;

static void spin_100(void)
{
    for (volatile int i = 0; i < 100; i++) {
    }
}

static void rw_reader(void *arg)
{
    hammer_rw *h = arg;
    for (int i = 0; i < h->iterations; i++) {
        gort_rwmutex_rlock(&h->rwm);
        int32_t n = __atomic_add_fetch(&h->activity, 1, __ATOMIC_RELAXED);
        if (n < 1 || n >= 10000)
            __atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
        spin_100();
        __atomic_fetch_sub(&h->activity, 1, __ATOMIC_RELAXED);
        gort_rwmutex_runlock(&h->rwm);
    }
    gort_waitgroup_done(&h->done);
}

static void rw_writer(void *arg)
{
    hammer_rw *h = arg;
    for (int i = 0; i < h->iterations; i++) {
        gort_rwmutex_lock(&h->rwm);
        int32_t n = __atomic_add_fetch(&h->activity, 10000, __ATOMIC_RELAXED);
        if (n != 10000)
            __atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
        spin_100();
        __atomic_fetch_sub(&h->activity, 10000, __ATOMIC_RELAXED);
        gort_rwmutex_unlock(&h->rwm);
    }
    gort_waitgroup_done(&h->done);
}

static void hammer_rwmutex(int readers, int iterations)
{
    hammer_rw *h = calloc(1, sizeof *h);
    cr_assert_not_null(h);
    h->iterations = iterations;
    gort_waitgroup_add(&h->done, 2 + readers);
    gort_go(rw_writer, h);
    int i;
    for (i = 0; i < readers / 2; i++)
        gort_go(rw_reader, h);
    gort_go(rw_writer, h);
    for (; i < readers; i++)
        gort_go(rw_reader, h);
    gort_waitgroup_wait(&h->done);
    cr_expect_eq(h->bad, 0, "readers %d: %d bad activity counts", readers, h->bad);
    cr_expect_eq(h->rwm.reader_count, 0);
    cr_expect_eq(h->rwm.w.state, 0);
    free(h);
}

Test(go_sync, rwmutex)
{
    gort_rwmutex m = {0};
    gort_rwmutex_lock(&m);
    cr_assert_not(gort_rwmutex_trylock(&m), "TryLock succeeded with mutex locked");
    cr_assert_not(gort_rwmutex_tryrlock(&m), "TryRLock succeeded with mutex locked");
    gort_rwmutex_unlock(&m);

    cr_assert(gort_rwmutex_trylock(&m), "TryLock failed with mutex unlocked");
    gort_rwmutex_unlock(&m);

    cr_assert(gort_rwmutex_tryrlock(&m), "TryRLock failed with mutex unlocked");
    cr_assert(gort_rwmutex_tryrlock(&m), "TryRLock failed with mutex rlocked");
    cr_assert_not(gort_rwmutex_trylock(&m), "TryLock succeeded with mutex rlocked");
    gort_rwmutex_runlock(&m);
    gort_rwmutex_runlock(&m);

    static const int readers[] = {1, 3, 10, 5};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        hammer_rwmutex(readers[i], 1000);
}

/* ===================================================================
 * TestRLocker
 * =================================================================== */

typedef struct rlocker {
    gort_rwmutex wl;
    chan1 wlocked;
    chan1 rlocked;
    int n;
} rlocker;

static void rlocker_goroutine(void *arg)
{
    rlocker *t = arg;
    for (int i = 0; i < t->n; i++) {
        gort_rwmutex_rlock(&t->wl);
        gort_rwmutex_rlock(&t->wl);
        chan1_send(&t->rlocked);
        gort_rwmutex_lock(&t->wl);
        chan1_send(&t->wlocked);
    }
}

Test(go_sync, rlocker)
{
    static rlocker t = {.wlocked = CHAN1_INIT, .rlocked = CHAN1_INIT, .n = 10};
    gort_go(rlocker_goroutine, &t);
    for (int i = 0; i < t.n; i++) {
        chan1_recv(&t.rlocked);
        gort_rwmutex_runlock(&t.wl);
        cr_assert_not(chan1_try_recv(&t.wlocked), "RLocker() didn't read-lock it");
        gort_rwmutex_runlock(&t.wl);
        chan1_recv(&t.wlocked);
        cr_assert_not(chan1_try_recv(&t.rlocked),
                      "RLocker() didn't respect the write lock");
        gort_rwmutex_unlock(&t.wl);
    }
}

/* ===================================================================
 * TestOnce, TestOncePanic
 * =================================================================== */

typedef struct once_test {
    gort_once once;
    int o;              /* plain int: the once must order it */
    int bad;            /* atomic: a caller saw o != 1 */
    gort_waitgroup c;
} once_test;

static void increment(void *arg)
{
    ((once_test *)arg)->o++;
}

static void once_run(void *arg)
{
    once_test *t = arg;
    gort_once_do(&t->once, increment, t);
    if (t->o != 1)
        __atomic_fetch_add(&t->bad, 1, __ATOMIC_RELAXED);
    gort_waitgroup_done(&t->c);
}

Test(go_sync, once)
{
    static once_test t;
    enum { N = 10 };
    gort_waitgroup_add(&t.c, N);
    for (int i = 0; i < N; i++)
        gort_go(once_run, &t);
    gort_waitgroup_wait(&t.c);
    cr_expect_eq(t.bad, 0, "once failed inside run");
    cr_expect_eq(t.o, 1, "once failed outside run: %d is not 1", t.o);
}

static void panic_failed(void *arg)
{
    (void)arg;
    gort_panic("failed");
}

static void recover_into(void *arg)
{
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        *(int *)arg = strcmp(gort_panic_message(p), "failed") == 0 ? 1 : 2;
}

static void once_do_recovering(gort_once *once, volatile int *recovered)
{
    GORT_FRAME;
    gort_defer(recover_into, (void *)recovered);
    gort_once_do(once, panic_failed, NULL);
}

static void called_twice(void *arg)
{
    *(int *)arg = 1;
}

Test(go_sync, once_panic)
{
    gort_once once = {0};
    volatile int recovered = 0;
    once_do_recovering(&once, &recovered);
    cr_assert_eq(recovered, 1, "Once.Do did not panic");
    int twice = 0;
    gort_once_do(&once, called_twice, &twice);
    cr_assert_eq(twice, 0, "Once.Do called twice");
    /* Beyond Go's test: the panic left the once's lock released. */
    cr_expect_eq(once.m.state, 0);
    cr_expect(gort_mutex_trylock(&once.m));
}
