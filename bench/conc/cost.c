/*
 * cost.c - the single-threaded measurements beside the concurrent table.
 *
 * --percost: what a snapshot-map reader pays for its view.  The same
 * random hit lookups (splitmix64 seed 0x1000, as reader 0 of a run) on a
 * plain gort_map (gort_map_new_str, keys copied, 8-byte values), used by
 * one thread without any synchronisation, and on a gort_snapmap with a
 * view opened and closed around every lookup (gort_snapmap_read_begin /
 * gort_map_get_str / gort_snapmap_read_end), no writer.  The two loops are
 * the same code but for the view.  A round runs each loop's `lookups` in
 * PERCOST_SLICES slices, the loops' slices interleaved and their order
 * rotated (map, snap, snapone, then snap, snapone, map, ...), so that the
 * loops of a round see the same machine state: on a shared VM a lookup's
 * time moves 2-3x from one second to the next, and whole loops run one
 * after the other paired a quiet second with a busy one.  Every round
 * prints a "P" line per loop:
 *   P map <n> <ns per lookup>      P snap <n> <ns per lookup>
 *   P snapone <n> <ns per lookup>  the same lookups in one view opened
 *                                  for all of them (the view's map alone)
 * The target: snap within 1.2x of map.
 *
 * --flush: what publishing a batch of CONC_BATCH (1000) updates of random
 * existing keys costs at a given map size, one thread, no readers:
 *   F snapflush <n> <ns>   gort_snapmap_flush() of 1000 queued updates;
 *   F snapbatch <n> <ns>   queueing the 1000 updates plus that flush;
 *   F cow <n> <ns>         the naive copy-on-write a holder of a gort_map
 *                          in an atomic value does: a new map sized for
 *                          the old one, every entry copied, the 1000
 *                          updates applied (freeing the old map after the
 *                          grace period is left out of its time, in its
 *                          favour).
 * Two untimed warm-up batches come first (a first flush may set up what
 * later ones reuse).  The snapshot map's flush should not grow with N; the
 * copy grows linearly.
 *
 * Checksums: percost checks each loop's index checksum (every value found
 * belongs to its key) and that both loops found the same values; flush
 * checks that the last batch's values are visible afterwards.  A failure
 * exits with status 1 before any line is printed.
 */
#include "conc.h"

#include <gort/map.h>
#ifdef CONC_HAVE_SNAPMAP
#include <gort/sync.h>
#endif

#include <stdio.h>
#include <stdlib.h>

static gort_map *make_plain(const conc_key *keys, size_t n)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), n);
    for (size_t i = 0; i < n; i++)
        *(int64_t *)gort_map_set_str(m, keys[i].p, keys[i].len) = (int64_t)i;
    return m;
}

/* The checksums of one lookup loop. */
typedef struct sums {
    uint64_t got, want, missing;
} sums;

/* Each loop goes on with the random sequence at *seed and adds to *acc. */
CONC_NOINLINE static void loop_map(const gort_map *m, const conc_key *keys,
                                   uint64_t n, uint64_t lookups,
                                   uint64_t *seed, sums *acc)
{
    uint64_t s = *seed;
    sums r = *acc;
    for (uint64_t q = 0; q < lookups; q++) {
        uint32_t i = conc_index(bench_splitmix64(&s), n);
        const int64_t *slot = gort_map_get_str(m, keys[i].p, keys[i].len);
        if (slot != NULL) {
            r.got += (uint64_t)*slot & CONC_IDX_MASK;
            r.want += i;
        } else {
            r.missing++;
        }
    }
    *seed = s;
    *acc = r;
}

#ifdef CONC_HAVE_SNAPMAP
CONC_NOINLINE static void loop_snap(gort_snapmap *sm, const conc_key *keys,
                                    uint64_t n, uint64_t lookups,
                                    uint64_t *seed, sums *acc)
{
    uint64_t s = *seed;
    sums r = *acc;
    for (uint64_t q = 0; q < lookups; q++) {
        uint32_t i = conc_index(bench_splitmix64(&s), n);
        const gort_map *view = gort_snapmap_read_begin(sm);
        const int64_t *slot = gort_map_get_str(view, keys[i].p, keys[i].len);
        if (slot != NULL) {
            r.got += (uint64_t)*slot & CONC_IDX_MASK;
            r.want += i;
        } else {
            r.missing++;
        }
        gort_snapmap_read_end(sm, view);
    }
    *seed = s;
    *acc = r;
}

/* The same lookups in one view opened for all of them: the view's map
 * alone, without the per-lookup begin/end (separates the cost of opening
 * views from the cost of the map the view shows). */
CONC_NOINLINE static void loop_snap_one(gort_snapmap *sm,
                                        const conc_key *keys, uint64_t n,
                                        uint64_t lookups, uint64_t *seed,
                                        sums *acc)
{
    const gort_map *view = gort_snapmap_read_begin(sm);
    loop_map(view, keys, n, lookups, seed, acc);
    gort_snapmap_read_end(sm, view);
}

