/*
 * map_fast_str.c - the string-key hot paths (Go's map_faststr.go):
 * gort_map_get_str, gort_map_set_str, gort_map_delete_str for the copying
 * (str) and borrowing (strref) maps.
 *
 * Design.  A key slot is Go's string header {pointer, length}; the key
 * bytes live elsewhere (a copy the map owns, or the caller's bytes).  The
 * paths are map.c's generic algorithm with everything the kind fixes
 * folded in: the hash is XXH3 inlined, equality is a length compare then
 * word compares (no call for keys up to 32 bytes), and there are no
 * function pointers.  A lookup:
 *
 *   1. hashes the key, picks the bucket (the old one while a growth has
 *      not evacuated it), and (the general path, for big maps)
 *      prefetches the bucket's cache lines so that the tophash, key slot
 *      and value misses overlap instead of following each other;
 *   2. compares the 8 tophash bytes with the key's top byte at once
 *      (one 64-bit XOR and the has-zero-byte trick; the fast paths below
 *      use SSE2's byte compare, which gives the first slot's index
 *      directly); each candidate slot compares the length, then the
 *      bytes (pointer identity first);
 *   3. stops at the first bucket holding an emptyRest slot (a zero byte
 *      in the same word; the fast paths look at slot 7 alone, since the
 *      emptyRest marks are a suffix of the chain): nothing follows it in
 *      the chain.
 *
 * gort_map_get_str itself is only the common case of this (a key of 4
 * to 32 bytes, a str/strref map of more than one bucket that is not
 * growing, the key in the first candidate slot or absent from a bucket
 * with an emptyRest mark): one test of flags covers kind, B, growth and
 * hashWriting (map_internal.h keeps summaries there), the hash is XXH3
 * for 4-32 bytes with the seed folded into the secret words once per
 * map (gort__hash_str_keyed), and it calls nothing, so it saves few
 * registers and needs no frame.  Everything else continues in
 * get_str_hashed (more candidates, overflow buckets) or get_str_general
 * (the whole algorithm) by a tail call.  Measured with callgrind on the WORKLOAD
 * keys at N = 1000: 82 instructions per hit instead of 124 for the
 * general path, 77 per miss instead of 115.
 *
 * A map of one bucket (B == 0, at most 8 entries) is searched without
 * hashing, comparing lengths and then bytes, as Go does; hashing would
 * cost more than the comparisons.
 *
 * Writes follow Go's mapassign_faststr / mapdelete_faststr: hash before
 * setting the writing flag, growth work on the target bucket, the first
 * empty slot found on the way is where a new key goes, growth is started
 * only when the key is absent, a deleted slot's value is zeroed and the
 * emptyRest marks are restored.
 *
 * Ordering guarantees: none (see map.c).
 */
#include "map_internal.h"

/* Key slots are at a fixed place (8 bytes of tophash, then 24-byte slots
 * in str maps, 16-byte ones in strref maps): constants keep a
 * multiplication off the lookup's critical path. */
#define STRSLOT(b, i)                                                          \
    ((b) + GORT__MAP_BUCKET_CNT + (size_t)(i) * sizeof(gort__strslot))
#define REFSLOT(b, i)                                                          \
    ((const gort__strkey *)((b) + GORT__MAP_BUCKET_CNT +                       \
                            (size_t)(i) * sizeof(gort__strkey)))

static inline __attribute__((always_inline)) uint8_t *
key_slot(unsigned kind, const uint8_t *b, size_t i)
{
    if (kind == GORT__MAP_STR)
        return (uint8_t *)STRSLOT(b, i);
    return (uint8_t *)REFSLOT(b, i);
}

/* Whether a strref slot holds (k, klen): lengths, then pointer identity,
 * then bytes.  Borrowed keys are never marked shared. */
static inline __attribute__((always_inline)) bool
ref_matches(const gort__strkey *sk, const char *k, size_t klen)
{
    return sk->len == klen && (sk->p == k || gort__str_eq(sk->p, k, klen));
}

/* Whether the filled slot @slot of a map of @kind holds (k, klen). */
static inline __attribute__((always_inline)) bool
slot_matches(unsigned kind, const uint8_t *slot, const char *k, size_t klen)
{
    if (kind == GORT__MAP_STR)
        return gort__strslot_matches(slot, k, klen);
    return ref_matches((const gort__strkey *)slot, k, klen);
}

