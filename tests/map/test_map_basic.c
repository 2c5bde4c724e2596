/*
 * Basic map behaviour: string and uint64 maps, nil-map semantics, bad
 * arguments, value slots (zeroing, alignment, zero-size values), size
 * hints, clear, statistics and the dump.
 */
#include "map_test.h"

#include <criterion/criterion.h>
#include <malloc.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* String maps                                                         */
/* ------------------------------------------------------------------ */

static void fill_and_check(gort_map *m, long n)
{
    char buf[32];
    size_t klen;
    for (long i = 0; i < n; i++) {
        klen = test_key(buf, sizeof buf, i);
            const char *k = buf;
        int64_t *v = gort_map_set_str(m, k, klen);
        cr_assert_eq(*v, 0, "a new slot is zero");
        *v = i;
    }
    cr_assert_eq(gort_map_len(m), (size_t)n);
    cr_assert(gort__map_verify(m));
    for (long i = 0; i < n; i++) {
        klen = test_key(buf, sizeof buf, i);
            const char *k = buf;
        const int64_t *v = gort_map_get_str(m, k, klen);
        cr_assert_not_null(v, "key %ld", i);
        cr_assert_eq(*v, i);
    }
    for (long i = n; i < 2 * n; i++) {
        klen = test_key(buf, sizeof buf, i);
            const char *k = buf;
        cr_assert_null(gort_map_get_str(m, k, klen));
    }
}

Test(map_str, copied_keys_are_found_after_the_caller_reuses_its_buffer)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
    fill_and_check(m, 5000);
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.key_bytes, 0, "keys of up to 23 bytes live in the "
                                    "buckets: no copies");
    /* Longer keys: copies the map owns, out of line. */
    char buf[64];
    size_t total = 0;
    for (long i = 0; i < 1000; i++) {
        size_t klen = test_long_key(buf, sizeof buf, i);
        *(int64_t *)gort_map_set_str(m, buf, klen) = -i;
        memset(buf, 'x', sizeof buf);
        total += klen;
    }
    gort_map_stats(m, &info);
    cr_assert_eq(info.key_bytes, total, "the map owns its key copies");
    for (long i = 0; i < 1000; i++) {
        size_t klen = test_long_key(buf, sizeof buf, i);
        const int64_t *v = gort_map_get_str(m, buf, klen);
        cr_assert_not_null(v);
        cr_assert_eq(*v, -i);
    }
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

Test(map_str, borrowed_keys_point_to_the_callers_bytes)
{
    gort_map *m = gort_map_new_strref(sizeof(int64_t), 0);
    static const char long_key[] =
        "a much longer key that needs memcmp beyond thirty-two bytes";
    static const char *keys[] = {"alpha", "beta", "gamma", "", long_key};
    for (int i = 0; i < 5; i++)
        *(int64_t *)gort_map_set_str(m, keys[i], strlen(keys[i])) = i + 1;
    gort_map_iter it;
    int seen = 0;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        int64_t v = *(const int64_t *)it.val;
        cr_assert(v >= 1 && v <= 5);
        if (v != 4) /* the empty key may point anywhere non-NULL */
            cr_assert_eq(it.key, keys[v - 1], "no copy: the caller's bytes");
        cr_assert_eq(it.key_len, strlen(keys[v - 1]));
        seen++;
    }
    cr_assert_eq(seen, 5);
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.key_bytes, 0);
    gort_map_free(m);
}

Test(map_str, set_of_an_existing_key_returns_its_slot)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
    *(int64_t *)gort_map_set_str(m, "x", 1) = 7;
    int64_t *v = gort_map_set_str(m, "x", 1);
    cr_assert_eq(*v, 7);
    cr_assert_eq(gort_map_len(m), 1);
    gort_map_free(m);
}

Test(map_str, delete_reports_presence_and_frees_the_copy)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
    *(int64_t *)gort_map_set_str(m, "hello", 5) = 1;
    cr_assert(gort_map_delete_str(m, "hello", 5));
    cr_assert_not(gort_map_delete_str(m, "hello", 5));
    cr_assert_null(gort_map_get_str(m, "hello", 5));
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.key_bytes, 0);
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