/* A snapshot map holding key i -> i, published as one batch. */
static gort_snapmap *make_snap(const conc_key *keys, size_t n)
{
    gort_snapmap *sm = gort_snapmap_new_str(sizeof(int64_t));
    gort_snapmap_set_batch_size(sm, n + 1);
    for (size_t i = 0; i < n; i++) {
        int64_t v = (int64_t)i;
        gort_snapmap_set_str(sm, keys[i].p, keys[i].len, &v);
    }
    gort_snapmap_flush(sm);
    return sm;
}
#endif

static int check_sums(const char *what, sums r)
{
    if (r.missing == 0 && r.got == r.want)
        return 0;
    fprintf(stderr, "bench_conc: %s: %llu missing, index checksum %llu, "
            "expected %llu\n", what, (unsigned long long)r.missing,
            (unsigned long long)r.got, (unsigned long long)r.want);
    return 1;
}

/* Slices of a round (see the file comment): 10^7 lookups of ~100 ns make
 * 50 ms slices, short beside the seconds a neighbour's burst lasts. */
enum { PERCOST_SLICES = 20 };
#ifdef CONC_HAVE_SNAPMAP
enum { LOOP_MAP, LOOP_SNAP, LOOP_SNAPONE, NLOOPS };
#else
enum { LOOP_MAP, NLOOPS };
#endif

int conc_percost(size_t n, uint64_t lookups, int rounds)
{
    conc_key *keys = conc_make_keys(n);
    gort_map *m = make_plain(keys, n);
    double *ns_map = calloc((size_t)rounds, sizeof(double));
    double *ns_snap = calloc((size_t)rounds, sizeof(double));
    double *ns_one = calloc((size_t)rounds, sizeof(double));
    int bad = ns_map == NULL || ns_snap == NULL || ns_one == NULL;
#ifdef CONC_HAVE_SNAPMAP
    gort_snapmap *sm = make_snap(keys, n);
#endif
    for (int r = 0; r < rounds && !bad; r++) {
        /* Per loop: its random sequence, checksums and time. */
        uint64_t seed[NLOOPS];
        sums acc[NLOOPS];
        double ns[NLOOPS];
        for (int l = 0; l < NLOOPS; l++) {
            seed[l] = 0x1000;
            acc[l] = (sums){0, 0, 0};
            ns[l] = 0;
        }
        for (int sl = 0; sl < PERCOST_SLICES; sl++) {
            uint64_t q = lookups / PERCOST_SLICES +
                         (sl < (int)(lookups % PERCOST_SLICES));
            for (int k = 0; k < NLOOPS; k++) {
                int l = (sl + k) % NLOOPS;
                double t0 = conc_now_ns();
                if (l == LOOP_MAP)
                    loop_map(m, keys, n, q, &seed[l], &acc[l]);
#ifdef CONC_HAVE_SNAPMAP
                else if (l == LOOP_SNAP)
                    loop_snap(sm, keys, n, q, &seed[l], &acc[l]);
                else
                    loop_snap_one(sm, keys, n, q, &seed[l], &acc[l]);
#endif
                ns[l] += conc_now_ns() - t0;
            }
        }
        ns_map[r] = ns[LOOP_MAP] / (double)lookups;
        bad |= check_sums("plain map lookups", acc[LOOP_MAP]);
#ifdef CONC_HAVE_SNAPMAP
        ns_snap[r] = ns[LOOP_SNAP] / (double)lookups;
        ns_one[r] = ns[LOOP_SNAPONE] / (double)lookups;
        bad |= check_sums("snapmap lookups", acc[LOOP_SNAP]);
        bad |= check_sums("snapmap lookups in one view", acc[LOOP_SNAPONE]);
        if (acc[LOOP_SNAP].want != acc[LOOP_MAP].want ||
            acc[LOOP_SNAPONE].want != acc[LOOP_MAP].want) {
            fprintf(stderr, "bench_conc: snapmap and map lookups differ\n");
            bad = 1;
        }
#endif
    }
    for (int r = 0; r < rounds && !bad; r++) {
        printf("P map %zu %.3f\n", n, ns_map[r]);
#ifdef CONC_HAVE_SNAPMAP
        printf("P snap %zu %.3f\n", n, ns_snap[r]);
        printf("P snapone %zu %.3f\n", n, ns_one[r]);
#endif
    }
    fflush(stdout);
#ifdef CONC_HAVE_SNAPMAP
    gort_snapmap_free(sm);
#endif
    free(ns_map);
    free(ns_snap);
    free(ns_one);
    gort_map_free(m);
    conc_free_keys(keys);
    return bad;
}

/* The batch of one rep: CONC_BATCH random existing keys and their new
 * values (index | rep << 20, so the index bits still check). */
typedef struct batch {
    uint32_t key[CONC_BATCH];
    int64_t val[CONC_BATCH];
} batch;

