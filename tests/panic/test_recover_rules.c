/*
 * The rules of recover, panic values and re-panics (Go spec "Handling
 * panics"; Go 1.19 runtime/panic.go gorecover and gopanic).
 *
 * Every deferred function here is called through a function pointer by
 * the defer machinery.  Helpers that call gort_recover() as a sub-call
 * are noinline: gort decides "called directly by the deferred function"
 * from the caller's stack frame, so a helper inlined into the deferred
 * function would look like a direct call.  Go decides that at compile
 * time and is not fooled; in C the helper must stay a real call.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char trail[256];

static void trail_reset(void)
{
    trail[0] = '\0';
}

/* Deferred: appends its string argument to the trail. */
static void note(void *arg)
{
    size_t n = strlen(trail);
    snprintf(trail + n, sizeof trail - n, "%s", (const char *)arg);
}

/* A pointer value no recover ever returns, to see "not called". */
#define UNSET ((const gort_panic_info *)(uintptr_t)1)

/* ===================================================================
 * When recover returns NULL
 * =================================================================== */

static const gort_panic_info *seen_on_return = UNSET;

static void recover_on_return(void *arg)
{
    (void)arg;
    seen_on_return = gort_recover();
}

static void returns_normally(void)
{
    GORT_FRAME;
    gort_defer(recover_on_return, NULL);
}

Test(recover, returns_null_in_a_deferred_call_run_by_a_normal_return)
{
    returns_normally();
    cr_assert_null(seen_on_return);
}

/* Not a tail call, and never inlined: see the comment at the top. */
__attribute__((noinline)) static const gort_panic_info *recover_in_helper(void)
{
    const gort_panic_info *p = gort_recover();
    __asm__ volatile("" ::: "memory");
    return p;
}

static const gort_panic_info *seen_by_helper = UNSET;
static const gort_panic_info *seen_directly = UNSET;

static void recover_via_helper_then_directly(void *arg)
{
    (void)arg;
    seen_by_helper = recover_in_helper();
    seen_directly = gort_recover();
    if (seen_directly != NULL)
        snprintf(trail, sizeof trail, "%s", gort_panic_message(seen_directly));
}

static void panics_with_helper_recover(void)
{
    GORT_FRAME;
    gort_defer(recover_via_helper_then_directly, NULL);
    gort_panic("direct only");
}

/* Deviation from Go, documented: if the compiler inlined
 * recover_in_helper() into the deferred function, C could not tell the
 * call apart from a direct one and the first recover would succeed. */
Test(recover, returns_null_when_called_by_a_helper_of_the_deferred_function)
{
    trail_reset();
    panics_with_helper_recover();
    cr_assert_null(seen_by_helper, "a sub-call of the deferred call recovered");
    cr_assert_not_null(seen_directly, "the panic did not survive the failed recover");
    cr_assert_str_eq(trail, "direct only");
}

static const gort_panic_info *seen_by_inner = UNSET;
static const gort_panic_info *seen_by_outer = UNSET;

static void inner_recover(void *arg)
{
    (void)arg;
    seen_by_inner = gort_recover();
}

static void frame_inside_deferred_call(void)
{
    GORT_FRAME;
    gort_defer(inner_recover, NULL);
}

/* Run by the panic; a frame it calls returns normally and runs its
 * deferred call, which is not run by the panic. */
static void deferred_calls_a_frame(void *arg)
{
    (void)arg;
    frame_inside_deferred_call();
}

/* Run by the panic; its own deferred call runs when it returns. */
static void deferred_defers(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(inner_recover, NULL);
}

static char outer_msg[64];

/* The value is only valid during this call: keep a copy of its text. */
static void outer_recover(void *arg)
{
    (void)arg;
    seen_by_outer = gort_recover();
    snprintf(outer_msg, sizeof outer_msg, "%s",
             seen_by_outer != NULL ? gort_panic_message(seen_by_outer) : "nil");
}

static void panics_through(void (*deferred)(void *))
{
    GORT_FRAME;
    gort_defer(outer_recover, NULL);
    gort_defer(deferred, NULL);
    gort_panic("still panicking");
}

Test(recover, returns_null_in_a_normal_return_inside_a_deferred_call)
{
    seen_by_inner = seen_by_outer = UNSET;
    panics_through(deferred_calls_a_frame);
    cr_assert_null(seen_by_inner);
    cr_assert_not_null(seen_by_outer);
    cr_assert_str_eq(outer_msg, "still panicking");

    seen_by_inner = seen_by_outer = UNSET;
    panics_through(deferred_defers);
    cr_assert_null(seen_by_inner);
    cr_assert_not_null(seen_by_outer);
}

static const gort_panic_info *second = UNSET;

static void recover_twice(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    cr_assert_not_null(p);
    second = gort_recover();
}

