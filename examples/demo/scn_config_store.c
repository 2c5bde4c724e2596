/*
 * scn_config_store.c - scenario config-store: the design notes' RWMutex +
 * atomic.Value configuration store.
 *
 * Readers load the current config with gort_atomic_value_load inside a
 * read section and use it in place (zero copies, no lock).  A writer,
 * serialised by a gort_rwmutex, copies the config, changes it and
 * publishes the whole new one with gort_atomic_value_store; the old one is
 * retired and destroyed only once the readers that may hold it have left
 * their sections.  While the writer holds the write lock it waits until
 * every reader has completed a read: readers never block on it (if they
 * did, the scenario would hang).
 */
#include "demo.h"

#include <gort/gort.h>

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NREADERS = 3, NUPDATES = 3 };

typedef struct config {
    uint64_t version;        /* 1 .. NUPDATES + 1 */
    unsigned timeout_ms;     /* 100 + 10 * version */
    char backend[32];        /* "10.0.<version>.1:8080" */
    uint64_t readers_inside; /* __atomic: readers holding it in a section */
} config;

typedef struct reader_state {
    uint64_t reads;          /* __atomic: completed sections */
    uint64_t first, last;    /* versions seen */
    uint64_t copies;         /* loads that were not the published object */
    uint64_t bad;            /* configs whose fields disagree */
} reader_state;

static gort_atomic_value current;
static gort_rwmutex mu;
static const config *published[NUPDATES + 2]; /* by version; guarded by mu,
                                                 read by readers after the
                                                 acquire load */
static reader_state readers[NREADERS];
static int stop;                /* __atomic */
static gort_waitgroup wg;
static demo_log destroyed;      /* written by the retire thread only,
                                   read after gort_retire_barrier() */
static uint64_t inside_at_destroy; /* __atomic */

static void config_free(void *p)
{
    config *c = p;
    uint64_t inside = __atomic_load_n(&c->readers_inside, __ATOMIC_RELAXED);
    __atomic_add_fetch(&inside_at_destroy, inside, __ATOMIC_RELAXED);
    demo_log_add(&destroyed, "v%" PRIu64 " (%" PRIu64 " inside) ", c->version,
                 inside);
    free(c);
}

static config *config_new(uint64_t version)
{
    config *c = calloc(1, sizeof *c);
    c->version = version;
    c->timeout_ms = (unsigned)(100 + 10 * version);
    snprintf(c->backend, sizeof c->backend, "10.0.%" PRIu64 ".1:8080", version);
    return c;
}

static void wg_done(void *w)
{
    gort_waitgroup_done(w);
}

static void reader(void *arg)
{
    reader_state *r = arg;
    GORT_FRAME;
    gort_defer(wg_done, &wg);
    /* Until told to stop, and at least until the last version is seen
     * (it is published before stop is set). */
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED) ||
           r->last != NUPDATES + 1) {
        gort_read_begin();
        config *c = gort_atomic_value_load(&current);
        __atomic_add_fetch(&c->readers_inside, 1, __ATOMIC_RELAXED);
        if (c != published[c->version])
            r->copies++;
        if (c->timeout_ms != 100 + 10 * c->version)
            r->bad++;
        if (r->first == 0)
            r->first = c->version;
        r->last = c->version;
        __atomic_sub_fetch(&c->readers_inside, 1, __ATOMIC_RELAXED);
        gort_read_end();
        __atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
    }
}

static void unlock(void *m)
{
    gort_rwmutex_unlock(m);
}

/* One replacement under the write lock; returns true when every reader
 * completed a read while the lock was held. */
static bool update(uint64_t version)
{
    GORT_FRAME_RETURN(false);
    gort_rwmutex_lock(&mu);
    gort_defer(unlock, &mu);
    uint64_t at_lock[NREADERS];
    for (int i = 0; i < NREADERS; i++)
        at_lock[i] = __atomic_load_n(&readers[i].reads, __ATOMIC_RELAXED);
    config *next = config_new(version);
    published[version] = next;
    /* Hold the lock until every reader has read again: they never wait
     * for it. */
    for (int i = 0; i < NREADERS; i++)
        while (__atomic_load_n(&readers[i].reads, __ATOMIC_RELAXED) ==
               at_lock[i])
            sched_yield();
    gort_atomic_value_store(&current, next); /* the old one is retired */
    printf("  writer: published v%" PRIu64 " (timeout %u ms, backend %s) "
           "while holding the write lock\n",
           version, next->timeout_ms, next->backend);
    return true;
}

int scenario_config_store(void)
{
    int fails = 0;
    memset(readers, 0, sizeof readers);
    memset(&wg, 0, sizeof wg);
    demo_log_reset(&destroyed);
    stop = 0;
    inside_at_destroy = 0;

    gort_atomic_value_init(&current, config_free);
    published[1] = config_new(1);
    gort_atomic_value_store(&current, (void *)published[1]);
    gort_waitgroup_add(&wg, NREADERS);
    for (int i = 0; i < NREADERS; i++)
        gort_go(reader, &readers[i]);

    bool never_blocked = true;
    for (uint64_t v = 2; v <= NUPDATES + 1; v++)
        never_blocked &= update(v);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    gort_waitgroup_wait(&wg);

    uint64_t copies = 0, bad = 0;
    bool saw_last = true;
    for (int i = 0; i < NREADERS; i++) {
        reader_state *r = &readers[i];
        printf("  reader %d: %" PRIu64 " reads, versions v%" PRIu64
               " .. v%" PRIu64 "\n",
               i + 1, r->reads, r->first, r->last);
        copies += r->copies;
        bad += r->bad;
        saw_last &= r->last == NUPDATES + 1;
    }
    gort_atomic_value_destroy(&current); /* retires the last config */
    gort_retire_barrier();
    printf("  destroyed: %s\n", destroyed.text);

    fails += demo_check(never_blocked,
                        "every reader read while the writer held the lock");
    fails += demo_check(saw_last, "every reader saw the last version");
    fails += demo_check(copies == 0 && bad == 0,
                        "readers used the published configs in place, "
                        "all consistent (zero copies)");
    fails += demo_check(
        __atomic_load_n(&inside_at_destroy, __ATOMIC_RELAXED) == 0,
        "configs were destroyed only after their readers left");
    int ndestroyed = 0;
    for (const char *s = destroyed.text; (s = strchr(s, 'v')) != NULL; s++)
        ndestroyed++;
    fails += demo_check(ndestroyed == NUPDATES + 1,
                        "every config was destroyed exactly once");
    return fails;
}
