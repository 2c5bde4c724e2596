/*
 * gort/map.h - Go's classic hash map (Go 1.19 runtime/map.go) for C.
 *
 * A gort_map maps keys to fixed-size values stored inline in buckets of
 * eight slots, exactly like Go's hmap: a tophash byte per slot, keys
 * together, values together, overflow buckets, load factor 6.5,
 * incremental doubling or same-size growth, a per-map random hash seed.
 *
 * Key kinds:
 *   - gort_map_new_str:    map[string]V; keys are copied into the map
 *                          (keys of up to 23 bytes into their slot in
 *                          the bucket, longer ones into a copy of their
 *                          own);
 *   - gort_map_new_strref: map[string]V; keys are borrowed: the caller
 *                          keeps the key bytes alive and unchanged while
 *                          the entry exists (Go strings are immutable);
 *   - gort_map_new_u64:    map[uint64]V;
 *   - gort_map_new:        fixed-size keys with a user hash and equality.
 *
 * Values are val_size bytes (0 allowed: a set).  Lookups return a
 * pointer to the value slot: `get` a read-only one, `set` the writable one
 * (existing, or new and zeroed).  A slot pointer is valid until the next
 * write (set, delete, clear) to the map, like a Go map value, which is not
 * addressable.  Slots are aligned to 8 bytes, 16 when val_size >= 16.
 *
 * NULL is Go's nil map: get -> NULL, len -> 0, delete -> no-op, iteration
 * produces nothing, set panics with the runtime error
 * "assignment to entry in nil map" (recoverable, see gort/defer.h).
 *
 * Thread-safety: none, as in Go.  Any number of goroutines may read
 * (get, len, iterate) at once; a write concurrent with anything else is a
 * bug that gort detects best-effort, as Go does, and reports with Go's
 * fatal errors ("concurrent map writes", "concurrent map read and map
 * write", "concurrent map iteration and map write"), exit status 2.
 * GORTDEBUG=mapstrict=1 makes writer-vs-writer detection reliable.  In a
 * ThreadSanitizer build every operation is also reported to TSan as a
 * read (get, len, iteration) or a write (set, delete, clear) of the map,
 * as Go's -race does.
 *
 * Bad arguments (a NULL key with a non-zero length, a call for another
 * key kind, a generic type without hash or equal) panic with a message
 * naming the function and the argument, e.g.
 * "gort_map_get_str: NULL key with length 5".
 */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <gort/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Types
 * =================================================================== */

/* The map (Go's hmap).  Opaque. */
typedef struct gort_map gort_map;

/**
 * struct gort_map_type - a map type with fixed-size keys.
 * @key_size: bytes per key; 0 is allowed (every key is the same key, like
 *            Go's map[struct{}]V).
 * @val_size: bytes per value, may be 0.
 * @hash:     hashes key_size bytes at @key with @seed; must not be NULL.
 *            It must depend on @seed (mix it in): the per-map seed is what
 *            makes collision floods impractical.
 * @equal:    key equality; must not be NULL.  Must agree with @hash
 *            (equal keys hash equally) and be reflexive (a key equals
 *            itself: unlike Go, there are no NaN-like keys).
 *
 * Keys are stored inline, packed, at the natural alignment of their size
 * (the largest power of two dividing key_size, at most 16), so the
 * callbacks may read them as the C type they are.  The callbacks may
 * panic (gort_panic): the map stays consistent and may still be used
 * after the panic is recovered.  They must not write to the map.
 * Field order is fixed; fields are only ever added at the end.
 */
typedef struct gort_map_type {
    size_t key_size, val_size;
    uint64_t (*hash)(const void *key, uint64_t seed);
    bool (*equal)(const void *a, const void *b);
} gort_map_type;

/**
 * struct gort_map_iter - an iteration over a map (Go's hiter).
 * @key:     the current key: for string maps the key bytes (not
 *           NUL-terminated; in a gort_map_new_str map a key of up to 23
 *           bytes is inside the bucket, a longer one is the map's copy),
 *           for u64 maps a pointer to the uint64_t, for generic maps a
 *           pointer to the key.
 * @key_len: bytes at @key (8 for u64 maps, key_size for generic maps).
 * @val:     the current value slot (read-only; set the key to change it).
 *
 * A stack value; an iteration abandoned half-way needs no clean-up
 * (gort_map_iter_end lets the map free sooner what it kept for it).
 * @key and @val are valid until the next write to the map (set, delete,
 * clear, free), like a slot pointer.  @key may be given to that write
 * itself: gort_map_set_str(m, it.key, it.key_len) and
 * gort_map_delete_str(m, it.key, it.key_len) during an iteration (Go's
 * `m[k] = v` and `delete(m, k)` in a range loop) are fine, also while the
 * map grows; after the write, read neither.  The remaining fields are
 * private.
 */
