/*
 * Port of Go 1.19 test/recover.go ("basic recover functionality"), case
 * by case, rewritten in C.
 *
 * Mapping:
 *   - panic(n) with an int becomes gort_panic("%d", n); "v != x" compares
 *     the message with the decimal text of x;
 *   - die() becomes a Criterion failure;
 *   - a Go closure becomes a static function; the variables it captures
 *     are passed by pointer (captured by reference) or copied with
 *     gort_defer_copy (captured at the defer statement);
 *   - a method value on a receiver of some size becomes a deferred call
 *     whose argument is a copy of that many bytes (test9 to test14);
 *   - helpers that call recover as a sub-call are noinline: gort can only
 *     tell a sub-call from a direct call if it is a real call (inlined
 *     into the deferred function, it would recover: a C deviation).
 *
 * Not ported: the reflect variants (test9reflect1 ... test14reflect2) and
 * test15 (reflect.MakeFunc): C has no reflection; a generic trampoline in
 * C is an ordinary sub-call, for which recover rightly returns NULL, and
 * that case is test16.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ===================================================================
 * Helpers of recover.go
 * =================================================================== */

static bool same_value(const gort_panic_info *v, int x)
{
    char want[32];
    snprintf(want, sizeof want, "%d", x);
    return v != NULL && strcmp(gort_panic_message(v), want) == 0;
}

static void must_recover_body(const gort_panic_info *v1,
                              const gort_panic_info *v2,
                              const gort_panic_info *v3, int x)
{
    cr_assert_null(v1, "spurious recover %s", gort_panic_message(v1));
    cr_assert_not_null(v2, "missing recover %d", x);
    cr_assert(same_value(v2, x), "wrong value %s %d", gort_panic_message(v2), x);
    /* the value should be gone now regardless */
    cr_assert_null(v3, "recover didn't recover");
}

__attribute__((noinline)) static const gort_panic_info *double_recover(void)
{
    const gort_panic_info *p = gort_recover();
    __asm__ volatile("" ::: "memory"); /* a real call, not a tail call */
    return p;
}

/* Deferred with a copied int: mustRecover(x). */
static void must_recover(void *arg)
{
    int x = *(const int *)arg;
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, x);
}

/* Deferred, and also called as a sub-call. */
__attribute__((noinline)) static void must_not_recover(void *arg)
{
    (void)arg;
    const gort_panic_info *v = gort_recover();
    cr_assert_null(v, "spurious recover %s", gort_panic_message(v));
    __asm__ volatile("" ::: "memory");
}

static void without_recover(void *arg)
{
    (void)arg;
    must_not_recover(NULL); /* because it's a sub-call */
}

/* Deferred itself (Go: defer withoutRecoverRecursive(0)); the recursive
 * call is not run by the panic, so its recover must return NULL. */
__attribute__((noinline)) static void without_recover_recursive(void *arg)
{
    int n = *(const int *)arg;
    if (n == 0) {
        int one = 1;
        without_recover_recursive(&one);
    } else {
        const gort_panic_info *v = gort_recover();
        cr_assert_null(v, "spurious recover (recursive) %s", gort_panic_message(v));
    }
    __asm__ volatile("" ::: "memory");
}

#define DEFER_INT(fn, n)                                                       \
    do {                                                                       \
        int defer_int_ = (n);                                                  \
        gort_defer_copy((fn), &defer_int_, sizeof defer_int_);                 \
    } while (0)

/* `defer recover()`: recover itself is the deferred function.  Calling
 * it through void (*)(void *) ignores the argument and the result, which
 * is harmless on the supported ABIs (x86-64, aarch64). */
#define DEFERRED_RECOVER ((void (*)(void *))(void (*)(void))gort_recover)

/* ===================================================================
 * test1, test1WithClosures
 * =================================================================== */

static void test1(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL); /* because mustRecover will squelch it */
    DEFER_INT(must_recover, 1);         /* because of panic below */
    gort_defer(without_recover, NULL);  /* should be no-op */
    DEFER_INT(without_recover_recursive, 0); /* ditto */
    gort_panic("%d", 1);
}

Test(go_recover, recover_test1)
{
    test1();
}