Test(map_str, empty_key_and_null_pointer_with_length_zero)
{
    gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
    *(int64_t *)gort_map_set_str(m, NULL, 0) = 3;
    const int64_t *v = gort_map_get_str(m, "", 0);
    cr_assert_not_null(v);
    cr_assert_eq(*v, 3);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    cr_assert(gort_map_iter_next(&it));
    cr_assert_not_null(it.key, "an empty key is a non-NULL pointer");
    cr_assert_eq(it.key_len, 0);
    cr_assert(gort_map_delete_str(m, NULL, 0));
    gort_map_free(m);
}

Test(map_str, keys_with_a_common_prefix_and_equal_lengths_are_distinct)
{
    gort_map *m = gort_map_new_strref(sizeof(int64_t), 0);
    static char keys[64][48];
    for (int i = 0; i < 64; i++) {
        memset(keys[i], 'p', 47);
        keys[i][46] = (char)('A' + i % 26); /* differ only near the end */
        keys[i][45] = (char)('A' + i / 26);
        keys[i][47] = '\0';
        *(int64_t *)gort_map_set_str(m, keys[i], 47) = i;
    }
    for (int len = 1; len <= 47; len++)
        for (int i = 0; i < 64; i++) {
            char copy[48];
            memcpy(copy, keys[i], 48);
            const int64_t *v = gort_map_get_str(m, copy, (size_t)len);
            if (len == 47) {
                cr_assert_not_null(v);
                cr_assert_eq(*v, i);
            } else {
                cr_assert_null(v);
            }
        }
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* uint64 maps                                                         */
/* ------------------------------------------------------------------ */

/* The lookup fast path hashes keys of 4 to 32 bytes with XXH3 keyed by
 * words precomputed from the seed; inserts use XXH3 itself.  Keys of
 * every length, in maps with fresh seeds and again after a clear (a new
 * seed), must be found, and absent keys of the same lengths not. */
static void length_sweep_key(char *out, size_t len, int variant, int round)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (char)('a' + (i * 7 + len + (size_t)round) % 26);
    if (len > 0)
        out[0] = (char)('A' + variant);
}

Test(map_str, every_key_length_is_found_by_lookups_with_fresh_seeds)
{
    enum { MAXLEN = 64, VARIANTS = 3 };
    static char store[MAXLEN + 1][VARIANTS][MAXLEN + 1]; /* borrowed keys */
    char probe[MAXLEN + 1];
    for (int round = 0; round < 20; round++) {
        bool copied = round % 2 != 0;
        gort_map *m = copied ? gort_map_new_str(8, 0) : gort_map_new_strref(8, 0);
        for (int pass = 0; pass < 2; pass++) {
            for (size_t len = 0; len <= MAXLEN; len++)
                for (int v = 0; v < VARIANTS; v++) {
                    char *k = store[len][v];
                    length_sweep_key(k, len, v, round);
                    *(int64_t *)gort_map_set_str(m, k, len) =
                        (int64_t)(len * 10 + (size_t)v);
                }
            cr_assert(gort__map_verify(m));
            for (size_t len = 0; len <= MAXLEN; len++)
                for (int v = 0; v < VARIANTS; v++) {
                    length_sweep_key(probe, len, v, round);
                    const int64_t *got = gort_map_get_str(m, probe, len);
                    cr_assert_not_null(got, "length %zu variant %d", len, v);
                    cr_assert_eq(*got, len == 0 ? (int64_t)(VARIANTS - 1)
                                                : (int64_t)(len * 10 + (size_t)v));
                    if (len == 0)
                        continue;
                    probe[0] = (char)('X' + v);
                    cr_assert_null(gort_map_get_str(m, probe, len),
                                   "absent key of length %zu found", len);
                }
            if (!copied)
                break;       /* borrowed keys: one pass */
            if (pass == 0)
                gort_map_clear(m); /* a new seed, then filled again */
        }
        gort_map_free(m);
    }
}

