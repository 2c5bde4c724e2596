/*
 * syncmap_test.h - helpers shared by the sync.Map tests: the library's
 * private test hooks, panic capture, counted values and a clock.
 */
#ifndef GORT_TEST_SYNCMAP_TEST_H
#define GORT_TEST_SYNCMAP_TEST_H

#include "panic_capture.h"

#include <gort/defer.h>
#include <gort/sync.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Private hooks exported by src/syncmap.c for the tests. */
/* Entries allocated and not yet freed, every map of the process. */
long gort__syncmap_live_entries(void);
/* Checks the structure's invariants (I1-I3 of src/syncmap.c) and that
 * the length counter matches the entries; call it while nobody writes. */
bool gort__syncmap_verify(gort_syncmap *m);

/* ===================================================================
 * Panics
 * =================================================================== */

/* caught_panic, call_catching: tests/support/panic_capture.h. */

/* ===================================================================
 * Counted values: heap objects whose destruction is checked
 * =================================================================== */

#define TV_ALIVE 0x5AFE5AFEu
#define TV_DEAD 0xDEADDEADu

/* A value the map may own.  Destroyed exactly once, by tv_destroy. */
typedef struct tv {
    _Atomic unsigned magic; /* TV_ALIVE until destroyed */
    long id;                /* what the test stored it for */
} tv;

static _Atomic long tv_created, tv_destroyed, tv_double_destroys;

static inline tv *tv_new(long id)
{
    tv *v = malloc(sizeof *v);
    atomic_init(&v->magic, TV_ALIVE);
    v->id = id;
    atomic_fetch_add(&tv_created, 1);
    return v;
}

/* The destructor: counts, and detects a second destruction of a value
 * still in memory (under ASan the free below makes any later use an
 * error too). */
static inline void tv_destroy(void *p)
{
    tv *v = p;
    unsigned was = atomic_exchange(&v->magic, TV_DEAD);
    if (was != TV_ALIVE) {
        atomic_fetch_add(&tv_double_destroys, 1);
        return;
    }
    atomic_fetch_add(&tv_destroyed, 1);
    free(v);
}

static inline bool tv_alive(const tv *v)
{
    return atomic_load((_Atomic unsigned *)&v->magic) == TV_ALIVE;
}

/* ===================================================================
 * Misc
 * =================================================================== */

static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds a stress test runs: GORT_STRESS_SECONDS, default 2. */
static inline double stress_seconds(void)
{
    const char *s = getenv("GORT_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2.0;
}

/* xorshift64*: per-goroutine random numbers. */
static inline uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Writes "k<i>" into buf; returns the length. */
static inline size_t ikey(char *buf, size_t size, long i)
{
    return (size_t)snprintf(buf, size, "k%ld", i);
}

/* An integer as a value (no destructor in the tests that use these). */
#define IV(i) ((void *)(uintptr_t)(i))
#define VI(p) ((long)(uintptr_t)(p))

#endif
