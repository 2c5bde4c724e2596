/*
 * Unit tests of every sync.Map operation (label unit): results, NULL
 * values, keys (empty, binary, copied), promotion and expunging through
 * the structure's invariants, len, Range, misuse messages, value
 * ownership with a destructor, and panics out of Range callbacks.
 */
#include "syncmap_test.h"

#include <criterion/criterion.h>

#include <sched.h>

/* ===================================================================
 * Operations
 * =================================================================== */

Test(syncmap_ops, an_empty_map_has_nothing)
{
    gort_syncmap *m = gort_syncmap_new();
    void *v = IV(7);
    cr_assert_not(gort_syncmap_load(m, "a", 1, &v));
    cr_assert_eq(v, IV(7), "load of an absent key leaves *val alone");
    cr_assert_eq(gort_syncmap_len(m), 0);
    cr_assert_not(gort_syncmap_load_and_delete(m, "a", 1, &v));
    gort_syncmap_delete(m, "a", 1);
    cr_assert_not(gort_syncmap_compare_and_delete(m, "a", 1, NULL));
    cr_assert_not(gort_syncmap_compare_and_swap(m, "a", 1, NULL, IV(1)));
    cr_assert_not(gort_syncmap_load(m, "a", 1, NULL));
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
    gort_syncmap_free(NULL);
}

