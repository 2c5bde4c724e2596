/*
 * runtime_internal.h - private declarations shared by gort's sources.
 *
 * Never included from include/gort/.  Every non-static symbol here is
 * named gort__<area>_<name> and is hidden by -fvisibility=hidden unless a
 * public macro needs it (those carry GORT_API in the public headers).
 */
#ifndef GORT_RUNTIME_INTERNAL_H
#define GORT_RUNTIME_INTERNAL_H

#include <gort/defer.h>
#include <gort/sync.h>

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/* ===================================================================
 * Failure tiers (STYLE.md point 8)
 * =================================================================== */

/* Go's fatal(): unrecoverable misuse.  Prints "fatal error: <msg>", a blank
 * line and the calling goroutine's traceback, exits with status 2.  Never
 * allocates. */
_Noreturn void gort__fatal(const char *msg);
/* The same with a formatted message (formatted into a stack buffer). */
_Noreturn void gort__fatalf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Go's "fatal error: runtime: out of memory". */
_Noreturn void gort__throw_oom(void);

/* Broken internal invariant: prints the expression and file:line as a
 * fatal error.  On in every preset (not tied to NDEBUG, which CMake's
 * RelWithDebInfo defines); a build may define GORT_NO_ASSERT to consume
 * the argument instead.  GORT_ASSERT_SLOW is for O(n) checks and needs
 * GORT_DEBUG_EXPENSIVE (Lua's lua_longassert). */
