/*
 * read_section_internal.h - the reader side of read_section.c, inline for
 * the library's own readers (syncmap.c, snapmap.c, atomic_value users),
 * and the hooks the goroutine and panic machinery call.
 *
 * Why inline: a snapshot-map reader opens and closes one section per
 * lookup, so the pair is on the lookup's critical path.  As calls (the
 * public gort_read_begin/end, then the view bookkeeping in snapmap.c) a
 * view cost about 80 instructions per lookup; folded into the caller it
 * is a couple of TLS loads and stores (docs/design/read_sections.md).
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

#define GORT__RS_ACTIVE 1ul /* in gort__rs_gp.ctr always; in a reader
                               word: inside a section */
#define GORT__RS_PHASE 2ul  /* flipped twice by each grace period */

#define GORT__RS_INLINE_SECTIONS 8 /* deeper nesting moves to the heap */

/* One open section. */
typedef struct gort__rs_entry {
    const gort__frame *frame; /* innermost defer frame at the begin (NULL:
                                 none): gort__read_recover's criterion */
    const void *owner;        /* NULL: a plain section (gort_read_begin);
                                 else the gort_snapmap of a view */
    const void *view;         /* that view (owner != NULL) */
} gort__rs_entry;

/* A thread's reader state (initial-exec TLS: no __tls_get_addr). */
typedef struct gort__rs_thread {
    atomic_ulong ctr; /* 0, or gp.ctr as read by the outermost begin;
                         written by its thread, read by writers */
    unsigned depth;   /* open sections, 0..cap */
    unsigned cap;     /* capacity of stack; 0: not registered */
    gort__rs_entry *stack; /* [0, depth): the open sections, innermost
                              last; inline_stack or heap */
    struct gort__rs_thread *next, *prev; /* registry (registry_lock) */
    bool in_destroy; /* running a retired object's destroy() */
    gort__rs_entry inline_stack[GORT__RS_INLINE_SECTIONS];
} gort__rs_thread;

extern __thread gort__rs_thread gort__rs
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* Read by every outermost begin (ctr) and end (futex): own cache line,
 * away from the locks writers take. */
typedef struct gort__rs_global {
    _Alignas(64) atomic_ulong ctr; /* RS_ACTIVE | phase; written under
                                      the grace-period lock */
    atomic_int futex;              /* -1: a writer sleeps on it */
    atomic_int use_fence;          /* 1: no membarrier; readers and
                                      writers use seq_cst fences.  Set
                                      once before any thread registers */
} gort__rs_global;

extern gort__rs_global gort__rs_gp __attribute__((visibility("hidden")));

/* Children of fork() this process is (read_section.c's fork handler
 * counts them), so that state naming the parent's threads is known for
 * stale: a snapmap's flusher goroutine is not in the child.  Written only
 * in the child's fork handler, while the child has one thread. */
extern unsigned gort__fork_gen __attribute__((visibility("hidden")));

/* Out of line (read_section.c): the whole begin of a section tagged
 * (owner, view), with what the inline path leaves out (first use on this
 * thread, nesting beyond the stack's capacity, the fence fallback). */
gort__rs_entry *gort__read_begin_slow(const void *owner, const void *view);
/* Out of line: the outermost section, begun with reader word @ctr, ended
 * and a writer sleeps: wakes it if it waits for this section's phase. */
void gort__read_wake_writer(unsigned long ctr);
/* Out of line: a full seq_cst fence (the no-membarrier fallback). */
void gort__read_full_fence(void);

/* A section's begin, common case only: returns NULL, having done
 * nothing, when the thread must register, the stack must grow or readers
 * use fences (then the caller goes on with gort__read_begin_slow, by a
 * tail call where it can).  So a caller's fast path calls nothing and
 * needs no frame. */