Test(syncmap_ops, store_then_load_and_overwrite)
{
    gort_syncmap *m = gort_syncmap_new();
    void *v = NULL;
    gort_syncmap_store(m, "alpha", 5, IV(1));
    cr_assert(gort_syncmap_load(m, "alpha", 5, &v));
    cr_assert_eq(v, IV(1));
    gort_syncmap_store(m, "alpha", 5, IV(2));
    cr_assert(gort_syncmap_load(m, "alpha", 5, &v));
    cr_assert_eq(v, IV(2));
    cr_assert_not(gort_syncmap_load(m, "alph", 4, &v));
    cr_assert_not(gort_syncmap_load(m, "alphab", 6, &v));
    cr_assert_eq(gort_syncmap_len(m), 1);
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

Test(syncmap_ops, null_is_a_value_distinct_from_absent)
{
    gort_syncmap *m = gort_syncmap_new();
    void *v = IV(9);
    gort_syncmap_store(m, "n", 1, NULL);
    cr_assert(gort_syncmap_load(m, "n", 1, &v));
    cr_assert_null(v);
    cr_assert_eq(gort_syncmap_len(m), 1);
    /* load_or_store finds the NULL value rather than storing. */
    void *act = IV(3);
    cr_assert(gort_syncmap_load_or_store(m, "n", 1, IV(5), &act));
    cr_assert_null(act);
    /* compare_and_swap with old == NULL matches the stored NULL. */
    cr_assert(gort_syncmap_compare_and_swap(m, "n", 1, NULL, IV(6)));
    cr_assert(gort_syncmap_load(m, "n", 1, &v));
    cr_assert_eq(v, IV(6));
    /* ... and swap back to NULL reports the previous value. */
    void *prev = NULL;
    cr_assert(gort_syncmap_swap(m, "n", 1, NULL, &prev));
    cr_assert_eq(prev, IV(6));
    cr_assert(gort_syncmap_compare_and_delete(m, "n", 1, NULL));
    cr_assert_not(gort_syncmap_load(m, "n", 1, &v));
    cr_assert_eq(gort_syncmap_len(m), 0);
    /* swap on an absent key stores and reports "not loaded". */
    prev = IV(1);
    cr_assert_not(gort_syncmap_swap(m, "n", 1, NULL, &prev));
    cr_assert_eq(prev, IV(1), "previous untouched when nothing was loaded");
    cr_assert(gort_syncmap_load(m, "n", 1, &v));
    cr_assert_null(v);
    cr_assert(gort_syncmap_load_and_delete(m, "n", 1, &v));
    cr_assert_null(v);
    cr_assert_not(gort_syncmap_load_and_delete(m, "n", 1, &v));
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

Test(syncmap_ops, load_or_store_loads_or_stores)
{
    gort_syncmap *m = gort_syncmap_new();
    void *act = NULL;
    cr_assert_not(gort_syncmap_load_or_store(m, "k", 1, IV(1), &act));
    cr_assert_eq(act, IV(1));
    cr_assert(gort_syncmap_load_or_store(m, "k", 1, IV(2), &act));
    cr_assert_eq(act, IV(1));
    cr_assert(gort_syncmap_load_or_store(m, "k", 1, IV(2), NULL));
    gort_syncmap_delete(m, "k", 1);
    cr_assert_not(gort_syncmap_load_or_store(m, "k", 1, IV(3), &act));
    cr_assert_eq(act, IV(3));
    cr_assert_eq(gort_syncmap_len(m), 1);
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

Test(syncmap_ops, compare_and_swap_and_delete_compare_by_identity)
{
    gort_syncmap *m = gort_syncmap_new();
    void *v;
    gort_syncmap_store(m, "k", 1, IV(10));
    cr_assert_not(gort_syncmap_compare_and_swap(m, "k", 1, IV(11), IV(12)));
    cr_assert_not(gort_syncmap_compare_and_swap(m, "k", 1, NULL, IV(12)));
    cr_assert(gort_syncmap_compare_and_swap(m, "k", 1, IV(10), IV(12)));
    cr_assert(gort_syncmap_load(m, "k", 1, &v));
    cr_assert_eq(v, IV(12));
    cr_assert(gort_syncmap_compare_and_swap(m, "k", 1, IV(12), IV(12)));
    cr_assert_not(gort_syncmap_compare_and_delete(m, "k", 1, IV(10)));
    cr_assert(gort_syncmap_load(m, "k", 1, NULL));
    cr_assert(gort_syncmap_compare_and_delete(m, "k", 1, IV(12)));
    cr_assert_not(gort_syncmap_load(m, "k", 1, NULL));
    cr_assert_not(gort_syncmap_compare_and_delete(m, "k", 1, IV(12)));
    /* A deleted key is absent for compare_and_swap, even with old NULL. */
    cr_assert_not(gort_syncmap_compare_and_swap(m, "k", 1, NULL, IV(1)));
    cr_assert_not(gort_syncmap_load(m, "k", 1, NULL));
    cr_assert_eq(gort_syncmap_len(m), 0);
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

Test(syncmap_ops, keys_are_byte_strings_and_are_copied)
{
    gort_syncmap *m = gort_syncmap_new();
    void *v;
    /* The empty key, with and without a pointer. */
    gort_syncmap_store(m, NULL, 0, IV(1));
    cr_assert(gort_syncmap_load(m, "", 0, &v));
    cr_assert_eq(v, IV(1));
    /* Keys with NUL bytes differ from their prefixes. */
    gort_syncmap_store(m, "a\0b", 3, IV(2));
    gort_syncmap_store(m, "a\0c", 3, IV(3));
    gort_syncmap_store(m, "a", 1, IV(4));
    cr_assert(gort_syncmap_load(m, "a\0b", 3, &v));
    cr_assert_eq(v, IV(2));
    cr_assert(gort_syncmap_load(m, "a\0c", 3, &v));
    cr_assert_eq(v, IV(3));
    cr_assert(gort_syncmap_load(m, "a", 1, &v));
    cr_assert_eq(v, IV(4));
    /* The map keeps its own copy of the key. */
    char buf[64];
    memset(buf, 'x', sizeof buf);
    gort_syncmap_store(m, buf, sizeof buf, IV(5));
    memset(buf, 'y', sizeof buf);
    cr_assert_not(gort_syncmap_load(m, buf, sizeof buf, NULL));
    memset(buf, 'x', sizeof buf);
    cr_assert(gort_syncmap_load(m, buf, sizeof buf, &v));
    cr_assert_eq(v, IV(5));
    cr_assert_eq(gort_syncmap_len(m), 5);
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

/* Misses promote the dirty map; the next new key expunges deleted
 * entries; stores revive them; every step keeps the invariants. */
Test(syncmap_ops, promotion_and_expunging_keep_the_invariants)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[32];
    void *v;
    enum { N = 3000 };
    for (long i = 0; i < N; i++) {
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), IV(i));
        if (i % 97 == 0)
            cr_assert(gort__syncmap_verify(m));
    }
    /* Loads of everything promote (misses reach len(dirty)). */
    for (int round = 0; round < 2; round++)
        for (long i = 0; i < N; i++) {
            cr_assert(gort_syncmap_load(m, k, ikey(k, sizeof k, i), &v));
            cr_assert_eq(v, IV(i));
        }
    cr_assert(gort__syncmap_verify(m));
    /* Delete the odd keys (in the read map: marked, not removed). */
    for (long i = 1; i < N; i += 2)
        gort_syncmap_delete(m, k, ikey(k, sizeof k, i));
    cr_assert_eq(gort_syncmap_len(m), N / 2);
    cr_assert(gort__syncmap_verify(m));
    /* A new key rebuilds the dirty map, expunging the deleted entries. */
    gort_syncmap_store(m, "new", 3, IV(-1));
    cr_assert(gort__syncmap_verify(m));
    /* Reviving expunged keys puts them back into the dirty map. */
    for (long i = 1; i < N; i += 4)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), IV(i * 10));
    cr_assert(gort__syncmap_verify(m));
    for (long i = 3; i < N; i += 4)
        cr_assert_not(gort_syncmap_load(m, k, ikey(k, sizeof k, i), NULL));
    /* Misses until promotion; the dead entries go with the old map. */
    for (int round = 0; round < 3; round++)
        for (long i = 0; i < N; i++) {
            bool ok = gort_syncmap_load(m, k, ikey(k, sizeof k, i), &v);
            if (i % 2 == 0)
                cr_assert(ok && v == IV(i));
            else if (i % 4 == 1)
                cr_assert(ok && v == IV(i * 10));
            else
                cr_assert_not(ok);
        }
    cr_assert(gort__syncmap_verify(m));
    cr_assert_eq(gort_syncmap_len(m), N / 2 + N / 4 + 1);
    /* load_and_delete of keys only in the dirty map removes them. */
    for (long i = N; i < N + 50; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), IV(i));
    for (long i = N; i < N + 50; i++) {
        cr_assert(gort_syncmap_load_and_delete(m, k, ikey(k, sizeof k, i), &v));
        cr_assert_eq(v, IV(i));
        cr_assert(gort__syncmap_verify(m));
    }
    cr_assert_eq(gort_syncmap_len(m), N / 2 + N / 4 + 1);
    gort_syncmap_free(m);
    gort_retire_barrier();
    cr_assert_eq(gort__syncmap_live_entries(), 0);
}

