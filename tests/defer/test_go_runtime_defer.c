/*
 * Port of Go 1.19 runtime/defer_test.go, test by test, rewritten in C,
 * plus runtime/stack_test.go TestDeferPtrs.
 *
 * Mapping:
 *   - panic("s") is gort_panic("s"), panic(n) is gort_panic("%d", n), and
 *     `recover() != v` compares the recovered message;
 *   - t.Fatal is a Criterion failure;
 *   - a closure is a static function; captured variables are passed by
 *     pointer; deferred arguments are copied with gort_defer_copy;
 *   - Go's "non-open-coded" (heap or stack allocated) defers, forced with
 *     a loop, are gort's pooled records: the frame first registers eight
 *     calls so that the ones under test come from the per-thread pool.
 *
 * Not ported: TestDeferKeepAlive (mfinal_test.go, finalizers), and the
 * stack-copy mechanics that C does not have (growStackIter is kept as
 * plain recursion).  TestDeferLiveness needs a GC.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool msg_is(const gort_panic_info *p, const char *want)
{
    return p != NULL && strcmp(gort_panic_message(p), want) == 0;
}

static void nothing(void *arg)
{
    (void)arg;
}

/* Eight calls that fill the frame's inline records. */
#define FILL_INLINE_RECORDS()                                                  \
    do {                                                                       \
        for (int fill_ = 0; fill_ < 8; fill_++)                                \
            gort_defer(nothing, NULL);                                         \
    } while (0)

static int glob = 3;

/* ===================================================================
 * TestUnconditionalPanic
 * =================================================================== */

static void expect_unconditional(void *arg)
{
    (void)arg;
    cr_assert(msg_is(gort_recover(), "testUnconditional"),
              "expected unconditional panic");
}

static void unconditional_panic(void)
{
    GORT_FRAME;
    gort_defer(expect_unconditional, NULL);
    gort_panic("testUnconditional");
}

Test(go_runtime_defer, unconditional_panic)
{
    unconditional_panic();
}

/* ===================================================================
 * TestOpenAndNonOpenDefers, TestNonOpenAndOpenDefers
 * =================================================================== */

static void expect_non_open(void *arg)
{
    cr_assert_eq(*(const int *)arg, 3);
    cr_assert(msg_is(gort_recover(), "testNonOpenDefer"),
              "expected testNonOpen panic");
}

static void expect_open(void *arg)
{
    cr_assert_eq(*(const int *)arg, 4);
    cr_assert(msg_is(gort_recover(), "testOpenDefer"), "expected testOpen panic");
}

__attribute__((noinline)) static void test_open(int arg)
{
    GORT_FRAME;
    int n = 4;
    gort_defer_copy(expect_open, &n, sizeof n);
    if (arg > 2)
        gort_panic("testOpenDefer");
}

static void open_and_non_open_defers(void)
{
    GORT_FRAME;
    FILL_INLINE_RECORDS();
    for (;;) {
        int n = 3; /* non-open defer because in a loop */
        gort_defer_copy(expect_non_open, &n, sizeof n);
        if (glob > 2)
            break;
    }
    test_open(47);
    gort_panic("testNonOpenDefer");
}

Test(go_runtime_defer, open_and_non_open_defers)
{
    open_and_non_open_defers();
}

static void non_open_and_open_defers(void)
{
    GORT_FRAME;
    test_open(47);
    FILL_INLINE_RECORDS();
    for (;;) {
        int n = 3;
        gort_defer_copy(expect_non_open, &n, sizeof n);
        if (glob > 2)
            break;
    }
    gort_panic("testNonOpenDefer");
}

Test(go_runtime_defer, non_open_and_open_defers)
{
    non_open_and_open_defers();
}

/* ===================================================================
 * TestConditionalDefers
 * =================================================================== */

static int list[10];
static int nlist;

static void doappend(void *arg)
{
    list[nlist++] = *(const int *)arg;
}

static void expect_conditional(void *arg)
{
    (void)arg;
    cr_assert(msg_is(gort_recover(), "testConditional"), "expected panic");
    int want[] = {4, 2, 1};
    cr_assert_eq(nlist, 3, "wanted [4 2 1], got %d items", nlist);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(list[i], want[i], "wanted [4 2 1], got [%d %d %d]", list[0],
                     list[1], list[2]);
}

static void test_conditional_defers(int n)
{
    GORT_FRAME;
    int v = 1;
    gort_defer_copy(doappend, &v, sizeof v);
    if (n > 5) {
        v = 2;
        gort_defer_copy(doappend, &v, sizeof v);
        if (n > 8) {
            v = 3;
            gort_defer_copy(doappend, &v, sizeof v);
        } else {
            v = 4;
            gort_defer_copy(doappend, &v, sizeof v);
        }
    }
    gort_panic("testConditional");
}

