/*
 * cases_snapmap.c - gort_snapmap, the snapshot map: a reader opens a view
 * (gort_snapmap_read_begin), looks the key up with the plain map API and
 * closes the view (gort_snapmap_read_end) for every lookup, as the
 * workload asks; the writer queues each update (gort_snapmap_set_str) and
 * the map publishes a new version every CONC_BATCH (1000) updates
 * (gort_snapmap_set_batch_size).  At the end of its span the writer
 * flushes what is still queued, so its updates/s count published updates
 * only.
 *
 * The size trigger is served by the map's flusher goroutine: the writer
 * only queues, and waits (back-pressure) when eight batches are queued
 * (the map's default); a version published for size holds at least 1000
 * operations, up to 8000 when the writer queued more while the flusher
 * worked.  cases_snapmap1.c includes this file with
 * CONC_SNAPMAP_QUEUE_BATCHES 1 (gort_snapmap_set_queue_batches): then a
 * version holds exactly 1000, as the Go COW writer publishes.  cl_note prints the
 * map's statistics of the run ("S" lines: versions, operations applied,
 * the writer's waits), so the table can show the operations per version.
 */
#include <gort/map.h>
#include <gort/sync.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conc.h"

#ifndef CONC_SNAPMAP_QUEUE_BATCHES
#define CL_IMPL_VAR conc_impl_snapmap
#define CL_IMPL_NAME "snapmap"
#define CL_IMPL_LABEL "gort_snapmap"
#else
#define CL_IMPL_VAR conc_impl_snapmap1
#define CL_IMPL_NAME "snapmap1"
#define CL_IMPL_LABEL "gort_snapmap, 1 queued"
#endif

typedef gort_snapmap cl_map;

/* The statistics when the map was filled: the run's are the difference. */
static gort_snapmap_info filled;

static cl_map *cl_make(const conc_work *w)
{
    cl_map *m = gort_snapmap_new_str(sizeof(int64_t));
    gort_snapmap_set_batch_size(m, w->n + 1); /* filled as one batch */
    for (size_t i = 0; i < w->n; i++) {
        int64_t v = (int64_t)i;
        gort_snapmap_set_str(m, w->keys[i].p, w->keys[i].len, &v);
    }
    gort_snapmap_flush(m);
    gort_snapmap_set_batch_size(m, CONC_BATCH);
#ifdef CONC_SNAPMAP_QUEUE_BATCHES
    gort_snapmap_set_queue_batches(m, CONC_SNAPMAP_QUEUE_BATCHES);
#endif
    gort_snapmap_stats(m, &filled);
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

/* S snapmap|snapmap1 <T> <writer> <versions> <by size> <by age>
 *   <by flush> <ops applied> <writer waits>, counted over the run. */
#define CL_HAS_NOTE 1
static void cl_note(cl_map *m, int threads, int writer)
{
    gort_snapmap_info i;
    gort_snapmap_stats(m, &i);
    printf("S %s %d %d %llu %llu %llu %llu %llu %llu\n", CL_IMPL_NAME,
           threads, writer,
           (unsigned long long)(i.version - filled.version),
           (unsigned long long)(i.by_size - filled.by_size),
           (unsigned long long)(i.by_age - filled.by_age),
           (unsigned long long)(i.by_flush - filled.by_flush),
           (unsigned long long)(i.ops_applied - filled.ops_applied),
           (unsigned long long)(i.writer_waits - filled.writer_waits));
}

#include "loops.h"
