/*
 * scn_panic.c - scenarios nested-panic and recover, and their child parts.
 */
#include "demo.h"

#include <gort/gort.h>

#include <stdio.h>
#include <string.h>

/* ===================================================================
 * nested-panic
 * =================================================================== */

static int second_runs; /* how often panic_second was called */

/* defer func() { panic("second") }() */
static void panic_second(void *unused)
{
    (void)unused;
    second_runs++;
    printf("    panic_second: run #%d, panic(\"second\")\n", second_runs);
    gort_panic("second");
}

static void older(void *unused)
{
    (void)unused;
    printf("    older: run by the second panic; it does not recover\n");
}

static void nested_crash(void)
{
    GORT_FRAME;
    gort_defer(older, NULL);
    gort_defer(panic_second, NULL);
    printf("    nested_crash: panic(\"first\")\n");
    gort_panic("first");
}

int child_nested_panic_crash(void)
{
    nested_crash();
    return 1; /* not reached: the panic ends the process */
}

/* defer func() { r := recover(); panic(r) }() */
static void recover_and_repanic(void *unused)
{
    (void)unused;
    const gort_panic_info *p = gort_recover();
    printf("    deferred: recovered \"%s\", panicking again with it\n",
           p != NULL ? gort_panic_message(p) : "(nil)");
    gort_repanic(p);
}

static void repanic(void)
{
    GORT_FRAME;
    gort_defer(recover_and_repanic, NULL);
    gort_panic("boom");
}

int child_nested_panic_repanic(void)
{
    repanic();
    return 1; /* not reached */
}

static char recovered_msg[64];

static void recover_copy(void *flag)
{
    const gort_panic_info *p = gort_recover();
    if (p == NULL)
        return;
    snprintf(recovered_msg, sizeof recovered_msg, "%s", gort_panic_message(p));
    printf("    deferred (older): recover() -> \"%s\"\n", recovered_msg);
    *(volatile int *)flag = 1;
}

/* Returns 1 when the deferred recover ran: the frame then returns
 * GORT_FRAME_RETURN's expression. */
static int nested_recovered(void)
{
    volatile int recovered = 0;
    GORT_FRAME_RETURN(recovered);
    gort_defer(recover_copy, (void *)&recovered);
    gort_defer(panic_second, NULL);
    printf("    nested_recovered: panic(\"first\")\n");
    gort_panic("first");
}

int scenario_nested_panic(void)
{
    int fails = 0;
    printf("  1. Unrecovered (child process):\n");
    fails += demo_run_child("nested-panic-crash");

    printf(
        "\n  2. recover() then panic again with the value (child process):\n");
    fails += demo_run_child("nested-panic-repanic");

    printf("\n  3. The older deferred call recovers (in-process):\n");
    second_runs = 0;
    recovered_msg[0] = '\0';
    int r = nested_recovered();
    printf("    nested_recovered returned %d\n", r);
    fails += demo_check(r == 1, "the frame returned normally after recover");
    fails += demo_check(strcmp(recovered_msg, "second") == 0,
                        "recover() got the newest panic, \"second\"");
    fails += demo_check(second_runs == 1,
                        "panic_second ran once (started records never rerun)");
    fails += demo_check(gort_recover() == NULL,
                        "no panic left afterwards (\"first\" ended with it)");
    return fails;
}

/* ===================================================================
 * recover
 * =================================================================== */

/* func f(...) (value int, err error) */
typedef struct result {
    int value;             /* meaningful when err is NULL */
    const gort_error *err; /* the recovered error, or NULL */
} result;

/* defer func() {
 *     if r := recover(); r != nil {
 *         if e, ok := r.(error); ok { res.err = e } else { panic(r) }
 *     }
 * }() */
static void catch_error(void *res)
{
    const gort_panic_info *p = gort_recover();
    if (p == NULL)
        return;
    const gort_error *e = gort_panic_error(p);
    if (e == NULL) {
        printf("    catch_error: \"%s\" is not an error, panicking again\n",
               gort_panic_message(p));
        gort_repanic(p);
    }
    ((volatile result *)res)->err = e;
}

static int divide(int a, int b)
{
    if (b == 0) /* C traps or worse; Go panics with a runtime error */
        gort_panic_err(&gort_err_divide);
    return a / b;
}

static result checked_div(int a, int b)
{
    volatile result res = {0, NULL};
    GORT_FRAME_RETURN(res);
    gort_defer(catch_error, (void *)&res);
    res.value = divide(a, b);
    return res;
}

static const gort_error err_port_range = {"port out of range", false};
static const gort_error err_port_syntax = {"port is not a number", false};

static int parse_digits(const char *s)
{
    int v = 0;
    if (*s == '\0')
        gort_panic_err(&err_port_syntax);
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            gort_panic_err(&err_port_syntax);
        v = v * 10 + (*s - '0');
        if (v > 65535)
            gort_panic_err(&err_port_range);
    }
    return v;
}

static result parse_port(const char *s)
{
    volatile result res = {0, NULL};
    GORT_FRAME_RETURN(res);
    gort_defer(catch_error, (void *)&res);
    res.value = parse_digits(s);
    return res;
}

