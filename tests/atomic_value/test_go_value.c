/*
 * Ports of Go's sync/atomic value_test.go (TestValue, TestValueLarge,
 * TestValuePanic, TestValueConcurrent, TestValue_Swap,
 * TestValueSwapConcurrent, TestValue_CompareAndSwap,
 * TestValueCompareAndSwapConcurrent).
 *
 * Go's Value holds interfaces; gort's holds pointers.  Where Go stores
 * integers the ports store small integers encoded as pointers (i + 1, so
 * that Go's 0 is not nil), and Go's dynamic types become type tags (the
 * addresses of the tag_* objects below).  Go compares interface values by
 * value; gort compares pointers, so Go's last CompareAndSwap case (two
 * distinct but equal structs) swaps in Go and not here.
 */
#include "av_test.h"

#include <criterion/criterion.h>
#include <sched.h>
#include <unistd.h>

static const char tag_int, tag_string, tag_bool, tag_struct;

#define INT(i) ((void *)(uintptr_t)((i) + 1))
#define UNINT(p) ((uint64_t)(uintptr_t)(p) - 1)

Test(go_value, TestValue)
{
    gort_atomic_value v = {0};
    cr_assert_null(gort_atomic_value_load(&v), "initial Value is not nil");
    int a = 42, b = 84;
    gort_atomic_value_store(&v, &a);
    int *x = gort_atomic_value_load(&v);
    cr_assert(x == &a && *x == 42, "wrong value, want 42");
    gort_atomic_value_store(&v, &b);
    x = gort_atomic_value_load(&v);
    cr_assert(x == &b && *x == 84, "wrong value, want 84");
}

Test(go_value, TestValueLarge)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, NULL);
    char foo[] = "foo", barbaz[] = "barbaz";
    gort_atomic_value_store_typed(&v, foo, &tag_string);
    cr_assert_str_eq(gort_atomic_value_load(&v), "foo");
    gort_atomic_value_store_typed(&v, barbaz, &tag_string);
    cr_assert_str_eq(gort_atomic_value_load(&v), "barbaz");
}

typedef struct typed_store {
    gort_atomic_value *v;
    void *p;
    const void *type;
} typed_store;

static void do_store(void *arg)
{
    typed_store *s = arg;
    gort_atomic_value_store_typed(s->v, s->p, s->type);
}

Test(go_value, TestValuePanic)
{
    static const char nil_err[] = "sync/atomic: store of nil value into Value";
    static const char bad_err[] =
        "sync/atomic: store of inconsistently typed value into Value";
    gort_atomic_value v = {0};
    int i42 = 42;
    char foo[] = "foo";
    const char *err =
        av_panic_of(do_store, &(typed_store){&v, NULL, &tag_int});
    cr_assert_not_null(err, "Store(nil) did not panic");
    cr_assert_str_eq(err, nil_err);
    cr_assert_null(av_panic_of(do_store, &(typed_store){&v, &i42, &tag_int}));
    err = av_panic_of(do_store, &(typed_store){&v, foo, &tag_string});
    cr_assert_not_null(err, "inconsistent Store did not panic");
    cr_assert_str_eq(err, bad_err);
    err = av_panic_of(do_store, &(typed_store){&v, NULL, &tag_int});
    cr_assert_not_null(err);
    cr_assert_str_eq(err, nil_err);
    cr_assert_eq(gort_atomic_value_load(&v), &i42, "a panicking store changed the value");
    /* The untyped functions have a tag of their own. */
    err = av_panic_of(do_store, &(typed_store){&v, foo, NULL});
    cr_assert_not_null(err);
    cr_assert_str_eq(err, bad_err);
}

/* ---- TestValueConcurrent ----------------------------------------- */

typedef struct conc {
    gort_atomic_value *v;
    void *const *test; /* 4 candidate values */
    int n;             /* iterations */
    bool ok;           /* every load returned a candidate */
    gort_waitgroup *wg;
    uint64_t seed;
} conc;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void conc_worker(void *arg)
{
    conc *c = arg;
    c->ok = true;
    for (int j = 0; j < c->n && c->ok; j++) {
        gort_atomic_value_store(c->v, c->test[splitmix(&c->seed) % 4]);
        void *x = gort_atomic_value_load(c->v);
        c->ok = x == c->test[0] || x == c->test[1] || x == c->test[2] ||
                x == c->test[3];
    }
    gort_waitgroup_done(c->wg);
}

