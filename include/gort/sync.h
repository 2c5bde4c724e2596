/*
 * gort/sync.h - goroutines and Go's sync types.
 *
 * Goroutines are OS threads started by gort_go(), each with its own defer
 * chain and id.  The main thread is goroutine 1; a thread gort did not
 * start gets an id on first use.  Returning from main() ends the process
 * even while goroutines run, as in Go, except that a goroutine that is
 * panicking gets up to a second to recover, and one that crashes ends the
 * process with its report and status 2 (Go's runtime.main).
 *
 * This header declares goroutines and WaitGroup and includes the rest of
 * the sync family, one concept per header:
 *   gort/mutex.h         Mutex, RWMutex, Once
 *   gort/read_section.h  read-side sections, synchronize, retire (RCU)
 *   gort/atomic_value.h  sync/atomic.Value of a pointer
 *   gort/syncmap.h       sync.Map
 *   gort/snapmap.h       the snapshot map (read-only views, batched writes)
 */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#include <gort/common.h>
#include <gort/mutex.h>
#include <gort/read_section.h>
#include <gort/atomic_value.h>
#include <gort/syncmap.h>
#include <gort/snapmap.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Types
 * =================================================================== */

/**
 * struct gort_waitgroup - Go's sync.WaitGroup.
 *
 * A zero-initialised value is ready to use.  Do not copy it after first
 * use.  All fields are private.
 */
typedef struct gort_waitgroup {
    uint64_t state; /* private: counter (high 32 bits), waiters (low 32) */
    uint32_t sema;  /* private: futex word, bumped to wake waiters */
} gort_waitgroup;

/* ===================================================================
 * Goroutines
 * =================================================================== */

/**
 * gort_go - start a goroutine (an OS thread) running fn(arg).
 * @fn:  the goroutine's function; when it returns the goroutine ends.
 * @arg: passed to @fn.
 *
 * Return: the new goroutine's id (ids are never reused).
 * Ownership: @arg stays the caller's.
 * Thread-safety: any thread.
 * Fatal errors (exit status 2): "go of nil func value" when @fn is NULL;
 * "newosproc" when no thread can be created.
 * An unrecovered panic in the goroutine ends the whole process; its crash
 * output names this goroutine and ends with "created by" and the
 * file:line of this call.
 */
GORT_API int64_t gort_go(void (*fn)(void *arg), void *arg);

/* gort_go(fn, arg) calls the function through this wrapper, inlined into
 * the caller: the empty asm after the call keeps the compiler from making
 * it a tail call, which would record the caller's caller as the creator
 * (and lose the "created by" line).  (gort_go)(fn, arg) and &gort_go are
 * the function itself. */
static inline __attribute__((always_inline)) int64_t
gort__go_here(void (*fn)(void *arg), void *arg)
{
    int64_t id = (gort_go)(fn, arg);
    __asm__ volatile("" : "+r"(id));
    return id;
}
/* Variadic, so that an argument with a bare comma (a compound literal
 * such as &(struct job){1, 2}) passes through as it would to a function. */
#define gort_go(...) gort__go_here(__VA_ARGS__)

/**
 * gort_goid - the calling goroutine's id (main thread: 1).
 *
 * A thread gort did not start is given the next free id on first use.
 * Thread-safety: any thread.
 */
GORT_API int64_t gort_goid(void);

/**
 * gort_thread_detach - release what gort holds for a thread it did not
 * start.  Call it before such a thread exits (after which gort's per-thread
 * state is freed anyway by a thread-exit destructor).  Goroutines started
 * by gort_go need not call it.
 */
GORT_API void gort_thread_detach(void);

/* ===================================================================
 * WaitGroup
 * =================================================================== */

/**
 * gort_waitgroup_add - add @delta (may be negative) to the counter.
 *
 * When the counter reaches zero every waiter is released.
 * Happens-before: each add/done happens before the wait it releases.
 * Panics: "sync: negative WaitGroup counter" when the counter would go
 * below zero; "sync: WaitGroup misuse: Add called concurrently with Wait"
 * when detected, as Go does.
 */
GORT_API void gort_waitgroup_add(gort_waitgroup *wg, int delta);

/** gort_waitgroup_done - gort_waitgroup_add(wg, -1). */
GORT_API void gort_waitgroup_done(gort_waitgroup *wg);

/**
 * gort_waitgroup_wait - block until the counter is zero.
 * Thread-safety: any number of waiters.
 * Panics: "sync: WaitGroup is reused before previous Wait has returned"
 * when an add starts a new round before every waiter of the last one has
 * woken (detected, as Go does).
 */
GORT_API void gort_waitgroup_wait(gort_waitgroup *wg);

GORT_END_DECLS

#endif /* GORT_SYNC_H */