/* The closures capture nothing, or a copied x padded beyond the 16 bytes
 * a record holds inline, so the environment lives on the heap like a Go
 * closure's hidden arguments. */
typedef struct closure_env {
    int x;
    char pad[28];
} closure_env;

static void closure1_spurious(void *arg)
{
    (void)arg;
    const gort_panic_info *v = gort_recover();
    cr_assert_null(v, "spurious recover in closure");
}

static void closure1_must_recover(void *arg)
{
    const closure_env *env = arg;
    must_not_recover(NULL);
    const gort_panic_info *v = gort_recover();
    cr_assert_not_null(v, "missing recover %d", env->x);
    cr_assert(same_value(v, env->x), "wrong value %s %d", gort_panic_message(v),
              env->x);
}

static void closure1_sub_call(void *arg)
{
    (void)arg;
    must_not_recover(NULL);
}

static void test1_with_closures(void)
{
    closure_env env = {.x = 1};
    GORT_FRAME;
    gort_defer(closure1_spurious, NULL);
    gort_defer_copy(closure1_must_recover, &env, sizeof env);
    gort_defer(closure1_sub_call, NULL);
    env.x = 999; /* the copy was taken at the defer statement */
    gort_panic("%d", 1);
}

Test(go_recover, recover_test1_with_closures)
{
    test1_with_closures();
}

/* ===================================================================
 * test2 .. test4
 * =================================================================== */

static void test2(void)
{
    /* Recover only sees the panic argument if it is called from a
     * deferred call: not from a call within a deferred call (too late),
     * nor when it *is* the deferred call (too early). */
    GORT_FRAME;
    DEFER_INT(must_recover, 2);
    gort_defer(DEFERRED_RECOVER, NULL); /* should be no-op */
    gort_panic("%d", 2);
}

Test(go_recover, recover_test2)
{
    test2();
}

static void closure3(void *arg)
{
    (void)arg;
    gort_recover(); /* should squelch */
}

static void test3(void)
{
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(closure3, NULL);
    gort_panic("%d", 3);
}

Test(go_recover, recover_test3)
{
    test3();
}

static void closure4(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(DEFERRED_RECOVER, NULL); /* should squelch */
}

static void test4(void)
{
    /* Equivalent to test3 but using defer to make the call. */
    GORT_FRAME;
    gort_defer(must_not_recover, NULL);
    gort_defer(closure4, NULL);
    gort_panic("%d", 4);
}

Test(go_recover, recover_test4)
{
    test4();
}

/* ===================================================================
 * test5: deferred calls set the results (try, try1)
 * =================================================================== */

typedef struct try_result {
    const char *x;  /* the named result */
    char buf[32];   /* holds a recovered message */
} try_result;

static void try_recover(void *arg)
{
    try_result *r = arg;
    const gort_panic_info *v = gort_recover();
    if (v != NULL) {
        snprintf(r->buf, sizeof r->buf, "%s", gort_panic_message(v));
        r->x = r->buf;
    }
}

/* Run g.  If it panics, return the panic's value; else return deflt. */
static const char *try_(void (*g)(void *), const char *deflt, try_result *r)
{
    r->x = NULL;
    GORT_FRAME_RETURN(r->x);
    gort_defer(try_recover, r);
    gort_defer(g, NULL);
    return deflt;
}

static const char *try1(void (*g)(void *), const char *deflt, try_result *r)
{
    r->x = NULL;
    GORT_FRAME_RETURN(r->x);
    gort_defer(try_recover, r);
    gort_defer(g, NULL);
    r->x = deflt;
    return r->x;
}

static void panic5(void *arg)
{
    (void)arg;
    gort_panic("%d", 5);
}

static void no_panic(void *arg)
{
    (void)arg;
}

Test(go_recover, recover_test5)
{
    try_result r;
    const char *v = try_(panic5, "55", &r);
    cr_assert_str_eq(v, "5", "wrong value %s 5", v);
    const char *s = try_(no_panic, "hi", &r);
    cr_assert_str_eq(s, "hi", "wrong value %s hi", s);
    v = try1(panic5, "55", &r);
    cr_assert_str_eq(v, "5", "try1 wrong value %s 5", v);
    s = try1(no_panic, "hi", &r);
    cr_assert_str_eq(s, "hi", "try1 wrong value %s hi", s);
}

