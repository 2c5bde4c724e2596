/*
 * gort/mutex.h - Go's sync.Mutex, sync.RWMutex and sync.Once.
 *
 * Zero-initialised values are ready to use, as in Go:
 *
 *     static gort_mutex mu;               // or a struct member set to {0}
 *     gort_mutex_lock(&mu);
 *     ...
 *     gort_mutex_unlock(&mu);
 *
 * None of them is a pthread object: they are built on Linux futexes
 * (src/mutex.c), so unlocking from another goroutine is legal and misuse
 * is detected with Go's fatal errors.  Do not copy a value after first
 * use.  All fields are private; they are plain integers so the header
 * compiles as C and as C++ (the library accesses them atomically).
 *
 * Happens-before, in Go's memory-model words (https://go.dev/ref/mem):
 * for a mutex, the n-th call of unlock happens before the m-th call of
 * lock returns, for every n < m; for an rwmutex, in addition, the n-th
 * call of unlock happens before every rlock that returns after it, and
 * each runlock happens before the lock that returns after it; for a
 * once, the return of the function happens before any once_do returns.
 * These edges are made with C11 acquire/release operations on the
 * values' state words, so ThreadSanitizer sees them too.
 */
#ifndef GORT_MUTEX_H
#define GORT_MUTEX_H

#include <gort/common.h>

#include <stdbool.h>
#include <stdint.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Types
 * =================================================================== */

/**
 * struct gort_mutex - Go's sync.Mutex.
 *
 * A zero-initialised value is an unlocked mutex.  8 bytes.  All fields
 * are private.
 */
typedef struct gort_mutex {
    int32_t state; /* private: bit 0 locked, bit 1 a waiter is awake,
                      bit 2 starvation mode, bits 3.. waiters queued */
    uint32_t sema; /* private: semaphore count handed to waiters (0..1) */
} gort_mutex;

/**
 * struct gort_rwmutex - Go's sync.RWMutex, writer-preferring.
 *
 * A zero-initialised value is unlocked.  24 bytes.  All fields are
 * private.
 */
typedef struct gort_rwmutex {
    gort_mutex w;         /* private: held by the writer, active or pending */
    uint32_t writer_sem;  /* private: a writer waits here for readers to leave */
    uint32_t reader_sem;  /* private: readers wait here for the writer */
    int32_t reader_count; /* private: readers holding or waiting; minus
                             2^30 while a writer is pending or active */
    int32_t reader_wait;  /* private: readers the pending writer waits for */
} gort_rwmutex;

/**
 * struct gort_once - Go's sync.Once.
 *
 * A zero-initialised value has not run its function yet.  12 bytes.  All
 * fields are private.
 */
typedef struct gort_once {
    uint32_t done; /* private: 0, then 1 once the function has returned
                      or panicked (never goes back to 0) */
    gort_mutex m;  /* private: serialises the slow path */
} gort_once;

/* ===================================================================
 * Mutex
 * =================================================================== */

/**
 * gort_mutex_lock - lock @m, blocking until it is available.
 * @m: the mutex.
 *
 * A locked mutex is not tied to a goroutine: another goroutine may unlock
 * it (Go).  A waiter spins briefly, then sleeps on a futex; one that has
 * waited for more than 1 ms switches the mutex to starvation mode, in
 * which each unlock hands the mutex directly to the longest waiter (Go's
 * fairness rule).  Locking a mutex the caller already holds deadlocks,
 * as in Go.
 * Happens-before: the n-th gort_mutex_unlock() of @m happens before the
 * m-th gort_mutex_lock() (or successful gort_mutex_trylock()) of @m
 * returns, for n < m.
 * Thread-safety: any goroutine or thread.
 */
GORT_API void gort_mutex_lock(gort_mutex *m);

/**
 * gort_mutex_trylock - lock @m if it is free, without waiting (Go 1.18's
 * TryLock).
 * @m: the mutex.
 *
 * Return: true if the caller now holds @m; false if it is locked, or in
 * starvation mode (then it belongs to its waiters).
 * Happens-before: as gort_mutex_lock() when it returns true; none when
 * it returns false.
 * Thread-safety: any goroutine or thread.
 */
GORT_API bool gort_mutex_trylock(gort_mutex *m);

/**
 * gort_mutex_unlock - unlock @m.
 * @m: a locked mutex, locked by any goroutine.
 *
 * Happens-before: see gort_mutex_lock(); everything the caller did
 * before the unlock is visible to the next holder.
 * Thread-safety: any goroutine or thread, not only the one that locked.
 * Fatal error (exit status 2, not recoverable): "sync: unlock of
 * unlocked mutex" when @m is not locked.
 */
