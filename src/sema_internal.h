/*
 * sema_internal.h - the futex semaphore under Mutex and RWMutex
 * (src/mutex.c), Go's runtime semacquire/semrelease.
 *
 * A semaphore is any 32-bit counter in memory, zero meaning "no token";
 * its waiters queue in a process-wide table keyed by the counter's
 * address, so the counter itself stays one word and a zeroed object is
 * a ready semaphore.
 */
#ifndef GORT_SEMA_INTERNAL_H
#define GORT_SEMA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* Waits until *addr > 0, then decrements it.  @lifo queues the caller at
 * the head of the address's waiters instead of the tail (Go's queueLifo:
 * a mutex waiter that was woken and lost the race).
 * Ordering: the decrement is an acquire paired with the release increment
 * of the gort__sema_release() whose token it takes. */
void gort__sema_acquire(uint32_t *addr, bool lifo);

/* Increments *addr and wakes the oldest (or lifo-queued) waiter.  With
 * @handoff the woken waiter is handed the token directly, so no other
 * goroutine can take it first (Go's starvation-mode handoff). */
void gort__sema_release(uint32_t *addr, bool handoff);

#endif /* GORT_SEMA_INTERNAL_H */
