/*
 * map_iter.c - map iteration (Go 1.19's hiter, mapiterinit, mapiternext).
 *
 * Design.  An iterator walks the bucket array that was current when it
 * started (it.buckets, 2^it.B buckets) from a random bucket, wrapping
 * around, and inside each bucket and its overflow chain from a random
 * slot offset: the order differs from one iteration to the next, as Go
 * wants, so that nobody relies on it.  Entries are never moved within
 * their bucket, and evacuation keeps the chain order, so a position
 * (bucket, chain bucket, slot) stays meaningful while the map changes.
 *
 * What happens when the map grows during the iteration, exactly as Go:
 *   - the iterator keeps walking its start array.  A slot there that has
 *     been evacuated (tophash evacuatedX/Y) may be stale: the key is
 *     looked up again in the current table (Go's mapaccessK) and produced
 *     only if still present, with its current value;
 *   - an iterator started during a growth (its array is the map's
 *     current one, and a growth is under way), arriving at a bucket
 *     whose old bucket is not evacuated yet, walks that old bucket
 *     instead and produces only the keys that will land in the bucket
 *     being visited (checkBucket): in a doubling the other half belongs
 *     to the bucket's sibling, visited separately.  Two departures from
 *     Go (see iter_next_general) for growths that follow the one the
 *     iterator started in.
 * So no entry is produced twice, an entry deleted before it is reached
 * is not produced, and entries added meanwhile may or may not be.
 *
 * Memory: the start array and old arrays an iterator may read are kept
 * alive by the map (map.c: iter_flags, retired list) because C has no
 * garbage collector.  gort_map_iter_init records the need with a
 * relaxed atomic OR on iter_flags (skipped when the bits are already
 * set) and counts the iteration live with a relaxed atomic add, which
 * its end (or gort_map_iter_end) takes back: readers never race with
 * each other and never touch the writing flag.  A growth that finds no
 * iteration live frees what was kept and moves iter_epoch; a step
 * checks the epoch before it touches any array, so an iterator the map
 * counted finished (a copy of one that finished) stops with a fatal
 * error.  When the map is cleared (or emptied by deletes), the
 * clear sequence changes and every iterator stops at its next step
 * without touching its arrays again: no entry that existed when it
 * started is left, and new ones may or may not be produced (Go >= 1.21
 * clear semantics allow either).
 *
 * States: init (after gort_map_iter_init) -> next (entries produced) ->
 * done (returns false forever).  A nil or empty map starts done.
 *
 * Ordering guarantees: none; iteration is a read of the map.  A write
 * seen during a step is the fatal error "concurrent map iteration and
 * map write".
 */
#include "map_internal.h"

enum { ST_INIT = 0, ST_NEXT = 1, ST_DONE = 2 };

#define NO_CHECK (~(uintptr_t)0) /* Go's noCheck */

#if defined(GORT_DEBUG_EXPENSIVE) || defined(GORT__ASAN) || defined(GORT__TSAN)
#define ITER_FINGERPRINT 1
#endif

void gort_map_iter_init(gort_map_iter *it, const gort_map *m)
{
    if (GORT_UNLIKELY(it == NULL))
        gort_panic("gort_map_iter_init: NULL iterator");
    memset(it, 0, sizeof *it);
    it->check_bucket_ = NO_CHECK;
    if (m == NULL) {
        it->state_ = ST_DONE;
        return;
    }
    GORT__MAP_RACE_READ(m);
    if (m->count == 0) { /* Go: an iteration of an empty map ends at once */
        it->state_ = ST_DONE;
        return;
    }
    it->map_ = m;
    it->B_ = m->B;
    it->buckets_ = m->buckets;
    it->clear_seq_ = m->clear_seq;
    it->epoch_ = m->iter_epoch;
    it->fingerprint_ = m->id;
    uint64_t r = gort__fastrand64();
    it->start_bucket_ = (uintptr_t)(r & gort__map_bucket_mask(m->B));
    it->offset_ = (uint8_t)((r >> (m->B & 63)) & (GORT__MAP_BUCKET_CNT - 1));
    if (m->B > 56) /* not enough bits left above B */
        it->offset_ = (uint8_t)(gort__fastrand64() & (GORT__MAP_BUCKET_CNT - 1));
    it->bucket_ = it->start_bucket_;
    /* Remember we have an iterator: the current arrays must outlive a
     * growth.  Several readers may do this at once, hence the atomic. */
    uint8_t want = GORT__MAP_ITER | GORT__MAP_OLD_ITER;
    uint8_t *flags = (uint8_t *)&m->iter_flags;
    if ((__atomic_load_n(flags, __ATOMIC_RELAXED) & want) != want)
        __atomic_fetch_or(flags, want, __ATOMIC_RELAXED);
    /* And count it live until it finishes: a growth that finds none live
     * frees what was kept (map.c, release_kept). */
    __atomic_fetch_add((size_t *)&m->live_iters, 1, __ATOMIC_RELAXED);
    it->state_ = ST_INIT;
}

