/*
 * map_internal.h - private layout of gort_map (Go's hmap and bmap) and
 * the helpers its source files share: map.c (lifecycle, growth, generic
 * keys, clear, debug), map_fast_str.c and map_fast_u64.c (the specialised
 * hot paths, Go's map_faststr.go and map_fast64.go), map_iter.c (hiter)
 * and hash.c (seeds, per-thread random numbers).
 *
 * Never included from include/gort/.  docs/design/map.md draws the
 * layout and explains the invariants stated in the field comments below.
 */
#ifndef GORT_MAP_INTERNAL_H
#define GORT_MAP_INTERNAL_H

#include <gort/map.h>

#include "runtime_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

/* xxHash from the system package (libxxhash-dev), inlined: the hash of a
 * 16-32 byte key is a handful of multiplications, and a call through the
 * PLT would cost as much again. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* GORT_MAP_NOCHECK (a compile definition of the library) compiles the
 * hashWriting checks out, for the benchmark that measures their cost.
 * Never for real use. */

/* ===================================================================
 * Constants (Go's map.go names in the comments)
 * =================================================================== */

enum {
    GORT__MAP_BUCKET_BITS = 3,                           /* bucketCntBits */
    GORT__MAP_BUCKET_CNT = 1 << GORT__MAP_BUCKET_BITS,   /* bucketCnt */
};

/* Tophash values below GORT__MIN_TOPHASH are marks (Go's emptyRest ...). */
enum {
    GORT__EMPTY_REST = 0,  /* empty, and so is every later slot of the chain */
    GORT__EMPTY_ONE = 1,   /* empty */
    GORT__EVAC_X = 2,      /* entry moved to the first half of the new array */
    GORT__EVAC_Y = 3,      /* entry moved to the second half */
    GORT__EVAC_EMPTY = 4,  /* empty, and the bucket is evacuated */
    GORT__MIN_TOPHASH = 5, /* smallest tophash of a filled slot */
};

/* gort_map.flags (relaxed atomics only). */
enum {
    GORT__MAP_WRITING = 4, /* hashWriting: a write is in progress */
    GORT__MAP_FROZEN = 8,  /* a published read-only view (gort_snapmap):
                              every write path ends the process */
    /* Summaries of the header for the lookup fast paths, so that one
     * test of flags (which a lookup loads anyway for hashWriting) tells
     * them whether they apply.  Changed by writers only. */
    GORT__MAP_GROWING = 16,     /* oldbuckets != NULL */
    GORT__MAP_NO_FAST_STR = 32, /* not a str/strref map, or B == 0 */
    GORT__MAP_STR_SLOTS = 64,   /* a str map: 24-byte key slots
                                   (gort__strslot); constant */
    GORT__MAP_STRICT = 128,     /* m->strict (GORTDEBUG=mapstrict): the
                                   write fast paths do not apply; constant */
};

/* gort_map.iter_flags (relaxed atomics only): Go's iterator/oldIterator. */
enum {
    GORT__MAP_ITER = 1,     /* an iterator may use the current array */
    GORT__MAP_OLD_ITER = 2, /* one may use oldbuckets: keep it when done */
};

/* Key kinds. */
enum {
    GORT__MAP_STR = 0,     /* string keys, copied (gort_map_new_str) */
    GORT__MAP_STRREF = 1,  /* string keys, borrowed */
    GORT__MAP_U64 = 2,     /* uint64_t keys */
    GORT__MAP_GENERIC = 3, /* user keys with user hash/equal */
};

/* A strref map's key slot: Go's string header, pointing to the caller's
 * bytes.  Also the first 16 bytes of an out-of-line str key slot. */
typedef struct gort__strkey {
    const char *p; /* key bytes; never NULL (an empty key points to "") */
    size_t len;    /* length | GORT__STRKEY_SHARED */
} gort__strkey;

_Static_assert(sizeof(gort__strkey) == 16, "Go's string header: 2 words");

/* Set in gort__strkey.len of a copied key that an old bucket array kept
 * for iterators may still point to: deleting the entry must not free the
 * copy (it goes to the deferred list instead).  Only in out-of-line str
 * key slots. */
#define GORT__STRKEY_SHARED ((size_t)1 << (sizeof(size_t) * 8 - 1))
#define GORT__STRKEY_LEN(sk) ((sk)->len & ~GORT__STRKEY_SHARED)

/* A str map's key slot (gort_map_new_str): 24 bytes, in one of two
 * forms told apart by byte 23 (GORT__STRSLOT_TAG):
 *
 *   inline, keys of 0..23 bytes:   bytes 0..22 the key, zero-padded;
 *                                  byte 23 = 0x80 | length
 *   out of line, keys of 24+:      {p, len | SHARED} (a gort__strkey:
 *                                  a copy the map owns), then 8 zero
 *                                  bytes, so byte 23 is 0
 *
 * A lookup of a short key then compares bytes in the bucket it has
 * already fetched instead of following a pointer to a copy (one cache
 * miss less on a map bigger than the cache), and inserting or deleting
 * one allocates or frees nothing.  The zero padding makes two inline
 * slots of equal keys equal as 24 bytes.  The form follows from the
 * length alone, so equal keys always have the same form.  Only the
 * accessors below read or write these slots. */
typedef struct gort__strslot {
    gort__strkey out; /* out of line: the copy; inline: bytes 0..15 */
    uint64_t tail;    /* out of line: 0; inline: bytes 16..23 */
} gort__strslot;

_Static_assert(sizeof(gort__strslot) == 24, "three words");

