/*
 * read_section_internal.h - the rest of the reader side of
 * read_section.c for the library's own readers (syncmap.c, snapmap.c):
 * the out-of-line begin, the general end (fence fallback included), and
 * the hooks the goroutine and panic machinery call.  The common cases of
 * begin and end, and the reader record, are in gort/read_section.h:
 * programs inline them too (docs/design/read_sections.md, "Inline
 * sections").
 *
 * A section entry also names the snapmap view it belongs to, if any, so
 * the snapshot map needs no bookkeeping of its own: the entry is dropped
 * with its section, also when a recovered panic closes the sections of
 * abandoned frames (gort__read_recover).
 *
 * Never included from include/gort/.
 */
#ifndef GORT_READ_SECTION_INTERNAL_H
#define GORT_READ_SECTION_INTERNAL_H

#include "runtime_internal.h"

#include <gort/defer.h>
#include <gort/read_section.h>

#include <stdatomic.h>
#include <stdbool.h>

#ifdef GORT__TSAN
void __tsan_release(void *addr);
/* read_section.c's happens-before object (its address only). */
extern char gort__rs_gp_clock __attribute__((visibility("hidden")));
#endif

/* Children of fork() this process is (read_section.c's fork handler
 * counts them), so that state naming the parent's threads is known for
 * stale: a snapmap's flusher goroutine is not in the child.  Written only
 * in the child's fork handler, while the child has one thread. */
extern unsigned gort__fork_gen __attribute__((visibility("hidden")));

/* Out of line (read_section.c): the whole begin of a section tagged
 * (owner, view), with what the inline path leaves out (first use on this
 * thread, a full inline stack or one on the heap, which it moves back
 * once few sections are open, the fence fallback, a ThreadSanitizer
 * build). */
gort__rs_entry *gort__read_begin_slow(const void *owner, const void *view);
/* Out of line: a full seq_cst fence (the no-membarrier fallback). */
void gort__read_full_fence(void);

/* gort__read_try_begin and gort__read_try_end_top, the common cases,
 * are in gort/read_section.h (user code inlines them too). */

/* The calling thread's outermost section has ended (depth already 0).
 * Names gort__rs directly, as the paths in gort/read_section.h do (the
 * UBSan false positive described there). */
static inline __attribute__((always_inline)) void
gort__read_exit_as(bool fence)
{
#ifdef GORT__TSAN
    /* Everything this section did happens before the end of the grace
     * periods that wait for it (read_section.c's gp_clock). */
    __tsan_release(&gort__rs_gp_clock);
#endif
    /* The section's accesses before ctr = 0, and ctr = 0 before the futex
     * load, which pairs with the writer's barrier between futex = -1 and
     * its scan (compiler barriers made full by membarrier; fences in the
     * fallback, @fence). */
    unsigned long ctr = __atomic_load_n(&gort__rs.ctr, __ATOMIC_RELAXED);
    if (GORT_UNLIKELY(fence)) {
        gort__read_full_fence();
        __atomic_store_n(&gort__rs.ctr, 0, __ATOMIC_RELAXED);
        gort__read_full_fence();
    } else {
        atomic_signal_fence(memory_order_seq_cst);
        __atomic_store_n(&gort__rs.ctr, 0, __ATOMIC_RELAXED);
        atomic_signal_fence(memory_order_seq_cst);
    }
    if (GORT_UNLIKELY(__atomic_load_n(&gort__rs_gp.futex, __ATOMIC_RELAXED) ==
                      -1))
        gort__read_wake_writer(ctr);
}

static inline __attribute__((always_inline)) void
gort__read_section_exit(void)
{
    gort__read_exit_as(__atomic_load_n(&gort__rs_gp.use_fence,
                                       __ATOMIC_RELAXED) != 0);
}

/* The depth of the innermost section if it is (owner, view), else 0. */
static inline __attribute__((always_inline)) unsigned
gort__read_top_is(const void *owner, const void *view)
{
    unsigned d = gort__rs.depth;
    if (GORT_UNLIKELY(d == 0))
        return 0;
    if (GORT_UNLIKELY(gort__rs.stack[d - 1].owner != owner ||
                      gort__rs.stack[d - 1].view != view))
        return 0;
    return d;
}

/* Ends the innermost section if it is (owner, view); returns false
 * (nothing done) otherwise, for the caller's slow path. */
static inline __attribute__((always_inline)) bool
gort__read_end_top(const void *owner, const void *view)
{
    unsigned d = gort__read_top_is(owner, view);
    if (d == 0)
        return false;
    gort__rs.depth = d - 1;
    if (d == 1)
        gort__read_section_exit();
    return true;
}

/* gort_read_begin / gort_read_end for the library's own readers
 * (syncmap.c): the same sections, inline. */
static inline __attribute__((always_inline)) void gort__read_lock(void)
{
    if (GORT_UNLIKELY(!gort__read_try_begin_plain()))
        (void)gort__read_begin_slow(GORT__RS_PLAIN, NULL);
}

static inline __attribute__((always_inline)) void gort__read_unlock(void)
{
    if (GORT_UNLIKELY(!gort__read_end_top(GORT__RS_PLAIN, NULL)))
        (gort_read_end)(); /* out of order, or misuse: its checks */
}

/* Ends the innermost open section (owner, view), wherever it is in the
 * stack (sections are a nesting count: they may end in any order).
 * Returns false if there is none (nothing done). */
bool gort__read_end_tagged(const void *owner, const void *view);

/* Whether the calling thread holds a snapmap view (an open section
 * owned by a snapmap). */
bool gort__read_holds_view(void);

/* The calling thread is ending (goroutine end, gort_thread_detach, the
 * thread-exit destructor): closes its open read sections, so no grace
 * period waits for a thread that is gone, and unregisters it.  Idempotent;
 * a later section registers the thread again. */
void gort__read_thread_fini(void);

/* A panic was recovered and frame @fr is about to resume: closes the
 * calling thread's open sections that were begun while @fr or a deeper
 * (newer) frame was the innermost one.  Sections begun with no frame open,
 * or in an older frame, stay open. */
void gort__read_recover(const gort__frame *fr);

/* The calling thread's number of open read sections (0: none).  A thread
 * with one open must not wait for a grace period or for a publisher that
 * waits for one (snapmap.c). */
static inline unsigned gort__read_depth(void)
{
    return gort__rs.depth;
}

#endif /* GORT_READ_SECTION_INTERNAL_H */
