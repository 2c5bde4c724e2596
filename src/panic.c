/*
 * panic.c - panic, recover and Goexit: the unwinding half of defer.
 *
 * Design.  A panic is a gort_panic_info record on the stack of the
 * function that raised it (Go's _panic), pushed on the goroutine's panic
 * list gort__g.panics.  gopanic() then runs the goroutine's pending
 * deferred calls, walking the frame chain newest first, exactly like Go
 * 1.19's gopanic:
 *
 *   - a frame with no call left belongs to a function the panic
 *     abandons: it is unlinked;
 *   - a call already started (by an earlier panic or by Goexit) is not
 *     run again; the panic that was running it is marked aborted, since a
 *     new panic has overtaken it, and the call is dropped;
 *   - otherwise the call is marked started (GORT__STARTED on the frame),
 *     the frame remembers the panic, and the function is called through
 *     gort__call_deferred(), which stores the callee's canonical frame
 *     address (CFA) in p->argp;
 *   - recover succeeds only when called directly by that deferred
 *     function (Go compares argp).  The gort_recover() macro passes its
 *     caller's CFA (__builtin_dwarf_cfa), which must equal p->argp, and
 *     gort__recover_cfa() also checks that its return address lies in the
 *     deferred function (a helper the deferred function tail-called would
 *     have the same CFA).  The function form, (gort_recover)(), finds its
 *     caller's CFA from the unwind tables (caller.c).  Both cache their
 *     unwind-table look-ups per return address.  Deviations from Go,
 *     documented in the tests and docs/design/defer.md: a helper the
 *     compiler inlined into the deferred function is the deferred
 *     function; a deferred function that tail-calls a helper that
 *     tail-calls recover is taken as calling it directly; a recover the
 *     compiler moved into the deferred function's ".cold" part fails;
 *   - after a deferred call that recovered, the frame that registered the
 *     call resumes: gopanic longjmps to the resume point GORT_FRAME saved,
 *     whose code runs the frame's remaining deferred calls and returns
 *     from the function (Go's recovery() + deferreturn).
 *
 * A panic nobody recovers prints Go's output: printpanics() lists the
 * panic chain oldest first ("panic: A [recovered]", then each later panic
 * after a tab), the "[signal ...]" line if a fault started it, a blank
 * line and the traceback, then exits with status 2.  Output goes through
 * gort__out (write(2), no stdio, no malloc) under the crash lock, so two
 * crashing goroutines never interleave (Go's paniclk).
 *
 * Goexit is a panic record flagged goexit that recover() ignores: it runs
 * every deferred call and ends the goroutine.  A panic raised and
 * recovered inside one of those calls returns to the Goexit loop, not to
 * the frame (Go 1.14+).
 *
 * Behaviour mirrors Go 1.19 runtime/panic.go (gopanic, gorecover,
 * Goexit, printpanics, fatalpanic) plus Go 1.21's panic(nil) rule; no
 * code is taken from it.
 */
#include "caller_internal.h"
#include "read_section_internal.h"
#include "runtime_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GORT__ASAN
void __asan_handle_no_return(void);
#endif

/* ===================================================================
 * Runtime error values
 * =================================================================== */

const gort_error gort_err_nil_map_write = {"assignment to entry in nil map", true};
const gort_error gort_err_nil_deref = {
    "runtime error: invalid memory address or nil pointer dereference", true};
const gort_error gort_err_panic_nil = {"panic called with nil argument", true};
const gort_error gort_err_divide = {"runtime error: integer divide by zero", true};

bool gort_error_is_runtime(const gort_error *err)
{
    return err != NULL && err->runtime;
}

const char *gort_error_message(const gort_error *err)
{
    return err != NULL ? err->msg : NULL;
}

/* ===================================================================
 * The panic record (Go's _panic)
 * =================================================================== */

enum { MSG_INLINE = 256 };

struct gort_panic_info {
    struct gort_panic_info *link; /* older panic of the goroutine */
    const gort_error *err;        /* error value, or NULL for a string */
    const char *msg;              /* text after "panic: "; never NULL */
    char *heap_msg;               /* msg when longer than buf, else NULL */
    uintptr_t argp;               /* CFA of the deferred call being run */
    void (*fn)(void *);           /* function of that deferred call */
    bool recovered;               /* recover() stopped it */
    bool aborted;                 /* a newer panic overtook it */
    bool goexit;                  /* a Goexit, not a panic */
    int sig;                      /* signal that raised it, or 0 */
    int sigcode;                  /* si_code of that signal */
    uintptr_t sigaddr;            /* fault address */
    uintptr_t sigpc;              /* faulting pc */
    jmp_buf *goexit_resume;       /* goexit: where a recovery returns */
    char buf[MSG_INLINE];         /* msg when it fits */
};

