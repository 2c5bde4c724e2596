/*
 * syncmap.c - Go's sync.Map (Go >= 1.20 sync/map.go: behaviour only).
 *
 * Design.  Two maps from keys to *entries*: the read-only map R, published
 * through one atomic word and never written after publication, and the
 * dirty map D, written only under the mutex.  An entry is a small heap
 * object {p, key} shared by both maps: its atomic word p is the key's
 * value, DELETED (Go's nil: the key is absent) or EXPUNGED (absent, and
 * the entry is missing from D).  Both maps are gort_maps with borrowed
 * keys (gort_map_new_strref) pointing at the entry's key bytes, so a key
 * is copied once, when its entry is made, and promoting or rebuilding a
 * map copies only pointers.
 *
 *   - Load looks the key up in R without a lock; a miss while R is
 *     "amended" (D holds keys R lacks) retries under the lock in D and
 *     counts a miss (Go's missLocked): once misses >= len(D), D becomes R
 *     ("promotion") and the next new key rebuilds D from R (dirty_locked:
 *     entries whose p is DELETED become EXPUNGED and are left out).
 *   - A store to a key found in R is a CAS on its entry unless the entry
 *     is EXPUNGED; then, under the lock, it is "unexpunged" (EXPUNGED ->
 *     DELETED) and put back in D before its value is set.  New keys go to
 *     D under the lock (after dirty_locked and setting the amended bit).
 *   - Range promotes D first when R is amended, then walks R.
 * The amended flag (Go's readOnly.amended) is bit 0 of the word that
 * publishes R, so setting it is one store and needs no allocation.
 *
 * Invariants (gort__syncmap_verify checks them; "under mu" throughout):
 *   I1  amended  <=>  D != NULL.
 *   I2  no entry of D is EXPUNGED; when D == NULL, no entry of R is.
 *   I3  when D != NULL, every entry e of R is either EXPUNGED, missing
 *       from D and on the expunged list, or D[e's key] == e.
 *   I4  an entry enters R only by promotion, so an entry in D but not in
 *       R has never been in any read-only map, old ones included.
 *   I5  p becomes EXPUNGED only in dirty_locked and stops being EXPUNGED
 *       only in unexpunge_locked, both under mu, and only for entries of
 *       the current R.
 *
 * Reclamation (no garbage collector; docs/design/syncmap.md has the
 * proof).  Every operation runs inside a read section (gort_read_begin),
 * so anything it found stays allocated until it returns.  Three kinds of
 * object are unpublished, each by exactly one party, and retired
 * (gort_retire: destroyed after a grace period):
 *   - a read-only map replaced by promotion: retired by the promoter,
 *     together with its *dead* entries, the ones still EXPUNGED at that
 *     moment: they are in no later map (I3) and never will be (I5);
 *     the promoter finds them on the list dirty_locked built, skipping
 *     the ones unexpunged since (which are in D, the new R);
 *   - an entry removed from D by load_and_delete (key not in R): by I4
 *     no read-only map holds it, so removing it from D makes it
 *     unreachable; it is retired by that caller;
 *   - a value: the thread whose atomic exchange/CAS removed it from an
 *     entry owns it (store, compare_and_swap, delete, compare_and_delete
 *     retire it when a destructor is set; swap and load_and_delete return
 *     it).
 * Every other entry stays reachable from the current R or D, and
 * gort_syncmap_free frees those.  Retiring happens outside the mutex.
 *
 * gort_syncmap_len: a counter adjusted by +1/-1 right after each atomic
 * operation that makes a value appear in (DELETED/EXPUNGED/new -> value)
 * or vanish from (value -> DELETED) an entry; exact when quiescent.
 *
 * Ordering guarantees.  R is published with a release store (promotion,
 * the amended bit) and read with acquire loads, so a reader that sees a
 * map sees its buckets and the entries and keys they point to.  Values go
 * into p with release (RMW acq_rel) operations and come out with acquire
 * loads, so whoever loads a value sees what was written to it before it
 * was stored (Go: a write synchronizes before a read that observes it).
 * D, misses and the expunged list are only touched under mu.  The grace
 * period gives each retired object's destructor a happens-before edge
 * from every reader that could have seen it (gort/read_section.h).
 *
 * Panics: the only panics are bad arguments, raised before any lock or
 * section is taken, and whatever Range's callback raises; the callback
 * runs with no lock held, and the read section around it is closed by
 * the panic machinery when a caller recovers.  No code that can panic
 * runs under mu, so no deferred unlock is needed.
 */
