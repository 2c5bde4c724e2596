/*
 * cases_uthash.c - uthash as its documentation shows string keys that the
 * caller owns: one malloc'ed item per entry holding the key pointer and
 * the value, added with HASH_ADD_KEYPTR (key pointer and length), found
 * with HASH_FIND, removed with HASH_DEL and free.  The default hash
 * (Jenkins) and the default bucket sizing; uthash has no size hint.  The
 * items are counted in bytes per entry: they are the map's storage.
 */
#include <uthash.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench_map.h"

#define BM_IMPL_VAR bench_impl_uthash
#define BM_IMPL_NAME "uthash"
#define BM_IMPL_LABEL "uthash"
#define BM_HAS_HINT 0

typedef struct bm_item {
    const char *key; /* borrowed */
    int64_t val;
    UT_hash_handle hh;
} bm_item;

/* The map is a pointer to the head item, NULL when empty. */
typedef struct bm_map {
    bm_item *head;
} bm_map;

static inline bm_map *bm_new(size_t hint)
{
    (void)hint;
    bm_map *m = calloc(1, sizeof *m);
    if (m == NULL)
        abort();
    return m;
}

static inline void bm_free(bm_map *m)
{
    bm_item *e, *tmp;
    HASH_ITER(hh, m->head, e, tmp) {
        HASH_DEL(m->head, e);
        free(e);
    }
    free(m);
}

static inline void bm_insert(bm_map *m, const bench_key *k, int64_t v)
{
    bm_item *e;
    HASH_FIND(hh, m->head, k->p, (unsigned)k->len, e);
    if (e == NULL) {
        e = malloc(sizeof *e);
        if (e == NULL)
            abort();
        e->key = k->p;
        HASH_ADD_KEYPTR(hh, m->head, e->key, (unsigned)k->len, e);
    }
    e->val = v;
}

static inline int bm_find(bm_map *m, const bench_key *k, int64_t *v)
{
    bm_item *e;
    HASH_FIND(hh, m->head, k->p, (unsigned)k->len, e);
    if (e == NULL)
        return 0;
    *v = e->val;
    return 1;
}

static inline int bm_erase(bm_map *m, const bench_key *k)
{
    bm_item *e;
    HASH_FIND(hh, m->head, k->p, (unsigned)k->len, e);
    if (e == NULL)
        return 0;
    HASH_DEL(m->head, e);
    free(e);
    return 1;
}

static inline int64_t bm_sum(bm_map *m, size_t *visited)
{
    int64_t s = 0;
    size_t c = 0;
    for (bm_item *e = m->head; e != NULL; e = e->hh.next) {
        s += e->val;
        c++;
    }
    *visited += c;
    return s;
}

static inline size_t bm_len(bm_map *m)
{
    return HASH_COUNT(m->head);
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
