/*
 * snapmap_flush_cost - what a publication costs, against map size.
 *
 *     snapmap_flush_cost [KEYS...]        default: 10000 1000000
 *
 * For each size N: a snapshot map and a plain gort_map hold N keys (the
 * 16 hex characters of WORKLOAD.md's mix64(i ^ 0x5EED), int64 values).
 * Then, BATCHES times, a batch of 1000 updates of random existing keys is
 *   - queued and published with gort_snapmap_flush (left-right: applied
 *     to the idle copy, published, grace period, replayed), and
 *   - applied as a copy-on-write map would: a new map with hint N, every
 *     entry copied, the batch applied, the old map freed (what a
 *     sync/atomic.Value holding a map does per batch).
 * Prints the mean and the best time per batch of each, and the cost of a
 * snapshot-map read (view + lookup) next to a plain lookup, in thread CPU
 * time (no reader runs, so a grace period costs no waiting).  Checks that
 * both structures end with the same contents (exit 1 otherwise): ctest
 * runs it with small sizes as a validate program; the figures in
 * docs/design/snapmap.md come from the defaults.
 *
 *     snapmap_flush_cost --writer SECONDS READERS
 *
 * compares the two places a full batch can be published from, with one
 * writer updating random keys of a 100,000-key map and READERS goroutines
 * looking keys up through a view each: the flusher goroutine (what
 * gort_snapmap does: batch size 1000) and the writer itself (batch size
 * unlimited, the writer flushes after every 1000 updates).  Prints the
 * writer's updates/s and the readers' lookups/s of each.
 */
#include "check.h"

#include <gort/map.h>
#include <gort/snapmap.h>
#include <gort/sync.h>

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 1000, KEYLEN = 16 };

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t splitmix(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ull;
    return mix64(*state);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The calling thread's CPU time: the single-threaded figures do not
 * depend on what else the machine runs (a shared 2-core VM). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void make_key(char *k, uint64_t i)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = mix64(i ^ 0x5EED);
    for (int j = 0; j < KEYLEN; j++)
        k[j] = hex[(x >> (60 - 4 * j)) & 15];
}

/* The naive copy-on-write step: copy everything, apply the batch. */
static gort_map *cow_publish(gort_map *old, size_t n, const char *keys,
                             const uint32_t *idx, const int64_t *vals)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), n);
    gort_map_iter it;
    for (gort_map_iter_init(&it, old); gort_map_iter_next(&it);)
        memcpy(gort_map_set_str(m, it.key, it.key_len), it.val, sizeof(int64_t));
    for (int j = 0; j < BATCH; j++)
        *(int64_t *)gort_map_set_str(m, keys + (size_t)idx[j] * KEYLEN,
                                     KEYLEN) = vals[j];
    gort_map_free(old);
    return m;
}

static void run(size_t n, int batches, int lookups)
{
    char *keys = malloc(n * KEYLEN);
    CHECK(keys != NULL);
    for (size_t i = 0; i < n; i++)
        make_key(keys + i * KEYLEN, i);

    gort_snapmap *s = gort_snapmap_new_str(sizeof(int64_t));
    gort_snapmap_set_batch_size(s, SIZE_MAX); /* flushes only */
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_map *cow = gort_map_new_str(sizeof(int64_t), 0);
    for (size_t i = 0; i < n; i++) {
        int64_t v = (int64_t)i;
        gort_snapmap_set_str(s, keys + i * KEYLEN, KEYLEN, &v);
        *(int64_t *)gort_map_set_str(cow, keys + i * KEYLEN, KEYLEN) = v;
        if (i % 100000 == 99999)
            gort_snapmap_flush(s);
    }
    gort_snapmap_flush(s);

    uint32_t idx[BATCH];
    int64_t vals[BATCH];
    uint64_t rng = 42;
    double lr_sum = 0, lr_best = 1e9, cow_sum = 0, cow_best = 1e9;
    for (int b = 0; b < batches; b++) {
        for (int j = 0; j < BATCH; j++) {
            idx[j] = (uint32_t)(splitmix(&rng) % n);
            vals[j] = (int64_t)(splitmix(&rng) >> 1);
        }
        /* Queueing is the writers' cost, not the publication's. */
        for (int j = 0; j < BATCH; j++)
            gort_snapmap_set_str(s, keys + (size_t)idx[j] * KEYLEN, KEYLEN,
                                 &vals[j]);
        double t0 = cpu_s();
        gort_snapmap_flush(s);
        double t1 = cpu_s();
        cow = cow_publish(cow, n, keys, idx, vals);
        double t2 = cpu_s();
        lr_sum += t1 - t0;
        cow_sum += t2 - t1;
        if (t1 - t0 < lr_best)
            lr_best = t1 - t0;
        if (t2 - t1 < cow_best)
            cow_best = t2 - t1;
    }

    /* Same contents. */
    const gort_map *v = gort_snapmap_read_begin(s);
    CHECK_EQ_LONG(gort_map_len(v), n);
    CHECK_EQ_LONG(gort_map_len(cow), n);
    for (size_t i = 0; i < n; i++) {
        const int64_t *a = gort_map_get_str(v, keys + i * KEYLEN, KEYLEN);
        const int64_t *c = gort_map_get_str(cow, keys + i * KEYLEN, KEYLEN);
        CHECK(a != NULL && c != NULL && *a == *c);
    }
    gort_snapmap_read_end(s, v);

    /* Read cost: a view per lookup vs a plain lookup, random hits. */
    uint64_t r = 7, sum_view = 0, sum_plain = 0;
    double t0 = cpu_s();
    for (int i = 0; i < lookups; i++) {
        const char *k = keys + (splitmix(&r) % n) * KEYLEN;
        const gort_map *view = gort_snapmap_read_begin(s);
        sum_view += (uint64_t)*(const int64_t *)gort_map_get_str(view, k, KEYLEN);
        gort_snapmap_read_end(s, view);
    }
    double t1 = cpu_s();
    r = 7;
    for (int i = 0; i < lookups; i++) {
        const char *k = keys + (splitmix(&r) % n) * KEYLEN;
        sum_plain += (uint64_t)*(const int64_t *)gort_map_get_str(cow, k, KEYLEN);
    }
    double t2 = cpu_s();
    CHECK(sum_view == sum_plain);
    /* The same copy without a view per lookup: separates the cost of the
     * view from the layout of the map it shows. */
    r = 7;
    uint64_t sum_copy = 0;
    const gort_map *held = gort_snapmap_read_begin(s);
    for (int i = 0; i < lookups; i++) {
        const char *k = keys + (splitmix(&r) % n) * KEYLEN;
        sum_copy += (uint64_t)*(const int64_t *)gort_map_get_str(held, k, KEYLEN);
    }
    gort_snapmap_read_end(s, held);
    double t3 = cpu_s();
    CHECK(sum_copy == sum_plain);

    printf("%9zu keys: flush of %d ops: left-right %8.1f us (best %8.1f), "
           "copy-on-write %9.1f us (best %9.1f), ratio %.1fx\n",
           n, BATCH, lr_sum / batches * 1e6, lr_best * 1e6,
           cow_sum / batches * 1e6, cow_best * 1e6, cow_sum / lr_sum);
    printf("%9zu keys: lookup with a view each %.1f ns, in one held view "
           "%.1f ns, in the copy-on-write map %.1f ns\n",
           n, (t1 - t0) / lookups * 1e9, (t3 - t2) / lookups * 1e9,
           (t2 - t1) / lookups * 1e9);
    gort_snapmap_free(s);
    gort_map_free(cow);
    free(keys);
}