_Noreturn void gort__assert_fail(const char *expr, const char *file, int line);
#ifndef GORT_NO_ASSERT
#define GORT_ASSERT(c)                                                         \
    ((c) ? (void)0 : gort__assert_fail(#c, __FILE__, __LINE__))
#else
#define GORT_ASSERT(c) ((void)sizeof(c))
#endif
#ifdef GORT_DEBUG_EXPENSIVE
#define GORT_ASSERT_SLOW(c) GORT_ASSERT(c)
#else
#define GORT_ASSERT_SLOW(c) ((void)sizeof(c))
#endif
/* API misuse check that stays on in every build (Lua's api_check). */
#define GORT_CHECK_ARG(c, msg) ((c) ? (void)0 : gort__fatal(msg))

/* malloc that never returns NULL: OOM is Go's fatal error. */
void *gort__xmalloc(size_t size);
void *gort__xcalloc(size_t n, size_t size);

/* ===================================================================
 * Async-signal-safe output (crash paths never use stdio or malloc)
 * =================================================================== */

typedef struct gort__out {
    int fd;          /* destination, usually 2 */
    size_t len;      /* bytes buffered, < sizeof buf */
    char buf[1024];  /* flushed with write(2) when full and at the end */
} gort__out;

void gort__out_init(gort__out *o, int fd);
void gort__out_flush(gort__out *o);
void gort__out_str(gort__out *o, const char *s);
void gort__out_mem(gort__out *o, const char *s, size_t n);
void gort__out_dec(gort__out *o, int64_t v);
void gort__out_hex(gort__out *o, uint64_t v); /* "0x..." as Go's hex() */
void gort__out_vfmt(gort__out *o, const char *fmt, va_list ap);

/* ===================================================================
 * Crash serialisation (Go's paniclk)
 * =================================================================== */

/* Enters the process-wide crash section.  Returns 0 for the first thread
 * to crash; a thread that is already crashing (a fault while printing)
 * gets the nesting depth (1, 2, ...); any other thread sleeps forever,
 * since the first crasher is about to exit the process. */
int gort__crash_enter(void);
/* Registers hash.c's fork handler, which drops the map seeds a fork
 * child inherits (gort__runtime_init, once). */
void gort__hash_atfork(void);
/* Registers goroutine.c's fork handler: a fork child counts none of the
 * parent's other goroutines (gort__runtime_init, once). */
void gort__goroutine_atfork(void);

/* Exits with status 2 (gort__crash_enter already flushed stdio). */
_Noreturn void gort__crash_exit(void);

/* ===================================================================
 * Goroutines (goroutine.c)
 * =================================================================== */

typedef struct gort__goroutine {
    int64_t goid;      /* 0 until first use; main thread 1 */
    uintptr_t gopc;    /* pc of the gort_go call that created it, or 0 */
    bool started_by_gort; /* traceback stops at the thread entry */
    bool is_main;      /* the process's main thread */
} gort__goroutine;

/* The calling thread's goroutine, with its id assigned. */
gort__goroutine *gort__getg(void);
/* Entry of goroutine threads: tracebacks stop here. */
void *gort__goroutine_entry(void *arg);
/* Called by gort_goexit when the goroutine's defers are done. */
_Noreturn void gort__goroutine_exit(void);
/* The calling goroutine can never run again (it waits for a lock it
 * holds itself: gort_once_do called from its own function).  Go parks it
 * for ever; in main, once every other goroutine has ended or is parked,
 * Go's checkdead ends the process with "fatal error: all goroutines are
 * asleep - deadlock!" and this goroutine's traceback marked [semacquire]. */
_Noreturn void gort__goroutine_block_forever(void);
/* Set while a thread gort did not start ends by gort_goexit, in
 * pthread_exit's forced unwind (defer.c, gort__frame_unlinked). */
extern __thread bool gort__goexit_unwinding
    __attribute__((tls_model("initial-exec")));
/* Goroutines inside a panic (from gort_panic to its recovery; a crash
 * keeps the count): main's return waits a little for them, as Go's
 * runtime.main waits on runningPanicDefers (runtime.c). */
extern _Atomic unsigned gort__panicking;
/* The calling goroutine's share of gort__panicking (panic.c). */
unsigned gort__own_panics(void);
/* gort_go for the library's own goroutines (Go's system goroutines): not
 * counted as live, so they never keep main's Goexit from reporting its
 * deadlock. */
int64_t gort__go_system(void (*fn)(void *), void *arg);

/* ===================================================================
 * Traceback (traceback.c)
 * =================================================================== */

/* Registers of a signal context. */
static inline uintptr_t gort__uc_pc(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#endif
}

static inline uintptr_t gort__uc_sp(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#endif
}

static inline uintptr_t gort__uc_fp(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.regs[29];
#endif
}

/* Loads the symbolizer (libdw) before it is needed; idempotent. */
void gort__traceback_prepare(void);
/* Prints "goroutine N [running]:\n" and the frames of the calling thread,
 * hiding gort's own frames.  @uc, when not NULL, is the signal context:
 * the traceback then starts at the faulting instruction.  Call it only
 * while owning the crash section (gort__crash_enter): its working storage
 * is static. */
void gort__traceback_print(gort__out *o, const ucontext_t *uc);

/* Flags of gort__traceback_print_ctx(). */
enum {
    /* The context's pc is a return address, not a faulting instruction:
     * the handler moved a call through a bad pointer back to its caller. */
    GORT__TB_UC_RETURN = 1,
    /* The fault may have hit inside malloc: bound the symbolization with
     * a watchdog (always on when @uc is not NULL). */
    GORT__TB_WATCHDOG = 2,
    /* The goroutine is blocked, not running: the header says
     * "[semacquire]" (Go's waitReasonSemacquire) instead of "[running]". */
    GORT__TB_SEMACQUIRE = 4,
};
/* gort__traceback_print() with GORT__TB_* flags. */
void gort__traceback_print_ctx(gort__out *o, const ucontext_t *uc,
                               unsigned flags);
/* True while the calling thread unwinds or symbolizes a crash traceback:
 * a fault there must call gort__traceback_abort() from the handler. */
bool gort__traceback_symbolizing(void);
/* Jumps back into the traceback, which prints the rest without libdw. */
_Noreturn void gort__traceback_abort(void);
/* Copies @n bytes at @addr into @buf; false, never a fault, if unmapped. */
bool gort__safe_read(uintptr_t addr, void *buf, size_t n);

/* ===================================================================
 * Panics (panic.c)
 * =================================================================== */

/* Starts a panic with a runtime error raised by a signal; @info is printed
 * as Go's "[signal ...]" line if the panic is not recovered. */
_Noreturn void gort__panic_signal(const gort_error *err, int sig, int code,
                                  uintptr_t addr, uintptr_t pc);
/* Prints Go's "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0
 * pc=0x...]" line. */
void gort__print_signal_line(gort__out *o, int sig, int code, uintptr_t addr,
                             uintptr_t pc);
/* Whether the calling thread is inside the panic loop's own code (not a
 * deferred call): a fault there is gort's bug, never a panic. */
bool gort__in_panic_machinery(void);
/* Whether the calling goroutine has a deferred call pending. */
bool gort__has_defers(void);

/* ===================================================================
 * Signals (signal.c)
 * =================================================================== */

/* Installs the fatal-signal handlers and the calling thread's alternate
 * signal stack; idempotent per thread. */
void gort__signal_init(void);
/* Gives the calling thread an alternate signal stack (unless it has a big
 * enough one) and records its stack bounds; idempotent. */
void gort__signal_thread_init(void);
/* Frees what gort__signal_thread_init() set up (thread end, detach). */
void gort__signal_thread_fini(void);
/* The calling thread's crash nesting (runtime.c): 0 when it is not inside
 * a crash report, else the number of gort__crash_enter() calls so far. */
int gort__crash_depth(void);

/* ===================================================================
 * Debug settings (runtime.c): GORTDEBUG, read at process start
 * =================================================================== */

typedef struct gort__debug_settings {
    unsigned deferpcstack; /* 1: trace defer push/run */
    unsigned mapstrict;    /* 1: atomic RMW on the map writing flag */
    unsigned rcufence;     /* 1: read sections use fences, not membarrier */
    bool has_mapseed;      /* mapseed given */
    uint64_t mapseed;      /* fixed map hash seed */
} gort__debug_settings;

extern gort__debug_settings gort__debug;

/* Runs once at load: GORTDEBUG, signals, symbolizer. */
void gort__runtime_init(void);

/* ===================================================================
 * Defer internals shared with panic.c (defer.c)
 * =================================================================== */

/* Returns a pooled record (and its heap argument) to the pool. */
void gort__defer_release(gort__defer *d);

/* The newest pending call of a frame: what to call, and its pooled record
 * (NULL for a plain slot). */
typedef struct gort__call {
    void (*fn)(void *); /* may be NULL for a record with GORT__DEFER_NIL_FN */
    void *arg;
    gort__defer *rec;
} gort__call;
void gort__frame_top(const gort__frame *fr, gort__call *c);
/* Pops the newest pending call (clearing GORT__STARTED) and releases its
 * record. */
void gort__frame_drop_top(gort__frame *fr);

/* Resumes at the gort__setjmp() that filled buf, which returns 1. */
_Noreturn void gort__longjmp(void **buf);
/* Frees the calling thread's record pool (thread exit). */
void gort__defer_pool_free(void);
/* Prints the trace line of a (traced, pooled) deferred call about to run. */
void gort__defer_trace_run(const gort__frame *fr, const gort__defer *d,
                           const char *why);
/* Calls fn(arg) and stores, before the call, the stack pointer the callee
 * will see as its canonical frame address (Go's argp). */
void gort__call_deferred(void (*fn)(void *), void *arg, uintptr_t *argp);
/* The return address of the call inside gort__call_deferred: a function
 * returning there was called (or tail-called) by the panic machinery. */
extern const char gort__call_deferred_ret[];

#endif /* GORT_RUNTIME_INTERNAL_H */
