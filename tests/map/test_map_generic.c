/*
 * Generic maps (gort_map_new): big keys and values, key alignment,
 * zero-size keys, user callbacks that panic in the middle of a write,
 * and same-size growth (Go's tooManyOverflowBuckets) with a hash the test
 * controls.
 */
#include "map_test.h"

#include <criterion/criterion.h>

#include <stdlib.h>

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------ */
/* 200-byte keys, 300-byte values                                      */
/* ------------------------------------------------------------------ */

typedef struct big_key {
    char bytes[200];
} big_key;

static uint64_t big_hash(const void *k, uint64_t seed)
{
    uint64_t h = seed;
    const big_key *b = k;
    for (int i = 0; i < 200; i += 8) {
        uint64_t w;
        memcpy(&w, b->bytes + i, 8);
        h = mix(h ^ w);
    }
    return h;
}

static bool big_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(big_key)) == 0;
}

static void big_make(big_key *k, int i)
{
    memset(k, 'x', sizeof *k);
    snprintf(k->bytes + 100, 20, "%d", i);
}

Test(map_generic, big_keys_and_values_are_stored_inline)
{
    gort_map_type t = {sizeof(big_key), 300, big_hash, big_equal};
    gort_map *m = gort_map_new(&t, 0);
    big_key k;
    for (int i = 0; i < 2000; i++) {
        big_make(&k, i);
        char *v = gort_map_set(m, &k);
        cr_assert_eq((uintptr_t)v % 16, 0);
        memset(v, i & 0xff, 300);
    }
    cr_assert(gort__map_verify(m));
    for (int i = 0; i < 2000; i++) {
        big_make(&k, i);
        const unsigned char *v = gort_map_get(m, &k);
        cr_assert_not_null(v);
        cr_assert_eq(v[0], i & 0xff);
        cr_assert_eq(v[299], i & 0xff);
    }
    gort_map_iter it;
    int n = 0;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        cr_assert_eq(it.key_len, sizeof(big_key));
        const big_key *kk = it.key;
        cr_assert_eq(kk->bytes[0], 'x');
        n++;
    }
    cr_assert_eq(n, 2000);
    for (int i = 0; i < 2000; i += 2) {
        big_make(&k, i);
        cr_assert(gort_map_delete(m, &k));
    }
    cr_assert_eq(gort_map_len(m), 1000);
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* Key alignment: the callbacks may read the key as its C type         */
/* ------------------------------------------------------------------ */

typedef struct wide_key {
    __int128 v; /* 16-byte alignment */
} wide_key;

static uint64_t wide_hash(const void *k, uint64_t seed)
{
    cr_assert_eq((uintptr_t)k % 16, 0, "key slots keep the key's alignment");
    const wide_key *w = k;
    return mix((uint64_t)w->v ^ seed) ^ mix((uint64_t)(w->v >> 64) + seed);
}

static bool wide_equal(const void *a, const void *b)
{
    const wide_key *x = a, *y = b;
    return x->v == y->v;
}