Test(map_u64, keys_including_zero_and_max_round_trip)
{
    gort_map *m = gort_map_new_u64(sizeof(uint64_t), 0);
    uint64_t keys[] = {0, 1, UINT64_MAX, UINT64_MAX - 1, 1ull << 63, 42};
    for (size_t i = 0; i < 6; i++)
        *(uint64_t *)gort_map_set_u64(m, keys[i]) = ~keys[i];
    for (uint64_t k = 100; k < 20000; k++)
        *(uint64_t *)gort_map_set_u64(m, k * 0x9E3779B97F4A7C15ull) = k;
    cr_assert(gort__map_verify(m));
    for (size_t i = 0; i < 6; i++) {
        const uint64_t *v = gort_map_get_u64(m, keys[i]);
        cr_assert_not_null(v);
        cr_assert_eq(*v, ~keys[i]);
    }
    cr_assert_null(gort_map_get_u64(m, 2));
    uint64_t k = 0;
    cr_assert_not_null(gort_map_get(m, &k), "generic calls accept u64 maps");
    cr_assert(gort_map_delete(m, &k));
    cr_assert_null(gort_map_get_u64(m, 0));
    cr_assert(gort_map_delete_u64(m, UINT64_MAX));
    cr_assert_not(gort_map_delete_u64(m, UINT64_MAX));
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* Nil maps and bad arguments                                          */
/* ------------------------------------------------------------------ */

Test(map_nil, reads_deletes_len_clear_and_iteration_are_noops)
{
    cr_assert_null(gort_map_get_str(NULL, "k", 1));
    cr_assert_null(gort_map_get_u64(NULL, 1));
    cr_assert_null(gort_map_get(NULL, "k"));
    cr_assert_not(gort_map_delete_str(NULL, "k", 1));
    cr_assert_not(gort_map_delete_u64(NULL, 1));
    cr_assert_not(gort_map_delete(NULL, "k"));
    cr_assert_eq(gort_map_len(NULL), 0);
    gort_map_clear(NULL);
    gort_map_free(NULL);
    gort_map_iter it;
    gort_map_iter_init(&it, NULL);
    cr_assert_not(gort_map_iter_next(&it));
    cr_assert_not(gort_map_iter_next(&it));
    gort_map_info info;
    memset(&info, 0xff, sizeof info);
    gort_map_stats(NULL, &info);
    cr_assert_eq(info.count, 0);
    cr_assert_eq(info.buckets, 0);
    cr_assert(gort__map_verify(NULL));
}

static void set_nil_str(void *arg)
{
    (void)arg;
    gort_map_set_str(NULL, "k", 1);
}

static void set_nil_u64(void *arg)
{
    (void)arg;
    gort_map_set_u64(NULL, 1);
}

static void set_nil_generic(void *arg)
{
    (void)arg;
    gort_map_set(NULL, "k");
}

Test(map_nil, set_panics_with_the_recoverable_runtime_error)
{
    void (*fns[])(void *) = {set_nil_str, set_nil_u64, set_nil_generic};
    for (int i = 0; i < 3; i++) {
        caught_panic c;
        call_catching(fns[i], NULL, &c);
        cr_assert(c.panicked);
        cr_assert_eq(c.err, &gort_err_nil_map_write);
        cr_assert(gort_error_is_runtime(c.err));
        cr_assert_str_eq(c.msg, "assignment to entry in nil map");
    }
}

/* The design notes' first scenario: a map left NULL, written inside a
 * deferred call; the panic is recovered by an earlier deferred call. */
static gort_map *volatile left_nil;
static volatile int recovered_in_defer;

static void write_nil_map(void *arg)
{
    (void)arg;
    *(int *)gort_map_set_str(left_nil, "count", 5) += 1;
}

static void recover_it(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    if (p != NULL && gort_panic_error(p) == &gort_err_nil_map_write)
        recovered_in_defer = 1;
}

static void nil_map_in_deferred_call(void)
{
    GORT_FRAME;
    gort_defer(recover_it, NULL);
    gort_defer(write_nil_map, NULL);
}

Test(map_nil, a_write_in_a_deferred_call_is_recovered_by_an_earlier_one)
{
    nil_map_in_deferred_call();
    cr_assert_eq(recovered_in_defer, 1);
}

static gort_map *arg_map;

static void get_null_key(void *arg)
{
    (void)arg;
    gort_map_get_str(arg_map, NULL, 5);
}

static void set_null_key(void *arg)
{
    (void)arg;
    gort_map_set_str(arg_map, NULL, 3);
}

static void u64_on_str_map(void *arg)
{
    (void)arg;
    gort_map_set_u64(arg_map, 1);
}

static void generic_on_str_map(void *arg)
{
    (void)arg;
    gort_map_get(arg_map, "x");
}

static void stats_null_info(void *arg)
{
    (void)arg;
    gort_map_stats(arg_map, NULL);
}

static void iter_init_null(void *arg)
{
    (void)arg;
    gort_map_iter_init(NULL, arg_map);
}

/* Found by review: UBSan's "null pointer passed as argument" before. */
Test(map_args, null_out_arguments_panic_with_a_message_naming_them)
{
    arg_map = NULL;
    caught_panic c;
    call_catching(stats_null_info, NULL, &c);
    cr_assert(c.panicked);
    cr_assert_str_eq(c.msg, "gort_map_stats: NULL info");
    call_catching(iter_init_null, NULL, &c);
    cr_assert(c.panicked);
    cr_assert_str_eq(c.msg, "gort_map_iter_init: NULL iterator");
    /* SPEC.md names the stats field "overflow": both names work. */
    arg_map = gort_map_new_u64(8, 0);
    for (uint64_t k = 0; k < 200; k++)
        gort_map_set_u64(arg_map, k);
    gort_map_info info;
    gort_map_stats(arg_map, &info);
    cr_assert_eq(info.overflow, info.overflow_buckets);
    gort_map_free(arg_map);
}

Test(map_args, bad_arguments_panic_with_a_message_naming_them)
{
    arg_map = gort_map_new_str(8, 0);
    gort_map_set_str(arg_map, "k", 1);
    caught_panic c;
    call_catching(get_null_key, NULL, &c);
    cr_assert(c.panicked);
    cr_assert_str_eq(c.msg, "gort_map_get_str: NULL key with length 5");
    call_catching(set_null_key, NULL, &c);
    cr_assert_str_eq(c.msg, "gort_map_set_str: NULL key with length 3");
    call_catching(u64_on_str_map, NULL, &c);
    cr_assert_str_eq(c.msg, "gort_map_set_u64: the map has string (copied) keys");
    call_catching(generic_on_str_map, NULL, &c);
    cr_assert_str_eq(c.msg, "gort_map_get: the map has string (copied) keys");
    cr_assert(gort__map_verify(arg_map), "nothing changed");
    cr_assert_eq(gort_map_len(arg_map), 1);
    gort_map_free(arg_map);
}

static void new_huge_value(void *arg)
{
    (void)arg;
    gort_map_new_u64((size_t)1 << 40, 0);
}

static void new_without_hash(void *arg)
{
    (void)arg;
    gort_map_type t = {8, 8, NULL, NULL};
    gort_map_new(&t, 0);
}

Test(map_args, impossible_types_panic_at_creation)
{
    caught_panic c;
    call_catching(new_huge_value, NULL, &c);
    cr_assert(c.panicked);
    cr_assert(strstr(c.msg, "gort_map_new_u64: key size 8 and value size") != NULL,
              "%s", c.msg);
    call_catching(new_without_hash, NULL, &c);
    cr_assert_str_eq(c.msg, "gort_map_new: type without hash function");
}

/* ------------------------------------------------------------------ */
/* Value slots                                                         */
/* ------------------------------------------------------------------ */

Test(map_slots, zero_size_values_give_non_null_slots_for_present_keys)
{
    gort_map *m = gort_map_new_u64(0, 0);
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_not_null(gort_map_set_u64(m, i));
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_not_null(gort_map_get_u64(m, i));
    cr_assert_null(gort_map_get_u64(m, 1000));
    gort_map_iter it;
    size_t n = 0;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        cr_assert_not_null(it.val);
        n++;
    }
    cr_assert_eq(n, 1000);
    gort_map_free(m);
}