Test(go_value, TestValueConcurrent)
{
    static uint16_t u16[4] = {0, 0xffff, 1 + (2 << 8), 3 + (4 << 8)};
    static uint64_t u64[4] = {0, ~0ull, 1 + (2ull << 32), 3 + (4ull << 32)};
    void *const tests[2][4] = {{&u16[0], &u16[1], &u16[2], &u16[3]},
                               {&u64[0], &u64[1], &u64[2], &u64[3]}};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int p = 4 * (int)(ncpu > 0 ? ncpu : 1);
    if (p > 16)
        p = 16;
    for (int t = 0; t < 2; t++) {
        gort_atomic_value v = {0};
        gort_waitgroup wg = {0};
        conc *cs = calloc((size_t)p, sizeof *cs);
        gort_waitgroup_add(&wg, p);
        for (int i = 0; i < p; i++) {
            cs[i] = (conc){&v, tests[t], 10000, false, &wg, (uint64_t)i * 7 + 1};
            gort_go(conc_worker, &cs[i]);
        }
        gort_waitgroup_wait(&wg);
        for (int i = 0; i < p; i++)
            cr_assert(cs[i].ok, "loaded an unexpected value");
        free(cs);
    }
}

/* ---- TestValue_Swap ------------------------------------------------ */

typedef struct swap_case {
    gort_atomic_value *v;
    void *new_;
    const void *type;
    void *got;
} swap_case;

static void do_swap(void *arg)
{
    swap_case *c = arg;
    c->got = gort_atomic_value_swap_typed(c->v, c->new_, c->type);
}

