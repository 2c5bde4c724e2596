/*
 * defer.c - the defer chain: frames, pooled records, slow paths, trace.
 *
 * Design.  Each goroutine (thread) owns one LIFO chain of frames,
 * gort__g.frames: GORT_FRAME links the function's frame (on its stack)
 * at the head and the function's exit unlinks it.  A frame holds its
 * pending deferred calls newest last: up to eight two-word slots {fn, arg}
 * filled by the inline gort__defer_push() (Go's open-coded defers, also
 * limited to eight per function), then a list of pooled records.  The
 * chain of frames and their calls, newest first, is Go's g._defer chain;
 * it is unwound in two places: the inline gort__frame_close() when a
 * function returns (Go's deferreturn) and the panic loop of panic.c (Go's
 * gopanic), which walks the frames.
 *
 * Storage mirrors Go's kinds of defer records:
 *   - a plain call (non-NULL fn, argument passed as is) is two stores into
 *     the frame's slot array: nothing is allocated, nothing is linked;
 *   - anything else is a gort__defer record from a per-thread free list
 *     (Go's per-P deferpool), refilled with blocks of 64 records from
 *     malloc and released when the thread ends: a copied argument
 *     (gort_defer_copy: in the record when it fits in 16 bytes, else on
 *     the heap until the call returns), a NULL function (it must panic
 *     when run, not when deferred), a defer traced by GORTDEBUG (the
 *     record keeps its site and pc), and the ninth and later calls of a
 *     frame.  A slot whose fn is NULL holds such a record in arg; calls
 *     beyond the eighth are on the frame's overflow list.
 * So the steady state never calls malloc (tests/defer check it).
 *
 * Invariants:
 *   - gort__g.frames lists exactly the frames whose function is running,
 *     newest first; a frame whose function a panic abandons is unlinked
 *     by the panic loop once its calls are done;
 *   - frame->n counts the frame's pending calls; only call n-1 can be
 *     running under a panic or Goexit (GORT__STARTED set, frame->panic
 *     names it), and a started call is never called again (Go's
 *     d.started);
 *   - a call is popped before it runs on the normal-return path (Go's
 *     deferreturn), except one that owns a heap argument: it stays,
 *     started, so that a panic in the call frees the argument when the
 *     panic loop drops it.
 *
 * This file mirrors the behaviour, never the code, of Go 1.19
 * runtime/panic.go: deferproc, deferreturn, newdefer, freedefer.
 */
#include "runtime_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

__thread gort__gstate gort__g __attribute__((tls_model("initial-exec")));
unsigned gort__debug_defer;

/* ===================================================================
 * Record pool (Go's deferpool)
 * =================================================================== */

enum { POOL_BLOCK = 64 };

/* A malloc'd block of pooled records; blocks of a thread form a list so
 * they can be freed when the thread ends. */
typedef struct pool_block {
    struct pool_block *next; /* older block of the same thread */
    gort__defer recs[POOL_BLOCK];
} pool_block;

static __thread pool_block *blocks __attribute__((tls_model("initial-exec")));
static pthread_key_t pool_key;
static pthread_once_t pool_key_once = PTHREAD_ONCE_INIT;

/* Frees the calling thread's pooled records.  The caller makes sure they
 * are unused: the thread has no frame open (gort_thread_detach), or it is
 * ending (the pool key's destructor, after its last frame returned). */
void gort__defer_pool_free(void)
{
    pool_block *b = blocks;
    while (b != NULL) {
        pool_block *next = b->next;
        free(b);
        b = next;
    }
    blocks = NULL;
    gort__g.pool = NULL;
}

static void pool_free(void *unused)
{
    (void)unused;
    gort__defer_pool_free();
}

static void pool_key_create(void)
{
    if (pthread_key_create(&pool_key, pool_free) != 0)
        gort__fatal("runtime: cannot create the defer pool key");
}

static void pool_refill(void)
{
    pthread_once(&pool_key_once, pool_key_create);
    pool_block *b = gort__xmalloc(sizeof *b);
    b->next = blocks;
    blocks = b;
    /* Any non-NULL value makes the destructor run at thread exit. */
    pthread_setspecific(pool_key, b);
    for (int i = POOL_BLOCK - 1; i >= 0; i--) {
        b->recs[i].link = gort__g.pool;
        gort__g.pool = &b->recs[i];
    }
}

