/*
 * recover in code compiled WITH sibling-call optimisation (GCC's default
 * at -O2), as a user who reads the README ("consider
 * -fno-optimize-sibling-calls", for tracebacks) may well compile it.
 * tests/panic/CMakeLists.txt builds this file with -foptimize-sibling-calls.
 *
 * Go's rule does not depend on how the compiler lays out calls:
 *   - `defer func() { recover() }()` recovers, even when the call to
 *     recover is the last thing the deferred function does (a tail call
 *     at -O2: the deferred function's frame is replaced by gort_recover's);
 *   - a helper `func h() any { return recover() }` called by the deferred
 *     function never recovers (test/recover.go doubleRecover), even when
 *     its `return recover()` is compiled as a tail call.
 *
 * Under TSan the instrumentation keeps every frame, so these tests pass
 * there without exercising the tail call.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdint.h>

#define UNSET ((const gort_panic_info *)(uintptr_t)1)

static int recovered_result;

/* The idiomatic "swallow the panic": at -O2 its body is `jmp gort_recover`. */
static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static int panics_into_swallow(void)
{
    GORT_FRAME_RETURN(1);
    gort_defer(swallow, NULL);
    gort_panic("swallowed");
}

Test(recover_sibcall, succeeds_when_the_deferred_function_tail_calls_it)
{
    /* Before the fix, the panic is not recovered and the process exits
     * with status 2 ("panic: swallowed"): Criterion reports a crash. */
    recovered_result = panics_into_swallow();
    cr_assert_eq(recovered_result, 1);
}

/* A helper whose `return gort_recover();` becomes `jmp gort_recover`:
 * gort_recover then returns straight into the deferred function, as if
 * that function had called it; Go's doubleRecover must still get nil.
 * (Documented deviation, src/panic.c: a deferred function that itself
 * tail-calls such a helper cannot be told from a direct call.) */
__attribute__((noinline)) static const gort_panic_info *helper_tail(void)
{
    return gort_recover();
}

static const gort_panic_info *by_helper = UNSET;
static const gort_panic_info *direct = UNSET;

static void recover_via_tail_helper(void *arg)
{
    (void)arg;
    by_helper = helper_tail();
    direct = gort_recover();
    __asm__ volatile("" ::: "memory"); /* keep the direct call a real call */
}

static int panics_into_tail_helper(void)
{
    GORT_FRAME_RETURN(5);
    gort_defer(recover_via_tail_helper, NULL);
    gort_panic("helper");
}

Test(recover_sibcall, returns_null_in_a_helper_that_tail_calls_it)
{
    cr_assert_eq(panics_into_tail_helper(), 5);
    cr_assert_null(by_helper, "a helper of the deferred call recovered the panic");
    cr_assert_not_null(direct);
}