Test(go_value, TestValue_Swap)
{
    static bool t = true, f = false;
    static char empty[] = "";
    struct {
        void *init;
        const void *init_type;
        void *new_;
        const void *new_type;
        void *want;
        const char *err;
    } cases[] = {
        {NULL, NULL, NULL, &tag_bool, NULL,
         "sync/atomic: swap of nil value into Value"},
        {NULL, NULL, &t, &tag_bool, NULL, NULL},
        {&t, &tag_bool, empty, &tag_string, NULL,
         "sync/atomic: swap of inconsistently typed value into Value"},
        {&t, &tag_bool, &f, &tag_bool, &t, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gort_atomic_value v = {0};
        if (cases[i].init != NULL)
            gort_atomic_value_store_typed(&v, cases[i].init, cases[i].init_type);
        swap_case c = {&v, cases[i].new_, cases[i].new_type, NULL};
        const char *err = av_panic_of(do_swap, &c);
        if (cases[i].err == NULL) {
            cr_assert_null(err, "case %zu: should not panic, got %s", i, err);
            cr_assert_eq(c.got, cases[i].want, "case %zu", i);
            cr_assert_eq(gort_atomic_value_load(&v), cases[i].new_, "case %zu", i);
        } else {
            cr_assert_not_null(err, "case %zu: should panic %s", i, cases[i].err);
            cr_assert_str_eq(err, cases[i].err, "case %zu", i);
        }
    }
}

/* ---- TestValueSwapConcurrent --------------------------------------- */

typedef struct swapper {
    gort_atomic_value *v;
    uint64_t from, n;
    uint64_t *count;
    gort_waitgroup *wg;
} swapper;

static void swap_worker(void *arg)
{
    swapper *s = arg;
    uint64_t c = 0;
    for (uint64_t nw = s->from; nw < s->from + s->n; nw++) {
        void *old = gort_atomic_value_swap(s->v, INT(nw));
        if (old != NULL)
            c += UNINT(old);
    }
    __atomic_add_fetch(s->count, c, __ATOMIC_RELAXED);
    gort_waitgroup_done(s->wg);
}

Test(go_value, TestValueSwapConcurrent)
{
    enum { M = 100, N = 1000 }; /* Go's -short sizes are 1000 x 1000 */
    gort_atomic_value v = {0};
    gort_waitgroup wg = {0};
    uint64_t count = 0;
    static swapper sw[M];
    for (uint64_t i = 0; i < M; i++) {
        sw[i] = (swapper){&v, i * N, N, &count, &wg};
        gort_waitgroup_add(&wg, 1);
        gort_go(swap_worker, &sw[i]);
    }
    gort_waitgroup_wait(&wg);
    uint64_t want = ((uint64_t)M * N - 1) * ((uint64_t)M * N) / 2;
    uint64_t got = __atomic_load_n(&count, __ATOMIC_RELAXED) +
                   UNINT(gort_atomic_value_load(&v));
    cr_assert_eq(got, want, "sum from 0 to %d was %llu, want %llu", M * N - 1,
                 (unsigned long long)got, (unsigned long long)want);
}

/* ---- TestValue_CompareAndSwap -------------------------------------- */

typedef struct cas_case {
    gort_atomic_value *v;
    void *old, *new_;
    const void *old_type, *new_type;
    bool got;
} cas_case;

static void do_cas(void *arg)
{
    cas_case *c = arg;
    c->got = gort_atomic_value_compare_and_swap_typed(c->v, c->old, c->old_type,
                                                      c->new_, c->new_type);
}

Test(go_value, TestValue_CompareAndSwap)
{
    static bool t = true, f = false;
    static char empty[] = "";
    static struct { unsigned u; } heap_a = {0}, heap_b = {0}, one = {1};
    struct {
        void *init;
        const void *init_type;
        void *new_;
        const void *new_type;
        void *old;
        const void *old_type;
        bool want;
        const char *err;
    } cases[] = {
        {NULL, NULL, NULL, NULL, NULL, NULL, false,
         "sync/atomic: compare and swap of nil value into Value"},
        {NULL, NULL, &t, &tag_bool, empty, &tag_string, false,
         "sync/atomic: compare and swap of inconsistently typed values"},
        {NULL, NULL, &t, &tag_bool, &t, &tag_bool, false, NULL},
        {NULL, NULL, &t, &tag_bool, NULL, NULL, true, NULL},
        {&t, &tag_bool, empty, &tag_string, NULL, NULL, false,
         "sync/atomic: compare and swap of inconsistently typed value into "
         "Value"},
        {&t, &tag_bool, &t, &tag_bool, &f, &tag_bool, false, NULL},
        {&t, &tag_bool, &t, &tag_bool, &t, &tag_bool, true, NULL},
        /* Go: true (equal struct values); gort compares pointers. */
        {&heap_a, &tag_struct, &one, &tag_struct, &heap_b, &tag_struct, false,
         NULL},
        {&heap_a, &tag_struct, &one, &tag_struct, &heap_a, &tag_struct, true,
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gort_atomic_value v = {0};
        if (cases[i].init != NULL)
            gort_atomic_value_store_typed(&v, cases[i].init, cases[i].init_type);
        cas_case c = {&v, cases[i].old, cases[i].new_, cases[i].old_type,
                      cases[i].new_type, false};
        const char *err = av_panic_of(do_cas, &c);
        if (cases[i].err == NULL) {
            cr_assert_null(err, "case %zu: got %s, wanted no panic", i, err);
            cr_assert_eq(c.got, cases[i].want, "case %zu", i);
            cr_assert_eq(gort_atomic_value_load(&v),
                         c.got ? cases[i].new_ : cases[i].init, "case %zu", i);
        } else {
            cr_assert_not_null(err, "case %zu: did not panic, want %s", i,
                               cases[i].err);
            cr_assert_str_eq(err, cases[i].err, "case %zu", i);
        }
    }
}

/* ---- TestValueCompareAndSwapConcurrent ----------------------------- */

typedef struct caser {
    gort_atomic_value *v;
    int i, m, n;
    gort_waitgroup *wg;
} caser;

static void cas_worker(void *arg)
{
    caser *c = arg;
    for (int j = c->i; j < c->m * c->n; sched_yield()) {
        if (gort_atomic_value_compare_and_swap(c->v, INT(j), INT(j + 1)))
            j += c->m;
    }
    gort_waitgroup_done(c->wg);
}

Test(go_value, TestValueCompareAndSwapConcurrent)
{
    enum { M = 20, N = 100 }; /* Go's -short: 100 x 100 (goroutines are
                                 threads here, on 2 cores) */
    gort_atomic_value v = {0};
    gort_waitgroup wg = {0};
    gort_atomic_value_store(&v, INT(0));
    static caser cs[M];
    for (int i = 0; i < M; i++) {
        cs[i] = (caser){&v, i, M, N, &wg};
        gort_waitgroup_add(&wg, 1);
        gort_go(cas_worker, &cs[i]);
    }
    gort_waitgroup_wait(&wg);
    uint64_t stop = UNINT(gort_atomic_value_load(&v));
    cr_assert_eq(stop, (uint64_t)M * N, "did not get to %d, stopped at %llu",
                 M * N, (unsigned long long)stop);
}

/* ---- Ownership: what gort adds to Go's Value ----------------------- */

Test(atomic_value, store_retires_the_replaced_value_and_destroy_the_last)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, av_obj_destroy);
    for (uint64_t i = 0; i < 100; i++)
        gort_atomic_value_store(&v, av_obj_new(i));
    av_obj *last = gort_atomic_value_load(&v);
    cr_assert(av_obj_ok(last) && last->version == 99);
    gort_atomic_value_destroy(&v);
    cr_assert_null(gort_atomic_value_load(&v));
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 100);
}

