/*
 * bench_map.h - what the map benchmark's translation units share.
 *
 * The driver (bench_map.c) generates the WORKLOAD.md keys and access order
 * once, before any timing, and hands them to one implementation in a
 * process of its own.  Every implementation (gort borrowed-key map, gort
 * copying map, Abseil, Boost, GLib, uthash) is one translation unit that
 * defines a handful of static inline operations (bm_new, bm_insert,
 * bm_find, ...) and then includes phases.h, which turns them into the
 * timed phases.  The operations are therefore inlined into the timing
 * loops exactly as a user's code would inline them (header-only C++ maps
 * inline the whole probe; gort and GLib are calls into a library), and
 * the phase functions are noinline so no phase is folded into another.
 */
#ifndef BENCH_MAP_H
#define BENCH_MAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* noclone keeps GCC from specialising a phase on its constant argument. */
#if defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE __attribute__((noinline, noclone))
#endif

/* WORKLOAD.md: 10,000,000 lookups; iterate until 10,000,000 entries
 * (--lookups and --iter-entries change them, for profiling). */
enum { BENCH_LOOKUPS = 10000000, BENCH_ITER_ENTRIES = 10000000 };

/* One key: 16..32 bytes, NUL-terminated (GLib's g_str_hash needs it; the
 * NUL is not part of the key and not passed to the other maps). */
typedef struct bench_key {
    const char *p; /* key bytes in the workload's arena, never NULL */
    size_t len;    /* 16..32, the NUL excluded */
} bench_key;

/* The workload of one process (one N), generated before any timing. */
typedef struct bench_work {
    size_t n;              /* N: keys 0..n-1 present, n..2n-1 missing */
    const bench_key *keys; /* 2n keys: inserted (and borrowed) ones */
    const bench_key *lkeys;/* 2n keys used by lookups and deletes: the
                              same as keys, or copies at other addresses
                              (--copy-keys) */
    const uint32_t *perm;  /* n: the access order */
    size_t reps;           /* insert and delete phases repeated this many
                              times (fresh map each time), >= 1 */
    size_t lookups;        /* lookups per lookup phase (BENCH_LOOKUPS) */
    size_t iter_entries;   /* entries visited at least (BENCH_ITER_ENTRIES) */
} bench_work;

/* Timed phases, in run order (WORKLOAD.md "Map phases"). */
enum bench_phase {
    PH_INSERT,      /* N inserts into a map made without a hint */
    PH_INSERT_HINT, /* the same into a map made with hint N */
    PH_HIT,         /* w->lookups lookups cycling through perm */
    PH_MISS,        /* w->lookups lookups of key N + (q mod N) */
    PH_ITER,        /* whole-map iterations, per entry visited */
    PH_DELETE,      /* N deletes in perm order */
    PH_NTIMED
};

/* What one implementation measured in one process. */
typedef struct bench_result {
    double ns[PH_NTIMED];     /* ns per op; NAN when not applicable */
    uint64_t ops[PH_NTIMED];  /* ops timed */
    int64_t sum[PH_NTIMED];   /* checksum of the phase (see bench_map.c) */
    double bytes_per_entry;   /* heap delta over N after the inserts */
    double keycopy_per_entry; /* key-copy bytes over N; NAN if none */
    double own_per_entry;     /* bytes the map reports owning, over N;
                                 NAN if it cannot tell */
    double thp_mb;            /* process memory in transparent huge pages
                                 after the inserts (MB), NAN if unknown */
} bench_result;

/* One implementation: the whole phase sequence of phases.h, and the
 * memory measurement alone (bench_map --mem-only). */
typedef struct bench_map_impl {
    const char *name;  /* key for --impl, and in the R lines unless
                          --label gives another (run-map.sh's refstrict:
                          gortref run with GORTDEBUG=mapstrict=1) */
    const char *label; /* column title */
    void (*run)(const bench_work *w, bench_result *r);
    /* Makes a map without a hint, inserts the N keys once and frees it;
     * sets only bytes_per_entry (heap delta over N, as run measures it)
     * and sum[PH_INSERT] (the map's length before the free). */
    void (*mem)(const bench_work *w, bench_result *r);
} bench_map_impl;

/* bench_map.c */
double bench_now_ns(void);
size_t bench_heap_in_use(void); /* mallinfo2: uordblks + hblkhd */
double bench_thp_mb(void);      /* AnonHugePages of /proc/self/smaps_rollup */

/* floor.c (with gort's map): bench_map --floor; 0, or 1 on a checksum
 * failure. */
int bench_floor(const bench_work *w, int rounds);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_MAP_H */