Test(map_slots, slots_are_aligned_to_8_or_to_16_from_16_bytes)
{
    static char keys[300][16]; /* borrowed by the strref maps */
    for (int i = 0; i < 300; i++)
        snprintf(keys[i], sizeof keys[i], "key-%d", i);
    size_t sizes[] = {1, 4, 8, 12, 16, 20, 24, 33, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t align = sizes[s] >= 16 ? 16 : 8;
        gort_map *maps[3] = {gort_map_new_str(sizes[s], 0),
                             gort_map_new_u64(sizes[s], 0),
                             gort_map_new_strref(sizes[s], 0)};
        for (int k = 0; k < 3; k++) {
            for (uint64_t i = 0; i < 300; i++) {
                void *v = k == 1 ? gort_map_set_u64(maps[k], i)
                                 : gort_map_set_str(maps[k], keys[i],
                                                    strlen(keys[i]));
                cr_assert_eq((uintptr_t)v % align, 0, "val_size %zu", sizes[s]);
                memset(v, 0xAB, sizes[s]);
            }
            cr_assert(gort__map_verify(maps[k]));
            gort_map_free(maps[k]);
        }
    }
}

/* Go's issue 25936 (TestIncrementAfterDelete*): a slot reused after a
 * delete is zero. */
Test(map_slots, a_slot_reused_after_delete_is_zero)
{
    gort_map *m = gort_map_new_u64(24, 0);
    memset(gort_map_set_u64(m, 12), 0x5A, 24);
    cr_assert(gort_map_delete_u64(m, 12));
    const uint8_t *v = gort_map_set_u64(m, 12);
    for (int i = 0; i < 24; i++)
        cr_assert_eq(v[i], 0);
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* Hints, growth, stats                                                */
/* ------------------------------------------------------------------ */

Test(map_hint, no_growth_until_the_hint_is_reached)
{
    size_t hints[] = {0, 1, 8, 9, 13, 14, 26, 100, 1000, 100000};
    for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++) {
        gort_map *m = gort_map_new_u64(8, hints[h]);
        gort_map_info info;
        gort_map_stats(m, &info);
        unsigned B0 = info.B;
        for (uint64_t i = 0; i < hints[h]; i++)
            gort_map_set_u64(m, i);
        gort_map_stats(m, &info);
        cr_assert_eq(info.B, B0, "hint %zu: grew from B=%u to %u", hints[h], B0,
                     info.B);
        cr_assert_not(info.growing);
        /* And the hint is not oversized: half of it would not fit. */
        if (hints[h] > 8)
            cr_assert_gt(hints[h], 13u * ((size_t)1 << B0) / 4);
        gort_map_free(m);
    }
}

