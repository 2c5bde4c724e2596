/*
 * map_ops.h - the map op-stream interpreter shared by the libFuzzer
 * target (fuzz_map.c), its corpus replay and the property test
 * (tests/map/test_map_property.c).
 *
 * A byte string is read as a program: the first bytes pick the key kind
 * (copied strings, borrowed strings, uint64, generic 12-byte keys with a
 * good hash, generic keys with a deliberately weak hash that makes long
 * chains), the value size and the size hint (bogus hints included); the
 * rest is a sequence of operations on one map: set, get, delete, bulk
 * insert (to force growth), bulk delete, clear, full iterations,
 * iterations with mutations between their steps (among them writes of
 * the key just produced, through the iterator's pointer), iterators kept
 * across other operations and resumed later or ended early with
 * gort_map_iter_end (the old-array retention), and, on generic maps,
 * operations whose hash or equal callback panics part-way (recovered
 * here).
 *
 * Every result is compared with a trivial reference model (an array
 * indexed by key number: present? which value?), and the map is checked
 * with gort__map_verify and gort_map_len after every operation.  The
 * iterator rules checked: no entry produced twice (a key deleted and
 * added again is a new entry), a produced key is present with its current
 * value, every key present from an iteration's start to its end (never
 * deleted meanwhile) is produced, a plain iteration produces exactly the
 * model's keys.  Values are aligned as map.h promises; a new slot is
 * zero; a zero-size value's slot is non-NULL.
 *
 * On a mismatch fm_fail() prints what and aborts (libFuzzer reports the
 * input; the replay and the property test fail).
 */
#ifndef GORT_FUZZ_MAP_OPS_H
#define GORT_FUZZ_MAP_OPS_H

#include <gort/defer.h>
#include <gort/map.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declared in src/map_internal.h; exported for the tests and fuzzers. */
bool gort__map_verify(const gort_map *m);

/* Iterators 0 and 1 are kept across operations; 2 is the one an
 * iteration-with-mutations uses.  All three see the model updates. */
enum { FM_KEYS = 4096, FM_ITERS = 3, FM_KEPT = 2, FM_MUT_ITER = 2 };

enum { FM_STR, FM_STRREF, FM_U64, FM_GEN, FM_GENBAD, FM_NKINDS };

typedef struct fm_key12 {
    uint32_t a, b, c;
} fm_key12;

typedef struct fm_iter {
    bool live;                 /* started and not done */
    gort_map_iter it;
    uint8_t must[FM_KEYS];     /* present since the start, never deleted */
    uint8_t produced[FM_KEYS]; /* produced as the current entry */
} fm_iter;

typedef struct fm_state {
    gort_map *m;
    int kind;
    size_t val_size;
    unsigned keyspace;         /* keys used: 0..keyspace-1 */
    uint8_t present[FM_KEYS];
    uint32_t tag[FM_KEYS];     /* value pattern of each present key */
    size_t count;
    uint32_t next_tag;
    fm_iter iters[FM_ITERS];
    const uint8_t *p, *end;    /* the program */
    unsigned long ops;
} fm_state;

/* ------------------------------------------------------------------ */
/* Keys: generated once, with reverse lookup                           */
/* ------------------------------------------------------------------ */

static char *fm_str_keys[FM_KEYS];
static size_t fm_str_len[FM_KEYS];
static uint64_t fm_u64_keys[FM_KEYS];
static fm_key12 fm_gen_keys[FM_KEYS];

enum { FM_RSLOTS = 16384 };
static int fm_rev_str[FM_RSLOTS], fm_rev_u64[FM_RSLOTS];