/* The same for the writers, which carry a short key of a str map as its
 * inline slot @in already: three words to compare. */
static inline __attribute__((always_inline)) bool
slot_matches_w(unsigned kind, const uint8_t *slot, const gort__strslot *in,
               const char *k, size_t klen)
{
    if (kind == GORT__MAP_STR && klen <= GORT__STRSLOT_INLINE_MAX)
        return gort__strslot_eq_inline(slot, in);
    return slot_matches(kind, slot, k, klen);
}

static inline void check_args(const gort_map *m, const char *k, size_t klen,
                              const char *fn)
{
    if (GORT_UNLIKELY(m->kind > GORT__MAP_STRREF))
        gort__map_panic_kind(fn, m);
    if (GORT_UNLIKELY(k == NULL && klen != 0))
        gort__map_panic_null_key(fn, klen);
}

/* Go's one-bucket lookup: no hash, lengths first. */
static inline __attribute__((always_inline)) const void *
get_small_kind(const gort_map *m, const char *k, size_t klen, unsigned kind)
{
    const uint8_t *b = m->buckets;
    for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++) {
        uint8_t top = b[i];
        if (top == GORT__EMPTY_REST)
            break;
        if (top == GORT__EMPTY_ONE)
            continue;
        if (slot_matches(kind, key_slot(kind, b, i), k, klen))
            return gort__map_val(m, b, i);
    }
    return NULL;
}

static const void *get_small(const gort_map *m, const char *k, size_t klen)
{
    if (m->kind == GORT__MAP_STR)
        return get_small_kind(m, k, klen, GORT__MAP_STR);
    return get_small_kind(m, k, klen, GORT__MAP_STRREF);
}

/* The rest of a lookup once the hash is known: every candidate slot of
 * the whole chain, the old bucket while a growth has not evacuated it. */
static inline __attribute__((always_inline)) const void *
get_hashed_kind(const gort_map *m, const char *k, size_t klen, uint64_t hash,
                unsigned kind)
{
    const uint8_t *b = gort__map_lookup_bucket(m, hash);
    gort__map_prefetch_bucket(m, b);
    uint8_t top = gort__map_tophash(hash);
    do {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = gort__swar_match(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            if (slot_matches(kind, key_slot(kind, b, i), k, klen))
                return gort__map_val(m, b, i);
        }
        if (gort__swar_zero(w) != 0)
            return NULL; /* emptyRest: the chain ends here */
        b = gort__map_overflow(m, b);
    } while (b != NULL);
    return NULL;
}

/* The fast paths below hand over here when their first candidate is not
 * the key or the bucket has no emptyRest slot; get_str_general ends
 * here too.  One function per kind, so that the fast paths, which know
 * the kind, jump straight to theirs. */
static __attribute__((noinline)) const void *
get_hashed_str(const gort_map *m, const char *k, size_t klen, uint64_t hash)
{
    return get_hashed_kind(m, k, klen, hash, GORT__MAP_STR);
}

static __attribute__((noinline)) const void *
get_hashed_ref(const gort_map *m, const char *k, size_t klen, uint64_t hash)
{
    return get_hashed_kind(m, k, klen, hash, GORT__MAP_STRREF);
}

static const void *get_str_hashed(const gort_map *m, const char *k,
                                  size_t klen, uint64_t hash)
{
    if (m->kind == GORT__MAP_STR)
        return get_hashed_str(m, k, klen, hash);
    return get_hashed_ref(m, k, klen, hash);
}

/* Every lookup the fast path below does not take: a NULL map, bad
 * arguments, a map of another kind, a one-bucket map, a growth or a
 * write in progress, keys that are shorter than 4 or longer than 32
 * bytes. */