typedef struct gort_map_iter {
    const void *key;
    size_t key_len;
    const void *val;
    /* private: */
    const gort_map *map_;      /* map iterated, NULL for a nil or empty map */
    void *buckets_;            /* bucket array at start (Go's it.buckets) */
    void *bptr_;               /* current bucket, NULL between buckets */
    uintptr_t start_bucket_;   /* random first bucket, < 2^B_ */
    uintptr_t bucket_;         /* next bucket to visit, < 2^B_ */
    uintptr_t check_bucket_;   /* bucket to filter for during a grow, or ~0 */
    uint64_t clear_seq_;       /* map's clear sequence at start */
    uint64_t epoch_;           /* map's iter_epoch at start */
    uint64_t fingerprint_;     /* map identity, checked in debug builds */
    uint8_t B_;                /* log2 buckets at start */
    uint8_t offset_;           /* random slot offset, 0..7 */
    uint8_t i_;                /* slots done in bptr_, 0..8 */
    uint8_t wrapped_;          /* passed the end of the array */
    uint8_t state_;            /* 0 init, 1 next, 2 done */
} gort_map_iter;

/**
 * struct gort_map_info - statistics of a map (gort_map_stats).
 */
typedef struct gort_map_info {
    size_t count;            /* entries */
    unsigned B;              /* log2 of the number of buckets */
    size_t buckets;          /* 2^B */
    size_t old_buckets;      /* buckets of the array being evacuated, or 0 */
    size_t evacuated;        /* old buckets evacuated so far (nevacuate) */
    bool growing;            /* a growth is in progress */
    bool same_size_grow;     /* that growth keeps the size */
    union {                  /* overflow buckets linked to the current array */
        size_t overflow_buckets;
        size_t overflow;     /* the same (SPEC.md's short name) */
    };
    size_t bytes;            /* bytes owned by the map: header, bucket
                                arrays (retained ones too), overflow
                                buckets, key copies (inline keys are in
                                the buckets) */
    size_t bucket_size;      /* bytes per bucket */
    double load;             /* count / (8 * buckets) */
    double avg_chain;        /* buckets per non-empty chain, >= 1 (0 if empty) */
    size_t max_chain;        /* longest chain, in buckets */
    size_t key_bytes;        /* bytes of key copies (str maps: keys of 24
                                bytes or more), live keys */
    size_t retained_arrays;  /* old arrays kept for iterators (see docs) */
    size_t retained_bytes;   /* their bytes, overflow buckets included */
    size_t deferred_keys;    /* key copies of deleted entries kept for them */
    size_t live_iterations;  /* iterations begun and not finished: neither
                                at their end nor ended by gort_map_iter_end
                                (abandoned ones count until the map is
                                cleared, emptied or freed) */
} gort_map_info;

/* ===================================================================
 * Lifecycle
 * =================================================================== */

/**
 * gort_map_new_str - a map[string]V that copies its keys.
 * @val_size: bytes per value.
 * @hint:     expected entries, as make(map, hint): no growth until then;
 *            an absurd hint (buckets that would not fit in memory) is
 *            ignored, as Go does.
 *
 * Return: the map; never NULL.
 * Ownership: the caller frees it with gort_map_free; the map owns its
 * keys: a key of up to 23 bytes is stored inline in its 24-byte slot in
 * the bucket (no allocation), a longer one in a copy the map allocates.
 * A key pointer the map gives out (gort_map_iter.key) is therefore valid
 * until the next write to the map (set, delete, clear, free), like a
 * slot pointer: the write may move or zero the bucket's bytes.
 * Thread-safety: any thread.
 * Panics: "gort_map_new_str: ..." when val_size makes a bucket overflow.
 * Out of memory is Go's fatal error "runtime: out of memory".
 */
GORT_API gort_map *gort_map_new_str(size_t val_size, size_t hint);

