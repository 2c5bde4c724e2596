/*
 * Port of Go 1.19 test/recover1.go ("recover during recursive panics.
 * Here be dragons."), case by case, rewritten in C.
 *
 * Mapping as in test_go_recover.c: panic(n) is gort_panic("%d", n), a
 * closure is a static function, `defer recover()` defers gort_recover
 * itself, helpers that recover as a sub-call are noinline.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static bool same_value(const gort_panic_info *v, int x)
{
    char want[32];
    snprintf(want, sizeof want, "%d", x);
    return v != NULL && strcmp(gort_panic_message(v), want) == 0;
}

__attribute__((noinline)) static void must_not_recover(void *arg)
{
    (void)arg;
    const gort_panic_info *v = gort_recover();
    cr_assert_null(v, "spurious recover %s", gort_panic_message(v));
    __asm__ volatile("" ::: "memory");
}

/* Deferred with a copied int. */
static void must_recover(void *arg)
{
    int x = *(const int *)arg;
    must_not_recover(NULL); /* because it's not a defer call */
    const gort_panic_info *v = gort_recover();
    cr_assert_not_null(v, "missing recover");
    cr_assert(same_value(v, x), "wrong value %s %d", gort_panic_message(v), x);
    /* the value should be gone now regardless */
    v = gort_recover();
    cr_assert_null(v, "recover didn't recover");
}

#define DEFER_INT(fn, n)                                                       \
    do {                                                                       \
        int defer_int_ = (n);                                                  \
        gort_defer_copy((fn), &defer_int_, sizeof defer_int_);                 \
    } while (0)

#define DEFERRED_RECOVER ((void (*)(void *))(void (*)(void))gort_recover)

/* test1: easy nested recursive panic. */
static void test1_closure(void *arg)
{
    (void)arg;
    GORT_FRAME;
    DEFER_INT(must_recover, 2);
    gort_panic("%d", 2);
}

static void test1(void)
{
    GORT_FRAME;
    DEFER_INT(must_recover, 1);
    gort_defer(test1_closure, NULL);
    gort_panic("%d", 1);
}

Test(go_recover1, recover1_test1)
{
    test1();
}

/* test2: sequential panic. */
static void test2_closure(void *arg)
{
    (void)arg;
    GORT_FRAME;
    const gort_panic_info *v = gort_recover();
    cr_assert(same_value(v, 2), "wrong value %s 2", gort_panic_message(v));
    DEFER_INT(must_recover, 3);
    gort_panic("%d", 3);
}

static void test2(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(test2_closure, NULL);
    gort_panic("%d", 2);
}

Test(go_recover1, recover1_test2)
{
    test2();
}

/* test3: sequential panic, like test2 but less picky. */
static void test3_closure(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_recover();
    DEFER_INT(must_recover, 3);
    gort_panic("%d", 3);
}

static void test3(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(test3_closure, NULL);
    gort_panic("%d", 2);
}

Test(go_recover1, recover1_test3)
{
    test3();
}

/* test4: single panic. */
static void test4_closure(void *arg)
{
    (void)arg;
    gort_recover();
}

static void test4(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(test4_closure, NULL);
    gort_panic("%d", 4);
}

Test(go_recover1, recover1_test4)
{
    test4();
}

/* test5: single panic but recover called via defer. */
static void test5_closure(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(DEFERRED_RECOVER, NULL);
}

static void test5(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(test5_closure, NULL);
    gort_panic("%d", 5);
}

Test(go_recover1, recover1_test5)
{
    test5();
}

/* test6: sequential panic, like test3 with recover deferred.  The
 * deferred recover is like a normal call from the closure; it runs
 * because mustRecover stops the panic of 3, and it stops the panic of 2. */
static void test6_closure(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(DEFERRED_RECOVER, NULL);
    DEFER_INT(must_recover, 3);
    gort_panic("%d", 3);
}

static void test6(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(test6_closure, NULL);
    gort_panic("%d", 2);
}

Test(go_recover1, recover1_test6)
{
    test6();
}

/* test7: like test6 with the defer order swapped.  The deferred recover
 * is now a no-op: the panic of 3 runs it directly, not the closure, so it
 * cannot see the panic of 2, and it is at the wrong level to see 3. */
static void test7_closure(void *arg)
{
    (void)arg;
    GORT_FRAME;
    DEFER_INT(must_recover, 3);
    gort_defer(DEFERRED_RECOVER, NULL); /* now a no-op, unlike in test6 */
    gort_panic("%d", 3);
}

static void test7(void)
{
    GORT_FRAME;
    DEFER_INT(must_recover, 2);
    gort_defer(test7_closure, NULL);
    gort_panic("%d", 2);
}

Test(go_recover1, recover1_test7)
{
    test7();
}