Test(syncmap_ops, len_counts_keys_present)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[32];
    for (long i = 0; i < 100; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), NULL);
    cr_assert_eq(gort_syncmap_len(m), 100);
    for (long i = 0; i < 100; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), IV(i));
    cr_assert_eq(gort_syncmap_len(m), 100);
    for (long i = 0; i < 100; i += 2)
        cr_assert(gort_syncmap_compare_and_delete(m, k, ikey(k, sizeof k, i), IV(i)));
    cr_assert_eq(gort_syncmap_len(m), 50);
    for (long i = 0; i < 100; i++)
        gort_syncmap_load_or_store(m, k, ikey(k, sizeof k, i), IV(0), NULL);
    cr_assert_eq(gort_syncmap_len(m), 100);
    for (long i = 0; i < 100; i++)
        gort_syncmap_load_and_delete(m, k, ikey(k, sizeof k, i), NULL);
    cr_assert_eq(gort_syncmap_len(m), 0);
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

/* ===================================================================
 * Range
 * =================================================================== */

typedef struct visit {
    int seen[200];
    int calls;
    int stop_after; /* 0: never stop */
    int null_values;
} visit;

static bool count_visit(const void *key, size_t klen, void *val, void *ctx)
{
    visit *vi = ctx;
    char buf[32];
    cr_assert_lt(klen, sizeof buf);
    memcpy(buf, key, klen);
    buf[klen] = 0;
    long i = atol(buf + 1);
    cr_assert_lt(i, 200);
    vi->seen[i]++;
    if (val == NULL)
        vi->null_values++;
    else
        cr_assert_eq(VI(val), i + 1);
    vi->calls++;
    return vi->stop_after == 0 || vi->calls < vi->stop_after;
}

Test(syncmap_range, visits_each_key_once_and_stops_on_false)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[32];
    for (long i = 0; i < 200; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), i % 10 == 0 ? NULL : IV(i + 1));
    for (long i = 150; i < 200; i++)
        gort_syncmap_delete(m, k, ikey(k, sizeof k, i));
    visit vi = {0};
    gort_syncmap_range(m, count_visit, &vi);
    cr_assert_eq(vi.calls, 150);
    cr_assert_eq(vi.null_values, 15);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(vi.seen[i], i < 150 ? 1 : 0, "key %d", i);
    /* Range promoted the dirty map: the invariants still hold. */
    cr_assert(gort__syncmap_verify(m));
    visit stop = {.stop_after = 7};
    gort_syncmap_range(m, count_visit, &stop);
    cr_assert_eq(stop.calls, 7);
    gort_syncmap_free(m);
}

/* Store and delete from inside the callback (Go allows both). */
static bool mutate_visit(const void *key, size_t klen, void *val, void *ctx)
{
    gort_syncmap *m = ctx;
    (void)val;
    char buf[40];
    memcpy(buf, key, klen);
    buf[klen] = 0;
    if (buf[0] == 'k') {
        gort_syncmap_delete(m, key, klen);
        char nk[48];
        int n = snprintf(nk, sizeof nk, "new-%s", buf);
        gort_syncmap_store(m, nk, (size_t)n, IV(1));
    }
    return true;
}

Test(syncmap_range, the_callback_may_store_and_delete)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[32];
    for (long i = 0; i < 100; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), IV(i + 1));
    gort_syncmap_range(m, mutate_visit, m);
    cr_assert_eq(gort_syncmap_len(m), 100);
    for (long i = 0; i < 100; i++) {
        cr_assert_not(gort_syncmap_load(m, k, ikey(k, sizeof k, i), NULL));
        char nk[48];
        int n = snprintf(nk, sizeof nk, "new-k%ld", i);
        cr_assert(gort_syncmap_load(m, nk, (size_t)n, NULL));
    }
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
}

