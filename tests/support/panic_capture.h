/*
 * panic_capture.h - run a function and catch a panic it raises, for
 * tests that check a panic's message or error value (not its crash
 * output: that is child.h's and golden.h's job).
 */
#ifndef GORT_TEST_PANIC_CAPTURE_H
#define GORT_TEST_PANIC_CAPTURE_H

#include <gort/defer.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What a caught panic said. */
typedef struct caught_panic {
    bool panicked;
    const gort_error *err;   /* gort_panic_error(), NULL for a string */
    char msg[256];           /* gort_panic_message() */
} caught_panic;

static inline void caught_panic_recover(void *arg)
{
    caught_panic *c = arg;
    const gort_panic_info *p = gort_recover();
    if (p == NULL)
        return;
    c->panicked = true;
    c->err = gort_panic_error(p);
    snprintf(c->msg, sizeof c->msg, "%s", gort_panic_message(p));
}

/* Calls fn(arg); a panic in it is recovered and described in *c. */
static __attribute__((noinline, unused)) void
call_catching(void (*fn)(void *), void *arg, caught_panic *c)
{
    memset(c, 0, sizeof *c);
    GORT_FRAME;
    gort_defer(caught_panic_recover, c);
    fn(arg);
}

#endif
