/*
 * scn_map.c - scenarios nil-map-defer, iter-write-race and map-layout,
 * and their child parts.
 *
 * map-layout prints the private layout of struct gort_map and the bucket
 * offsets a map type gets, which only src/map_internal.h knows: the demo
 * includes that private header on purpose (it shows internals, as Go's
 * unsafe.Sizeof/Offsetof would).  User code must never do this; the
 * public API stops at gort_map_dump and gort_map_stats.
 */
#define _GNU_SOURCE /* src/runtime_internal.h reads ucontext registers */
#include "demo.h"

#include <gort/gort.h>

#include "map_internal.h" /* private: struct gort_map, bucket offsets */

#include <inttypes.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ===================================================================
 * nil-map-defer
 *
 *     var m map[string]int64              // nil: never made
 *
 *     func storeAnswer() {
 *         defer func() { m["answer"] = 42 }()
 *         fmt.Println("storeAnswer: returning")
 *     }
 * =================================================================== */

static gort_map *nil_map; /* var m map[string]int64: left NULL */

/* defer func() { m["answer"] = 42 }() */
static void write_nil_map(void *unused)
{
    (void)unused;
    printf("    deferred: m[\"answer\"] = 42\n");
    int64_t *v = gort_map_set_str(nil_map, "answer", 6);
    *v = 42; /* not reached: the set panics */
    printf("    deferred: the write succeeded (not Go's behaviour)\n");
}

static void store_answer(void)
{
    GORT_FRAME;
    gort_defer(write_nil_map, NULL);
    printf("    store_answer: returning; its deferred call runs now\n");
}

int child_nil_map_defer_crash(void)
{
    store_answer();
    printf("    main: store_answer returned (not Go's behaviour)\n");
    return 1;
}

/* defer func() { if r := recover(); r != nil { err = r.(error) } }() */
static void catch_map_error(void *errp)
{
    const gort_panic_info *p = gort_recover();
    if (p == NULL)
        return;
    const gort_error *e = gort_panic_error(p);
    printf("    deferred (outer): recover() -> \"%s\"\n",
           gort_panic_message(p));
    if (e == NULL)
        gort_repanic(p); /* not an error: panic(r) */
    *(const gort_error *volatile *)errp = e;
}

/* func saveAnswer() (err error) { defer ...recover...; storeAnswer(); return nil } */
static const gort_error *save_answer(void)
{
    const gort_error *volatile err = NULL;
    GORT_FRAME_RETURN(err);
    gort_defer(catch_map_error, (void *)&err);
    store_answer();
    printf("    save_answer: store_answer returned (not Go's behaviour)\n");
    return err;
}

int scenario_nil_map_defer(void)
{
    int fails = 0;
    gort_map_iter it;

    printf("  Reading a nil map is fine, as in Go:\n");
    gort_map_iter_init(&it, nil_map);
    bool produced = gort_map_iter_next(&it);
    printf("    len(m) = %zu, m[\"answer\"] -> %s, delete -> %s, "
           "range -> %s\n",
           gort_map_len(nil_map),
           gort_map_get_str(nil_map, "answer", 6) == NULL ? "absent" : "?",
           gort_map_delete_str(nil_map, "answer", 6) ? "true" : "false",
           produced ? "an entry" : "nothing");
    fails += demo_check(gort_map_len(nil_map) == 0 && !produced &&
                            gort_map_get_str(nil_map, "answer", 6) == NULL,
                        "len 0, get NULL, delete no-op, iteration empty");

    printf("\n  1. Written inside a deferred call, nobody recovers "
           "(child process):\n");
    fails += demo_run_child("nil-map-defer-crash");

    printf("\n  2. The same, with a deferred recover() in an outer frame "
           "(in-process):\n");
    const gort_error *err = save_answer();
    printf("    save_answer() -> err \"%s\" (runtime.Error: %s)\n",
           err != NULL ? gort_error_message(err) : "(nil)",
           gort_error_is_runtime(err) ? "yes" : "no");
    fails += demo_check(err == &gort_err_nil_map_write,
                        "err == &gort_err_nil_map_write");
    fails += demo_check(gort_error_is_runtime(err),
                        "gort_error_is_runtime(err): a runtime.Error");
    fails += demo_check(gort_recover() == NULL, "no panic left afterwards");
    return fails;
}

/* ===================================================================
 * iter-write-race (child part)
 *
 *     m := make(map[uint64]int64)           // 64 entries
 *     go func() { for i := 0; ; i++ { m[uint64(i%64)] = int64(i) } }()
 *     for { for k, v := range m { _, _ = k, v } }
 * =================================================================== */

enum { RACE_KEYS = 64, RACE_SECONDS = 20 };

static gort_map *race_map;
static int writer_started; /* relaxed atomic */