/* A callback that panics: the panic leaves Range with no lock held and
 * no read section open, at any nesting depth. */
typedef struct panicky {
    gort_syncmap *m;
    int depth; /* nested ranges before the panic */
} panicky;

static bool panic_visit(const void *key, size_t klen, void *val, void *ctx)
{
    (void)key, (void)klen, (void)val;
    panicky *p = ctx;
    if (p->depth-- > 0)
        gort_syncmap_range(p->m, panic_visit, p);
    gort_panic("boom from range");
}

static void range_panicky(void *arg)
{
    panicky *p = arg;
    gort_syncmap_range(p->m, panic_visit, p);
}

Test(syncmap_range, a_panicking_callback_leaves_no_lock_and_no_section)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[32];
    for (int depth = 0; depth < 3; depth++) {
        /* A new key makes the map amended: Range takes the lock first. */
        gort_syncmap_store(m, k, ikey(k, sizeof k, depth), IV(1));
        panicky p = {m, depth};
        caught_panic c;
        call_catching(range_panicky, &p, &c);
        cr_assert(c.panicked);
        cr_assert_str_eq(c.msg, "boom from range");
        /* The lock is free: a new key needs it (this would deadlock). */
        gort_syncmap_store(m, "after", 5, IV(2));
        gort_syncmap_delete(m, "after", 5);
        /* No section is open: gort_synchronize is fatal inside one. */
        gort_synchronize();
        cr_assert(gort__syncmap_verify(m));
    }
    gort_syncmap_free(m);
}

/* ===================================================================
 * Misuse
 * =================================================================== */

typedef struct call {
    int op;
    gort_syncmap *m;
    const char *k;
    size_t klen;
} call;

static bool nop_visit(const void *key, size_t klen, void *val, void *ctx)
{
    (void)key, (void)klen, (void)val, (void)ctx;
    return true;
}

static void do_call(void *arg)
{
    call *c = arg;
    void *v;
    switch (c->op) {
    case 0: gort_syncmap_load(c->m, c->k, c->klen, &v); break;
    case 1: gort_syncmap_store(c->m, c->k, c->klen, NULL); break;
    case 2: gort_syncmap_load_or_store(c->m, c->k, c->klen, NULL, &v); break;
    case 3: gort_syncmap_load_and_delete(c->m, c->k, c->klen, &v); break;
    case 4: gort_syncmap_delete(c->m, c->k, c->klen); break;
    case 5: gort_syncmap_swap(c->m, c->k, c->klen, NULL, &v); break;
    case 6: gort_syncmap_compare_and_swap(c->m, c->k, c->klen, NULL, NULL); break;
    case 7: gort_syncmap_compare_and_delete(c->m, c->k, c->klen, NULL); break;
    case 8: gort_syncmap_len(c->m); break;
    case 9: gort_syncmap_set_destructor(c->m, free); break;
    case 10: gort_syncmap_range(c->m, nop_visit, NULL); break;
    case 11: gort_syncmap_range(c->m, NULL, NULL); break;
    }
}

static const char *const op_names[] = {
    "gort_syncmap_load", "gort_syncmap_store", "gort_syncmap_load_or_store",
    "gort_syncmap_load_and_delete", "gort_syncmap_delete", "gort_syncmap_swap",
    "gort_syncmap_compare_and_swap", "gort_syncmap_compare_and_delete",
    "gort_syncmap_len", "gort_syncmap_set_destructor", "gort_syncmap_range",
};

Test(syncmap_misuse, a_null_map_panics_naming_the_function)
{
    for (int op = 0; op <= 10; op++) {
        call cl = {op, NULL, "k", 1};
        caught_panic c;
        call_catching(do_call, &cl, &c);
        cr_assert(c.panicked, "op %d", op);
        char want[128];
        snprintf(want, sizeof want, "%s: NULL map", op_names[op]);
        cr_assert_str_eq(c.msg, want);
    }
}

Test(syncmap_misuse, a_null_key_with_a_length_panics_and_changes_nothing)
{
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_store(m, "k", 1, IV(1));
    for (int op = 0; op <= 7; op++) {
        call cl = {op, m, NULL, 5};
        caught_panic c;
        call_catching(do_call, &cl, &c);
        cr_assert(c.panicked, "op %d", op);
        char want[128];
        snprintf(want, sizeof want, "%s: NULL key with length 5", op_names[op]);
        cr_assert_str_eq(c.msg, want);
    }
    cr_assert_eq(gort_syncmap_len(m), 1);
    cr_assert(gort__syncmap_verify(m));
    /* The map is usable after the recovered panics (no lock kept). */
    gort_syncmap_store(m, "k2", 2, IV(2));
    cr_assert_eq(gort_syncmap_len(m), 2);
    call cl = {11, m, NULL, 0};
    caught_panic c;
    call_catching(do_call, &cl, &c);
    cr_assert(c.panicked);
    cr_assert_str_eq(c.msg, "gort_syncmap_range: NULL function");
    gort_syncmap_free(m);
}