static bool iter_done(gort_map_iter *it)
{
    it->key = NULL;
    it->key_len = 0;
    it->val = NULL;
    it->bptr_ = NULL;
    it->state_ = ST_DONE;
    return false;
}

/* An iteration of @m (not cleared since it began) finishes: it is
 * counted live no more. */
static void iter_unregister(const gort_map *m, const char *fn)
{
    size_t was =
        __atomic_fetch_sub((size_t *)&m->live_iters, 1, __ATOMIC_RELAXED);
    if (GORT_UNLIKELY(was == 0))
        gort__fatalf("%s: the iteration was already finished (a copy of "
                     "this gort_map_iter ran to its end or was ended; only "
                     "one copy of an iteration may go on)", fn);
}

/* The map is cleared or emptied since @it began (it stops: nothing it
 * could produce is left), or released what was kept for iterations
 * when none was live, which this one is: misuse, see the message. */
static __attribute__((noinline)) bool iter_stale(gort_map_iter *it,
                                                 const gort_map *m,
                                                 const char *fn)
{
    if (it->clear_seq_ != m->clear_seq)
        return iter_done(it);
    gort__fatalf("%s: the map freed the arrays this iteration reads, "
                 "counting it finished (a copy of this gort_map_iter ran to "
                 "its end or was ended, or the iterator outlived its "
                 "snapmap view)", fn);
}

static inline __attribute__((always_inline)) void
iter_output(gort_map_iter *it, const gort_map *m, const uint8_t *kslot,
            const uint8_t *val)
{
    switch (m->kind) {
    case GORT__MAP_STR:
        /* An inline key is produced where it is, in the bucket: valid
         * until the next write to the map (map.h). */
        it->key = gort__strslot_key(kslot, &it->key_len);
        break;
    case GORT__MAP_STRREF: {
        const gort__strkey *sk = (const gort__strkey *)kslot;
        it->key = sk->p;
        it->key_len = sk->len;
        break;
    }
    case GORT__MAP_U64:
        it->key = kslot;
        it->key_len = sizeof(uint64_t);
        break;
    default:
        it->key = kslot;
        it->key_len = m->key_stride;
        break;
    }
    it->val = val;
}

/* The whole of a step (gort_map_iter_next's fast path hands over here
 * with the iterator's fields as they were, or with i_ moved to a slot it
 * does not handle). */
static __attribute__((noinline)) bool iter_next_general(gort_map_iter *it)
{
    if (it->state_ == ST_DONE)
        return false;
    const gort_map *m = it->map_;
#ifdef ITER_FINGERPRINT
    if (GORT_UNLIKELY(it->fingerprint_ != m->id))
        gort__fatal("gort_map_iter_next: the iterator's map was freed or "
                    "replaced");
#endif
    if (it->epoch_ != m->iter_epoch)
        return iter_stale(it, m, "gort_map_iter_next");
#ifndef GORT_MAP_NOCHECK
    if (GORT_UNLIKELY(gort__map_load_flags(m) & GORT__MAP_WRITING))
        gort__map_fatal_iter();
#endif
    size_t bucket = it->bucket_;
    const uint8_t *b = it->bptr_;
    unsigned i = it->i_;
    uintptr_t check = it->check_bucket_;
    size_t nbuckets = gort__map_bucket_shift(it->B_);

next:
    if (b == NULL) {
        if (bucket == it->start_bucket_ && it->wrapped_) {
            iter_unregister(m, "gort_map_iter_next");
            return iter_done(it);
        }
        if (m->oldbuckets != NULL && m->buckets == it->buckets_) {
            /* Started during this growth: if the old bucket has not moved
             * yet, walk it, keeping the keys that belong here.  Go tests
             * it.B == h.B, which a later same-size growth also passes;
             * its old array is the array the iterator's growth made,
             * which the map frees when that later growth ends (Go's
             * collector keeps it), so the test here is of the iterator's
             * own array: the map's current one until the next growth
             * starts.  (The array of a live iteration is kept while it
             * is counted, and one not counted stops at the epoch check,
             * so no new array can take its address.) */
            size_t oldbucket = bucket & gort__map_oldbucket_mask(m);
            b = gort__map_bucket_at(m, m->oldbuckets, oldbucket);
            if (!gort__map_evacuated(b)) {
                check = bucket;
            } else {
                b = gort__map_bucket_at(m, it->buckets_, bucket);
                check = NO_CHECK;
            }
        } else {
            b = gort__map_bucket_at(m, it->buckets_, bucket);
            check = NO_CHECK;
        }
        if (++bucket == nbuckets) {
            bucket = 0;
            it->wrapped_ = 1;
        }
        i = 0;
    }
    for (; i < GORT__MAP_BUCKET_CNT; i++) {
        unsigned offi = (i + it->offset_) & (GORT__MAP_BUCKET_CNT - 1);
        uint8_t top = b[offi];
        if (gort__map_is_empty(top) || top == GORT__EVAC_EMPTY)
            continue;
        const uint8_t *k = gort__map_key(m, b, offi);
        const uint8_t *e = gort__map_val(m, b, offi);
        if (check != NO_CHECK) {
            /* An old bucket of a doubling: skip the keys of the other
             * new bucket it splits into.  Go also skips the test when
             * the growth keeps the size (all of an old bucket's keys
             * then belong to the visited one); but the doubling may have
             * ended and a same-size growth begun since this walk of the
             * old bucket started, and its other half would come out
             * again in the sibling.  In a same-size growth's old bucket
             * the test passes anyway: it costs a hash per key there. */
            uint64_t hash = gort__map_hash_slot(m, k);
            if ((hash & gort__map_bucket_mask(it->B_)) != check)
                continue;
        }
        if (top != GORT__EVAC_X && top != GORT__EVAC_Y) {
            iter_output(it, m, k, e); /* the golden data */
        } else {
            /* Moved since the iterator started: it may have been
             * deleted, updated, or deleted and added again. */
            const uint8_t *rv;
            const uint8_t *rk = gort__map_lookup_slot(m, k, &rv);
            if (rk == NULL)
                continue;
            iter_output(it, m, rk, rv);
        }
        it->bucket_ = bucket;
        it->bptr_ = (void *)b;
        it->i_ = (uint8_t)(i + 1);
        it->check_bucket_ = check;
        it->state_ = ST_NEXT;
        return true;
    }
    b = gort__map_overflow(m, b);
    i = 0;
    goto next;
}

