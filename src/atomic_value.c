/*
 * atomic_value.c - sync/atomic.Value of a pointer, with deferred
 * reclamation of replaced values.
 *
 * Design.  Go's Value is an interface{} (type word, data word) updated
 * with atomic operations; its first Store fixes the type word and every
 * later Store, Swap or CompareAndSwap of another dynamic type panics
 * (Go 1.19 sync/atomic/value.go; behaviour only, no code).  gort's value
 * is one pointer word plus a type tag word:
 *
 *   - ptr is the value.  Load is one acquire load; store is an exchange,
 *     swap an exchange that returns the old pointer, compare-and-swap a
 *     pointer CAS.  NULL is "no value yet" (Go's nil), which is why storing
 *     NULL panics as storing nil does in Go.
 *   - type is fixed once by the first store (a CAS from NULL), to the
 *     caller's tag or, for the untyped functions, to the address of
 *     `untyped`.  Go publishes type and data in two steps with a
 *     "first store in progress" marker and spins while another goroutine
 *     is between them; here nothing needs the pair to be read together (a
 *     load returns only the pointer), so the tag is settled first and the
 *     pointer published after it, and no one ever waits.
 *
 * Reclamation.  C has no garbage collector: a replaced value may still be
 * in use by a reader that loaded it just before.  With a destructor set,
 * store and destroy hand the replaced value to gort_retire(), which runs
 * the destructor after a grace period, once every read section that could
 * have loaded the value has ended.  Swap and compare-and-swap give the old
 * value back to the caller instead, as the SPEC says; the caller must
 * wait for readers (gort_synchronize or gort_retire) before freeing it.
 *
 * Ordering guarantees: ptr is published with release (exchange or CAS),
 * read with acquire (load), so a reader sees the object fully built.  The
 * exchanges are acq_rel so the replaced value's construction also happens
 * before what the writer does with it (return it, retire it).  The type
 * tag is compared for equality only and publishes no data: relaxed.
 */
#include "runtime_internal.h"

#include <gort/atomic_value.h>
#include <gort/read_section.h>

/* The tag of values stored through the untyped functions (and of typed
 * calls passing a NULL tag). */
static const char untyped;

static const void *tag_of(const void *type)
{
    return type != NULL ? type : &untyped;
}

/* Fixes @v's tag to @tag on its first store, or checks it against the
 * tag already fixed; panics with @msg on a mismatch (Go's "inconsistently
 * typed value"). */
static void settle_type(gort_atomic_value *v, const void *tag, const char *msg)
{
    const void *cur = __atomic_load_n(&v->type, __ATOMIC_RELAXED);
    if (cur == NULL &&
        __atomic_compare_exchange_n(&v->type, &cur, tag, false,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return; /* first store: the tag is ours */
    if (cur != tag)
        gort_panic("%s", msg);
}

/* Retires a value replaced by store or destroy, when @v owns values. */
static void drop_old(gort_atomic_value *v, void *old)
{
    if (old != NULL && v->destroy != NULL)
        gort_retire(old, v->destroy);
}

/* ===================================================================
 * Lifecycle
 * =================================================================== */

void gort_atomic_value_init(gort_atomic_value *v, void (*destroy)(void *))
{
    v->ptr = NULL;
    v->type = NULL;
    v->destroy = destroy;
}

void gort_atomic_value_destroy(gort_atomic_value *v)
{
    /* Acquire: pairs with the release that published the value, so its
     * construction happens before its destructor (through gort_retire). */
    void *old = __atomic_exchange_n(&v->ptr, NULL, __ATOMIC_ACQUIRE);
    __atomic_store_n(&v->type, NULL, __ATOMIC_RELAXED);
    drop_old(v, old);
}

/* ===================================================================
 * Access
 * =================================================================== */

void *gort_atomic_value_load(gort_atomic_value *v)
{
    /* Paired with the release of the exchange or CAS that stored it. */
    return __atomic_load_n(&v->ptr, __ATOMIC_ACQUIRE);
}

void gort_atomic_value_store_typed(gort_atomic_value *v, void *p,
                                   const void *type)
{
    if (p == NULL)
        gort_panic("sync/atomic: store of nil value into Value");
    settle_type(v, tag_of(type),
                "sync/atomic: store of inconsistently typed value into Value");
    /* Release: paired with the acquire in load (readers see *p built).
     * Acquire: paired with the release that stored old (its destructor
     * sees it built). */
    void *old = __atomic_exchange_n(&v->ptr, p, __ATOMIC_ACQ_REL);
    if (old != p) /* a value stored over itself stays, and stays owned */
        drop_old(v, old);
}

void gort_atomic_value_store(gort_atomic_value *v, void *p)
{
    gort_atomic_value_store_typed(v, p, NULL);
}

void *gort_atomic_value_swap_typed(gort_atomic_value *v, void *p,
                                   const void *type)
{
    if (p == NULL)
        gort_panic("sync/atomic: swap of nil value into Value");
    settle_type(v, tag_of(type),
                "sync/atomic: swap of inconsistently typed value into Value");
    /* As in store: release for readers of p, acquire for the caller, who
     * now owns old. */
    return __atomic_exchange_n(&v->ptr, p, __ATOMIC_ACQ_REL);
}

void *gort_atomic_value_swap(gort_atomic_value *v, void *p)
{
    return gort_atomic_value_swap_typed(v, p, NULL);
}

bool gort_atomic_value_compare_and_swap_typed(gort_atomic_value *v, void *old,
                                              const void *old_type, void *p,
                                              const void *type)
{
    if (p == NULL)
        gort_panic("sync/atomic: compare and swap of nil value into Value");
    const void *tag = tag_of(type);
    if (old != NULL && tag_of(old_type) != tag)
        gort_panic("sync/atomic: compare and swap of inconsistently typed "
                   "values");
    if (old != NULL && __atomic_load_n(&v->type, __ATOMIC_RELAXED) == NULL)
        return false; /* empty: only a nil old matches (Go) */
    settle_type(v, tag,
                "sync/atomic: compare and swap of inconsistently typed value "
                "into Value");
    /* Success: release for readers of p, acquire for the caller, who now
     * owns old (paired with the release that stored it).  Failure:
     * acquire, like a load. */
    void *expected = old;
    return __atomic_compare_exchange_n(&v->ptr, &expected, p, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

bool gort_atomic_value_compare_and_swap(gort_atomic_value *v, void *old,
                                        void *p)
{
    return gort_atomic_value_compare_and_swap_typed(v, old, NULL, p, NULL);
}
