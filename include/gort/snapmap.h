/*
 * gort/snapmap.h - the snapshot map ("MapWrapper"): read-only views that
 * readers use without locks, and writes deferred into batches.
 *
 * A gort_snapmap is a map[string]V (V of val_size bytes, keys copied) for
 * read-mostly data.  Readers open a view with gort_snapmap_read_begin():
 * a const gort_map * that the ordinary read API of gort/map.h accepts
 * (gort_map_get_str, gort_map_len, gort_map_iter_*).  Opening a view is a
 * read-side section (gort/read_section.h) plus one load: no lock, no
 * atomic read-modify-write, no copy.  The view is a snapshot: it does not
 * change, and stays valid, until gort_snapmap_read_end(), whatever the
 * writers do meanwhile.
 *
 * Writers queue operations (gort_snapmap_set_str, gort_snapmap_delete_str).
 * The queue is applied and published as a new version, all of it at once
 * (a view never shows half a batch), when
 *   - it holds batch_size operations (gort_snapmap_set_batch_size,
 *     default 1000): a background flusher goroutine publishes it;
 *   - its oldest operation is batch_age_ms old (gort_snapmap_set_batch_age_ms,
 *     default 200 ms): the flusher publishes it;
 *   - someone calls gort_snapmap_flush(), which returns when the version
 *     holding every operation queued before the call is what new views see.
 * Operations apply in the order they were queued: those of one goroutine
 * in its program order; concurrent writers are allowed.  Every queued
 * operation is applied exactly once.
 *
 * Cost: a view costs what a read section costs (a few nanoseconds);
 * a publication costs time proportional to the batch, not to the map
 * (the map is kept twice, "left-right": the batch is applied to the copy
 * no reader uses, the copies are swapped, the publisher waits until the
 * readers of the old copy have left, and replays the batch on it).  Memory
 * is two maps.  docs/design/snapmap.md has the measurements.
 *
 * Rules (each misuse that would deadlock or corrupt is a fatal error,
 * exit status 2, not a hang):
 *   - a goroutine that holds a view must not flush or free the map (the
 *     publisher waits for the view to end);
 *   - gort_snapmap_read_end takes a view the calling goroutine opened on
 *     that map and has not ended yet;
 *   - a view is read-only: writing through it (casting the const away)
 *     is the fatal error "gort: write to a read-only map view
 *     (gort_snapmap_read_begin)";
 *   - a goroutine holding a view must not block on something that a
 *     writer of a snapmap waits for (as with any read-side section).
 * A panic unwinding out of the function that opened a view ends the view
 * (its read section is closed by the recovery, gort/read_section.h).
 *
 * fork(): the child has only the forking thread, so not the flusher
 * goroutine; its first write starts one of its own, and flush and free
 * work there.  As with any lock, a fork while another thread is inside a
 * write, flush or publication of the same map leaves the child with that
 * map unusable (its locks held by a thread the child does not have).
 */
#ifndef GORT_SNAPMAP_H
#define GORT_SNAPMAP_H

#include <gort/common.h>
#include <gort/map.h>
#include <gort/read_section.h>

#include <stddef.h>
#include <stdint.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Types
 * =================================================================== */

/* The snapshot map.  Opaque. */
typedef struct gort_snapmap gort_snapmap;

/**
 * struct gort_snapmap_info - statistics of a snapshot map
 * (gort_snapmap_stats).  Counters count from the map's creation.
 */
typedef struct gort_snapmap_info {
    uint64_t version;       /* versions published; 0: still the initial
                               empty map.  by_size + by_age + by_flush */
    uint64_t by_size;       /* versions published because the queue
                               reached batch_size (by the flusher) */
    uint64_t by_age;        /* versions published because the oldest
                               queued operation reached batch_age_ms */
    uint64_t by_flush;      /* versions published by gort_snapmap_flush */
    uint64_t ops_queued;    /* set/delete calls accepted */
    uint64_t ops_applied;   /* operations in published versions */
    uint64_t writer_waits;  /* times a writer waited for the flusher
                               because the queue was full (queue_batches
                               batches) */
    size_t len;             /* entries in the current version */
    size_t pending;         /* operations queued, not yet published */
    size_t batch_size;      /* current setting */
    unsigned batch_age_ms;  /* current setting */
    unsigned queue_batches; /* current setting */
} gort_snapmap_info;

/* ===================================================================
 * Lifecycle
 * =================================================================== */