enum {
    GORT__STRSLOT_INLINE_MAX = 23, /* longest key stored inline */
    GORT__STRSLOT_TAG = 23,        /* offset of the form/length byte */
    GORT__STRSLOT_INLINE = 0x80,   /* tag bit of the inline form */
};

/* Overflow buckets beyond the preallocated ones come in chunks of
 * several buckets (one allocation, no per-bucket malloc header), each
 * chunk belonging to the bucket array that was current when it was
 * allocated: an array and its chunks are freed together. */
typedef struct gort__map_chunk {
    struct gort__map_chunk *next; /* older chunk of the same array */
    size_t nbuckets;              /* buckets that follow this header */
} gort__map_chunk;                /* 16 bytes: buckets stay 16-aligned */

#define GORT__CHUNK_BUCKETS(c) ((uint8_t *)(c) + sizeof(gort__map_chunk))

/* An old bucket array kept for iterators until clear/free (or until the
 * map becomes empty), with its overflow chunks. */
typedef struct gort__map_array {
    struct gort__map_array *next; /* next retired array, NULL at the end */
    uint8_t *buckets;             /* the allocation */
    size_t nmain;                 /* 2^B of that array */
    size_t nalloc;                /* nmain + preallocated overflow buckets */
    gort__map_chunk *chunks;      /* its overflow chunks */
} gort__map_array;

/* ===================================================================
 * The map header (Go's hmap)
 * =================================================================== */

struct gort_map {
    /* First cache line: everything a lookup reads. */
    size_t count;          /* live entries; Go's len() */
    uint8_t *buckets;      /* 2^B buckets (+ preallocated overflow); NULL
                              until the first insertion when B == 0 */
    uint8_t *oldbuckets;   /* array being evacuated, NULL when not growing */
    uint64_t hash0;        /* hash seed; new on clear and on count -> 0 */
    size_t mask;           /* 2^B - 1: the bucket of a hash is hash & mask */
    uint32_t bucket_size;  /* bytes per bucket, multiple of 8 (16) */
    uint32_t val_off;      /* offset of the 8 values in a bucket */
    uint32_t val_stride;   /* bytes per value slot (val_size rounded up) */
    uint32_t key_stride;   /* bytes per key slot: 24 str, 16 strref, 8
                              u64, key_size */
    uint8_t B;             /* log2 of the number of buckets, < 64 */
    uint8_t flags;         /* GORT__MAP_WRITING; relaxed atomics only */
    uint8_t kind;          /* GORT__MAP_STR ... GORT__MAP_GENERIC */
    uint8_t same_size;     /* the growth in progress keeps B (sameSizeGrow) */
    uint8_t iter_flags;    /* GORT__MAP_ITER | _OLD_ITER; relaxed atomics */
    uint8_t strict;        /* GORTDEBUG=mapstrict: atomic RMW on flags */
    uint16_t noverflow;    /* overflow buckets of the current array; exact
                              when B < 16, a 1/2^(B-15) sample above */

    /* Second cache line: the seed folded into XXH3's secret words for
     * keys of 4 to 32 bytes (gort__map_set_seed), so that the lookup
     * fast path does one load per word instead of an add. */
    uint64_t hkey[7];
    size_t insert_limit;   /* the set fast paths add a key only while
                              count < insert_limit: the load factor allows
                              one more and there are not too many overflow
                              buckets (gort__map_update_insert_limit) */

    /* Colder fields: writers, growth, iteration, debug. */
    uint32_t keys_off;     /* offset of the 8 keys (8, or 16 for keys
                              aligned to 16) */
    uint32_t val_size;     /* bytes copied per value, <= val_stride */
    size_t nevacuate;      /* old buckets below this are evacuated */
    size_t nalloc;         /* buckets allocated with the current array */
    size_t old_nalloc;     /* same for oldbuckets */
    uint8_t *next_overflow;/* next free overflow bucket of the current
                              array (preallocated or in its newest
                              chunk), or NULL */
    uint64_t clear_seq;    /* bumped by clear and when count drops to 0:
                              iterators started before stop */
    uint64_t iter_epoch;   /* bumped with clear_seq, and when what was
                              kept for iterators is released: an
                              iterator's step compares one word */
    size_t live_iters;     /* iterations begun since the last release
                              and neither at their end nor ended by
                              gort_map_iter_end; relaxed atomics (readers
                              update it concurrently) */
    uint64_t id;           /* unique per map: iterator fingerprint */
    gort_map_type type;    /* generic kind: the user's type */
    gort__map_array *retired; /* arrays kept for iterators, newest first */
    char **deferred;       /* str: key copies whose free waits for clear */
    size_t ndeferred, cap_deferred;
    size_t key_bytes;      /* str: bytes of live key copies */
    size_t deferred_bytes; /* str: bytes of deferred key copies */
    gort__map_chunk *chunks;     /* overflow chunks of the current array */
    gort__map_chunk *old_chunks; /* same for oldbuckets */
    uint8_t *scratch;      /* generic growth: evacuation decisions */
    size_t scratch_cap;
    /* Race mode: every operation reports to TSan a plain read or write
     * of this word, so that two goroutines using the map without a
     * happens-before edge are reported (Go's racereadpc/racewritepc).
     * A word of its own, away from the atomically accessed bytes. */
    uint64_t race_probe;
};

/* ===================================================================
 * Race mode
 * =================================================================== */

