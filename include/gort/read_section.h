/*
 * gort/read_section.h - read-side sections, grace periods and deferred
 * reclamation (RCU).
 *
 * C has no garbage collector, so a pointer that readers load without a
 * lock (gort/atomic_value.h, sync.Map's read-only map, the snapshot map's
 * views) can be freed only once no reader can still hold it.  Readers
 * bracket the load and every use of the loaded pointer with
 * gort_read_begin() and gort_read_end(); a writer that unpublished a
 * pointer either waits for the readers that might hold it
 * (gort_synchronize()) or hands it to gort_retire(), which destroys it
 * later, after such a wait.
 *
 * Sections are cheap (a few nanoseconds for a begin/end pair: no atomic
 * read-modify-write, no fence when the kernel has membarrier), nest, never
 * block, and work on any thread: goroutines started by gort_go() and
 * threads gort did not start are registered on their first use.  The
 * implementation is gort's own of the membarrier-based userspace RCU
 * algorithm (liburcu's urcu-memb design; docs/design/read_sections.md).
 * Without membarrier (old kernels, or GORTDEBUG=rcufence=1) sections
 * fall back to fences; the choice is made once, at the first use.  A
 * process that forbids membarrier after that (a seccomp filter installed
 * later) ends with a fatal error at its next grace period: its readers
 * already rely on it.
 *
 * Happens-before: everything a reader did inside a section happens before
 * the return of every gort_synchronize() that waited for it and before the
 * destructor of every object retired while the section was open; a
 * gort_retire() call happens before the destructor it schedules.
 *
 * Panics: a panic that unwinds out of a read section and is recovered
 * closes the sections opened in the frames it abandoned (those opened
 * after the GORT_FRAME of the function whose deferred call recovered); a
 * goroutine that ends (return or gort_goexit) closes all of its sections.
 */
#ifndef GORT_READ_SECTION_H
#define GORT_READ_SECTION_H

#include <gort/common.h>
#include <gort/defer.h>

#include <stdbool.h>
#include <stddef.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Read side
 * =================================================================== */

/**
 * gort_read_begin - open a read-side section.
 *
 * Until the matching gort_read_end(), no object that was reachable when
 * the section began is destroyed through gort_retire() or freed by a
 * writer after gort_synchronize().  Sections nest: only the outermost
 * pair matters to writers.  Never blocks.  Open sections after the
 * function's GORT_FRAME (a panic recovered in that function then closes
 * them).
 * Thread-safety: any thread; the first call on a thread registers it
 * (a thread gort did not start calls gort_thread_detach() before it
 * exits).  Not async-signal-safe: a signal handler must not open a
 * section (one that interrupts the thread's own begin may run a whole
 * section between the begin's two stores, and leave the interrupted
 * section unprotected).
 * Happens-before: none by itself; see the header comment.
 */
GORT_API void gort_read_begin(void);

/**
 * gort_read_end - close the innermost open read-side section.
 *
 * Thread-safety: the thread that opened the section.
 * Fatal error (exit status 2): "gort: gort_read_end outside a read
 * section" when no section is open on this thread.
 */
GORT_API void gort_read_end(void);

/* ===================================================================
 * Write side
 * =================================================================== */

/**
 * gort_synchronize - wait for a grace period.
 *
 * Returns once every read-side section that was open when the call began
 * has ended (sections that begin during the call are not waited for).
 * After unpublishing a pointer, a writer may free it when this returns.
 * Blocks (a short bounded spin, then a futex wait) for as long as such
 * readers stay in their sections; a bare grace period costs about a
 * microsecond.
 * Thread-safety: any thread, any number at once.
 * Happens-before: everything the waited-for readers did in their sections
 * happens before this returns.  Issues a full memory barrier.
 * Fatal error (exit status 2): "gort: gort_synchronize inside a read
 * section (deadlock)" when the calling thread has a section open.
 */
GORT_API void gort_synchronize(void);

/**
 * gort_retire - destroy @p once no reader can see it.
 * @p:       an object already unreachable for new readers; NULL: nothing
 *           is done.
 * @destroy: called as destroy(@p) after a grace period, on a background
 *           thread; NULL: nothing is done.
 *
 * Does not wait: may be called inside a read section.  Destructors run
 * one at a time, in call order, on gort's retire thread (started by the
 * first retire), after one grace period per batch of retired objects; a
 * destructor may use read sections and retire more objects, must not
 * call gort_retire_barrier(), and must not panic (a panic there ends the
 * process).
 * Objects still pending when the process exits are not destroyed, as Go
 * does not run finalizers at exit; call gort_retire_barrier() first when
 * every object must be (leak checkers, clean shutdown).
 * Ownership: @p passes to gort (to @destroy).
 * Thread-safety: any thread, inside or outside a read section.
 * Happens-before: this call, and every read section open when it was
 * made, happen before destroy(@p).
 */
