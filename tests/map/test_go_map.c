/*
 * Ports of Go 1.19 runtime/map_test.go (rewritten in C; one test per Go
 * test, named after it).  Not ported: NaN keys (C keys compare with the
 * user's equal, which must be reflexive), interface and
 * reflect cases, compiler-specific cases (operator assignment, escape
 * analysis, map literals, allocation counts of string conversions).
 */
#include "map_test.h"

#include <gort/sync.h>

#include <criterion/criterion.h>

#include <stdlib.h>
#include <math.h>

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* map[int]int: a u64 map of int64 values. */
static void set_int(gort_map *m, int64_t k, int64_t v)
{
    *(int64_t *)gort_map_set_u64(m, (uint64_t)k) = v;
}

/* TestIterGrowAndDelete */
Test(go_map, map_iter_grow_and_delete)
{
    gort_map *m = gort_map_new_u64(8, 4);
    for (int64_t i = 0; i < 100; i++)
        set_int(m, i, i);
    bool growflag = true;
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        int64_t k = *(const int64_t *)it.key;
        if (growflag) {
            for (int64_t i = 100; i < 1000; i++) /* grow the table */
                set_int(m, i, i);
            for (int64_t i = 1; i < 1000; i += 2) /* delete all odd keys */
                gort_map_delete_u64(m, (uint64_t)i);
            growflag = false;
        } else {
            cr_assert_eq(k & 1, 0, "odd value returned");
        }
    }
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

/* TestIterGrowWithGC: old bucket arrays are not freed while an iterator
 * still uses them (in C: kept until clear/free, see docs/design/map.md). */
Test(go_map, map_iter_grow_with_gc)
{
    gort_map *m = gort_map_new_u64(8, 4);
    for (int64_t i = 0; i < 8; i++)
        set_int(m, i, i);
    for (int64_t i = 8; i < 16; i++) /* m[i] += i */
        *(int64_t *)gort_map_set_u64(m, (uint64_t)i) += i;
    bool growflag = true;
    unsigned bitmask = 0;
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        int64_t k = *(const int64_t *)it.key;
        if (k < 16)
            bitmask |= 1u << k;
        if (growflag) {
            for (int64_t i = 100; i < 1000; i++)
                set_int(m, i, i);
            growflag = false;
        }
    }
    cr_assert_eq(bitmask, (1u << 16) - 1, "missing key %#x", bitmask);
    gort_map_free(m);
}

/* TestConcurrentReadsAfterGrowth: readers (lookups and iterations) of a
 * map that just grew, with no writer: no false "concurrent map read and
 * map write", and race-free under TSan (readers never write the map). */
typedef struct reader_arg {
    gort_map *m;
    int64_t gs;
    bool iterate;
    gort_waitgroup *wg;
} reader_arg;

static void reader(void *p)
{
    reader_arg *a = p;
    if (a->iterate) {
        gort_map_iter it;
        gort_map_iter_init(&it, a->m);
        while (gort_map_iter_next(&it)) {
        }
    } else {
        for (int64_t k = 0; k < a->gs; k++)
            (void)gort_map_get_u64(a->m, (uint64_t)k);
    }
    gort_waitgroup_done(a->wg);
}

Test(go_map, map_concurrent_reads_after_growth)
{
    enum { LOOPS = 2, STEPS = 100, READERS = 4 };
    for (int loop = 0; loop < LOOPS; loop++) {
        gort_map *m = gort_map_new_u64(8, 0);
        for (int64_t gs = 0; gs < STEPS; gs++) {
            set_int(m, gs, gs);
            gort_waitgroup wg = {0};
            reader_arg args[2 * READERS];
            gort_waitgroup_add(&wg, 2 * READERS);
            for (int r = 0; r < 2 * READERS; r++) {
                args[r] = (reader_arg){m, gs, r % 2 == 0, &wg};
                gort_go(reader, &args[r]);
            }
            gort_waitgroup_wait(&wg);
        }
        cr_assert(gort__map_verify(m));
        gort_map_free(m);
    }
}

/* TestBigItems: map[[256]string][256]string; here 256 x 16-byte keys and
 * values (4 KiB each), key element 37 varying. */
typedef struct big_item {
    char s[256][16];
} big_item;

