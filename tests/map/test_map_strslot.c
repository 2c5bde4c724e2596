/*
 * Key slots of the copying string map (gort_map_new_str): keys of up to
 * 23 bytes live inline in their 24-byte slot, longer ones in a copy the
 * slot points to (src/map_internal.h, gort__strslot).  Every length on
 * both sides of the boundary, slots whose inline bytes look like the
 * other form, and the key an iterator produces (a pointer into the
 * bucket for an inline key) given back to set and delete, also while
 * the map grows, as Go code does with `m[k] = v` and `delete(m, k)`
 * inside `for k := range m`.
 */
#include "map_test.h"

#include <criterion/criterion.h>

#include <stdlib.h>

enum { MAXLEN = 40, VARIANTS = 4 };

/* Key (len, v): content that depends on the length, so that no key is a
 * prefix of another key of the set; variants differ in the last byte or
 * in the first one. */
static void make_key(char *out, size_t len, int v)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (char)('a' + (i * 5 + len * 3) % 26);
    if (len == 0)
        return;
    if (v & 1)
        out[len - 1] = (char)('0' + v);
    else
        out[0] = (char)('A' + v);
}

static int64_t key_value(size_t len, int v)
{
    return (int64_t)(len * 100 + (size_t)v + 1);
}

/* The value of the key of the set equal to (@k, @len), or 0. */
static int64_t value_of(const char *k, size_t len)
{
    char want[MAXLEN + 8];
    for (int v = 0; v < (len == 0 ? 1 : VARIANTS); v++) {
        make_key(want, len, v);
        if (memcmp(want, k, len) == 0)
            return key_value(len, v);
    }
    return 0;
}