/* ===================================================================
 * Value ownership with a destructor
 * =================================================================== */

static void reset_counts(void)
{
    atomic_store(&tv_created, 0);
    atomic_store(&tv_destroyed, 0);
    atomic_store(&tv_double_destroys, 0);
}

Test(syncmap_destructor, store_delete_cas_and_cad_retire_what_they_remove)
{
    reset_counts();
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_set_destructor(m, tv_destroy);
    tv *a = tv_new(1), *b = tv_new(2), *c = tv_new(3), *d = tv_new(4);
    gort_syncmap_store(m, "k", 1, a);
    gort_syncmap_store(m, "k", 1, a); /* over itself: kept */
    gort_syncmap_store(m, "k", 1, b); /* a retired */
    gort_retire_barrier();
    cr_assert_eq(tv_destroyed, 1);
    cr_assert_not(gort_syncmap_compare_and_swap(m, "k", 1, a, c)); /* fails: nothing */
    cr_assert(gort_syncmap_compare_and_swap(m, "k", 1, b, c));      /* b retired */
    cr_assert(gort_syncmap_compare_and_swap(m, "k", 1, c, c));      /* same: kept */
    gort_retire_barrier();
    cr_assert_eq(tv_destroyed, 2);
    cr_assert(tv_alive(c));
    cr_assert_not(gort_syncmap_compare_and_delete(m, "k", 1, d));
    cr_assert(gort_syncmap_compare_and_delete(m, "k", 1, c)); /* c retired */
    gort_syncmap_store(m, "j", 1, d);
    gort_syncmap_delete(m, "j", 1); /* d retired */
    gort_syncmap_delete(m, "j", 1); /* nothing */
    gort_syncmap_store(m, "z", 1, NULL);
    gort_syncmap_delete(m, "z", 1); /* NULL is never destroyed */
    gort_retire_barrier();
    cr_assert_eq(tv_destroyed, 4);
    cr_assert_eq(tv_double_destroys, 0);
    gort_syncmap_free(m);
    cr_assert_eq(tv_destroyed, tv_created);
}

Test(syncmap_destructor, swap_and_load_and_delete_hand_the_value_over)
{
    reset_counts();
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_set_destructor(m, tv_destroy);
    tv *a = tv_new(1), *b = tv_new(2), *c = tv_new(3);
    void *prev = NULL;
    cr_assert_not(gort_syncmap_swap(m, "k", 1, a, &prev));
    cr_assert(gort_syncmap_swap(m, "k", 1, b, &prev));
    cr_assert_eq(prev, a);
    void *got = NULL;
    cr_assert(gort_syncmap_load_and_delete(m, "k", 1, &got));
    cr_assert_eq(got, b);
    /* load_or_store that loads does not take the value. */
    gort_syncmap_store(m, "k", 1, c);
    tv *spare = tv_new(4);
    void *act = NULL;
    cr_assert(gort_syncmap_load_or_store(m, "k", 1, spare, &act));
    cr_assert_eq(act, c);
    gort_retire_barrier();
    cr_assert_eq(tv_destroyed, 0);
    cr_assert(tv_alive(a) && tv_alive(b) && tv_alive(spare));
    tv_destroy(a);
    tv_destroy(b);
    tv_destroy(spare);
    /* free destroys what is still stored (c), once. */
    gort_syncmap_free(m);
    cr_assert_eq(tv_destroyed, 4);
    cr_assert_eq(tv_double_destroys, 0);
}

Test(syncmap_destructor, free_destroys_the_stored_values_once)
{
    reset_counts();
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_set_destructor(m, tv_destroy);
    char k[32];
    for (long i = 0; i < 500; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), tv_new(i));
    /* Promote, delete some (retired), expunge them, revive a few. */
    for (long i = 0; i < 500; i++)
        gort_syncmap_load(m, k, ikey(k, sizeof k, i), NULL);
    for (long i = 0; i < 500; i += 3)
        gort_syncmap_delete(m, k, ikey(k, sizeof k, i));
    gort_syncmap_store(m, "extra", 5, tv_new(-1));
    for (long i = 0; i < 500; i += 9)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), tv_new(i));
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
    gort_retire_barrier();
    cr_assert_eq(tv_destroyed, tv_created);
    cr_assert_eq(tv_double_destroys, 0);
    cr_assert_eq(gort__syncmap_live_entries(), 0);
}

