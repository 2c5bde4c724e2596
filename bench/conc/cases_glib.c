/*
 * cases_glib.c - the C programmer's classic: a GLib GHashTable
 * (g_str_hash / g_str_equal over the NUL-terminated key bytes, keys
 * borrowed, the int64 value in the gpointer) behind a pthread_rwlock_t.
 *
 * Readers take the read lock for each lookup; the writer takes the write
 * lock for each update (nothing is staged).  The lock is made
 * writer-preferring (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), like
 * Go's RWMutex and gort_rwmutex: glibc's default prefers readers, and with
 * readers re-locking back to back the writer would all but starve, which
 * would flatter the readers' figure.
 */
#define _GNU_SOURCE /* PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP */
#include <glib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conc.h"

#define CL_IMPL_VAR conc_impl_glib
#define CL_IMPL_NAME "glibrw"
#define CL_IMPL_LABEL "rwlock+GLib"

typedef struct cl_map {
    pthread_rwlock_t lock; /* guards h */
    GHashTable *h;         /* key bytes borrowed from the workload */
} cl_map;

static cl_map *cl_make(const conc_work *w)
{
    cl_map *m = malloc(sizeof *m);
    pthread_rwlockattr_t a;
    if (m == NULL) {
        fprintf(stderr, "bench_conc: out of memory\n");
        exit(1);
    }
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&m->lock, &a);
    pthread_rwlockattr_destroy(&a);
    m->h = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; i < w->n; i++)
        g_hash_table_insert(m->h, (gpointer)w->keys[i].p,
                            (gpointer)(intptr_t)i);
    return m;
}

static void cl_destroy(cl_map *m)
{
    g_hash_table_destroy(m->h);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

/* lookup_extended: a plain lookup cannot tell key 0's value 0 from absent. */
static inline int cl_find(cl_map *m, const conc_key *k, int64_t *v)
{
    gpointer orig, val = NULL;
    pthread_rwlock_rdlock(&m->lock);
    int found = g_hash_table_lookup_extended(m->h, k->p, &orig, &val);
    pthread_rwlock_unlock(&m->lock);
    *v = (int64_t)(intptr_t)val;
    return found;
}

static inline void cl_update(cl_map *m, const conc_key *k, int64_t v)
{
    pthread_rwlock_wrlock(&m->lock);
    g_hash_table_insert(m->h, (gpointer)k->p, (gpointer)(intptr_t)v);
    pthread_rwlock_unlock(&m->lock);
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
}

#include "loops.h"