/**
 * gort_snapmap_new_str - a snapshot map[string]V.
 * @val_size: bytes per value; 0 is allowed (a set, as gort_map_new_str).
 *
 * Return: the map, empty (version 0); never NULL.  The flusher goroutine
 * starts with the first queued operation.
 * Ownership: the caller frees it with gort_snapmap_free.
 * Thread-safety: any goroutine.
 * Panics: "gort_snapmap_new_str: value size N is larger than M bytes".
 */
GORT_API gort_snapmap *gort_snapmap_new_str(size_t val_size);

/**
 * gort_snapmap_free - apply what is still queued, wait for the open views
 * to end, stop the flusher goroutine and free everything.  NULL is fine.
 *
 * Thread-safety: no other call on @s may run or follow, except
 * gort_snapmap_read_end of views opened before (free waits for them).
 * Fatal error (exit status 2) when the calling goroutine holds a view of
 * any snapmap or is inside a read-side section (the messages of
 * gort_snapmap_flush, naming gort_snapmap_free): waiting for the views to
 * end would wait for itself.
 */
GORT_API void gort_snapmap_free(gort_snapmap *s);

/* ===================================================================
 * Readers
 * =================================================================== */

/**
 * gort_snapmap_read_begin - open a read-only view of the current version.
 *
 * Return: a map to use with gort/map.h's read functions (get, len,
 * iteration, dump, stats) until gort_snapmap_read_end(@s, view).  It never
 * changes meanwhile.  Views nest: a goroutine may hold several, of one or
 * several maps, and end them in any order.
 * Ownership: the view belongs to @s; do not free it.
 * Thread-safety: any goroutine, any number at once; lock-free (a read-side
 * section and one acquire load, paired with the release store of the
 * publication).
 * Happens-before: every operation of a published version happens before
 * the reads through a view of that version or a later one.
 * Panics: "gort_snapmap_read_begin: nil snapmap".
 */
GORT_API const gort_map *gort_snapmap_read_begin(gort_snapmap *s);

/**
 * gort_snapmap_read_end - end a view.
 * @s:    the map the view was opened on.
 * @view: a view returned by gort_snapmap_read_begin(@s) on this goroutine
 *        and not ended yet.
 *
 * After it returns, @view and every slot found through it may be freed or
 * reused by the next publication.
 * Thread-safety: the goroutine that opened @view.
 * Fatal error: "gort_snapmap_read_end: the view is not open on this
 * goroutine (...)" for anything else (another map's view, a view ended
 * already, one opened by another goroutine, NULL).
 * Limit: a view is known by its pointer, and two views of one version
 * are the same pointer.  So ending a view twice while this goroutine
 * holds another view of the same version of @s ends that other view
 * instead (the mistake is reported at that view's own end, which then
 * finds nothing open); reads through it in between are unprotected.
 */
GORT_API void gort_snapmap_read_end(gort_snapmap *s, const gort_map *view);

/* The inline halves of the two (not API: see "Inline fast paths" in
 * gort/read_section.h).  A view is a read section tagged with its map
 * and version; the begin loads the published version, the first member
 * of every gort_snapmap, inside the section.  The common case calls
 * nothing; a nil map, a thread's first section, deep nesting, the fence
 * fallback and the misuses (whose tags do not match the innermost
 * section's) call the functions above, which
 * `(gort_snapmap_read_begin)(s)` also names. */
typedef struct gort__snapmap_reader {
    gort_map *published; /* the version new views see; release-stored by
                            the publisher */
} gort__snapmap_reader;

/* A view's begin, common case only: false, having done nothing, for the
 * caller's out-of-line begin (gort/snapmap.h's or snapmap.c's). */
static inline __attribute__((always_inline)) bool
gort__snapmap_try_begin(gort_snapmap *s, const gort_map **view)
{
    unsigned i;
    if (GORT_UNLIKELY(s == GORT__NULL ||
                      (i = gort__read_try_begin(s)) == GORT__RS_NONE))
        return 0;
    /* acquire: pairs with the publisher's release store (snapmap.c). */
    const gort_map *v = __atomic_load_n(
        &((gort__snapmap_reader *)(void *)s)->published, __ATOMIC_ACQUIRE);
    gort__rs.inline_stack[i].view = v;
    *view = v;
    return 1;
}

static inline __attribute__((always_inline)) const gort_map *
gort__snapmap_read_begin_inline(gort_snapmap *s)
{
    const gort_map *v;
    if (GORT_UNLIKELY(!gort__snapmap_try_begin(s, &v)))
        return (gort_snapmap_read_begin)(s);
    return v;
}

static inline __attribute__((always_inline)) void
gort__snapmap_read_end_inline(gort_snapmap *s, const gort_map *view)
{
    /* A nil map is no section's owner: out of line. */
    if (GORT_UNLIKELY(!gort__read_try_end_top(s, view)))
        (gort_snapmap_read_end)(s, view);
}

