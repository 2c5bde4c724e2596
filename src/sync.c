/*
 * sync.c - Go's sync primitives on futexes: WaitGroup.
 *
 * WaitGroup mirrors Go 1.19 sync/waitgroup.go's behaviour: one 64-bit
 * state word holds the counter (high 32 bits, signed) and the number of
 * waiters (low 32 bits); a separate 32-bit futex word is bumped to release
 * the waiters when the counter reaches zero.
 *
 * Ordering guarantees: every state update is a seq_cst read-modify-write,
 * so an Add/Done that brings the counter to zero is ordered after all
 * earlier Adds and Dones, and the waiter's acquire load of the futex word
 * (paired with the release increment in wake_waiters()) makes everything
 * before the last Done visible after Wait returns.  A waiter reads the
 * futex word before registering itself, so a wake between the two cannot
 * be lost (the futex wait then returns at once); and after its load of
 * the state it registers on, so the word is not older than that state: a
 * cycle that ended, and a new one begun by an Add, between the two loads
 * would otherwise end this Wait at once with the "reused" panic where Go
 * waits for the new cycle (both are misuse: an Add from zero concurrent
 * with a Wait).
 */
#include "runtime_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex_wait(uint32_t *word, uint32_t val)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* ===================================================================
 * WaitGroup
 * =================================================================== */

static void wake_waiters(gort_waitgroup *wg)
{
    /* release: pairs with the acquire load in gort_waitgroup_wait(). */
    __atomic_fetch_add(&wg->sema, 1, __ATOMIC_RELEASE);
    futex_wake_all(&wg->sema);
}

void gort_waitgroup_add(gort_waitgroup *wg, int delta)
{
    /* seq_cst: one order of every Add and Wait registration (pairs with
     * the CAS in gort_waitgroup_wait and the other Adds), so the Add that
     * reaches zero sees every waiter registered before it. */
    uint64_t state = __atomic_add_fetch(&wg->state, (uint64_t)(int64_t)delta << 32,
                                        __ATOMIC_SEQ_CST);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        gort_panic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == delta)
        gort_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0)
        return;
    /* Counter is zero and there are waiters: no Add may run now.  seq_cst
     * (both): in the single order with the Adds and registrations above,
     * as Go's check; the reset comes before wake_waiters' release, so a
     * woken waiter's check reads 0. */
    if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != state)
        gort_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    __atomic_store_n(&wg->state, 0, __ATOMIC_SEQ_CST);
    wake_waiters(wg);
}

void gort_waitgroup_done(gort_waitgroup *wg)
{
    gort_waitgroup_add(wg, -1);
}

void gort_waitgroup_wait(gort_waitgroup *wg)
{
    for (;;) {
        /* seq_cst: in the single order of Adds and registrations (pairs
         * with the add in gort_waitgroup_add); a counter of zero read here
         * means every Done before it is visible (the Adds' seq_cst RMWs
         * release). */
        uint64_t state = __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
        if ((int32_t)(state >> 32) == 0)
            return;
        /* After the state (the acquire of the load above keeps it there),
         * before the registration: see the file comment.  acquire: pairs
         * with the release increment in wake_waiters(). */
        uint32_t seen = __atomic_load_n(&wg->sema, __ATOMIC_ACQUIRE);
        /* seq_cst: the registration, ordered with the Adds (pairs with
         * the add and the check in gort_waitgroup_add). */
        if (!__atomic_compare_exchange_n(&wg->state, &state, state + 1, false,
                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            continue;
        /* acquire: pairs with the release increment in wake_waiters(). */
        while (__atomic_load_n(&wg->sema, __ATOMIC_ACQUIRE) == seen)
            futex_wait(&wg->sema, seen);
        /* seq_cst: reads the reset made before the wake (or a new cycle's
         * Add: the reuse misuse Go reports). */
        if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != 0)
            gort_panic("sync: WaitGroup is reused before previous Wait has "
                       "returned");
        return;
    }
}
