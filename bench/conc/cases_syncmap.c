/*
 * cases_syncmap.c - gort_syncmap, Go's sync.Map in C: Load for each
 * lookup, Store for each update (nothing is staged).  The int64 value is
 * carried in the void * itself (no destructor, nothing to reclaim); Go's
 * sync.Map boxes an int64 into an interface instead, which allocates.
 */
#include <gort/sync.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conc.h"

#define CL_IMPL_VAR conc_impl_syncmap
#define CL_IMPL_NAME "syncmap"
#define CL_IMPL_LABEL "gort_syncmap"

typedef gort_syncmap cl_map;

static cl_map *cl_make(const conc_work *w)
{
    cl_map *m = gort_syncmap_new();
    for (size_t i = 0; i < w->n; i++)
        gort_syncmap_store(m, w->keys[i].p, w->keys[i].len,
                           (void *)(intptr_t)i);
    return m;
}

static void cl_destroy(cl_map *m)
{
    gort_syncmap_free(m);
}

static inline int cl_find(cl_map *m, const conc_key *k, int64_t *v)
{
    void *p = NULL;
    int found = gort_syncmap_load(m, k->p, k->len, &p);
    *v = (int64_t)(intptr_t)p;
    return found;
}

static inline void cl_update(cl_map *m, const conc_key *k, int64_t v)
{
    gort_syncmap_store(m, k->p, k->len, (void *)(intptr_t)v);
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
