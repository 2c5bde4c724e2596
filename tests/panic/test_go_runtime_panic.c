/*
 * Ports of Go 1.19 runtime tests about panics that need no crash:
 *   - runtime/crash_test.go TestRecursivePanic .. TestRecursivePanic5 and
 *     TestPanicTraceback (testdata/testprog/deadlock.go).  In Go each ends
 *     with an unrecovered panic whose output is the test; here a frame at
 *     the top recovers that last panic, and the test checks what the
 *     program printed before it and which panic was left.  The output
 *     format itself belongs to the crash tests (tests/crash).
 *   - runtime/callers_test.go TestCallersAfterRecovery,
 *     TestCallersAbortedPanic, TestCallersAbortedPanic2,
 *     TestCallersDoublePanic: the panic and recover logic only (gort has
 *     no runtime.Callers).
 *   - runtime/stack_test.go TestPanicUseStack and TestPanicFar (without
 *     Go's stack walks and GC).
 *
 * fmt.Println(x) becomes appending "x\n" to a trail; a recover that
 * returns nil prints "<nil>" as Go does.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char out[512];

static void println_str(const char *s)
{
    size_t n = strlen(out);
    snprintf(out + n, sizeof out - n, "%s\n", s);
}

static void println_recover(const gort_panic_info *p)
{
    println_str(p != NULL ? gort_panic_message(p) : "<nil>");
}

/* Deferred: fmt.Println(recover()). */
static void print_recover(void *arg)
{
    (void)arg;
    println_recover(gort_recover());
}

/* The frame at the top that catches the panic Go leaves unrecovered. */
static char last_panic[128];

static void catch_last(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(last_panic, sizeof last_panic, "%s",
             p != NULL ? gort_panic_message(p) : "<nil>");
}

static void run_program(void (*program)(void))
{
    out[0] = '\0';
    last_panic[0] = '\0';
    GORT_FRAME;
    gort_defer(catch_last, NULL);
    program();
}

/* ===================================================================
 * RecursivePanic family
 * =================================================================== */

typedef struct big_arg {
    unsigned char x[8192];
} big_arg;

static void wrap_recovered(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        gort_panic("wrap: %s", gort_panic_message(p));
}

static void recursive_panic_inner(big_arg x)
{
    GORT_FRAME;
    gort_defer(wrap_recovered, NULL);
    cr_assert_eq(x.x[8191], 0);
    gort_panic("bad");
}

static void recursive_panic_middle(void)
{
    static big_arg x;
    GORT_FRAME;
    gort_defer(print_recover, NULL);
    recursive_panic_inner(x);
}

static void recursive_panic(void)
{
    recursive_panic_middle();
    gort_panic("again");
}

Test(go_runtime_panic, recursive_panic)
{
    run_program(recursive_panic);
    cr_assert_str_eq(out, "wrap: bad\n");
    cr_assert_str_eq(last_panic, "again");
}

/* Same, but the first recover and the second panic are separate defers,
 * which must run in the right order. */
static void panic_second(void *arg)
{
    (void)arg;
    gort_panic("second panic");
}

static void recursive_panic2_inner(big_arg x)
{
    (void)x;
    GORT_FRAME;
    gort_defer(panic_second, NULL);
    gort_defer(print_recover, NULL);
    gort_panic("first panic");
}

static void recursive_panic2_middle(void)
{
    static big_arg x;
    GORT_FRAME;
    gort_defer(print_recover, NULL);
    recursive_panic2_inner(x);
}

static void recursive_panic2(void)
{
    recursive_panic2_middle();
    gort_panic("third panic");
}

Test(go_runtime_panic, recursive_panic2)
{
    run_program(recursive_panic2);
    cr_assert_str_eq(out, "first panic\nsecond panic\n");
    cr_assert_str_eq(last_panic, "third panic");
}

/* The first panic finishes as a panic, although the second one, raised
 * and recovered inside a deferred call, was recovered. */
static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static void panic_second_and_recover_it(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(swallow, NULL);
    gort_panic("second panic");
}

static void recursive_panic3(void)
{
    GORT_FRAME;
    gort_defer(panic_second_and_recover_it, NULL);
    gort_panic("first panic");
}

Test(go_runtime_panic, recursive_panic3)
{
    run_program(recursive_panic3);
    cr_assert_str_eq(last_panic, "first panic");
}