GORT_API void gort_retire(void *p, void (*destroy)(void *));

/**
 * gort_retire_barrier - wait until every object retired before the call
 * has been destroyed (the role of liburcu's rcu_barrier).
 *
 * Takes at least one grace period (the retire thread does not delay its
 * batches).
 *
 * Thread-safety: any thread, outside read sections.
 * Happens-before: each destroy() of those objects happens before this
 * returns.
 * Fatal error (exit status 2): "gort: gort_retire_barrier inside a read
 * section (deadlock)", and "gort: gort_retire_barrier inside a retire
 * destructor (deadlock)".
 */
GORT_API void gort_retire_barrier(void);

/* ===================================================================
 * Inline fast paths (not API: the gort__ names and layouts below belong
 * to this version of the library and change with it)
 *
 * A reader that opens a section around every lookup pays for the pair on
 * each lookup, and as calls it costs more than its instructions: in a
 * lookup loop that misses the cache, the CPU overlaps the misses of the
 * lookups its reorder window holds, so every instruction a lookup adds
 * (calls, returns, callee-saved registers) shortens the overlap
 * (docs/design/read_sections.md, "Inline sections").  So, as defer.h
 * does for frames, the common case of gort_read_begin/end and of
 * gort_snapmap_read_begin/end is compiled into the caller: a few loads
 * and stores of the thread's reader state, no call.  Everything else
 * (first use on a thread, deep nesting, the fence fallback, the
 * ThreadSanitizer build of the library, misuse) calls the functions,
 * which `(gort_read_begin)()` and `&gort_read_begin` still name.
 * =================================================================== */

#define GORT__RS_ACTIVE 1ul /* in gort__rs_gp.ctr always; in a reader
                               word: inside a section */
#define GORT__RS_PHASE 2ul  /* flipped twice by each grace period */

#define GORT__RS_INLINE_SECTIONS 8 /* deeper nesting moves to the heap */

/* One open section. */
typedef struct gort__rs_entry {
    const gort__frame *frame; /* innermost defer frame at the begin (NULL:
                                 none): the criterion of a recovery
                                 (read_section.c) */
    const void *owner;        /* GORT__RS_PLAIN: a plain section
                                 (gort_read_begin); else the gort_snapmap
                                 of a view */
    const void *view;         /* that view (NULL for a plain section) */
} gort__rs_entry;

/* The owner of a plain section: no snapmap's address, and not NULL, so an
 * end of a view of a nil map matches no section and reaches the
 * out-of-line end, which reports it.  An end compares the whole pair
 * (owner, view): views of two maps never match each other's ends. */
#define GORT__RS_PLAIN ((const void *)1)

/* A thread's reader state (initial-exec TLS: no __tls_get_addr).  ctr is
 * accessed with relaxed __atomic operations only: written by its thread,
 * read by writers scanning the registry. */
typedef struct gort__rs_thread {
    /* First, so that an entry's offset in the TLS block is its index
     * times its size, with no constant to add. */
    gort__rs_entry inline_stack[GORT__RS_INLINE_SECTIONS];
    unsigned long ctr;   /* 0, or gp.ctr as read by the outermost begin */
    unsigned depth;      /* open sections, 0..cap */
    unsigned fast_cap;   /* depth the inline paths may reach: cap while
                            stack is inline_stack; 0 when every begin and
                            end must go out of line (not registered, the
                            stack on the heap, the fence fallback, the
                            library built with ThreadSanitizer) */
    gort__rs_entry *stack; /* [0, depth): the open sections, innermost
                              last; inline_stack or heap */
    unsigned cap;        /* capacity of stack; 0: not registered */
    bool in_destroy;     /* running a retired object's destroy() */
    struct gort__rs_thread *next, *prev; /* registry (its lock) */
} gort__rs_thread;

#define gort__rs GORT__ABI(gort__rs) /* common.h: the layout's number */
GORT_API extern __thread gort__rs_thread gort__rs
    __attribute__((tls_model("initial-exec")));

/* Read by every outermost begin (ctr) and end (futex): own cache line,
 * away from the locks writers take.  __atomic operations only (relaxed
 * but for the futex handshake of read_section.c). */
typedef struct gort__rs_global {
    unsigned long ctr __attribute__((aligned(64))); /* GORT__RS_ACTIVE |
                                phase; written under the grace-period lock */
    int futex;                      /* -1: a writer sleeps on it */
    int use_fence;                  /* 1: no membarrier; readers and
                                       writers use seq_cst fences.  Set
                                       once before any thread registers */
} gort__rs_global;

#define gort__rs_gp GORT__ABI(gort__rs_gp)
GORT_API extern gort__rs_global gort__rs_gp;