const char *gort_panic_message(const gort_panic_info *p)
{
    return p != NULL ? p->msg : NULL;
}

const gort_error *gort_panic_error(const gort_panic_info *p)
{
    return p != NULL ? p->err : NULL;
}

static void panic_init(gort_panic_info *p)
{
    memset(p, 0, offsetof(gort_panic_info, buf));
    p->buf[0] = '\0';
    p->msg = p->buf;
}

static void panic_set_error(gort_panic_info *p, const gort_error *err)
{
    if (err == NULL)
        err = &gort_err_panic_nil; /* Go 1.21: panic(nil) */
    p->err = err;
    p->msg = err->msg != NULL ? err->msg : "";
}

static void panic_set_vfmt(gort_panic_info *p, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(p->buf, sizeof p->buf, fmt, ap);
    if (n >= (int)sizeof p->buf) {
        /* Too long for the record: try the heap, keep the truncated text
         * if that fails (a panic must not die of its message). */
        char *m = malloc((size_t)n + 1);
        if (m != NULL) {
            vsnprintf(m, (size_t)n + 1, fmt, again);
            p->heap_msg = m;
            p->msg = m;
        }
    }
    va_end(again);
}

unsigned gort__own_panics(void)
{
    unsigned n = 0;
    for (const gort_panic_info *q = gort__g.panics; q != NULL; q = q->link)
        n += !q->goexit;
    return n;
}

/* Frees what a dropped panic owns; a panic (not a Goexit) is over. */
static void panic_drop(gort_panic_info *p)
{
    free(p->heap_msg);
    p->heap_msg = NULL;
    if (!p->goexit)
        atomic_fetch_sub_explicit(&gort__panicking, 1, memory_order_relaxed);
}

/* ===================================================================
 * Printing (printpanics, fatalpanic)
 * =================================================================== */

static void printpanics(gort__out *o, const gort_panic_info *p)
{
    if (p->link != NULL) {
        printpanics(o, p->link);
        if (!p->link->goexit)
            gort__out_str(o, "\t");
    }
    if (p->goexit)
        return;
    gort__out_str(o, "panic: ");
    gort__out_str(o, p->msg);
    if (p->recovered)
        gort__out_str(o, " [recovered]");
    gort__out_str(o, "\n");
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV: segmentation violation";
    case SIGBUS: return "SIGBUS: bus error";
    case SIGFPE: return "SIGFPE: floating-point exception";
    case SIGILL: return "SIGILL: illegal instruction";
    case SIGTRAP: return "SIGTRAP: trace trap";
    case SIGABRT: return "SIGABRT: abort";
    default: return NULL;
    }
}

void gort__print_signal_line(gort__out *o, int sig, int code, uintptr_t addr,
                             uintptr_t pc)
{
    const char *name = signame(sig);
    gort__out_str(o, "[signal ");
    if (name != NULL)
        gort__out_str(o, name);
    else
        gort__out_hex(o, (uint64_t)sig);
    gort__out_str(o, " code=");
    gort__out_hex(o, (uint64_t)(int64_t)code);
    gort__out_str(o, " addr=");
    gort__out_hex(o, addr);
    gort__out_str(o, " pc=");
    gort__out_hex(o, pc);
    gort__out_str(o, "]\n");
}

static _Noreturn void fatalpanic(gort_panic_info *p)
{
    gort__crash_enter();
    gort__out o;
    gort__out_init(&o, 2);
    printpanics(&o, p);
    for (const gort_panic_info *q = p; q != NULL; q = q->link) {
        if (q->sig != 0) {
            gort__print_signal_line(&o, q->sig, q->sigcode, q->sigaddr,
                                    q->sigpc);
            break;
        }
    }
    gort__out_str(&o, "\n");
    gort__traceback_print(&o, NULL);
    gort__out_flush(&o);
    gort__crash_exit();
}

/* ===================================================================
 * The panic loop (gopanic)
 * =================================================================== */

static _Noreturn void resume_frame(gort__frame *fr)
{
#ifdef GORT__ASAN
    /* ASan must forget the poisoned redzones of the frames we skip. */
    __asan_handle_no_return();
#endif
    switch (fr->site->resume_kind) {
    case GORT__RESUME_BUILTIN: __builtin_longjmp(fr->resume.builtin, 1);
#if defined(__x86_64__)
    case GORT__RESUME_OWN: gort__longjmp(fr->resume.own);
#endif
    default: longjmp(fr->resume.libc, 1);
    }
}

/* A deferred NULL function, run by a panic or Goexit: Go faults calling
 * the nil func value; report it as that fault, at the caller's pc. */