/* One deferred call recovers the first panic and starts a second: the
 * second is what is left (Go prints the first as "[recovered]"). */
static void recover_then_panic_second(void *arg)
{
    (void)arg;
    gort_recover();
    gort_panic("second panic");
}

static void recursive_panic4(void)
{
    GORT_FRAME;
    gort_defer(recover_then_panic_second, NULL);
    gort_panic("first panic");
}

static const gort_panic_info *after_catch = (const gort_panic_info *)1;

static void recover_after_catch(void *arg)
{
    (void)arg;
    after_catch = gort_recover();
}

static void recursive_panic4_twice_caught(void)
{
    GORT_FRAME;
    gort_defer(recover_after_catch, NULL);
    run_program(recursive_panic4);
}

Test(go_runtime_panic, recursive_panic4)
{
    recursive_panic4_twice_caught();
    cr_assert_str_eq(last_panic, "second panic");
    cr_assert_null(after_catch, "the recovered first panic was still live");
}

/* A frame higher up (two) has a deferred call; in three, a deferred call
 * recovers while another is still to be run. */
static void nothing(void *arg)
{
    (void)arg;
}

static void print_recover_then_panic_second(void *arg)
{
    (void)arg;
    println_recover(gort_recover());
    gort_panic("second panic");
}

__attribute__((noinline)) static void three(void)
{
    GORT_FRAME;
    gort_defer(nothing, NULL);
    gort_defer(print_recover, NULL);
    gort_defer(print_recover_then_panic_second, NULL);
    gort_panic("first panic");
}

__attribute__((noinline)) static void two(void)
{
    GORT_FRAME;
    gort_defer(nothing, NULL);
    three();
}

__attribute__((noinline)) static void one(void)
{
    two();
}

static void recursive_panic5(void)
{
    one();
    gort_panic("third panic");
}

Test(go_runtime_panic, recursive_panic5)
{
    run_program(recursive_panic5);
    cr_assert_str_eq(out, "first panic\nsecond panic\n");
    cr_assert_str_eq(last_panic, "third panic");
}

/* PanicTraceback: each deferred call panics again; the newest is left. */
static void panic_pt1(void *arg)
{
    (void)arg;
    gort_panic("panic pt1");
}

static void panic_pt2(void *arg)
{
    (void)arg;
    gort_panic("panic pt2");
}

static void pt2(void)
{
    GORT_FRAME;
    gort_defer(panic_pt2, NULL);
    gort_panic("hello");
}

static void pt1(void)
{
    GORT_FRAME;
    gort_defer(panic_pt1, NULL);
    pt2();
}

Test(go_runtime_panic, panic_traceback)
{
    run_program(pt1);
    cr_assert_str_eq(last_panic, "panic pt1");
}

/* ===================================================================
 * callers_test.go, panic logic only
 * =================================================================== */

static const gort_panic_info *seen_a, *seen_b;

static void recover_into_a(void *arg)
{
    (void)arg;
    seen_a = gort_recover();
}

static void expect_panic2(void *arg)
{
    (void)arg;
    const gort_panic_info *r = gort_recover();
    cr_assert_not_null(r, "got nil, wanted panic2");
    cr_assert_str_eq(gort_panic_message(r), "panic2");
}

static void panic2(void *arg)
{
    (void)arg;
    gort_panic("panic2");
}

static void note_after_recovery(void *arg)
{
    (void)arg;
    println_str("after");
}

static void callers_aborted_panic(void)
{
    GORT_FRAME;
    gort_defer(recover_into_a, NULL);     /* no panic remaining to recover */
    gort_defer(note_after_recovery, NULL);
    gort_defer(expect_panic2, NULL);
    gort_defer(panic2, NULL); /* panic2 aborts and replaces panic1 */
    gort_panic("panic1");
}

Test(go_runtime_panic, callers_aborted_panic)
{
    seen_a = (const gort_panic_info *)1;
    out[0] = '\0';
    callers_aborted_panic();
    cr_assert_null(seen_a, "should be no panic remaining to recover");
    cr_assert_str_eq(out, "after\n");
}

static void aborted_panic2_innermost(void)
{
    GORT_FRAME;
    gort_defer(panic2, NULL); /* again, panic2 aborts and replaces panic1 */
    gort_panic("panic1");
}

