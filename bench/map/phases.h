/*
 * phases.h - the WORKLOAD.md map phases, written once for every
 * implementation.
 *
 * An implementation's translation unit defines, before including this
 * file (C or C++):
 *
 *   BM_IMPL_VAR, BM_IMPL_NAME, BM_IMPL_LABEL   its bench_map_impl, R-line
 *                                            key and column title;
 *   BM_HAS_HINT                              1 if it has a size hint;
 *   typedef ... bm_map;                      its map handle;
 *   static bm_map *bm_new(size_t hint);      hint 0: none;
 *   static void bm_free(bm_map *m);
 *   static void bm_insert(bm_map *m, const bench_key *k, int64_t v);
 *   static int bm_find(bm_map *m, const bench_key *k, int64_t *v);
 *   static int bm_erase(bm_map *m, const bench_key *k);
 *   static int64_t bm_sum(bm_map *m, size_t *visited);  one whole pass;
 *   static size_t bm_len(bm_map *m);
 *   static double bm_keycopy(bm_map *m);     bytes of key copies the map
 *                                            made, NAN if it makes none;
 *   static double bm_ownbytes(bm_map *m);    bytes the map says it owns
 *                                            (gort_map_stats), NAN if it
 *                                            cannot tell.
 *
 * All of them are meant to be inlined into the loops below, which are
 * noinline.  Keys are always generated before a timer starts; a phase's
 * checksum is checked by the driver (bench_map.c), which never looks at
 * the times.
 *
 * Insert and delete of a small N are far shorter than a clock tick's
 * noise, so they are repeated w->reps times on fresh maps (the making of
 * the map is timed with the inserts, as Go's make is; freeing the map,
 * and filling the map a delete rep empties, are not timed) and the result
 * is the total time over the total operations.
 */
#ifndef BENCH_MAP_PHASES_H
#define BENCH_MAP_PHASES_H

#include "bench_map.h"

#include <math.h>

#ifdef __cplusplus
#define BM_EXTERN extern "C"
#else
#define BM_EXTERN extern
#endif

/* Inserts the N present keys in perm order, value = key index. */
BENCH_NOINLINE static void ph_fill(bm_map *m, const bench_work *w)
{
    const bench_key *keys = w->keys;
    const uint32_t *perm = w->perm;
    for (size_t i = 0; i < w->n; i++) {
        uint32_t k = perm[i];
        bm_insert(m, &keys[k], (int64_t)k);
    }
}

/* Makes a map with the hint and fills it: the timed unit of insert. */
BENCH_NOINLINE static bm_map *ph_make_fill(const bench_work *w, size_t hint)
{
    bm_map *m = bm_new(hint);
    ph_fill(m, w);
    return m;
}

/* Times reps makes+fills; keeps the first map in *keep if keep != NULL,
 * with the heap growth it caused in *heap.  Returns the total ns. */
static double ph_insert(const bench_work *w, size_t hint, bm_map **keep,
                        double *heap, int64_t *sum)
{
    double total = 0;
    for (size_t r = 0; r < w->reps; r++) {
        size_t h0 = bench_heap_in_use();
        double t0 = bench_now_ns();
        bm_map *m = ph_make_fill(w, hint);
        total += bench_now_ns() - t0;
        if (r == 0 || *sum == (int64_t)w->n)
            *sum = (int64_t)bm_len(m); /* the first wrong length stays */
        if (r == 0 && keep != NULL) {
            *heap = (double)bench_heap_in_use() - (double)h0;
            *keep = m;
        } else {
            bm_free(m);
        }
    }
    return total;
}

/* w->lookups (10M) lookups of present keys, cycling through perm. */
BENCH_NOINLINE static int64_t ph_hit(bm_map *m, const bench_work *w)
{
    const bench_key *keys = w->lkeys;
    const uint32_t *perm = w->perm;
    size_t n = w->n, j = 0;
    int64_t s = 0;
    for (size_t q = 0, nq = w->lookups; q < nq; q++) {
        int64_t v;
        if (bm_find(m, &keys[perm[j]], &v))
            s += v;
        if (++j == n)
            j = 0;
    }
    return s;
}

/* w->lookups (10M) lookups of key N + (q mod N), all missing: sums
 * value+1 of any key found, so the checksum is 0 when nothing is found. */
BENCH_NOINLINE static int64_t ph_miss(bm_map *m, const bench_work *w)
{
    const bench_key *keys = w->lkeys + w->n;
    size_t n = w->n, j = 0;
    int64_t s = 0;
    for (size_t q = 0, nq = w->lookups; q < nq; q++) {
        int64_t v;
        if (bm_find(m, &keys[j], &v))
            s += v + 1;
        if (++j == n)
            j = 0;
    }
    return s;
}