Test(map_strslot, keys_of_every_length_round_trip_on_both_sides_of_23_bytes)
{
    for (int round = 0; round < 4; round++) {
        gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
        char buf[MAXLEN + 8];
        size_t copies = 0, live = 0;
        for (size_t len = 0; len <= MAXLEN; len++)
            for (int v = 0; v < (len == 0 ? 1 : VARIANTS); v++) {
                make_key(buf, len, v);
                int64_t *slot = gort_map_set_str(m, buf, len);
                cr_assert_eq(*slot, 0, "len %zu v %d: a new key", len, v);
                *slot = key_value(len, v);
                memset(buf, '#', sizeof buf); /* the map has its own bytes */
                if (len > 23)
                    copies += len;
                live++;
            }
        cr_assert_eq(gort_map_len(m), live);
        cr_assert(gort__map_verify(m));
        gort_map_info info;
        gort_map_stats(m, &info);
        cr_assert_eq(info.key_bytes, copies,
                     "copies only for keys of 24 bytes or more");

        /* Lookups from another address; a key one byte shorter is found
         * only if it is one of the set; one with its last byte changed
         * is absent. */
        for (size_t len = 0; len <= MAXLEN; len++)
            for (int v = 0; v < (len == 0 ? 1 : VARIANTS); v++) {
                make_key(buf, len, v);
                const int64_t *got = gort_map_get_str(m, buf, len);
                cr_assert_not_null(got, "len %zu v %d", len, v);
                cr_assert_eq(*got, key_value(len, v));
                cr_assert_eq(gort_map_set_str(m, buf, len), got,
                             "set of a present key returns its slot");
                if (len == 0)
                    continue;
                const int64_t *pre = gort_map_get_str(m, buf, len - 1);
                int64_t pre_want = value_of(buf, len - 1);
                cr_assert_eq(pre != NULL ? *pre : 0, pre_want,
                             "len %zu v %d: its prefix", len, v);
                buf[len - 1] = '~';
                cr_assert_null(gort_map_get_str(m, buf, len),
                               "len %zu v %d: another last byte", len, v);
            }
        cr_assert_eq(gort_map_len(m), live);

        /* Iteration produces each key with its bytes and length. */
        size_t seen = 0;
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        while (gort_map_iter_next(&it)) {
            size_t len = it.key_len;
            cr_assert_leq(len, MAXLEN);
            int64_t val = *(const int64_t *)it.val;
            cr_assert_eq((size_t)(val - 1) / 100, len);
            make_key(buf, len, (int)((val - 1) % 100));
            cr_assert(memcmp(it.key, buf, len) == 0, "key of length %zu", len);
            seen++;
        }
        cr_assert_eq(seen, live);

        /* Delete every other variant, then the rest: copies freed. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t len = 0; len <= MAXLEN; len++)
                for (int v = pass; v < (len == 0 ? 1 : VARIANTS); v += 2) {
                    make_key(buf, len, v);
                    cr_assert(gort_map_delete_str(m, buf, len),
                              "len %zu v %d", len, v);
                    cr_assert_null(gort_map_get_str(m, buf, len));
                    if (len > 23)
                        copies -= len;
                }
            cr_assert(gort__map_verify(m));
            gort_map_stats(m, &info);
            cr_assert_eq(info.key_bytes, copies);
        }
        cr_assert_eq(gort_map_len(m), 0);
        gort_map_free(m);
    }
}

/* An inline key's bytes are no string header: a 16-byte key whose first
 * word is the address of a 24-byte key and whose second word is 24 reads
 * as {pointer, length} of that key if the slot's form is not checked. */
Test(map_strslot, inline_bytes_that_look_like_a_pointer_and_length_are_a_key)
{
    static const char long_key[] = "twenty-four-bytes-long!!";
    cr_assert_eq(sizeof long_key - 1, 24);
    char lookalike[16];
    const char *p = long_key;
    size_t n = 24;
    memcpy(lookalike, &p, sizeof p);
    memcpy(lookalike + 8, &n, sizeof n);

    /* A map of one bucket compares every slot (no hash). */
    gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
    *(int64_t *)gort_map_set_str(m, lookalike, sizeof lookalike) = 1;
    cr_assert_null(gort_map_get_str(m, long_key, 24));
    cr_assert_not(gort_map_delete_str(m, long_key, 24));
    int64_t *v = gort_map_set_str(m, long_key, 24);
    cr_assert_eq(*v, 0, "the long key is a new key");
    *v = 2;
    cr_assert_eq(gort_map_len(m), 2);
    cr_assert(gort__map_verify(m));
    cr_assert_eq(*(const int64_t *)gort_map_get_str(m, lookalike, 16), 1);
    cr_assert_eq(*(const int64_t *)gort_map_get_str(m, long_key, 24), 2);
    cr_assert(gort_map_delete_str(m, long_key, 24));
    cr_assert_eq(*(const int64_t *)gort_map_get_str(m, lookalike, 16), 1);
    cr_assert(gort_map_delete_str(m, lookalike, 16));
    cr_assert_eq(gort_map_len(m), 0);
    gort_map_free(m);
}

/* The Go idiom: write the key an iteration produced back to the map.
 * For an inline key it.key points into a bucket; the write may evacuate
 * that bucket and free its array (a growth finishing) before it compares
 * keys, so the map must read its own copy of the key (ASan checks). */
static void rewrite_during_growth(size_t (*key)(char *, size_t, long),
                                  long n0, int delete_every)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
    char buf[64];
    for (long i = 0; i < n0; i++)
        *(int64_t *)gort_map_set_str(m, buf, key(buf, sizeof buf, i)) = i;
    gort_map_info info;
    gort_map_stats(m, &info);
    unsigned B0 = info.B;

    /* The iterator's array is kept for it; insert until a first growth
     * has finished and a second is under way, whose old array (the one
     * the first growth made) no iterator started on: it is freed when
     * the second growth finishes. */
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    cr_assert(gort_map_iter_next(&it));
    long n = n0;
    do {
        *(int64_t *)gort_map_set_str(m, buf, key(buf, sizeof buf, n)) = n;
        n++;
        gort_map_stats(m, &info);
        cr_assert_lt(n, n0 + 100000, "no second growth");
    } while (!(info.B == B0 + 2 && info.growing));

    /* Keys the iterator finds moved are looked up again, in the array
     * being evacuated: it.key then points there. */
    long writes = 0, deleted = 0;
    while (gort_map_iter_next(&it)) {
        char k[64];
        size_t klen = it.key_len;
        memcpy(k, it.key, klen);
        int64_t want = *(const int64_t *)it.val;
        if (delete_every != 0 && writes % delete_every == 0) {
            cr_assert(gort_map_delete_str(m, it.key, it.key_len));
            cr_assert_null(gort_map_get_str(m, k, klen));
            deleted++;
        } else {
            int64_t *v = gort_map_set_str(m, it.key, it.key_len);
            cr_assert_eq(*v, want, "set of the produced key finds it");
            *v = want + 1000000;
            cr_assert_eq(gort_map_get_str(m, k, klen), v);
        }
        writes++;
    }
    cr_assert_eq(gort_map_len(m), (size_t)(n - deleted));
    cr_assert(gort__map_verify(m));
    for (long i = 0; i < n; i++) {
        size_t klen = key(buf, sizeof buf, i);
        const int64_t *v = gort_map_get_str(m, buf, klen);
        if (v != NULL)
            cr_assert(*v == i || *v == i + 1000000);
    }
    gort_map_free(m);
}

Test(map_strslot, set_with_the_iterators_key_while_the_map_grows)
{
    for (long n0 = 9; n0 < 200; n0 += 7) {
        rewrite_during_growth(test_key, n0, 0);
        rewrite_during_growth(test_long_key, n0, 0);
    }
}

Test(map_strslot, delete_with_the_iterators_key_while_the_map_grows)
{
    for (long n0 = 9; n0 < 200; n0 += 7) {
        rewrite_during_growth(test_key, n0, 1);
        rewrite_during_growth(test_key, n0, 3);
        rewrite_during_growth(test_long_key, n0, 2);
    }
}

Test(map_strslot, set_and_delete_with_the_iterators_key_without_growth)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), 1000);
    char buf[64];
    for (long i = 0; i < 1000; i++) {
        size_t klen = i % 2 ? test_key(buf, sizeof buf, i)
                            : test_long_key(buf, sizeof buf, i);
        *(int64_t *)gort_map_set_str(m, buf, klen) = i;
    }
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    long seen = 0;
    while (gort_map_iter_next(&it)) {
        long v = *(const int64_t *)it.val;
        if (v % 3 == 0) {
            cr_assert(gort_map_delete_str(m, it.key, it.key_len));
        } else {
            int64_t *slot = gort_map_set_str(m, it.key, it.key_len);
            cr_assert_eq(*slot, v);
            *slot = -v;
        }
        seen++;
    }
    cr_assert_eq(seen, 1000);
    cr_assert_eq(gort_map_len(m), 1000 - 334);
    cr_assert(gort__map_verify(m));
    for (long i = 0; i < 1000; i++) {
        size_t klen = i % 2 ? test_key(buf, sizeof buf, i)
                            : test_long_key(buf, sizeof buf, i);
        const int64_t *v = gort_map_get_str(m, buf, klen);
        if (i % 3 == 0) {
            cr_assert_null(v);
        } else {
            cr_assert_not_null(v);
            cr_assert_eq(*v, -i);
        }
    }
    gort_map_free(m);
}