static void conditional_defers(void)
{
    nlist = 0;
    GORT_FRAME;
    gort_defer(expect_conditional, NULL);
    test_conditional_defers(8);
}

Test(go_runtime_defer, conditional_defers)
{
    conditional_defers();
}

/* ===================================================================
 * TestDisappearingDefer: a defer removed by constant propagation and
 * dead-code elimination is no compile-time or run-time error.
 * =================================================================== */

static void should_not_run(void *arg)
{
    (void)arg;
    cr_assert_fail("Defer shouldn't run");
}

#define GOOS "linux"

static void disappearing_defer(void)
{
    GORT_FRAME;
    if (strcmp(GOOS, "invalidOS") == 0)
        gort_defer(should_not_run, NULL);
}

Test(go_runtime_defer, disappearing_defer)
{
    disappearing_defer();
}

/* ===================================================================
 * TestAbortedPanic: a panic P2 raised by a deferred call run by P1, and
 * not recovered inside that call, aborts P1; recovering P2 leaves nothing
 * to recover.
 * =================================================================== */

static void expect_nil_recover(void *arg)
{
    (void)arg;
    const gort_panic_info *r = gort_recover();
    cr_assert_null(r, "wanted nil recover, got %s", gort_panic_message(r));
}

static void expect_panic2(void *arg)
{
    (void)arg;
    const gort_panic_info *r = gort_recover();
    cr_assert(msg_is(r, "panic2"), "wanted panic2, got %s",
              r ? gort_panic_message(r) : "nil");
}

static void panic2(void *arg)
{
    (void)arg;
    gort_panic("panic2");
}

static void aborted_panic(void)
{
    GORT_FRAME;
    gort_defer(expect_nil_recover, NULL);
    gort_defer(expect_panic2, NULL);
    gort_defer(panic2, NULL);
    gort_panic("panic1");
}

Test(go_runtime_defer, aborted_panic)
{
    aborted_panic();
}

/* ===================================================================
 * TestRecoverMatching: recover does not succeed in a deferred call that
 * was registered by a deferred call, even though it is called directly
 * by a deferred function: that function was not called by the panic.
 * =================================================================== */

static void expect_panic1(void *arg)
{
    (void)arg;
    const gort_panic_info *r = gort_recover();
    cr_assert(msg_is(r, "panic1"), "wanted panic1, got %s",
              r ? gort_panic_message(r) : "nil");
}

static void defers_a_recover(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(expect_nil_recover, NULL);
}

static void recover_matching(void)
{
    GORT_FRAME;
    gort_defer(expect_panic1, NULL);
    gort_defer(defers_a_recover, NULL);
    gort_panic("panic1");
}

Test(go_runtime_defer, recover_matching)
{
    recover_matching();
}

/* ===================================================================
 * TestNonSSAableArgs: big arguments are evaluated once, at the defer
 * statement.
 * =================================================================== */

typedef struct non_ssaable {
    unsigned char b[128];
} non_ssaable;

typedef struct big_struct {
    int64_t x, y, z, w, p, q;
} big_struct;

typedef struct contains_big_struct {
    big_struct element;
} contains_big_struct;

static int globint1, globint2, globint3;

static non_ssaable mk_non_ssaable(void)
{
    globint1++;
    return (non_ssaable){{0, 0, 0, 0, 5}};
}

__attribute__((noinline)) static int64_t sideeffect(int64_t n)
{
    globint2++;
    return n;
}

static contains_big_struct sideeffect2(contains_big_struct in)
{
    globint3++;
    return in;
}

typedef struct saves {
    unsigned char save1;
    int64_t save2, save3, save4;
} saves;

static void check_saves(void *arg)
{
    const saves *s = arg;
    cr_assert_eq(globint1, 1, "globint1:  wanted: 1, got %d", globint1);
    cr_assert_eq(s->save1, 5, "save1:  wanted: 5, got %d", s->save1);
    cr_assert_eq(globint2, 1, "globint2:  wanted: 1, got %d", globint2);
    cr_assert_eq(s->save2, 2, "save2:  wanted: 2, got %ld", (long)s->save2);
    cr_assert_eq(s->save3, 4, "save3:  wanted: 4, got %ld", (long)s->save3);
    cr_assert_eq(globint3, 1, "globint3:  wanted: 1, got %d", globint3);
    cr_assert_eq(s->save4, 4, "save4:  wanted: 4, got %ld", (long)s->save4);
}

