/*
 * bench_samples.h - what every benchmark driver's table needs: a set of
 * timings per cell, its fastest (the least disturbed on a shared machine),
 * slowest and median, and the monotonic clock the drivers time with.
 * Header-only (static inline), shared by bench/defer, bench/map and
 * bench/conc.
 */
#ifndef GORT_BENCH_SAMPLES_H
#define GORT_BENCH_SAMPLES_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BENCH_MAX_SAMPLES = 256 };

/* The values seen for one cell of a table, in input order. */
typedef struct bench_samples {
    int n;                       /* values stored, 0..BENCH_MAX_SAMPLES */
    double v[BENCH_MAX_SAMPLES];
} bench_samples;

/* Adds @v; values beyond BENCH_MAX_SAMPLES are dropped. */
static inline void bench_samples_add(bench_samples *s, double v)
{
    if (s->n < BENCH_MAX_SAMPLES)
        s->v[s->n++] = v;
}

/* The smallest value (a time: the fastest run), NAN when empty or NULL. */
static inline double bench_samples_min(const bench_samples *s)
{
    double m = NAN;
    for (int i = 0; s != NULL && i < s->n; i++)
        if (isnan(m) || s->v[i] < m)
            m = s->v[i];
    return m;
}

/* The largest value (a rate: the best run), NAN when empty or NULL. */
static inline double bench_samples_max(const bench_samples *s)
{
    double m = NAN;
    for (int i = 0; s != NULL && i < s->n; i++)
        if (isnan(m) || s->v[i] > m)
            m = s->v[i];
    return m;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median, NAN when empty or NULL. */
static inline double bench_samples_median(const bench_samples *s)
{
    if (s == NULL || s->n == 0)
        return NAN;
    double v[BENCH_MAX_SAMPLES];
    memcpy(v, s->v, sizeof(double) * (size_t)s->n);
    qsort(v, (size_t)s->n, sizeof v[0], bench_cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline double bench_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif /* GORT_BENCH_SAMPLES_H */