/* A reader holding a value inside its read section keeps it alive: the
 * destructor of a value removed meanwhile runs only after the reader has
 * left (the destructor checks the reader's flag). */
typedef struct hold {
    gort_syncmap *m;
    _Atomic int phase;     /* 0 start, 1 reader holds, 2 writer removed */
    _Atomic int inside;    /* reader is inside its section */
    _Atomic int violations;
    _Atomic int use_after_destroy;
} hold;

static hold *the_hold;

static void checked_destroy(void *p)
{
    if (atomic_load(&the_hold->inside))
        atomic_fetch_add(&the_hold->violations, 1);
    tv_destroy(p);
}

static void holding_reader(void *arg)
{
    hold *h = arg;
    gort_read_begin();
    atomic_store(&h->inside, 1);
    void *v = NULL;
    bool ok = gort_syncmap_load(h->m, "k", 1, &v);
    atomic_store(&h->phase, 1);
    while (atomic_load(&h->phase) != 2)
        sched_yield();
    /* The value was removed and retired; give a broken implementation
     * time to destroy it, and check it is still alive. */
    for (int i = 0; i < 2000; i++) {
        if (!ok || !tv_alive(v))
            atomic_fetch_add(&h->use_after_destroy, 1);
        sched_yield();
    }
    atomic_store(&h->inside, 0);
    atomic_store(&h->phase, 3);
    gort_read_end();
}

Test(syncmap_destructor, a_value_is_destroyed_only_after_its_readers_leave)
{
    reset_counts();
    for (int op = 0; op < 4; op++) {
        hold h = {0};
        the_hold = &h;
        h.m = gort_syncmap_new();
        gort_syncmap_set_destructor(h.m, checked_destroy);
        tv *a = tv_new(1);
        gort_syncmap_store(h.m, "k", 1, a);
        gort_go(holding_reader, &h);
        while (atomic_load(&h.phase) != 1)
            sched_yield();
        switch (op) {
        case 0: gort_syncmap_store(h.m, "k", 1, tv_new(2)); break;
        case 1: gort_syncmap_delete(h.m, "k", 1); break;
        case 2: gort_syncmap_compare_and_swap(h.m, "k", 1, a, NULL); break;
        case 3: gort_syncmap_compare_and_delete(h.m, "k", 1, a); break;
        }
        long before = atomic_load(&tv_destroyed);
        atomic_store(&h.phase, 2);
        gort_retire_barrier(); /* waits for the reader, then destroys a */
        cr_assert_eq(atomic_load(&h.phase), 3);
        cr_assert_eq(atomic_load(&tv_destroyed), before + 1, "op %d", op);
        cr_assert_eq(h.violations, 0, "op %d", op);
        cr_assert_eq(h.use_after_destroy, 0, "op %d", op);
        gort_syncmap_free(h.m);
    }
    cr_assert_eq(tv_destroyed, tv_created);
    cr_assert_eq(tv_double_destroys, 0);
}

/* ===================================================================
 * Every operation on every state an entry can be in
 * =================================================================== */

/* The states Go's entries go through (sync/map.go: p is a value, nil or
 * expunged; the key in read, in dirty or in both), each built through
 * the public API.  "k" is the key under test, "o" another key. */
enum {
    ST_ABSENT,        /* never stored */
    ST_DIRTY,         /* stored since the last promotion: in dirty only */
    ST_DIRTY_DELETED, /* in dirty only, value removed by compare_and_delete
                         (which leaves the entry in place, as Go's does) */
    ST_READ,          /* promoted into the read-only map, no dirty map */
    ST_READ_DELETED,  /* in read, deleted (p = nil), no dirty map */
    ST_EXPUNGED,      /* in read, deleted, then expunged by a new key */
    ST_READ_AND_DIRTY,/* in read and in a dirty map made since */
    NSTATES
};

static const char *const state_names[NSTATES] = {
    "absent", "dirty", "dirty-deleted", "read", "read-deleted", "expunged",
    "read-and-dirty"};

#define V0 IV(100) /* the value "k" has when present */
#define W0 IV(200) /* the value an operation writes */

static void promote(gort_syncmap *m)
{
    /* Misses reach len(dirty): the dirty map becomes the read map. */
    for (int i = 0; i < 8; i++)
        gort_syncmap_load(m, "absent", 6, NULL);
}