#ifdef GORT__TSAN
void __tsan_read8(void *addr);
void __tsan_write8(void *addr);
#define GORT__MAP_RACE_READ(m) __tsan_read8((void *)&(m)->race_probe)
#define GORT__MAP_RACE_WRITE(m) __tsan_write8((void *)&(m)->race_probe)
#else
#define GORT__MAP_RACE_READ(m) ((void)0)
#define GORT__MAP_RACE_WRITE(m) ((void)0)
#endif

/* ===================================================================
 * Misuse detection (Go's hashWriting)
 * =================================================================== */

_Noreturn void gort__map_fatal_read(void);  /* concurrent map read and map write */
_Noreturn void gort__map_fatal_write(void); /* concurrent map writes */
_Noreturn void gort__map_fatal_iter(void);  /* concurrent map iteration and map write */
/* A writer found WRITING or FROZEN set: names which. */
_Noreturn void gort__map_fatal_write_check(const gort_map *m);

/* Freezes or thaws @m (the snapshot map's writer, which alone may write
 * a copy no reader can see).  Not for concurrent use with other writers
 * of @m. */
void gort__map_set_frozen(gort_map *m, bool frozen);

static inline uint8_t gort__map_load_flags(const gort_map *m)
{
    return __atomic_load_n(&m->flags, __ATOMIC_RELAXED);
}

static inline void gort__map_update_insert_limit(gort_map *m);

/* Sets the GROWING, NO_FAST_STR, STR_SLOTS and STRICT summaries and
 * insert_limit from the header (writers, after changing B, oldbuckets or
 * at creation), keeping the other bits. */
static inline void gort__map_update_summary(gort_map *m)
{
    gort__map_update_insert_limit(m);
    uint8_t f = gort__map_load_flags(m);
    f &= (uint8_t)~(GORT__MAP_GROWING | GORT__MAP_NO_FAST_STR);
    if (m->oldbuckets != NULL)
        f |= GORT__MAP_GROWING;
    if (m->kind > GORT__MAP_STRREF || m->B == 0)
        f |= GORT__MAP_NO_FAST_STR;
    if (m->kind == GORT__MAP_STR)
        f |= GORT__MAP_STR_SLOTS;
    if (m->strict)
        f |= GORT__MAP_STRICT;
    __atomic_store_n(&m->flags, f, __ATOMIC_RELAXED);
}

/* Readers: get, iteration. */
static inline void gort__map_check_read(const gort_map *m)
{
#ifndef GORT_MAP_NOCHECK
    if (GORT_UNLIKELY(gort__map_load_flags(m) & GORT__MAP_WRITING))
        gort__map_fatal_read();
#else
    (void)m;
#endif
}

/* Writers, at the start (before hashing).  One test covers both a
 * concurrent writer and a frozen view. */
static inline void gort__map_check_write(const gort_map *m)
{
#ifndef GORT_MAP_NOCHECK
    if (GORT_UNLIKELY(gort__map_load_flags(m) &
                      (GORT__MAP_WRITING | GORT__MAP_FROZEN)))
        gort__map_fatal_write_check(m);
#else
    (void)m;
#endif
}

/* gort__map_write_begin and _end without strict mode: Go's h.flags ^=
 * hashWriting (a racing writer that set the flag in between finds it
 * cleared at its end), and at the end the check that the flag is still
 * set.  The write fast paths, which exclude strict maps by their test of
 * flags, use these directly. */
static inline __attribute__((always_inline)) void
gort__map_write_begin_plain(gort_map *m)
{
#ifndef GORT_MAP_NOCHECK
    __atomic_store_n(&m->flags, gort__map_load_flags(m) ^ GORT__MAP_WRITING,
                     __ATOMIC_RELAXED);
#else
    (void)m;
#endif
}

static inline __attribute__((always_inline)) void
gort__map_write_end_plain(gort_map *m)
{
#ifndef GORT_MAP_NOCHECK
    uint8_t f = gort__map_load_flags(m);
    if (GORT_UNLIKELY(!(f & GORT__MAP_WRITING)))
        gort__map_fatal_write();
    __atomic_store_n(&m->flags, (uint8_t)(f & ~GORT__MAP_WRITING),
                     __ATOMIC_RELAXED);
#else
    (void)m;
#endif
}

/* Marks the write (after hashing: a user hash may panic before anything
 * changed).  Strict mode makes it an atomic RMW, so of two overlapping
 * writers one always sees the other. */
static inline void gort__map_write_begin(gort_map *m)
{
#ifndef GORT_MAP_NOCHECK
    if (GORT_UNLIKELY(m->strict)) {
        if (__atomic_fetch_or(&m->flags, GORT__MAP_WRITING, __ATOMIC_RELAXED) &
            GORT__MAP_WRITING)
            gort__map_fatal_write();
        return;
    }
#endif
    gort__map_write_begin_plain(m);
}

/* Ends the write: the flag must still be set. */
static inline void gort__map_write_end(gort_map *m)
{
#ifndef GORT_MAP_NOCHECK
    if (GORT_UNLIKELY(m->strict)) {
        if (!(__atomic_fetch_and(&m->flags, (uint8_t)~GORT__MAP_WRITING,
                                 __ATOMIC_RELAXED) &
              GORT__MAP_WRITING))
            gort__map_fatal_write();
        return;
    }
#endif
    gort__map_write_end_plain(m);
}

/* ===================================================================
 * Bucket layout (Go's bmap): tophash[8], keys[8], values[8], overflow
 * =================================================================== */

static inline size_t gort__map_bucket_shift(unsigned B)
{
    return (size_t)1 << (B & 63);
}

static inline size_t gort__map_bucket_mask(unsigned B)
{
    return gort__map_bucket_shift(B) - 1;
}

