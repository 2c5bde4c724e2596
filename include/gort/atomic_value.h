/*
 * gort/atomic_value.h - Go's sync/atomic.Value holding a pointer.
 *
 * A gort_atomic_value publishes one pointer to many readers: load is one
 * acquire load, never blocks and copies nothing.  A writer replaces the
 * pointer with store (the replaced object is retired: destroyed once no
 * reader can see it, gort/read_section.h), swap or compare-and-swap (the
 * replaced object is handed back to the caller).  The typical use is Go's
 * copy-on-write configuration: readers
 *
 *     gort_read_begin();
 *     const struct config *c = gort_atomic_value_load(&cfg);
 *     ... use c ...
 *     gort_read_end();
 *
 * and a writer, serialised by a mutex, builds a new config and stores it.
 * A reader must bracket the load and every use of the loaded pointer with
 * a read section: outside one the object may be destroyed at any time.
 *
 * Go's Value is typed: its first Store fixes the dynamic type and a later
 * Store of another type panics.  The *_typed functions reproduce that with
 * a type tag, any address that identifies the type (e.g. the address of a
 * static object per type); the untyped functions use one tag of their own,
 * so a value used only through them can never be inconsistently typed.
 */
#ifndef GORT_ATOMIC_VALUE_H
#define GORT_ATOMIC_VALUE_H

#include <gort/common.h>

#include <stdbool.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Type
 * =================================================================== */

/**
 * struct gort_atomic_value - sync/atomic.Value of a pointer.
 *
 * A zero-initialised value is ready to use and owns nothing (as after
 * gort_atomic_value_init(v, NULL)).  Do not copy it after first use.  All
 * fields are private.
 */
typedef struct gort_atomic_value {
    void *ptr;                /* private: current value; NULL until the
                                 first store; accessed with __atomic */
    const void *type;         /* private: type tag fixed by the first
                                 store; NULL until then; __atomic */
    void (*destroy)(void *);  /* private: destructor of retired values;
                                 NULL: values are not owned */
} gort_atomic_value;

/* ===================================================================
 * Lifecycle
 * =================================================================== */

/**
 * gort_atomic_value_init - initialise an empty value.
 * @v:       the value.
 * @destroy: called (after a grace period) on every value that store
 *           replaces and on the last one at gort_atomic_value_destroy();
 *           NULL: the value owns nothing and never destroys anything.
 *
 * Thread-safety: not concurrently with any other use of @v.
 */
GORT_API void gort_atomic_value_init(gort_atomic_value *v,
                                     void (*destroy)(void *));

/**
 * gort_atomic_value_destroy - retire the current value and empty @v.
 *
 * The current value (if any, and if @v has a destructor) is retired:
 * destroyed once readers that may hold it have left their sections.
 * Afterwards @v is empty, as after init, and may be initialised again.
 * Thread-safety: no writer may use @v concurrently; readers inside a
 * section may still use the value they loaded.
 */
GORT_API void gort_atomic_value_destroy(gort_atomic_value *v);

/* ===================================================================
 * Access
 * =================================================================== */

/**
 * gort_atomic_value_load - the value set by the most recent store.
 *
 * Return: the current pointer, NULL until the first store.
 * Thread-safety: any thread; call inside a read section (gort_read_begin)
 * and use the result only until its gort_read_end() when @v owns its
 * values or another thread may free them.
 * Happens-before: the store (or swap, or successful compare-and-swap) of
 * the returned pointer happens before this returns (acquire load).
 */
GORT_API void *gort_atomic_value_load(gort_atomic_value *v);

/**
 * gort_atomic_value_store - set the value to @p.
 * @p: the new value, not NULL.
 *
 * Ownership: @p passes to @v when @v has a destructor; the replaced value
 * is retired (gort_retire: destroyed after the readers that may hold it
 * have left their sections), unless it is @p itself: a value stored over
 * itself stays, as in Go.  May be called inside a read section.
 * Thread-safety: any thread.
 * Happens-before: this store happens before every load that returns @p
 * (release).
 * Panics: "sync/atomic: store of nil value into Value" when @p is NULL;
 * "sync/atomic: store of inconsistently typed value into Value" when @v
 * holds typed values (gort_atomic_value_store_typed).
 */