#include "read_section_internal.h"
#include "runtime_internal.h"

#include <gort/map.h>
#include <gort/syncmap.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================================
 * Types
 * =================================================================== */

/* A key's slot, shared by R and D (Go's entry). */
typedef struct sm_entry {
    _Atomic(void *) p;      /* the value (any pointer, NULL too), DELETED
                               or EXPUNGED */
    struct sm_entry *next;  /* under mu: link of the expunged list, or of
                               a grave's dead list */
    size_t klen;            /* key length */
    char key[];             /* key bytes, borrowed by R and D */
} sm_entry;

/* Private sentinels: no user value can have their addresses. */
static char sm_deleted_sentinel, sm_expunged_sentinel;
#define DELETED ((void *)&sm_deleted_sentinel)
#define EXPUNGED ((void *)&sm_expunged_sentinel)

#define AMENDED ((uintptr_t)1) /* bit 0 of gort_syncmap.read */

/* Readers touch only the first cache line; writers' bookkeeping lives in
 * the second, so a busy writer does not steal the readers' line. */
struct gort_syncmap {
    _Atomic(uintptr_t) read;  /* R (a strref gort_map of sm_entry *, NULL
                                 until the first promotion) | AMENDED */
    _Atomic(void (*)(void *)) destroy; /* value destructor or NULL */
    char pad_[64 - sizeof(uintptr_t) - sizeof(void (*)(void *))];
    gort_mutex mu;            /* guards dirty, misses, expunged */
    gort_map *dirty;          /* D, or NULL (I1: iff not amended) */
    size_t misses;            /* lookups that went to D since the last
                                 promotion; promotion at >= len(D) */
    sm_entry *expunged;       /* entries dirty_locked expunged, linked by
                                 next; some may be unexpunged since */
    _Atomic(intptr_t) count;  /* keys present (gort_syncmap_len), may be
                                 briefly off while writers run */
} __attribute__((aligned(64))); /* sizeof a multiple of 64: aligned_alloc */

/* A replaced read-only map and the entries that die with it. */
typedef struct sm_grave {
    gort_map *map;    /* the old R, may be NULL */
    sm_entry *dead;   /* EXPUNGED entries of the old R, linked by next */
} sm_grave;

/* What an operation must retire once it is out of its section and lock. */
typedef struct sm_pending {
    sm_grave *grave;      /* from a promotion, or NULL */
    sm_entry *entry;      /* removed from D by load_and_delete, or NULL */
} sm_pending;

/* Test hooks (tests/syncmap/syncmap_test.h), exported but private. */
GORT_API long gort__syncmap_live_entries(void);
GORT_API bool gort__syncmap_verify(gort_syncmap *m);

/* Entries allocated and not yet freed, all maps together (tests). */
static _Atomic long sm_live_entries;

long gort__syncmap_live_entries(void)
{
    return atomic_load_explicit(&sm_live_entries, memory_order_relaxed);
}

/* ===================================================================
 * Argument checks
 * =================================================================== */

static __attribute__((noinline, cold, noreturn)) void
panic_null_map(const char *fn)
{
    gort_panic("%s: NULL map", fn);
}

static __attribute__((noinline, cold, noreturn)) void
panic_null_key(const char *fn, size_t klen)
{
    gort_panic("%s: NULL key with length %zu", fn, klen);
}

#define CHECK_ARGS(m, k, klen, fn)                                             \
    do {                                                                       \
        if (GORT_UNLIKELY((m) == NULL))                                        \
            panic_null_map(fn);                                                \
        if (GORT_UNLIKELY((k) == NULL && (klen) != 0))                         \
            panic_null_key(fn, klen);                                          \
    } while (0)