static void panics_recover_twice(void)
{
    GORT_FRAME;
    gort_defer(recover_twice, NULL);
    gort_panic("once");
}

Test(recover, returns_null_the_second_time_in_one_deferred_call)
{
    panics_recover_twice();
    cr_assert_null(second);
}

/* ===================================================================
 * What recovering does to the frame
 * =================================================================== */

/* Locals read after a recovery are volatile (defer.h: clang honours
 * nothing else), so deferred calls write them through volatile lvalues. */
static void recover_and_set(void *arg)
{
    if (gort_recover() != NULL)
        *(volatile int *)arg = 99;
}

static int returns_expression(void)
{
    volatile int result = 5;
    GORT_FRAME_RETURN(result * 2);
    gort_defer(recover_and_set, (void *)&result);
    result = 6;
    gort_panic("x");
}

Test(recover, makes_the_frame_return_its_expression_as_changed_by_the_deferred_call)
{
    cr_assert_eq(returns_expression(), 198);
}

static void set_seven(void *arg)
{
    *(volatile int *)arg = 7;
}

static int older_call_sets_result(void)
{
    volatile int x = 0;
    GORT_FRAME_RETURN(x);
    gort_defer(set_seven, (void *)&x); /* runs after the recovery */
    gort_defer(recover_and_set, (void *)&x);
    gort_panic("named result");
}

/* Go:  func f() (x int) { defer func() { x = 7 }(); defer func() {
 * if recover() != nil { x = 5 } }(); panic(1) }  returns 7. */
Test(recover, lets_calls_run_after_the_recovery_change_the_result_like_go_named_results)
{
    cr_assert_eq(older_call_sets_result(), 7);
}

static int after_return;

static int recovers_without_change(void)
{
    volatile int result = 1;
    GORT_FRAME_RETURN(result);
    gort_defer(outer_recover, NULL);
    result = 2; /* volatile: the value after GORT_FRAME counts */
    gort_panic("x");
}

Test(recover, returns_the_latest_value_of_a_volatile_local)
{
    cr_assert_eq(recovers_without_change(), 2);
}

static int code_after_panic;

static void panics_in_the_middle(void)
{
    GORT_FRAME;
    gort_defer(note, "a");
    gort_defer(note, "b");
    gort_defer(outer_recover, NULL);
    gort_defer(note, "d");
    gort_panic("middle");
    code_after_panic = 1;
}

Test(recover, runs_the_remaining_deferred_calls_of_the_frame_after_recovery)
{
    trail_reset();
    panics_in_the_middle();
    after_return = 1;
    cr_assert_str_eq(trail, "dba");
    cr_assert_eq(code_after_panic, 0);
    cr_assert_eq(after_return, 1);
}

static void deeper_panics(int depth)
{
    GORT_FRAME;
    gort_defer(note, depth == 0 ? "0" : depth == 1 ? "1" : "2");
    if (depth == 0)
        gort_panic("deep");
    deeper_panics(depth - 1);
    note((void *)"never");
}

static int recovers_for_callees(void)
{
    GORT_FRAME_RETURN(-7);
    gort_defer(note, "r");
    gort_defer(outer_recover, NULL);
    deeper_panics(2);
    note((void *)"never");
    return 0;
}

Test(recover, unwinds_through_frames_without_recover_to_the_recovering_frame)
{
    trail_reset();
    seen_by_outer = UNSET;
    cr_assert_eq(recovers_for_callees(), -7);
    cr_assert_str_eq(trail, "012r");
    cr_assert_str_eq(outer_msg, "deep");
}

/* A frame with no deferred call between the panic and the recovering
 * frame. */
static void no_defers_here(void)
{
    GORT_FRAME;
    gort_panic("through an empty frame");
}

static int recovers_through_empty_frame(void)
{
    GORT_FRAME_RETURN(3);
    gort_defer(outer_recover, NULL);
    no_defers_here();
    return 0;
}

Test(recover, unwinds_through_a_frame_that_registered_nothing)
{
    cr_assert_eq(recovers_through_empty_frame(), 3);
}

/* Go's try() of test/recover.go: the call that panics is itself deferred
 * and runs on the normal return path of the recovering frame. */
static void panics_when_deferred(void *arg)
{
    (void)arg;
    gort_panic("late");
}

static int panic_on_the_return_path(void)
{
    volatile int result = 0;
    GORT_FRAME_RETURN(result);
    gort_defer(recover_and_set, (void *)&result);
    gort_defer(panics_when_deferred, NULL);
    return 1;
}

Test(recover, recovers_a_panic_raised_on_the_normal_return_path)
{
    cr_assert_eq(panic_on_the_return_path(), 99);
}

Test(recover, leaves_the_goroutine_ready_for_the_next_panic)
{
    for (int i = 0; i < 1000; i++) {
        trail_reset();
        panics_in_the_middle();
        cr_assert_str_eq(trail, "dba");
    }
    cr_assert_null(gort_recover());
}