/* The common step: the next filled slot, not moved by a growth, in the
 * bucket being walked, its overflow chain or the next buckets of the
 * array, outside a growth the iteration started in.  Anything else (the
 * first step, evacuated slots, an iteration that started during a
 * growth, the end of the walk, a cleared map, a done iterator) goes on in
 * iter_next_general by a tail call, with the iterator's fields saying
 * where, so this path calls nothing and saves no registers.  callgrind, a borrowed-key map of 1000 WORKLOAD
 * keys, whole passes: 121 instructions per entry before (one function
 * with calls in it, and iter_output out of line), see docs/design/map.md
 * for after. */
bool gort_map_iter_next(gort_map_iter *it)
{
    const gort_map *m = it->map_;
    const uint8_t *b = it->bptr_;
    if (GORT_UNLIKELY(b == NULL || it->check_bucket_ != NO_CHECK))
        return iter_next_general(it); /* also every state but ST_NEXT */
    GORT__MAP_RACE_READ(m);
#ifdef ITER_FINGERPRINT
    if (GORT_UNLIKELY(it->fingerprint_ != m->id))
        return iter_next_general(it); /* which reports it */
#endif
    if (GORT_UNLIKELY(it->epoch_ != m->iter_epoch))
        return iter_next_general(it); /* cleared, or misuse */
#ifndef GORT_MAP_NOCHECK
    if (GORT_UNLIKELY(gort__map_load_flags(m) & GORT__MAP_WRITING))
        gort__map_fatal_iter();
#endif
    unsigned off = it->offset_;
    unsigned i = it->i_;
    for (;;) {
        for (; i < GORT__MAP_BUCKET_CNT; i++) {
            unsigned offi = (i + off) & (GORT__MAP_BUCKET_CNT - 1);
            uint8_t top = b[offi];
            if (top < GORT__MIN_TOPHASH) {
                if (top == GORT__EVAC_X || top == GORT__EVAC_Y) {
                    it->bptr_ = (void *)b; /* moved: looked up again */
                    it->i_ = (uint8_t)i;
                    return iter_next_general(it);
                }
                continue; /* empty, or empty and evacuated */
            }
            iter_output(it, m, gort__map_key(m, b, offi),
                        gort__map_val(m, b, offi));
            it->bptr_ = (void *)b;
            it->i_ = (uint8_t)(i + 1);
            return true;
        }
        /* The chain's next bucket, else the array's next bucket unless
         * the walk ends there or a growth it started in is under way
         * (then the old bucket may have to be walked instead). */
        const uint8_t *next = gort__map_overflow(m, b);
        if (next == NULL) {
            size_t bucket = it->bucket_;
            if ((bucket == it->start_bucket_ && it->wrapped_) ||
                (m->oldbuckets != NULL && m->buckets == it->buckets_)) {
                it->bptr_ = NULL;
                it->i_ = 0;
                return iter_next_general(it);
            }
            next = gort__map_bucket_at(m, it->buckets_, bucket);
            if (++bucket == gort__map_bucket_shift(it->B_)) {
                bucket = 0;
                it->wrapped_ = 1;
            }
            it->bucket_ = bucket;
        }
        b = next;
        i = 0;
    }
}

void gort_map_iter_end(gort_map_iter *it)
{
    if (it->state_ == ST_DONE)
        return;
    const gort_map *m = it->map_;
    GORT__MAP_RACE_READ(m);
#ifdef ITER_FINGERPRINT
    if (GORT_UNLIKELY(it->fingerprint_ != m->id))
        gort__fatal("gort_map_iter_end: the iterator's map was freed or "
                    "replaced");
#endif
    if (it->epoch_ != m->iter_epoch) {
        iter_stale(it, m, "gort_map_iter_end");
        return;
    }
    iter_unregister(m, "gort_map_iter_end");
    iter_done(it);
}