/* Hashes element 37 only (the one that varies): equal keys still hash
 * equally, which is all a hash must do. */
static uint64_t big_hash(const void *k, uint64_t seed)
{
    const big_item *b = k;
    uint64_t w0, w1;
    memcpy(&w0, b->s[37], 8);
    memcpy(&w1, b->s[37] + 8, 8);
    return mix(mix(w0 ^ seed) ^ w1);
}

static bool big_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(big_item)) == 0;
}

Test(go_map, map_big_items)
{
    gort_map_type t = {sizeof(big_item), sizeof(big_item), big_hash, big_equal};
    gort_map *m = gort_map_new(&t, 4);
    big_item *key = calloc(1, sizeof *key);
    for (int i = 0; i < 256; i++)
        memcpy(key->s[i], "foo", 4);
    for (int i = 0; i < 100; i++) {
        snprintf(key->s[37], 16, "string%02d", i);
        memcpy(gort_map_set(m, key), key, sizeof *key);
    }
    int keys[100] = {0}, values[100] = {0};
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        const big_item *k = it.key, *v = it.val;
        int ki = atoi(k->s[37] + 6), vi = atoi(v->s[37] + 6);
        cr_assert(ki >= 0 && ki < 100 && vi >= 0 && vi < 100);
        keys[ki]++;
        values[vi]++;
    }
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(keys[i], 1, "#%d: missing key", i);
        cr_assert_eq(values[i], 1, "#%d: missing value", i);
    }
    free(key);
    gort_map_free(m);
}

/* TestMapHugeZero: a missing key of a map with 4000-byte values. */
Test(go_map, map_huge_zero)
{
    gort_map *m = gort_map_new_u64(4000, 0);
    cr_assert_null(gort_map_get_u64(m, 0), "map value should be missing");
    const uint8_t *v = gort_map_set_u64(m, 0);
    for (int i = 0; i < 4000; i++)
        cr_assert_eq(v[i], 0, "map value not zero");
    gort_map_free(m);
}

/* TestEmptyKeyAndValue: map[int]struct{}, map[struct{}]int,
 * map[struct{}]struct{}. */
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

Test(go_map, map_empty_key_and_value)
{
    gort_map *a = gort_map_new_u64(0, 4);
    gort_map_type tb = {0, sizeof(int64_t), empty_hash, empty_equal};
    gort_map_type tc = {0, 0, empty_hash, empty_equal};
    gort_map *b = gort_map_new(&tb, 4);
    gort_map *c = gort_map_new(&tc, 4);
    char e;
    gort_map_set_u64(a, 0);
    *(int64_t *)gort_map_set(b, &e) = 0;
    *(int64_t *)gort_map_set(b, &e) = 1;
    gort_map_set(c, &e);
    cr_assert_eq(gort_map_len(a), 1, "empty value insert problem");
    cr_assert_eq(*(const int64_t *)gort_map_get(b, &e), 1,
                 "empty key returned wrong value");
    cr_assert_not_null(gort_map_get(c, &e));
    gort_map_free(a);
    gort_map_free(b);
    gort_map_free(c);
}

/* testMapLookups over a map[string]string; values are the strings'
 * pointers. */
static void map_lookups(const char *const *keys, const char *const *vals, int n)
{
    gort_map *m = gort_map_new_str(sizeof(const char *), 0);
    for (int i = 0; i < n; i++)
        *(const char **)gort_map_set_str(m, keys[i], strlen(keys[i])) = vals[i];
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.B, 0, "a single bucket");
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        char copy[256];
        memcpy(copy, it.key, it.key_len);
        const char *const *v = gort_map_get_str(m, copy, it.key_len);
        cr_assert_not_null(v);
        cr_assert_eq(*v, *(const char *const *)it.val);
    }
    for (int i = 0; i < n; i++) {
        const char *const *v = gort_map_get_str(m, keys[i], strlen(keys[i]));
        cr_assert_not_null(v);
        cr_assert_str_eq(*v, vals[i]);
    }
    gort_map_free(m);
}

static char *repeat(char c, int n)
{
    char *s = malloc((size_t)n + 1);
    memset(s, c, (size_t)n);
    s[n] = '\0';
    return s;
}

