/*
 * prims.c - micro-benchmarks of the primitives a defer frame and a
 * panic/recover are built from, to say where gort's time goes:
 *
 *   - the resume point GORT_FRAME saves at every call: __builtin_setjmp
 *     (the default with GCC), gort__setjmp (gort's own, with clang),
 *     glibc's _setjmp (GORT_RESUME_LIBC; the setjmp()
 *     macro of <setjmp.h> is the same function), the setjmp() function
 *     and sigsetjmp(buf, 1), which also save the signal mask with a
 *     system call;
 *   - the same followed by the matching longjmp from a callee (what a
 *     recovered panic pays once);
 *   - _Unwind_Backtrace stopped after four frames, the walk gort_recover()
 *     does to find its caller's canonical frame address;
 *   - gort_recover() outside a panic (its fast NULL path);
 *   - vsnprintf of "boom", what gort_panic() pays to format its message.
 *
 * Each function adds 1 to the counter so the driver can check it ran.
 */
#include <gort/defer.h>

#include "bench_defer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unwind.h>

/* Keeps the compiler from dropping a buffer that nothing reads. */
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

/* ---- reference: the same call doing nothing else ----------------------- */

BENCH_NOINLINE static void p_call(uint64_t *c)
{
    (*c)++;
}

/* ---- setjmp only ------------------------------------------------------- */

BENCH_NOINLINE static void p_builtin_setjmp(uint64_t *c)
{
    void *buf[5];
    ESCAPE(buf);
    if (__builtin_setjmp(buf) != 0)
        return;
    ESCAPE(buf);
    (*c)++;
}

BENCH_NOINLINE static void p_underscore_setjmp(uint64_t *c)
{
    jmp_buf buf;
    if (_setjmp(buf) != 0)
        return;
    ESCAPE(buf);
    (*c)++;
}

/* gort's own minimal setjmp (the resume point with clang on x86-64;
 * elsewhere it does not exist and this measures the plain call). */
BENCH_NOINLINE static void p_gort_setjmp(uint64_t *c)
{
#if defined(__x86_64__)
    void *buf[8];
    if (gort__setjmp(buf) != 0)
        return;
    ESCAPE(buf);
#endif
    (*c)++;
}

BENCH_NOINLINE static void p_setjmp_function(uint64_t *c)
{
    jmp_buf buf;
    if ((setjmp)(buf) != 0) /* the function, not the macro: saves the mask */
        return;
    ESCAPE(buf);
    (*c)++;
}

BENCH_NOINLINE static void p_sigsetjmp1(uint64_t *c)
{
    sigjmp_buf buf;
    if (sigsetjmp(buf, 1) != 0)
        return;
    ESCAPE(buf);
    (*c)++;
}

/* ---- setjmp + longjmp from a callee ------------------------------------ */

BENCH_NOINLINE static void jump_builtin(void **buf)
{
    __builtin_longjmp(buf, 1);
}

BENCH_NOINLINE static void p_builtin_roundtrip(uint64_t *c)
{
    void *buf[5];
    if (__builtin_setjmp(buf) != 0) {
        (*c)++;
        return;
    }
    jump_builtin(buf);
}

BENCH_NOINLINE static void jump_libc(jmp_buf buf)
{
    longjmp(buf, 1);
}

BENCH_NOINLINE static void p_underscore_roundtrip(uint64_t *c)
{
    jmp_buf buf;
    if (_setjmp(buf) != 0) {
        (*c)++;
        return;
    }
    jump_libc(buf);
}

BENCH_NOINLINE static void jump_sig(sigjmp_buf buf)
{
    siglongjmp(buf, 1);
}

BENCH_NOINLINE static void p_sigsetjmp1_roundtrip(uint64_t *c)
{
    sigjmp_buf buf;
    if (sigsetjmp(buf, 1) != 0) {
        (*c)++;
        return;
    }
    jump_sig(buf);
}

/* ---- the unwinder walk of gort_recover --------------------------------- */

struct walk {
    int frame;     /* frames seen */
    uintptr_t cfa; /* CFA reported for frame 3 */
};

static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    if (w->frame++ == 3) {
        w->cfa = _Unwind_GetCFA(ctx);
        return _URC_END_OF_STACK;
    }
    return _URC_NO_REASON;
}

BENCH_NOINLINE static uintptr_t walk4(void)
{
    struct walk w = {0, 0};
    _Unwind_Backtrace(step, &w);
    __asm__ volatile("" ::: "memory");
    return w.cfa;
}

BENCH_NOINLINE static uintptr_t walk4_outer(void)
{
    uintptr_t cfa = walk4();
    __asm__ volatile("" ::: "memory");
    return cfa;
}

BENCH_NOINLINE static void p_unwind4(uint64_t *c)
{
    uintptr_t cfa = walk4_outer();
    __asm__ volatile("" ::: "memory");
    *c += cfa != 0;
}

/* ---- gort_recover outside a panic -------------------------------------- */

BENCH_NOINLINE static void p_recover_nil(uint64_t *c)
{
    *c += gort_recover() == NULL;
}

/* ---- gort_panic's formatting ------------------------------------------- */

__attribute__((format(printf, 2, 3))) BENCH_NOINLINE static int
fmt(char *buf, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, 256, f, ap);
    va_end(ap);
    return n;
}

BENCH_NOINLINE static void p_vsnprintf(uint64_t *c)
{
    char buf[256];
    *c += fmt(buf, "boom") == 4;
    ESCAPE(buf);
}

const bench_prim bench_prims[] = {
    {"call", "reference: the same non-inlined call, nothing else", p_call},
    {"builtin_setjmp", "__builtin_setjmp (GORT_FRAME default)", p_builtin_setjmp},
    {"_setjmp", "glibc _setjmp = setjmp() macro (GORT_RESUME_LIBC)", p_underscore_setjmp},
    {"gort_setjmp", "gort__setjmp (resume point with clang, x86-64)", p_gort_setjmp},
    {"setjmp_fn", "glibc setjmp() function: saves the signal mask", p_setjmp_function},
    {"sigsetjmp1", "sigsetjmp(buf, 1)", p_sigsetjmp1},
    {"builtin_rt", "__builtin_setjmp + __builtin_longjmp from a callee", p_builtin_roundtrip},
    {"_setjmp_rt", "_setjmp + longjmp from a callee", p_underscore_roundtrip},
    {"sigsetjmp1_rt", "sigsetjmp(buf, 1) + siglongjmp from a callee", p_sigsetjmp1_roundtrip},
    {"unwind4", "_Unwind_Backtrace over 4 frames ((gort_recover)()'s rare fallback)", p_unwind4},
    {"recover_nil", "gort_recover() when not panicking", p_recover_nil},
    {"vsnprintf", "vsnprintf(\"boom\") (gort_panic's message)", p_vsnprintf},
};
const int bench_nprims = (int)(sizeof bench_prims / sizeof bench_prims[0]);
