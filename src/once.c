/*
 * once.c - Go's sync.Once.
 *
 * Mirrors Go 1.19 sync/once.go's behaviour: a done word and a mutex.  The
 * fast path is one acquire load of done.  The slow path takes the mutex,
 * checks done again and calls the function; two deferred calls (the
 * project's defer machinery, include/gort/defer.h) set done and unlock
 * the mutex, in that order, whether the function returns, panics or
 * calls gort_goexit.  So a panic in the function counts as done (Go), and
 * when a caller further up recovers it, no lock of the once is held:
 * later callers return at once without calling the function.
 *
 * A function that calls gort_once_do on its own once waits for a mutex
 * its goroutine holds: Go's doSlow deadlocks there.  gort does what Go's
 * scheduler then does instead of hanging silently: each goroutine keeps
 * the onces whose functions it is running on a list (entries on the
 * stack, linked from a thread-local head, popped by the deferred unlock),
 * and a call on one of them parks the goroutine for ever; when that is
 * main, the process ends, once the other goroutines have, with Go's
 * "fatal error: all goroutines are asleep - deadlock!"
 * (gort__goroutine_block_forever).  The list is walked only on the slow
 * path, before the lock is taken.
 *
 * Why not a compare-and-swap of done: a caller that loses the race must
 * not return before the function has finished (the function's effects
 * must be visible when once_do returns), so losers have to wait, and the
 * mutex is where they wait.
 *
 * Ordering guarantees.  done goes from 0 to 1 by a release store after
 * the function has returned (or panicked); the fast path's acquire load
 * pairs with it, so everything the function did is visible to a caller
 * that sees 1.  A caller that takes the slow path and finds done set
 * under the mutex is ordered after the function by the mutex (its unlock
 * follows the store), so its plain re-check needs no stronger order.
 */
#include "runtime_internal.h"

#include <signal.h>
#include <stdint.h>

/* A once whose function the calling goroutine is running (a doSlow frame
 * on Go's stack). */
typedef struct once_running {
    gort_once *o;
    struct once_running *outer; /* the next enclosing one, or NULL */
} once_running;

/* Innermost first; entries live in once_slow's frames. */
static __thread once_running *running
    __attribute__((tls_model("initial-exec")));

static void once_unlock(void *arg)
{
    once_running *self = arg;
    running = self->outer; /* deferred calls run LIFO: self is innermost */
    gort_mutex_unlock(&self->o->m);
}

static void once_mark_done(void *arg)
{
    /* release: pairs with the acquire load in gort_once_do(). */
    __atomic_store_n(&((gort_once *)arg)->done, 1, __ATOMIC_RELEASE);
}

__attribute__((noinline)) static void once_slow(gort_once *o,
                                                void (*fn)(void *), void *arg)
{
    GORT_FRAME;
    once_running self = {o, running};
    for (const once_running *r = running; r != NULL; r = r->outer)
        if (r->o == o)
            gort__goroutine_block_forever(); /* Go: deadlock */
    gort_mutex_lock(&o->m);
    running = &self;
    gort_defer(once_unlock, &self);
    /* relaxed: under the mutex, which orders this after the store of the
     * caller that ran the function. */
    if (__atomic_load_n(&o->done, __ATOMIC_RELAXED) == 0) {
        /* Registered after once_unlock, so it runs first: done is 1
         * before the mutex is released, whatever way fn leaves. */
        gort_defer(once_mark_done, o);
        /* Go's f() on a nil func: the nil-dereference runtime error
         * raised by the fault, so an unrecovered one prints Go's
         * "[signal SIGSEGV ...]" line; a panic like any other (it counts
         * as done). */
        if (fn == NULL)
            gort__panic_signal(&gort_err_nil_deref, SIGSEGV, SEGV_MAPERR, 0,
                               (uintptr_t)__builtin_return_address(0));
        fn(arg);
    }
}

void gort_once_do(gort_once *o, void (*fn)(void *arg), void *arg)
{
    /* acquire: pairs with the release store in once_mark_done(). */
    if (GORT_LIKELY(__atomic_load_n(&o->done, __ATOMIC_ACQUIRE) != 0))
        return;
    once_slow(o, fn, arg);
}