/* ===================================================================
 * Entries (Go's entry methods)
 * =================================================================== */

static sm_entry *entry_new(const char *k, size_t klen, void *val)
{
    sm_entry *e = gort__xmalloc(offsetof(sm_entry, key) + klen);
    atomic_init(&e->p, val);
    e->next = NULL;
    e->klen = klen;
    if (klen != 0)
        memcpy(e->key, k, klen);
    atomic_fetch_add_explicit(&sm_live_entries, 1, memory_order_relaxed);
    return e;
}

static void entry_free(sm_entry *e)
{
    atomic_fetch_sub_explicit(&sm_live_entries, 1, memory_order_relaxed);
    free(e);
}

static void entry_free_cb(void *e)
{
    entry_free(e);
}

static inline bool is_value(const void *p)
{
    return p != DELETED && p != EXPUNGED;
}

/* e.load(): the value, if any. */
static inline bool entry_load(sm_entry *e, void **val)
{
    /* acquire: pairs with the release half of the RMW that stored the
     * value (entry_try_swap, entry_try_load_or_store, ...), or with the
     * publication of R/D for a value set at creation. */
    void *p = atomic_load_explicit(&e->p, memory_order_acquire);
    if (!is_value(p))
        return false;
    if (val != NULL)
        *val = p;
    return true;
}

/* e.trySwap(): store @val unless the entry is EXPUNGED; *prev gets the
 * old content (a value or DELETED). */
static bool entry_try_swap(sm_entry *e, void *val, void **prev)
{
    /* The loads feed the CAS; its acquire half orders the returned old
     * value's contents before our caller's use of it. */
    void *p = atomic_load_explicit(&e->p, memory_order_relaxed);
    for (;;) {
        if (p == EXPUNGED)
            return false;
        /* acq_rel: release publishes @val's contents to the acquire loads
         * in entry_load(); acquire pairs with the release that stored p. */
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, val,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *prev = p;
            return true;
        }
    }
}

/* e.tryLoadOrStore(): false if EXPUNGED; otherwise the existing value
 * (*loaded = true) or @val, now stored. */
static bool entry_try_load_or_store(sm_entry *e, void *val, void **actual,
                                    bool *loaded)
{
    /* acquire: pairs with the release that stored an existing value,
     * which we hand out. */
    void *p = atomic_load_explicit(&e->p, memory_order_acquire);
    for (;;) {
        if (p == EXPUNGED)
            return false;
        if (p != DELETED) {
            *actual = p;
            *loaded = true;
            return true;
        }
        /* acq_rel on success publishes @val (as entry_try_swap); acquire
         * on failure because the value we then find may be handed out. */
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, val,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *actual = val;
            *loaded = false;
            return true;
        }
    }
}

/* e.delete(): value -> DELETED; the removed value goes to *val. */
static bool entry_delete(sm_entry *e, void **val)
{
    void *p = atomic_load_explicit(&e->p, memory_order_relaxed);
    for (;;) {
        if (!is_value(p))
            return false;
        /* acq_rel: acquire pairs with the release that stored p (its
         * contents go to the caller); release makes the deletion a write
         * that later acquire loads observing DELETED synchronize with. */
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, DELETED,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *val = p;
            return true;
        }
    }
}

/* value @old -> @val if the entry holds @old (a value: never a sentinel). */
static bool entry_compare_and_swap(sm_entry *e, void *old, void *val)
{
    /* acq_rel: as entry_try_swap.  A single CAS suffices: values are
     * compared by identity, so "holds @old" is exactly what it checks. */
    return atomic_compare_exchange_strong_explicit(
        &e->p, &old, val, memory_order_acq_rel, memory_order_relaxed);
}

/* e.unexpungeLocked(): EXPUNGED -> DELETED; true if it was EXPUNGED.  The
 * caller must then put the entry back in D. */