static gort__defer *defer_alloc(void)
{
    if (gort__g.pool == NULL)
        pool_refill();
    gort__defer *d = gort__g.pool;
    gort__g.pool = d->link;
    d->flags = 0;
    d->pc = 0;
    return d;
}

void gort__defer_release(gort__defer *d)
{
    if (d->flags & GORT__DEFER_HEAP_ARG) {
        free(d->arg);
        d->arg = NULL;
    }
    d->flags = 0;
    d->link = gort__g.pool;
    gort__g.pool = d;
}

/* ===================================================================
 * Pending calls of a frame
 * =================================================================== */

void gort__frame_top(const gort__frame *fr, gort__call *c)
{
    unsigned i = (fr->n & ~GORT__STARTED) - 1;
    gort__defer *d;
    if (i >= GORT__FRAME_INLINE_DEFERS) {
        d = fr->overflow;
    } else if (fr->slots[i].fn == NULL) {
        d = fr->slots[i].arg;
    } else {
        c->fn = fr->slots[i].fn;
        c->arg = fr->slots[i].arg;
        c->rec = NULL;
        return;
    }
    c->fn = d->fn;
    c->arg = d->arg;
    c->rec = d;
}

void gort__frame_drop_top(gort__frame *fr)
{
    gort__call c;
    gort__frame_top(fr, &c);
    unsigned n = fr->n & ~GORT__STARTED;
    if (n - 1 >= GORT__FRAME_INLINE_DEFERS)
        fr->overflow = c.rec->link;
    fr->n = n - 1;
    if (c.rec != NULL)
        gort__defer_release(c.rec);
}

bool gort__has_defers(void)
{
    for (const gort__frame *fr = gort__g.frames; fr != NULL; fr = fr->link)
        if (fr->n != 0)
            return true;
    return false;
}

/* Makes record d the frame's newest call. */
static void place(gort__frame *fr, gort__defer *d)
{
    unsigned n = fr->n;
    if (n < GORT__FRAME_INLINE_DEFERS) {
        fr->slots[n].fn = NULL;
        fr->slots[n].arg = d;
    } else {
        d->link = n == GORT__FRAME_INLINE_DEFERS ? NULL : fr->overflow;
        fr->overflow = d;
    }
    fr->n = n + 1;
}

static void trace_push(const gort__frame *fr, gort__defer *d, uintptr_t pc);

__attribute__((noinline)) void gort__defer_push_slow(gort__frame *fr,
                                                     void (*fn)(void *),
                                                     void *arg,
                                                     const gort__site *site)
{
    gort__defer *d = defer_alloc();
    d->fn = fn;
    d->arg = arg;
    d->site = site;
    if (fn == NULL)
        d->flags |= GORT__DEFER_NIL_FN;
    place(fr, d);
    if (GORT_UNLIKELY(gort__debug_defer))
        trace_push(fr, d, (uintptr_t)__builtin_return_address(0));
}

/* ===================================================================
 * gort_defer_copy: arguments evaluated at the defer statement
 * =================================================================== */

__attribute__((noinline)) void
gort__defer_push_copy(gort__frame *fr, void (*fn)(void *), const void *arg,
                      size_t size, const gort__site *site)
{
    if (size != 0)
        GORT_CHECK_ARG(arg != NULL,
                       "gort_defer_copy: NULL argument with a non-zero size");
    /* Allocate first: a failure (a fatal error) leaves the frame as it
     * was. */
    void *copy = size > GORT__ARGBUF_SIZE ? gort__xmalloc(size) : NULL;
    gort__defer *d = defer_alloc();
    d->fn = fn;
    d->site = site;
    if (fn == NULL)
        d->flags |= GORT__DEFER_NIL_FN;
    if (copy != NULL) {
        d->arg = copy;
        d->flags |= GORT__DEFER_HEAP_ARG;
    } else {
        d->arg = d->argbuf;
    }
    if (size != 0)
        memcpy(d->arg, arg, size);
    place(fr, d);
    if (GORT_UNLIKELY(gort__debug_defer))
        trace_push(fr, d, (uintptr_t)__builtin_return_address(0));
}

/* ===================================================================
 * Normal-return path (Go's deferreturn) for pooled records
 * =================================================================== */

/* Raised when a deferred NULL function is run: Go faults calling the nil
 * func value and reports it as a nil dereference from a signal. */