static void show(const char *call, result r)
{
    if (r.err == NULL)
        printf("    %-24s = %d, err nil\n", call, r.value);
    else
        printf("    %-24s -> err \"%s\" (runtime.Error: %s)\n", call,
               gort_error_message(r.err),
               gort_error_is_runtime(r.err) ? "yes" : "no");
}

/* A string panic that catch_error passes on; the outer frame catches any
 * value and remembers its text. */
static char outer_msg[64];

static void catch_any(void *unused)
{
    (void)unused;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        snprintf(outer_msg, sizeof outer_msg, "%s", gort_panic_message(p));
}

static void string_panic(void)
{
    volatile result res = {0, NULL};
    GORT_FRAME;
    gort_defer(catch_error, (void *)&res);
    gort_panic("just a string");
}

static void call_string_panic(void)
{
    GORT_FRAME;
    gort_defer(catch_any, NULL);
    string_panic();
}

/* recover() must be called directly by the deferred function. */
static int helper_result = -1; /* 1: the helper's recover() got the panic */

__attribute__((noinline)) static const gort_panic_info *recover_helper(void)
{
    const gort_panic_info *p = gort_recover();
    __asm__ volatile("" ::: "memory"); /* a real call, not a tail call */
    return p;
}

static void recover_via_helper(void *unused)
{
    (void)unused;
    helper_result = recover_helper() != NULL;
    printf("    deferred: recover() inside a helper -> %s\n",
           helper_result ? "the panic (unexpected)" : "nil");
}

static int indirect_recover(void)
{
    volatile int direct = 0;
    GORT_FRAME_RETURN(direct);
    gort_defer(recover_copy, (void *)&direct);
    gort_defer(recover_via_helper, NULL);
    gort_panic("only a direct recover stops me");
}

int scenario_recover(void)
{
    int fails = 0;
    result r;

    printf("  Runtime error:\n");
    r = checked_div(84, 2);
    show("checked_div(84, 2)", r);
    fails += demo_check(r.err == NULL && r.value == 42, "no panic: 42, nil");
    r = checked_div(1, 0);
    show("checked_div(1, 0)", r);
    fails +=
        demo_check(r.err == &gort_err_divide && gort_error_is_runtime(r.err),
                   "integer divide by zero came back as a runtime error");

    printf("\n  User errors, compared by identity (errors.Is):\n");
    r = parse_port("8080");
    show("parse_port(\"8080\")", r);
    fails += demo_check(r.err == NULL && r.value == 8080, "no panic: 8080");
    r = parse_port("99999");
    show("parse_port(\"99999\")", r);
    fails +=
        demo_check(r.err == &err_port_range && !gort_error_is_runtime(r.err),
                   "err == &err_port_range, not a runtime error");
    r = parse_port("80a");
    show("parse_port(\"80a\")", r);
    fails += demo_check(r.err == &err_port_syntax, "err == &err_port_syntax");

    printf("\n  A string value is not an error:\n");
    outer_msg[0] = '\0';
    call_string_panic();
    printf("    the outer deferred call recovered \"%s\"\n", outer_msg);
    fails += demo_check(strcmp(outer_msg, "just a string") == 0,
                        "the re-panicked string reached the outer recover");

    printf("\n  recover() called by a helper of the deferred function:\n");
    recovered_msg[0] = '\0';
    int direct = indirect_recover();
    fails += demo_check(helper_result == 0 && direct == 1,
                        "the helper got nil; the older, direct recover() "
                        "stopped the panic");

    printf("\n  Nil-pointer dereference with gort_signal_panics(true) "
           "(child process,\n  since an unhandled fault would end the "
           "demo):\n");
    fails += demo_run_child("recover-nil-deref");
    return fails;
}

/* Read through a volatile pointer so the compiler cannot see the NULL and
 * replace the load with a trap instruction.  The fault is the point, so
 * UBSan (asan preset) must not stop the program before it happens. */
static int *volatile nil_ptr;

__attribute__((no_sanitize("undefined"))) static int load_through(void)
{
    int *p = nil_ptr;
    return *p;
}

static result checked_load(void)
{
    volatile result res = {0, NULL};
    GORT_FRAME_RETURN(res);
    gort_defer(catch_error, (void *)&res);
    res.value = load_through();
    return res;
}

int child_recover_nil_deref(void)
{
    bool was = gort_signal_panics(true);
    printf("gort_signal_panics(true): previous setting %s\n",
           was ? "true" : "false");
    printf("reading *(int *)NULL inside checked_load()\n");
    result r = checked_load();
    if (r.err == NULL) {
        printf("no error: the load returned %d\n", r.value);
        return 1;
    }
    printf("recovered: %s (runtime error: %s, gort_err_nil_deref: %s)\n",
           gort_error_message(r.err),
           gort_error_is_runtime(r.err) ? "yes" : "no",
           r.err == &gort_err_nil_deref ? "yes" : "no");
    return r.err == &gort_err_nil_deref ? 0 : 1;
}