static __attribute__((noinline)) const void *
get_str_general(const gort_map *m, const char *k, size_t klen)
{
    if (GORT_UNLIKELY(m == NULL)) {
        if (k == NULL && klen != 0)
            gort__map_panic_null_key("gort_map_get_str", klen);
        return NULL;
    }
    GORT__MAP_RACE_READ(m);
    check_args(m, k, klen, "gort_map_get_str");
    if (m->count == 0)
        return NULL;
    gort__map_check_read(m);
    if (m->B == 0)
        return get_small(m, k, klen);
    return get_str_hashed(m, k, klen, gort__map_hash_str(m, k, klen));
}

/* Equality of two keys of 4 to 32 bytes with overlapping word loads. */
static inline __attribute__((always_inline)) bool
str_eq_4to32(const char *a, const char *b, size_t n)
{
    if (n > 16)
        return ((gort__load64(a) ^ gort__load64(b)) |
                (gort__load64(a + 8) ^ gort__load64(b + 8)) |
                (gort__load64(a + n - 16) ^ gort__load64(b + n - 16)) |
                (gort__load64(a + n - 8) ^ gort__load64(b + n - 8))) == 0;
    if (n >= 8)
        return ((gort__load64(a) ^ gort__load64(b)) |
                (gort__load64(a + n - 8) ^ gort__load64(b + n - 8))) == 0;
    return ((gort__load32(a) ^ gort__load32(b)) |
            (gort__load32(a + n - 4) ^ gort__load32(b + n - 4))) == 0;
}

/* The fast paths' first steps once their flags test passed: the key's
 * hash, its first bucket (its lines prefetched), that bucket's tophash
 * word, and the key's tophash.  Lookups and writes alike (a lookup does
 * not write through b); the caller reports its access in race mode.
 *
 * A write (@write) marks itself as Go's mapassign_faststr does: after
 * the hash, before the first read of the bucket.  The tophash word then
 * cannot be stale by a whole write of another thread that the flag would
 * not see (a write that ran between a read of the word and the flag,
 * then the insert into the slot it saw empty: the other writer's entry
 * overwritten, the count wrong, nothing reported).  A write that gives
 * up for the general path undoes the mark first (abandon_write). */
typedef struct fast_probe {
    uint64_t hash;
    uint8_t *b;
    gort__tophash8 th;
    uint64_t top;
    size_t i; /* the first candidate slot, or GORT__MAP_BUCKET_CNT */
} fast_probe;

static inline __attribute__((always_inline)) fast_probe
fast_probe_bucket(const gort_map *m, const char *k, size_t klen, bool write)
{
    fast_probe p;
    p.hash = gort__hash_str_keyed(m, k, klen);
    if (write)
        gort__map_write_begin_plain((gort_map *)m);
    p.b = gort__map_bucket_at(m, m->buckets, p.hash & m->mask);
    /* No prefetch of the bucket's other lines (the general paths have
     * one): once the tophash compare is a few instructions, the
     * prefetches cost lookups more than the overlap they bought.  In
     * bench_map --floor, the same inline lookup with and without them,
     * interleaved in one process, took 2-15% less time without in each
     * of 5 rounds at 10^6 keys and each of 4 at 10^5; a miss needs only
     * the tophash line.  A write's stores wait in the store buffer for
     * their lines without holding up the instructions after them: a
     * hinted fill of 10^6 keys took about 10% less time without. */
    p.top = gort__map_tophash64(p.hash);
    p.th = gort__th_load(p.b);
    p.i = gort__th_find(p.th, p.top);
    return p;
}

/* The fast path of a str map (gort_map_get_str's, for 24-byte slots):
 * the same steps, the slot compared as gort__strslot_matches does, with
 * the word compares of 4 to 32 bytes (a key of up to 23 bytes: its tag
 * byte, then the bytes in the bucket; a longer one: its copy).  Reached
 * by a tail call, with m, k and klen checked as the fast path does. */