/* ===================================================================
 * Generic maps: the same idiom with fixed-size user keys.  Their slots
 * always hold the key bytes, so it.key always points into a bucket; the
 * write copies the key first (on the stack, or on the heap past 256
 * bytes: both sizes here).
 * =================================================================== */

typedef struct big_key {
    long id;
    unsigned char pad[300 - sizeof(long)];
} big_key;

/* Slots of 12-byte keys are 4-aligned: read ids with memcpy. */
static long key_id(const void *k)
{
    long id;
    memcpy(&id, k, sizeof id);
    return id;
}

static uint64_t id_hash(const void *k, uint64_t seed)
{
    uint64_t x = (uint64_t)key_id(k) ^ seed;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return x ^ (x >> 33);
}

static bool id_equal(const void *a, const void *b)
{
    return key_id(a) == key_id(b);
}

static void generic_rewrite_during_growth(size_t key_size, long n0,
                                          int delete_every)
{
    gort_map_type t = {key_size, sizeof(int64_t), id_hash, id_equal};
    gort_map *m = gort_map_new(&t, 0);
    big_key k;
    memset(&k, 0, sizeof k);
    for (long i = 0; i < n0; i++) {
        k.id = i;
        *(int64_t *)gort_map_set(m, &k) = i;
    }
    gort_map_info info;
    gort_map_stats(m, &info);
    unsigned B0 = info.B;
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    cr_assert(gort_map_iter_next(&it));
    long n = n0;
    do { /* as rewrite_during_growth: a second growth under way */
        k.id = n;
        *(int64_t *)gort_map_set(m, &k) = n;
        n++;
        gort_map_stats(m, &info);
        cr_assert_lt(n, n0 + 100000, "no second growth");
    } while (!(info.B == B0 + 2 && info.growing));
    long writes = 0, deleted = 0;
    while (gort_map_iter_next(&it)) {
        long id = key_id(it.key);
        int64_t want = *(const int64_t *)it.val;
        cr_assert_eq(want, id);
        k.id = id;
        if (delete_every != 0 && writes % delete_every == 0) {
            cr_assert(gort_map_delete(m, it.key));
            cr_assert_null(gort_map_get(m, &k));
            deleted++;
        } else {
            int64_t *v = gort_map_set(m, it.key);
            cr_assert_eq(*v, want, "set of the produced key finds it");
            *v = want + 1000000;
            cr_assert_eq(gort_map_get(m, &k), v);
        }
        writes++;
    }
    cr_assert_eq(gort_map_len(m), (size_t)(n - deleted));
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

Test(map_strslot, generic_writes_with_the_iterators_key_while_the_map_grows)
{
    for (long n0 = 9; n0 < 200; n0 += 7) {
        generic_rewrite_during_growth(sizeof(long) + 4, n0, 0);
        generic_rewrite_during_growth(sizeof(long) + 4, n0, 2);
        generic_rewrite_during_growth(sizeof(big_key), n0, 0);
        generic_rewrite_during_growth(sizeof(big_key), n0, 3);
    }
}
