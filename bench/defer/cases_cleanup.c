/*
 * cases_cleanup.c - cases 1-3 with GCC's __attribute__((cleanup)), the floor
 * a C programmer gets without any runtime: the compiler calls the cleanup
 * function at every exit of the variable's scope, directly, with no record
 * and no chain.  There is no panic here, so cases 4 are absent.
 *
 * The cleanup functions are static inline and call the out-of-line
 * bench_incr(), so every deferred call is one real (direct) call, as in
 * the baseline: the "net" cost of this column is the cost of the mechanism
 * alone, which is expected to be about zero.
 */
#include "bench_defer.h"

#include <stddef.h>

static inline void run_incr(uint64_t **c)
{
    bench_incr(*c);
}

#define DEFER_INCR(var, c)                                                     \
    uint64_t *var __attribute__((cleanup(run_incr), unused)) = (c)

BENCH_NOINLINE static void defer1(uint64_t *c)
{
    DEFER_INCR(d0, c);
}

BENCH_NOINLINE static void defer8(uint64_t *c)
{
    DEFER_INCR(d0, c);
    DEFER_INCR(d1, c);
    DEFER_INCR(d2, c);
    DEFER_INCR(d3, c);
    DEFER_INCR(d4, c);
    DEFER_INCR(d5, c);
    DEFER_INCR(d6, c);
    DEFER_INCR(d7, c);
}

/* A cleanup variable declared in a loop body runs at the end of each
 * iteration, not at function exit, so a loop defer needs a small
 * hand-rolled stack of calls that one cleanup runs LIFO: what a C
 * programmer writes instead of a defer chain. */
typedef struct defer_stack {
    unsigned n;              /* calls pushed, 0..8 */
    void (*fn[8])(void *);   /* fn[0..n) valid */
    void *arg[8];            /* arg[i] goes with fn[i] */
} defer_stack;

static inline void run_stack(defer_stack *s)
{
    while (s->n != 0) {
        s->n--;
        s->fn[s->n](s->arg[s->n]);
    }
}

BENCH_NOINLINE static void loop4(uint64_t *c)
{
    defer_stack s __attribute__((cleanup(run_stack)));
    s.n = 0;
    for (int i = 0; i < 4; i++) {
        s.fn[s.n] = bench_incr;
        s.arg[s.n] = c;
        s.n++;
    }
}

const bench_impl bench_impl_cleanup = {
    "cleanup",
    {
        [BENCH_DEFER1] = defer1,
        [BENCH_DEFER8] = defer8,
        [BENCH_LOOP4] = loop4,
    },
};