/* TestSingleBucketMapStringKeys_DupLen */
Test(go_map, map_single_bucket_string_keys_dup_len)
{
    char *x128 = repeat('x', 128), *y128 = repeat('y', 128);
    const char *keys[] = {"x", "xx", "foo", "bar", "xxxx", x128, y128};
    const char *vals[] = {"x1val", "x2val", "fooval", "barval", "x4val",
                          "longval1", "longval2"};
    map_lookups(keys, vals, 7);
    free(x128);
    free(y128);
}

/* TestSingleBucketMapStringKeys_NoDupLen */
Test(go_map, map_single_bucket_string_keys_no_dup_len)
{
    char *x128 = repeat('x', 128);
    const char *keys[] = {"x", "xx", "foo", "xxxx", "xxxxx", "xxxxxx", x128};
    const char *vals[] = {"x1val", "x2val", "fooval", "x4val", "x5val",
                          "x6val", "longval"};
    map_lookups(keys, vals, 7);
    free(x128);
}

/* TestMapIterOrder */
Test(go_map, map_iter_order)
{
    int sizes[] = {3, 7, 9, 15};
    for (int s = 0; s < 4; s++) {
        int n = sizes[s];
        for (int round = 0; round < 1000; round++) {
            gort_map *m = gort_map_new_u64(1, 0);
            for (int i = 0; i < n; i++)
                *(bool *)gort_map_set_u64(m, (uint64_t)i) = true;
            uint64_t first[16];
            int j = 0;
            gort_map_iter it;
            gort_map_iter_init(&it, m);
            while (gort_map_iter_next(&it))
                first[j++] = *(const uint64_t *)it.key;
            bool ok = false;
            for (int t = 0; t < 100 && !ok; t++) {
                j = 0;
                gort_map_iter_init(&it, m);
                while (gort_map_iter_next(&it))
                    ok |= first[j++] != *(const uint64_t *)it.key;
            }
            cr_assert(ok, "map with n=%d elements had consistent iteration order",
                      n);
            gort_map_free(m);
        }
    }
}

/* TestMapSparseIterOrder (issue 8410) */
Test(go_map, map_sparse_iter_order)
{
    for (int round = 0; round < 10; round++) {
        gort_map *m = gort_map_new_u64(1, 0);
        for (uint64_t i = 0; i < 1000; i++)
            gort_map_set_u64(m, i);
        for (uint64_t i = 20; i < 1000; i++)
            gort_map_delete_u64(m, i);
        uint64_t first[20];
        int j = 0;
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        while (gort_map_iter_next(&it))
            first[j++] = *(const uint64_t *)it.key;
        cr_assert_eq(j, 20);
        bool changed = false;
        for (int n = 0; n < 800 && !changed; n++) {
            j = 0;
            gort_map_iter_init(&it, m);
            while (gort_map_iter_next(&it))
                changed |= first[j++] != *(const uint64_t *)it.key;
        }
        cr_assert(changed, "constant iteration order on round %d", round);
        gort_map_free(m);
    }
}

/* TestMapStringBytesLookup: a lookup with key bytes in a mutable buffer
 * (Go's m[string(buf)], which does not allocate). */
Test(go_map, map_string_bytes_lookup)
{
    gort_map *m = gort_map_new_strref(sizeof(int64_t), 0);
    static const char k1[] = "1000000000000000000000000000000000000000000000000";
    static const char k2[] = "2000000000000000000000000000000000000000000000000";
    *(int64_t *)gort_map_set_str(m, k1, sizeof k1 - 1) = 1;
    *(int64_t *)gort_map_set_str(m, k2, sizeof k2 - 1) = 2;
    char buf[sizeof k1];
    memcpy(buf, k1, sizeof k1);
    const int64_t *x = gort_map_get_str(m, buf, sizeof buf - 1);
    cr_assert(x != NULL && *x == 1);
    buf[0] = '2';
    x = gort_map_get_str(m, buf, sizeof buf - 1);
    cr_assert(x != NULL && *x == 2);
    gort_map_free(m);
}

/* TestMapLargeKeyNoPointer: map[[64]int]int */
typedef struct int64x64 {
    int64_t v[64];
} int64x64;