static void next_batch(batch *b, uint64_t *seed, size_t n, uint64_t rep)
{
    for (int j = 0; j < CONC_BATCH; j++) {
        uint32_t i = conc_index(bench_splitmix64(seed), n);
        b->key[j] = i;
        b->val[j] = (int64_t)(i | (rep + 1) << CONC_IDX_BITS);
    }
}

/* The naive copy-on-write publish: the whole map copied, then the batch. */
CONC_NOINLINE static gort_map *cow_publish(const gort_map *old,
                                           const conc_key *keys,
                                           const batch *b)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), gort_map_len(old));
    gort_map_iter it;
    gort_map_iter_init(&it, old);
    while (gort_map_iter_next(&it))
        *(int64_t *)gort_map_set_str(m, it.key, it.key_len) =
            *(const int64_t *)it.val;
    for (int j = 0; j < CONC_BATCH; j++)
        *(int64_t *)gort_map_set_str(m, keys[b->key[j]].p,
                                     keys[b->key[j]].len) = b->val[j];
    return m;
}

/* The last batch's values must be there (later duplicates win). */
static int check_batch(const char *what, const gort_map *m,
                       const conc_key *keys, const batch *b, size_t n)
{
    for (int j = 0; j < CONC_BATCH; j++) {
        const conc_key *k = &keys[b->key[j]];
        const int64_t *slot = gort_map_get_str(m, k->p, k->len);
        int64_t want = b->val[j];
        for (int l = j + 1; l < CONC_BATCH; l++)
            if (b->key[l] == b->key[j])
                want = b->val[l];
        if (slot == NULL || *slot != want || gort_map_len(m) != n) {
            fprintf(stderr, "bench_conc: %s: key %u reads %lld, expected "
                    "%lld (len %zu of %zu)\n", what, b->key[j],
                    slot ? (long long)*slot : -1LL, (long long)want,
                    gort_map_len(m), n);
            return 1;
        }
    }
    return 0;
}

enum { WARMUP = 2 };

int conc_flush(size_t n, int reps)
{
    conc_key *keys = conc_make_keys(n);
    batch *b = malloc(sizeof *b);
    double *cow = calloc((size_t)reps, sizeof(double));
    double *fl = calloc((size_t)reps, sizeof(double));
    double *bt = calloc((size_t)reps, sizeof(double));
    if (b == NULL || cow == NULL || fl == NULL || bt == NULL) {
        fprintf(stderr, "bench_conc: out of memory\n");
        return 1;
    }
    int bad = 0;

    /* Naive copy-on-write of a gort_map. */
    gort_map *m = make_plain(keys, n);
    uint64_t seed = 0x3000;
    for (int r = 0; r < WARMUP + reps; r++) {
        next_batch(b, &seed, n, (uint64_t)r);
        double t0 = conc_now_ns();
        gort_map *nm = cow_publish(m, keys, b);
        double t1 = conc_now_ns();
        gort_map_free(m); /* after the grace period: not timed */
        m = nm;
        if (r >= WARMUP)
            cow[r - WARMUP] = t1 - t0;
    }
    bad |= check_batch("naive COW", m, keys, b, n);
    gort_map_free(m);

#ifdef CONC_HAVE_SNAPMAP
    gort_snapmap *sm = make_snap(keys, n);
    /* Only flush publishes: the size trigger is above the batch and the
     * age trigger far beyond the time a batch takes to queue. */
    gort_snapmap_set_batch_size(sm, CONC_BATCH + 1);
    gort_snapmap_set_batch_age_ms(sm, 600000);
    seed = 0x3000;
    for (int r = 0; r < WARMUP + reps; r++) {
        next_batch(b, &seed, n, (uint64_t)r);
        double t0 = conc_now_ns();
        for (int j = 0; j < CONC_BATCH; j++)
            gort_snapmap_set_str(sm, keys[b->key[j]].p, keys[b->key[j]].len,
                                 &b->val[j]);
        double t1 = conc_now_ns();
        gort_snapmap_flush(sm);
        double t2 = conc_now_ns();
        if (r >= WARMUP) {
            fl[r - WARMUP] = t2 - t1;
            bt[r - WARMUP] = t2 - t0;
        }
    }
    const gort_map *view = gort_snapmap_read_begin(sm);
    bad |= check_batch("snapmap", view, keys, b, n);
    gort_snapmap_read_end(sm, view);
    gort_snapmap_free(sm);
#endif

    for (int r = 0; r < reps && !bad; r++) {
        printf("F cow %zu %.0f\n", n, cow[r]);
#ifdef CONC_HAVE_SNAPMAP
        printf("F snapflush %zu %.0f\n", n, fl[r]);
        printf("F snapbatch %zu %.0f\n", n, bt[r]);
#endif
    }
    fflush(stdout);
    free(b);
    free(cow);
    free(fl);
    free(bt);
    conc_free_keys(keys);
    return bad;
}