static bool entry_unexpunge_locked(sm_entry *e)
{
    void *p = EXPUNGED;
    /* relaxed: EXPUNGED and DELETED carry no data, and both transitions
     * involving EXPUNGED happen under mu (I5), which orders them. */
    return atomic_compare_exchange_strong_explicit(
        &e->p, &p, DELETED, memory_order_relaxed, memory_order_relaxed);
}

/* e.tryExpungeLocked(): DELETED -> EXPUNGED; true if the entry is now
 * EXPUNGED (the lock-free CAS DELETED -> value may race with us). */
static bool entry_try_expunge_locked(sm_entry *e)
{
    void *p = atomic_load_explicit(&e->p, memory_order_relaxed);
    while (p == DELETED) {
        /* relaxed: see entry_unexpunge_locked. */
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, EXPUNGED,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
    return p == EXPUNGED;
}

/* ===================================================================
 * Maps
 * =================================================================== */

static inline gort_map *map_of(uintptr_t r)
{
    return (gort_map *)(r & ~AMENDED);
}

/* The current R word. */
static inline uintptr_t load_read(gort_syncmap *m)
{
    /* acquire: pairs with the release stores in promote_locked() and
     * set_amended_locked(): R's buckets and entries are visible. */
    return atomic_load_explicit(&m->read, memory_order_acquire);
}

static inline sm_entry *map_lookup(const gort_map *mp, const char *k,
                                   size_t klen)
{
    const void *slot = gort_map_get_str(mp, k, klen);
    return slot != NULL ? *(sm_entry *const *)slot : NULL;
}

static void dirty_put_locked(gort_syncmap *m, sm_entry *e)
{
    sm_entry **slot = gort_map_set_str(m->dirty, e->key, e->klen);
    GORT_ASSERT(*slot == NULL);
    *slot = e;
}

static void set_amended_locked(gort_syncmap *m, uintptr_t r)
{
    /* release: pairs with the acquire in load_read(); publishes nothing
     * new (same map) but keeps every store of the R word a release. */
    atomic_store_explicit(&m->read, r | AMENDED, memory_order_release);
}

/* Go's dirtyLocked: build D from R, leaving out (expunging) deleted
 * entries.  O(len(R)); paid once per promotion cycle. */
static void dirty_locked(gort_syncmap *m)
{
    if (m->dirty != NULL)
        return;
    gort_map *r = map_of(atomic_load_explicit(&m->read, memory_order_relaxed));
    m->dirty = gort_map_new_strref(sizeof(sm_entry *), gort_map_len(r));
    GORT_ASSERT(m->expunged == NULL);
    gort_map_iter it;
    gort_map_iter_init(&it, r);
    while (gort_map_iter_next(&it)) {
        sm_entry *e = *(sm_entry *const *)it.val;
        if (entry_try_expunge_locked(e)) {
            e->next = m->expunged;
            m->expunged = e;
        } else {
            dirty_put_locked(m, e);
        }
    }
}

/* D becomes R (Go's missLocked tail and Range's promotion).  The old R
 * and its dead entries go to a grave the caller retires after unlocking. */
static void promote_locked(gort_syncmap *m, sm_pending *pend)
{
    gort_map *old = map_of(atomic_load_explicit(&m->read, memory_order_relaxed));
    sm_entry *dead = NULL;
    for (sm_entry *e = m->expunged, *next; e != NULL; e = next) {
        next = e->next;
        /* Still EXPUNGED under mu: in no map from now on (I3, I5). */
        if (atomic_load_explicit(&e->p, memory_order_relaxed) == EXPUNGED) {
            e->next = dead;
            dead = e;
        }
    }
    /* release: pairs with the acquire in load_read(): D's buckets, its
     * entries and their keys were written before. */
    atomic_store_explicit(&m->read, (uintptr_t)m->dirty, memory_order_release);
    m->dirty = NULL;
    m->misses = 0;
    m->expunged = NULL;
    GORT_ASSERT(pend->grave == NULL);
    if (old != NULL || dead != NULL) {
        sm_grave *g = gort__xmalloc(sizeof *g);
        g->map = old;
        g->dead = dead;
        pend->grave = g;
    }
}

static void miss_locked(gort_syncmap *m, sm_pending *pend)
{
    m->misses++;
    if (m->misses < gort_map_len(m->dirty))
        return;
    promote_locked(m, pend);
}

static void grave_destroy(void *p)
{
    sm_grave *g = p;
    gort_map_free(g->map);
    for (sm_entry *e = g->dead, *next; e != NULL; e = next) {
        next = e->next;
        entry_free(e);
    }
    free(g);
}

/* Retires what the operation unpublished; outside mu and the section. */
static void retire_pending(const sm_pending *pend)
{
    if (pend->grave != NULL)
        gort_retire(pend->grave, grave_destroy);
    if (pend->entry != NULL)
        gort_retire(pend->entry, entry_free_cb);
}

/* A value the map owned and no longer stores: retired if the map owns
 * values (a NULL value is never handed to the destructor). */
static void retire_value(gort_syncmap *m, void *v)
{
    void (*destroy)(void *) =
        atomic_load_explicit(&m->destroy, memory_order_relaxed);
    if (destroy != NULL && v != NULL)
        gort_retire(v, destroy);
}

static inline void count_add(gort_syncmap *m, intptr_t d)
{
    atomic_fetch_add_explicit(&m->count, d, memory_order_relaxed);
}

/* ===================================================================
 * Lifecycle
 * =================================================================== */

gort_syncmap *gort_syncmap_new(void)
{
    gort_syncmap *m = aligned_alloc(64, sizeof *m);
    if (m == NULL)
        gort__throw_oom();
    memset(m, 0, sizeof *m);
    atomic_init(&m->read, 0);
    atomic_init(&m->destroy, NULL);
    atomic_init(&m->count, 0);
    return m;
}

void gort_syncmap_set_destructor(gort_syncmap *m, void (*destroy)(void *))
{
    if (GORT_UNLIKELY(m == NULL))
        panic_null_map("gort_syncmap_set_destructor");
    atomic_store_explicit(&m->destroy, destroy, memory_order_relaxed);
}

size_t gort_syncmap_len(gort_syncmap *m)
{
    if (GORT_UNLIKELY(m == NULL))
        panic_null_map("gort_syncmap_len");
    intptr_t n = atomic_load_explicit(&m->count, memory_order_relaxed);
    return n > 0 ? (size_t)n : 0;
}

void gort_syncmap_free(gort_syncmap *m)
{
    if (m == NULL)
        return;
    void (*destroy)(void *) =
        atomic_load_explicit(&m->destroy, memory_order_relaxed);
    /* Goroutines may still use values they loaded inside their sections;
     * without a destructor the values are not ours to wait for. */
    if (destroy != NULL)
        gort_synchronize();
    gort_map *r = map_of(atomic_load_explicit(&m->read, memory_order_relaxed));
    /* First the expunged list: the entries on it that were unexpunged
     * since are in D and must still be readable here. */
    for (sm_entry *e = m->expunged, *next; e != NULL; e = next) {
        next = e->next;
        if (atomic_load_explicit(&e->p, memory_order_relaxed) == EXPUNGED)
            entry_free(e); /* in R only */
    }
    /* Every other entry is in D, or in R when there is no D (I3).  They
     * are freed after the walk: an iteration of a map caught mid-growth
     * may hash a key (the entry's bytes) again. */
    gort_map *live = m->dirty != NULL ? m->dirty : r;
    sm_entry *all = NULL;
    gort_map_iter it;
    gort_map_iter_init(&it, live);
    while (gort_map_iter_next(&it)) {
        sm_entry *e = *(sm_entry *const *)it.val;
        void *p = atomic_load_explicit(&e->p, memory_order_relaxed);
        if (destroy != NULL && is_value(p) && p != NULL)
            destroy(p);
        e->next = all;
        all = e;
    }
    gort_map_free(r);
    gort_map_free(m->dirty);
    for (sm_entry *e = all, *next; e != NULL; e = next) {
        next = e->next;
        entry_free(e);
    }
    free(m);
}

/* ===================================================================
 * Access
 * =================================================================== */

bool gort_syncmap_load(gort_syncmap *m, const char *k, size_t klen, void **val)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_load");
    sm_pending pend = {NULL, NULL};
    gort__read_lock();
    uintptr_t r = load_read(m);
    sm_entry *e = map_lookup(map_of(r), k, klen);
    if (GORT_UNLIKELY(e == NULL && (r & AMENDED))) {
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        e = map_lookup(map_of(r), k, klen);
        if (e == NULL && (r & AMENDED)) {
            e = map_lookup(m->dirty, k, klen);
            miss_locked(m, &pend);
        }
        gort_mutex_unlock(&m->mu);
    }
    bool ok = e != NULL && entry_load(e, val);
    gort__read_unlock();
    if (GORT_UNLIKELY(pend.grave != NULL))
        retire_pending(&pend);
    return ok;
}

