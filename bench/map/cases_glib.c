/*
 * cases_glib.c - GLib's GHashTable as a C programmer uses it for string
 * keys: g_str_hash / g_str_equal over the NUL-terminated key bytes (the
 * workload stores every key NUL-terminated), keys borrowed (no
 * key_destroy_func), the int64 value stored in the gpointer.  GHashTable
 * has no size hint, so it has no insert-with-hint figure.
 */
#include <glib.h>

#include <math.h>
#include <stdint.h>

#include "bench_map.h"

#define BM_IMPL_VAR bench_impl_glib
#define BM_IMPL_NAME "glib"
#define BM_IMPL_LABEL "GLib"
#define BM_HAS_HINT 0

typedef GHashTable bm_map;

static inline bm_map *bm_new(size_t hint)
{
    (void)hint;
    return g_hash_table_new(g_str_hash, g_str_equal);
}

static inline void bm_free(bm_map *m)
{
    g_hash_table_destroy(m);
}

static inline void bm_insert(bm_map *m, const bench_key *k, int64_t v)
{
    g_hash_table_insert(m, (gpointer)k->p, (gpointer)(intptr_t)v);
}

/* lookup_extended: a plain lookup cannot tell key 0's value 0 from absent. */
static inline int bm_find(bm_map *m, const bench_key *k, int64_t *v)
{
    gpointer orig, val;
    if (!g_hash_table_lookup_extended(m, k->p, &orig, &val))
        return 0;
    *v = (int64_t)(intptr_t)val;
    return 1;
}

static inline int bm_erase(bm_map *m, const bench_key *k)
{
    return g_hash_table_remove(m, k->p);
}

static inline int64_t bm_sum(bm_map *m, size_t *visited)
{
    GHashTableIter it;
    gpointer key, val;
    int64_t s = 0;
    size_t c = 0;
    g_hash_table_iter_init(&it, m);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        s += (int64_t)(intptr_t)val;
        c++;
    }
    *visited += c;
    return s;
}

static inline size_t bm_len(bm_map *m)
{
    return g_hash_table_size(m);
}

static inline double bm_keycopy(bm_map *m)
{
    (void)m;
    return NAN;
}

static inline double bm_ownbytes(bm_map *m)
{
    (void)m;
    return NAN;
}

#include "phases.h"
