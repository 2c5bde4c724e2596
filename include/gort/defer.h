/*
 * gort/defer.h - Go's defer, panic and recover for C.
 *
 * A function opens a defer frame with GORT_FRAME (void functions) or
 * GORT_FRAME_RETURN(expr) (functions returning a value), then registers
 * deferred calls with gort_defer()/gort_defer_copy().  Every return from
 * the function, and falling off the end of a void function, runs the
 * frame's deferred calls in LIFO order, exactly like Go's defer.
 *
 *     static int parse(const char *path)
 *     {
 *         volatile int result = -1;     // read after a recovered panic
 *         FILE *f = fopen(path, "r");
 *         GORT_FRAME_RETURN(result);
 *         if (f == NULL)
 *             return -1;
 *         gort_defer(close_file, f);
 *         gort_defer(recover_parse_error, (void *)&result);
 *         ...
 *         result = 0;
 *         return result;
 *     }
 *
 * gort_panic() starts a panic: the deferred calls of the goroutine (the
 * thread) run, newest first, and a deferred call that calls gort_recover()
 * stops the panic; the frame that registered that deferred call then
 * returns normally (GORT_FRAME_RETURN's expression is its value).  A panic
 * nobody recovers prints Go's crash output ("panic: ...", the goroutine's
 * traceback) and exits with status 2.
 *
 * Implementation notes for readers of this header: the frame lives on the
 * stack of the function that opens it; it holds the resume point a
 * recovered panic jumps to and eight two-word slots {fn, arg}, so the
 * common case never allocates (Go's open-coded defers); other calls use
 * pooled records.  The frames of a goroutine form one chain (with their
 * calls, Go's g._defer), which the panic loop in src/panic.c walks.
 * Everything named gort__ is private; docs/design/defer.md explains it.
 */
#ifndef GORT_DEFER_H
#define GORT_DEFER_H

#include <gort/common.h>

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

GORT_BEGIN_DECLS

/* ===================================================================
 * Types
 * =================================================================== */

/**
 * struct gort_error - an error value a panic can carry (Go's error).
 * @msg:     the complete text printed after "panic: ", including a
 *           "runtime error: " prefix where Go prints one.
 * @runtime: true for Go's runtime.Error values raised by gort itself.
 *
 * Users define their own errors statically:
 *     static const gort_error err_closed = { "file already closed", false };
 * Fields are only ever added at the end.
 */
typedef struct gort_error {
    const char *msg; /* never NULL */
    bool runtime;    /* runtime.Error */
} gort_error;

/* What gort_recover() returns: the value of the panic it stopped.  Opaque;
 * read it with gort_panic_message() and gort_panic_error(). */
typedef struct gort_panic_info gort_panic_info;

/* Go's runtime errors raised by gort, for comparisons by address. */
GORT_API extern const gort_error gort_err_nil_map_write;  /* "assignment to entry in nil map" */
GORT_API extern const gort_error gort_err_nil_deref;      /* "runtime error: invalid memory address or nil pointer dereference" */
GORT_API extern const gort_error gort_err_panic_nil;      /* "panic called with nil argument" */
GORT_API extern const gort_error gort_err_divide;         /* "runtime error: integer divide by zero" */

/* ===================================================================
 * Frames and deferred calls
 * =================================================================== */

/**
 * GORT_FRAME - open the defer frame of a void function.
 *
 * Place it in the function's outermost block, before the first
 * gort_defer(); declarations may precede it.  After a recovered panic the
 * function runs its remaining deferred calls and executes `return;`.
 * As with setjmp, locals changed after GORT_FRAME and read after a
 * recovered panic must be volatile (with GCC, having their address taken
 * is enough; clang, as the C standard allows, only honours volatile).
 */
#define GORT_FRAME GORT__FRAME_OPEN(return)

