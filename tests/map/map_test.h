/*
 * map_test.h - helpers shared by the map tests: the verifier, panic
 * capture, and key generation.
 */
#ifndef GORT_TEST_MAP_TEST_H
#define GORT_TEST_MAP_TEST_H

#include <gort/defer.h>
#include <gort/map.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Declared in src/map_internal.h; exported for the tests and fuzzers. */
bool gort__map_verify(const gort_map *m);

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

/* Writes key i as text, "key-<i>", into @buf; returns its length. */
static inline size_t test_key(char *buf, size_t size, long i)
{
    return (size_t)snprintf(buf, size, "key-%ld", i);
}

#endif