/* Go's Swap; *prev gets the old content (a value, or DELETED). */
static void swap_impl(gort_syncmap *m, const char *k, size_t klen, void *val,
                      void **prev)
{
    gort__read_lock();
    uintptr_t r = load_read(m);
    sm_entry *e = map_lookup(map_of(r), k, klen);
    if (e == NULL || !entry_try_swap(e, val, prev)) {
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        e = map_lookup(map_of(r), k, klen);
        if (e == NULL)
            e = map_lookup(m->dirty, k, klen);
        else if (entry_unexpunge_locked(e))
            dirty_put_locked(m, e);
        if (e != NULL) {
            /* Go's swapLocked.  acq_rel: as entry_try_swap. */
            *prev = atomic_exchange_explicit(&e->p, val, memory_order_acq_rel);
            GORT_ASSERT(*prev != EXPUNGED);
        } else {
            if (!(r & AMENDED)) {
                dirty_locked(m);
                set_amended_locked(m, r);
            }
            dirty_put_locked(m, entry_new(k, klen, val));
            *prev = DELETED;
        }
        gort_mutex_unlock(&m->mu);
    }
    gort__read_unlock();
    if (*prev == DELETED)
        count_add(m, 1);
}

void gort_syncmap_store(gort_syncmap *m, const char *k, size_t klen, void *val)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_store");
    void *prev;
    swap_impl(m, k, klen, val, &prev);
    if (prev != DELETED && prev != val)
        retire_value(m, prev);
}