static __attribute__((noinline)) const void *
get_str_slots(const gort_map *m, const char *k, size_t klen)
{
    if (GORT_UNLIKELY((gort__map_load_flags(m) &
                       (GORT__MAP_WRITING | GORT__MAP_GROWING |
                        GORT__MAP_NO_FAST_STR | GORT__MAP_STR_SLOTS)) !=
                      GORT__MAP_STR_SLOTS))
        return get_str_general(m, k, klen);
    /* gort_map_get_str checked 4 <= klen <= 32.  Told so, GCC drops the
     * other cases of the hash and needs no callee-saved registers (two
     * pushes and pops otherwise, GCC 12). */
    GORT_ASSERT(klen - 4 <= 28);
    if (klen - 4 > 28)
        __builtin_unreachable();
    GORT__MAP_RACE_READ(m);
    fast_probe p = fast_probe_bucket(m, k, klen, false);
    const uint8_t *b = p.b;
    size_t i = p.i;
    if (GORT_LIKELY(i < GORT__MAP_BUCKET_CNT)) {
        const uint8_t *slot = STRSLOT(b, i);
        uint8_t tag = gort__strslot_tag(slot);
        if (klen <= GORT__STRSLOT_INLINE_MAX) {
            if (GORT_LIKELY(tag == (uint8_t)(GORT__STRSLOT_INLINE | klen)) &&
                str_eq_4to32((const char *)slot, k, klen))
                return gort__map_val32(m, b, i);
        } else if (GORT_LIKELY(tag == 0)) {
            const gort__strkey *sk = &((const gort__strslot *)slot)->out;
            if (GORT_LIKELY(sk->len == klen) &&
                (sk->p == k || str_eq_4to32(sk->p, k, klen)))
                return gort__map_val32(m, b, i);
        }
    } else if (GORT_LIKELY(gort__map_chain_ends(b))) {
        return NULL; /* emptyRest: the chain ends here */
    }
    return get_hashed_str(m, k, klen, p.hash);
}

/* The lookup of a key of 4 to 32 bytes in a str/strref map of more than
 * one bucket, not growing, no write in progress (the WORKLOAD keys are
 * 16 to 32 bytes).  It does the common case only: hash, one bucket, its
 * first candidate slot (tophash false positives are 1 in 32) or its
 * emptyRest mark; anything else goes on in get_str_hashed or
 * get_str_general by a tail call.  So it calls nothing, keeps few values
 * live, and saves no registers.  A str map (24-byte slots) continues in
 * get_str_slots by a tail call, decided by the same test of flags: one
 * jump more for str maps, none for strref maps (keeping the kind in a
 * register across the hash instead cost strref lookups two pushes and
 * pops, 5 instructions in all, measured with callgrind). */
const void *gort_map_get_str(const gort_map *m, const char *k, size_t klen)
{
    /* One test and branch each (or-ing them costs more). */
    if (GORT_UNLIKELY(m == NULL))
        return get_str_general(m, k, klen);
    if (GORT_UNLIKELY(klen - 4 > 28))
        return get_str_general(m, k, klen);
    if (GORT_UNLIKELY(k == NULL))
        return get_str_general(m, k, klen);
    /* A write in progress, a growth, a one-bucket map, another kind, or
     * a str map. */
    if (GORT_UNLIKELY(gort__map_load_flags(m) &
                      (GORT__MAP_WRITING | GORT__MAP_GROWING |
                       GORT__MAP_NO_FAST_STR | GORT__MAP_STR_SLOTS)))
        return get_str_slots(m, k, klen);
    GORT__MAP_RACE_READ(m);
    fast_probe p = fast_probe_bucket(m, k, klen, false);
    const uint8_t *b = p.b;
    size_t i = p.i;
    if (GORT_LIKELY(i < GORT__MAP_BUCKET_CNT)) {
        const gort__strkey *sk = REFSLOT(b, i);
        if (GORT_LIKELY(sk->len == klen) &&
            (sk->p == k || str_eq_4to32(sk->p, k, klen)))
            return gort__map_val32(m, b, i);
    } else if (GORT_LIKELY(gort__map_chain_ends(b))) {
        return NULL; /* emptyRest: the chain ends here */
    }
    return get_hashed_ref(m, k, klen, p.hash);
}

/* Go's mapassign_faststr, the key's kind a constant.  @in is the inline
 * slot of a short key of a str map (@k then points to it). */
