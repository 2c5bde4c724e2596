/*
 * gort/syncmap.h - Go's sync.Map: a concurrent map from byte-string keys
 * to opaque pointers.
 *
 *     gort_syncmap *m = gort_syncmap_new();
 *     gort_syncmap_store(m, "alice", 5, user);
 *     void *v;
 *     if (gort_syncmap_load(m, "alice", 5, &v))
 *         ...                          // v == user
 *     gort_syncmap_free(m);
 *
 * The algorithm is Go's (sync/map.go, Go >= 1.20 for swap,
 * compare_and_swap and compare_and_delete): an atomically published
 * read-only map that loads, and updates of keys already in it, use
 * without a lock, plus a mutex-protected "dirty" map holding the keys
 * added since; lookups that miss the read-only map are counted, and once
 * they have cost as much as copying, the dirty map becomes the new
 * read-only map.  Like Go's, it suits two patterns: a key written once and
 * read many times (a cache that only grows), and goroutines working on
 * disjoint sets of keys.  Elsewhere a gort_map behind a gort_mutex or
 * gort_rwmutex is simpler and usually as fast.
 *
 * Keys are byte strings (any bytes, any length, 0 included), copied into
 * the map.  Values are `void *` compared by identity; NULL is a value
 * like any other (Go's nil): "present with value NULL" and "absent" are
 * distinct.
 *
 * Value ownership (SPEC.md): the map never frees a value unless a
 * destructor is set with gort_syncmap_set_destructor().  With one, the
 * map owns the values stored in it: a value replaced by
 * gort_syncmap_store() or a successful gort_syncmap_compare_and_swap(),
 * or removed by gort_syncmap_delete() or a successful
 * gort_syncmap_compare_and_delete(), is retired: the destructor runs on
 * it once no read section (gort/read_section.h) that could have seen it
 * is still open.  gort_syncmap_swap() and gort_syncmap_load_and_delete()
 * hand the old value to the caller instead (retire it with gort_retire()
 * if other goroutines may still be using it); gort_syncmap_free()
 * destroys the values still stored.  A value whose destructor may run
 * must not be stored under two keys at once (it would be destroyed
 * twice); storing a value over itself keeps it.
 *
 * Reading a value with a destructor set: a value returned by a lookup may
 * be retired by another goroutine the moment the call returns; it stays
 * valid while the caller holds a read section opened before the lookup:
 *
 *     gort_read_begin();
 *     if (gort_syncmap_load(m, k, klen, &v))
 *         use(v);                       // not destroyed before read_end
 *     gort_read_end();
 *
 * Thread-safety: every function may be called by any number of
 * goroutines (threads) at once, except gort_syncmap_free(), which no
 * other call on the same map may overlap or follow.  Lookups of keys
 * present in the read-only map take no lock and write nothing but the
 * calling thread's own read-section state; updates of such keys are one
 * compare-and-swap on the key's entry.
 *
 * Happens-before, in Go's words (sync.Map's documentation): a write
 * operation synchronizes before any read operation that observes its
 * effect.  load, load_and_delete, load_or_store, swap, compare_and_swap
 * and compare_and_delete are read operations; delete, load_and_delete,
 * store and swap are write operations; load_or_store is a write when it
 * stores, compare_and_swap and compare_and_delete are writes when they
 * succeed.  (Values are published with release stores and read with
 * acquire loads.)
 *
 * Misuse: a NULL map, or a NULL key with a non-zero length, panics (a
 * recoverable runtime panic, see gort/defer.h) with a message naming the
 * function and the argument, e.g. "gort_syncmap_load: NULL key with
 * length 5" or "gort_syncmap_store: NULL map".  Out of memory is Go's
 * fatal error "runtime: out of memory".
 *
 * docs/api/syncmap.md is the reference page; docs/design/syncmap.md
 * explains the reclamation scheme (no garbage collector: retired read-only
 * maps and entries are freed after a grace period).
 */
#ifndef GORT_SYNCMAP_H
#define GORT_SYNCMAP_H

#include <gort/common.h>

#include <stdbool.h>
#include <stddef.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Types
 * =================================================================== */

/* Go's sync.Map with string keys and pointer values.  Opaque. */
typedef struct gort_syncmap gort_syncmap;

/* ===================================================================
 * Lifecycle
 * =================================================================== */

/**
 * gort_syncmap_new - an empty map.
 *
 * Return: the map; never NULL (out of memory is a fatal error).
 * Ownership: the caller frees it with gort_syncmap_free().
 * Thread-safety: any goroutine.
 */
