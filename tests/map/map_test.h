/*
 * map_test.h - helpers shared by the map tests: the verifier, panic
 * capture, and key generation.
 */
#ifndef GORT_TEST_MAP_TEST_H
#define GORT_TEST_MAP_TEST_H

#include "panic_capture.h"

#include <gort/defer.h>
#include <gort/map.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Declared in src/map_internal.h; exported for the tests and fuzzers. */
bool gort__map_verify(const gort_map *m);

/* caught_panic, call_catching: tests/support/panic_capture.h. */

/* Writes key i as text, "key-<i>", into @buf; returns its length (short:
 * a copying map stores it inline, in the bucket). */
static inline size_t test_key(char *buf, size_t size, long i)
{
    return (size_t)snprintf(buf, size, "key-%ld", i);
}

/* Writes key i as a key of at least 24 bytes (a copying map keeps a copy
 * of it out of line); returns its length. */
static inline size_t test_long_key(char *buf, size_t size, long i)
{
    return (size_t)snprintf(buf, size, "a-key-stored-out-of-line-%ld", i);
}

#endif