GORT_API void gort_mutex_unlock(gort_mutex *m);

/* ===================================================================
 * RWMutex
 * =================================================================== */

/**
 * gort_rwmutex_lock - lock @rw for writing, blocking until no reader or
 * writer holds it.
 * @rw: the rwmutex.
 *
 * Writer preference (Go): from the moment a writer calls lock, new
 * readers block until it has locked and unlocked; the writer waits only
 * for the readers that held the lock when it arrived.
 * Happens-before: every gort_rwmutex_unlock() and every
 * gort_rwmutex_runlock() that precedes this lock (in @rw's lock order)
 * happens before it returns.
 * Thread-safety: any goroutine or thread.
 */
GORT_API void gort_rwmutex_lock(gort_rwmutex *rw);

/**
 * gort_rwmutex_trylock - lock @rw for writing if nobody holds it (Go
 * 1.18's TryLock).  Beyond the SPEC's names.
 * @rw: the rwmutex.
 *
 * Return: true if the caller now holds the write lock.
 * Happens-before: as gort_rwmutex_lock() when it returns true.
 * Thread-safety: any goroutine or thread.
 */
GORT_API bool gort_rwmutex_trylock(gort_rwmutex *rw);

/**
 * gort_rwmutex_unlock - release the write lock of @rw.
 * @rw: an rwmutex locked for writing (by any goroutine).
 *
 * The readers that queued behind the writer are released, then the next
 * writer may lock.
 * Happens-before: this unlock happens before every later
 * gort_rwmutex_rlock() and gort_rwmutex_lock() of @rw returns.
 * Thread-safety: any goroutine or thread.
 * Fatal error (exit status 2): "sync: Unlock of unlocked RWMutex" when
 * @rw is not locked for writing.
 */
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);

/**
 * gort_rwmutex_rlock - lock @rw for reading.
 * @rw: the rwmutex.
 *
 * Any number of readers may hold @rw at once; a reader blocks while a
 * writer holds it or waits for it (writer preference), so a goroutine
 * must not rlock recursively (Go's rule: a writer arriving between the
 * two rlocks deadlocks it).  Uncontended cost: one atomic add.
 * Happens-before: the gort_rwmutex_unlock() preceding this rlock in
 * @rw's lock order happens before it returns.
 * Thread-safety: any goroutine or thread.
 */
GORT_API void gort_rwmutex_rlock(gort_rwmutex *rw);

/**
 * gort_rwmutex_tryrlock - lock @rw for reading if no writer holds or
 * waits for it (Go 1.18's TryRLock).  Beyond the SPEC's names.
 * @rw: the rwmutex.
 *
 * Return: true if the caller now holds a read lock.
 * Happens-before: as gort_rwmutex_rlock() when it returns true.
 * Thread-safety: any goroutine or thread.
 */
GORT_API bool gort_rwmutex_tryrlock(gort_rwmutex *rw);

/**
 * gort_rwmutex_runlock - release one read lock of @rw.
 * @rw: an rwmutex locked for reading.
 *
 * Happens-before: this runlock happens before the next
 * gort_rwmutex_lock() of @rw returns.
 * Thread-safety: any goroutine or thread.
 * Fatal error (exit status 2): "sync: RUnlock of unlocked RWMutex" when
 * @rw is not locked for reading.
 */
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);

/* ===================================================================
 * Once
 * =================================================================== */

/**
 * gort_once_do - call fn(arg) if and only if this is the first call of
 * gort_once_do for @o.
 * @o:   the once.
 * @fn:  the function; called at most once per @o, whatever @fn and @arg
 *       later callers pass.  NULL panics, when it would be called, with
 *       Go's nil-dereference runtime error (and counts as done).
 * @arg: passed to @fn.
 *
 * Concurrent callers block until the first call's @fn has returned.  If
 * @fn panics, @o counts as done (Go): the panic unwinds out of this call
 * with no lock of @o held, later calls return at once without calling
 * @fn.  @fn must not call gort_once_do on the same @o: it deadlocks, as
 * in Go (the goroutine is parked for ever; in main, once every other
 * goroutine has ended or is parked, the process ends with Go's "fatal
 * error: all goroutines are asleep - deadlock!", exit status 2).  Once
 * done, a call is one acquire load.
 * Happens-before: the return (or panic) of @fn happens before every
 * gort_once_do(@o, ...) returns.
 * Ownership: @arg stays the caller's.
 * Thread-safety: any goroutine or thread.
 */
GORT_API void gort_once_do(gort_once *o, void (*fn)(void *arg), void *arg);

GORT_END_DECLS

#endif /* GORT_MUTEX_H */
