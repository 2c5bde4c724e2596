/*
 * Run-time errors that C has, recovered as Go recovers them: ports of
 * Go 1.19 test/recover2.go (test7), test/recover3.go (the division and
 * nil-dereference cases), test/recover4.go (adapted) and
 * runtime/stack_test.go TestDeferLeafSigpanic.  gort's own signal-panic
 * checks are in test_signal_panics.c.
 *
 * *** These tests depend on src/signal.c (the SIGSEGV/SIGFPE handlers that
 * *** turn a fault into a panic), written concurrently with them.  Without
 * *** working handlers they fail with a CRASH (the fault kills the test
 * *** process).  Keep them: they are the acceptance tests of signal panics.
 *
 * Faults are raised by code the compiler cannot see through: the nil
 * pointer is loaded from a volatile object, the faulting functions are
 * noinline and not instrumented by ASan/UBSan (which would report the
 * access themselves), and integer division uses the idiv instruction on
 * x86-64 (in C it is undefined behaviour; aarch64 does not trap at all,
 * so the division cases are skipped there, as Go's compiler inserts an
 * explicit check on that architecture).
 *
 * Not ported, because C has no such run-time checks: recover2.go test1 to
 * test6 (index, slice bounds, interface conversion, uncomparable and
 * unhashable values) and recover3.go array-bounds, slice-bounds,
 * type-concrete and type-interface.  recover3.go nil-deref-big (offset
 * 40000 from nil) is a crash in gort by design: only faults below 4096
 * become panics (SPEC), Go relies on compiler-inserted nil checks there.
 * recover4.go unmodified (a fault in an mprotect'ed hole, Go's
 * debug.SetPanicOnFault) is a crash in gort by design for the same reason;
 * the adaptation below faults on a nil pointer instead.
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
static int64_t (*volatile nil_arr)[10]; /* always NULL: Go's p *[10]int */