/**
 * GORT_FRAME_RETURN - open the defer frame of a non-void function.
 * @expr: the value the function returns after a recovered panic; it is
 *        evaluated after every deferred call of the frame has run, so a
 *        deferred call may change it (Go's named results).  Locals it
 *        reads must be declared before the macro and, if they change after
 *        it, be volatile (GCC also honours locals whose address is taken;
 *        clang, as the C standard allows for setjmp, does not).
 */
#define GORT_FRAME_RETURN(expr) GORT__FRAME_OPEN(return (expr))

/**
 * gort_defer - register a deferred call in the enclosing frame.
 * @fn:  void (*)(void *); NULL is allowed and panics with Go's
 *       nil-dereference runtime error when the call is run, not now
 *       (Go's test/defernil.go).
 * @arg: passed to @fn as is.
 *
 * Does not compile outside a function that opened a frame.
 * Ownership: @arg stays the caller's.  Thread-safety: per goroutine.
 * Allocation: none for the first eight defers of a frame; later ones, a
 * NULL @fn and every defer while GORTDEBUG=deferpcstack=1 traces use
 * records from a per-thread pool (malloc'd in blocks, reused).
 */
#define gort_defer(fn, arg)                                                    \
    do {                                                                       \
        static const gort__site gort__site_ = {__FILE__, __func__, __LINE__, 0};\
        gort__defer_push(&gort__frame_, (fn), (void *)(arg), &gort__site_);   \
    } while (0)

/**
 * gort_defer_copy - register a deferred call with a copied argument.
 * @fn:   void (*)(void *).
 * @arg:  pointer to @size bytes, copied now (Go evaluates a deferred
 *        call's arguments at the defer statement).
 * @size: any size; up to 16 bytes are stored in the record, larger
 *        copies go to the heap and are freed after the call.
 *
 * @fn receives a pointer to the copy, aligned for any type, valid during
 * the call.  Fatal errors: "gort_defer_copy: NULL argument with a
 * non-zero size"; allocation failure is "runtime: out of memory".
 */
#define gort_defer_copy(fn, arg, size)                                         \
    do {                                                                       \
        static const gort__site gort__site_ = {__FILE__, __func__, __LINE__, 0};\
        gort__defer_push_copy(&gort__frame_, (fn), (arg), (size),              \
                              &gort__site_);                                   \
    } while (0)

/* ===================================================================
 * Panic and recover
 * =================================================================== */

/**
 * gort_panic - start a panic whose value is a formatted string.
 * @fmt: printf format; NULL behaves like Go >= 1.21 panic(nil): the value
 *       becomes the runtime error "panic called with nil argument".
 *
 * Runs the goroutine's deferred calls; if none recovers, prints
 * "panic: <message>" and the traceback and exits with status 2.
 */
GORT_API GORT_NORETURN void gort_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/**
 * gort_panic_err - start a panic whose value is an error.
 * @err: the error; it must outlive the panic (errors are usually static).
 *       NULL behaves like gort_panic(NULL).
 */
GORT_API GORT_NORETURN void gort_panic_err(const gort_error *err);

/**
 * gort_repanic - panic again with the value of a recovered panic.
 * @p: what gort_recover() returned, used while it is valid.
 *
 * Beyond the SPEC's names: Go's `panic(recover())` in one call; string
 * values are copied, error values keep their identity.
 */
GORT_API GORT_NORETURN void gort_repanic(const gort_panic_info *p);

/**
 * gort_recover - stop the current panic.
 *
 * Return: the panic's value, or NULL when the goroutine is not panicking,
 * when the caller is not a deferred call run by the panic machinery, or
 * when the caller was not registered directly with gort_defer (Go's rule:
 * recover works only when called directly by the deferred function).  The
 * value is valid until the deferred call that recovered it returns.
 * Thread-safety: per goroutine.
 */
GORT_API const gort_panic_info *gort_recover(void);

/* A direct call `gort_recover()` passes the caller's canonical frame
 * address, which must equal the one the panic gave the deferred call (Go's
 * exact argp check); the callee also checks, with a cached unwind-table
 * look-up, that the call comes from the deferred function itself.
 * (gort_recover)() and calls through a pointer reach the function above,
 * which finds its caller from the unwind tables. */
