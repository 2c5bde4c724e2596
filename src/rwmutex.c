/*
 * rwmutex.c - Go's sync.RWMutex: writer-preferring reader/writer lock.
 *
 * Mirrors Go 1.19 sync/rwmutex.go's behaviour.  reader_count counts the
 * readers that hold or wait for the lock; a writer first takes the inner
 * mutex w (so writers queue among themselves), then subtracts
 * RWMUTEX_MAX_READERS from reader_count: from then on the count is
 * negative, and every new reader sees it and sleeps on reader_sem (writer
 * preference: a pending writer keeps new readers out).  The number r of
 * readers that were active at that moment is added to reader_wait; each
 * of them, leaving, decrements reader_wait, and the one that brings it to
 * zero wakes the writer on writer_sem.  reader_wait may go below zero for
 * a moment (a reader leaves between the writer's two adds); the writer's
 * own add then reaches zero and it does not sleep.  Unlock adds
 * RWMUTEX_MAX_READERS back, which yields the number of readers that
 * queued meanwhile, releases them on reader_sem, then unlocks w.
 *
 * Uncontended read lock and unlock are one atomic add each.  There is no
 * writer starvation (readers arriving after a writer wait for it) and no
 * reader starvation (a writer's unlock admits every reader that queued
 * before the next writer can start, since that writer must first take w
 * and then wait for them).
 *
 * Misuse is Go's: runlock without a reader, unlock without a writer.
 * Both are detected from the count the atomic add returns (a reader
 * count of -1 or a count of -RWMUTEX_MAX_READERS-1; a count that was not
 * negative before unlock), as Go does, and end the process with Go's
 * fatal errors.
 *
 * Ordering guarantees.  reader_count and reader_wait change only by
 * read-modify-writes.  runlock's decrement of reader_count is a release
 * and the writer's subtraction an acquire-release: a reader that left
 * before the writer arrived is synchronised with through reader_count's
 * release sequence.  A reader that leaves while the writer waits
 * synchronises through reader_wait (acquire-release decrements, so the
 * last one carries the others' releases) and the semaphore (release
 * increment by the last reader, acquire decrement by the writer).  The
 * writer's unlock adds to reader_count with release: a reader arriving
 * later acquires it with its own add, and a reader that queued meanwhile
 * acquires it through reader_sem, which unlock releases after its add.
 * Writers are ordered among themselves by the inner mutex.
 */
#include "runtime_internal.h"
#include "sema_internal.h"

/* Go's rwmutexMaxReaders: more concurrent readers than this overflow. */
#define RWMUTEX_MAX_READERS (1 << 30)

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
    /* acquire: pairs with the release add in gort_rwmutex_unlock() of the
     * writer before us (reader_count's release sequence). */
    if (GORT_UNLIKELY(__atomic_add_fetch(&rw->reader_count, 1,
                                         __ATOMIC_ACQUIRE) < 0)) {
        /* A writer is pending or active: wait for its unlock, whose
         * release of reader_sem (after its add) is acquired here. */
        gort__sema_acquire(&rw->reader_sem, false);
    }
}

bool gort_rwmutex_tryrlock(gort_rwmutex *rw)
{
    int32_t c = __atomic_load_n(&rw->reader_count, __ATOMIC_RELAXED);
    while (c >= 0) {
        /* acquire: as in gort_rwmutex_rlock(). */
        if (__atomic_compare_exchange_n(&rw->reader_count, &c, c + 1, true,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return true;
    }
    return false; /* a writer holds or waits for the lock */
}

__attribute__((noinline)) static void runlock_slow(gort_rwmutex *rw, int32_t r)
{
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        gort__fatal("sync: RUnlock of unlocked RWMutex");
    /* A writer waits for the readers that were active when it arrived;
     * the last one out wakes it.  acq_rel: each decrement releases this
     * reader's section and acquires the earlier ones', so the last
     * reader's release of writer_sem carries all of them to the writer. */
    if (__atomic_sub_fetch(&rw->reader_wait, 1, __ATOMIC_ACQ_REL) == 0)
        gort__sema_release(&rw->writer_sem, false);
}

void gort_rwmutex_runlock(gort_rwmutex *rw)
{
    /* release: pairs with the acq_rel subtraction in gort_rwmutex_lock()
     * (when this reader leaves before the writer arrives). */
    int32_t r = __atomic_sub_fetch(&rw->reader_count, 1, __ATOMIC_RELEASE);
    if (GORT_UNLIKELY(r < 0))
        runlock_slow(rw, r);
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
    /* First resolve competition with other writers. */
    gort_mutex_lock(&rw->w);
    /* Announce the writer to readers.  acq_rel: acquires the runlocks
     * that came before (their release decrements), releases nothing new
     * but keeps reader_count one release sequence. */
    int32_t r = __atomic_sub_fetch(&rw->reader_count, RWMUTEX_MAX_READERS,
                                   __ATOMIC_ACQ_REL) +
                RWMUTEX_MAX_READERS;
    /* Wait for the r active readers to leave.  acq_rel: pairs with the
     * acq_rel decrements in runlock_slow() that came first. */
    if (r != 0 &&
        __atomic_add_fetch(&rw->reader_wait, r, __ATOMIC_ACQ_REL) != 0) {
        /* The last reader's release of writer_sem pairs with the acquire
         * inside gort__sema_acquire(). */
        gort__sema_acquire(&rw->writer_sem, false);
    }
}

bool gort_rwmutex_trylock(gort_rwmutex *rw)
{
    if (!gort_mutex_trylock(&rw->w))
        return false;
    int32_t zero = 0;
    /* acquire: as the subtraction in gort_rwmutex_lock(), but only when no
     * reader is active: a tryer never waits. */
    if (!__atomic_compare_exchange_n(&rw->reader_count, &zero,
                                     -RWMUTEX_MAX_READERS, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        gort_mutex_unlock(&rw->w);
        return false;
    }
    return true;
}

void gort_rwmutex_unlock(gort_rwmutex *rw)
{
    /* Announce to readers there is no active writer.  release: pairs with
     * the acquire add of later readers in gort_rwmutex_rlock(). */
    int32_t r = __atomic_add_fetch(&rw->reader_count, RWMUTEX_MAX_READERS,
                                   __ATOMIC_RELEASE);
    if (GORT_UNLIKELY(r >= RWMUTEX_MAX_READERS))
        gort__fatal("sync: Unlock of unlocked RWMutex");
    /* Unblock the readers that queued behind this writer: each release
     * pairs with the acquire in one blocked reader's
     * gort__sema_acquire(). */
    for (int32_t i = 0; i < r; i++)
        gort__sema_release(&rw->reader_sem, false);
    /* Allow other writers to proceed. */
    gort_mutex_unlock(&rw->w);
}
