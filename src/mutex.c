/*
 * mutex.c - Go's sync.Mutex on futexes, and the semaphore under it.
 *
 * The mutex mirrors Go 1.19 sync/mutex.go's behaviour.  One 32-bit state
 * word holds the locked bit, the woken bit (a waiter is awake and
 * competing, so unlock need not wake another), the starving bit and the
 * number of queued waiters; a second word, sema, is a counting semaphore
 * the waiters sleep on.  A locker first tries one compare-and-swap, then
 * spins a few rounds while the holder runs (bounded: SPIN_ROUNDS), then
 * registers as a waiter and sleeps on the semaphore.
 *
 * Two modes, as in Go.  In normal mode a woken waiter competes with new
 * arrivals, which usually win (they are already running): good for
 * throughput, bad for the waiter.  A waiter that has waited for more
 * than STARVATION_NS switches the mutex to starvation mode: unlock then
 * hands the mutex directly to the waiter at the head of the queue, and
 * arrivals neither take it nor spin, they queue at the tail.  The last
 * waiter, or one that waited less than STARVATION_NS, switches back.
 * 1 ms is Go's threshold: much longer than a futex wake-up (about 5-20
 * us here), so normal mode's throughput is kept unless a waiter really
 * is starved (TestMutexFairness).
 *
 * The semaphore is Go's runtime semacquire/semrelease: the token count
 * lives in the object (so zeroed memory is a semaphore), the waiters in a
 * process-wide table of SEMA_TABLE_SIZE queues hashed by the counter's
 * address, each under a small futex lock.  A waiter's queue entry is on
 * its own stack, with a futex word the releaser sets.  A handoff release
 * takes the token on the woken waiter's behalf before waking it, which
 * is what makes starvation mode a real handoff: with a bare futex
 * counter, the unlocker itself, locking again at once, would take the
 * token back before the woken waiter ran (the hog of TestMutexFairness).
 *
 * Ordering guarantees.  The state word is only ever changed by
 * read-modify-writes, so it has a single release sequence per unlock:
 * unlock's decrement is a release, and every way of taking the mutex is
 * an acquire on state (the CAS of lock and trylock, the add of a starving
 * waiter that was handed the mutex), which therefore synchronises with
 * the previous unlock whatever RMWs came in between.  The n-th unlock
 * happens before the m-th lock returns (n < m), and ThreadSanitizer sees
 * the edge on state itself; the futex sleeps in between are invisible to
 * it and need not be seen.  The semaphore's own edges (release increment
 * / acquire decrement; the release store of a waiter's ready word / its
 * acquire load) order the queue entry's fields.
 */
#include "runtime_internal.h"
#include "sema_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ===================================================================
 * Futexes and spinning
 * =================================================================== */

static void futex_wait(uint32_t *word, uint32_t val)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_one(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

static int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Whether spinning can help: never on one CPU, where the holder cannot
 * run while we spin.  Cached; a racy first computation is harmless. */
static bool multicore(void)
{
    static int ncpu; /* 0 until computed */
    int n = __atomic_load_n(&ncpu, __ATOMIC_RELAXED);
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 1 ? (int)(c > INT_MAX ? INT_MAX : c) : 1;
        __atomic_store_n(&ncpu, n, __ATOMIC_RELAXED);
    }
    return n > 1;
}

/* ===================================================================
 * Semaphore (Go's runtime/sema.go: semacquire, semrelease)
 * =================================================================== */

/* Number of waiter queues: a prime, as Go's semTabSize, so addresses with
 * a common stride spread. */
#define SEMA_TABLE_SIZE 251
/* Rounds a queue lock is polled before its taker sleeps: it is held for
 * a few list operations only. */
#define ROOT_SPIN 100

typedef struct sema_waiter {
    const uint32_t *addr;      /* the semaphore this goroutine waits on */
    struct sema_waiter *prev;  /* queue neighbours, NULL at the ends */
    struct sema_waiter *next;
    uint32_t ready;            /* futex word: 0 queued, 1 dequeued by a release */
    bool ticket;               /* the release took the token for us (handoff) */
} sema_waiter;