static inline uint8_t *gort__map_bucket_at(const gort_map *m,
                                           const uint8_t *array, size_t i)
{
    return (uint8_t *)array + i * m->bucket_size;
}

static inline uint8_t *gort__map_overflow(const gort_map *m, const uint8_t *b)
{
    uint8_t *ovf;
    memcpy(&ovf, b + m->bucket_size - sizeof ovf, sizeof ovf);
    return ovf;
}

static inline void gort__map_set_overflow(const gort_map *m, uint8_t *b,
                                          uint8_t *ovf)
{
    memcpy(b + m->bucket_size - sizeof ovf, &ovf, sizeof ovf);
}

static inline uint8_t *gort__map_key(const gort_map *m, const uint8_t *b,
                                     size_t i)
{
    return (uint8_t *)b + m->keys_off + i * m->key_stride;
}

static inline uint8_t *gort__map_val(const gort_map *m, const uint8_t *b,
                                     size_t i)
{
    return (uint8_t *)b + m->val_off + i * m->val_stride;
}

/* The same in 32-bit arithmetic (one instruction fewer: no zero
 * extension of the two fields): a bucket's size, and so every offset in
 * it, fits in 32 bits. */
static inline uint8_t *gort__map_val32(const gort_map *m, const uint8_t *b,
                                       size_t i)
{
    return (uint8_t *)b + (uint32_t)(m->val_off + (uint32_t)i * m->val_stride);
}

/* The top byte of the hash, moved above the marks (Go's tophash). */
static inline uint8_t gort__map_tophash(uint64_t hash)
{
    uint8_t top = (uint8_t)(hash >> 56);
    return top < GORT__MIN_TOPHASH ? (uint8_t)(top + GORT__MIN_TOPHASH) : top;
}

/* The same in a whole register: no zero extension on a fast path. */
static inline uint64_t gort__map_tophash64(uint64_t hash)
{
    uint64_t top = hash >> 56;
    return top < GORT__MIN_TOPHASH ? top + GORT__MIN_TOPHASH : top;
}

static inline bool gort__map_is_empty(uint8_t top)
{
    return top <= GORT__EMPTY_ONE;
}

/* Whether an old bucket has been moved (its first tophash is a mark). */
static inline bool gort__map_evacuated(const uint8_t *b)
{
    return b[0] > GORT__EMPTY_ONE && b[0] < GORT__MIN_TOPHASH;
}

static inline size_t gort__map_noldbuckets(const gort_map *m)
{
    return gort__map_bucket_shift(m->same_size ? m->B : m->B - 1u);
}

static inline size_t gort__map_oldbucket_mask(const gort_map *m)
{
    return gort__map_noldbuckets(m) - 1;
}

/* The bucket a lookup of @hash starts at: the old one while it has not
 * been evacuated (Go's mapaccess). */
static inline const uint8_t *gort__map_lookup_bucket(const gort_map *m,
                                                     uint64_t hash)
{
    size_t mask = m->mask;
    const uint8_t *b = gort__map_bucket_at(m, m->buckets, hash & mask);
    if (GORT_UNLIKELY(m->oldbuckets != NULL)) {
        if (!m->same_size)
            mask >>= 1;
        const uint8_t *ob = gort__map_bucket_at(m, m->oldbuckets, hash & mask);
        if (!gort__map_evacuated(ob))
            b = ob;
    }
    return b;
}

/* Go's overLoadFactor: count entries in 2^B buckets exceed 6.5 per bucket. */
static inline bool gort__map_over_load(size_t count, unsigned B)
{
    return count > GORT__MAP_BUCKET_CNT &&
           count > 13 * (gort__map_bucket_shift(B) / 2);
}

/* Go's tooManyOverflowBuckets: about as many overflow buckets as buckets. */
static inline bool gort__map_too_many_overflow(uint16_t noverflow, unsigned B)
{
    if (B > 15)
        B = 15;
    return noverflow >= (uint16_t)(1u << (B & 15));
}

/* Recomputes insert_limit after B or noverflow changed: the count below
 * which adding a key needs no growth (Go's mapassign test, without "not
 * growing", which the fast path tests in flags), 0 when there are too many
 * overflow buckets (the next new key starts a same-size growth). */
static inline void gort__map_update_insert_limit(gort_map *m)
{
    size_t limit = 13 * (gort__map_bucket_shift(m->B) / 2);
    if (limit < GORT__MAP_BUCKET_CNT)
        limit = GORT__MAP_BUCKET_CNT;
    if (gort__map_too_many_overflow(m->noverflow, m->B))
        limit = 0;
    m->insert_limit = limit;
}

/* ===================================================================
 * SWAR over the 8 tophash bytes of a bucket, read as one word
 * =================================================================== */

#define GORT__SWAR_LO 0x0101010101010101ull
#define GORT__SWAR_HI 0x8080808080808080ull

static inline uint64_t gort__swar_load(const uint8_t *b)
{
    uint64_t w;
    memcpy(&w, b, sizeof w);
    return w;
}

/* High bit set in each byte of @w that is zero.  The lowest set bit is
 * exact; a higher one may be a false positive only above a true zero
 * (the borrow), which callers tolerate: they verify each candidate. */
static inline uint64_t gort__swar_zero(uint64_t w)
{
    return (w - GORT__SWAR_LO) & ~w & GORT__SWAR_HI;
}

/* Candidate slots whose tophash is @top. */
static inline uint64_t gort__swar_match(uint64_t w, uint8_t top)
{
    return gort__swar_zero(w ^ (GORT__SWAR_LO * top));
}