/* ===================================================================
 * --writer: who publishes a full batch
 * =================================================================== */

enum { WKEYS = 100000 };

typedef struct wctx {
    gort_snapmap *s;
    const char *keys;
    atomic_int stop;
    gort_waitgroup wg;
    atomic_long lookups;
} wctx;

static void wreader(void *arg)
{
    wctx *c = arg;
    uint64_t r = (uint64_t)gort_goid() * 1000003u;
    long n = 0;
    uint64_t sum = 0;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++) {
            const char *k = c->keys + (splitmix(&r) % WKEYS) * KEYLEN;
            const gort_map *view = gort_snapmap_read_begin(c->s);
            const int64_t *v = gort_map_get_str(view, k, KEYLEN);
            sum += v != NULL ? (uint64_t)*v : 1;
            gort_snapmap_read_end(c->s, view);
        }
        n += 1000;
    }
    CHECK(sum != 0);
    atomic_fetch_add(&c->lookups, n);
    gort_waitgroup_done(&c->wg);
}

static void writer_run(const char *keys, double seconds, int readers,
                       bool inline_flush)
{
    wctx c = {.keys = keys};
    c.s = gort_snapmap_new_str(sizeof(int64_t));
    gort_snapmap_set_batch_size(c.s, inline_flush ? SIZE_MAX : 1000);
    for (size_t i = 0; i < WKEYS; i++) {
        int64_t v = (int64_t)i;
        gort_snapmap_set_str(c.s, keys + i * KEYLEN, KEYLEN, &v);
    }
    gort_snapmap_flush(c.s);
    gort_waitgroup_add(&c.wg, readers);
    for (int i = 0; i < readers; i++)
        gort_go(wreader, &c);
    uint64_t r = 99;
    long updates = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (now_s() < end) {
        for (int i = 0; i < 1000; i++) {
            int64_t v = (int64_t)(splitmix(&r) >> 1);
            gort_snapmap_set_str(c.s, keys + (splitmix(&r) % WKEYS) * KEYLEN,
                                 KEYLEN, &v);
        }
        if (inline_flush)
            gort_snapmap_flush(c.s);
        updates += 1000;
    }
    double t1 = now_s();
    atomic_store(&c.stop, 1);
    gort_waitgroup_wait(&c.wg);
    gort_snapmap_info info;
    gort_snapmap_stats(c.s, &info);
    printf("%-28s writer %6.2f M updates/s, readers %6.2f M lookups/s, "
           "%llu versions, %llu writer waits\n",
           inline_flush ? "writer flushes every 1000:" : "flusher goroutine (1000):",
           updates / (t1 - t0) / 1e6,
           (double)atomic_load(&c.lookups) / (t1 - t0) / 1e6,
           (unsigned long long)info.version,
           (unsigned long long)info.writer_waits);
    gort_snapmap_free(c.s);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--writer") == 0) {
        char *keys = malloc((size_t)WKEYS * KEYLEN);
        CHECK(keys != NULL);
        for (size_t i = 0; i < WKEYS; i++)
            make_key(keys + i * KEYLEN, i);
        double seconds = atof(argv[2]);
        int readers = atoi(argv[3]);
        for (int rep = 0; rep < 2; rep++) {
            writer_run(keys, seconds, readers, false);
            writer_run(keys, seconds, readers, true);
        }
        free(keys);
        return 0;
    }
    if (argc < 2) {
        run(10000, 50, 2000000);
        run(1000000, 10, 2000000);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        run((size_t)strtoull(argv[i], NULL, 10), 5, 100000);
    return 0;
}