/* Whole-map passes until w->iter_entries (10M) entries are visited. */
BENCH_NOINLINE static int64_t ph_iter(bm_map *m, size_t passes,
                                      size_t *visited)
{
    int64_t s = 0;
    size_t v = 0;
    for (size_t p = 0; p < passes; p++)
        s += bm_sum(m, &v);
    *visited = v;
    return s;
}

/* Deletes the N present keys in perm order; returns how many were there. */
BENCH_NOINLINE static int64_t ph_delete(bm_map *m, const bench_work *w)
{
    const bench_key *keys = w->lkeys;
    const uint32_t *perm = w->perm;
    int64_t s = 0;
    for (size_t i = 0; i < w->n; i++)
        s += bm_erase(m, &keys[perm[i]]) != 0;
    return s;
}

/* Warm-up: whatever a first use allocates once per process (runtime
 * state, samplers, ...) must not count as the map's bytes. */
static void bm_warm_up(const bench_work *w)
{
    bm_map *warm = bm_new(0);
    bm_insert(warm, &w->keys[0], 0);
    bm_free(warm);
}

static void bm_run(const bench_work *w, bench_result *r)
{
    size_t n = w->n;
    bm_map *m = NULL;
    double heap = 0, t0;

    bm_warm_up(w);

    /* 1. insert without a hint; the first map stays for phases 2-5. */
    r->ns[PH_INSERT] = ph_insert(w, 0, &m, &heap, &r->sum[PH_INSERT]);
    r->ops[PH_INSERT] = (uint64_t)w->reps * n;
    r->bytes_per_entry = heap / (double)n;
    r->keycopy_per_entry = bm_keycopy(m) / (double)n;
    r->own_per_entry = bm_ownbytes(m) / (double)n;
    r->thp_mb = bench_thp_mb();

    /* 1b. insert with hint N. */
    if (BM_HAS_HINT) {
        r->ns[PH_INSERT_HINT] =
            ph_insert(w, n, NULL, NULL, &r->sum[PH_INSERT_HINT]);
        r->ops[PH_INSERT_HINT] = (uint64_t)w->reps * n;
    } else {
        r->ns[PH_INSERT_HINT] = NAN;
    }

    /* 2. lookup-hit. */
    t0 = bench_now_ns();
    r->sum[PH_HIT] = ph_hit(m, w);
    r->ns[PH_HIT] = bench_now_ns() - t0;
    r->ops[PH_HIT] = w->lookups;

    /* 3. lookup-miss. */
    t0 = bench_now_ns();
    r->sum[PH_MISS] = ph_miss(m, w);
    r->ns[PH_MISS] = bench_now_ns() - t0;
    r->ops[PH_MISS] = w->lookups;

    /* 4. iterate. */
    size_t passes = (w->iter_entries + n - 1) / n, visited = 0;
    t0 = bench_now_ns();
    r->sum[PH_ITER] = ph_iter(m, passes, &visited);
    r->ns[PH_ITER] = bench_now_ns() - t0;
    r->ops[PH_ITER] = visited;

    /* 5. delete: the first rep empties the map of phases 2-4, the others
     * fresh maps filled (untimed) the same way. */
    double total = 0;
    for (size_t rep = 0; rep < w->reps; rep++) {
        if (rep > 0)
            m = ph_make_fill(w, 0);
        t0 = bench_now_ns();
        int64_t d = ph_delete(m, w);
        total += bench_now_ns() - t0;
        if (bm_len(m) != 0)
            d = -1 - (int64_t)bm_len(m); /* a failure */
        if (rep == 0 || r->sum[PH_DELETE] == (int64_t)n)
            r->sum[PH_DELETE] = d; /* the first failure stays */
        bm_free(m);
    }
    r->ns[PH_DELETE] = total;
    r->ops[PH_DELETE] = (uint64_t)w->reps * n;

    for (int p = 0; p < PH_NTIMED; p++)
        if (!isnan(r->ns[p]))
            r->ns[p] /= (double)r->ops[p];
}

/* bench_map --mem-only: the memory figure of phase 1 alone, in a process
 * that does nothing else, so that the runner can start it with glibc's
 * caches of freed chunks switched off (the "live" row, see bench_map.c).
 * The same warm-up, the same single unhinted make+fill and the same heap
 * delta as bm_run's first insert rep; nothing else runs. */
static void bm_mem(const bench_work *w, bench_result *r)
{
    bench_work once = *w;
    bm_map *m = NULL;
    double heap = 0;

    once.reps = 1;
    bm_warm_up(&once);
    (void)ph_insert(&once, 0, &m, &heap, &r->sum[PH_INSERT]);
    r->bytes_per_entry = heap / (double)once.n;
    bm_free(m);
}

BM_EXTERN const bench_map_impl BM_IMPL_VAR;
const bench_map_impl BM_IMPL_VAR = {BM_IMPL_NAME, BM_IMPL_LABEL, bm_run,
                                    bm_mem};

#endif /* BENCH_MAP_PHASES_H */