static gort_syncmap *map_in_state(int st)
{
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_store(m, "o", 1, IV(1));
    switch (st) {
    case ST_ABSENT:
        break;
    case ST_DIRTY:
        promote(m);
        gort_syncmap_store(m, "k", 1, V0);
        break;
    case ST_DIRTY_DELETED:
        promote(m);
        gort_syncmap_store(m, "k", 1, V0);
        cr_assert(gort_syncmap_compare_and_delete(m, "k", 1, V0));
        break;
    case ST_READ:
        gort_syncmap_store(m, "k", 1, V0);
        promote(m);
        break;
    case ST_READ_DELETED:
        gort_syncmap_store(m, "k", 1, V0);
        promote(m);
        gort_syncmap_delete(m, "k", 1);
        break;
    case ST_EXPUNGED:
        gort_syncmap_store(m, "k", 1, V0);
        promote(m);
        gort_syncmap_delete(m, "k", 1);
        gort_syncmap_store(m, "p", 1, IV(2)); /* builds dirty: expunges k */
        break;
    case ST_READ_AND_DIRTY:
        gort_syncmap_store(m, "k", 1, V0);
        promote(m);
        gort_syncmap_store(m, "p", 1, IV(2));
        break;
    }
    cr_assert(gort__syncmap_verify(m), "state %s", state_names[st]);
    return m;
}

static bool state_present(int st)
{
    return st == ST_DIRTY || st == ST_READ || st == ST_READ_AND_DIRTY;
}

/* After an operation: "k" holds @want (present) or is absent, the count
 * agrees, the invariants hold, and Range sees the same. */
static bool range_find_k(const void *key, size_t klen, void *val, void *ctx)
{
    if (klen == 1 && *(const char *)key == 'k')
        *(void **)ctx = val;
    return true;
}

static void expect_k(gort_syncmap *m, bool present, void *want, int st,
                     const char *op)
{
    void *v = IV(-1);
    bool ok = gort_syncmap_load(m, "k", 1, &v);
    cr_assert_eq(ok, present, "%s on %s: load says %d", op, state_names[st],
                 ok);
    if (present)
        cr_assert_eq(v, want, "%s on %s: value %ld", op, state_names[st],
                     VI(v));
    void *seen = IV(-1);
    gort_syncmap_range(m, range_find_k, &seen);
    cr_assert_eq(seen, present ? want : IV(-1), "%s on %s: range", op,
                 state_names[st]);
    size_t others = gort_syncmap_load(m, "p", 1, NULL) ? 2 : 1;
    cr_assert_eq(gort_syncmap_len(m), others + present, "%s on %s: len", op,
                 state_names[st]);
    cr_assert(gort__syncmap_verify(m), "%s on %s", op, state_names[st]);
    gort_syncmap_free(m);
}

Test(syncmap_ops, every_operation_on_every_entry_state_matches_go)
{
    for (int st = 0; st < NSTATES; st++) {
        bool here = state_present(st);
        gort_syncmap *m;
        void *v;
        bool ok;

        m = map_in_state(st);
        v = IV(-1);
        ok = gort_syncmap_load(m, "k", 1, &v);
        cr_assert_eq(ok, here, "load on %s", state_names[st]);
        cr_assert_eq(v, here ? V0 : IV(-1), "load on %s", state_names[st]);
        expect_k(m, here, V0, st, "load");

        m = map_in_state(st);
        gort_syncmap_store(m, "k", 1, W0);
        expect_k(m, true, W0, st, "store");

        m = map_in_state(st);
        v = IV(-1);
        ok = gort_syncmap_load_or_store(m, "k", 1, W0, &v);
        cr_assert_eq(ok, here, "load_or_store on %s", state_names[st]);
        cr_assert_eq(v, here ? V0 : W0, "load_or_store on %s", state_names[st]);
        expect_k(m, true, here ? V0 : W0, st, "load_or_store");

        m = map_in_state(st);
        v = IV(-1);
        ok = gort_syncmap_load_and_delete(m, "k", 1, &v);
        cr_assert_eq(ok, here, "load_and_delete on %s", state_names[st]);
        cr_assert_eq(v, here ? V0 : IV(-1), "load_and_delete on %s",
                     state_names[st]);
        expect_k(m, false, NULL, st, "load_and_delete");

        m = map_in_state(st);
        gort_syncmap_delete(m, "k", 1);
        expect_k(m, false, NULL, st, "delete");

        m = map_in_state(st);
        v = IV(-1);
        ok = gort_syncmap_swap(m, "k", 1, W0, &v);
        cr_assert_eq(ok, here, "swap on %s", state_names[st]);
        cr_assert_eq(v, here ? V0 : IV(-1), "swap on %s", state_names[st]);
        expect_k(m, true, W0, st, "swap");

        /* Go: an absent key never compares equal, not even to nil. */
        m = map_in_state(st);
        cr_assert_not(gort_syncmap_compare_and_swap(m, "k", 1, NULL, W0),
                      "compare_and_swap(nil) on %s", state_names[st]);
        cr_assert_eq(gort_syncmap_compare_and_swap(m, "k", 1, V0, W0), here,
                     "compare_and_swap on %s", state_names[st]);
        expect_k(m, here, W0, st, "compare_and_swap");

        m = map_in_state(st);
        cr_assert_not(gort_syncmap_compare_and_delete(m, "k", 1, NULL),
                      "compare_and_delete(nil) on %s", state_names[st]);
        cr_assert_not(gort_syncmap_compare_and_delete(m, "k", 1, W0),
                      "compare_and_delete(other) on %s", state_names[st]);
        cr_assert_eq(gort_syncmap_compare_and_delete(m, "k", 1, V0), here,
                     "compare_and_delete on %s", state_names[st]);
        expect_k(m, false, NULL, st, "compare_and_delete");
    }
    gort_retire_barrier();
}