static uint64_t x64_hash(const void *k, uint64_t seed)
{
    const int64x64 *a = k;
    uint64_t h = seed;
    for (int i = 0; i < 64; i++)
        h = mix(h ^ (uint64_t)a->v[i]);
    return h;
}

static bool x64_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(int64x64)) == 0;
}

Test(go_map, map_large_key_no_pointer)
{
    enum { I = 1000, N = 64 };
    gort_map_type t = {sizeof(int64x64), sizeof(int64_t), x64_hash, x64_equal};
    gort_map *m = gort_map_new(&t, 0);
    int64x64 v;
    for (int i = 0; i < I; i++) {
        for (int j = 0; j < N; j++)
            v.v[j] = i + j;
        *(int64_t *)gort_map_set(m, &v) = i;
    }
    for (int i = 0; i < I; i++) {
        for (int j = 0; j < N; j++)
            v.v[j] = i + j;
        const int64_t *got = gort_map_get(m, &v);
        cr_assert(got != NULL && *got == i, "corrupted map: want %d", i);
    }
    gort_map_free(m);
}

/* TestMapLargeValNoPointer: map[int][64]int */
Test(go_map, map_large_val_no_pointer)
{
    enum { I = 1000, N = 64 };
    gort_map *m = gort_map_new_u64(sizeof(int64x64), 0);
    for (int i = 0; i < I; i++) {
        int64x64 *v = gort_map_set_u64(m, (uint64_t)i);
        for (int j = 0; j < N; j++)
            v->v[j] = i + j;
    }
    for (int i = 0; i < I; i++) {
        const int64x64 *v = gort_map_get_u64(m, (uint64_t)i);
        cr_assert_not_null(v);
        for (int j = 0; j < N; j++)
            cr_assert_eq(v->v[j], i + j, "corrupted map");
    }
    gort_map_free(m);
}

/* TestIgnoreBogusMapHint (issue 19926): -1 and 1<<62 */
Test(go_map, map_ignore_bogus_hint)
{
    size_t hints[] = {(size_t)-1, (size_t)1 << 62, (size_t)1 << 50,
                      SIZE_MAX / 208 + 1};
    for (int i = 0; i < 4; i++) {
        gort_map *m = gort_map_new_u64(8, hints[i]);
        gort_map_info info;
        gort_map_stats(m, &info);
        cr_assert_eq(info.B, 0, "hint %zu ignored", hints[i]);
        gort_map_set_u64(m, 1);
        gort_map_free(m);
        m = gort_map_new_str(8, hints[i]);
        gort_map_free(m);
    }
}

/* TestMapBuckets (the escaping-map column: make(map, n)) */
Test(go_map, map_buckets)
{
    static const struct {
        size_t n, buckets;
    } tests[] = {{0, 1}, {1, 1}, {8, 1}, {9, 2}, {13, 2}, {14, 4}, {26, 4}};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        gort_map *m = gort_map_new_u64(8, tests[i].n);
        for (size_t j = 0; j < tests[i].n; j++)
            gort_map_set_u64(m, j);
        gort_map_info info;
        gort_map_stats(m, &info);
        cr_assert_eq(info.buckets, tests[i].buckets, "n=%zu", tests[i].n);
        gort_map_free(m);
    }
}

/* TestDeferDeleteSlow: deletions as deferred calls. */
typedef struct defer_delete {
    gort_map *m;
    uint64_t k;
} defer_delete;

static void do_delete(void *arg)
{
    defer_delete *d = arg;
    gort_map_delete(d->m, &d->k);
}

static void delete_all_deferred(gort_map *m, defer_delete *ds, int n)
{
    GORT_FRAME;
    for (int i = 0; i < n; i++) {
        ds[i] = (defer_delete){m, (uint64_t)i};
        gort_defer(do_delete, &ds[i]);
    }
}

Test(go_map, map_defer_delete_slow)
{
    gort_map *m = gort_map_new_u64(8, 0);
    for (int i = 0; i < 4; i++)
        set_int(m, i, i);
    cr_assert_eq(gort_map_len(m), 4);
    defer_delete ds[4];
    delete_all_deferred(m, ds, 4);
    cr_assert_eq(gort_map_len(m), 0);
    gort_map_free(m);
}

