/*
 * bench_defer.h - what the defer/panic benchmark's translation units share.
 *
 * Every implementation (gort, gort with libc _setjmp, the cleanup
 * attribute, C++) provides the same cases as non-inlined functions taking
 * the counter the deferred calls increment; the driver (bench_defer.c)
 * times each of them through a function pointer, exactly as it times the
 * baseline (the same functions without defer), so the indirect call of the
 * timing loop cancels out in the subtraction.
 */
#ifndef BENCH_DEFER_H
#define BENCH_DEFER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* noclone keeps GCC from specialising a case on its constant argument. */
#if defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE __attribute__((noinline, noclone))
#endif

/* One benchmark case: a non-inlined function; each call adds per_call to
 * *counter (the checksum the driver verifies). */
typedef void (*bench_case_fn)(uint64_t *counter);

/* The cases, in table order (WORKLOAD.md "Defer / panic"). */
enum bench_case {
    BENCH_DEFER1,   /* one deferred call */
    BENCH_DEFER8,   /* eight deferred calls */
    BENCH_LOOP4,    /* a defer inside a loop of 4 iterations */
    BENCH_PANIC1,   /* panic("boom") recovered one frame up */
    BENCH_PANIC10,  /* recovered ten frames up, one defer in each frame */
    BENCH_PANIC1E,  /* as PANIC1 with a static error value (no formatting) */
    BENCH_NCASES
};

/* An implementation: one function per case, NULL where it has none (the
 * cleanup attribute has no panic). */
typedef struct bench_impl {
    const char *name;                 /* key in the "R" result lines */
    bench_case_fn fn[BENCH_NCASES];   /* NULL: not applicable */
} bench_impl;

extern const bench_impl bench_impl_cbase;    /* bench_defer.c */
extern const bench_impl bench_impl_gort;     /* cases_gort.c */
extern const bench_impl bench_impl_gortlibc; /* cases_gort.c, GORT_RESUME_LIBC */
extern const bench_impl bench_impl_cleanup;  /* cases_cleanup.c */
extern const bench_impl bench_impl_cxx;      /* cases_cxx.cpp */

/* The deferred call of every implementation: increments *(uint64_t *)c.
 * Defined out of line in bench_defer.c, so no implementation can inline it. */
void bench_incr(void *c);

/* Primitive micro-benchmarks (prims.c): resume points, unwinding. */
typedef struct bench_prim {
    const char *name;  /* key in the "P" result lines */
    const char *what;  /* one-line description */
    void (*fn)(uint64_t *counter); /* adds 1 per call */
} bench_prim;
extern const bench_prim bench_prims[];
extern const int bench_nprims;

#ifdef __cplusplus
}
#endif

#endif /* BENCH_DEFER_H */