static inline __attribute__((always_inline)) void *
set_kind(gort_map *m, const char *k, size_t klen, const gort__strslot *in,
         unsigned kind)
{
    uint64_t hash = gort__map_hash_str(m, k, klen);
    gort__map_write_begin(m);
    if (GORT_UNLIKELY(m->buckets == NULL))
        gort__map_alloc_first(m);
    uint8_t top = gort__map_tophash(hash);
    void *val;
again:;
    size_t bucket = hash & m->mask;
    if (GORT_UNLIKELY(m->oldbuckets != NULL))
        gort__map_grow_work(m, bucket);
    uint8_t *b = gort__map_bucket_at(m, m->buckets, bucket);
    gort__map_prefetch_bucket(m, b);
    uint8_t *ins = NULL;
    unsigned ins_i = 0;
    for (;;) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = gort__swar_match(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            if (slot_matches_w(kind, key_slot(kind, b, i), in, k, klen)) {
                /* Existing key: its stored bytes stay (see map.h). */
                val = gort__map_val(m, b, i);
                goto done;
            }
        }
        gort__map_note_empty(w, b, &ins, &ins_i);
        if (gort__swar_zero(w) != 0)
            break;
        uint8_t *next = gort__map_overflow(m, b);
        if (next == NULL)
            break;
        b = next;
    }
    /* A new key.  Grow first if it would overload the table or there
     * are too many overflow buckets (unless already growing). */
    if (gort__map_needs_grow(m)) {
        gort__map_hash_grow(m);
        goto again;
    }
    if (ins == NULL) {
        ins = gort__map_newoverflow(m, b);
        ins_i = 0;
    }
    uint8_t *dst = key_slot(kind, ins, ins_i);
    if (kind == GORT__MAP_STR) {
        if (klen <= GORT__STRSLOT_INLINE_MAX) {
            memcpy(dst, in, sizeof *in);
        } else {
            gort__strslot out;
            gort__strslot_make_out(&out, gort__map_copy_key(m, k, klen), klen);
            memcpy(dst, &out, sizeof out);
        }
    } else {
        gort__strkey sk;
        sk.p = k != NULL ? k : "";
        sk.len = klen;
        memcpy(dst, &sk, sizeof sk);
    }
    ins[ins_i] = top;
    m->count++;
    val = gort__map_val(m, ins, ins_i);
done:
    gort__map_write_end(m);
    return val;
}

/* A write to a str map copies a short key into its slot form @in first
 * and reads only that copy from then on: @k may point into this map's
 * own buckets (an iterator's key, Go's `m[k] = v` or `delete(m, k)` in a
 * range loop), which the write's growth work may move or free.  Returns
 * the key bytes to use. */
static inline __attribute__((always_inline)) const char *
own_short_key(gort__strslot *in, const char *k, size_t klen)
{
    if (klen > GORT__STRSLOT_INLINE_MAX)
        return k;
    gort__strslot_make_inline(in, k, klen);
    return (const char *)in;
}

/* Every write gort_map_set_str's fast path does not take. */
static __attribute__((noinline)) void *
set_str_general(gort_map *m, const char *k, size_t klen)
{
    if (GORT_UNLIKELY(m == NULL))
        gort_panic_err(&gort_err_nil_map_write);
    GORT__MAP_RACE_WRITE(m);
    check_args(m, k, klen, "gort_map_set_str");
    gort__map_check_write(m);
    if (m->kind == GORT__MAP_STR) {
        gort__strslot in;
        k = own_short_key(&in, k, klen);
        return set_kind(m, k, klen, &in, GORT__MAP_STR);
    }
    return set_kind(m, k, klen, NULL, GORT__MAP_STRREF);
}

/* Go's mapdelete_faststr, the key's kind a constant; @in as set_kind. */
static inline __attribute__((always_inline)) bool
delete_kind(gort_map *m, const char *k, size_t klen, const gort__strslot *in,
            unsigned kind)
{
    uint64_t hash = gort__map_hash_str(m, k, klen);
    gort__map_write_begin(m);
    size_t bucket = hash & m->mask;
    if (GORT_UNLIKELY(m->oldbuckets != NULL))
        gort__map_grow_work(m, bucket);
    uint8_t *borig = gort__map_bucket_at(m, m->buckets, bucket);
    gort__map_prefetch_bucket(m, borig);
    uint8_t top = gort__map_tophash(hash);
    bool found = false;
    for (uint8_t *b = borig; b != NULL; b = gort__map_overflow(m, b)) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = gort__swar_match(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            uint8_t *slot = key_slot(kind, b, i);
            if (!slot_matches_w(kind, slot, in, k, klen))
                continue;
            /* No stale key bytes or dangling pointer in an empty slot. */
            if (kind == GORT__MAP_STR) {
                if (!gort__strslot_is_inline(slot))
                    gort__map_release_key(m, (const gort__strslot *)slot);
                memset(slot, 0, sizeof(gort__strslot));
            } else {
                memset(slot, 0, sizeof(gort__strkey));
            }
            gort__map_zero_val(m, gort__map_val(m, b, i));
            gort__map_mark_deleted(m, borig, b, i);
            if (--m->count == 0)
                gort__map_emptied(m);
            found = true;
            goto out;
        }
        if (gort__swar_zero(w) != 0)
            break;
    }