__attribute__((noinline)) static _Noreturn void nil_func_during_panic(void)
{
    gort__panic_signal(&gort_err_nil_deref, SIGSEGV, SEGV_MAPERR, 0,
                       (uintptr_t)__builtin_return_address(0));
}

/* Set while this thread runs the panic loop's own bookkeeping (not the
 * deferred calls): a fault then is a bug in gort, which must not be
 * turned into yet another panic (Go: "unexpected signal during runtime
 * execution"). */
static __thread bool in_panic_loop __attribute__((tls_model("initial-exec")));

bool gort__in_panic_machinery(void)
{
    return in_panic_loop;
}

/* The next call a panic or Goexit p runs, newest first (Go's loop over
 * gp._defer): frames with no call left belong to functions p abandons and
 * are unlinked; a call already started by an earlier panic or Goexit is
 * dropped, and that panic is overtaken (aborted).  The call found is
 * marked started by p.  Returns its frame, or NULL when none is left. */
static gort__frame *start_next_call(gort__gstate *g, gort_panic_info *p,
                                    gort__call *c)
{
    for (;;) {
        gort__frame *fr = g->frames;
        if (fr == NULL)
            return NULL;
        if (fr->n == 0) {
            g->frames = fr->link;
            continue;
        }
        if (fr->n & GORT__STARTED) {
            if (fr->panic != NULL)
                fr->panic->aborted = true;
            gort__frame_drop_top(fr);
            continue;
        }
        gort__frame_top(fr, c);
        fr->n |= GORT__STARTED;
        fr->panic = p;
        if (c->rec != NULL) {
            if (gort__debug_defer)
                gort__defer_trace_run(fr, c->rec, p->goexit ? "goexit" : "panic");
            if (c->rec->flags & GORT__DEFER_NIL_FN)
                nil_func_during_panic(); /* a nested panic drops it */
        }
        p->fn = c->fn;
        return fr;
    }
}

/* The call started by start_next_call() returned normally: pop it. */
static void finish_call(gort__gstate *g, gort__frame *fr, gort_panic_info *p)
{
    if (g->frames != fr || !(fr->n & GORT__STARTED) || fr->panic != p)
        gort__fatal(p->goexit ? "bad defer entry in Goexit"
                              : "bad defer entry in panic");
    gort__frame_drop_top(fr);
}

__attribute__((noinline)) static _Noreturn void gopanic(gort_panic_info *p)
{
    gort__gstate *g = &gort__g;
    in_panic_loop = true;
    /* The symbolizer may be needed soon; load it while the heap is sane. */
    gort__traceback_prepare();
    p->link = g->panics;
    g->panics = p;
    /* Relaxed: main's exit only polls it (runtime.c); no data goes with
     * it. */
    atomic_fetch_add_explicit(&gort__panicking, 1, memory_order_relaxed);

    gort__frame *fr;
    gort__call c;
    while ((fr = start_next_call(g, p, &c)) != NULL) {
        in_panic_loop = false;
        gort__call_deferred(c.fn, c.arg, &p->argp);
        in_panic_loop = true;
        finish_call(g, fr, p);
        if (p->recovered) {
            g->panics = p->link;
            panic_drop(p);
            if (g->panics != NULL && g->panics->goexit &&
                g->panics->aborted) {
                /* Recovering must not cancel a Goexit: go back to its
                 * loop, which runs the remaining deferred calls. */
                gort_panic_info *ge = g->panics;
                ge->aborted = false;
                in_panic_loop = false;
#ifdef GORT__ASAN
                __asan_handle_no_return();
#endif
                longjmp(*ge->goexit_resume, 1);
            }
            /* Panics overtaken by this one are done too. */
            while (g->panics != NULL && g->panics->aborted) {
                panic_drop(g->panics);
                g->panics = g->panics->link;
            }
            /* The abandoned code will not close its read sections. */
            gort__read_recover(fr);
            in_panic_loop = false;
            resume_frame(fr);
        }
    }
    fatalpanic(p);
}

/* ===================================================================
 * Public entry points
 * =================================================================== */

void gort_panic(const char *fmt, ...)
{
    gort_panic_info p;
    panic_init(&p);
    if (fmt == NULL) {
        panic_set_error(&p, NULL);
    } else if (strchr(fmt, '%') == NULL && strlen(fmt) < sizeof p.buf) {
        /* A plain message, the common gort_panic("literal"): copied (the
         * caller's string may not outlive the deferred calls), without
         * the cost of vsnprintf. */
        memcpy(p.buf, fmt, strlen(fmt) + 1);
    } else {
        va_list ap;
        va_start(ap, fmt);
        panic_set_vfmt(&p, fmt, ap);
        va_end(ap);
    }
    gopanic(&p);
}