/* ===================================================================
 * Range while other goroutines store and delete
 * =================================================================== */

/* Go's Range contract (sync/map.go): no key is visited more than once,
 * and a key present, with some value, for the whole call is visited.
 * TestConcurrentRange only overwrites; here half the keys are also
 * deleted, re-stored, swapped and compare-and-deleted meanwhile, which
 * expunges and revives entries and promotes dirty maps under the walk. */
enum { RC_STABLE = 256, RC_KEYS = 512 };

typedef struct rc_worker {
    gort_syncmap *m;
    uint64_t seed;
    _Atomic int *stop;
    gort_waitgroup *wg;
} rc_worker;

static size_t rc_key(char k[8], long n)
{
    memcpy(k, &n, sizeof n);
    return sizeof n;
}

static void rc_churn(void *arg)
{
    rc_worker *w = arg;
    uint64_t rng = w->seed;
    char k[8];
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        long n = (long)(rnd_next(&rng) % RC_KEYS);
        size_t kl = rc_key(k, n);
        void *v = IV(n + RC_KEYS * (long)(rnd_next(&rng) % 100));
        if (n < RC_STABLE) { /* stable: overwritten, never deleted */
            if (rnd_next(&rng) % 2)
                gort_syncmap_store(w->m, k, kl, v);
            else
                gort_syncmap_swap(w->m, k, kl, v, NULL);
            continue;
        }
        switch (rnd_next(&rng) % 6) {
        case 0: gort_syncmap_store(w->m, k, kl, v); break;
        case 1: gort_syncmap_delete(w->m, k, kl); break;
        case 2: gort_syncmap_load_and_delete(w->m, k, kl, NULL); break;
        case 3: gort_syncmap_load_or_store(w->m, k, kl, v, NULL); break;
        case 4: {
            void *cur;
            if (gort_syncmap_load(w->m, k, kl, &cur))
                gort_syncmap_compare_and_delete(w->m, k, kl, cur);
            break;
        }
        default: gort_syncmap_load(w->m, "absent", 6, NULL); break; /* misses */
        }
    }
    gort_waitgroup_done(w->wg);
}

typedef struct rc_seen {
    unsigned char count[RC_KEYS];
    int bad_value;
} rc_seen;

static bool rc_visit(const void *key, size_t klen, void *val, void *ctx)
{
    rc_seen *s = ctx;
    long n;
    cr_assert_eq(klen, sizeof n);
    memcpy(&n, key, sizeof n);
    cr_assert(n >= 0 && n < RC_KEYS);
    if (VI(val) % RC_KEYS != n)
        s->bad_value++;
    s->count[n]++;
    return true;
}

Test(syncmap_range, a_key_present_throughout_is_visited_once_despite_churn)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[8];
    for (long n = 0; n < RC_KEYS; n++)
        gort_syncmap_store(m, k, rc_key(k, n), IV(n));
    _Atomic int stop = 0;
    gort_waitgroup wg = {0};
    rc_worker w[2];
    for (int g = 0; g < 2; g++) {
        w[g] = (rc_worker){m, 0x9E3779B97F4A7C15ULL * (uint64_t)(g + 1), &stop,
                           &wg};
        gort_waitgroup_add(&wg, 1);
        gort_go(rc_churn, &w[g]);
    }
    for (int round = 0; round < 300; round++) {
        rc_seen s;
        memset(&s, 0, sizeof s);
        gort_syncmap_range(m, rc_visit, &s);
        cr_assert_eq(s.bad_value, 0, "round %d: a value of another key", round);
        for (long n = 0; n < RC_KEYS; n++) {
            cr_assert_leq(s.count[n], 1, "round %d: key %ld visited %d times",
                          round, n, s.count[n]);
            if (n < RC_STABLE)
                cr_assert_eq(s.count[n], 1, "round %d: stable key %ld missed",
                             round, n);
        }
    }
    atomic_store(&stop, 1);
    gort_waitgroup_wait(&wg);
    cr_assert(gort__syncmap_verify(m));
    gort_syncmap_free(m);
    gort_retire_barrier();
}