static _Noreturn void nil_deferred_func(uintptr_t pc)
{
    gort__panic_signal(&gort_err_nil_deref, SIGSEGV, SEGV_MAPERR, 0, pc);
}

__attribute__((noinline, noreturn)) void gort__frame_corrupt(gort__frame *fr)
{
    const gort__site *s = fr->site;
    gort__fatalf("defer chain corrupted at the return of %s (%s:%d): "
                 "a frame was skipped by longjmp or exited twice",
                 s->func, s->file, s->line);
}

void gort__frame_unlinked(gort__frame *fr)
{
    /* A thread gort did not start ends its gort_goexit with pthread_exit,
     * whose forced unwind, in code built with -fexceptions, runs the
     * cleanup of every frame on its stack: Goexit has already run their
     * deferred calls and taken them off the chain. */
    if (gort__goexit_unwinding && fr->n == 0)
        return;
    gort__frame_corrupt(fr);
}

/* Runs the frame's newest call when it is a pooled record (or beyond the
 * eighth), on behalf of the inline gort__frame_run(). */
__attribute__((noinline)) void gort__frame_run_one(gort__frame *fr)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    if (gort__g.frames != fr)
        gort__frame_corrupt(fr);
    gort__call c;
    gort__frame_top(fr, &c);
    gort__defer *d = c.rec;
    GORT_ASSERT(d != NULL);
    if (gort__debug_defer)
        gort__defer_trace_run(fr, d, "return");
    if (d->flags & GORT__DEFER_NIL_FN) {
        gort__frame_drop_top(fr);
        nil_deferred_func(pc);
    }
    if (d->flags & GORT__DEFER_HEAP_ARG) {
        /* Stay on the frame, started, during the call: if it panics, the
         * panic loop drops the record and frees the argument. */
        fr->n |= GORT__STARTED;
        fr->panic = NULL;
        c.fn(c.arg);
        GORT_ASSERT(gort__g.frames == fr && (fr->n & GORT__STARTED));
        gort__frame_drop_top(fr);
    } else {
        /* The record goes back to the pool before the call (defers inside
         * fn may reuse it): keep a small copied argument alive here. */
        unsigned char copy[GORT__ARGBUF_SIZE] __attribute__((aligned(16)));
        void *arg = c.arg;
        if (arg == d->argbuf) {
            memcpy(copy, d->argbuf, sizeof copy);
            arg = copy;
        }
        gort__frame_drop_top(fr);
        c.fn(arg);
    }
}

/* ===================================================================
 * Calling a deferred function with a known argp
 * =================================================================== */

/* The callee's canonical frame address is the stack pointer just before
 * the call instruction; gort_recover() compares its caller's CFA with it
 * (Go's p.argp == argp check in gorecover). */
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl gort__call_deferred\n"
        ".hidden gort__call_deferred\n"
        ".type gort__call_deferred, @function\n"
        "gort__call_deferred:\n"
        ".cfi_startproc\n"
        "    subq $8, %rsp\n" /* entry rsp = 8 mod 16: realign to 16 */
        ".cfi_adjust_cfa_offset 8\n"
        "    movq %rsp, (%rdx)\n" /* *argp = rsp at the call */
        "    movq %rdi, %rax\n"
        "    movq %rsi, %rdi\n"
        "    call *%rax\n"
        ".globl gort__call_deferred_ret\n"
        ".hidden gort__call_deferred_ret\n"
        "gort__call_deferred_ret:\n"
        "    addq $8, %rsp\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size gort__call_deferred, .-gort__call_deferred\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl gort__call_deferred\n"
        ".hidden gort__call_deferred\n"
        ".type gort__call_deferred, %function\n"
        "gort__call_deferred:\n"
        ".cfi_startproc\n"
        "    stp x29, x30, [sp, #-16]!\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset 29, -16\n"
        ".cfi_offset 30, -8\n"
        "    mov x29, sp\n"
        "    mov x3, sp\n"
        "    str x3, [x2]\n"
        "    mov x3, x0\n"
        "    mov x0, x1\n"
        "    blr x3\n"
        ".globl gort__call_deferred_ret\n"
        ".hidden gort__call_deferred_ret\n"
        "gort__call_deferred_ret:\n"
        "    ldp x29, x30, [sp], #16\n"
        ".cfi_def_cfa_offset 0\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size gort__call_deferred, .-gort__call_deferred\n");