out:
    gort__map_write_end(m);
    return found;
}

/* Every delete gort_map_delete_str's fast path does not take. */
static __attribute__((noinline)) bool
delete_str_general(gort_map *m, const char *k, size_t klen)
{
    if (m == NULL) {
        if (k == NULL && klen != 0)
            gort__map_panic_null_key("gort_map_delete_str", klen);
        return false;
    }
    GORT__MAP_RACE_WRITE(m);
    check_args(m, k, klen, "gort_map_delete_str");
    if (m->count == 0)
        return false;
    gort__map_check_write(m);
    if (m->kind == GORT__MAP_STR) {
        gort__strslot in;
        k = own_short_key(&in, k, klen);
        return delete_kind(m, k, klen, &in, GORT__MAP_STR);
    }
    return delete_kind(m, k, klen, NULL, GORT__MAP_STRREF);
}

/* ===================================================================
 * Write fast paths (strref maps)
 * =================================================================== */

/* Flags under which the write fast paths do not apply: a write in
 * progress or a frozen view (the general path's checks end the process),
 * a growth (growth work to do), a one-bucket map or another kind, a str
 * map, strict mode (its atomic read-modify-writes). */
#define WRITE_SLOW_FLAGS                                                      \
    (GORT__MAP_WRITING | GORT__MAP_FROZEN | GORT__MAP_GROWING |               \
     GORT__MAP_NO_FAST_STR | GORT__MAP_STR_SLOTS | GORT__MAP_STRICT)

/* The end of a fast delete, the key slot zeroed: zeroes the 8-byte value,
 * marks the slot as Go's mapdelete does (emptyOne, or emptyRest with the
 * empty run before it when nothing filled follows in the chain; @b is the
 * first bucket of its chain, so the walk back stops at slot 0), and counts
 * the entry out. */
static inline __attribute__((always_inline)) void
fast_delete_tail(gort_map *m, uint8_t *b, unsigned i)
{
    memset(gort__map_val(m, b, i), 0, 8);
    bool last = i == GORT__MAP_BUCKET_CNT - 1
                    ? gort__map_overflow(m, b) == NULL ||
                          gort__map_overflow(m, b)[0] == GORT__EMPTY_REST
                    : b[i + 1] == GORT__EMPTY_REST;
    if (!last) {
        b[i] = GORT__EMPTY_ONE;
    } else {
        for (;;) {
            b[i] = GORT__EMPTY_REST;
            if (i == 0 || b[i - 1] != GORT__EMPTY_ONE)
                break;
            i--;
        }
    }
    m->count--;
}

/* A fast write that gives up for the general path undoes its mark
 * (fast_probe_bucket), checked as the end of any write is: a flag
 * another writer cleared meanwhile is Go's "concurrent map writes". */
static inline __attribute__((always_inline)) void abandon_write(gort_map *m)
{
    gort__map_write_end_plain(m);
}

/* Whether the key slot @i of @b holds the key (k, klen), 4 <= klen <=
 * 32: a str map's 24-byte slot (@slots) or a strref map's string
 * header. */
static inline __attribute__((always_inline)) bool
fast_slot_matches(const uint8_t *b, unsigned i, const char *k, size_t klen,
                  bool slots)
{
    if (slots)
        return gort__strslot_matches(STRSLOT(b, i), k, klen);
    const gort__strkey *sk = REFSLOT(b, i);
    return sk->len == klen && (sk->p == k || str_eq_4to32(sk->p, k, klen));
}