/**
 * gort_map_new_strref - a map[string]V that borrows its keys.
 *
 * The caller keeps the bytes given to the set that inserted an entry
 * alive and unchanged while the entry exists (a later set of an equal key
 * does not replace them), and, if the entry is deleted while an iteration
 * that began before a growth of the map is still going on, until that
 * iteration ends (it may look the key up again, as Go's iterator does).
 * Otherwise as gort_map_new_str.
 */
GORT_API gort_map *gort_map_new_strref(size_t val_size, size_t hint);

/** gort_map_new_u64 - a map[uint64]V.  As gort_map_new_str. */
GORT_API gort_map *gort_map_new_u64(size_t val_size, size_t hint);

/**
 * gort_map_new - a map with fixed-size keys of a user type.
 * @t:    the type; copied, so it may be temporary.
 * @hint: as gort_map_new_str.
 *
 * Panics: "gort_map_new: ..." for a NULL @t, a type without hash or
 * equal, or sizes whose bucket would overflow.
 */
GORT_API gort_map *gort_map_new(const gort_map_type *t, size_t hint);

/**
 * gort_map_free - free the map and everything it owns.  NULL is fine.
 *
 * Thread-safety: no other operation on @m may run or follow.
 */
GORT_API void gort_map_free(gort_map *m);

/**
 * gort_map_len - number of entries; NULL -> 0.
 *
 * Thread-safety: a read of the map.
 */
GORT_API size_t gort_map_len(const gort_map *m);

/* ===================================================================
 * Access
 * =================================================================== */

/**
 * gort_map_get_str - look a string key up.
 * @m:    a string map (str or strref), or NULL.
 * @k:    key bytes (may be NULL when @klen is 0).
 * @klen: key length.
 *
 * Return: the value slot (read-only) or NULL if the key is absent.
 * Non-NULL for a present key even when val_size is 0.
 * Thread-safety: a read; never writes to the map, so any number of
 * goroutines may call it at once.  A write running at the same time is
 * the fatal error "concurrent map read and map write" (best effort).
 * Panics: when @k is NULL and @klen > 0, or @m is not a string map.
 */
GORT_API const void *gort_map_get_str(const gort_map *m, const char *k,
                                      size_t klen);

/**
 * gort_map_set_str - find or insert a string key.
 *
 * Return: the value slot (writable): the existing one, or a new one
 * filled with zeros.  Valid until the next write to the map.
 * Ownership: str maps copy new keys (see gort_map_new_str); strref maps
 * keep @k (see gort_map_new_strref).  @k may point into the map itself
 * (an iterator's key, see gort_map_iter).
 * Thread-safety: a write; nothing else may use the map meanwhile
 * ("concurrent map writes").
 * Panics: "assignment to entry in nil map" (runtime error) when @m is
 * NULL; bad arguments as gort_map_get_str.
 */
GORT_API void *gort_map_set_str(gort_map *m, const char *k, size_t klen);

/**
 * gort_map_delete_str - delete a string key.
 *
 * Return: true if the key was there.  NULL map: false, no panic.
 * Thread-safety: a write.
 * Panics: bad arguments as gort_map_get_str (checked before the nil map:
 * a string key can be checked without its map).
 */
GORT_API bool gort_map_delete_str(gort_map *m, const char *k, size_t klen);

/* u64 maps: as the string functions, with a uint64_t key.  Panics: when
 * @m is not a u64 map; set on NULL as gort_map_set_str. */
GORT_API const void *gort_map_get_u64(const gort_map *m, uint64_t k);
GORT_API void *gort_map_set_u64(gort_map *m, uint64_t k);
GORT_API bool gort_map_delete_u64(gort_map *m, uint64_t k);

/*
 * Generic maps (gort_map_new): @key points to key_size bytes, copied into
 * the map on insertion, and over the stored key when set finds an equal
 * one (Go stores the key again where equal keys may differ in their
 * bytes, as +0.0 and -0.0 do: the map keeps the latest).  Also accepted
 * by u64 maps (@key points to a uint64_t).  The user callbacks run inside these calls; a panic from
 * them leaves the map consistent and unchanged by the call.
 * NULL map: get returns NULL and delete false, whatever @key (its size
 * is the map's to know); set panics as gort_map_set_str.
 * Panics: when @key is NULL and the key size is not 0, or @m is a string
 * map.
 */