GORT_API gort_syncmap *gort_syncmap_new(void);

/**
 * gort_syncmap_set_destructor - make the map own its values.
 * @m:       the map.
 * @destroy: called on each value the map retires or frees (see the
 *           ownership rules at the top of this header), from whichever
 *           thread runs the grace period's callbacks; NULL makes the map
 *           stop owning values.  It must not panic.
 *
 * Set it before sharing the map with other goroutines: a value retired
 * while another goroutine changes the destructor gets either one.  A
 * value already retired keeps the destructor it was retired with.
 * Thread-safety: any goroutine.
 * Panics: "gort_syncmap_set_destructor: NULL map".
 */
GORT_API void gort_syncmap_set_destructor(gort_syncmap *m,
                                          void (*destroy)(void *));

/**
 * gort_syncmap_len - number of keys present.  Beyond Go (go#20680).
 * @m: the map.
 *
 * O(1): one relaxed load of a counter that every operation adjusts right
 * after it makes a key present or absent.  Exact when no write operation
 * on @m is in progress and the writes that were have happened before this
 * call (for example, the writers were joined with a WaitGroup).  While k
 * write operations are in progress the result may differ from the number
 * of keys present at the moment of the load by at most k (each one has at
 * most one adjustment still to make) and is never "negative" (clamped to
 * 0).  Range may visit a different number of keys.
 * Thread-safety: any goroutine; lock-free.
 * Panics: "gort_syncmap_len: NULL map".
 */
GORT_API size_t gort_syncmap_len(gort_syncmap *m);

/**
 * gort_syncmap_free - free the map, its keys and entries.  NULL is fine.
 * @m: the map.
 *
 * With a destructor set, first waits until every read section open
 * anywhere has ended (gort_synchronize: a goroutine may still be using a
 * value it loaded), then destroys the values still stored.  Values
 * retired earlier are destroyed by their grace periods as usual.
 * Thread-safety: no other call on @m may overlap or follow this one.
 * Must not be called inside a read section when a destructor is set
 * (gort_synchronize's fatal error).
 */
GORT_API void gort_syncmap_free(gort_syncmap *m);

/* ===================================================================
 * Access
 *
 * Common parameters: @m the map; @k, @klen the key bytes (@k may be NULL
 * when @klen is 0; the bytes are only read during the call); output
 * pointers (@val, @actual, @previous) may be NULL when the caller does
 * not need what they would receive.
 * =================================================================== */

/**
 * gort_syncmap_load - look a key up (Go's Load).
 * @val: receives the value when the key is present (unchanged otherwise).
 *
 * Return: true if the key is present (its value may be NULL).
 * Cost: a key in the read-only map is found without a lock, inside a
 * read section of its own; a miss takes the lock when keys were added
 * since the last promotion, and counts towards promoting them.
 * Ownership: the value stays the map's (see the top of this header for
 * how long it stays valid when a destructor is set).
 * Thread-safety: any goroutine.
 * Panics: "gort_syncmap_load: NULL map", "gort_syncmap_load: NULL key
 * with length N".
 */
GORT_API bool gort_syncmap_load(gort_syncmap *m, const char *k, size_t klen,
                                void **val);

/**
 * gort_syncmap_store - set the value of a key (Go's Store).
 * @val: the new value (NULL allowed).
 *
 * Ownership: with a destructor set, the map now owns @val and retires the
 * value it replaces (unless that is @val itself).
 * Thread-safety: any goroutine; lock-free when the key is in the
 * read-only map and was not deleted since the last promotion.
 * Panics: as gort_syncmap_load, naming gort_syncmap_store.
 */
GORT_API void gort_syncmap_store(gort_syncmap *m, const char *k, size_t klen,
                                 void *val);

/**
 * gort_syncmap_load_or_store - the existing value if the key is present,
 * else store @val (Go's LoadOrStore).
 * @val:    the value to store if the key is absent.
 * @actual: receives the existing value (when loaded) or @val (stored).
 *
 * Return: true if the key was present (loaded), false if @val was stored.
 * Ownership: when it returns true the map did not take @val: it stays the
 * caller's.
 * Thread-safety: any goroutine.
 * Panics: as gort_syncmap_load, naming gort_syncmap_load_or_store.
 */
GORT_API bool gort_syncmap_load_or_store(gort_syncmap *m, const char *k,
                                         size_t klen, void *val,
                                         void **actual);