typedef struct save1_args {
    saves *s;
    non_ssaable n;
} save1_args;

typedef struct bigs_args {
    saves *s;
    big_struct b;
} bigs_args;

static void do_save1(void *arg)
{
    const save1_args *a = arg;
    a->s->save1 = a->n.b[4];
}

static void do_save2(void *arg)
{
    const bigs_args *a = arg;
    a->s->save2 = a->b.y;
}

static void do_save3(void *arg)
{
    const bigs_args *a = arg;
    a->s->save3 = a->b.z;
}

static void do_save4(void *arg)
{
    const bigs_args *a = arg;
    a->s->save4 = a->b.z;
}

static void non_ssaable_args(saves *s)
{
    globint1 = globint2 = globint3 = 0;
    GORT_FRAME;
    gort_defer(check_saves, s);

    /* a function returning a non-SSAable argument */
    save1_args a1 = {s, mk_non_ssaable()};
    gort_defer_copy(do_save1, &a1, sizeof a1);
    /* a composite literal that is not SSAable */
    bigs_args a2 = {s, {1, 2, 3, 4, 5, sideeffect(6)}};
    gort_defer_copy(do_save2, &a2, sizeof a2);
    /* a struct field reference that is not SSAable */
    contains_big_struct foo = {{0}};
    foo.element.z = 4;
    bigs_args a3 = {s, foo.element};
    gort_defer_copy(do_save3, &a3, sizeof a3);
    bigs_args a4 = {s, sideeffect2(foo).element};
    gort_defer_copy(do_save4, &a4, sizeof a4);
    /* clobber the originals: only the copies count */
    memset(&a1, 0, sizeof a1);
    memset(&a2, 0, sizeof a2);
    memset(&a3, 0, sizeof a3);
    memset(&a4, 0, sizeof a4);
}

Test(go_runtime_defer, non_ssaable_args)
{
    saves s = {0, 0, 0, 0};
    non_ssaable_args(&s);
}

/* ===================================================================
 * TestDeferForFuncWithNoExit: the function ends with an infinite loop;
 * its deferred call still sees the latest value of a captured local.
 * =================================================================== */

__attribute__((noinline)) static void do_panic(void)
{
    gort_panic("Test panic");
}

__attribute__((noinline)) static void grow_stack_iter(int *p, int n)
{
    if (n == 0) {
        *p = n + 1;
        return;
    }
    volatile unsigned char pad[64];
    pad[0] = (unsigned char)n;
    grow_stack_iter(p, n - 1 + (pad[0] != (unsigned char)n));
}

static void check_cond(void *arg)
{
    int cond = *(const int *)arg;
    cr_assert_eq(cond, 2, "cond: wanted 2, got %d", cond);
    cr_assert(msg_is(gort_recover(), "Test panic"), "Didn't find expected panic");
}

static void defer_for_func_with_no_exit(void)
{
    int cond = 1;
    GORT_FRAME;
    gort_defer(check_cond, &cond);
    int x = 0;
    grow_stack_iter(&x, 1000);
    cond = 2;
    do_panic();
    /* This function has no exit: it ends with an infinite loop. */
    for (;;) {
    }
}

Test(go_runtime_defer, defer_for_func_with_no_exit)
{
    defer_for_func_with_no_exit();
}

/* ===================================================================
 * TestDeferWithRepeatedRepanics (issue 37664): a recursive interpreter
 * recovers and re-panics until the level that handles the panic; then
 * no stale defer record may be left on the chain.  Even levels re-panic
 * with gort_repanic, odd ones with gort_panic("%s", message).
 * =================================================================== */

static int handled_at;

static void interpreter_defer(void *arg)
{
    int level = *(const int *)arg;
    const gort_panic_info *e = gort_recover();
    if (e == NULL)
        return;
    handled_at = level;
    if (level != atoi(gort_panic_message(e))) {
        if (level % 2 == 0)
            gort_repanic(e);
        gort_panic("%s", gort_panic_message(e));
    }
}

static void interpreter(int level, int maxlevel, int rec)
{
    GORT_FRAME;
    gort_defer_copy(interpreter_defer, &level, sizeof level);
    if (level + 1 < maxlevel)
        interpreter(level + 1, maxlevel, rec);
    else
        gort_panic("%d", rec);
}

static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static volatile uint32_t save_int;
static volatile bool never;

