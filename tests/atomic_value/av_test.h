/*
 * av_test.h - helpers shared by the read-section and atomic-value tests.
 *
 * A panic catcher (run a function, return the message of the panic it
 * raised, as Go's tests do with defer/recover), a futex-free flag to hand
 * off between goroutines (pthread mutex and condition variable, which
 * ThreadSanitizer understands independently of the code under test), and
 * a poisoned test object whose destructor records that it ran.
 */
#ifndef GORT_TEST_AV_TEST_H
#define GORT_TEST_AV_TEST_H

#include <gort/defer.h>
#include <gort/sync.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- panics ---------------------------------------------------------- */

static __thread char av_caught[256];

static void av_catch(void *unused)
{
    (void)unused;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        snprintf(av_caught, sizeof av_caught, "%s", gort_panic_message(p));
}

static void av_run(void (*fn)(void *), void *arg)
{
    GORT_FRAME;
    gort_defer(av_catch, NULL);
    fn(arg);
}

/* Runs fn(arg); returns the message of the panic it raised, or NULL. */
static inline const char *av_panic_of(void (*fn)(void *), void *arg)
{
    av_caught[0] = '\0';
    av_run(fn, arg);
    return av_caught[0] != '\0' ? av_caught : NULL;
}

/* ---- a flag goroutines wait on -------------------------------------- */

typedef struct av_flag {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int value; /* set by av_flag_set, waited for by av_flag_wait */
} av_flag;

#define AV_FLAG_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static inline void av_flag_set(av_flag *f, int v)
{
    pthread_mutex_lock(&f->mu);
    f->value = v;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Blocks until the flag is at least v. */
static inline void av_flag_wait(av_flag *f, int v)
{
    pthread_mutex_lock(&f->mu);
    while (f->value < v)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static inline void av_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static inline double av_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds a stress loop may run: GORT_STRESS_SECONDS, default 2. */
static inline double av_stress_seconds(void)
{
    const char *s = getenv("GORT_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2.0;
}

/* ---- poisoned objects ------------------------------------------------ */

#define AV_ALIVE 0xA11FEA11FEA11FEull
#define AV_DEAD 0xDEADDEADDEADDEADull

/* The magic word is not the first: free() reuses an object's first words
 * for its own lists, which would hide a read after free in the default
 * build (ASan reports any). */
typedef struct av_obj {
    uint64_t pad[4];
    uint64_t magic;   /* AV_ALIVE until destroyed, then AV_DEAD */
    uint64_t version; /* what the test stored */
    uint64_t check;   /* ~version: a torn or stale object shows */
} av_obj;

static uint64_t av_created, av_destroyed; /* __atomic counters */

static inline av_obj *av_obj_new(uint64_t version)
{
    av_obj *o = malloc(sizeof *o);
    memset(o, 0, sizeof *o);
    o->magic = AV_ALIVE;
    o->version = version;
    o->check = ~version;
    __atomic_add_fetch(&av_created, 1, __ATOMIC_RELAXED);
    return o;
}

static inline bool av_obj_ok(const av_obj *o)
{
    return o->magic == AV_ALIVE && o->check == ~o->version;
}

/* A destructor that checks, poisons and frees. */
static inline void av_obj_destroy(void *p)
{
    av_obj *o = p;
    if (o->magic != AV_ALIVE) {
        fprintf(stderr, "object destroyed twice\n");
        abort();
    }
    /* volatile: a plain store just before free() is a dead store the
     * compiler removes, which would hide a destroy-while-read. */
    *(volatile uint64_t *)&o->magic = AV_DEAD;
    free(o);
    __atomic_add_fetch(&av_destroyed, 1, __ATOMIC_RELAXED);
}

#endif
