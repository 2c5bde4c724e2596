/*
 * cases_snapmap.c - gort_snapmap, the snapshot map: a reader opens a view
 * (gort_snapmap_read_begin), looks the key up with the plain map API and
 * closes the view (gort_snapmap_read_end) for every lookup, as the
 * workload asks; the writer queues each update (gort_snapmap_set_str) and
 * the map publishes a new version every CONC_BATCH (1000) updates
 * (gort_snapmap_set_batch_size).  At the end of its span the writer
 * flushes what is still queued, so its updates/s count published updates
 * only.
 */
#include <gort/map.h>
#include <gort/sync.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conc.h"

#define CL_IMPL_VAR conc_impl_snapmap
#define CL_IMPL_NAME "snapmap"
#define CL_IMPL_LABEL "gort_snapmap"

typedef gort_snapmap cl_map;

static cl_map *cl_make(const conc_work *w)
{
    cl_map *m = gort_snapmap_new_str(sizeof(int64_t));
    for (size_t i = 0; i < w->n; i++) {
        int64_t v = (int64_t)i;
        gort_snapmap_set_str(m, w->keys[i].p, w->keys[i].len, &v);
    }
    gort_snapmap_flush(m);
    gort_snapmap_set_batch_size(m, CONC_BATCH);
    return m;
}

static void cl_destroy(cl_map *m)
{
    gort_snapmap_free(m);
}

static inline int cl_find(cl_map *m, const conc_key *k, int64_t *v)
{
    const gort_map *view = gort_snapmap_read_begin(m);
    const int64_t *slot = gort_map_get_str(view, k->p, k->len);
    int found = slot != NULL;
    if (found)
        *v = *slot;
    gort_snapmap_read_end(m, view);
    return found;
}

static inline void cl_update(cl_map *m, const conc_key *k, int64_t v)
{
    gort_snapmap_set_str(m, k->p, k->len, &v);
}

static void cl_write_end(cl_map *m)
{
    gort_snapmap_flush(m);
}

static void cl_thread_begin(void)
{
}

static void cl_thread_end(void)
{
    gort_thread_detach(); /* a thread gort did not start (sync.h) */
}

#include "loops.h"