static uint64_t fm_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fm_bytes_hash(const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

static _Noreturn __attribute__((format(printf, 2, 3))) void
fm_fail(const fm_state *s, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_map: FAIL after %lu ops (kind %d, val_size %zu): ",
            s != NULL ? s->ops : 0, s != NULL ? s->kind : -1,
            s != NULL ? s->val_size : 0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static int fm_rev_find_str(const char *k, size_t n)
{
    size_t h = fm_bytes_hash(k, n) % FM_RSLOTS;
    for (;;) {
        int i = fm_rev_str[h];
        if (i < 0)
            return -1;
        if (fm_str_len[i] == n && memcmp(fm_str_keys[i], k, n) == 0)
            return i;
        h = (h + 1) % FM_RSLOTS;
    }
}

static int fm_rev_find_u64(uint64_t k)
{
    size_t h = fm_mix(k) % FM_RSLOTS;
    for (;;) {
        int i = fm_rev_u64[h];
        if (i < 0)
            return -1;
        if (fm_u64_keys[i] == k)
            return i;
        h = (h + 1) % FM_RSLOTS;
    }
}

static void fm_init_keys(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    memset(fm_rev_str, -1, sizeof fm_rev_str);
    memset(fm_rev_u64, -1, sizeof fm_rev_u64);
    for (int i = 0; i < FM_KEYS; i++) {
        /* Lengths cover every comparison path: 0, 1-3 (bytes), 4-7,
         * 8-16, 17-32 (words) and longer (memcmp). */
        size_t len;
        if (i == 0)
            len = 0;
        else if (i % 7 == 0 && i < 600)
            len = 1 + (size_t)i % 3;
        else if (i % 11 == 0)
            len = 33 + (size_t)i % 70;
        else
            len = 4 + (size_t)i % 29;
        char *k = malloc(len + 64); /* room for the lengthening below */
        for (uint64_t salt = 0;; salt++) {
            uint64_t x = fm_mix((uint64_t)i * 0x9E3779B97F4A7C15ull + salt);
            for (size_t j = 0; j < len; j++) {
                if (j % 8 == 0)
                    x = fm_mix(x + j);
                k[j] = (char)('a' + (x >> (8 * (j % 8))) % 26);
            }
            /* Many keys share a prefix, so the word compares must look
             * at the end too. */
            if (len >= 12 && i % 3 == 0)
                memcpy(k, "prefixprefix", 12);
            if (fm_rev_find_str(k, len) < 0)
                break;
            if (salt > 1000 && salt % 1000 == 0 && len < 40)
                len++; /* this length is exhausted */
        }
        k[len] = '\0';
        fm_str_keys[i] = k;
        fm_str_len[i] = len;
        size_t h = fm_bytes_hash(k, len) % FM_RSLOTS;
        while (fm_rev_str[h] >= 0)
            h = (h + 1) % FM_RSLOTS;
        fm_rev_str[h] = i;

        uint64_t u = i < 16 ? (uint64_t)i : i == 16 ? UINT64_MAX
                                                     : fm_mix((uint64_t)i);
        fm_u64_keys[i] = u;
        h = fm_mix(u) % FM_RSLOTS;
        while (fm_rev_u64[h] >= 0)
            h = (h + 1) % FM_RSLOTS;
        fm_rev_u64[h] = i;

        fm_gen_keys[i].a = (uint32_t)i;
        fm_gen_keys[i].b = (uint32_t)i ^ 0xdeadbeefu;
        fm_gen_keys[i].c = (uint32_t)i * 2654435761u;
    }
}

/* ------------------------------------------------------------------ */
/* Generic key callbacks, with a trap that makes them panic            */
/* ------------------------------------------------------------------ */

static int fm_trap = -1; /* callbacks left before one panics; -1: off */

static void fm_trap_tick(void)
{
    if (fm_trap >= 0 && fm_trap-- == 0)
        gort_panic("fuzz_map: trap");
}

static uint64_t fm_hash_good(const void *key, uint64_t seed)
{
    fm_trap_tick();
    const fm_key12 *k = key;
    return fm_mix(((uint64_t)k->a << 32 | k->b) ^ seed) ^
           fm_mix((uint64_t)k->c + seed);
}

/* Five hash values (times the seed): long chains, many equal tophashes. */
static uint64_t fm_hash_bad(const void *key, uint64_t seed)
{
    fm_trap_tick();
    const fm_key12 *k = key;
    return fm_mix((k->a % 5) ^ seed);
}

static bool fm_equal(const void *a, const void *b)
{
    fm_trap_tick();
    return memcmp(a, b, sizeof(fm_key12)) == 0;
}

/* ------------------------------------------------------------------ */
/* Program reading                                                    */
/* ------------------------------------------------------------------ */

static bool fm_more(const fm_state *s)
{
    return s->p < s->end;
}

static unsigned fm_byte(fm_state *s)
{
    return s->p < s->end ? *s->p++ : 0;
}

static unsigned fm_key_index(fm_state *s)
{
    unsigned v = fm_byte(s);
    v = v << 8 | fm_byte(s);
    return v % s->keyspace;
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static uint8_t fm_val_byte(uint32_t tag, size_t j)
{
    return (uint8_t)(fm_mix(tag) >> (8 * (j % 8))) ^ (uint8_t)(j * 31);
}

static void fm_check_slot_align(const fm_state *s, const void *slot)
{
    if (slot == NULL)
        fm_fail(s, "NULL slot for a present key");
    uintptr_t align = s->val_size >= 16 ? 16 : 8;
    if (s->val_size != 0 && (uintptr_t)slot % align != 0)
        fm_fail(s, "slot %p not aligned to %zu", slot, (size_t)align);
}

static void fm_check_val(const fm_state *s, const void *slot, uint32_t tag,
                         unsigned idx)
{
    fm_check_slot_align(s, slot);
    const uint8_t *v = slot;
    for (size_t j = 0; j < s->val_size; j++)
        if (v[j] != fm_val_byte(tag, j))
            fm_fail(s, "key %u: value byte %zu is %#x, want %#x", idx, j, v[j],
                    fm_val_byte(tag, j));
}

static void fm_fill_val(fm_state *s, void *slot, unsigned idx)
{
    uint32_t tag = ++s->next_tag;
    uint8_t *v = slot;
    for (size_t j = 0; j < s->val_size; j++)
        v[j] = fm_val_byte(tag, j);
    s->tag[idx] = tag;
}

/* ------------------------------------------------------------------ */
/* Map calls by kind                                                   */
/* ------------------------------------------------------------------ */

static bool fm_is_str(const fm_state *s)
{
    return s->kind == FM_STR || s->kind == FM_STRREF;
}

static bool fm_is_gen(const fm_state *s)
{
    return s->kind == FM_GEN || s->kind == FM_GENBAD;
}

static const void *fm_get(fm_state *s, unsigned idx, bool copy)
{
    switch (s->kind) {
    case FM_STR:
    case FM_STRREF: {
        /* A copy at another address half the time: no pointer-equality
         * shortcut. */
        char buf[128];
        const char *k = fm_str_keys[idx];
        if (copy) {
            memcpy(buf, k, fm_str_len[idx]);
            k = buf;
        }
        return gort_map_get_str(s->m, fm_str_len[idx] != 0 || copy ? k : NULL,
                                fm_str_len[idx]);
    }
    case FM_U64:
        if (copy)
            return gort_map_get(s->m, &fm_u64_keys[idx]);
        return gort_map_get_u64(s->m, fm_u64_keys[idx]);
    default: {
        fm_key12 k = fm_gen_keys[idx];
        return gort_map_get(s->m, &k);
    }
    }
}

static void *fm_set_raw(fm_state *s, unsigned idx)
{
    switch (s->kind) {
    case FM_STR: {
        char buf[128]; /* copied by the map: any address will do */
        memcpy(buf, fm_str_keys[idx], fm_str_len[idx]);
        return gort_map_set_str(s->m, buf, fm_str_len[idx]);
    }
    case FM_STRREF: /* borrowed: the key table outlives the map */
        return gort_map_set_str(s->m, fm_str_keys[idx], fm_str_len[idx]);
    case FM_U64:
        return gort_map_set_u64(s->m, fm_u64_keys[idx]);
    default: {
        fm_key12 k = fm_gen_keys[idx];
        return gort_map_set(s->m, &k);
    }
    }
}

static bool fm_delete_raw(fm_state *s, unsigned idx, bool copy)
{
    switch (s->kind) {
    case FM_STR:
    case FM_STRREF: {
        char buf[128];
        const char *k = fm_str_keys[idx];
        if (copy) {
            memcpy(buf, k, fm_str_len[idx]);
            k = buf;
        }
        return gort_map_delete_str(s->m, k, fm_str_len[idx]);
    }
    case FM_U64:
        if (copy)
            return gort_map_delete(s->m, &fm_u64_keys[idx]);
        return gort_map_delete_u64(s->m, fm_u64_keys[idx]);
    default: {
        fm_key12 k = fm_gen_keys[idx];
        return gort_map_delete(s->m, &k);
    }
    }
}

/* The key number of an iterator's current key. */
static unsigned fm_decode(const fm_state *s, const gort_map_iter *it)
{
    int i = -1;
    if (it->key == NULL)
        fm_fail(s, "iterator key is NULL");
    if (fm_is_str(s)) {
        i = fm_rev_find_str(it->key, it->key_len);
    } else if (s->kind == FM_U64) {
        uint64_t k;
        if (it->key_len != 8)
            fm_fail(s, "u64 key_len %zu", it->key_len);
        memcpy(&k, it->key, 8);
        i = fm_rev_find_u64(k);
    } else {
        fm_key12 k;
        if (it->key_len != sizeof k)
            fm_fail(s, "generic key_len %zu", it->key_len);
        memcpy(&k, it->key, sizeof k);
        if (k.a < FM_KEYS && memcmp(&k, &fm_gen_keys[k.a], sizeof k) == 0)
            i = (int)k.a;
    }
    if (i < 0 || (unsigned)i >= s->keyspace)
        fm_fail(s, "iterator produced an unknown key");
    return (unsigned)i;
}

/* ------------------------------------------------------------------ */
/* Model updates                                                       */
/* ------------------------------------------------------------------ */

static void fm_model_insert(fm_state *s, unsigned idx)
{
    s->present[idx] = 1;
    s->count++;
    for (int j = 0; j < FM_ITERS; j++)
        if (s->iters[j].live)
            s->iters[j].produced[idx] = 0; /* a new entry */
}

static void fm_model_delete(fm_state *s, unsigned idx)
{
    s->present[idx] = 0;
    s->count--;
    for (int j = 0; j < FM_ITERS; j++)
        if (s->iters[j].live)
            s->iters[j].must[idx] = 0;
}

static void fm_do_set(fm_state *s, unsigned idx)
{
    void *slot = fm_set_raw(s, idx);
    fm_check_slot_align(s, slot);
    if (s->present[idx]) {
        fm_check_val(s, slot, s->tag[idx], idx);
    } else {
        for (size_t j = 0; j < s->val_size; j++)
            if (((const uint8_t *)slot)[j] != 0)
                fm_fail(s, "new slot of key %u is not zeroed", idx);
        fm_model_insert(s, idx);
    }
    fm_fill_val(s, slot, idx);
}

static void fm_do_get(fm_state *s, unsigned idx, bool copy)
{
    const void *slot = fm_get(s, idx, copy);
    if (!s->present[idx]) {
        if (slot != NULL)
            fm_fail(s, "absent key %u found", idx);
        return;
    }
    if (slot == NULL)
        fm_fail(s, "present key %u not found", idx);
    fm_check_val(s, slot, s->tag[idx], idx);
}

static void fm_do_delete(fm_state *s, unsigned idx, bool copy)
{
    bool was = fm_delete_raw(s, idx, copy);
    if (was != (s->present[idx] != 0))
        fm_fail(s, "delete of key %u returned %d, model says %d", idx, was,
                s->present[idx]);
    if (was)
        fm_model_delete(s, idx);
}

static void fm_do_clear(fm_state *s)
{
    gort_map_clear(s->m);
    memset(s->present, 0, sizeof s->present);
    s->count = 0;
    for (int j = 0; j < FM_ITERS; j++)
        if (s->iters[j].live)
            memset(s->iters[j].must, 0, sizeof s->iters[j].must);
}

/* ------------------------------------------------------------------ */
/* Iterators                                                           */
/* ------------------------------------------------------------------ */

static void fm_iter_begin(fm_state *s, fm_iter *fi)
{
    gort_map_iter_init(&fi->it, s->m);
    fi->live = true;
    memcpy(fi->must, s->present, sizeof fi->must);
    memset(fi->produced, 0, sizeof fi->produced);
}

/* One step; false when the iteration is over (checked). */
static bool fm_iter_step(fm_state *s, fm_iter *fi)
{
    if (!gort_map_iter_next(&fi->it)) {
        if (gort_map_iter_next(&fi->it))
            fm_fail(s, "iterator resumed after done");
        for (unsigned i = 0; i < s->keyspace; i++)
            if (fi->must[i] && !fi->produced[i])
                fm_fail(s, "key %u present throughout was not produced", i);
        fi->live = false;
        return false;
    }
    unsigned idx = fm_decode(s, &fi->it);
    if (fi->produced[idx])
        fm_fail(s, "key %u produced twice", idx);
    if (!s->present[idx])
        fm_fail(s, "deleted key %u produced", idx);
    fm_check_val(s, fi->it.val, s->tag[idx], idx);
    fi->produced[idx] = 1;
    return true;
}

/* ------------------------------------------------------------------ */
/* Panicking callbacks                                                 */
/* ------------------------------------------------------------------ */

static void fm_recover(void *arg)
{
    if (gort_recover() != NULL)
        *(volatile int *)arg = 1;
}

/* Runs set (op 0), delete (1) or get (2) of key @idx with the trap
 * armed; returns 1 if it panicked (and was recovered here). */
static int fm_trapped(fm_state *s, unsigned idx, int op, int trap,
                      void **slot, bool *deleted)
{
    volatile int panicked = 0;
    GORT_FRAME_RETURN(panicked);
    gort_defer(fm_recover, (void *)&panicked);
    fm_trap = trap;
    fm_key12 k = fm_gen_keys[idx];
    if (op == 0)
        *slot = gort_map_set(s->m, &k);
    else if (op == 1)
        *deleted = gort_map_delete(s->m, &k);
    else
        *slot = (void *)gort_map_get(s->m, &k);
    fm_trap = -1;
    return 0;
}

static void fm_do_trapped(fm_state *s)
{
    unsigned idx = fm_key_index(s);
    unsigned b = fm_byte(s);
    int op = (int)(b % 3), trap = (int)((b / 3) % 12);
    void *slot = NULL;
    bool deleted = false;
    int panicked = fm_trapped(s, idx, op, trap, &slot, &deleted);
    fm_trap = -1;
    if (panicked) { /* the map must be unchanged by the call */
        if (!gort__map_verify(s->m))
            fm_fail(s, "inconsistent after a panicking callback");
        fm_do_get(s, idx, false);
        return;
    }
    if (op == 0) {
        fm_check_slot_align(s, slot);
        if (!s->present[idx]) {
            for (size_t j = 0; j < s->val_size; j++)
                if (((const uint8_t *)slot)[j] != 0)
                    fm_fail(s, "new slot of key %u is not zeroed", idx);
            fm_model_insert(s, idx);
        } else {
            fm_check_val(s, slot, s->tag[idx], idx);
        }
        fm_fill_val(s, slot, idx);
    } else if (op == 1) {
        if (deleted != (s->present[idx] != 0))
            fm_fail(s, "trapped delete of key %u returned %d", idx, deleted);
        if (deleted)
            fm_model_delete(s, idx);
    } else if ((slot != NULL) != (s->present[idx] != 0)) {
        fm_fail(s, "trapped get of key %u: %p", idx, slot);
    }
}

/* ------------------------------------------------------------------ */
/* The interpreter                                                     */
/* ------------------------------------------------------------------ */

static void fm_check_all(fm_state *s)
{
    for (unsigned i = 0; i < s->keyspace; i++)
        fm_do_get(s, i, (i & 1) != 0);
}

static void fm_after_op(fm_state *s)
{
    s->ops++;
    if (!gort__map_verify(s->m))
        fm_fail(s, "gort__map_verify failed");
    if (gort_map_len(s->m) != s->count)
        fm_fail(s, "len %zu, model %zu", gort_map_len(s->m), s->count);
}

/* Go's `m[k] = v` or `delete(m, k)` inside `for k := range m`: a write
 * given the key the iteration @fi has just produced, through the
 * iterator's own pointer (for a short key of a copying map, a pointer
 * into a bucket that the write's growth work may evacuate or free; a
 * generic map's key always points into a bucket).  Every kind (see
 * docs/design/map.md, "Keys given back to writes"). */
static void fm_write_current(fm_state *s, fm_iter *fi, bool del)
{
    unsigned idx = fm_decode(s, &fi->it);
    const void *key = fi->it.key;
    size_t klen = fi->it.key_len;
    if (del) {
        bool was = fm_is_str(s) ? gort_map_delete_str(s->m, key, klen)
                                : gort_map_delete(s->m, key);
        if (!was)
            fm_fail(s, "delete of the produced key %u found nothing", idx);
        fm_model_delete(s, idx);
    } else {
        void *slot = fm_is_str(s) ? gort_map_set_str(s->m, key, klen)
                                  : gort_map_set(s->m, key);
        fm_check_val(s, slot, s->tag[idx], idx);
        fm_fill_val(s, slot, idx);
    }
    fm_after_op(s);
}

static void fm_random_mutation(fm_state *s)
{
    unsigned b = fm_byte(s);
    unsigned idx = fm_key_index(s);
    switch (b % 6) {
    case 0:
    case 1:
        fm_do_set(s, idx);
        break;
    case 2:
    case 3:
        fm_do_delete(s, idx, b & 8);
        break;
    case 4: /* a burst of insertions: forces growth mid-iteration */
        for (unsigned n = 8 + b; n > 0; n--, idx = (idx + 1) % s->keyspace)
            if (!s->present[idx])
                fm_do_set(s, idx);
        break;
    default:
        if (b % 64 == 5)
            fm_do_clear(s);
        else
            fm_do_get(s, idx, b & 8);
        break;
    }
    fm_after_op(s);
}

static void fm_run(const uint8_t *data, size_t size)
{
    static const size_t vsizes[] = {8, 0, 4, 8, 16, 24, 40, 8};
    fm_init_keys();
    fm_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    s->p = data;
    s->end = data + size;
    unsigned b0 = fm_byte(s), b1 = fm_byte(s), b2 = fm_byte(s);
    s->kind = (int)(b0 % FM_NKINDS);
    s->val_size = vsizes[(b0 / FM_NKINDS) % 8];
    static const unsigned spaces[] = {16, 64, 300, 2000};
    s->keyspace = spaces[b1 % 4];
    if (s->kind == FM_GENBAD && s->keyspace > 300)
        s->keyspace = 300; /* its chains are keyspace/5 long: quadratic checks */
    size_t hint = b2 < 200 ? b2 : b2 < 230 ? (size_t)(b2 - 200) * 100
                                : b2 < 250 ? SIZE_MAX / (b2 - 228)
                                           : (size_t)1 << 62;
    gort_map_type t = {sizeof(fm_key12), s->val_size,
                       s->kind == FM_GENBAD ? fm_hash_bad : fm_hash_good,
                       fm_equal};
    switch (s->kind) {
    case FM_STR:
        s->m = gort_map_new_str(s->val_size, hint);
        break;
    case FM_STRREF:
        s->m = gort_map_new_strref(s->val_size, hint);
        break;
    case FM_U64:
        s->m = gort_map_new_u64(s->val_size, hint);
        break;
    default:
        s->m = gort_map_new(&t, hint);
        break;
    }
    fm_after_op(s);
    while (fm_more(s)) {
        unsigned op = fm_byte(s);
        switch (op % 16) {
        case 0:
        case 1:
        case 2:
            fm_do_set(s, fm_key_index(s));
            break;
        case 3:
        case 4:
            fm_do_get(s, fm_key_index(s), op & 16);
            break;
        case 5:
        case 6:
            fm_do_delete(s, fm_key_index(s), op & 16);
            break;
        case 7: { /* bulk insert */
            unsigned idx = fm_key_index(s), n = 1 + 3 * fm_byte(s);
            for (; n > 0; n--, idx = (idx + 1) % s->keyspace)
                fm_do_set(s, idx);
            break;
        }
        case 8: { /* bulk delete */
            unsigned idx = fm_key_index(s), n = 1 + 3 * fm_byte(s);
            for (; n > 0; n--, idx = (idx + 1) % s->keyspace)
                fm_do_delete(s, idx, n & 1);
            break;
        }
        case 9: { /* a plain iteration produces exactly the model */
            fm_iter fi;
            fm_iter_begin(s, &fi);
            size_t n = 0;
            while (fm_iter_step(s, &fi))
                n++;
            if (n != s->count)
                fm_fail(s, "iteration produced %zu of %zu", n, s->count);
            break;
        }
        case 10: { /* iteration with mutations between steps */
            fm_iter *fi = &s->iters[FM_MUT_ITER];
            fm_iter_begin(s, fi);
            unsigned rate = 1 + fm_byte(s) % 8;
            while (fm_more(s) && fm_iter_step(s, fi)) {
                unsigned step = fm_byte(s);
                if (step % rate != 0)
                    continue;
                if (step >= 224) /* the key just produced, written back */
                    fm_write_current(s, fi, step & 16);
                else
                    fm_random_mutation(s);
            }
            while (fi->live && fm_iter_step(s, fi)) { /* program ended */
            }
            break;
        }
        case 11: { /* start a kept iterator */
            fm_iter *fi = &s->iters[fm_byte(s) % FM_KEPT];
            fm_iter_begin(s, fi);
            break;
        }
        case 12: { /* resume a kept iterator for a few steps, or end it */
            fm_iter *fi = &s->iters[fm_byte(s) % FM_KEPT];
            unsigned b = fm_byte(s);
            if (b >= 240 && fi->live) {
                gort_map_iter_end(&fi->it);
                fi->live = false;
                if (gort_map_iter_next(&fi->it))
                    fm_fail(s, "iterator resumed after gort_map_iter_end");
                break;
            }
            for (unsigned n = 1 + b % 32; n > 0 && fi->live; n--)
                fm_iter_step(s, fi);
            break;
        }
        case 13:
            if (op % 64 == 13)
                fm_do_clear(s);
            else
                fm_do_get(s, fm_key_index(s), op & 32);
            break;
        case 14:
            if (fm_is_gen(s))
                fm_do_trapped(s);
            else
                fm_do_get(s, fm_key_index(s), op & 16);
            break;
        default: {
            gort_map_info info;
            gort_map_stats(s->m, &info);
            if (info.count != s->count)
                fm_fail(s, "stats count %zu", info.count);
            if (info.buckets != ((size_t)1 << info.B))
                fm_fail(s, "stats buckets %zu for B %u", info.buckets, info.B);
            if (op % 64 == 15) {
                FILE *null = fopen("/dev/null", "w");
                if (null != NULL) {
                    gort_map_dump(s->m, null);
                    fclose(null);
                }
            }
            fm_check_all(s);
            break;
        }
        }
        fm_after_op(s);
    }
    /* Finish the kept iterators: their rules hold to the end. */
    for (int j = 0; j < FM_ITERS; j++)
        while (s->iters[j].live && fm_iter_step(s, &s->iters[j])) {
        }
    fm_check_all(s);
    gort_map_free(s->m);
    free(s);
}

#endif /* GORT_FUZZ_MAP_OPS_H */