#endif

/* ===================================================================
 * gort__setjmp / gort__longjmp: the resume point used with clang
 * =================================================================== */

/* The callee-saved registers of the SysV ABI, the stack pointer after the
 * return and the return address: what a resumed frame needs.  No signal
 * mask, no pointer mangling (glibc's _setjmp does both: its cost is
 * measured in bench/defer). */
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl gort__setjmp\n"
        ".type gort__setjmp, @function\n"
        "gort__setjmp:\n"
        ".cfi_startproc\n"
        "    movq %rbx, 0(%rdi)\n"
        "    movq %rbp, 8(%rdi)\n"
        "    movq %r12, 16(%rdi)\n"
        "    movq %r13, 24(%rdi)\n"
        "    movq %r14, 32(%rdi)\n"
        "    movq %r15, 40(%rdi)\n"
        "    leaq 8(%rsp), %rdx\n"
        "    movq %rdx, 48(%rdi)\n"
        "    movq (%rsp), %rdx\n"
        "    movq %rdx, 56(%rdi)\n"
        "    xorl %eax, %eax\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size gort__setjmp, .-gort__setjmp\n"
        ".globl gort__longjmp\n"
        ".hidden gort__longjmp\n"
        ".type gort__longjmp, @function\n"
        "gort__longjmp:\n"
        ".cfi_startproc\n"
        "    movq 0(%rdi), %rbx\n"
        "    movq 8(%rdi), %rbp\n"
        "    movq 16(%rdi), %r12\n"
        "    movq 24(%rdi), %r13\n"
        "    movq 32(%rdi), %r14\n"
        "    movq 40(%rdi), %r15\n"
        "    movq 48(%rdi), %rsp\n"
        "    movl $1, %eax\n"
        "    jmpq *56(%rdi)\n"
        ".cfi_endproc\n"
        ".size gort__longjmp, .-gort__longjmp\n");
#else
/* Other architectures use libc's _setjmp with clang (see defer.h). */
int gort__setjmp(void **buf)
{
    (void)buf;
    gort__fatal("gort__setjmp is only used on x86-64");
}
#endif

/* ===================================================================
 * GORTDEBUG=deferpcstack=1
 * =================================================================== */

static unsigned chain_depth(void)
{
    unsigned n = 0;
    for (const gort__frame *fr = gort__g.frames; fr != NULL; fr = fr->link)
        n += fr->n & ~GORT__STARTED;
    return n;
}

/* Writes @s, or if it is longer than @max bytes "..." and its last
 * @max - 3 bytes (a file path keeps its file name). */
static void trace_str(gort__out *o, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        gort__out_str(o, "...");
        s += n - (max - 3);
    }
    gort__out_str(o, s);
}

/* One line, one write(2) (gort__out's buffer holds 1024 bytes: the
 * function name and the file are capped so that the line fits, and lines
 * of goroutines tracing at once never mix). */
static void trace_line(const char *what, const gort__frame *fr,
                       const gort__defer *d)
{
    gort__out o;
    gort__out_init(&o, 2);
    gort__out_str(&o, "gort: defer ");
    gort__out_str(&o, what);
    gort__out_str(&o, " goroutine ");
    gort__out_dec(&o, gort_goid());
    gort__out_str(&o, " site ");
    trace_str(&o, d->site->func, 256);
    gort__out_str(&o, " (");
    trace_str(&o, d->site->file, 512);
    gort__out_str(&o, ":");
    gort__out_dec(&o, d->site->line);
    gort__out_str(&o, ") pc=");
    gort__out_hex(&o, d->pc);
    gort__out_str(&o, " sp=");
    gort__out_hex(&o, (uintptr_t)fr);
    gort__out_str(&o, " depth=");
    gort__out_dec(&o, chain_depth());
    gort__out_str(&o, "\n");
    gort__out_flush(&o);
}

static void trace_push(const gort__frame *fr, gort__defer *d, uintptr_t pc)
{
    d->pc = pc;
    trace_line("push", fr, d);
}

void gort__defer_trace_run(const gort__frame *fr, const gort__defer *d,
                           const char *why)
{
    char what[32] = "run/";
    strncat(what, why, sizeof what - 5);
    trace_line(what, fr, d);
}