__attribute__((noinline)) static void recurse_fn(int level, int maxlevel)
{
    if (never)
        return; /* a normal exit GCC cannot rule out: no recursion warning */
    volatile uint32_t a[40];
    for (int i = 0; i < 40; i++)
        a[i] = 0xffffffff;
    if (level + 1 < maxlevel) {
        save_int = a[4]; /* make sure a is referenced */
        recurse_fn(level + 1, maxlevel);
    } else {
        gort_panic("recurseFn panic");
    }
}

static void recurse_fn_panic_rec(int level, int maxlevel)
{
    GORT_FRAME;
    gort_defer(swallow, NULL);
    recurse_fn(level, maxlevel);
}

Test(go_runtime_defer, defer_with_repeated_repanics)
{
    interpreter(0, 6, 2);
    cr_assert_eq(handled_at, 2);
    recurse_fn_panic_rec(0, 10);
    interpreter(0, 5, 1);
    cr_assert_eq(handled_at, 1);
    recurse_fn_panic_rec(0, 10);
    interpreter(0, 6, 3);
    cr_assert_eq(handled_at, 3);
    recurse_fn_panic_rec(0, 10);
}

/* ===================================================================
 * TestIssue37688: a mix of pooled and inline records, a deferred call
 * with a big argument, a panic recovered inside ff1, then a deep stack.
 * =================================================================== */

typedef struct foo {
    int unused;
} foo;

static int method_calls;

__attribute__((noinline)) static void method1(void *f)
{
    (void)f;
    method_calls++;
}

__attribute__((noinline)) static void method2(void *f)
{
    (void)f;
    method_calls++;
}

static struct {
    int64_t a, b, c, d, e, f, g, h, i;
} globstruct;

typedef struct ff1_args {
    foo *ap;
    int64_t a, b, c, d, e, f, g, h, i;
} ff1_args;

static void ff1_deferred(void *arg)
{
    const ff1_args *x = arg;
    if (gort_recover() != NULL) {
    }
    globstruct.a = x->a;
    globstruct.b = x->b;
    globstruct.c = x->c;
    globstruct.d = x->d;
    globstruct.e = x->e;
    globstruct.f = x->f;
    globstruct.g = x->g;
    globstruct.h = x->h;
}

static void ff1(foo *ap, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
                int64_t f, int64_t g, int64_t h, int64_t i)
{
    GORT_FRAME;
    gort_defer(method1, ap);
    /* a deferred call with a large set of arguments (a heap copy) */
    ff1_args args = {ap, a, b, c, d, e, f, g, h, i};
    gort_defer_copy(ff1_deferred, &args, sizeof args);
    gort_panic("ff1 panic");
}

__attribute__((noinline)) static void rec1(int max)
{
    volatile int pad = max;
    if (pad > 0)
        rec1(max - 1);
}