/* Recovering from a record of the per-thread pool (beyond 8 inline) and
 * from a copied-argument record. */
static void recover_copied(void *arg)
{
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        snprintf(trail, sizeof trail, "%s:%s", (const char *)arg,
                 gort_panic_message(p));
}

static void recover_from_pooled_and_copied(size_t argsize)
{
    char buf[64] = "copied";
    GORT_FRAME;
    for (int i = 0; i < 9; i++)
        gort_defer(note, "");
    gort_defer_copy(recover_copied, buf, argsize);
    memset(buf, 0, sizeof buf);
    gort_panic("pooled");
}

Test(recover, works_from_a_pooled_record_with_a_copied_argument)
{
    trail_reset();
    recover_from_pooled_and_copied(16);
    cr_assert_str_eq(trail, "copied:pooled");
    trail_reset();
    recover_from_pooled_and_copied(64);
    cr_assert_str_eq(trail, "copied:pooled");
}

/* ===================================================================
 * Nested panics
 * =================================================================== */

static char nested_seen[64];

static void recover_into_nested_seen(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(nested_seen, sizeof nested_seen, "%s",
             p != NULL ? gort_panic_message(p) : "nil");
}

/* Run by the first panic: raises a second one and recovers it itself. */
static void panics_and_recovers_inside(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(recover_into_nested_seen, NULL);
    gort_panic("second");
}

static char outer_seen[64];

static void recover_into_outer_seen(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(outer_seen, sizeof outer_seen, "%s",
             p != NULL ? gort_panic_message(p) : "nil");
}

static void nested_recovered_inside(void)
{
    GORT_FRAME;
    gort_defer(recover_into_outer_seen, NULL);
    gort_defer(panics_and_recovers_inside, NULL);
    gort_panic("first");
}

Test(recover, recovers_a_nested_panic_inside_the_deferred_call_and_the_first_goes_on)
{
    nested_recovered_inside();
    cr_assert_str_eq(nested_seen, "second");
    cr_assert_str_eq(outer_seen, "first");
}

static void panics_again(void *arg)
{
    (void)arg;
    gort_panic("replacement");
}

static char oldest_seen[64];

static void recover_into_oldest_seen(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(oldest_seen, sizeof oldest_seen, "%s",
             p != NULL ? gort_panic_message(p) : "nil");
}

static void nested_recovered_outside(void)
{
    GORT_FRAME;
    gort_defer(recover_into_oldest_seen, NULL);
    gort_defer(recover_into_outer_seen, NULL);
    gort_defer(panics_again, NULL);
    gort_panic("original");
}

/* Go's TestAbortedPanic: the second panic overtakes the first, which can
 * no longer be recovered once the second is. */
Test(recover, recovers_the_newer_panic_and_the_overtaken_one_is_gone)
{
    nested_recovered_outside();
    cr_assert_str_eq(outer_seen, "replacement");
    cr_assert_str_eq(oldest_seen, "nil");
}

/* ===================================================================
 * Re-panics
 * =================================================================== */

static void repanic_recovered(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        gort_repanic(p);
}

static char format_seen[512];

static void repanic_with_format(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        gort_panic("%s", gort_panic_message(p));
}

static void recover_into_format_seen(void *arg)
{
    const gort_panic_info *p = gort_recover();
    cr_assert_not_null(p);
    snprintf(format_seen, sizeof format_seen, "%s", gort_panic_message(p));
    *(const gort_error *volatile *)arg = gort_panic_error(p);
}

static const gort_error user_err = {"user error: disk on fire", false};

static void raise_inner(void (*rethrow)(void *), const gort_error *err,
                        const char *msg)
{
    GORT_FRAME;
    gort_defer(rethrow, NULL);
    if (err != NULL)
        gort_panic_err(err);
    gort_panic("%s", msg);
}

static const gort_error *repanic_outer(void (*rethrow)(void *),
                                       const gort_error *err, const char *msg)
{
    const gort_error *volatile seen = NULL;
    GORT_FRAME_RETURN(seen);
    gort_defer(recover_into_format_seen, (void *)&seen);
    raise_inner(rethrow, err, msg);
    return NULL;
}

Test(recover, repanics_a_recovered_string_value_with_gort_repanic)
{
    const gort_error *e = repanic_outer(repanic_recovered, NULL, "again");
    cr_assert_str_eq(format_seen, "again");
    cr_assert_null(e);
}

Test(recover, repanics_a_recovered_error_value_keeping_its_identity)
{
    const gort_error *e = repanic_outer(repanic_recovered, &user_err, NULL);
    cr_assert_eq(e, &user_err);
    cr_assert_str_eq(format_seen, "user error: disk on fire");
}