Test(map_generic, sixteen_byte_keys_are_sixteen_byte_aligned)
{
    gort_map_type t = {sizeof(wide_key), 4, wide_hash, wide_equal};
    gort_map *m = gort_map_new(&t, 0);
    for (int i = 0; i < 1000; i++) {
        wide_key k = {(__int128)i << 70 | i};
        gort_map_set(m, &k);
    }
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

/* Go's map[struct{}]V: every key is the same key. */
static uint64_t empty_hash(const void *k, uint64_t seed)
{
    (void)k;
    return mix(seed);
}

static bool empty_equal(const void *a, const void *b)
{
    (void)a;
    (void)b;
    return true;
}

Test(map_generic, zero_size_keys_form_one_entry)
{
    gort_map_type t = {0, sizeof(int), empty_hash, empty_equal};
    gort_map *m = gort_map_new(&t, 4);
    char dummy;
    *(int *)gort_map_set(m, &dummy) = 0;
    *(int *)gort_map_set(m, &dummy) = 1;
    cr_assert_eq(gort_map_len(m), 1);
    cr_assert_eq(*(const int *)gort_map_get(m, &dummy), 1);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    cr_assert(gort_map_iter_next(&it));
    cr_assert_eq(it.key_len, 0);
    cr_assert_not_null(it.key);
    cr_assert_not(gort_map_iter_next(&it));
    /* A zero-size key may be NULL (nothing is read from it; the write's
     * key copy copied from NULL: UBSan's report before the fix). */
    *(int *)gort_map_set(m, NULL) = 2;
    cr_assert_eq(gort_map_len(m), 1);
    cr_assert_eq(*(const int *)gort_map_get(m, NULL), 2);
    cr_assert(gort_map_delete(m, NULL));
    cr_assert_eq(gort_map_len(m), 0);
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* Callbacks that panic mid-write                                      */
/* ------------------------------------------------------------------ */

static int trap = -1; /* callback calls left before a panic; -1: never */
static long calls;

static void trap_tick(void)
{
    calls++;
    if (trap >= 0 && trap-- == 0)
        gort_panic("user callback failed");
}

static uint64_t trap_hash(const void *k, uint64_t seed)
{
    trap_tick();
    uint64_t v;
    memcpy(&v, k, 8);
    return mix(v ^ seed);
}

/* All keys in a few chains: long searches, many equal calls. */
static uint64_t trap_hash_bad(const void *k, uint64_t seed)
{
    trap_tick();
    uint64_t v;
    memcpy(&v, k, 8);
    return mix((v % 3) ^ seed);
}

static bool trap_equal(const void *a, const void *b)
{
    trap_tick();
    return memcmp(a, b, 8) == 0;
}

typedef struct trapped_op {
    gort_map *m;
    uint64_t key;
    int op; /* 0 set, 1 delete, 2 get */
} trapped_op;

static void run_trapped(void *arg)
{
    trapped_op *t = arg;
    if (t->op == 0)
        *(uint64_t *)gort_map_set(t->m, &t->key) = t->key;
    else if (t->op == 1)
        gort_map_delete(t->m, &t->key);
    else
        gort_map_get(t->m, &t->key);
}

static void panicking_callbacks_leave_the_map_consistent(
    uint64_t (*hash)(const void *, uint64_t))
{
    gort_map_type t = {8, 8, hash, trap_equal};
    gort_map *m = gort_map_new(&t, 0);
    static uint8_t present[4000];
    memset(present, 0, sizeof present);
    size_t count = 0;
    int panics = 0;
    for (uint64_t i = 0; i < 6000; i++) {
        trapped_op op = {m, mix(i) % 4000, (int)(i % 5 == 4)};
        if (i % 7 == 3)
            op.op = 2;
        trap = (int)(mix(i * 31) % 6);
        caught_panic c;
        call_catching(run_trapped, &op, &c);
        trap = -1;
        if (c.panicked) {
            panics++;
            cr_assert_str_eq(c.msg, "user callback failed");
        } else if (op.op == 0 && !present[op.key]) {
            present[op.key] = 1;
            count++;
        } else if (op.op == 1 && present[op.key]) {
            present[op.key] = 0;
            count--;
        }
        cr_assert(gort__map_verify(m), "after op %llu (panic %d)",
                  (unsigned long long)i, c.panicked);
        cr_assert_eq(gort_map_len(m), count);
    }
    cr_assert_gt(panics, 100);
    for (uint64_t k = 0; k < 4000; k++) {
        const uint64_t *v = gort_map_get(m, &k);
        cr_assert_eq(v != NULL, present[k] != 0, "key %llu", (unsigned long long)k);
        if (v != NULL)
            cr_assert_eq(*v, k);
    }
    gort_map_free(m);
}

Test(map_generic, a_hash_or_equal_that_panics_mid_write_leaves_the_map_consistent)
{
    panicking_callbacks_leave_the_map_consistent(trap_hash);
}

Test(map_generic, panics_in_long_chains_and_evacuations_leave_the_map_consistent)
{
    panicking_callbacks_leave_the_map_consistent(trap_hash_bad);
}

/* ------------------------------------------------------------------ */
/* Same-size growth                                                    */
/* ------------------------------------------------------------------ */

/* The key is its hash: the test picks buckets and tophash bytes. */
static uint64_t id_hash(const void *k, uint64_t seed)
{
    (void)seed;
    uint64_t v;
    memcpy(&v, k, 8);
    return v;
}

static bool id_equal(const void *a, const void *b)
{
    return memcmp(a, b, 8) == 0;
}

Test(map_generic, overflow_buckets_left_by_churn_trigger_a_same_size_growth)
{
    gort_map_type t = {8, 8, id_hash, id_equal};
    gort_map *m = gort_map_new(&t, 40); /* B = 3: 8 buckets */
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.B, 3);
    /* Give each bucket an overflow bucket, keeping the count low: nine
     * keys into bucket b, then delete eight of them. */
    uint64_t serial = 0;
    for (uint64_t b = 0; b < 8; b++) {
        uint64_t keys[9];
        for (int j = 0; j < 9; j++) {
            keys[j] = (0xA0ull + serial++) << 56 | b;
            *(uint64_t *)gort_map_set(m, &keys[j]) = keys[j];
        }
        for (int j = 0; j < 8; j++)
            cr_assert(gort_map_delete(m, &keys[j]));
    }
    gort_map_stats(m, &info);
    cr_assert_eq(info.overflow_buckets, 8);
    cr_assert_not(info.growing);
    /* Start an iteration, then insert a new key: same-size growth. */
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    uint64_t k = 0xF0ull << 56 | 3;
    gort_map_set(m, &k);
    gort_map_stats(m, &info);
    cr_assert(info.growing);
    cr_assert(info.same_size_grow);
    cr_assert_eq(info.B, 3);
    cr_assert(gort__map_verify(m));
    int n = 0;
    while (gort_map_iter_next(&it)) {
        uint64_t kk = *(const uint64_t *)it.key;
        cr_assert_eq(*(const uint64_t *)it.val, kk);
        n++;
        uint64_t extra = (0x10ull + (uint64_t)n) << 56 | (uint64_t)n;
        *(uint64_t *)gort_map_set(m, &extra) = extra; /* finish the growth */
    }
    cr_assert_geq(n, 8);
    gort_map_stats(m, &info);
    cr_assert_not(info.growing);
    cr_assert_lt(info.overflow_buckets, 8, "the sparse chains were compacted");
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}
