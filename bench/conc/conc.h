/*
 * conc.h - what the concurrent-map benchmark's translation units share
 * (WORKLOAD.md "Concurrent read-mostly map").
 *
 * The driver (bench_conc.c) generates the N keys once, before any timing,
 * makes one implementation's map filled with key i -> i, and starts T
 * reader threads and, with --writer, one writer thread on it for a fixed
 * time.  Every implementation is one translation unit (cases_*.c) that
 * defines a handful of static inline operations (cl_make, cl_find,
 * cl_update, ...) and then includes loops.h, which turns them into the
 * reader and writer loops; the operations are therefore inlined into the
 * loops as a user's code would inline them (GLib, liburcu and gort are
 * calls into their libraries).
 */
#ifndef BENCH_CONC_H
#define BENCH_CONC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_workload.h"

/* noclone keeps GCC from specialising a loop on its constant arguments. */
#if defined(__clang__)
#define CONC_NOINLINE __attribute__((noinline))
#else
#define CONC_NOINLINE __attribute__((noinline, noclone))
#endif

/* WORKLOAD.md: 100,000 keys; values int64.  A value carries its key's
 * index in the low CONC_IDX_BITS bits and the writer's update sequence
 * number above them, so a reader can check every value it finds. */
enum {
    CONC_N = 100000,
    CONC_IDX_BITS = 20,
    CONC_MAX_N = 1 << CONC_IDX_BITS,
    CONC_BATCH = 1000, /* staged maps publish every 1000 updates */
    CONC_CHUNK = 64    /* operations between two looks at the stop flag */
};
#define CONC_IDX_MASK ((uint64_t)CONC_MAX_N - 1)

/* One key: the 16 lowercase hex characters of mix64(i ^ 0x5EED),
 * NUL-terminated (GLib's g_str_hash needs the NUL; it is not part of the
 * key and no other map sees it). */
typedef struct conc_key {
    const char *p; /* 16 bytes + NUL in the workload's arena */
    size_t len;    /* always 16 */
} conc_key;

/* The workload of one process, generated before any timing. */
typedef struct conc_work {
    size_t n;              /* keys 0..n-1, all present; n <= CONC_MAX_N */
    const conc_key *keys;  /* n keys */
} conc_work;

/* One thread of a run.  Aligned so that no two threads' counters share a
 * cache line. */
typedef struct conc_thread {
    _Alignas(64) uint64_t seed;   /* splitmix64 state: 0x1000 + reader
                                     number, 0x2000 for the writer */
    const atomic_int *stop;       /* set by the driver when time is up */
    uint64_t ops;                 /* lookups (reader) or updates (writer) */
    uint64_t got;                 /* reader: sum of found values' index bits */
    uint64_t want;                /* reader: sum of the indexes looked up */
    uint64_t missing;             /* reader: lookups that found nothing */
    uint32_t last_key;            /* writer: the key it updated last */
    int64_t last_val;             /* writer: the value it wrote last */
    double ns;                    /* the thread's own timed span */
} conc_thread;

/* One implementation, as loops.h defines it. */
typedef struct conc_impl {
    const char *name;  /* key in the R lines and for --impl */
    const char *label; /* column title */
    void *(*make)(const conc_work *w);     /* a map with key i -> i */
    void (*destroy)(void *map);
    void (*read)(void *map, const conc_work *w, conc_thread *t);
    void (*write)(void *map, const conc_work *w, conc_thread *t);
    /* one lookup by a quiescent thread (the driver's checks) */
    int (*lookup)(void *map, const conc_key *k, int64_t *v);
    void (*thread_begin)(void); /* every reader/writer thread, first */
    void (*thread_end)(void);   /* every reader/writer thread, last */
    /* NULL, or prints the map's own account of the run (an "S" line)
     * after a run whose checks passed */
    void (*note)(void *map, int threads, int writer);
} conc_impl;

/* ===================================================================
 * The generator (WORKLOAD.md "Generator"): bench_mix64 and
 * bench_splitmix64 (bench/common/bench_workload.h), inline so the loops
 * can inline them too.
 * =================================================================== */

/* A uniform index below n from a 64-bit random number: the high half of
 * r * n (Lemire), not r % n, so no divide blurs the per-lookup cost; the
 * Go peer does the same with bits.Mul64. */
static inline uint32_t conc_index(uint64_t r, uint64_t n)
{
    return (uint32_t)(((unsigned __int128)r * n) >> 64);
}

/* bench_conc.c */
double conc_now_ns(void);
conc_key *conc_make_keys(size_t n); /* n keys in one arena */
void conc_free_keys(conc_key *keys);

/* cost.c: the single-threaded measurements (--percost, --flush). */
int conc_percost(size_t n, uint64_t lookups, int rounds);
int conc_flush(size_t n, int reps);

#endif /* BENCH_CONC_H */