/**
 * gort_syncmap_load_and_delete - delete a key, returning its value (Go's
 * LoadAndDelete).
 * @val: receives the value the key had, if it was present.
 *
 * Return: true if the key was present.
 * Ownership: the removed value goes to the caller, even with a destructor
 * set (it is not destroyed); other goroutines may still be reading it
 * inside their read sections, so a caller that frees it should retire it
 * (gort_retire) rather than free it at once.
 * Thread-safety: any goroutine.
 * Panics: as gort_syncmap_load, naming gort_syncmap_load_and_delete.
 */
GORT_API bool gort_syncmap_load_and_delete(gort_syncmap *m, const char *k,
                                           size_t klen, void **val);

/**
 * gort_syncmap_delete - delete a key (Go's Delete); absent keys are fine.
 *
 * Ownership: with a destructor set, the removed value is retired.
 * Thread-safety: any goroutine.
 * Panics: as gort_syncmap_load, naming gort_syncmap_delete.
 */
GORT_API void gort_syncmap_delete(gort_syncmap *m, const char *k,
                                  size_t klen);

/**
 * gort_syncmap_swap - store @val and return the previous value (Go's
 * Swap).
 * @val:      the new value.
 * @previous: receives the previous value, if the key was present.
 *
 * Return: true if the key was present (loaded).
 * Ownership: the previous value goes to the caller, even with a
 * destructor set (see gort_syncmap_load_and_delete); with a destructor the
 * map owns @val.  Swapping a value for itself hands it back while it
 * stays stored.
 * Thread-safety: any goroutine.
 * Panics: as gort_syncmap_load, naming gort_syncmap_swap.
 */
GORT_API bool gort_syncmap_swap(gort_syncmap *m, const char *k, size_t klen,
                                void *val, void **previous);

/**
 * gort_syncmap_compare_and_swap - store @val if the key's value is @old
 * (Go's CompareAndSwap).
 * @old: the expected value, compared by identity (NULL matches a present
 *       key whose value is NULL, never an absent key).
 * @val: the new value.
 *
 * Return: true if the value was @old and is now @val.
 * Ownership: on success with a destructor set, @old is retired (unless
 * it equals @val) and the map owns @val.
 * Thread-safety: any goroutine.
 * Panics: as gort_syncmap_load, naming gort_syncmap_compare_and_swap.
 */
GORT_API bool gort_syncmap_compare_and_swap(gort_syncmap *m, const char *k,
                                            size_t klen, void *old,
                                            void *val);

/**
 * gort_syncmap_compare_and_delete - delete the key if its value is @old
 * (Go's CompareAndDelete).
 * @old: the expected value, compared by identity.
 *
 * Return: true if the key was present with value @old and was deleted.
 * Ownership: on success with a destructor set, @old is retired.
 * Thread-safety: any goroutine.
 * Panics: as gort_syncmap_load, naming gort_syncmap_compare_and_delete.
 */
GORT_API bool gort_syncmap_compare_and_delete(gort_syncmap *m, const char *k,
                                              size_t klen, void *old);

/* ===================================================================
 * Iteration
 * =================================================================== */

/**
 * gort_syncmap_range - call @f for each key and value (Go's Range).
 * @f:   called with the key bytes (@klen of them, not NUL-terminated,
 *       valid during the call), the value and @ctx; returning false stops
 *       the iteration.
 * @ctx: passed to @f.
 *
 * Go's semantics: no key is visited more than once, but the iteration is
 * not a consistent snapshot: if a key's value is stored or deleted
 * concurrently (@f included), the value seen may be any the key had at
 * some point during the call, and a key added or deleted meanwhile may or
 * may not be visited.  When keys were added since the last promotion,
 * Range first promotes them (under the lock, which @f never runs under),
 * so the whole call is O(number of keys) even when @f stops early.
 * @f runs inside a read section (gort/read_section.h) that spans the
 * iteration: the keys and values it receives stay valid while it runs,
 * even with a destructor set; @f may call any function of this header on
 * @m (store and delete included; a nested range too) except
 * gort_syncmap_free, and must not call gort_synchronize (fatal error).  A
 * long-running @f delays the reclamation of retired memory.
 * If @f panics, the panic unwinds out of Range with no lock held and no
 * read section left open by Range.
 * Thread-safety: any goroutine.
 * Panics: "gort_syncmap_range: NULL map", "gort_syncmap_range: NULL
 * function"; whatever @f panics with.
 */
GORT_API void gort_syncmap_range(gort_syncmap *m,
                                 bool (*f)(const void *key, size_t klen,
                                           void *val, void *ctx),
                                 void *ctx);

GORT_END_DECLS

#endif /* GORT_SYNCMAP_H */