/* ===================================================================
 * test6, test6WithClosures: deferred calls with a huge frame
 * =================================================================== */

/* When a deferred call with a big frame starts, recover must still find
 * the panic (Go: the frame needs a new stack segment). */
static void big(void *arg)
{
    bool must = *(const bool *)arg;
    volatile long x[100000];
    x[0] = 1;
    x[99999] = 1;
    const gort_panic_info *v = gort_recover();
    if (must)
        cr_assert_not_null(v, "missing big recover");
    else
        cr_assert_null(v, "spurious big recover");
    (void)x[0];
}

static void test6(void)
{
    bool f = false, t = true;
    GORT_FRAME;
    gort_defer_copy(big, &f, sizeof f);
    gort_defer_copy(big, &t, sizeof t);
    gort_panic("%d", 6);
}

Test(go_recover, recover_test6)
{
    test6();
}

static void big_closure_spurious(void *arg)
{
    (void)arg;
    volatile long x[100000];
    x[0] = 1;
    x[99999] = 1;
    cr_assert_null(gort_recover(), "spurious big closure recover");
    (void)x[99999];
}

static void big_closure_must(void *arg)
{
    (void)arg;
    volatile long x[100000];
    x[0] = 1;
    x[99999] = 1;
    cr_assert_not_null(gort_recover(), "missing big closure recover");
    (void)x[99999];
}

static void test6_with_closures(void)
{
    GORT_FRAME;
    gort_defer(big_closure_spurious, NULL);
    gort_defer(big_closure_must, NULL);
    gort_panic("6WithClosures");
}

Test(go_recover, recover_test6_with_closures)
{
    test6_with_closures();
}

/* ===================================================================
 * test7: ordinary defers earlier than the recovering one still run
 * =================================================================== */

static void set_ok(void *arg)
{
    *(bool *)arg = true;
}

static void test7_inner(bool *ok)
{
    GORT_FRAME;
    gort_defer(set_ok, ok);
    DEFER_INT(must_recover, 7);
    gort_panic("%d", 7);
}

Test(go_recover, recover_test7)
{
    bool ok = false;
    test7_inner(&ok);
    cr_assert(ok, "did not run ok func");
}

/* ===================================================================
 * test8: a deferred call with several arguments sets the result
 * =================================================================== */

typedef struct varargs_args {
    volatile int *s; /* a result read after a recovery: volatile */
    int n;
    int a[3];
} varargs_args;

static void varargs(void *arg)
{
    const varargs_args *va = arg;
    *va->s = 0;
    for (int i = 0; i < va->n; i++)
        *va->s += va->a[i];
    if (gort_recover() != NULL)
        *va->s += 100;
}

static int test8a(void)
{
    volatile int r = 0;
    GORT_FRAME_RETURN(r);
    varargs_args va = {&r, 3, {1, 2, 3}};
    gort_defer_copy(varargs, &va, sizeof va);
    gort_panic("%d", 0);
}

/* Go's test8b returns its named result after the deferred call set it.
 * On C's normal path `return r;` is evaluated before the deferred calls
 * run (SPEC), so the named result becomes an out parameter. */
static void test8b(int *r)
{
    GORT_FRAME;
    varargs_args va = {r, 3, {4, 5, 6}};
    gort_defer_copy(varargs, &va, sizeof va);
}

Test(go_recover, recover_test8)
{
    int b = -1;
    test8b(&b);
    cr_assert(test8a() == 106 && b == 15, "wrong value %d %d", test8a(), b);
}

/* ===================================================================
 * test9 .. test14: method values with receivers of every size
 * =================================================================== */

typedef struct t1 {
    int unused;
} t1;

/* Pointer receiver. */
static void t1_m(void *recv)
{
    (void)recv;
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 9);
}

static void test9(void)
{
    static t1 obj;
    GORT_FRAME;
    gort_defer(t1_m, &obj);
    gort_panic("%d", 9);
}

Test(go_recover, recover_test9)
{
    test9();
}

/* Word-sized value receiver. */
static void t2_m(void *recv)
{
    cr_assert_eq(*(const uintptr_t *)recv, 0);
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 10);
}