bool gort_syncmap_swap(gort_syncmap *m, const char *k, size_t klen, void *val,
                       void **previous)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_swap");
    void *prev;
    swap_impl(m, k, klen, val, &prev);
    if (prev == DELETED)
        return false;
    if (previous != NULL)
        *previous = prev;
    return true;
}

bool gort_syncmap_load_or_store(gort_syncmap *m, const char *k, size_t klen,
                                void *val, void **actual)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_load_or_store");
    sm_pending pend = {NULL, NULL};
    void *act = NULL;
    bool loaded = false;
    gort__read_lock();
    uintptr_t r = load_read(m);
    sm_entry *e = map_lookup(map_of(r), k, klen);
    if (e == NULL || !entry_try_load_or_store(e, val, &act, &loaded)) {
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        e = map_lookup(map_of(r), k, klen);
        if (e != NULL) {
            if (entry_unexpunge_locked(e))
                dirty_put_locked(m, e);
            bool ok = entry_try_load_or_store(e, val, &act, &loaded);
            GORT_ASSERT(ok); /* only dirty_locked expunges, under mu */
        } else if ((e = map_lookup(m->dirty, k, klen)) != NULL) {
            bool ok = entry_try_load_or_store(e, val, &act, &loaded);
            GORT_ASSERT(ok); /* I2 */
            miss_locked(m, &pend);
        } else {
            if (!(r & AMENDED)) {
                dirty_locked(m);
                set_amended_locked(m, r);
            }
            dirty_put_locked(m, entry_new(k, klen, val));
            act = val;
            loaded = false;
        }
        gort_mutex_unlock(&m->mu);
    }
    gort__read_unlock();
    retire_pending(&pend);
    if (!loaded)
        count_add(m, 1);
    if (actual != NULL)
        *actual = act;
    return loaded;
}