/* TestIncrementAfterDeleteValueInt / Int32 / Int64 (issue 25936) */
static void increment_after_delete(size_t val_size)
{
    gort_map *m = gort_map_new_u64(val_size, 0);
    memset(gort_map_set_u64(m, 12), 99, val_size);
    gort_map_delete_u64(m, 12);
    uint8_t *v = gort_map_set_u64(m, 13);
    if (val_size == 4)
        ++*(int32_t *)v;
    else
        ++*(int64_t *)v;
    const uint8_t *got = gort_map_get_u64(m, 13);
    int64_t n2 = val_size == 4 ? *(const int32_t *)got : *(const int64_t *)got;
    cr_assert_eq(n2, 1, "incremented 0 to %lld", (long long)n2);
    gort_map_free(m);
}

Test(go_map, map_increment_after_delete_value_int)
{
    increment_after_delete(sizeof(long));
}

Test(go_map, map_increment_after_delete_value_int32)
{
    increment_after_delete(sizeof(int32_t));
}

Test(go_map, map_increment_after_delete_value_int64)
{
    increment_after_delete(sizeof(int64_t));
}

/* TestIncrementAfterDeleteKeyStringValueInt */
Test(go_map, map_increment_after_delete_key_string_value_int)
{
    gort_map *m = gort_map_new_str(sizeof(long), 0);
    *(long *)gort_map_set_str(m, "", 0) = 99;
    gort_map_delete_str(m, "", 0);
    *(long *)gort_map_set_str(m, "x", 1) += 1;
    cr_assert_eq(*(const long *)gort_map_get_str(m, "x", 1), 1);
    gort_map_free(m);
}

/* TestIncrementAfterDeleteKeyValueString: a string value as a
 * {pointer, length} pair; the new slot is the empty string. */
typedef struct str_val {
    char *p;
    size_t len;
} str_val;

Test(go_map, map_increment_after_delete_key_value_string)
{
    gort_map *m = gort_map_new_str(sizeof(str_val), 0);
    str_val *v = gort_map_set_str(m, "", 0);
    v->p = strdup("99");
    v->len = 2;
    free(v->p);
    gort_map_delete_str(m, "", 0);
    v = gort_map_set_str(m, "x", 1);
    cr_assert_null(v->p, "appended '1' to a non-empty string");
    cr_assert_eq(v->len, 0);
    gort_map_free(m);
}

/* TestIncrementAfterBulkClearKeyStringValueInt */
Test(go_map, map_increment_after_bulk_clear_key_string_value_int)
{
    gort_map *m = gort_map_new_str(sizeof(long), 0);
    *(long *)gort_map_set_str(m, "", 0) = 99;
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        char k[8];
        memcpy(k, it.key, it.key_len);
        gort_map_delete_str(m, k, it.key_len);
    }
    *(long *)gort_map_set_str(m, "x", 1) += 1;
    cr_assert_eq(*(const long *)gort_map_get_str(m, "x", 1), 1);
    gort_map_free(m);
}

/* TestMapTombstones: emptyOne/emptyRest stay well formed (checked by
 * gort__map_verify, Go's MapTombstoneCheck). */
Test(go_map, map_tombstones)
{
    enum { N = 10000 };
    gort_map *m = gort_map_new_u64(8, 0);
    for (int64_t i = 0; i < N; i++)
        set_int(m, i, i);
    cr_assert(gort__map_verify(m));
    for (int64_t i = 0; i < N; i += 2)
        gort_map_delete_u64(m, (uint64_t)i);
    cr_assert(gort__map_verify(m));
    for (int64_t i = N; i < 3 * N / 2; i++)
        set_int(m, i, i);
    cr_assert(gort__map_verify(m));
    for (int64_t i = 0; i < 3 * N / 2; i++)
        gort_map_delete_u64(m, (uint64_t)i);
    cr_assert(gort__map_verify(m));
    cr_assert_eq(gort_map_len(m), 0);
    gort_map_free(m);
}

/* map[float64]V and map[FloatInt]V: +0 and -0 are equal keys with
 * different bytes.  Go's mapassign stores the key again when it updates
 * an entry whose key type needs it (t.needkeyupdate: floats, and structs
 * holding them), so the map keeps the latest key's bytes. */
static double canonical_zero(double d)
{
    return d == 0 ? 0.0 : d; /* -0 hashes as +0: equal keys hash equally */
}