GORT_API const gort_panic_info *gort__recover_cfa(uintptr_t cfa);
#define gort_recover() gort__recover_cfa((uintptr_t)__builtin_dwarf_cfa())

/** gort_panic_message - the panic's text as printed after "panic: ". */
GORT_API const char *gort_panic_message(const gort_panic_info *p);

/** gort_panic_error - the panic's error value, or NULL for a string value. */
GORT_API const gort_error *gort_panic_error(const gort_panic_info *p);

/** gort_error_is_runtime - whether @err is one of Go's runtime.Error values. */
GORT_API bool gort_error_is_runtime(const gort_error *err);

/** gort_error_message - @err's message, verbatim. */
GORT_API const char *gort_error_message(const gort_error *err);

/**
 * gort_goexit - end the calling goroutine after running all its deferred
 * calls (Go's runtime.Goexit).  recover() returns NULL while they run.
 *
 * In the main goroutine (goroutine 1) the process keeps running until
 * every other goroutine has ended, then dies as Go does with
 * "fatal error: no goroutines (main called runtime.Goexit) - deadlock!"
 * and status 2.
 */
GORT_API GORT_NORETURN void gort_goexit(void);

/**
 * gort_signal_panics - turn nil-pointer faults into panics (opt-in).
 * @enable: true to enable.
 *
 * When enabled, a SIGSEGV (or SIGBUS) at an address below 4096 in a
 * thread that has a deferred call pending becomes the recoverable
 * runtime-error panic "runtime error: invalid memory address or nil
 * pointer dereference", and an integer division by zero (SIGFPE) the
 * panic "runtime error: integer divide by zero", as Go does: the signal
 * context is changed so that the faulting thread calls the panic.  Such a
 * fault in a thread that is already panicking or in Goexit becomes a
 * panic whatever the setting (Go prints the panic chain).  Other faults
 * always print Go's crash output and exit with status 2.  x86-64 only:
 * on other architectures faults are always reported, never panics.
 * Return: the previous setting.  Thread-safety: process-wide, any thread.
 */
GORT_API bool gort_signal_panics(bool enable);

/* ===================================================================
 * Private: everything below is used by the macros above.
 * =================================================================== */

#define GORT__FRAME_INLINE_DEFERS 8
#define GORT__ARGBUF_SIZE 16

typedef struct gort__site {
    const char *file; /* __FILE__ of the statement */
    const char *func; /* __func__ */
    int line;         /* __LINE__ */
    int resume_kind;  /* GORT__RESUME_* (GORT_FRAME sites only) */
} gort__site;

struct gort__frame;
struct gort_panic_info;

enum {
    GORT__DEFER_HEAP_ARG = 1, /* arg is a heap copy freed after the call */
    GORT__DEFER_NIL_FN = 2,   /* fn is NULL: panics when run */
};

/* A deferred call that needs more than two words (Go's runtime._defer):
 * an argument copied by gort_defer_copy, a NULL function, a traced defer,
 * or a frame's ninth and later calls.  Comes from a per-thread pool. */
typedef struct gort__defer {
    void (*fn)(void *);         /* may be NULL (GORT__DEFER_NIL_FN) */
    void *arg;                  /* passed to fn */
    struct gort__defer *link;   /* older overflow record, or pool link */
    const gort__site *site;     /* defer statement: file, func, line */
    uintptr_t pc;               /* site pc; filled only when traced */
    unsigned char flags;        /* GORT__DEFER_* */
    unsigned char argbuf[GORT__ARGBUF_SIZE] __attribute__((aligned(16))); /* small copies */
} gort__defer;

/* A plain deferred call: two words, like Go's open-coded defer slots. */
typedef struct gort__slot {
    void (*fn)(void *); /* NULL: arg is a gort__defer record */
    void *arg;          /* passed to fn */
} gort__slot;

