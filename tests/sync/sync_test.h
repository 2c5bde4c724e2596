/*
 * sync_test.h - helpers shared by the Mutex, RWMutex and Once tests.
 *
 * Go's tests talk through channels; these stand-ins are a one-slot
 * channel of bool (Go's `make(chan bool, 1)`: send blocks while full,
 * receive while empty) on a pthread mutex and condition variable, which
 * ThreadSanitizer understands independently of the code under test, and
 * a way to start a goroutine and wait for a batch of them.
 */
#ifndef GORT_TEST_SYNC_TEST_H
#define GORT_TEST_SYNC_TEST_H

#include <gort/sync.h>

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct chan1 {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool full; /* a value is in the slot */
} chan1;

#define CHAN1_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false}

static inline void chan1_send(chan1 *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->full)
        pthread_cond_wait(&c->cv, &c->mu);
    c->full = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static inline void chan1_recv(chan1 *c)
{
    pthread_mutex_lock(&c->mu);
    while (!c->full)
        pthread_cond_wait(&c->cv, &c->mu);
    c->full = false;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Go's `select { case <-c: return true; default: return false }`. */
static inline bool chan1_try_recv(chan1 *c)
{
    pthread_mutex_lock(&c->mu);
    bool got = c->full;
    c->full = false;
    if (got)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return got;
}

/* Seconds a stress loop may run: GORT_STRESS_SECONDS, default 2. */
static inline double stress_seconds(void)
{
    const char *s = getenv("GORT_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2.0;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* A liveness bound for the waits below, not a measurement: a state the
 * test waits for that never comes (a broken lock) fails the test instead
 * of hanging until ctest's timeout. */
#define WAIT_LIMIT_S 60.0

/* Polls until *word (read atomically) masked by mask equals want; sleeps
 * between polls so that a 2-core machine runs the goroutine being waited
 * for.  Returns false if WAIT_LIMIT_S pass first. */
static inline bool wait_until_masked32(const int32_t *word, int32_t mask,
                                       int32_t want)
{
    double limit = now_s() + WAIT_LIMIT_S;
    while ((__atomic_load_n(word, __ATOMIC_ACQUIRE) & mask) != want) {
        if (now_s() > limit)
            return false;
        sleep_us(50);
    }
    return true;
}

static inline bool wait_until_eq32(const int32_t *word, int32_t want)
{
    return wait_until_masked32(word, -1, want);
}

/* Private layout facts the white-box checks use (src/mutex.c,
 * src/rwmutex.c). */
#define TEST_MUTEX_LOCKED 1
#define TEST_MUTEX_STARVING 4
#define TEST_MUTEX_WAITER_SHIFT 3
#define TEST_RWMUTEX_MAX_READERS (1 << 30)

#endif /* GORT_TEST_SYNC_TEST_H */