/* What the set fast paths of both kinds do once their flags test
 * passed: the key's first bucket, the key in its first candidate slot,
 * or no candidate and an emptyRest mark (absent from the whole chain)
 * and a new key that needs no growth first; anything else goes to the
 * general path by a tail call, the writing flag undone.  @slots, a
 * constant in each caller, picks the slot form, so each gets code of its
 * own.  A str map's key may point into one of its slots (an iterator's
 * key): it is compared, then copied into the inline form before anything
 * is written, and no growth work runs here to move it. */
static inline __attribute__((always_inline)) void *
set_fast(gort_map *m, const char *k, size_t klen, bool slots)
{
    GORT__MAP_RACE_WRITE(m);
    fast_probe p = fast_probe_bucket(m, k, klen, true);
    uint8_t *b = p.b;
    size_t i = p.i;
    if (i < GORT__MAP_BUCKET_CNT) {
        if (GORT_UNLIKELY(!fast_slot_matches(b, i, k, klen, slots))) {
            abandon_write(m);
            return set_str_general(m, k, klen);
        }
        /* An existing key: its stored bytes stay (see map.h). */
        gort__map_write_end_plain(m);
        return gort__map_val32(m, b, i);
    }
    /* The chain may go on, or the new entry needs a growth first. */
    if (GORT_UNLIKELY(!gort__map_chain_ends(b) ||
                      m->count >= m->insert_limit)) {
        abandon_write(m);
        return set_str_general(m, k, klen);
    }
    /* A new key, in the first empty slot of its first bucket (an
     * emptyRest slot exists, so one does); its value slot is zero
     * (delete zeroes the values it empties). */
    i = gort__th_first_empty(p.th);
    if (slots) {
        gort__strslot in;
        gort__strslot_make_inline(&in, k, klen);
        memcpy(STRSLOT(b, i), &in, sizeof in);
    } else {
        gort__strkey sk = {k, klen};
        memcpy((void *)REFSLOT(b, i), &sk, sizeof sk);
    }
    b[i] = (uint8_t)p.top;
    m->count++;
    gort__map_write_end_plain(m);
    return gort__map_val32(m, b, i);
}

/* The delete fast paths' common part, as set_fast: the key in its first
 * bucket's first candidate slot is emptied, or no candidate and an
 * emptyRest mark report it absent.  The key may point into the slot it
 * empties; it is not read after the compare. */
static inline __attribute__((always_inline)) bool
delete_fast(gort_map *m, const char *k, size_t klen, bool slots)
{
    GORT__MAP_RACE_WRITE(m);
    fast_probe p = fast_probe_bucket(m, k, klen, true);
    uint8_t *b = p.b;
    size_t i = p.i;
    if (i >= GORT__MAP_BUCKET_CNT) {
        if (GORT_UNLIKELY(!gort__map_chain_ends(b))) {
            abandon_write(m); /* the chain may go on */
            return delete_str_general(m, k, klen);
        }
        /* Absent: Go marks the write all the same. */
        gort__map_write_end_plain(m);
        return false;
    }
    if (GORT_UNLIKELY(!fast_slot_matches(b, i, k, klen, slots))) {
        abandon_write(m);
        return delete_str_general(m, k, klen);
    }
    /* No stale key bytes, no dangling pointer in an empty slot. */
    if (slots)
        memset(STRSLOT(b, i), 0, sizeof(gort__strslot));
    else
        memset((void *)REFSLOT(b, i), 0, sizeof(gort__strkey));
    fast_delete_tail(m, b, i);
    gort__map_write_end_plain(m);
    return true;
}

/* The set fast path of a str map (24-byte slots), reached from
 * gort_map_set_str's test of flags by a tail call: as the strref one,
 * for keys short enough to be stored inline (a new longer key needs its
 * copy made: the general path). */