/* High bit of gort__frame.n: call n-1 was started by a panic, a Goexit or
 * the slow return path and is still running (Go's d.started). */
#define GORT__STARTED 0x80000000u

enum {
    GORT__RESUME_BUILTIN = 0, /* __builtin_setjmp (GCC) */
    GORT__RESUME_LIBC = 1,    /* libc _setjmp (TSan, GORT_RESUME_LIBC) */
    GORT__RESUME_OWN = 2,     /* gort__setjmp (clang on x86-64) */
};

/* A function's defer frame: on the function's stack, linked on the
 * goroutine's frame chain from GORT_FRAME until the function returns. */
typedef struct gort__frame {
    struct gort__frame *link;      /* older frame of the goroutine */
    unsigned n;                    /* pending calls: slots[0..min(n,8)), then
                                      the overflow list; | GORT__STARTED */
    struct gort_panic_info *panic; /* panic running call n-1 (if STARTED) */
    const gort__site *site;        /* the GORT_FRAME statement */
    gort__defer *overflow;         /* calls 9..n, newest first (n > 8) */
    gort__slot slots[GORT__FRAME_INLINE_DEFERS]; /* uninitialised until used */
    union {
        void *builtin[5]; /* __builtin_setjmp buffer */
        void *own[8];     /* gort__setjmp: rbx rbp r12-r15 rsp rip */
        jmp_buf libc;     /* setjmp buffer (sanitizer builds) */
    } resume;             /* where a recovered panic jumps to; last field */
} gort__frame;

/* Per-goroutine (per-thread) state that the inline fast paths touch. */
typedef struct gort__gstate {
    gort__frame *frames;            /* newest open frame, NULL when none */
    struct gort_panic_info *panics; /* newest panic, NULL when not panicking */
    gort__defer *pool;              /* free pooled records */
} gort__gstate;

#define gort__g GORT__ABI(gort__g) /* common.h: the layout's number */
GORT_API extern __thread gort__gstate gort__g
    __attribute__((tls_model("initial-exec")));

/* Non-zero when GORTDEBUG asks for tracing: every defer then takes the
 * slow path, which records and prints its site. */
#define gort__debug_defer GORT__ABI(gort__debug_defer)
GORT_API extern unsigned gort__debug_defer;

GORT_API void gort__defer_push_slow(gort__frame *fr, void (*fn)(void *),
                                    void *arg, const gort__site *site);
GORT_API void gort__defer_push_copy(gort__frame *fr, void (*fn)(void *),
                                    const void *arg, size_t size,
                                    const gort__site *site);
GORT_API void gort__frame_run_one(gort__frame *fr);
GORT_API GORT_NORETURN void gort__frame_corrupt(gort__frame *fr);
/* gort__frame_close found @fr off the top of the chain: returns only
 * while a thread gort did not start is ending by gort_goexit (its frames
 * already ran and left the chain), else gort__frame_corrupt. */
GORT_API void gort__frame_unlinked(gort__frame *fr);

/* The resume point.  With GCC, __builtin_setjmp: it stores three words
 * and lets the compiler save the callee-saved registers in the prologue,
 * the cheapest option (bench/defer measures them).  Clang does not treat
 * __builtin_setjmp as returning twice (it would keep stale values of
 * locals a deferred call changed), so with clang gort uses its own
 * minimal setjmp, declared returns_twice.  TSan does not intercept either,
 * so TSan builds (and users who define GORT_RESUME_LIBC) use libc's
 * _setjmp, which it does intercept. */
GORT_API int gort__setjmp(void **buf) __attribute__((returns_twice));

#if defined(GORT__TSAN) || defined(GORT_RESUME_LIBC) ||                        \
    (defined(__clang__) && !defined(__x86_64__))
