/*
 * config_store.c - the design notes' configuration store: a
 * sync.RWMutex-guarded writer side and an atomic.Value that readers load
 * without any lock.  In Go:
 *
 *     var mu sync.RWMutex      // writers (and the change log) only
 *     var current atomic.Value // *Config
 *
 *     func get() *Config { return current.Load().(*Config) } // readers
 *
 *     func update(f func(*Config)) {
 *         mu.Lock(); defer mu.Unlock()
 *         next := *get()       // copy, change, publish the whole config
 *         f(&next)
 *         current.Store(&next)
 *     }
 *
 * Readers copy nothing and never block, not even while a writer holds the
 * write lock for a long time.  C has no garbage collector, so readers
 * bracket load and use with gort_read_begin/end, and the value's
 * destructor frees a replaced config only after every reader that could
 * still hold it has left its section.  Each config counts the readers
 * inside it, and its destructor reports that count: always 0.
 *
 *     $ ./config_store
 *     writer: published v2: timeout 120 ms, 4 backends
 *       destroyed v1 (readers inside: 0)
 *     ...
 *     reader 1: 1196377 reads, versions v1..v6, 5 changes seen
 *     ...
 *     reads: 5968226 in all, 1898678 while the writer held the write lock
 *     shutdown:
 *       destroyed v6 (readers inside: 0)
 *     6 configs destroyed, readers inside at destruction: 0; inconsistent
 *     reads: 0
 *
 * (Destructors run on gort's retire thread after a grace period, soon after
 * the store: their lines may come a little later.)
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { NREADERS = 4, NUPDATES = 5, MAX_BACKENDS = 8 };

typedef struct config {
    uint64_t version;            /* 1, 2, ...: one per publication */
    unsigned timeout_ms;         /* some settings */
    unsigned nbackends;          /* entries used in backends */
    char backends[MAX_BACKENDS][32];
    uint64_t readers_inside;     /* __atomic: readers in a section holding
                                    this config (for the demonstration) */
} config;

static gort_atomic_value current; /* config *, owned: replaced ones freed */
static gort_rwmutex mu;           /* writers; RLock: the change log */
static char change_log[NUPDATES + 1][96]; /* guarded by mu */
static unsigned nchanges;                 /* guarded by mu */

static int writer_busy;  /* __atomic: the writer holds the write lock */
static int stop_readers; /* __atomic */
static uint64_t reads_during_write; /* __atomic */
static uint64_t destroyed_inside;   /* __atomic: readers inside at destroy */
static uint64_t destroyed_count;    /* __atomic */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The value's destructor: runs after a grace period. */
static void config_free(void *p)
{
    config *c = p;
    uint64_t inside = __atomic_load_n(&c->readers_inside, __ATOMIC_RELAXED);
    __atomic_add_fetch(&destroyed_inside, inside, __ATOMIC_RELAXED);
    __atomic_add_fetch(&destroyed_count, 1, __ATOMIC_RELAXED);
    printf("  destroyed v%" PRIu64 " (readers inside: %" PRIu64 ")\n",
           c->version, inside);
    free(c);
}

/* ---- readers ---------------------------------------------------------- */

typedef struct reader_stats {
    uint64_t reads;          /* sections completed */
    uint64_t first, last;    /* first and last version seen */
    uint64_t changes;        /* times the version differed from the last */
    uint64_t bad;            /* inconsistent configs seen (must stay 0) */
} reader_stats;

static gort_waitgroup readers_done;

static void done(void *wg)
{
    gort_waitgroup_done(wg);
}

static void reader(void *arg)
{
    reader_stats *st = arg;
    GORT_FRAME;
    gort_defer(done, &readers_done);
    while (!__atomic_load_n(&stop_readers, __ATOMIC_RELAXED)) {
        gort_read_begin();
        config *c = gort_atomic_value_load(&current); /* no copy, no lock */
        __atomic_add_fetch(&c->readers_inside, 1, __ATOMIC_RELAXED);
        /* "Use" the config: its fields agree with its version. */
        if (c->timeout_ms != 100 + 10 * c->version ||
            c->nbackends != 2 + c->version % 3)
            st->bad++;
        if (st->first == 0)
            st->first = c->version;
        if (c->version != st->last && st->last != 0)
            st->changes++;
        st->last = c->version;
        if (__atomic_load_n(&writer_busy, __ATOMIC_RELAXED))
            __atomic_add_fetch(&reads_during_write, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&c->readers_inside, 1, __ATOMIC_RELAXED);
        gort_read_end(); /* c may be freed from here on */
        st->reads++;
    }
}