/* Go's LoadAndDelete; the removed value goes to *val. */
static bool load_and_delete_impl(gort_syncmap *m, const char *k, size_t klen,
                                 void **val)
{
    sm_pending pend = {NULL, NULL};
    gort__read_lock();
    uintptr_t r = load_read(m);
    sm_entry *e = map_lookup(map_of(r), k, klen);
    if (e == NULL && (r & AMENDED)) {
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        e = map_lookup(map_of(r), k, klen);
        if (e == NULL && (r & AMENDED)) {
            e = map_lookup(m->dirty, k, klen);
            if (e != NULL) {
                /* Not in R, so in no read-only map ever (I4): once out of
                 * D it is unreachable; ours to retire. */
                gort_map_delete_str(m->dirty, k, klen);
                pend.entry = e;
            }
            miss_locked(m, &pend);
        }
        gort_mutex_unlock(&m->mu);
    }
    /* Off D, the entry can only go to DELETED: every path that stores a
     * value into an entry of D does it under mu or finds it in R. */
    bool ok = e != NULL && entry_delete(e, val);
    gort__read_unlock();
    retire_pending(&pend);
    if (ok)
        count_add(m, -1);
    return ok;
}

bool gort_syncmap_load_and_delete(gort_syncmap *m, const char *k, size_t klen,
                                  void **val)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_load_and_delete");
    void *v;
    if (!load_and_delete_impl(m, k, klen, &v))
        return false;
    if (val != NULL)
        *val = v;
    return true;
}

void gort_syncmap_delete(gort_syncmap *m, const char *k, size_t klen)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_delete");
    void *v;
    if (load_and_delete_impl(m, k, klen, &v))
        retire_value(m, v);
}

bool gort_syncmap_compare_and_swap(gort_syncmap *m, const char *k, size_t klen,
                                   void *old, void *val)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_compare_and_swap");
    sm_pending pend = {NULL, NULL};
    bool swapped = false;
    gort__read_lock();
    uintptr_t r = load_read(m);
    sm_entry *e = map_lookup(map_of(r), k, klen);
    if (e != NULL) {
        swapped = entry_compare_and_swap(e, old, val);
    } else if (r & AMENDED) {
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        e = map_lookup(map_of(r), k, klen);
        if (e != NULL) {
            swapped = entry_compare_and_swap(e, old, val);
        } else if ((e = map_lookup(m->dirty, k, klen)) != NULL) {
            swapped = entry_compare_and_swap(e, old, val);
            miss_locked(m, &pend);
        }
        gort_mutex_unlock(&m->mu);
    }
    gort__read_unlock();
    retire_pending(&pend);
    if (swapped && old != val)
        retire_value(m, old);
    return swapped;
}

bool gort_syncmap_compare_and_delete(gort_syncmap *m, const char *k,
                                     size_t klen, void *old)
{
    CHECK_ARGS(m, k, klen, "gort_syncmap_compare_and_delete");
    sm_pending pend = {NULL, NULL};
    gort__read_lock();
    uintptr_t r = load_read(m);
    sm_entry *e = map_lookup(map_of(r), k, klen);
    if (e == NULL && (r & AMENDED)) {
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        e = map_lookup(map_of(r), k, klen);
        if (e == NULL && (r & AMENDED)) {
            e = map_lookup(m->dirty, k, klen);
            miss_locked(m, &pend);
        }
        gort_mutex_unlock(&m->mu);
    }
    /* acq_rel: as entry_delete.  A sentinel never equals @old. */
    bool deleted = e != NULL && atomic_compare_exchange_strong_explicit(
                                    &e->p, &old, DELETED,
                                    memory_order_acq_rel, memory_order_relaxed);
    gort__read_unlock();
    retire_pending(&pend);
    if (deleted) {
        count_add(m, -1);
        retire_value(m, old);
    }
    return deleted;
}

/* ===================================================================
 * Iteration
 * =================================================================== */