#define GORT__RESUME_KIND GORT__RESUME_LIBC
#define GORT__SETJMP(fr) _setjmp((fr).resume.libc)
#elif defined(__clang__)
#define GORT__RESUME_KIND GORT__RESUME_OWN
#define GORT__SETJMP(fr) gort__setjmp((fr).resume.own)
#else
#define GORT__RESUME_KIND GORT__RESUME_BUILTIN
#define GORT__SETJMP(fr) __builtin_setjmp((fr).resume.builtin)
#endif

#define GORT__FRAME_OPEN(ret)                                                  \
    gort__frame gort__frame_ __attribute__((cleanup(gort__frame_close)));      \
    do {                                                                       \
        static const gort__site gort__fsite_ = {__FILE__, __func__, __LINE__,  \
                                                GORT__RESUME_KIND};            \
        gort__frame_open(&gort__frame_, &gort__fsite_);                        \
    } while (0);                                                               \
    if (GORT_UNLIKELY(GORT__SETJMP(gort__frame_) != 0) &&                      \
        gort__frame_resumed(&gort__frame_))                                    \
    ret

static inline __attribute__((always_inline)) void
gort__frame_open(gort__frame *fr, const gort__site *site)
{
    fr->n = 0;
    fr->site = site;
    fr->link = gort__g.frames;
    gort__g.frames = fr;
    /* A fault may become a panic (gort_signal_panics) at any instruction:
     * the chain must be in memory before the function body runs. */
    __asm__ volatile("" ::: "memory");
}

/* Registers fn(arg) as the frame's newest call: two stores in the common
 * case (Go's open-coded defer); everything else is a pooled record. */
static inline __attribute__((always_inline)) void
gort__defer_push(gort__frame *fr, void (*fn)(void *), void *arg,
                 const gort__site *site)
{
    unsigned n = fr->n;
    if (GORT_LIKELY((n < GORT__FRAME_INLINE_DEFERS) & (fn != NULL) &
                    !gort__debug_defer)) {
        fr->slots[n].fn = fn;
        fr->slots[n].arg = arg;
        fr->n = n + 1;
        /* The call must be registered in memory before the code after the
         * defer statement runs: a fault there may become a panic that
         * reads the frame (the compiler would otherwise sink the stores
         * past loads it does not know can trap). */
        __asm__ volatile("" ::: "memory");
    } else {
        gort__defer_push_slow(fr, fn, arg, site);
    }
}

/* Calls the frame's pending calls newest first, each popped before its
 * call like Go's deferreturn.  Plain slots are called right here; pooled
 * records go through gort__frame_run_one(). */
static inline __attribute__((always_inline)) void
gort__frame_run(gort__frame *fr)
{
    unsigned n = fr->n;
    while (GORT_UNLIKELY(n != 0)) {
        void (*fn)(void *);
        n--;
        if (GORT_UNLIKELY(n >= GORT__FRAME_INLINE_DEFERS ||
                          (fn = fr->slots[n].fn) == NULL)) {
            gort__frame_run_one(fr);
        } else {
            fr->n = n;
            fn(fr->slots[n].arg);
        }
        n = fr->n;
    }
}

/* Runs at every exit of a function with a frame (cleanup attribute). */
static inline __attribute__((always_inline)) void
gort__frame_close(gort__frame *fr)
{
    gort__frame_run(fr);
    if (GORT_UNLIKELY(gort__g.frames != fr)) {
        gort__frame_unlinked(fr);
        return;
    }
    gort__g.frames = fr->link;
}

/* The resume point returned a second time: a deferred call of this frame
 * recovered a panic.  Runs the frame's remaining deferred calls first, so
 * that GORT_FRAME_RETURN's expression sees what they changed (Go's named
 * results), then lets the macro's `return` run, which closes the frame.
 * The empty asm with a memory clobber makes the compiler reload locals
 * whose address escaped. */
static inline __attribute__((always_inline)) int
gort__frame_resumed(gort__frame *fr)
{
    __asm__ volatile("" ::: "memory");
    gort__frame_run(fr);
    __asm__ volatile("" ::: "memory");
    return 1;
}

GORT_END_DECLS

#endif /* GORT_DEFER_H */
