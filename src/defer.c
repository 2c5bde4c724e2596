/*
 * defer.c - the defer chain: record pool, slow paths and the trace.
 *
 * Design.  Each goroutine (thread) owns one LIFO chain of defer records,
 * gort__g.defers, the analogue of Go's g._defer.  A record names the frame
 * that registered it (the frame sits on that function's stack, so its
 * address is the record's sp).  The chain is built by the inline
 * gort__defer_push() of <gort/defer.h> and unwound in two places: the
 * inline gort__frame_close() when a function returns (Go's deferreturn)
 * and the panic loop of panic.c (Go's gopanic).
 *
 * Storage mirrors Go's three kinds of defer records:
 *   - the frame holds eight records (Go's open-coded defers, limited to
 *     eight per function); pushing one is a handful of stores;
 *   - beyond eight, records come from a per-thread free list (Go's
 *     per-P deferpool), refilled with blocks of 64 records from malloc and
 *     released when the thread ends;
 *   - arguments copied by gort_defer_copy() live in the record when they
 *     fit in 16 bytes, otherwise on the heap until the call returns.
 * So the steady state never calls malloc (tests/defer check it).
 *
 * Invariants:
 *   - a frame's records are contiguous at the head of the chain while the
 *     frame's function runs code after its last gort_defer; frame->ndefers
 *     counts them;
 *   - a record with started set is never called again (Go's d.started);
 *   - a record is popped before its call on the normal-return path (Go's
 *     deferreturn), and after it when it owns a heap argument, so a panic
 *     in the call frees that argument when the panic loop drops it.
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

/* Frees the calling thread's pooled records.  They are unused by then: a
 * thread ends only after its last frame has returned. */
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

gort__defer *gort__defer_alloc(void)
{
    if (gort__g.pool == NULL)
        pool_refill();
    gort__defer *d = gort__g.pool;
    gort__g.pool = d->link;
    d->flags = GORT__DEFER_POOLED;
    return d;
}

void gort__defer_release(gort__defer *d)
{
    if (d->flags & GORT__DEFER_HEAP_ARG) {
        free(d->arg);
        d->arg = NULL;
    }
    if (d->flags & GORT__DEFER_POOLED) {
        d->link = gort__g.pool;
        gort__g.pool = d;
    }
    d->flags &= GORT__DEFER_POOLED;
}

/* ===================================================================
 * gort_defer_copy: arguments evaluated at the defer statement
 * =================================================================== */

static void trace_push(gort__defer *d, uintptr_t pc);

__attribute__((noinline)) void
gort__defer_push_copy(gort__frame *fr, void (*fn)(void *), const void *arg,
                      size_t size, const gort__site *site)
{
    /* Link first with no argument: the record is on the chain before any
     * allocation can fail, and it is traced once, with its argument. */
    gort__defer *d = gort__defer_link(fr, fn, NULL, site);
    if (size <= GORT__ARGBUF_SIZE) {
        d->arg = d->argbuf;
    } else {
        d->arg = gort__xmalloc(size);
        d->flags |= GORT__DEFER_HEAP_ARG;
    }
    if (size != 0) {
        GORT_CHECK_ARG(arg != NULL,
                       "gort_defer_copy: NULL argument with a non-zero size");
        memcpy(d->arg, arg, size);
    }
    if (GORT_UNLIKELY(gort__debug_defer))
        trace_push(d, (uintptr_t)__builtin_return_address(0));
}

/* ===================================================================
 * Normal-return path (Go's deferreturn), when the inline fast path in
 * <gort/defer.h> cannot handle the record at the head of the chain.
 * =================================================================== */

/* Raised when a deferred NULL function is run: Go faults calling the nil
 * func value and reports it as a nil dereference from a signal. */
static _Noreturn void nil_deferred_func(uintptr_t pc)
{
    gort__panic_signal(&gort_err_nil_deref, SIGSEGV, SEGV_MAPERR, 0, pc);
}

__attribute__((noinline)) void gort__frame_run(gort__frame *fr)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    while (fr->ndefers != 0) {
        gort__defer *d = gort__g.defers;
        if (d == NULL || d->frame != fr) {
            /* The frame's records are no longer at the head: a longjmp
             * (or a missing frame) skipped a function's exit. */
            const gort__site *s = fr->recs[0].site;
            gort__fatalf("defer chain corrupted at the return of %s (%s:%d): "
                         "a frame was skipped by longjmp or exited twice",
                         s->func, s->file, s->line);
        }
        if (gort__debug_defer)
            gort__defer_trace_run(d, "return");
        d->started = 1;
        if (d->flags & GORT__DEFER_NIL_FN) {
            gort__g.defers = d->link;
            fr->ndefers--;
            gort__defer_release(d);
            nil_deferred_func(pc);
        }
        if (d->flags & GORT__DEFER_HEAP_ARG) {
            /* Stay on the chain during the call: if it panics, the panic
             * loop drops the record and frees the argument. */
            d->fn(d->arg);
            GORT_ASSERT(gort__g.defers == d);
            gort__g.defers = d->link;
            fr->ndefers--;
            gort__defer_release(d);
        } else {
            void (*fn)(void *) = d->fn;
            void *arg = d->arg;
            gort__g.defers = d->link;
            fr->ndefers--;
            if (d->flags & GORT__DEFER_POOLED) {
                /* Keep a small copy alive: the pooled record may be
                 * reused by defers inside fn. */
                unsigned char copy[GORT__ARGBUF_SIZE]
                    __attribute__((aligned(16)));
                if (arg == d->argbuf) {
                    memcpy(copy, d->argbuf, sizeof copy);
                    arg = copy;
                }
                gort__defer_release(d);
                fn(arg);
            } else {
                fn(arg);
            }
        }
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

static unsigned chain_depth(const gort__defer *d)
{
    unsigned n = 0;
    for (; d != NULL; d = d->link)
        n++;
    return n;
}

static void trace_line(const char *what, const gort__defer *d)
{
    gort__out o;
    gort__out_init(&o, 2);
    gort__out_str(&o, "gort: defer ");
    gort__out_str(&o, what);
    gort__out_str(&o, " goroutine ");
    gort__out_dec(&o, gort_goid());
    gort__out_str(&o, " site ");
    gort__out_str(&o, d->site->func);
    gort__out_str(&o, " (");
    gort__out_str(&o, d->site->file);
    gort__out_str(&o, ":");
    gort__out_dec(&o, d->site->line);
    gort__out_str(&o, ") pc=");
    gort__out_hex(&o, d->pc);
    gort__out_str(&o, " sp=");
    gort__out_hex(&o, (uintptr_t)d->frame);
    gort__out_str(&o, " depth=");
    gort__out_dec(&o, chain_depth(gort__g.defers));
    gort__out_str(&o, "\n");
    gort__out_flush(&o);
}

static void trace_push(gort__defer *d, uintptr_t pc)
{
    d->pc = pc;
    trace_line("push", d);
}

__attribute__((noinline)) void gort__defer_traced_push(gort__defer *d)
{
    /* Our return address lies in the function that deferred: the site pc. */
    trace_push(d, (uintptr_t)__builtin_return_address(0));
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep our frame */
}

void gort__defer_trace_run(const gort__defer *d, const char *why)
{
    char what[32] = "run/";
    strncat(what, why, sizeof what - 5);
    trace_line(what, d);
}