/* Slots that are empty (emptyRest or emptyOne): the lowest is exact. */
static inline uint64_t gort__swar_empty(uint64_t w)
{
    return gort__swar_zero(w & 0xFEFEFEFEFEFEFEFEull);
}

static inline unsigned gort__swar_index(uint64_t bits)
{
    return (unsigned)__builtin_ctzll(bits) >> 3; /* little-endian */
}

/* Whether the chain ends in bucket @b: whether a slot of it is emptyRest,
 * told by its last slot alone.  emptyRest marks are a suffix of the
 * whole chain (Go's invariant, kept by delete's walk back and checked
 * by gort__map_verify: "early emptyRest", "late non-emptyRest"), so a
 * bucket holds one exactly when its slot 7 is one: a byte compare,
 * against four vector instructions for the 8 bytes. */
static inline bool gort__map_chain_ends(const uint8_t *b)
{
    return b[GORT__MAP_BUCKET_CNT - 1] == GORT__EMPTY_REST;
}

/* The lookup fast paths' form of the same tests (map_fast_str.c): the 8
 * tophash bytes in the low half of an SSE2 register, compared byte by
 * byte (pcmpeqb, pmovmskb).  The answer is exact (no borrow to rule
 * out) and is the slot's index itself, so a hit takes 4 instructions
 * fewer than with the word tests above, which matters beyond its
 * issue time: at 10^6 keys a lookup waits on memory, and the shorter its
 * instruction stream, the more lookups the CPU's window overlaps
 * (docs/design/map.md, section 9).  Elsewhere than on x86-64 the word
 * tests stand in. */
#if defined(__SSE2__) && defined(__x86_64__)
typedef __m128i gort__tophash8;

static inline gort__tophash8 gort__th_load(const uint8_t *b)
{
    return _mm_loadl_epi64((const __m128i *)(const void *)b);
}

/* The index of the lowest set bit of a pmovmskb mask, which is never
 * zero here (see gort__th_find).  __builtin_ctzll is an int, which GCC 12
 * sign-extends for the slot's address: one instruction more.  tzcnt runs
 * as bsf on CPUs without BMI1, the same for a mask that is not zero. */
static inline size_t gort__th_lowest(uint64_t mask)
{
    uint64_t i;
    __asm__("tzcnt %1, %0" : "=r"(i) : "r"(mask) : "cc");
    return (size_t)i;
}

/* The first slot whose tophash is @top, or GORT__MAP_BUCKET_CNT.  The
 * upper halves of both operands are zero, so the mask always has bit 8
 * set and ctz needs no test for zero. */
static inline size_t gort__th_find(gort__tophash8 w, uint64_t top)
{
    __m128i t = _mm_cvtsi64_si128((long long)(top * GORT__SWAR_LO));
    return gort__th_lowest(
        (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(w, t)));
}

/* The first empty slot (emptyRest or emptyOne: a byte <= 1), or
 * GORT__MAP_BUCKET_CNT (bit 8 is set as in gort__th_find). */
static inline size_t gort__th_first_empty(gort__tophash8 w)
{
    __m128i le1 = _mm_cmpeq_epi8(_mm_min_epu8(w, _mm_set1_epi8(1)), w);
    return gort__th_lowest((uint32_t)_mm_movemask_epi8(le1));
}
#else
typedef uint64_t gort__tophash8;

static inline gort__tophash8 gort__th_load(const uint8_t *b)
{
    return gort__swar_load(b);
}

static inline size_t gort__th_find(gort__tophash8 w, uint64_t top)
{
    uint64_t c = gort__swar_match(w, (uint8_t)top);
    return c != 0 ? gort__swar_index(c) : GORT__MAP_BUCKET_CNT;
}

static inline size_t gort__th_first_empty(gort__tophash8 w)
{
    uint64_t c = gort__swar_empty(w);
    return c != 0 ? gort__swar_index(c) : GORT__MAP_BUCKET_CNT;
}
#endif

/* Prefetches the cache lines of a bucket a lookup will read: the
 * tophash word, keys and values are then fetched in parallel instead of
 * one miss after the other.  Must be inlined early: GCC's pure-const
 * analysis otherwise finds a function made only of prefetches "without
 * side effects" and deletes the call.  Maps of up to 2^10 buckets (208
 * KiB for strref->int64, 272 for str) stay in the L2 cache under a
 * lookup loop, where
 * the prefetches would only take issue slots (8 of a lookup's ~130
 * instructions, measured with callgrind). */
static inline __attribute__((always_inline)) void
gort__map_prefetch_bucket(const gort_map *m, const uint8_t *b)
{
    if (m->B <= 10)
        return;
    __builtin_prefetch(b);
    __builtin_prefetch(b + 64);
    __builtin_prefetch(b + 128);
    /* A 16-aligned bucket of up to 272 bytes (str: 24-byte key slots)
     * spans at most 5 lines, and these addresses touch each of them. */
    if (m->bucket_size > 192)
        __builtin_prefetch(b + 192);
    __builtin_prefetch(b + m->bucket_size - 1);
}

/* ===================================================================
 * Hashing (hash.c has the seeds and the per-thread random numbers)
 * =================================================================== */

/* XXH3_64bits_withSeed, with its paths for keys of up to 128 bytes
 * inlined (the library's entry point dispatches on the length in a
 * function of its own: a call, and the registers it clobbers, cost as
 * much as the hash of a 16-32 byte key).  Same functions, same result. */
