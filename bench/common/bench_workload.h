/*
 * bench_workload.h - the WORKLOAD.md generator (splitmix64 and its
 * finalizer mix64) and the drivers' checked allocation.  Header-only,
 * shared by bench/map and bench/conc.
 */
#ifndef GORT_BENCH_WORKLOAD_H
#define GORT_BENCH_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* WORKLOAD.md mix64: splitmix64's finalizer, a bijection on 64 bits. */
static inline uint64_t bench_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* WORKLOAD.md splitmix64: the next number of the sequence in *state. */
static inline uint64_t bench_splitmix64(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ULL;
    return bench_mix64(*state);
}

/* malloc that ends the program, with a message, when memory runs out. */
static inline void *bench_xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "benchmark: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

#endif /* GORT_BENCH_WORKLOAD_H */