GORT_API const void *gort_map_get(const gort_map *m, const void *key);
GORT_API void *gort_map_set(gort_map *m, const void *key);
GORT_API bool gort_map_delete(gort_map *m, const void *key);

/**
 * gort_map_clear - delete every entry (Go's clear(m)); NULL: no-op.
 *
 * Keeps the bucket array (Go 1.19 mapclear), frees overflow buckets, key
 * copies and anything kept for iterators, and picks a new hash seed.  An
 * iteration in progress ends at its next step (no entry it could still
 * produce exists any more).  On an empty map it does nothing, as Go's
 * mapclear returns at once when count is 0 (so no new seed either).
 * Thread-safety: a write.
 */
GORT_API void gort_map_clear(gort_map *m);

/* ===================================================================
 * Iteration
 * =================================================================== */

/**
 * gort_map_iter_init - start an iteration (Go's for range).
 * @it: iterator storage, usually on the stack; no clean-up needed.
 * @m:  the map, or NULL (iterates nothing).
 *
 * Order is random: a random start bucket and slot offset each time.
 * Deleting any entry during the iteration is allowed (a deleted entry not
 * yet reached is not produced); entries inserted during it may or may not
 * be produced; no entry is produced twice, even when the map grows.
 * Memory: C has no garbage collector to keep alive the bucket array an
 * iteration walks after a growth replaced it, so the map keeps such
 * arrays (and copies of keys deleted meanwhile) while an iteration may
 * read them.  It counts an iteration as live from this call until
 * gort_map_iter_next returns false or gort_map_iter_end is called, and
 * frees what it kept at the start or end of a growth that finds none
 * live (also on clear, on a delete that empties it, and on free).  An
 * iteration abandoned half-way (a `break`) needs no clean-up call, as in
 * Go, but it counts as live until the map is cleared, emptied or freed:
 * call gort_map_iter_end where a long-lived map is iterated partially and
 * then keeps growing.  gort_map_stats reports what is kept.
 *
 * Copies: a gort_map_iter may be copied (returned by value, for one), but
 * only one copy of an iteration may be stepped further; two that both
 * finish it are the fatal error "gort_map_iter_next: the iteration was
 * already finished ..." (or, if the map freed the arrays in between,
 * "... the map freed the arrays this iteration reads ...").
 *
 * Panics: "gort_map_iter_init: NULL iterator".
 *
 * Thread-safety: a read.  Besides the iterator, it writes only two
 * words of the map that concurrent readers share safely (relaxed
 * atomics): the marks that old arrays must be kept and the live count;
 * so do gort_map_iter_next at the end and gort_map_iter_end.
 */
GORT_API void gort_map_iter_init(gort_map_iter *it, const gort_map *m);

/**
 * gort_map_iter_next - advance; fills key/key_len/val.
 *
 * Return: false once done (and forever after).
 * Thread-safety: a read.  A write running at the same time is the fatal
 * error "concurrent map iteration and map write" (best effort).
 */
GORT_API bool gort_map_iter_next(gort_map_iter *it);

/**
 * gort_map_iter_end - end an iteration before its end (beyond Go).
 * @it: an iterator started by gort_map_iter_init, whose map has not been
 *      freed since.
 *
 * Optional: tells the map that this iteration takes no more steps, so
 * that the arrays kept for it can go at the next growth (see
 * gort_map_iter_init, "Memory").  Afterwards gort_map_iter_next returns
 * false.  Does nothing for an iteration that is already done (at its
 * end, ended, or of a nil, empty or cleared map), so a `for` loop may end
 * with it whether it broke out or not.
 * Thread-safety: a read.
 */
GORT_API void gort_map_iter_end(gort_map_iter *it);

/* ===================================================================
 * Debug
 * =================================================================== */

/**
 * gort_map_dump - print header, buckets, tophash, overflow, growth.
 *
 * @out: where to print; NULL prints to stderr.
 * Thread-safety: a read.  Prints "(nil map)" for NULL.
 */
GORT_API void gort_map_dump(const gort_map *m, FILE *out);

/**
 * gort_map_stats - fill @info (all zeros for a nil map).
 *
 * Walks every bucket: O(buckets).  Thread-safety: a read.
 * Panics: "gort_map_stats: NULL info".
 */
GORT_API void gort_map_stats(const gort_map *m, gort_map_info *info);

GORT_END_DECLS

#endif /* GORT_MAP_H */