/* Out of line: the outermost section, begun with reader word @ctr, has
 * ended and a writer sleeps: wakes it if it waits for this phase. */
GORT_API void gort__read_wake_writer(unsigned long ctr);

/* A section's begin, common case only: returns the index of its entry
 * in gort__rs.inline_stack, its frame and owner set, whose view the
 * caller sets (once it has loaded it inside the section); or
 * GORT__RS_NONE, having done nothing, when the inline stack is full or
 * fast_cap is 0 (the thread must register, the stack is on the heap,
 * readers use fences, the library was built with ThreadSanitizer): the
 * caller then calls the out-of-line begin.  fast_cap != 0 means the
 * stack is inline_stack, so an entry's address is a constant offset in
 * the thread's TLS block: no load of the stack pointer.
 *
 * These paths name gort__rs directly, never through a pointer to it:
 * under UBSan, GCC 12 tests a pointer to an initial-exec TLS variable for
 * NULL with the flags of the add that forms it, and the linker's
 * relaxation of that add into a lea (in an executable) leaves the flags
 * of an earlier instruction: a false "member access within null pointer"
 * in statically linked sanitizer builds. */
#define GORT__RS_NONE (~0u) /* gort__read_try_begin: use the slow path */

static inline __attribute__((always_inline)) unsigned
gort__read_try_begin(const void *owner)
{
    unsigned d = gort__rs.depth;
    if (GORT_UNLIKELY(d >= gort__rs.fast_cap))
        return GORT__RS_NONE;
    if (d >= GORT__RS_INLINE_SECTIONS)
        __builtin_unreachable(); /* fast_cap <= that: lets the compiler
                                    address the entry directly */
    /* The phase this section belongs to (read_section.c).  Outermost
     * sections are the common case (a view per lookup): laid out in
     * line. */
    if (GORT_LIKELY(d == 0))
        __atomic_store_n(&gort__rs.ctr,
                         __atomic_load_n(&gort__rs_gp.ctr, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
    gort__rs.inline_stack[d].frame = gort__g.frames;
    gort__rs.inline_stack[d].owner = owner;
    gort__rs.depth = d + 1;
    /* ctr before the section's accesses: a compiler barrier, which the
     * writer's membarrier makes a full one. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return d;
}

/* The end of the innermost section if it is (owner, view), common case
 * only: false, having done nothing, for anything else (the caller then
 * calls the out-of-line end, which finds the section or reports the
 * misuse). */
static inline __attribute__((always_inline)) bool
gort__read_try_end_top(const void *owner, const void *view)
{
    unsigned d = gort__rs.depth;
    if (GORT_UNLIKELY(d - 1 >= gort__rs.fast_cap)) /* d == 0 wraps */
        return 0;
    if (d > GORT__RS_INLINE_SECTIONS)
        __builtin_unreachable(); /* fast_cap <= that */
    if (GORT_UNLIKELY(gort__rs.inline_stack[d - 1].owner != owner ||
                      gort__rs.inline_stack[d - 1].view != view))
        return 0;
    gort__rs.depth = d - 1;
    if (GORT_LIKELY(d == 1)) {
        /* The section's accesses before ctr = 0, and ctr = 0 before the
         * futex load, which pairs with the writer's barrier between
         * futex = -1 and its scan (compiler barriers, made full by the
         * writer's membarrier). */
        unsigned long ctr = __atomic_load_n(&gort__rs.ctr, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&gort__rs.ctr, 0, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (GORT_UNLIKELY(__atomic_load_n(&gort__rs_gp.futex,
                                          __ATOMIC_RELAXED) == -1))
            gort__read_wake_writer(ctr);
    }
    return 1;
}

/* A plain section's begin, common case only: false, having done
 * nothing, for the caller's out-of-line begin. */
static inline __attribute__((always_inline)) bool
gort__read_try_begin_plain(void)
{
    unsigned i = gort__read_try_begin(GORT__RS_PLAIN);
    if (GORT_UNLIKELY(i == GORT__RS_NONE))
        return 0;
    gort__rs.inline_stack[i].view = GORT__NULL;
    return 1;
}

static inline __attribute__((always_inline)) void gort__read_begin_inline(void)
{
    if (GORT_UNLIKELY(!gort__read_try_begin_plain()))
        (gort_read_begin)();
}

static inline __attribute__((always_inline)) void gort__read_end_inline(void)
{
    if (GORT_UNLIKELY(!gort__read_try_end_top(GORT__RS_PLAIN, GORT__NULL)))
        (gort_read_end)();
}

#define gort_read_begin() gort__read_begin_inline()
#define gort_read_end() gort__read_end_inline()

GORT_END_DECLS

#endif /* GORT_READ_SECTION_H */