void gort_syncmap_range(gort_syncmap *m,
                        bool (*f)(const void *key, size_t klen, void *val,
                                  void *ctx),
                        void *ctx)
{
    if (GORT_UNLIKELY(m == NULL))
        panic_null_map("gort_syncmap_range");
    if (GORT_UNLIKELY(f == NULL))
        gort_panic("gort_syncmap_range: NULL function");
    sm_pending pend = {NULL, NULL};
    /* One section for the whole walk: R, its entries, keys and values stay
     * allocated while f runs.  If f panics and a caller recovers, the
     * panic machinery closes it (gort/read_section.h). */
    gort__read_lock();
    uintptr_t r = load_read(m);
    if (r & AMENDED) {
        /* Go: promote first, so the walk is O(len) and sees every key. */
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        if (r & AMENDED) {
            promote_locked(m, &pend);
            r = atomic_load_explicit(&m->read, memory_order_relaxed);
        }
        gort_mutex_unlock(&m->mu);
        retire_pending(&pend); /* allowed inside a section; before f runs */
    }
    gort_map_iter it;
    gort_map_iter_init(&it, map_of(r));
    while (gort_map_iter_next(&it)) {
        sm_entry *e = *(sm_entry *const *)it.val;
        void *v;
        if (entry_load(e, &v) && !f(e->key, e->klen, v, ctx))
            break;
    }
    gort__read_unlock();
}

/* ===================================================================
 * Debug
 * =================================================================== */

#define VERIFY(c)                                                              \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "gort__syncmap_verify: %s (line %d)\n", #c,        \
                    __LINE__);                                                 \
            ok = false;                                                        \
            goto out;                                                          \
        }                                                                      \
    } while (0)

/* Checks I1-I3 and the counter; call it when no other goroutine writes
 * @m (the counter is only exact then).  O(len). */
bool gort__syncmap_verify(gort_syncmap *m)
{
    bool ok = true;
    gort_mutex_lock(&m->mu);
    uintptr_t r = atomic_load_explicit(&m->read, memory_order_relaxed);
    gort_map *rm = map_of(r), *d = m->dirty;
    size_t values = 0, expunged_in_r = 0, expunged_listed = 0;
    gort_map_iter it;
    VERIFY(((r & AMENDED) != 0) == (d != NULL)); /* I1 */
    if (d == NULL)
        VERIFY(m->expunged == NULL);
    gort_map_iter_init(&it, rm);
    while (gort_map_iter_next(&it)) {
        sm_entry *e = *(sm_entry *const *)it.val;
        VERIFY(it.key_len == e->klen && memcmp(it.key, e->key, e->klen) == 0);
        void *p = atomic_load_explicit(&e->p, memory_order_relaxed);
        if (d == NULL) {
            VERIFY(p != EXPUNGED); /* I2 */
            values += is_value(p);
        } else if (p == EXPUNGED) {
            VERIFY(map_lookup(d, e->key, e->klen) == NULL); /* I3 */
            expunged_in_r++;
        } else {
            VERIFY(map_lookup(d, e->key, e->klen) == e); /* I3 */
        }
    }
    for (sm_entry *e = m->expunged; e != NULL; e = e->next)
        expunged_listed +=
            atomic_load_explicit(&e->p, memory_order_relaxed) == EXPUNGED;
    VERIFY(expunged_listed == expunged_in_r); /* I3: the list is complete */
    if (d != NULL) {
        gort_map_iter_init(&it, d);
        while (gort_map_iter_next(&it)) {
            sm_entry *e = *(sm_entry *const *)it.val;
            VERIFY(it.key_len == e->klen &&
                   memcmp(it.key, e->key, e->klen) == 0);
            void *p = atomic_load_explicit(&e->p, memory_order_relaxed);
            VERIFY(p != EXPUNGED); /* I2 */
            values += is_value(p);
        }
    }
    VERIFY((intptr_t)values ==
           atomic_load_explicit(&m->count, memory_order_relaxed));
out:
    gort_mutex_unlock(&m->mu);
    return ok;
}