static inline __attribute__((always_inline)) uint64_t
gort__hash_str(const char *p, size_t len, uint64_t seed)
{
#if XXH_VERSION_NUMBER >= 800 && XXH_VERSION_NUMBER < 900
    if (len <= 16)
        return XXH3_len_0to16_64b((const xxh_u8 *)p, len, XXH3_kSecret, seed);
    if (len <= 128)
        return XXH3_len_17to128_64b((const xxh_u8 *)p, len, XXH3_kSecret,
                                    sizeof XXH3_kSecret, seed);
#endif
    return XXH3_64bits_withSeed(p, len, seed);
}

/* XXH3-64 with the map's seed, for keys of 4 to 32 bytes: XXH3's own
 * short-input steps (xxhash.h), with the seed's additions to the secret
 * words done once per seed in m->hkey instead of once per call.  The
 * same value as gort__hash_str(p, len, m->hash0) (tests/map checks it
 * against libxxhash for every length and random seeds). */
static inline __attribute__((always_inline)) uint64_t
gort__hash_str_keyed(const gort_map *m, const char *p, size_t len)
{
#if XXH_VERSION_NUMBER >= 800 && XXH_VERSION_NUMBER < 900
    const xxh_u8 *in = (const xxh_u8 *)p;
    if (len > 16) {
        xxh_u64 acc = len * XXH_PRIME64_1;
        acc += XXH3_mul128_fold64(XXH_readLE64(in) ^ m->hkey[0],
                                  XXH_readLE64(in + 8) ^ m->hkey[1]);
        acc += XXH3_mul128_fold64(XXH_readLE64(in + len - 16) ^ m->hkey[2],
                                  XXH_readLE64(in + len - 8) ^ m->hkey[3]);
        return XXH3_avalanche(acc);
    }
    if (len > 8) {
        xxh_u64 lo = XXH_readLE64(in) ^ m->hkey[4];
        xxh_u64 hi = XXH_readLE64(in + len - 8) ^ m->hkey[5];
        xxh_u64 acc = len + XXH_swap64(lo) + hi + XXH3_mul128_fold64(lo, hi);
        return XXH3_avalanche(acc);
    }
    xxh_u64 in64 = XXH_readLE32(in + len - 4) +
                   ((xxh_u64)XXH_readLE32(in) << 32);
    return XXH3_rrmxmx(in64 ^ m->hkey[6], len);
#else
    return gort__hash_str(p, len, m->hash0);
#endif
}

/* Sets the map's seed and the words gort__hash_str_keyed derives from it. */
static inline void gort__map_set_seed(gort_map *m, uint64_t seed)
{
    m->hash0 = seed;
#if XXH_VERSION_NUMBER >= 800 && XXH_VERSION_NUMBER < 900
    const xxh_u8 *s = XXH3_kSecret;
    m->hkey[0] = XXH_readLE64(s) + seed;
    m->hkey[1] = XXH_readLE64(s + 8) - seed;
    m->hkey[2] = XXH_readLE64(s + 16) + seed;
    m->hkey[3] = XXH_readLE64(s + 24) - seed;
    m->hkey[4] = (XXH_readLE64(s + 24) ^ XXH_readLE64(s + 32)) + seed;
    m->hkey[5] = (XXH_readLE64(s + 40) ^ XXH_readLE64(s + 48)) - seed;
    m->hkey[6] = (XXH_readLE64(s + 8) ^ XXH_readLE64(s + 16)) -
                 (seed ^ ((xxh_u64)XXH_swap32((xxh_u32)seed) << 32));
#endif
}

/* XXH3 of a str key with the map's seed: the keyed form for the lengths
 * it covers, XXH3 itself for the others. */
static inline __attribute__((always_inline)) uint64_t
gort__map_hash_str(const gort_map *m, const char *p, size_t len)
{
    if (len - 4 <= 28)
        return gort__hash_str_keyed(m, p, len);
    return gort__hash_str(p, len, m->hash0);
}

static inline __attribute__((always_inline)) uint64_t
gort__hash_u64(uint64_t k, uint64_t seed)
{
    return XXH3_64bits_withSeed(&k, sizeof k, seed);
}

/* A new map seed: from getrandom(2) (a per-thread pool refilled 32 seeds
 * at a time), or GORTDEBUG=mapseed's value. */
uint64_t gort__map_new_seed(void);

/* Fast per-thread random numbers (wyrand, seeded from getrandom(2)):
 * iteration order and noverflow sampling, never seeds. */