/* ---- the writer ----------------------------------------------------- */

static void unlock(void *m)
{
    gort_rwmutex_unlock(m);
}

static void fill(config *c, uint64_t version)
{
    c->version = version;
    c->timeout_ms = (unsigned)(100 + 10 * version);
    c->nbackends = (unsigned)(2 + version % 3);
    for (unsigned i = 0; i < c->nbackends; i++)
        snprintf(c->backends[i], sizeof c->backends[i], "10.0.%u.%u:8080",
                 (unsigned)version, i + 1);
    c->readers_inside = 0;
}

/* Copy the current config, change it, publish the whole new one. */
static void update(void)
{
    GORT_FRAME;
    gort_rwmutex_lock(&mu);
    gort_defer(unlock, &mu);
    __atomic_store_n(&writer_busy, 1, __ATOMIC_RELAXED);
    const config *old = gort_atomic_value_load(&current); /* stable: we are
                                                             the only writer */
    config *next = malloc(sizeof *next);
    /* Copy the settings (Go's `next := *get()`); readers_inside is the
     * old config's own counter, which readers are changing: not copied. */
    memcpy(next->backends, old->backends, sizeof next->backends);
    fill(next, old->version + 1);
    sleep_ms(20); /* a slow rebuild: readers go on reading the old one */
    gort_atomic_value_store(&current, next); /* old is retired */
    snprintf(change_log[nchanges++], sizeof change_log[0],
             "v%" PRIu64 ": timeout %u ms, %u backends", next->version,
             next->timeout_ms, next->nbackends);
    __atomic_store_n(&writer_busy, 0, __ATOMIC_RELAXED);
}

int main(void)
{
    gort_atomic_value_init(&current, config_free);
    config *first = malloc(sizeof *first);
    memset(first, 0, sizeof *first);
    fill(first, 1);
    gort_atomic_value_store(&current, first);
    snprintf(change_log[nchanges++], sizeof change_log[0],
             "v1: timeout %u ms, %u backends", first->timeout_ms,
             first->nbackends);

    static reader_stats stats[NREADERS];
    gort_waitgroup_add(&readers_done, NREADERS);
    for (int i = 0; i < NREADERS; i++)
        gort_go(reader, &stats[i]);

    for (int i = 0; i < NUPDATES; i++) {
        sleep_ms(30);
        update();
        gort_rwmutex_rlock(&mu); /* a consistent look at the change log */
        printf("writer: published %s\n", change_log[nchanges - 1]);
        gort_rwmutex_runlock(&mu);
    }
    sleep_ms(30);
    __atomic_store_n(&stop_readers, 1, __ATOMIC_RELAXED);
    gort_waitgroup_wait(&readers_done);

    uint64_t bad = 0, total = 0;
    for (int i = 0; i < NREADERS; i++) {
        printf("reader %d: %" PRIu64 " reads, versions v%" PRIu64 "..v%" PRIu64
               ", %" PRIu64 " changes seen\n",
               i + 1, stats[i].reads, stats[i].first, stats[i].last,
               stats[i].changes);
        bad += stats[i].bad;
        total += stats[i].reads;
    }
    printf("reads: %" PRIu64 " in all, %" PRIu64
           " while the writer held the write lock\n",
           total, __atomic_load_n(&reads_during_write, __ATOMIC_RELAXED));

    gort_retire_barrier(); /* the replaced configs are destroyed by now */
    printf("shutdown:\n");
    gort_atomic_value_destroy(&current); /* retires the last one */
    gort_retire_barrier();
    uint64_t inside = __atomic_load_n(&destroyed_inside, __ATOMIC_RELAXED);
    uint64_t count = __atomic_load_n(&destroyed_count, __ATOMIC_RELAXED);
    printf("%" PRIu64 " configs destroyed, readers inside at destruction: %"
           PRIu64 "; inconsistent reads: %" PRIu64 "\n",
           count, inside, bad);
    return inside == 0 && bad == 0 && count == NUPDATES + 1 ? 0 : 1;
}