Test(recover, repanics_a_recovered_message_with_gort_panic_format)
{
    const gort_error *e = repanic_outer(repanic_with_format, NULL, "text 100%");
    cr_assert_null(e);
    cr_assert_str_eq(format_seen, "text 100%");
}

static char long_msg[400];

Test(recover, repanics_a_message_longer_than_256_bytes_intact)
{
    memset(long_msg, 'q', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    long_msg[0] = '<';
    long_msg[sizeof long_msg - 2] = '>';
    repanic_outer(repanic_recovered, NULL, long_msg);
    cr_assert_str_eq(format_seen, long_msg);
    repanic_outer(repanic_with_format, NULL, long_msg);
    cr_assert_str_eq(format_seen, long_msg);
}

/* ===================================================================
 * Panic values
 * =================================================================== */

typedef struct captured {
    char msg[8192];
    const gort_error *err;
    bool recovered;
} captured;

static captured cap;

static void capture(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    cap.recovered = p != NULL;
    if (p != NULL) {
        snprintf(cap.msg, sizeof cap.msg, "%s", gort_panic_message(p));
        cap.err = gort_panic_error(p);
    }
}

static void panic_nil(void)
{
    GORT_FRAME;
    gort_defer(capture, NULL);
    gort_panic(NULL);
}

Test(panic, with_null_format_panics_with_the_runtime_error_of_go_1_21_panic_nil)
{
    panic_nil();
    cr_assert(cap.recovered);
    cr_assert_str_eq(cap.msg, "panic called with nil argument");
    cr_assert_not_null(cap.err);
    cr_assert(gort_error_is_runtime(cap.err));
    cr_assert_eq(cap.err, &gort_err_panic_nil);
    cr_assert_str_eq(gort_error_message(cap.err), "panic called with nil argument");
}

static void panic_err_null(void)
{
    GORT_FRAME;
    gort_defer(capture, NULL);
    gort_panic_err(NULL);
}

Test(panic, err_with_null_behaves_like_panic_nil)
{
    panic_err_null();
    cr_assert(cap.recovered);
    cr_assert_str_eq(cap.msg, "panic called with nil argument");
    cr_assert(gort_error_is_runtime(cap.err));
}

static void panic_user_err(void)
{
    GORT_FRAME;
    gort_defer(capture, NULL);
    gort_panic_err(&user_err);
}

Test(panic, err_keeps_the_identity_of_a_user_error)
{
    panic_user_err();
    cr_assert(cap.recovered);
    cr_assert_eq(cap.err, &user_err);
    cr_assert_not(gort_error_is_runtime(cap.err));
    cr_assert_str_eq(cap.msg, "user error: disk on fire");
    cr_assert_eq(gort_error_message(cap.err), user_err.msg);
}

static void panic_formatted(void)
{
    GORT_FRAME;
    gort_defer(capture, NULL);
    gort_panic("%s=%d %x %%", "answer", 42, 255u);
}

Test(panic, formats_its_message_like_printf_and_carries_no_error)
{
    panic_formatted();
    cr_assert_str_eq(cap.msg, "answer=42 ff %");
    cr_assert_null(cap.err);
}

Test(panic, error_helpers_accept_null)
{
    cr_assert_not(gort_error_is_runtime(NULL));
    cr_assert_null(gort_panic_error(NULL));
}

static void panic_long(const char *s)
{
    GORT_FRAME;
    gort_defer(capture, NULL);
    gort_panic("%s", s);
}

Test(panic, keeps_messages_longer_than_256_bytes_whole)
{
    static char big[8000];
    size_t sizes[] = {255, 256, 257, 300, 1000, sizeof big - 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (size_t i = 0; i < n; i++)
            big[i] = (char)('a' + (i * 7 + k) % 26);
        big[n] = '\0';
        memset(&cap, 0, sizeof cap);
        panic_long(big);
        cr_assert(cap.recovered);
        cr_assert_eq(strlen(cap.msg), n, "length %zu became %zu", n, strlen(cap.msg));
        cr_assert_str_eq(cap.msg, big);
    }
}

/* The value stays valid for the whole deferred call that recovered it,
 * even when that call does more deferring, panicking and recovering. */
static void recover_then_work(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    cr_assert_not_null(p);
    nested_recovered_inside();
    cr_assert_str_eq(outer_seen, "first");
    snprintf(cap.msg, sizeof cap.msg, "%s", gort_panic_message(p));
}

static void recover_outlives_nested_work(void)
{
    GORT_FRAME;
    gort_defer(recover_then_work, NULL);
    gort_panic("%0300d", 1); /* longer than the inline buffer */
}

Test(recover, value_stays_valid_until_the_deferred_call_returns)
{
    recover_outlives_nested_work();
    cr_assert_eq(strlen(cap.msg), 300);
    cr_assert_eq(cap.msg[299], '1');
}