extern __thread uint64_t gort__rand_state __attribute__((tls_model("initial-exec")));
void gort__rand_seed(void);
static inline uint64_t gort__fastrand64(void)
{
    if (GORT_UNLIKELY(gort__rand_state == 0))
        gort__rand_seed();
    gort__rand_state += 0xa0761d6478bd642full;
    __uint128_t t = (__uint128_t)gort__rand_state *
                    (gort__rand_state ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* ===================================================================
 * String comparison
 * =================================================================== */

static inline uint64_t gort__load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t gort__load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Equality of @n bytes.  Keys of up to 32 bytes are compared with
 * overlapping word loads (no call); longer ones check their first 8
 * bytes before memcmp. */
static inline __attribute__((always_inline)) bool
gort__str_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        if (n <= 16)
            return ((gort__load64(a) ^ gort__load64(b)) |
                    (gort__load64(a + n - 8) ^ gort__load64(b + n - 8))) == 0;
        if (n <= 32)
            return ((gort__load64(a) ^ gort__load64(b)) |
                    (gort__load64(a + 8) ^ gort__load64(b + 8)) |
                    (gort__load64(a + n - 16) ^ gort__load64(b + n - 16)) |
                    (gort__load64(a + n - 8) ^ gort__load64(b + n - 8))) == 0;
        return gort__load64(a) == gort__load64(b) && memcmp(a, b, n) == 0;
    }
    if (n >= 4)
        return ((gort__load32(a) ^ gort__load32(b)) |
                (gort__load32(a + n - 4) ^ gort__load32(b + n - 4))) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* ===================================================================
 * String key slots: gort__strslot (str maps), gort__strkey (strref)
 * =================================================================== */

static inline uint8_t gort__strslot_tag(const void *slot)
{
    return ((const uint8_t *)slot)[GORT__STRSLOT_TAG];
}

/* Whether a str key slot holds its key inline (a filled slot, or a
 * zeroed empty one: the latter reads as out of line). */
static inline bool gort__strslot_is_inline(const void *slot)
{
    return (gort__strslot_tag(slot) & GORT__STRSLOT_INLINE) != 0;
}

/* The key bytes of a filled str key slot: the slot itself, or the copy. */
static inline const char *gort__strslot_ptr(const void *slot)
{
    if (gort__strslot_is_inline(slot))
        return (const char *)slot;
    return ((const gort__strslot *)slot)->out.p;
}

/* The key length of a filled str key slot. */
static inline size_t gort__strslot_len(const void *slot)
{
    uint8_t tag = gort__strslot_tag(slot);
    if (tag & GORT__STRSLOT_INLINE)
        return tag & (GORT__STRSLOT_INLINE - 1u);
    return GORT__STRKEY_LEN(&((const gort__strslot *)slot)->out);
}

/* The key bytes and (in *len) the length of a filled str key slot, both
 * forms read and the right one selected without a branch: the iterator
 * meets the forms in random order (a branch on them mispredicted half
 * the time with the WORKLOAD keys, 16 to 32 bytes). */
static inline __attribute__((always_inline)) const char *
gort__strslot_key(const void *slot, size_t *len)
{
    uint8_t tag = gort__strslot_tag(slot);
    /* All ones for an inline slot, else 0: a mask, not a condition, or
     * GCC 12 compiles the selection below as a branch. */
    uint64_t in = 0 - (uint64_t)(tag >> 7);
    uint64_t p = gort__load64(slot);
    uint64_t olen = gort__load64((const uint8_t *)slot + 8) &
                    ~(uint64_t)GORT__STRKEY_SHARED;
    *len = (size_t)((olen & ~in) |
                    ((uint64_t)(tag & (GORT__STRSLOT_INLINE - 1u)) & in));
    return (const char *)(uintptr_t)((p & ~in) | ((uintptr_t)slot & in));
}

/* Builds in @slot the inline form of a key of at most 23 bytes, with
 * word copies (overlapping ones for the tail) instead of a memcpy call. */
static inline __attribute__((always_inline)) void
gort__strslot_make_inline(gort__strslot *slot, const char *k, size_t klen)
{
    uint8_t *d = (uint8_t *)slot;
    memset(d, 0, sizeof *slot);
    if (klen >= 8) {
        memcpy(d, k, 8);
        if (klen > 16)
            memcpy(d + 8, k + 8, 8);
        memcpy(d + klen - 8, k + klen - 8, 8);
    } else if (klen >= 4) {
        memcpy(d, k, 4);
        memcpy(d + klen - 4, k + klen - 4, 4);
    } else {
        for (size_t i = 0; i < klen; i++)
            d[i] = (uint8_t)k[i];
    }
    d[GORT__STRSLOT_TAG] = (uint8_t)(GORT__STRSLOT_INLINE | klen);
}

/* Builds in @slot the out-of-line form: @copy is the map's copy of a key
 * of 24 or more bytes. */
static inline void gort__strslot_make_out(gort__strslot *slot,
                                          const char *copy, size_t klen)
{
    slot->out.p = copy;
    slot->out.len = klen;
    slot->tail = 0;
}

/* Whether two inline slots (or an inline slot and any slot) are the
 * same key: 24 bytes compared as three words (the padding is zero). */
static inline __attribute__((always_inline)) bool
gort__strslot_eq_inline(const void *slot, const gort__strslot *in)
{
    const uint8_t *a = slot, *b = (const uint8_t *)in;
    return ((gort__load64(a) ^ gort__load64(b)) |
            (gort__load64(a + 8) ^ gort__load64(b + 8)) |
            (gort__load64(a + 16) ^ gort__load64(b + 16))) == 0;
}

/* Whether the filled str key slot @slot holds the key (@k, @klen).  The
 * length decides the form to expect, and the tag byte must agree before
 * anything else is read (the bytes of an inline key are no pointer). */
static inline __attribute__((always_inline)) bool
gort__strslot_matches(const void *slot, const char *k, size_t klen)
{
    uint8_t tag = gort__strslot_tag(slot);
    if (klen <= GORT__STRSLOT_INLINE_MAX)
        return tag == (uint8_t)(GORT__STRSLOT_INLINE | klen) &&
               gort__str_eq((const char *)slot, k, klen);
    if (tag != 0)
        return false;
    const gort__strkey *sk = &((const gort__strslot *)slot)->out;
    size_t len = sk->len;
    /* Exact first: the shared mark is rare. */
    if (GORT_UNLIKELY(len != klen) && (len & ~GORT__STRKEY_SHARED) != klen)
        return false;
    return sk->p == k || gort__str_eq(sk->p, k, klen);
}

/* The key bytes and length of a filled key slot of a str or strref map. */
static inline const char *gort__map_strkey_ptr(const gort_map *m,
                                               const uint8_t *slot)
{
    if (m->kind == GORT__MAP_STR)
        return gort__strslot_ptr(slot);
    return ((const gort__strkey *)slot)->p;
}

static inline size_t gort__map_strkey_len(const gort_map *m,
                                          const uint8_t *slot)
{
    if (m->kind == GORT__MAP_STR)
        return gort__strslot_len(slot);
    return ((const gort__strkey *)slot)->len;
}

/* ===================================================================
 * Shared internals (map.c)
 * =================================================================== */

/* Bad-argument panics (cold). */
_Noreturn void gort__map_panic_kind(const char *fn, const gort_map *m);
_Noreturn void gort__map_panic_null_key(const char *fn, size_t klen);

/* Allocates the single bucket of a B == 0 map on its first insertion. */
void gort__map_alloc_first(gort_map *m);
/* Go's growWork: evacuates the old bucket @bucket maps to, and one more. */
void gort__map_grow_work(gort_map *m, size_t bucket);
/* Go's hashGrow: a new array (twice the size, or the same size), the old
 * one to be evacuated by later writes.  Allocates before changing m. */
void gort__map_hash_grow(gort_map *m);
/* Go's newoverflow: links a new overflow bucket after @b, returns it. */
uint8_t *gort__map_newoverflow(gort_map *m, uint8_t *b);
/* str maps: a copy of @k (24 bytes or more) that the map owns. */
const char *gort__map_copy_key(gort_map *m, const char *k, size_t klen);
/* str maps: frees the key copy of a deleted entry's slot, or defers the
 * free if an array kept for iterators may point to it; nothing for an
 * inline key. */
void gort__map_release_key(gort_map *m, const gort__strslot *slot);
/* Called when a delete leaves the map empty: no entry an iterator could
 * still produce exists, so iterators are stopped (clear_seq), kept arrays
 * and deferred keys freed, and the seed renewed (Go's issue 25237). */
void gort__map_emptied(gort_map *m);
/* The caller knows that no iterator of @m exists any more (a snapmap
 * copy after the grace period that followed its unpublication): forgets
 * the iterators (the live count goes to 0, iter_epoch moves) and frees
 * the arrays and key copies kept for them, as an emptying does, without
 * touching the entries.  During a growth the freeing waits for the
 * growth's end (finish_growth, which then finds no iteration live).
 * O(1), but once after each growth that retired an array, when a str
 * map's live keys lose their shared marks (a walk of the array). */
void gort__map_forget_iterators(gort_map *m);

/* Zeroes a deleted entry's value: a store for the common 8-byte
 * values instead of a call to memset. */
static inline void gort__map_zero_val(const gort_map *m, uint8_t *val)
{
    if (m->val_size == 8)
        memset(val, 0, 8);
    else
        memset(val, 0, m->val_size);
}

/* Go's delete tail: marks slot @i of @b emptyOne, then turns the trailing
 * run of empty slots of the chain starting at @borig into emptyRest. */
static inline void gort__map_mark_deleted(const gort_map *m, uint8_t *borig,
                                          uint8_t *b, size_t i)
{
    b[i] = GORT__EMPTY_ONE;
    if (i == GORT__MAP_BUCKET_CNT - 1) {
        uint8_t *ovf = gort__map_overflow(m, b);
        if (ovf != NULL && ovf[0] != GORT__EMPTY_REST)
            return;
    } else if (b[i + 1] != GORT__EMPTY_REST) {
        return;
    }
    for (;;) {
        b[i] = GORT__EMPTY_REST;
        if (i == 0) {
            if (b == borig)
                return; /* start of the chain */
            uint8_t *c = b; /* find the previous bucket of the chain */
            for (b = borig; gort__map_overflow(m, b) != c;
                 b = gort__map_overflow(m, b)) {
            }
            i = GORT__MAP_BUCKET_CNT - 1;
        } else {
            i--;
        }
        if (b[i] != GORT__EMPTY_ONE)
            return;
    }
}

/* The key and value slots of @key (a key as the kind stores it: a
 * gort__strslot in str maps, a gort__strkey in strref maps) in the
 * current table, or NULL (Go's mapaccessK, for the iterator). */
const uint8_t *gort__map_lookup_slot(const gort_map *m, const void *key,
                                     const uint8_t **val);
/* The hash of a stored key slot. */
uint64_t gort__map_hash_slot(const gort_map *m, const uint8_t *slot);

/* Walks buckets, tophash, counts and evacuation marks; prints the first
 * inconsistency to stderr and returns false.  Exported (under its gort__
 * name, declared only here) so the tests and the fuzzer can call it on
 * the shared library too. */
GORT_API bool gort__map_verify(const gort_map *m);


/* Set paths: remembers the first empty slot of the chain (Go's inserti)
 * from bucket b's tophash word w, if none was found yet. */
static inline void gort__map_note_empty(uint64_t w, uint8_t *b, uint8_t **ins,
                                        unsigned *ins_i)
{
    if (*ins == NULL) {
        uint64_t e = gort__swar_empty(w);
        if (e != 0) {
            *ins = b;
            *ins_i = gort__swar_index(e);
        }
    }
}

/* Set paths: whether adding a key must start a growth first (Go's
 * mapassign: not while growing; over the load factor or too many
 * overflow buckets). */
static inline bool gort__map_needs_grow(const gort_map *m)
{
    return m->oldbuckets == NULL &&
           (gort__map_over_load(m->count + 1, m->B) ||
            gort__map_too_many_overflow(m->noverflow, m->B));
}

#endif /* GORT_MAP_INTERNAL_H */