static __attribute__((noinline)) void *
set_str_slots(gort_map *m, const char *k, size_t klen)
{
    if (GORT_UNLIKELY((gort__map_load_flags(m) & WRITE_SLOW_FLAGS) !=
                      GORT__MAP_STR_SLOTS))
        return set_str_general(m, k, klen);
    /* A longer key is more often new than not: no hash here that the
     * general path would compute again. */
    if (GORT_UNLIKELY(klen > GORT__STRSLOT_INLINE_MAX))
        return set_str_general(m, k, klen);
    GORT_ASSERT(klen - 4 <= GORT__STRSLOT_INLINE_MAX - 4);
    if (klen - 4 > GORT__STRSLOT_INLINE_MAX - 4)
        __builtin_unreachable();
    return set_fast(m, k, klen, true);
}

/* The delete fast path of a str map, for keys stored inline (the copy of
 * a longer key is released by the general path): as the strref one. */
static __attribute__((noinline)) bool
delete_str_slots(gort_map *m, const char *k, size_t klen)
{
    if (GORT_UNLIKELY((gort__map_load_flags(m) & WRITE_SLOW_FLAGS) !=
                      GORT__MAP_STR_SLOTS))
        return delete_str_general(m, k, klen);
    if (GORT_UNLIKELY(klen > GORT__STRSLOT_INLINE_MAX || m->count <= 1 ||
                      m->val_stride != 8))
        return delete_str_general(m, k, klen);
    GORT_ASSERT(klen - 4 <= GORT__STRSLOT_INLINE_MAX - 4);
    if (klen - 4 > GORT__STRSLOT_INLINE_MAX - 4)
        __builtin_unreachable();
    return delete_fast(m, k, klen, true);
}

/* The common write of a strref map, without a call or a saved register
 * (as gort_map_get_str): a key of 4 to 32 bytes, a map of more than one
 * bucket, not growing, not strict.  It hashes, and in the key's first
 * bucket either finds the key in the first candidate slot, or finds no
 * candidate and an emptyRest mark (the key is absent from the whole
 * chain) and puts it in the bucket's first empty slot, unless the new
 * entry needs a growth first.  Everything else goes to set_str_general
 * by a tail call, before anything changed.  callgrind, 1000 WORKLOAD
 * keys inserted into a hinted map and deleted, 100 times: 179 -> 106
 * instructions per insert, 157 -> 111 per delete (the general paths
 * alone against the fast paths with their fallbacks). */
void *gort_map_set_str(gort_map *m, const char *k, size_t klen)
{
    /* One test and branch each (a helper returning one condition cost
     * 6 to 12 instructions per write: GCC 12 merges the tests). */
    if (GORT_UNLIKELY(m == NULL))
        return set_str_general(m, k, klen);
    if (GORT_UNLIKELY(klen - 4 > 28))
        return set_str_general(m, k, klen);
    if (GORT_UNLIKELY(k == NULL))
        return set_str_general(m, k, klen);
    /* A str map, or anything for the general path. */
    if (GORT_UNLIKELY(gort__map_load_flags(m) & WRITE_SLOW_FLAGS))
        return set_str_slots(m, k, klen);
    return set_fast(m, k, klen, false);
}

/* The common delete of a strref map, under the conditions of the set
 * fast path, 8-byte values, and at least two entries (a map that becomes
 * empty gets a new seed, gort__map_emptied): the key in the first
 * candidate slot of its first bucket, or no candidate and an emptyRest
 * mark there (absent).  The slot is emptied as Go's mapdelete_faststr
 * does, within the bucket: it is the first of its chain, so the emptyRest
 * walk back stops at its slot 0. */
bool gort_map_delete_str(gort_map *m, const char *k, size_t klen)
{
    /* One test and branch each (a helper returning one condition cost
     * 6 to 12 instructions per write: GCC 12 merges the tests). */
    if (GORT_UNLIKELY(m == NULL))
        return delete_str_general(m, k, klen);
    if (GORT_UNLIKELY(klen - 4 > 28))
        return delete_str_general(m, k, klen);
    if (GORT_UNLIKELY(k == NULL))
        return delete_str_general(m, k, klen);
    if (GORT_UNLIKELY(gort__map_load_flags(m) & WRITE_SLOW_FLAGS))
        return delete_str_slots(m, k, klen);
    if (GORT_UNLIKELY(m->count <= 1 || m->val_stride != 8))
        return delete_str_general(m, k, klen);
    return delete_fast(m, k, klen, false);
}