/* Go stores a value over itself harmlessly; here the value owns what it
 * holds, so that store must not retire it (it was destroyed while still
 * current: an ASan heap-use-after-free at the next load, before the
 * fix). */
Test(atomic_value, a_value_stored_over_itself_stays)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, av_obj_destroy);
    av_obj *a = av_obj_new(7);
    gort_atomic_value_store(&v, a);
    gort_atomic_value_store(&v, a);
    cr_assert(gort_atomic_value_compare_and_swap(&v, a, a));
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 0,
                 "the current value was destroyed");
    gort_read_begin();
    av_obj *cur = gort_atomic_value_load(&v);
    cr_assert(cur == a && av_obj_ok(cur) && cur->version == 7);
    gort_read_end();
    gort_atomic_value_destroy(&v);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 1);
}

Test(atomic_value, swap_and_compare_and_swap_hand_the_old_value_back)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, av_obj_destroy);
    av_obj *a = av_obj_new(1), *b = av_obj_new(2), *c = av_obj_new(3);
    cr_assert_null(gort_atomic_value_swap(&v, a));
    cr_assert_eq(gort_atomic_value_swap(&v, b), a);
    cr_assert_not(gort_atomic_value_compare_and_swap(&v, a, c));
    cr_assert(gort_atomic_value_compare_and_swap(&v, b, c));
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 0,
                 "swap and CAS must not destroy what they return");
    cr_assert(av_obj_ok(a) && av_obj_ok(b));
    gort_retire(a, av_obj_destroy); /* the caller's to dispose of */
    gort_retire(b, av_obj_destroy);
    gort_atomic_value_destroy(&v);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 3);
}

Test(atomic_value, a_value_without_destructor_owns_nothing)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, NULL);
    av_obj *a = av_obj_new(1), *b = av_obj_new(2);
    gort_atomic_value_store(&v, a);
    gort_atomic_value_store(&v, b);
    gort_atomic_value_destroy(&v);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 0);
    cr_assert(av_obj_ok(a) && av_obj_ok(b));
    av_obj_destroy(a);
    av_obj_destroy(b);
}

Test(atomic_value, a_destroyed_value_can_be_initialised_again_with_another_type)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, NULL);
    int i = 1;
    char s[] = "s";
    gort_atomic_value_store_typed(&v, &i, &tag_int);
    gort_atomic_value_destroy(&v);
    gort_atomic_value_init(&v, NULL);
    gort_atomic_value_store_typed(&v, s, &tag_string);
    cr_assert_eq(gort_atomic_value_load(&v), s);
}