static void g2(void)
{
    foo a;
    foo *ap = &a;
    GORT_FRAME;
    FILL_INLINE_RECORDS(); /* the next defers come from the pool */
    for (int i = 0; i < 1; i++)
        gort_defer(method1, ap);
    gort_defer(method2, ap);
    gort_defer(method1, ap);
    ff1(ap, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    rec1(2000);
}

static void g3(void)
{
    g2(); /* an extra function frame */
}

Test(go_runtime_defer, issue37688)
{
    method_calls = 0;
    for (int j = 0; j < 10; j++) {
        g2();
        g3();
    }
    cr_assert_eq(method_calls, 20 * 4);
    cr_assert_eq(globstruct.a, 1);
    cr_assert_eq(globstruct.h, 8);
}

/* ===================================================================
 * TestIssue43921, TestIssue43920, TestIssue43941
 * =================================================================== */

static void expect_int(const gort_panic_info *r, int n)
{
    char want[16];
    snprintf(want, sizeof want, "%d", n);
    cr_assert(msg_is(r, want), "have %s, want %d", r ? gort_panic_message(r) : "nil",
              n);
}

static void expect_1(void *arg)
{
    (void)arg;
    expect_int(gort_recover(), 1);
}

static void expect_3(void *arg)
{
    (void)arg;
    expect_int(gort_recover(), 3);
}

static void expect_4(void *arg)
{
    (void)arg;
    expect_int(gort_recover(), 4);
}

static void expect_5(void *arg)
{
    (void)arg;
    expect_int(gort_recover(), 5);
}

/* `defer panic(n)` */
static void panic_int(void *arg)
{
    gort_panic("%d", *(const int *)arg);
}

#define DEFER_PANIC(n)                                                         \
    do {                                                                       \
        int defer_panic_ = (n);                                                \
        gort_defer_copy(panic_int, &defer_panic_, sizeof defer_panic_);        \
    } while (0)

static void issue43921_deferred(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(expect_4, NULL);
    gort_panic("%d", 4);
}

static void issue43921_inner(void)
{
    GORT_FRAME;
    /* prevent open-coded defers */
    FILL_INLINE_RECORDS();
    for (;;) {
        gort_defer(nothing, NULL);
        break;
    }
    gort_defer(issue43921_deferred, NULL);
    gort_panic("%d", 1);
}

static void issue43921(void)
{
    GORT_FRAME;
    gort_defer(expect_1, NULL);
    issue43921_inner();
}

Test(go_runtime_defer, issue43921)
{
    issue43921();
}

typedef struct step_args {
    int *steps;
    int want;
} step_args;

static void step(int *steps, int want)
{
    ++*steps;
    cr_assert_eq(*steps, want, "have %d, want %d", *steps, want);
}

static void deferred_step(void *arg)
{
    const step_args *s = arg;
    step(s->steps, s->want);
}

#define DEFER_STEP(steps, n)                                                   \
    do {                                                                       \
        step_args defer_step_ = {(steps), (n)};                                \
        gort_defer_copy(deferred_step, &defer_step_, sizeof defer_step_);      \
    } while (0)

static void panic_4(void)
{
    gort_panic("%d", 4);
}

static void issue43920_b1(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(expect_5, NULL);
    DEFER_PANIC(5);
    panic_4();
}

static void issue43920_b(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(issue43920_b1, NULL);
    gort_defer(expect_3, NULL);
    DEFER_PANIC(3);
}

static void issue43920_inner(int *steps)
{
    GORT_FRAME;
    DEFER_STEP(steps, 1);
    gort_panic("%d", 1);
}

static void issue43920(int *steps)
{
    GORT_FRAME;
    gort_defer(expect_1, NULL);
    gort_defer(issue43920_b, NULL);
    issue43920_inner(steps);
}

Test(go_runtime_defer, issue43920)
{
    int steps = 0;
    issue43920(&steps);
    cr_assert_eq(steps, 1);
}

static void issue43941_f2a(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(expect_3, NULL);
    DEFER_PANIC(3);
    gort_panic("%d", 2);
}

static void issue43941_f2(void)
{
    GORT_FRAME;
    gort_defer(issue43941_f2a, NULL);
    gort_defer(expect_1, NULL);
    DEFER_PANIC(1);
}

static void issue43941_f1(int *steps)
{
    GORT_FRAME;
    issue43941_f2();
    gort_defer(nothing, NULL);
    gort_defer(nothing, NULL);
    DEFER_STEP(steps, 10);
    DEFER_STEP(steps, 9);
    step(steps, 8);
}

static void issue43941_f3_inner(int *steps)
{
    GORT_FRAME;
    DEFER_STEP(steps, 11);
    gort_panic("%d", 4);
}

static void issue43941_f3(int *steps)
{
    GORT_FRAME;
    DEFER_STEP(steps, 13);
    DEFER_STEP(steps, 12);
    issue43941_f3_inner(steps);

    /* Code below isn't executed. */
    gort_defer(nothing, NULL);
    DEFER_PANIC(-1);
    DEFER_STEP(steps, -1);
    DEFER_STEP(steps, -1);
    gort_defer(nothing, NULL);
}

static void issue43941_last(void *arg)
{
    step(arg, 14);
    expect_int(gort_recover(), 4);
}

static void issue43941(int *steps)
{
    GORT_FRAME;
    gort_defer(issue43941_last, steps);
    issue43941_f1(steps);
    issue43941_f3(steps);
}

Test(go_runtime_defer, issue43941)
{
    int steps = 7;
    issue43941(&steps);
    cr_assert_eq(steps, 14);
}

/* ===================================================================
 * stack_test.go TestDeferPtrs: a deferred call's pointer into the
 * stack stays right while the stack is used deeply.
 * =================================================================== */

typedef struct set_args {
    int *p;
    int x;
} set_args;

static void set(void *arg)
{
    const set_args *a = arg;
    *a->p = a->x;
}

static void check_y(void *arg)
{
    cr_assert_eq(*(const int *)arg, 42,
                 "defer's stack references were not adjusted appropriately");
}

static void defer_ptrs(void)
{
    int y = 0;
    GORT_FRAME;
    gort_defer(check_y, &y);
    set_args a = {&y, 42};
    gort_defer_copy(set, &a, sizeof a);
    rec1(1000); /* growStack */
}

Test(go_runtime_defer, defer_ptrs)
{
    defer_ptrs();
}
