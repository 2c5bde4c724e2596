/*
 * cases_gort.c - the defer/panic cases written with gort.
 *
 * Compiled twice into bench_defer: as is (the resume point of GORT_FRAME
 * is __builtin_setjmp, the default) and with -DGORT_RESUME_LIBC (libc's
 * _setjmp/longjmp), which renames the table to bench_impl_gortlibc.  The
 * two builds differ only in GORT__SETJMP, so the difference between their
 * columns is the cost of the resume-point choice.
 *
 * The code is what a user writes: GORT_FRAME, gort_defer with the counter
 * as argument, gort_panic and gort_recover in a deferred function.
 */
#include <gort/defer.h>

#include "bench_defer.h"

#ifdef GORT_RESUME_LIBC
#define IMPL bench_impl_gortlibc
#define IMPL_NAME "gortlibc"
#else
#define IMPL bench_impl_gort
#define IMPL_NAME "gort"
#endif

static const gort_error err_boom = {"boom", false};

/* Deferred in the recovering frame: Go's
 *     defer func() { if recover() != nil { *c++ } }() */
static void recover_incr(void *c)
{
    if (gort_recover() != NULL)
        bench_incr(c);
}

/* Case 1: one deferred call. */
BENCH_NOINLINE static void defer1(uint64_t *c)
{
    GORT_FRAME;
    gort_defer(bench_incr, c);
}

/* Case 2: eight deferred calls (all eight fit the frame's inline records,
 * as Go open-codes up to eight). */
BENCH_NOINLINE static void defer8(uint64_t *c)
{
    GORT_FRAME;
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
    gort_defer(bench_incr, c);
}

/* Case 3: a defer inside a loop of 4 iterations (Go cannot open-code it). */
BENCH_NOINLINE static void loop4(uint64_t *c)
{
    GORT_FRAME;
    for (int i = 0; i < 4; i++)
        gort_defer(bench_incr, c);
}

/* Case 4a: panic raised one frame below the recovering frame. */
BENCH_NOINLINE static void thrower(uint64_t *c)
{
    (void)c;
    gort_panic("boom");
}

BENCH_NOINLINE static void panic1(uint64_t *c)
{
    GORT_FRAME;
    gort_defer(recover_incr, c);
    thrower(c);
}

/* Case 4b: ten frames, each with one deferred call, between the panic and
 * the recovering frame. */
BENCH_NOINLINE static void level(int n, uint64_t *c)
{
    GORT_FRAME;
    gort_defer(bench_incr, c);
    if (n == 0)
        gort_panic("boom");
    level(n - 1, c);
}

BENCH_NOINLINE static void panic10(uint64_t *c)
{
    GORT_FRAME;
    gort_defer(recover_incr, c);
    level(9, c);
}

/* Case 4a with a static error value: no message formatting. */
BENCH_NOINLINE static void thrower_err(uint64_t *c)
{
    (void)c;
    gort_panic_err(&err_boom);
}

BENCH_NOINLINE static void panic1e(uint64_t *c)
{
    GORT_FRAME;
    gort_defer(recover_incr, c);
    thrower_err(c);
}

const bench_impl IMPL = {
    IMPL_NAME,
    {
        [BENCH_DEFER1] = defer1,
        [BENCH_DEFER8] = defer8,
        [BENCH_LOOP4] = loop4,
        [BENCH_PANIC1] = panic1,
        [BENCH_PANIC10] = panic10,
        [BENCH_PANIC1E] = panic1e,
    },
};