Test(map_hint, sizes_follow_go_make_map_buckets)
{
    /* TestMapBuckets: hint -> buckets. */
    size_t hint[] = {0, 1, 8, 9, 13, 14, 26, 27};
    size_t want[] = {1, 1, 1, 2, 2, 4, 4, 8};
    for (int i = 0; i < 8; i++) {
        gort_map *m = gort_map_new_str(8, hint[i]);
        gort_map_info info;
        gort_map_stats(m, &info);
        cr_assert_eq(info.buckets, want[i], "hint %zu", hint[i]);
        gort_map_free(m);
    }
}

/* Whether malloc is glibc's own (sanitizers bring their allocators,
 * whose mallinfo2 counts nothing). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GLIBC_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GLIBC_MALLOC 0
#endif
#endif
#ifndef GLIBC_MALLOC
#define GLIBC_MALLOC 1
#endif

Test(map_hint, a_big_array_takes_no_more_pages_than_gos)
{
    /* make(map[string]int64, 1e6): Go allocates 2^18 + 2^14 buckets of
     * 208 bytes, a whole number of pages.  gort's array holds one
     * preallocated overflow bucket less, so that glibc's chunk header
     * fits in the same pages (map.c, fit_to_pages). */
    const size_t bucket = 8 + 8 * 16 + 8 * 8 + 8;
    const size_t go_bytes = (((size_t)1 << 18) + ((size_t)1 << 14)) * bucket;
    struct mallinfo2 before = mallinfo2();
    gort_map *m = gort_map_new_strref(sizeof(int64_t), 1000000);
    struct mallinfo2 after = mallinfo2();
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.B, 18);
    cr_assert_eq(info.bucket_size, bucket);
    /* The array, and the header (under 1 KiB). */
    cr_assert(info.bytes >= go_bytes - bucket &&
                  info.bytes < go_bytes - bucket + 1024,
              "bytes %zu", info.bytes);
    if (GLIBC_MALLOC)
        cr_assert_eq(after.hblkhd - before.hblkhd, go_bytes,
                     "mmapped %zu bytes for Go's %zu",
                     after.hblkhd - before.hblkhd, go_bytes);
    /* Overflow buckets beyond the preallocated ones still come. */
    char key[64];
    static char keys[200000][24];
    for (long i = 0; i < 200000; i++) {
        size_t n = test_key(keys[i], sizeof keys[i], i);
        *(int64_t *)gort_map_set_str(m, keys[i], n) = i;
    }
    for (long i = 0; i < 200000; i += 997) {
        size_t n = test_key(key, sizeof key, i);
        const int64_t *v = gort_map_get_str(m, key, n);
        cr_assert(v != NULL && *v == i);
    }
    cr_assert(gort__map_verify(m));
    gort_map_free(m);

    /* A smaller array whose size is not page-aligned keeps Go's count
     * or more: B = 10 (1024 + 64 buckets, 221 KiB). */
    m = gort_map_new_strref(sizeof(int64_t), 6000);
    gort_map_stats(m, &info);
    cr_assert_eq(info.B, 10);
    cr_assert_geq(info.bytes, (size_t)(1024 + 64) * bucket);
    gort_map_free(m);
}