static inline __attribute__((always_inline)) gort__rs_entry *
gort__read_try_begin_tagged(const void *owner, const void *view)
{
    unsigned d = gort__rs.depth;
    if (GORT_UNLIKELY(d >= gort__rs.cap))
        return NULL;
    if (d == 0) {
        if (GORT_UNLIKELY(atomic_load_explicit(&gort__rs_gp.use_fence,
                                               memory_order_relaxed)))
            return NULL;
        /* The phase this section belongs to (see read_section.c). */
        atomic_store_explicit(
            &gort__rs.ctr,
            atomic_load_explicit(&gort__rs_gp.ctr, memory_order_relaxed),
            memory_order_relaxed);
    }
    gort__rs_entry *e = &gort__rs.stack[d];
    e->frame = gort__g.frames;
    e->owner = owner;
    e->view = view;
    gort__rs.depth = d + 1;
    /* ctr before the section's accesses: a compiler barrier, which the
     * writer's membarrier makes a full one. */
    atomic_signal_fence(memory_order_seq_cst);
    return e;
}

/* Begins a section tagged with (owner, view) (both NULL: a plain
 * section) and returns its entry, whose view the caller may set once it
 * has loaded it inside the section. */
static inline __attribute__((always_inline)) gort__rs_entry *
gort__read_begin_tagged(const void *owner, const void *view)
{
    gort__rs_entry *e = gort__read_try_begin_tagged(owner, view);
    if (GORT_UNLIKELY(e == NULL))
        e = gort__read_begin_slow(owner, view);
    return e;
}

/* The calling thread's outermost section has ended (depth already 0).
 *
 * These inline paths name gort__rs directly instead of through a pointer
 * to it: under UBSan, GCC 12 tests a pointer to an initial-exec TLS
 * variable for NULL with the flags of the add that forms it, and the
 * linker's relaxation of that add into a lea (in an executable) leaves
 * the flags of an earlier instruction: a false "member access within
 * null pointer" in statically linked sanitizer builds. */
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
    unsigned long ctr =
        atomic_load_explicit(&gort__rs.ctr, memory_order_relaxed);
    if (GORT_UNLIKELY(fence)) {
        gort__read_full_fence();
        atomic_store_explicit(&gort__rs.ctr, 0, memory_order_relaxed);
        gort__read_full_fence();
    } else {
        atomic_signal_fence(memory_order_seq_cst);
        atomic_store_explicit(&gort__rs.ctr, 0, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__rs_gp.futex,
                                           memory_order_relaxed) == -1))
        gort__read_wake_writer(ctr);
}

static inline __attribute__((always_inline)) void
gort__read_section_exit(void)
{
    gort__read_exit_as(atomic_load_explicit(&gort__rs_gp.use_fence,
                                            memory_order_relaxed) != 0);
}

/* The depth of the innermost section if it is tagged (owner, view), else
 * 0. */
static inline __attribute__((always_inline)) unsigned
gort__read_top_is(const void *owner, const void *view)
{
    unsigned d = gort__rs.depth;
    if (GORT_UNLIKELY(d == 0))
        return 0;
    const gort__rs_entry *e = &gort__rs.stack[d - 1];
    if (GORT_UNLIKELY(e->owner != owner || e->view != view))
        return 0;
    return d;
}

/* Ends the innermost section if it is tagged (owner, view); returns false
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
    (void)gort__read_begin_tagged(NULL, NULL);
}

static inline __attribute__((always_inline)) void gort__read_unlock(void)
{
    if (GORT_UNLIKELY(!gort__read_end_top(NULL, NULL)))
        gort_read_end(); /* out of order, or misuse: its checks */
}

/* gort__read_end_top's common case only: false, having done nothing,
 * when the innermost section is not (owner, view) or readers use fences
 * and it is the outermost.  A sleeping writer is woken by a call in
 * tail position. */
static inline __attribute__((always_inline)) bool
gort__read_try_end_top(const void *owner, const void *view)
{
    unsigned d = gort__read_top_is(owner, view);
    if (d == 0)
        return false;
    if (d == 1) {
        if (GORT_UNLIKELY(atomic_load_explicit(&gort__rs_gp.use_fence,
                                               memory_order_relaxed)))
            return false;
        gort__rs.depth = 0;
        gort__read_exit_as(false);
        return true;
    }
    gort__rs.depth = d - 1;
    return true;
}

/* Ends the innermost open section tagged (owner, view), wherever it is in
 * the stack (sections are a nesting count: they may end in any order).
 * Returns false if there is none (nothing done). */
bool gort__read_end_tagged(const void *owner, const void *view);

/* Whether the calling thread holds a snapmap view (an open section with
 * an owner). */
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