static void race_writer(void *unused)
{
    (void)unused;
    __atomic_store_n(&writer_started, 1, __ATOMIC_RELAXED);
    for (uint64_t i = 0;; i++) {
        /* Updates existing keys only: the map never grows. */
        int64_t *v = gort_map_set_u64(race_map, i % RACE_KEYS);
        *v = (int64_t)i;
    }
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int child_iter_write_race(void)
{
    race_map = gort_map_new_u64(sizeof(int64_t), RACE_KEYS);
    for (uint64_t k = 0; k < RACE_KEYS; k++)
        *(int64_t *)gort_map_set_u64(race_map, k) = 0;
    printf("main: %zu entries; a goroutine now updates them while main "
           "iterates\n",
           gort_map_len(race_map));
    gort_go(race_writer, NULL);
    while (!__atomic_load_n(&writer_started, __ATOMIC_RELAXED)) {
    }
    double deadline = mono_s() + RACE_SECONDS;
    unsigned long rounds = 0;
    int64_t sum = 0;
    while (mono_s() < deadline) {
        for (int r = 0; r < 1000; r++, rounds++) {
            gort_map_iter it;
            gort_map_iter_init(&it, race_map);
            while (gort_map_iter_next(&it))
                sum += *(const int64_t *)it.val;
        }
    }
    printf("main: %lu iterations in %d s, the write was never detected "
           "(sum %" PRId64 ")\n",
           rounds, RACE_SECONDS, sum);
    return 1; /* detection is best effort, but must happen here */
}

int scenario_iter_write_race(void)
{
    return demo_run_child("iter-write-race-crash");
}

/* ===================================================================
 * map-layout
 * =================================================================== */

/* A generic key type of 6 bytes (no padding): stored with a 6-byte
 * stride at 2-byte alignment, the natural alignment of its size. */
typedef struct endpoint {
    uint16_t net, host, port;
} endpoint;

_Static_assert(sizeof(endpoint) == 6, "endpoint is 6 bytes");

/* Mixes the map's seed in (murmur3's finalizer). */
static uint64_t endpoint_hash(const void *key, uint64_t seed)
{
    const endpoint *e = key;
    uint64_t x = ((uint64_t)e->net << 32 | (uint64_t)e->host << 16 | e->port);
    x ^= seed;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static bool endpoint_equal(const void *a, const void *b)
{
    const endpoint *x = a, *y = b;
    return x->net == y->net && x->host == y->host && x->port == y->port;
}

static void print_stats(const char *what, const gort_map *m)
{
    gort_map_info in;
    gort_map_stats(m, &in);
    printf("    gort_map_stats(%s): count=%zu B=%u buckets=%zu "
           "overflow_buckets=%zu\n"
           "      growing=%s%s old_buckets=%zu evacuated=%zu load=%.3f "
           "avg_chain=%.3f max_chain=%zu\n"
           "      bytes=%zu bucket_size=%zu key_bytes=%zu retained=%zu "
           "(%zu bytes) deferred_keys=%zu live_iterations=%zu\n",
           what, in.count, in.B, in.buckets, in.overflow_buckets,
           in.growing ? "yes" : "no", in.same_size_grow ? " (same size)" : "",
           in.old_buckets, in.evacuated, in.load, in.avg_chain, in.max_chain,
           in.bytes, in.bucket_size, in.key_bytes, in.retained_arrays,
           in.retained_bytes, in.deferred_keys, in.live_iterations);
}

#define FIELD(type, field)                                                     \
    printf("      %-14s offset %3zu  size %2zu\n", #field,                     \
           offsetof(type, field), sizeof(((type *)0)->field))

/* The bucket layout a map gets (private fields; gort_map_dump prints the
 * same line).  Returns the bucket size. */
static size_t print_bucket_layout(const char *go_type, const gort_map *m)
{
    gort_map_info in;
    gort_map_stats(m, &in);
    printf("    %-33s bucket %3zu bytes: tophash[8]@0  keys[8]@%-3u x%-2u "
           "values[8]@%-3u x%-2u overflow@%zu\n",
           go_type, in.bucket_size, m->keys_off, m->key_stride, m->val_off,
           m->val_stride, in.bucket_size - sizeof(void *));
    return in.bucket_size;
}

int scenario_map_layout(void)
{
    int fails = 0;
    char key[16];

    printf("  1. map[string]int64 (copied keys), 13 entries, \"k3\" "
           "deleted:\n\n");
    gort_map *sm = gort_map_new_str(sizeof(int64_t), 0);
    for (int i = 0; i < 13; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        *(int64_t *)gort_map_set_str(sm, key, (size_t)n) = i;
    }
    gort_map_delete_str(sm, "k3", 2);
    fflush(stdout);
    gort_map_dump(sm, stdout);
    print_stats("sm", sm);
    fails += demo_check(gort_map_len(sm) == 12, "len(sm) == 12");

    printf("\n  2. map[uint64]int64, filled until a doubling is in "
           "progress:\n\n");
    gort_map *um = gort_map_new_u64(sizeof(int64_t), 0);
    gort_map_info in;
    uint64_t n = 0;
    do {
        *(int64_t *)gort_map_set_u64(um, n) = (int64_t)(n * n);
        n++;
        gort_map_stats(um, &in);
    } while (!(in.growing && in.B >= 3) && n < 100000);
    printf("    growth started by insertion #%" PRIu64
           " (over 6.5 entries per bucket)\n\n",
           n);
    gort_map_dump(um, stdout);
    print_stats("um", um);
    fails += demo_check(in.growing && in.evacuated < in.old_buckets,
                        "the dump shows a growth in progress (some old "
                        "buckets not yet evacuated)");
    printf("\n    each write evacuates its old bucket and one more "
           "(growWork); more writes:\n");
    while (in.growing && n < 100000) {
        *(int64_t *)gort_map_set_u64(um, n) = (int64_t)(n * n);
        n++;
        gort_map_stats(um, &in);
    }
    print_stats("um", um);
    fails += demo_check(!in.growing && gort_map_len(um) == n,
                        "the growth finished after a few writes, no entry "
                        "lost");
    bool all_there = true;
    for (uint64_t k = 0; k < n; k++) {
        const int64_t *v = gort_map_get_u64(um, k);
        all_there = all_there && v != NULL && *v == (int64_t)(k * k);
    }
    fails += demo_check(all_there, "every key maps to its value");

    printf("\n  3. Sizes and offsets (unsafe.Sizeof / unsafe.Offsetof):\n");
    printf("    gort_map_iter: sizeof %zu, alignof %zu (a stack value; "
           "public fields:)\n",
           sizeof(gort_map_iter), alignof(gort_map_iter));
    FIELD(gort_map_iter, key);
    FIELD(gort_map_iter, key_len);
    FIELD(gort_map_iter, val);
    printf("      (private fields follow, from offset %zu)\n",
           offsetof(gort_map_iter, map_));
    printf("    gort_map_type: sizeof %zu; gort_map_info: sizeof %zu\n",
           sizeof(gort_map_type), sizeof(gort_map_info));
    printf("    struct gort_map (private, src/map_internal.h): sizeof %zu, "
           "alignof %zu\n",
           sizeof(struct gort_map), alignof(struct gort_map));
    FIELD(struct gort_map, count);
    FIELD(struct gort_map, buckets);
    FIELD(struct gort_map, oldbuckets);
    FIELD(struct gort_map, hash0);
    FIELD(struct gort_map, bucket_size);
    FIELD(struct gort_map, B);
    FIELD(struct gort_map, flags);
    FIELD(struct gort_map, noverflow);
    FIELD(struct gort_map, nevacuate);
    FIELD(struct gort_map, race_probe);

    printf("\n    Bucket layout per map type (Go's bmap):\n");
    gort_map *ref = gort_map_new_strref(sizeof(int64_t), 0);
    gort_map *set = gort_map_new_u64(0, 0);
    gort_map *big = gort_map_new_u64(24, 0);
    const gort_map_type ep_type = {sizeof(endpoint), sizeof(uint32_t),
                                   endpoint_hash, endpoint_equal};
    gort_map *ep = gort_map_new(&ep_type, 0);
    print_bucket_layout("map[string]int64 (copied keys)", sm);
    size_t s_str = print_bucket_layout("map[string]int64 (strref)", ref);
    size_t s_u64 = print_bucket_layout("map[uint64]int64", um);
    print_bucket_layout("map[uint64]struct{}", set);
    print_bucket_layout("map[uint64][24]byte", big);
    print_bucket_layout("map[endpoint]uint32 (6-byte key)", ep);
    fails += demo_check(s_str == 208 && s_u64 == 144,
                        "map[string]int64 (strref) buckets are 208 bytes "
                        "and map[uint64]int64 144, as in Go");
    fails += demo_check(big->val_off % 16 == 0,
                        "values of 16 bytes or more are 16-aligned");

    /* A slot pointer is usable as the C type (alignment promise). */
    endpoint e = {10, 7, 443};
    *(uint32_t *)gort_map_set(ep, &e) = 1;
    const uint32_t *hit = gort_map_get(ep, &e);
    fails += demo_check(hit != NULL && *hit == 1 &&
                            ((uintptr_t)hit % 8) == 0,
                        "generic map: get(set(k)) works, slot 8-aligned");

    gort_map_free(ep);
    gort_map_free(big);
    gort_map_free(set);
    gort_map_free(ref);
    gort_map_free(um);
    gort_map_free(sm);
    return fails;
}
