/*
 * gort_signal_panics(): the opt-in that turns nil-pointer faults (and, on
 * x86-64, integer division by zero) into Go's recoverable runtime-error
 * panics.  The Go ports of the same machinery are in
 * test_go_recover_signal.c; both depend on src/signal.c's handlers.
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Not instrumented: ASan/UBSan would report the nil access themselves,
 * and TSan records the faulting access to address 0 before the fault, so
 * goroutines faulting at once would look like a data race on it. */
#define NO_SANITIZE                                                            \
    __attribute__((noinline, no_sanitize("address", "undefined", "thread")))

static int *volatile nil_int;          /* always NULL */

NO_SANITIZE static int load_int(int *p, size_t i)
{
    return ((volatile int *)p)[i];
}

NO_SANITIZE static void store_nil(void)
{
    *(volatile int *)nil_int = 0;
}

#if defined(__x86_64__)
#define HAVE_DIV_TRAP 1
__attribute__((noinline)) static int div_int(int a, int b)
{
    int q;
    __asm__ volatile("cltd\n\tidivl %2" : "=a"(q) : "a"(a), "r"(b) : "edx", "cc");
    return q;
}

#else
#define HAVE_DIV_TRAP 0
static int div_int(int a, int b) { return b != 0 ? a / b : 0; }
#endif

static volatile int sink;
static volatile int zero_int;

/* Go: old := debug.SetPanicOnFault(true); defer debug.SetPanicOnFault(old) */
static void restore_signal_panics(void *old)
{
    gort_signal_panics(*(bool *)old);
}

#define WITH_SIGNAL_PANICS()                                                   \
    bool old_setting_ = gort_signal_panics(true);                              \
    GORT_FRAME;                                                                \
    gort_defer(restore_signal_panics, &old_setting_)

static void leaf_recover(void *arg)
{
    bool *recovered = arg;
    *recovered = gort_recover() != NULL;
}

static void defer_leaf_sigpanic(bool *recovered)
{
    GORT_FRAME;
    gort_defer(leaf_recover, recovered);
    store_nil();
}

/* ===================================================================
 * gort_signal_panics contract (unit checks kept with the signal ports)
 * =================================================================== */

Test(signal_panics, returns_the_previous_setting)
{
    cr_assert_not(gort_signal_panics(true), "signal panics must be off by default");
    cr_assert(gort_signal_panics(true));
    cr_assert(gort_signal_panics(false));
    cr_assert_not(gort_signal_panics(false));
}

static const gort_error *recovered_err;

static void recover_err(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    /* Goroutines store here too; the WaitGroup orders it before the read. */
    __atomic_store_n(&recovered_err, p != NULL ? gort_panic_error(p) : NULL,
                     __ATOMIC_RELAXED);
}

static void deref_with_recover(void)
{
    GORT_FRAME;
    gort_defer(recover_err, NULL);
    sink = load_int(nil_int, 3);
}

Test(signal_panics, nil_deref_is_the_go_runtime_error_and_recovers_every_time)
{
    WITH_SIGNAL_PANICS();
    /* Three times: a handler that leaves SIGSEGV blocked after the first
     * recovery would kill the process at the second fault. */
    for (int i = 0; i < 3; i++) {
        recovered_err = NULL;
        deref_with_recover();
        cr_assert_eq(recovered_err, &gort_err_nil_deref, "round %d", i);
        cr_assert_str_eq(gort_error_message(recovered_err),
                         "runtime error: invalid memory address or nil pointer "
                         "dereference");
        cr_assert(gort_error_is_runtime(recovered_err));
    }
}

static void divide_with_recover(void)
{
    GORT_FRAME;
    gort_defer(recover_err, NULL);
    sink = div_int(7, zero_int);
}

Test(signal_panics, divide_is_the_go_runtime_error)
{
    WITH_SIGNAL_PANICS();
    if (!HAVE_DIV_TRAP)
        cr_skip_test("integer division does not trap on this architecture");
    recovered_err = NULL;
    divide_with_recover();
    cr_assert_eq(recovered_err, &gort_err_divide);
    cr_assert_str_eq(gort_error_message(recovered_err),
                     "runtime error: integer divide by zero");
    cr_assert(gort_error_is_runtime(recovered_err));
}

/* A fault inside a deferred call run by a panic: a nested panic. */
static void faults_when_deferred(void *arg)
{
    (void)arg;
    store_nil();
}

static char nested_msg[128];

static void recover_nested(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(nested_msg, sizeof nested_msg, "%s",
             p != NULL ? gort_panic_message(p) : "nil");
}

static void fault_during_panic(void)
{
    GORT_FRAME;
    gort_defer(recover_nested, NULL);
    gort_defer(faults_when_deferred, NULL);
    gort_panic("first");
}

Test(signal_panics, nil_deref_in_a_deferred_call_during_panicking_overtakes_the_panic)
{
    WITH_SIGNAL_PANICS();
    fault_during_panic();
    cr_assert_str_eq(nested_msg, "runtime error: invalid memory address or nil "
                                 "pointer dereference");
}

/* A fault in a goroutine is recovered on that goroutine's own stack. */
static void goroutine_deref(void *arg)
{
    gort_waitgroup *wg = arg;
    bool recovered = false;
    defer_leaf_sigpanic(&recovered);
    if (recovered)
        deref_with_recover();
    gort_waitgroup_done(wg);
}

Test(signal_panics, nil_deref_in_goroutines_recovers_in_each)
{
    WITH_SIGNAL_PANICS();
    gort_waitgroup wg = {0};
    recovered_err = NULL;
    gort_waitgroup_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        gort_go(goroutine_deref, &wg);
    gort_waitgroup_wait(&wg);
    cr_assert_eq(recovered_err, &gort_err_nil_deref);
}

/* The fault comes right after the defer statement, in the same function,
 * with no call in between: the compiler must not have delayed the stores
 * that register the deferred call (a regression: the panic found the
 * frame's slot unwritten and called garbage). */
typedef struct fault_result {
    int value;
    const gort_error *err;
} fault_result;

static int *volatile null_int;

static void catch_into(void *res)
{
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        ((volatile fault_result *)res)->err = gort_panic_error(p);
}

__attribute__((no_sanitize("address", "undefined", "thread"))) static fault_result
load_after_defer(void)
{
    volatile fault_result res = {0, NULL};
    GORT_FRAME_RETURN(res);
    gort_defer(catch_into, (void *)&res);
    res.value = *null_int; /* inlined load: no call after the defer */
    return res;
}

Test(signal_panics, a_fault_right_after_a_defer_statement_finds_the_call)
{
    bool was = gort_signal_panics(true);
    for (int i = 0; i < 3; i++) {
        fault_result r = load_after_defer();
        cr_assert_eq(r.err, &gort_err_nil_deref);
    }
    gort_signal_panics(was);
}