static uint64_t float_hash(const void *k, uint64_t seed)
{
    double d = canonical_zero(*(const double *)k);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return mix(bits ^ seed);
}

static bool float_equal(const void *a, const void *b)
{
    return *(const double *)a == *(const double *)b;
}

/* TestNegativeZero */
Test(go_map, map_negative_zero)
{
    gort_map_type t = {sizeof(double), sizeof(bool), float_hash, float_equal};
    double pos = 0.0, neg = -0.0;
    gort_map *m = gort_map_new(&t, 0);
    *(bool *)gort_map_set(m, &pos) = true;
    *(bool *)gort_map_set(m, &neg) = true; /* should overwrite +0 entry */
    cr_assert_eq(gort_map_len(m), 1, "length wrong");
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it))
        cr_assert(signbit(*(const double *)it.key), "wrong sign");
    gort_map_free(m);

    m = gort_map_new(&t, 0);
    *(bool *)gort_map_set(m, &neg) = true;
    *(bool *)gort_map_set(m, &pos) = true; /* should overwrite -0 entry */
    cr_assert_eq(gort_map_len(m), 1, "length wrong");
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it))
        cr_assert(!signbit(*(const double *)it.key), "wrong sign");
    gort_map_free(m);
}

typedef struct float_int {
    double x;
    int64_t y;
} float_int;

static uint64_t float_int_hash(const void *k, uint64_t seed)
{
    const float_int *p = k;
    return float_hash(&p->x, seed) ^ mix((uint64_t)p->y + seed);
}

static bool float_int_equal(const void *a, const void *b)
{
    const float_int *p = a, *q = b;
    return p->x == q->x && p->y == q->y;
}

static int64_t *float_int_set(gort_map *m, double x, int64_t y)
{
    float_int k = {x, y};
    return gort_map_set(m, &k);
}

/* TestGrowWithNegativeZero: an iteration that the map's growth overtakes
 * produces each moved entry as it is now, key and value together. */
Test(go_map, map_grow_with_negative_zero)
{
    gort_map_type t = {sizeof(float_int), sizeof(int64_t), float_int_hash,
                       float_int_equal};
    gort_map *m = gort_map_new(&t, 4);
    *float_int_set(m, 0.0, 0) = 1;
    *float_int_set(m, 0.0, 1) += 2;
    *float_int_set(m, 0.0, 2) += 4;
    *float_int_set(m, 0.0, 3) = 8;
    bool growflag = true;
    int64_t s = 0;
    int cnt = 0, negcnt = 0;
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        const float_int *k = it.key;
        int64_t v = *(const int64_t *)it.val;
        if (v == 0)
            continue; /* entries added to grow the table */
        cnt++;
        if (signbit(k->x)) {
            cr_assert_eq(v & 16, 16, "key/value not updated together 1");
            negcnt++;
            s |= v & 15;
        } else {
            cr_assert_eq(v & 16, 0, "key/value not updated together 2");
            s |= v;
        }
        if (growflag) {
            for (int64_t i = 0; i < 100; i++) /* force a resize */
                *float_int_set(m, 3.0, i) = 0;
            /* then change all the entries to negative zero */
            *float_int_set(m, -0.0, 0) = 1 | 16;
            *float_int_set(m, -0.0, 1) = 2 | 16;
            *float_int_set(m, -0.0, 2) = 4 | 16;
            *float_int_set(m, -0.0, 3) = 8 | 16;
            growflag = false;
        }
    }
    cr_assert_eq(s, 15, "entry missing: %lld", (long long)s);
    cr_assert_eq(cnt, 4, "wrong number of entries returned by iterator: %d",
                 cnt);
    cr_assert_eq(negcnt, 3, "update to negzero missed by iteration: %d",
                 negcnt);
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

/* TestAlias: a map is a reference; writes through one copy of the
 * pointer are seen through the other. */
Test(go_map, map_alias)
{
    gort_map *m = gort_map_new_u64(8, 0);
    set_int(m, 0, 5);
    gort_map *n = m;
    set_int(n, 0, 6);
    cr_assert_eq(*(const int64_t *)gort_map_get_u64(m, 0), 6,
                 "alias didn't work");
    gort_map_free(m);
}