NO_SANITIZE static int64_t load_arr(int64_t (*p)[10], size_t i)
{
    return ((volatile int64_t *)*p)[i];
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

__attribute__((noinline)) static int64_t div_int64(int64_t a, int64_t b)
{
    int64_t q;
    __asm__ volatile("cqto\n\tidivq %2" : "=a"(q) : "a"(a), "r"(b) : "rdx", "cc");
    return q;
}
#else
#define HAVE_DIV_TRAP 0
static int div_int(int a, int b) { return b != 0 ? a / b : 0; }
static int64_t div_int64(int64_t a, int64_t b) { return b != 0 ? a / b : 0; }
#endif

static volatile int sink;
static volatile int zero_int;
static volatile int64_t zero_int64;

/* ===================================================================
 * recover3.go: check(name, f, err)
 * =================================================================== */

typedef struct check_ctx {
    const char *name;
    const char *want; /* substring of the runtime error */
} check_ctx;

static void check_recover(void *arg)
{
    const check_ctx *c = arg;
    const gort_panic_info *v = gort_recover();
    cr_assert_not_null(v, "%s did not panic", c->name);
    const gort_error *e = gort_panic_error(v);
    cr_assert(gort_error_is_runtime(e), "%s panicked but not with a runtime error",
              c->name);
    cr_assert_not_null(strstr(gort_error_message(e), c->want),
                       "%s panicked with %s not %s", c->name,
                       gort_error_message(e), c->want);
    cr_assert_str_eq(gort_panic_message(v), gort_error_message(e));
}

static void check(const char *name, void (*f)(void), const char *err)
{
    check_ctx c = {name, err};
    GORT_FRAME;
    gort_defer(check_recover, &c);
    f();
}

static void int_div_zero(void) { sink = div_int(1, zero_int); }
static void int64_div_zero(void) { sink = (int)div_int64(1, zero_int64); }
static void nil_deref(void) { sink = (int)load_arr(nil_arr, 0); }
static void nil_deref_1(void) { sink = (int)load_arr(nil_arr, 1); }

/* Go: old := debug.SetPanicOnFault(true); defer debug.SetPanicOnFault(old) */
static void restore_signal_panics(void *old)
{
    gort_signal_panics(*(bool *)old);
}

#define WITH_SIGNAL_PANICS()                                                   \
    bool old_setting_ = gort_signal_panics(true);                              \
    GORT_FRAME;                                                                \
    gort_defer(restore_signal_panics, &old_setting_)

Test(go_recover_signal, recover3_int_div_zero)
{
    WITH_SIGNAL_PANICS();
    if (!HAVE_DIV_TRAP)
        cr_skip_test("integer division does not trap on this architecture");
    check("int-div-zero", int_div_zero, "integer divide by zero");
}

Test(go_recover_signal, recover3_int64_div_zero)
{
    WITH_SIGNAL_PANICS();
    if (!HAVE_DIV_TRAP)
        cr_skip_test("integer division does not trap on this architecture");
    check("int64-div-zero", int64_div_zero, "integer divide by zero");
}

Test(go_recover_signal, recover3_nil_deref)
{
    WITH_SIGNAL_PANICS();
    check("nil-deref", nil_deref, "nil pointer dereference");
}

Test(go_recover_signal, recover3_nil_deref_1)
{
    WITH_SIGNAL_PANICS();
    check("nil-deref-1", nil_deref_1, "nil pointer dereference");
}

/* ===================================================================
 * recover2.go test7: mustRecover("divide by zero")
 * =================================================================== */

static void must_recover_substring(void *arg)
{
    const char *s = arg;
    const gort_panic_info *v = gort_recover();
    cr_assert_not_null(v, "expected panic");
    const gort_error *e = gort_panic_error(v);
    cr_assert_not_null(e, "the panic value is not an error");
    cr_assert_not_null(strstr(gort_error_message(e), s), "want: %s; have: %s", s,
                       gort_error_message(e));
}

static void recover2_test7(void)
{
    GORT_FRAME;
    gort_defer(must_recover_substring, "divide by zero");
    int x = zero_int, y = zero_int;
    sink = div_int(x, y);
}

Test(go_recover_signal, recover2_test7)
{
    WITH_SIGNAL_PANICS();
    if (!HAVE_DIV_TRAP)
        cr_skip_test("integer division does not trap on this architecture");
    recover2_test7();
}

/* ===================================================================
 * recover4.go, adapted: after a fault, a deferred function sees the most
 * recent value of the variables it accesses.  Go faults in an
 * mprotect'ed hole; gort turns only nil-page faults into panics, so the
 * copy faults on a nil source pointer in the middle of the data.  As with
 * setjmp, the counter must be volatile to be exact after the fault.
 * =================================================================== */

typedef struct memcopy_result {
    volatile int n;
    const gort_error *err;
} memcopy_result;

static void memcopy_recover(void *arg)
{
    memcopy_result *r = arg;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        r->err = gort_panic_error(p);
}

NO_SANITIZE static int memcopy(unsigned char *dst, const unsigned char *const *src,
                               size_t len, memcopy_result *r)
{
    GORT_FRAME_RETURN(r->n);
    gort_defer(memcopy_recover, r);
    for (size_t i = 0; i < len; i++) {
        dst[i] = *(volatile const unsigned char *)src[i];
        r->n++;
    }
    return r->n;
}

Test(go_recover_signal, recover4)
{
    WITH_SIGNAL_PANICS();
    enum { LEN = 4096, HOLE = 2048, OFFSET = 5 };
    static unsigned char data[LEN], byte = 7;
    static const unsigned char *src[LEN];
    for (size_t i = 0; i < LEN; i++)
        src[i] = i < HOLE ? &byte : (const unsigned char *)nil_int;
    memcopy_result r = {0, NULL};
    int n = memcopy(data + OFFSET, src, LEN - OFFSET, &r);
    cr_assert_not_null(r.err, "no error from memcopy across the nil pointers");
    cr_assert_eq(n, HOLE, "memcopy returned %d, want %d", n, HOLE);
    cr_assert_eq(data[OFFSET + HOLE - 1], 7);
}

/* ===================================================================
 * runtime/stack_test.go TestDeferLeafSigpanic: the deferring function
 * calls a leaf that faults (deferring function -> leaf -> sigpanic).
 * =================================================================== */

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

Test(go_recover_signal, defer_leaf_sigpanic)
{
    WITH_SIGNAL_PANICS();
    bool recovered = false;
    defer_leaf_sigpanic(&recovered);
    cr_assert(recovered, "expected panic from nil pointer");
}