#define gort_snapmap_read_begin(s) gort__snapmap_read_begin_inline(s)
#define gort_snapmap_read_end(s, view) gort__snapmap_read_end_inline(s, view)

/* ===================================================================
 * Writers
 * =================================================================== */

/**
 * gort_snapmap_set_str - queue m[k] = *val.
 * @k:    key bytes, copied (may be NULL when @klen is 0).
 * @val:  val_size bytes, copied now; may be NULL only when val_size is 0.
 *
 * Visible to new views once published (see the file comment).
 * Thread-safety: any goroutine, any number at once, inside a view too.
 * A goroutine that holds no view and is outside any read-side section
 * waits (blocks) while queue_batches batches (default 8, see
 * gort_snapmap_set_queue_batches) are already queued and the flusher has
 * not taken them (back-pressure: the queue stays bounded); one inside a
 * view never waits.
 * Panics: "gort_snapmap_set_str: nil snapmap", "... NULL key with length
 * N", "... NULL value with value size N".
 */
GORT_API void gort_snapmap_set_str(gort_snapmap *s, const char *k,
                                   size_t klen, const void *val);

/**
 * gort_snapmap_delete_str - queue delete(m, k).  As gort_snapmap_set_str;
 * deleting an absent key is a no-op when applied.
 */
GORT_API void gort_snapmap_delete_str(gort_snapmap *s, const char *k,
                                      size_t klen);

/**
 * gort_snapmap_flush - publish every operation queued before the call.
 *
 * Returns once new views see a version holding every operation queued
 * (by any goroutine) before the call; returns at once if there is none.
 * Blocks while another publication runs and while the readers of the
 * replaced version finish their views (a short bounded spin, then a
 * futex sleep, as gort_synchronize).
 * Happens-before: the operations queued before the call happen before
 * the reads of any view opened after it returns.
 * Fatal error (exit status 2), not a deadlock: "gort_snapmap_flush: called
 * while holding a view (gort_snapmap_read_begin): ..." when the calling
 * goroutine holds a view of any snapmap, "gort_snapmap_flush: called
 * inside a read section (gort_read_begin): ..." when it is inside another
 * read-side section: the flush would wait for itself.
 * Panics: "gort_snapmap_flush: nil snapmap".
 */
GORT_API void gort_snapmap_flush(gort_snapmap *s);

/* ===================================================================
 * Settings and statistics
 * =================================================================== */

/**
 * gort_snapmap_set_batch_size - publish once @ops operations are queued.
 *
 * Default 1000.  A version published for size holds at least @ops
 * operations (more when writers queued more while the flusher worked).
 * Thread-safety: any goroutine.
 * Panics: "gort_snapmap_set_batch_size: batch size 0".
 */
GORT_API void gort_snapmap_set_batch_size(gort_snapmap *s, size_t ops);

/**
 * gort_snapmap_set_queue_batches - how far writers may run ahead of
 * publication, in batches (beyond the SPEC).
 *
 * Default 8: a writer whose operation finds @batches * batch_size
 * operations queued (not yet taken by the flusher) waits until the
 * flusher takes them.  The flusher publishes everything queued as one
 * version, so when writers outrun publication a version holds up to
 * @batches batches: more operations share one grace period, and writers
 * go faster.  1: a version per batch (batch_size operations each, as a
 * copy-on-write map publishing every batch_size updates does), writers
 * paced by publication.
 * Thread-safety: any goroutine.
 * Panics: "gort_snapmap_set_queue_batches: 0 batches".
 */
GORT_API void gort_snapmap_set_queue_batches(gort_snapmap *s,
                                             unsigned batches);

/**
 * gort_snapmap_set_batch_age_ms - publish once the oldest queued operation
 * is @ms milliseconds old.
 *
 * Default 200.  0 publishes as soon as the flusher runs.  The flusher
 * sleeps (no polling) until that deadline or until woken by the size
 * trigger.
 * Thread-safety: any goroutine.
 */
GORT_API void gort_snapmap_set_batch_age_ms(gort_snapmap *s, unsigned ms);

/**
 * gort_snapmap_stats - fill @info.
 *
 * Thread-safety: any goroutine, inside a view too; the counters are read
 * one by one while writers run, so they agree with each other only when
 * no writer runs.
 * Panics: "gort_snapmap_stats: nil snapmap".
 */
GORT_API void gort_snapmap_stats(gort_snapmap *s, gort_snapmap_info *info);

GORT_END_DECLS

#endif /* GORT_SNAPMAP_H */