void gort_panic_err(const gort_error *err)
{
    gort_panic_info p;
    panic_init(&p);
    panic_set_error(&p, err);
    gopanic(&p);
}

void gort_repanic(const gort_panic_info *old)
{
    gort_panic_info p;
    panic_init(&p);
    if (old == NULL || old->err != NULL) {
        panic_set_error(&p, old != NULL ? old->err : NULL);
    } else {
        size_t n = strlen(old->msg);
        if (n < sizeof p.buf) {
            memcpy(p.buf, old->msg, n + 1);
        } else {
            p.heap_msg = strdup(old->msg);
            if (p.heap_msg != NULL) {
                p.msg = p.heap_msg;
            } else { /* keep what fits, as gort_panic does */
                memcpy(p.buf, old->msg, sizeof p.buf - 1);
                p.buf[sizeof p.buf - 1] = '\0';
            }
        }
    }
    gopanic(&p);
}

void gort__panic_signal(const gort_error *err, int sig, int code,
                        uintptr_t addr, uintptr_t pc)
{
    gort_panic_info p;
    panic_init(&p);
    panic_set_error(&p, err);
    p.sig = sig;
    p.sigcode = code;
    p.sigaddr = addr;
    p.sigpc = pc;
    gopanic(&p);
}

/* ===================================================================
 * recover
 * =================================================================== */

/* The direct call gort_recover() (a macro): the caller passes its own
 * CFA, which must be the deferred call's (Go's argp check), and the call
 * must come from the deferred function's code: a deferred function that
 * tail-called a helper has the helper's frame at that CFA. */
__attribute__((noinline)) const gort_panic_info *gort__recover_cfa(uintptr_t cfa)
{
    gort_panic_info *p = gort__g.panics;
    if (p == NULL || p->goexit || p->recovered || cfa != p->argp)
        return NULL;
    /* Returning straight into the panic machinery means the deferred
     * function tail-called us, after computing its own CFA. */
    uintptr_t ret = (uintptr_t)__builtin_return_address(0);
    if (ret != (uintptr_t)gort__call_deferred_ret &&
        !gort__is_function(gort__function_start(ret), (uintptr_t)p->fn))
        return NULL;
    p->recovered = true;
    return p;
}

/* The function behind the gort_recover() macro of <gort/defer.h>, for
 * (gort_recover)(), calls through a pointer and `defer recover()`. */
__attribute__((noinline)) const gort_panic_info *(gort_recover)(void)
{
    gort_panic_info *p = gort__g.panics;
    if (p == NULL || p->goexit || p->recovered)
        return NULL;
    uintptr_t ret = (uintptr_t)__builtin_return_address(0);
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (ret == (uintptr_t)gort__call_deferred_ret) {
        /* We return straight into the panic machinery: the deferred
         * function tail-called us (its frame replaced by ours, so our CFA
         * is p->argp), unless we are the deferred function ourselves:
         * `defer recover()` is called by the panic, not by a deferred
         * function, too early to recover, as in Go. */
        if ((uintptr_t)p->fn == (uintptr_t)(gort_recover) ||
            frame + 2 * sizeof(void *) != p->argp)
            return NULL;
    } else {
        /* Our caller must be the deferred function (its start), must
         * have called us and not a helper that tail-called us, and its
         * CFA must be the one the panic recorded (not a recursive call of
         * the deferred function). */
        uintptr_t start;
        bool direct;
        uintptr_t cfa = gort__caller_cfa(ret, frame, (uintptr_t)(gort_recover),
                                         &start, &direct);
        if (!gort__is_function(start, (uintptr_t)p->fn) || !direct ||
            cfa != p->argp)
            return NULL;
    }
    p->recovered = true;
    return p;
}

/* ===================================================================
 * Goexit
 * =================================================================== */

void gort_goexit(void)
{
    gort__gstate *g = &gort__g;
    gort_panic_info p;
    jmp_buf resume;
    panic_init(&p);
    p.goexit = true;
    p.goexit_resume = &resume;
    p.link = g->panics;
    g->panics = &p;
    /* A recovered panic inside one of our deferred calls comes back here
     * (see gopanic); the loop then goes on with the next record. */
    _setjmp(resume);
    gort__frame *fr;
    gort__call c;
    while ((fr = start_next_call(g, &p, &c)) != NULL) {
        gort__call_deferred(c.fn, c.arg, &p.argp);
        finish_call(g, fr, &p);
    }
    /* The goroutine ends: so do the panics this Goexit overtook (a
     * deferred call of theirs called it), never to be recovered. */
    for (gort_panic_info *q = p.link; q != NULL; q = q->link)
        panic_drop(q);
    g->panics = NULL;
    gort__goroutine_exit();
}