/* Go's B for a map that has had @n entries inserted: growth starts when
 * adding an entry would exceed 6.5 per bucket (overLoadFactor). */
static unsigned go_B_after_inserts(size_t n)
{
    unsigned B = 0;
    while (n > 8 && n > 13 * (((size_t)1 << B) / 2))
        B++;
    return B;
}

Test(map_grow, every_kind_grows_at_gos_load_factor)
{
    /* Inserts through every write path (the strref fast path included)
     * start growths exactly when Go's mapassign does. */
    size_t ns[] = {8, 9, 13, 14, 27, 52, 53, 105, 833, 1000, 1665, 5000};
    char keys[5000][24];
    for (int kind = 0; kind < 3; kind++) {
        for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
            gort_map *m = kind == 0   ? gort_map_new_str(8, 0)
                          : kind == 1 ? gort_map_new_strref(8, 0)
                                      : gort_map_new_u64(8, 0);
            for (size_t i = 0; i < ns[t]; i++) {
                size_t n = test_key(keys[i], sizeof keys[i], (long)i);
                if (kind == 2)
                    gort_map_set_u64(m, i);
                else
                    gort_map_set_str(m, keys[i], n);
            }
            gort_map_info info;
            gort_map_stats(m, &info);
            cr_assert_eq(info.count, ns[t]);
            cr_assert_eq(info.B, go_B_after_inserts(ns[t]),
                         "kind %d, %zu inserts: B %u, Go's %u", kind, ns[t],
                         info.B, go_B_after_inserts(ns[t]));
            cr_assert(gort__map_verify(m));
            gort_map_free(m);
        }
    }
}

Test(map_grow, churn_in_a_borrowed_key_map_starts_same_size_growths)
{
    /* 48 live keys in 8 buckets, one new key and one deleted per step:
     * full chains get overflow buckets that deletes do not give back,
     * until there are as many as buckets (Go's tooManyOverflowBuckets)
     * and the next new key starts a same-size growth.  Most of these
     * writes take the strref fast paths. */
    static char keys[20000][24];
    gort_map *m = gort_map_new_strref(sizeof(int64_t), 52);
    size_t growths = 0;
    bool was_growing = false;
    for (long i = 0; i < 20000; i++) {
        size_t n = test_key(keys[i], sizeof keys[i], i);
        *(int64_t *)gort_map_set_str(m, keys[i], n) = i;
        if (i >= 48)
            cr_assert(gort_map_delete_str(m, keys[i - 48],
                                          strlen(keys[i - 48])));
        gort_map_info info;
        gort_map_stats(m, &info);
        cr_assert_eq(info.B, 3, "step %ld", i);
        if (info.growing && !was_growing) {
            cr_assert(info.same_size_grow);
            growths++;
        }
        was_growing = info.growing;
        cr_assert(gort__map_verify(m), "step %ld", i);
    }
    cr_assert_gt(growths, 10, "same-size growths: %zu", growths);
    for (long i = 20000 - 48; i < 20000; i++) {
        const int64_t *v = gort_map_get_str(m, keys[i], strlen(keys[i]));
        cr_assert(v != NULL && *v == i);
    }
    gort_map_free(m);
}

/* The hash0= field of gort_map_dump's header. */
static unsigned long long dumped_seed(const gort_map *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gort_map_dump(m, f);
    fclose(f);
    const char *p = strstr(text, "hash0=");
    cr_assert_not_null(p, "%s", text);
    unsigned long long seed = strtoull(p + 6, NULL, 0);
    free(text);
    return seed;
}

/* A fork child must not hand out the seeds left in the forking thread's
 * pool: its maps and the parent's would hash alike (found by review: the
 * next maps of both processes had the same seeds). */
