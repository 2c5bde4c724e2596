/*
 * Ports of Go 1.19 test/defer.go, test/defernil.go and the deferred-nil
 * cases of runtime/callers_test.go (TestCallersDeferNilFuncPanic and
 * TestCallersDeferNilFuncPanicWithLoop, panic logic only: gort has no
 * runtime.Callers), rewritten in C.
 *
 * Not ported: test/deferprint.go (deferring the print builtins: C has no
 * builtins to defer), test/deferfin.go (finalizers and GC),
 * test/defererrcheck.go (a compiler diagnostic about open-coded defers;
 * gort's analogue, inline versus pooled records, is covered by the unit
 * and allocation tests).
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char result[64];

/* addInt(i): result += fmt.Sprint(i) */
static void add_int(void *arg)
{
    size_t n = strlen(result);
    snprintf(result + n, sizeof result - n, "%d", *(const int *)arg);
}

static void test1helper(void)
{
    GORT_FRAME;
    for (int i = 0; i < 10; i++)
        gort_defer_copy(add_int, &i, sizeof i);
}

Test(go_defer, defer_test1)
{
    result[0] = '\0';
    test1helper();
    cr_assert_str_eq(result, "9876543210",
                     "test1: bad defer result (should be 9876543210): \"%s\"", result);
}

/* addDotDotDot(v ...interface{}): the variadic list is evaluated and
 * copied at the defer statement. */
typedef struct dotdotdot {
    int n;
    int v[4];
} dotdotdot;

static void add_dot_dot_dot(void *arg)
{
    const dotdotdot *d = arg;
    for (int i = 0; i < d->n; i++) {
        size_t n = strlen(result);
        snprintf(result + n, sizeof result - n, "%d", d->v[i]);
    }
}

static void test2helper(void)
{
    GORT_FRAME;
    for (int i = 0; i < 10; i++) {
        dotdotdot d = {1, {i, -1, -1, -1}};
        gort_defer_copy(add_dot_dot_dot, &d, sizeof d);
    }
}

Test(go_defer, defer_test2)
{
    result[0] = '\0';
    test2helper();
    cr_assert_str_eq(result, "9876543210",
                     "test2: bad defer result (should be 9876543210): \"%s\"", result);
}

/* ===================================================================
 * test/defernil.go: deferring a nil function panics when the deferred
 * function is invoked, not when it is deferred.
 * =================================================================== */

static int x;

static void defernil_f(void)
{
    void (*nilf)(void *) = NULL;
    GORT_FRAME;
    gort_defer(nilf, NULL);
    x = 1;
}

static void defernil_check(void *arg)
{
    (void)arg;
    const gort_panic_info *err = gort_recover();
    cr_assert_not_null(err, "did not panic");
    cr_assert_eq(x, 1, "FAIL");
}

static void defernil_main(void)
{
    GORT_FRAME;
    gort_defer(defernil_check, NULL);
    defernil_f();
}

Test(go_defer, defernil)
{
    x = 0;
    defernil_main();
}

/* ===================================================================
 * callers_test.go: the same with Go's checks on the panic value and the
 * state at the panic.
 * =================================================================== */

static int state;

static void expect_nil_func_panic(void *arg)
{
    (void)arg;
    const gort_panic_info *r = gort_recover();
    cr_assert_not_null(r, "did not panic");
    cr_assert_eq(gort_panic_error(r), &gort_err_nil_deref);
    cr_assert_neq(state, 1, "nil defer func panicked at defer time rather than "
                            "function exit time");
}

static void callers_defer_nil_func_panic(void)
{
    GORT_FRAME;
    gort_defer(expect_nil_func_panic, NULL);
    void (*f)(void *) = NULL;
    gort_defer(f, NULL);
    /* Use the value of 'state' to make sure the nil func panics at the
     * function exit, rather than at the defer statement. */
    state = 2;
}

Test(go_defer, callers_defer_nil_func_panic)
{
    state = 1;
    callers_defer_nil_func_panic();
}

/* Go forces a heap-allocated defer with a loop; gort's analogue is a
 * record from the pool, beyond the eight inline ones. */
static void nothing(void *arg)
{
    (void)arg;
}

static void callers_defer_nil_func_panic_with_loop(void)
{
    GORT_FRAME;
    gort_defer(expect_nil_func_panic, NULL);
    for (int i = 0; i < 8; i++)
        gort_defer(nothing, NULL);
    for (int i = 0; i < 1; i++) {
        void (*f)(void *) = NULL;
        gort_defer(f, NULL);
    }
    state = 2;
}

Test(go_defer, callers_defer_nil_func_panic_with_loop)
{
    state = 1;
    callers_defer_nil_func_panic_with_loop();
}
