/*
 * scn_defer.c - scenarios defer-order and defer-trace.
 */
#include "demo.h"

#include <gort/gort.h>

#include <stdio.h>
#include <string.h>

/* ===================================================================
 * defer-order
 * =================================================================== */

static demo_log order;

static void say(void *msg)
{
    printf("    deferred: %s\n", (const char *)msg);
    demo_log_add(&order, "%s ", (const char *)msg);
}

/* func classic() {
 *     defer fmt.Println("first")
 *     defer fmt.Println("second")
 *     defer fmt.Println("third")
 * } */
static void classic(void)
{
    GORT_FRAME;
    gort_defer(say, "first");
    gort_defer(say, "second");
    gort_defer(say, "third");
    printf("    classic: three defers registered, returning\n");
}

static void log_int(void *arg)
{
    demo_log_add(&order, "%d ", *(const int *)arg);
}

/* for i := 0; i < 10; i++ { defer fmt.Print(i) } */
static void loop_copy(void)
{
    GORT_FRAME;
    for (int i = 0; i < 10; i++)
        gort_defer_copy(log_int, &i, sizeof i);
}

/* for i = 0; i < 10; i++ { defer func() { fmt.Print(i) }() }  (Go < 1.22)
 * i lives in the outermost block: deferred calls may use those locals. */
static void loop_closure(void)
{
    int i;
    GORT_FRAME;
    for (i = 0; i < 10; i++)
        gort_defer(log_int, &i);
}

int scenario_defer_order(void)
{
    int fails = 0;
    demo_log_reset(&order);
    classic();
    fails += demo_check(strcmp(order.text, "third second first ") == 0,
                        "classic() ran third, second, first");

    demo_log_reset(&order);
    loop_copy();
    printf("    gort_defer_copy(&i) in a loop: %s\n", order.text);
    fails += demo_check(strcmp(order.text, "9 8 7 6 5 4 3 2 1 0 ") == 0,
                        "arguments copied at the defer statement: 9..0");

    demo_log_reset(&order);
    loop_closure();
    printf("    gort_defer(&i) in a loop:      %s\n", order.text);
    fails +=
        demo_check(strcmp(order.text, "10 10 10 10 10 10 10 10 10 10 ") == 0,
                   "a pointer to i sees its value at return: 10 x 10");
    return fails;
}

/* ===================================================================
 * defer-trace (runs in a child with GORTDEBUG=deferpcstack=1)
 * =================================================================== */

static void note(void *msg)
{
    printf("    deferred: %s\n", (const char *)msg);
}

static void recover_here(void *unused)
{
    (void)unused;
    const gort_panic_info *p = gort_recover();
    if (p != NULL)
        printf("    deferred: recover() -> \"%s\"\n", gort_panic_message(p));
    else
        printf("    deferred: recover() -> nil\n");
}

static void inner(void)
{
    GORT_FRAME;
    gort_defer(recover_here, NULL);
    gort_defer(note, "inner: cleanup, run by the panic");
    printf("  inner: panic(\"boom in inner\")\n");
    gort_panic("boom in inner");
}

static void middle(void)
{
    GORT_FRAME;
    gort_defer(note, "middle: first defer");
    gort_defer(note, "middle: second defer");
    printf("  middle: calling inner\n");
    inner();
    printf("  middle: inner returned normally (its panic was recovered)\n");
}

static void outer(void)
{
    GORT_FRAME;
    gort_defer(note, "outer: its only defer");
    printf("  outer: calling middle\n");
    middle();
}

int scenario_defer_trace(void)
{
    printf("  main: calling outer\n");
    outer();
    printf("  main: outer returned; chain empty again\n");
    return 0;
}
