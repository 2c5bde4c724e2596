/*
 * cases_gortrw.c - gort's plain map (gort_map_new_str, keys copied, 8-byte
 * int64 slots) behind a gort_rwmutex: Go's `map` + `sync.RWMutex` written
 * with gort.  Readers rlock/runlock around each lookup; the writer locks
 * for each update (nothing is staged).  gort_rwmutex is writer-preferring,
 * as Go's is.
 */
#include <gort/map.h>
#include <gort/sync.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conc.h"

#define CL_IMPL_VAR conc_impl_gortrw
#define CL_IMPL_NAME "gortrw"
#define CL_IMPL_LABEL "gort rwmutex+map"

typedef struct cl_map {
    gort_rwmutex mu; /* guards m; zero-initialised is unlocked */
    gort_map *m;     /* map[string]int64 */
} cl_map;

static cl_map *cl_make(const conc_work *w)
{
    cl_map *m = calloc(1, sizeof *m);
    if (m == NULL) {
        fprintf(stderr, "bench_conc: out of memory\n");
        exit(1);
    }
    m->m = gort_map_new_str(sizeof(int64_t), w->n);
    for (size_t i = 0; i < w->n; i++)
        *(int64_t *)gort_map_set_str(m->m, w->keys[i].p, w->keys[i].len) =
            (int64_t)i;
    return m;
}

static void cl_destroy(cl_map *m)
{
    gort_map_free(m->m);
    free(m);
}

static inline int cl_find(cl_map *m, const conc_key *k, int64_t *v)
{
    gort_rwmutex_rlock(&m->mu);
    const int64_t *slot = gort_map_get_str(m->m, k->p, k->len);
    int found = slot != NULL;
    if (found)
        *v = *slot;
    gort_rwmutex_runlock(&m->mu);
    return found;
}

static inline void cl_update(cl_map *m, const conc_key *k, int64_t v)
{
    gort_rwmutex_lock(&m->mu);
    *(int64_t *)gort_map_set_str(m->m, k->p, k->len) = v;
    gort_rwmutex_unlock(&m->mu);
}

static void cl_write_end(cl_map *m)
{
    (void)m; /* nothing staged */
}

static void cl_thread_begin(void)
{
}

static void cl_thread_end(void)
{
    gort_thread_detach(); /* a thread gort did not start (sync.h) */
}

#include "loops.h"