static void test10(void)
{
    uintptr_t recv = 0;
    GORT_FRAME;
    gort_defer_copy(t2_m, &recv, sizeof recv);
    gort_panic("%d", 10);
}

Test(go_recover, recover_test10)
{
    test10();
}

/* Tiny (empty) receiver: a copy of zero bytes. */
static void t3_m(void *recv)
{
    (void)recv;
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 11);
}

static void test11(void)
{
    GORT_FRAME;
    gort_defer_copy(t3_m, NULL, 0);
    gort_panic("%d", 11);
}

Test(go_recover, recover_test11)
{
    test11();
}

/* test111: before recovering, the method runs a function that panics and
 * recovers on its own (Go's "badstate" torture test). */
static void tiny_m(void)
{
    gort_panic("%d", 112);
}

static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

__attribute__((noinline)) static void badstate(void)
{
    GORT_FRAME;
    gort_defer(swallow, NULL);
    tiny_m();
}

static void t3deeper_m(void *recv)
{
    (void)recv;
    badstate(); /* difference from t3_m */
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 111);
}

static void test111(void)
{
    GORT_FRAME;
    gort_defer_copy(t3deeper_m, NULL, 0);
    gort_panic("%d", 111);
}

Test(go_recover, recover_test111)
{
    test111();
}

/* Large receiver: [2]string, 32 bytes (beyond the 16 bytes held inline). */
typedef struct t4 {
    const char *s[2];
    size_t len[2];
} t4;

static void t4_m(void *recv)
{
    const t4 *r = recv;
    cr_assert_null(r->s[0]);
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 12);
}

static void test12(void)
{
    t4 recv = {{NULL, NULL}, {0, 0}};
    GORT_FRAME;
    gort_defer_copy(t4_m, &recv, sizeof recv);
    gort_panic("%d", 12);
}

Test(go_recover, recover_test12)
{
    test12();
}

/* Enormous receiver: [8192]byte. */
typedef struct t5 {
    unsigned char b[8192];
} t5;

static void t5_m(void *recv)
{
    const t5 *r = recv;
    cr_assert_eq(r->b[8191], 0x55);
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 13);
}

static void test13(void)
{
    static t5 recv;
    memset(recv.b, 0x55, sizeof recv.b);
    GORT_FRAME;
    gort_defer_copy(t5_m, &recv, sizeof recv);
    gort_panic("%d", 13);
}

Test(go_recover, recover_test13)
{
    test13();
}

/* Enormous receiver and an enormous frame in the method. */
static volatile unsigned char global;

static void t6_m(void *recv)
{
    (void)recv;
    volatile unsigned char x[8192];
    memset((void *)x, 0, sizeof x);
    x[0] = 1;
    x[1] = 2;
    for (size_t i = 0; i < sizeof x; i++)
        global = (unsigned char)(global + x[i]);
    const gort_panic_info *v1 = double_recover();
    const gort_panic_info *v2 = gort_recover();
    const gort_panic_info *v3 = gort_recover();
    must_recover_body(v1, v2, v3, 14);
}

static void test14(void)
{
    static t5 recv;
    GORT_FRAME;
    gort_defer_copy(t6_m, &recv, sizeof recv);
    gort_panic("%d", 14);
}

Test(go_recover, recover_test14)
{
    test14();
}

/* ===================================================================
 * test16: a deferred trampoline calls a function that tries to recover
 * =================================================================== */

typedef struct trampoline_args {
    void (*f)(void);
} trampoline_args;

__attribute__((noinline)) static void reflect_func3(void)
{
    const gort_panic_info *v = gort_recover();
    cr_assert_null(v, "spurious recover %s", gort_panic_message(v));
    __asm__ volatile("" ::: "memory");
}

/* Go's reflectFunc2: calls the function it was given. */
static void reflect_func2(void *arg)
{
    const trampoline_args *t = arg;
    t->f();
}

static void test16(void)
{
    GORT_FRAME;
    DEFER_INT(must_recover, 16);
    trampoline_args t = {reflect_func3};
    gort_defer_copy(reflect_func2, &t, sizeof t);
    gort_panic("%d", 16);
}

Test(go_recover, recover_test16)
{
    test16();
}
