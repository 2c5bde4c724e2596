/*
 * cases_gort.c - the map phases written with gort, as a user writes them.
 *
 * Compiled more than once into bench_map (bench/CMakeLists.txt):
 *   - as is: the borrowed-key map, gort_map_new_strref (column gort-ref,
 *     the storage model of Go's map, which keeps the caller's string
 *     bytes);
 *   - with -DBM_GORT_COPY: the copying map, gort_map_new_str (column
 *     gort-str); its key copies are reported as bytes per entry beside it
 *     (gort_map_stats' key_bytes) and are included in its heap figure;
 *   - with -DBM_GORT_NOCHECK (and BM_GORT_COPY or not): the same code
 *     linked against a copy of the library built without the hashWriting
 *     checks, when the library offers a compile-time switch for them (see
 *     bench/CMakeLists.txt): columns ref-nochk and str-nochk.
 * The borrowed-key map is also run, unchanged, in a process started with
 * GORTDEBUG=mapstrict=1 (every map made then sets and clears its writing
 * flag with atomic read-modify-writes) and `--label refstrict`: column
 * ref-strict, which prices strict mode (run-map.sh).
 * Values are int64_t slots of 8 bytes.
 */
#include <gort/map.h>

#include <math.h>
#include <stdint.h>

#include "bench_map.h"

#if defined(BM_GORT_NOCHECK) && defined(BM_GORT_COPY)
#define BM_IMPL_VAR bench_impl_gortstr_nochk
#define BM_IMPL_NAME "gortstrnc"
#define BM_IMPL_LABEL "gort-str-nochk"
#elif defined(BM_GORT_NOCHECK)
#define BM_IMPL_VAR bench_impl_gortref_nochk
#define BM_IMPL_NAME "gortrefnc"
#define BM_IMPL_LABEL "gort-ref-nochk"
#elif defined(BM_GORT_COPY)
#define BM_IMPL_VAR bench_impl_gortstr
#define BM_IMPL_NAME "gortstr"
#define BM_IMPL_LABEL "gort-str"
#else
#define BM_IMPL_VAR bench_impl_gortref
#define BM_IMPL_NAME "gortref"
#define BM_IMPL_LABEL "gort-ref"
#endif
#define BM_HAS_HINT 1

typedef gort_map bm_map;

static inline bm_map *bm_new(size_t hint)
{
#ifdef BM_GORT_COPY
    return gort_map_new_str(sizeof(int64_t), hint);
#else
    return gort_map_new_strref(sizeof(int64_t), hint);
#endif
}

static inline void bm_free(bm_map *m)
{
    gort_map_free(m);
}

static inline void bm_insert(bm_map *m, const bench_key *k, int64_t v)
{
    *(int64_t *)gort_map_set_str(m, k->p, k->len) = v;
}

static inline int bm_find(bm_map *m, const bench_key *k, int64_t *v)
{
    const int64_t *slot = gort_map_get_str(m, k->p, k->len);
    if (slot == NULL)
        return 0;
    *v = *slot;
    return 1;
}

static inline int bm_erase(bm_map *m, const bench_key *k)
{
    return gort_map_delete_str(m, k->p, k->len);
}

static inline int64_t bm_sum(bm_map *m, size_t *visited)
{
    gort_map_iter it;
    int64_t s = 0;
    size_t c = 0;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        s += *(const int64_t *)it.val;
        c++;
    }
    *visited += c;
    return s;
}

static inline size_t bm_len(bm_map *m)
{
    return gort_map_len(m);
}

static inline double bm_keycopy(bm_map *m)
{
#ifdef BM_GORT_COPY
    gort_map_info info;
    gort_map_stats(m, &info);
    return (double)info.key_bytes;
#else
    (void)m;
    return NAN;
#endif
}

/* The map's own account of its memory: buckets, overflow buckets, header
 * and key copies, without the allocator's chunk headers and without the
 * freed growth leftovers that glibc's tcache keeps and mallinfo2 still
 * counts as in use. */
static inline double bm_ownbytes(bm_map *m)
{
    gort_map_info info;
    gort_map_stats(m, &info);
    return (double)info.bytes;
}

#include "phases.h"