Test(map_seed, a_fork_child_and_its_parent_get_different_seeds)
{
    gort_map_free(gort_map_new_u64(8, 0)); /* fills this thread's pool */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    unsigned long long mine[4];
    for (int i = 0; i < 4; i++) {
        gort_map *m = gort_map_new_u64(8, 0);
        mine[i] = dumped_seed(m);
        gort_map_free(m);
    }
    if (pid == 0) {
        ssize_t w = write(fds[1], mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine ? 0 : 1);
    }
    unsigned long long child[4];
    cr_assert_eq(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_neq(mine[i], child[j], "seed %d of the parent is "
                          "seed %d of the child", i, j);
    close(fds[0]);
    close(fds[1]);
}

Test(map_delete, a_map_emptied_by_deletes_gets_a_new_seed)
{
    /* Go's mapdelete: when count drops to 0, h.hash0 = fastrand() (go
     * issue 25237), whichever path the last delete takes. */
    char keys[40][24];
    for (int kind = 0; kind < 3; kind++) {
        gort_map *m = kind == 0   ? gort_map_new_str(8, 0)
                      : kind == 1 ? gort_map_new_strref(8, 0)
                                  : gort_map_new_u64(8, 0);
        for (int round = 0; round < 20; round++) {
            for (long i = 0; i < 40; i++) {
                size_t n = test_key(keys[i], sizeof keys[i], i);
                if (kind == 2)
                    gort_map_set_u64(m, (uint64_t)i);
                else
                    gort_map_set_str(m, keys[i], n);
            }
            unsigned long long before = dumped_seed(m);
            for (long i = 0; i < 40; i++) {
                bool found =
                    kind == 2 ? gort_map_delete_u64(m, (uint64_t)i)
                              : gort_map_delete_str(m, keys[i], strlen(keys[i]));
                cr_assert(found, "kind %d key %ld", kind, i);
                if (i < 39)
                    cr_assert_eq(dumped_seed(m), before, "kind %d", kind);
            }
            cr_assert_eq(gort_map_len(m), 0);
            cr_assert_neq(dumped_seed(m), before, "kind %d round %d", kind,
                          round);
            cr_assert(gort__map_verify(m));
        }
        gort_map_free(m);
    }
}

Test(map_grow, growth_is_incremental_and_finishes)
{
    gort_map *m = gort_map_new_u64(8, 0);
    bool saw_growing = false;
    for (uint64_t i = 0; i < 20000; i++) {
        gort_map_set_u64(m, i);
        gort_map_info info;
        if (i % 97 == 0) {
            gort_map_stats(m, &info);
            if (info.growing) {
                saw_growing = true;
                cr_assert_lt(info.evacuated, info.old_buckets);
            }
            cr_assert(gort__map_verify(m));
        }
    }
    cr_assert(saw_growing);
    for (uint64_t i = 0; i < 20000; i++)
        cr_assert_not_null(gort_map_get_u64(m, i));
    gort_map_free(m);
}

Test(map_stats, statistics_describe_the_map)
{
    gort_map *m = gort_map_new_u64(8, 0);
    for (uint64_t i = 0; i < 1000; i++)
        gort_map_set_u64(m, i);
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.count, 1000);
    cr_assert_eq(info.buckets, (size_t)1 << info.B);
    cr_assert_eq(info.bucket_size, 8 + 64 + 64 + 8);
    cr_assert(info.load > 0.3 && info.load <= 6.5 / 8);
    cr_assert_geq(info.avg_chain, 1.0);
    cr_assert_geq(info.max_chain, 1);
    cr_assert_geq(info.bytes, info.buckets * info.bucket_size);
    cr_assert_eq(info.retained_arrays, 0, "never iterated: nothing kept");
    gort_map_free(m);
}