typedef struct __attribute__((aligned(64))) sema_root {
    uint32_t lock;      /* 0 free, 1 held, 2 held with sleepers (futex) */
    uint32_t nwait;     /* waiters queued or queueing; read without lock */
    sema_waiter *head;  /* oldest first (lifo entries go first); NULL if empty */
    sema_waiter *tail;
} sema_root;

static sema_root sema_table[SEMA_TABLE_SIZE];

static sema_root *root_of(const uint32_t *addr)
{
    return &sema_table[((uintptr_t)addr >> 3) % SEMA_TABLE_SIZE];
}

static void root_lock(sema_root *r)
{
    uint32_t c = 0;
    /* acquire (here and below): pairs with the release exchange in
     * root_unlock(), so the queue is seen as the last holder left it. */
    if (__atomic_compare_exchange_n(&r->lock, &c, 1, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
        return;
    for (int i = 0; i < ROOT_SPIN; i++) {
        cpu_relax();
        c = 0;
        if (__atomic_load_n(&r->lock, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&r->lock, &c, 1, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
    }
    /* Mark the lock contended (2) so that its holder wakes us. */
    while (__atomic_exchange_n(&r->lock, 2, __ATOMIC_ACQUIRE) != 0)
        futex_wait(&r->lock, 2);
}

static void root_unlock(sema_root *r)
{
    /* release: pairs with the acquires in root_lock(). */
    if (__atomic_exchange_n(&r->lock, 0, __ATOMIC_RELEASE) == 2)
        futex_wake_one(&r->lock);
}

/* Takes one token if there is one (Go's cansemacquire).  seq_cst: in
 * gort__sema_acquire() this check follows the nwait increment, and in
 * gort__sema_release() the count increment precedes the nwait check;
 * sequential consistency makes at least one side see the other (a waiter
 * never sleeps on a token nobody will hand out).  The successful CAS is
 * also the acquire paired with the release increment in
 * gort__sema_release(). */
static bool sema_try(uint32_t *addr)
{
    uint32_t v = __atomic_load_n(addr, __ATOMIC_SEQ_CST);
    while (v > 0) {
        if (__atomic_compare_exchange_n(addr, &v, v - 1, true,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return true;
    }
    return false;
}

static void enqueue_locked(sema_root *r, sema_waiter *w, bool lifo)
{
    if (lifo) {
        w->prev = NULL;
        w->next = r->head;
        if (r->head != NULL)
            r->head->prev = w;
        else
            r->tail = w;
        r->head = w;
    } else {
        w->next = NULL;
        w->prev = r->tail;
        if (r->tail != NULL)
            r->tail->next = w;
        else
            r->head = w;
        r->tail = w;
    }
}

/* Removes and returns the first waiter on @addr, or NULL. */
static sema_waiter *dequeue_locked(sema_root *r, const uint32_t *addr)
{
    sema_waiter *w = r->head;
    while (w != NULL && w->addr != addr)
        w = w->next;
    if (w == NULL)
        return NULL;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        r->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        r->tail = w->prev;
    return w;
}

void gort__sema_acquire(uint32_t *addr, bool lifo)
{
    if (sema_try(addr))
        return;
    sema_root *r = root_of(addr);
    sema_waiter w;
    for (;;) {
        root_lock(r);
        /* seq_cst: see sema_try(). */
        __atomic_fetch_add(&r->nwait, 1, __ATOMIC_SEQ_CST);
        if (sema_try(addr)) {
            __atomic_fetch_sub(&r->nwait, 1, __ATOMIC_RELAXED);
            root_unlock(r);
            return;
        }
        w.addr = addr;
        w.ready = 0;
        w.ticket = false;
        enqueue_locked(r, &w, lifo);
        root_unlock(r);
        /* acquire: pairs with the release store of ready in
         * gort__sema_release(), which wrote w.ticket before it. */
        while (__atomic_load_n(&w.ready, __ATOMIC_ACQUIRE) == 0)
            futex_wait(&w.ready, 0);
        if (w.ticket || sema_try(addr))
            return;
        /* Woken, but an arrival took the token: queue again. */
    }
}

void gort__sema_release(uint32_t *addr, bool handoff)
{
    sema_root *r = root_of(addr);
    /* release: pairs with the acquire CAS in sema_try(); seq_cst with the
     * nwait load below (see sema_try()). */
    __atomic_fetch_add(addr, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&r->nwait, __ATOMIC_SEQ_CST) == 0)
        return;
    root_lock(r);
    if (__atomic_load_n(&r->nwait, __ATOMIC_RELAXED) == 0) {
        root_unlock(r);
        return;
    }
    sema_waiter *w = dequeue_locked(r, addr);
    if (w != NULL)
        __atomic_fetch_sub(&r->nwait, 1, __ATOMIC_RELAXED);
    root_unlock(r);
    if (w == NULL)
        return;
    if (handoff && sema_try(addr))
        w->ticket = true;
    uint32_t *ready = &w->ready;
    /* release: pairs with the acquire load of ready in
     * gort__sema_acquire(); publishes w->ticket.  From this store on, the
     * waiter may return and its stack entry be reused: the wake below
     * only names the address, and a wake of whatever sleeps there later is
     * a spurious wake-up, which every futex wait here tolerates. */
    __atomic_store_n(ready, 1, __ATOMIC_RELEASE);
    futex_wake_one(ready);
}

/* ===================================================================
 * Mutex (Go's sync/mutex.go)
 * =================================================================== */

enum {
    MUTEX_LOCKED = 1,   /* held */
    MUTEX_WOKEN = 2,    /* a waiter is awake: unlock need not wake one */
    MUTEX_STARVING = 4, /* handoff mode: arrivals queue, never take it */
    MUTEX_WAITER_SHIFT = 3,
};

/* Go's starvationThresholdNs. */
#define STARVATION_NS 1000000
/* Active spinning before sleeping: SPIN_ROUNDS rounds of SPIN_PAUSES
 * pause instructions while the holder runs, Go's 4 x 30 (about 1-6 us
 * depending on the CPU's pause latency).  With them the contended
 * throughput is at or above glibc's pthread_mutex (docs/api/sync.md has
 * the numbers).  Bounded: a holder that is descheduled is not waited for
 * by burning a core (2-core machines); the spin stops at once in
 * starvation mode and on a single CPU. */
#define SPIN_ROUNDS 4
#define SPIN_PAUSES 30

static void spin_round(void)
{
    for (int i = 0; i < SPIN_PAUSES; i++)
        cpu_relax();
}

static void lock_slow(gort_mutex *m)
{
    int64_t wait_start = 0; /* 0 until the first sleep */
    bool starving = false;  /* this waiter waited > STARVATION_NS */
    bool awoke = false;     /* this goroutine owns MUTEX_WOKEN */
    int iter = 0;
    int32_t old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
    for (;;) {
        /* Spin while the mutex is held in normal mode: in starvation mode
         * it goes to the waiters, spinning cannot get it. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED &&
            iter < SPIN_ROUNDS && multicore()) {
            /* Set the woken flag so that unlock does not wake another
             * waiter while this one is already running. */
            if (!awoke && (old & MUTEX_WOKEN) == 0 &&
                (old >> MUTEX_WAITER_SHIFT) != 0 &&
                __atomic_compare_exchange_n(&m->state, &old, old | MUTEX_WOKEN,
                                            false, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED))
                awoke = true;
            spin_round();
            iter++;
            old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
            continue;
        }
        int32_t new = old;
        if ((old & MUTEX_STARVING) == 0)
            new |= MUTEX_LOCKED; /* arrivals never take a starving mutex */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) != 0)
            new += 1 << MUTEX_WAITER_SHIFT;
        /* Switch to starvation mode, unless the mutex was just unlocked:
         * then there is nothing to hand off (unlock expects waiters in
         * starvation mode). */
        if (starving && (old & MUTEX_LOCKED) != 0)
            new |= MUTEX_STARVING;
        if (awoke) {
            if ((new & MUTEX_WOKEN) == 0)
                gort__fatal("sync: inconsistent mutex state");
            new &= ~MUTEX_WOKEN;
        }
        /* acquire: when old was unlocked this takes the mutex; pairs with
         * the release decrement in gort_mutex_unlock() (state changes
         * only by RMWs, so with the last unlock before this CAS). */
        if (!__atomic_compare_exchange_n(&m->state, &old, new, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue; /* old was reloaded */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == 0)
            return; /* locked with the CAS */
        /* Queued as a waiter: sleep.  One that already slept goes to the
         * head of the queue (Go's queueLifo). */
        bool lifo = wait_start != 0;
        if (wait_start == 0)
            wait_start = nanotime();
        gort__sema_acquire(&m->sema, lifo);
        starving = starving || nanotime() - wait_start > STARVATION_NS;
        old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
        if ((old & MUTEX_STARVING) != 0) {
            /* Handed off: unlock left the mutex unlocked but starving,
             * and nobody else can take it.  Take it and leave the queue. */
            if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) != 0 ||
                (old >> MUTEX_WAITER_SHIFT) == 0)
                gort__fatal("sync: inconsistent mutex state");
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            /* Leave starvation mode when this waiter did not starve or is
             * the last one (else the next unlock would hand the mutex to
             * nobody and lockers would queue forever). */
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                delta -= MUTEX_STARVING;
            /* acquire: pairs with the release decrement of the unlock that
             * handed the mutex over (through state's release sequence). */
            __atomic_fetch_add(&m->state, delta, __ATOMIC_ACQUIRE);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

void gort_mutex_lock(gort_mutex *m)
{
    int32_t old = 0;
    /* acquire: pairs with the release decrement in gort_mutex_unlock(). */
    if (GORT_LIKELY(__atomic_compare_exchange_n(&m->state, &old, MUTEX_LOCKED,
                                                false, __ATOMIC_ACQUIRE,
                                                __ATOMIC_RELAXED)))
        return;
    lock_slow(m);
}

bool gort_mutex_trylock(gort_mutex *m)
{
    int32_t old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
    if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) != 0)
        return false;
    /* acquire: pairs with the release decrement in gort_mutex_unlock().
     * A CAS failure means another goroutine is also after the mutex. */
    return __atomic_compare_exchange_n(&m->state, &old, old | MUTEX_LOCKED,
                                       false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

/* Kept out of line so the fast path of unlock stays small. */
__attribute__((noinline)) static void unlock_slow(gort_mutex *m, int32_t new)
{
    if (((new + MUTEX_LOCKED) & MUTEX_LOCKED) == 0)
        gort__fatal("sync: unlock of unlocked mutex");
    if ((new & MUTEX_STARVING) != 0) {
        /* Hand the mutex to the head waiter; MUTEX_LOCKED stays clear, it
         * sets it itself, and arrivals keep off while MUTEX_STARVING is
         * set. */
        gort__sema_release(&m->sema, true);
        return;
    }
    int32_t old = new;
    for (;;) {
        /* Nobody to wake, or someone already woke, or the mutex was taken
         * again (the taker will wake a waiter when it unlocks). */
        if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
            (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)) != 0)
            return;
        new = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
        /* relaxed: this RMW continues the release sequence of the
         * decrement in gort_mutex_unlock(); the woken waiter acquires on
         * state when it takes the mutex. */
        if (__atomic_compare_exchange_n(&m->state, &old, new, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            gort__sema_release(&m->sema, false);
            return;
        }
    }
}

void gort_mutex_unlock(gort_mutex *m)
{
    /* release: pairs with the acquire CAS of gort_mutex_lock(),
     * gort_mutex_trylock() and lock_slow(), and with the acquire add of a
     * starving waiter in lock_slow(). */
    int32_t new = __atomic_add_fetch(&m->state, -MUTEX_LOCKED, __ATOMIC_RELEASE);
    if (GORT_UNLIKELY(new != 0))
        unlock_slow(m, new);
}