GORT_API void gort_atomic_value_store(gort_atomic_value *v, void *p);

/**
 * gort_atomic_value_swap - set the value to @p and return the old one.
 * @p: the new value, not NULL.
 *
 * Return: the previous value, NULL if @v was empty.
 * Ownership: @p passes to @v when @v has a destructor; the returned value
 * is the caller's, but readers may still hold it: free it only after
 * gort_synchronize(), or hand it to gort_retire().  Unless it is @p: a
 * value swapped for itself stays stored, and @v still owns it.
 * Thread-safety: any thread.
 * Happens-before: as store (release), and the store of the returned value
 * happens before this returns (acquire).
 * Panics: "sync/atomic: swap of nil value into Value" when @p is NULL;
 * "sync/atomic: swap of inconsistently typed value into Value" when @v
 * holds typed values.
 */
GORT_API void *gort_atomic_value_swap(gort_atomic_value *v, void *p);

/**
 * gort_atomic_value_compare_and_swap - set the value to @p if it is @old.
 * @old: the expected current value; NULL expects an empty @v.
 * @p:   the new value, not NULL.
 *
 * Return: true if the value was @old and is now @p.
 * Ownership: on success @p passes to @v (when @v has a destructor) and
 * @old is the caller's, with the same caveat as swap: readers may still
 * hold it; unless @old is @p, which stays stored (and owned by @v).  On
 * failure nothing changes hands.
 * Thread-safety: any thread.
 * Happens-before: on success as swap (acquire and release); on failure an
 * acquire load of the current value.
 * Panics: "sync/atomic: compare and swap of nil value into Value" when @p
 * is NULL; "sync/atomic: compare and swap of inconsistently typed value
 * into Value" when @v holds typed values.
 */
GORT_API bool gort_atomic_value_compare_and_swap(gort_atomic_value *v,
                                                 void *old, void *p);

/* ===================================================================
 * Typed access (Go's consistently-typed Value)
 * =================================================================== */

/**
 * gort_atomic_value_store_typed - gort_atomic_value_store() of a value of
 * type @type.
 * @type: the type tag; the first store (typed or not) fixes @v's tag.
 *
 * Panics: as gort_atomic_value_store(), "sync/atomic: store of
 * inconsistently typed value into Value" when @type differs from the tag
 * of the first store.
 */
GORT_API void gort_atomic_value_store_typed(gort_atomic_value *v, void *p,
                                            const void *type);

/**
 * gort_atomic_value_swap_typed - gort_atomic_value_swap() of a value of
 * type @type.
 *
 * Panics: as gort_atomic_value_swap(), "sync/atomic: swap of
 * inconsistently typed value into Value" when @type differs from the tag
 * of the first store.
 */
GORT_API void *gort_atomic_value_swap_typed(gort_atomic_value *v, void *p,
                                            const void *type);

/**
 * gort_atomic_value_compare_and_swap_typed - compare-and-swap of typed
 * values.
 * @old:      the expected value; NULL (Go's nil interface) expects empty.
 * @old_type: the type tag of @old; ignored when @old is NULL.
 * @p:        the new value, not NULL.
 * @type:     its type tag.
 *
 * As in Go, @old matches only a current value of the same type and
 * pointer.
 * Panics: "sync/atomic: compare and swap of nil value into Value" when @p
 * is NULL; "sync/atomic: compare and swap of inconsistently typed values"
 * when @old is not NULL and @old_type differs from @type; "sync/atomic:
 * compare and swap of inconsistently typed value into Value" when @type
 * differs from the tag of the first store.
 */
GORT_API bool gort_atomic_value_compare_and_swap_typed(gort_atomic_value *v,
                                                       void *old,
                                                       const void *old_type,
                                                       void *p,
                                                       const void *type);

GORT_END_DECLS

#endif /* GORT_ATOMIC_VALUE_H */