Test(map_dump, dump_prints_header_buckets_and_growth)
{
    gort_map *m = gort_map_new_str(8, 0);
    for (int i = 0; i < 40; i++) {
        char buf[32];
        gort_map_set_str(m, buf, test_key(buf, sizeof buf, i));
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gort_map_dump(m, f);
    gort_map_dump(NULL, f);
    fclose(f);
    cr_assert(strstr(text, "count=40") != NULL, "%s", text);
    cr_assert(strstr(text, "kind=string (copied)") != NULL);
    cr_assert(strstr(text, "x24") != NULL, "24-byte key slots: %s", text);
    cr_assert(strstr(text, "key slots: 40 inline") != NULL, "%s", text);
    cr_assert(strstr(text, "growth:") != NULL);
    cr_assert(strstr(text, "[0]") != NULL);
    cr_assert(strstr(text, "(nil map)") != NULL);
    free(text);
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* clear                                                               */
/* ------------------------------------------------------------------ */

Test(map_clear, clear_empties_keeps_the_buckets_and_the_map_stays_usable)
{
    gort_map *m = gort_map_new_str(8, 0);
    fill_and_check(m, 3000);
    gort_map_info before, after;
    gort_map_stats(m, &before);
    gort_map_clear(m);
    gort_map_stats(m, &after);
    cr_assert_eq(gort_map_len(m), 0);
    cr_assert_eq(after.B, before.B, "Go 1.19 mapclear keeps the array");
    cr_assert_eq(after.overflow_buckets, 0);
    cr_assert_eq(after.key_bytes, 0);
    cr_assert(gort__map_verify(m));
    char buf[32];
    cr_assert_null(gort_map_get_str(m, buf, test_key(buf, sizeof buf, 1)));
    fill_and_check(m, 3000);
    gort_map_clear(m);
    gort_map_clear(m);
    gort_map_free(m);
}

Test(map_clear, clear_during_a_growth_drops_the_old_array)
{
    gort_map *m = gort_map_new_u64(8, 0);
    uint64_t i = 0;
    gort_map_info info;
    do {
        gort_map_set_u64(m, i++);
        gort_map_stats(m, &info);
    } while (!info.growing || i < 100);
    gort_map_clear(m);
    gort_map_stats(m, &info);
    cr_assert_not(info.growing);
    cr_assert(gort__map_verify(m));
    gort_map_set_u64(m, 5);
    cr_assert_eq(gort_map_len(m), 1);
    gort_map_free(m);
}

/* ------------------------------------------------------------------ */
/* keys that are prefixes of each other, in one bucket and tophash     */
/* ------------------------------------------------------------------ */

#define XXH_INLINE_ALL
#include <xxhash.h>

static uint8_t go_tophash(uint64_t h)
{
    uint8_t top = (uint8_t)(h >> 56);
    return top < 5 ? (uint8_t)(top + 5) : top;
}

Test(map_str, keys_that_extend_each_other_are_distinct_in_one_tophash)
{
    /* p and p + "z" with the same bucket and tophash: the first candidate
     * slot of one is the other's, so only the length (an inline key's tag
     * byte) tells them apart; word compares of the shorter length see
     * equal bytes.  Found for the map's own seed (read from the dump),
     * with XXH3 as the map hashes (section 4 of docs/design/map.md). */
    for (int kind = 0; kind < 2; kind++) {
        static const size_t plens[] = {4, 7, 8, 15, 16, 22, 23, 31};
        for (size_t pi = 0; pi < sizeof plens / sizeof plens[0]; pi++) {
            size_t plen = plens[pi];
            for (int order = 0; order < 2; order++) {
                gort_map *m = kind == 0 ? gort_map_new_str(8, 10)
                                        : gort_map_new_strref(8, 10);
                gort_map_info info;
                gort_map_stats(m, &info);
                cr_assert_eq(info.B, 1);
                uint64_t seed = dumped_seed(m);
                static char p[40], q[40];
                for (long i = 0;; i++) {
                    snprintf(p, sizeof p, "%0*ld", (int)plen, i);
                    memcpy(q, p, plen);
                    q[plen] = 'z';
                    uint64_t hp = XXH3_64bits_withSeed(p, plen, seed);
                    uint64_t hq = XXH3_64bits_withSeed(q, plen + 1, seed);
                    if ((hp & 1) == (hq & 1) && go_tophash(hp) == go_tophash(hq))
                        break;
                }
                const char *first = order == 0 ? p : q;
                const char *second = order == 0 ? q : p;
                size_t flen = order == 0 ? plen : plen + 1;
                size_t slen = order == 0 ? plen + 1 : plen;
                *(int64_t *)gort_map_set_str(m, first, flen) = 1;
                *(int64_t *)gort_map_set_str(m, second, slen) = 2;
                cr_assert_eq(gort_map_len(m), 2, "kind %d, %zu bytes", kind,
                             plen);
                const int64_t *v = gort_map_get_str(m, first, flen);
                cr_assert(v != NULL && *v == 1);
                v = gort_map_get_str(m, second, slen);
                cr_assert(v != NULL && *v == 2);
                /* Two more entries, so the deletes below are not the
                 * last ones (which take the general path). */
                gort_map_set_str(m, "other-1", 7);
                gort_map_set_str(m, "other-2", 7);
                cr_assert(gort_map_delete_str(m, second, slen));
                cr_assert_not(gort_map_delete_str(m, second, slen));
                v = gort_map_get_str(m, first, flen);
                cr_assert(v != NULL && *v == 1, "kind %d, %zu bytes", kind,
                          plen);
                cr_assert(gort__map_verify(m));
                gort_map_free(m);
            }
        }
    }
}
