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

GORT_END_DECLS

#endif /* GORT_READ_SECTION_H */