static void aborted_panic2_inner(void)
{
    GORT_FRAME;
    gort_defer(expect_panic2, NULL);
    aborted_panic2_innermost();
}

static void callers_aborted_panic2(void)
{
    GORT_FRAME;
    gort_defer(recover_into_a, NULL);
    gort_defer(note_after_recovery, NULL);
    aborted_panic2_inner();
}

Test(go_runtime_panic, callers_aborted_panic2)
{
    seen_a = (const gort_panic_info *)1;
    out[0] = '\0';
    callers_aborted_panic2();
    cr_assert_null(seen_a, "should be no panic remaining to recover");
    cr_assert_str_eq(out, "after\n");
}

static char seen_b_msg[16];

static void double_panic_inner(void *arg)
{
    (void)arg;
    seen_b = gort_recover();
    if (seen_b != NULL)
        snprintf(seen_b_msg, sizeof seen_b_msg, "%s", gort_panic_message(seen_b));
}

static void double_panic_outer(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(double_panic_inner, NULL);
    cr_assert_not_null(gort_recover(), "did not panic");
    gort_panic("%d", 2);
}

static void callers_double_panic(void)
{
    GORT_FRAME;
    gort_defer(double_panic_outer, NULL);
    gort_panic("%d", 1);
}

Test(go_runtime_panic, callers_double_panic)
{
    seen_b = NULL;
    callers_double_panic();
    cr_assert_not_null(seen_b, "did not panic");
    cr_assert_str_eq(seen_b_msg, "2");
}

static void must_recover_something(void *arg)
{
    (void)arg;
    cr_assert_not_null(gort_recover(), "did not recover from panic");
}

static void callers_after_recovery(void)
{
    GORT_FRAME;
    gort_defer(note_after_recovery, NULL);
    gort_defer(must_recover_something, NULL);
    gort_panic("%d", 1);
}

Test(go_runtime_panic, callers_after_recovery)
{
    out[0] = '\0';
    callers_after_recovery();
    cr_assert_str_eq(out, "after\n");
}

/* ===================================================================
 * stack_test.go TestPanicUseStack, TestPanicFar
 * =================================================================== */

/* Uses about n KB of stack, then calls f. */
__attribute__((noinline)) static void use_stack_and_call(int n, void (*f)(void))
{
    if (n == 0) {
        f();
        return;
    }
    volatile unsigned char b[1024];
    b[99] = 0;
    use_stack_and_call(n - 1 + b[99], f);
}

static int use_stack_recovers;

static void panic_use_stack_level3_defer(void *arg)
{
    (void)arg;
    if (gort_recover() != NULL)
        use_stack_recovers++;
}

static void panic_use_stack_level3(void)
{
    GORT_FRAME;
    gort_defer(panic_use_stack_level3_defer, NULL);
    gort_panic("%d", 3);
}

static void panic_use_stack_level2_defer(void *arg)
{
    (void)arg;
    if (gort_recover() != NULL)
        use_stack_recovers++;
    use_stack_and_call(200, panic_use_stack_level3);
}

static void panic_use_stack_level2(void)
{
    GORT_FRAME;
    gort_defer(panic_use_stack_level2_defer, NULL);
    gort_panic("%d", 2);
}

static void panic_use_stack_level1_defer(void *arg)
{
    (void)arg;
    if (gort_recover() != NULL)
        use_stack_recovers++;
    use_stack_and_call(100, panic_use_stack_level2);
}

static void panic_use_stack(void)
{
    GORT_FRAME;
    gort_defer(panic_use_stack_level1_defer, NULL);
    gort_panic("%d", 1);
}

Test(go_runtime_panic, panic_use_stack)
{
    use_stack_recovers = 0;
    panic_use_stack();
    cr_assert_eq(use_stack_recovers, 3);
}

static void panic_far_panics(void)
{
    gort_panic("%d", 1);
}

static int far_ran;

static void far_after(void *arg)
{
    (void)arg;
    far_ran = 1;
}

static void panic_far(void)
{
    GORT_FRAME;
    gort_defer(far_after, NULL);
    gort_defer(swallow, NULL);
    use_stack_and_call(100, panic_far_panics);
}

Test(go_runtime_panic, panic_far)
{
    far_ran = 0;
    panic_far();
    cr_assert_eq(far_ran, 1);
}
