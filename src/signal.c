/*
 * signal.c - fatal signals: Go's crash output, and faults as panics.
 *
 * Design.  gort__signal_init() (run by the library constructor) installs
 * one handler for the synchronous signals Go's sigtable marks _SigPanic or
 * _SigThrow: SIGSEGV, SIGBUS, SIGFPE (Go panics when they come from Go
 * code) and SIGILL, SIGTRAP (Go throws).  SIGABRT is left alone: abort()
 * and assert() keep their C behaviour and core dumps.  The handler runs
 * on an alternate signal stack (SA_ONSTACK) so that a stack overflow can
 * still be reported, with SA_NODEFER and an empty mask so that a fault in
 * the crash report itself reaches it again ("Nested faults" below).
 *
 * Like Go's sighandler, the handler does as little as it can and makes
 * the faulting thread do the rest once it returns (Go's
 * sigctxt.preparePanic): it edits the saved context so that the thread
 * "calls" a function as if the faulting instruction had called it.  The
 * faulting pc is pushed as a return address (at rsp - 8, as Go does), the
 * arguments go in rdi/rsi/rdx/rcx/r8, the target in rax, and the pc
 * becomes gort__sigtramp_push, an assembly trampoline that aligns the stack and
 * calls the target.  The trampoline's unwind entry is a signal frame
 * (.cfi_signal_frame), so libgcc, gdb and the traceback treat the
 * faulting frame's pc as the faulting instruction, not as a return
 * address, exactly as Go treats the frame below sigpanic.  If the pc
 * itself is bad (a call through a NULL or non-code function pointer: pc
 * 0, or the fault address is the pc), nothing is pushed: the return
 * address of the bad call is already on the stack (Go's
 * shouldPushSigpanic) and the trampoline is gort__sigtramp_call, an ordinary
 * frame.  The target is one of:
 *
 *   - gort__panic_signal(err, sig, code, addr, pc): the fault becomes a
 *     panic, recovered by panic.c's normal longjmp machinery.  Only for a
 *     nil dereference (SIGSEGV, or SIGBUS BUS_ADRERR, at an address below
 *     4096: Go's panicmem test) or an integer division by zero (Go's
 *     panicdivide), raised by the kernel, and only when the user opted in
 *     with gort_signal_panics(true) and the thread has a deferred call
 *     pending, or when the thread is already panicking (Go's output then
 *     lists the panics in progress: panic.c prints that chain, and the
 *     deferred calls left run as in Go).
 *
 *   - gort__sigfatal(): every other fault.  The handler first claims the
 *     crash section (gort__crash_enter: a second crashing thread stops
 *     there for good) and saves the fault; the thread then prints Go's
 *     report outside the handler, so a ThreadSanitizer build does not
 *     flag libdw's allocations as signal-unsafe calls:
 *       nil dereference:   "panic: runtime error: invalid memory address or
 *                           nil pointer dereference" + "[signal ...]"
 *       other SIGSEGV/BUS: "unexpected fault address 0x..." +
 *                          "fatal error: fault" + "[signal ...]"
 *       SIGFPE:            "panic: runtime error: integer divide by zero"
 *                          (integer overflow, floating point error) +
 *                          "[signal ...]"
 *       SIGILL, SIGTRAP, or any signal sent by kill/tgkill/sigqueue
 *       (si_code <= 0):    "SIGILL: illegal instruction", "PC=0x... m=M
 *                          sigcode=N", for SIGILL/SIGFPE the instruction
 *                          bytes; after the traceback, the registers
 *     then a blank line, the traceback (the trampoline makes the faulting
 *     function the report's caller) and exit status 2.
 *
 * A stack overflow cannot be reported on the overflowed stack: it is
 * reported from the handler, on the alternate stack, with the traceback
 * unwound from the signal context: "runtime: goroutine stack exceeds
 * N-byte limit", "runtime: sp=... stack=[lo, hi]", "fatal error: stack
 * overflow" (under TSan that report draws TSan's signal-unsafe-call
 * warning first).  An overflow is a SIGSEGV whose address lies within 64
 * KiB below (or 256 bytes above) the stack pointer, or in the megabyte
 * below the thread's stack; N is that stack's size.  Stack bounds come
 * from pthread_getattr_np at thread start, and for the main thread from
 * /proc/self/maps and RLIMIT_STACK at the fault (at load time that read
 * would cost every process ~0.2 ms).  A thread too deep in its stack for
 * a report (REPORT_HEADROOM) is reported from the handler too.
 *
 * Nested faults.  A fault while the crash traceback unwinds or symbolizes
 * (gort__traceback_symbolizing) jumps back into it, which prints the rest
 * of the frames raw.  Any other fault on a thread already inside a crash
 * report is Go's startpanic_m nesting: "panic during panic" and a second
 * report from the handler, then "stack trace unavailable" (exit 4), then
 * exit 5.  No fault is turned into a panic while its thread reports a
 * crash.
 *
 * Alternate stacks.  Each thread gets a 64 KiB stack (mmap'd, a guard page
 * below, SS_AUTODISARM so that a handler overflowing it dies instead of
 * reusing it from the top) unless it already has one at least that big
 * (Go's minitSignalStack keeps a stack set by C code).  The main thread
 * gets it at load time, goroutines in gort__goroutine_entry, other threads
 * when they are first given a goroutine id (gort__getg), freed by a
 * thread-exit destructor; gort__signal_thread_fini() puts back the stack
 * that was there before and unmaps ours.  The handler itself needs
 * little: ~6 KiB measured for a full report, kernel signal frame
 * included (libdw's ~150 KiB run on traceback.c's crash stack), so 64 KiB
 * leaves room for sanitizer-instrumented builds.
 *
 * Sanitizers.  ASan installs its own SIGSEGV/SIGBUS/SIGFPE handlers
 * before us; by default (handle_segv=1, allow_user_segv_handler=1) our
 * sigaction replaces them, so a fault prints Go's report instead of
 * ASan's "SEGV on unknown address" (the bad accesses ASan detects itself
 * are reported by ASan as before), and signal panics work.
 * ASAN_OPTIONS=handle_segv=2 or allow_user_segv_handler=0 keeps ASan's
 * handler instead: gort's sigaction for those signals is then ignored,
 * ASan reports faults and signal panics are off.  ASan gives threads a
 * smaller alternate stack; ours replaces it and thread_fini puts it back
 * before ASan's thread teardown unmaps it.  TSan intercepts sigaction and
 * calls our handler at once for synchronous signals, with the real
 * context, so both redirects work there too.
 *
 * This mirrors the behaviour, never the code, of Go 1.19
 * runtime/signal_unix.go (sighandler, sigpanic, minitSignalStack),
 * signal_amd64.go (preparePanic, dumpregs) and panic.go (startpanic_m).
 *
 * Ordering guarantees: the opt-in flag is a relaxed atomic: it publishes
 * no data, a thread sees its own setting in program order, and other
 * threads see it eventually.  The saved fault is written by the handler
 * of the crash section's owner and read by that same thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runtime_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
    ALTSTACK_SIZE = 64 * 1024,  /* see "Alternate stacks" above */
    NIL_PAGE = 0x1000,          /* Go: faults below it are nil dereferences */
    OVERFLOW_BELOW_SP = 64 * 1024,
    OVERFLOW_ABOVE_SP = 256,
    OVERFLOW_BELOW_STACK = 1024 * 1024,
    REPORT_HEADROOM = 32 * 1024, /* stack a report needs (~6 KiB measured) */
};

static const int handled[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};

static _Atomic bool signal_panics; /* gort_signal_panics() */

typedef struct sigthread {
    bool init;           /* gort__signal_thread_init() ran */
    bool own_stack;      /* the alternate stack is ours */
    char *map;           /* our mapping: guard page + stack */
    size_t map_size;     /* its size */
    stack_t prev;        /* alternate stack before ours */
    uintptr_t stack_lo;  /* thread stack bounds; 0 if unknown */
    uintptr_t stack_hi;
} sigthread;

static __thread sigthread st __attribute__((tls_model("initial-exec")));
/* Inside our handler: pthread_getattr_np (it allocates) is off limits. */
static __thread volatile sig_atomic_t in_handler
    __attribute__((tls_model("initial-exec")));

static size_t page_size(void)
{
    unsigned long p = getauxval(AT_PAGESZ); /* a plain read: signal-safe */
    return p != 0 ? (size_t)p : 4096;
}

/* ===================================================================
 * Per-thread set-up: alternate stack, stack bounds
 * =================================================================== */

/* The main thread's stack, the way glibc's pthread_getattr_np computes
 * it (the [stack] mapping's end, RLIMIT_STACK below it), but with plain
 * syscalls: it runs in the handler, because at load time it would cost
 * ~0.2 ms (the kernel formatting /proc/self/maps) in every process. */
static void main_stack_bounds(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096], line[512];
    size_t len = 0;
    uintptr_t hi = 0;
    ssize_t n;
    while (hi == 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n && hi == 0; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof line - 1)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = '\0';
            size_t k = len;
            len = 0;
            if (k < 7 || strcmp(line + k - 7, "[stack]") != 0)
                continue;
            const char *p = strchr(line, '-');
            for (p = p != NULL ? p + 1 : line; *p != ' ' && *p != '\0'; p++) {
                int d = *p >= 'a' ? *p - 'a' + 10 : *p - '0';
                hi = hi * 16 + (uintptr_t)d;
            }
        }
    }
    close(fd);
    struct rlimit rl;
    if (hi == 0 || getrlimit(RLIMIT_STACK, &rl) != 0)
        return;
    uintptr_t size = rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < hi
                         ? (uintptr_t)rl.rlim_cur
                         : (uintptr_t)8 << 20;
    st.stack_lo = hi - size;
    st.stack_hi = hi;
}

static void record_stack_bounds(void)
{
    if (syscall(SYS_gettid) == getpid())
        return; /* main thread: main_stack_bounds(), when needed */
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        st.stack_lo = (uintptr_t)addr;
        st.stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

void gort__signal_thread_init(void)
{
    if (st.init)
        return;
    st.init = true;
    if (!in_handler)
        record_stack_bounds();

    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || (cur.ss_flags & SS_ONSTACK))
        return;
    if (!(cur.ss_flags & SS_DISABLE) && cur.ss_size >= ALTSTACK_SIZE)
        return; /* keep a big enough stack someone else set (Go does) */
    size_t page = page_size();
    size_t size = ALTSTACK_SIZE + page;
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return; /* no stack overflow reports on this thread */
    mprotect(m, page, PROT_NONE); /* guard page */
    stack_t ss;
    ss.ss_sp = m + page;
    ss.ss_size = ALTSTACK_SIZE;
#ifdef SS_AUTODISARM
    ss.ss_flags = SS_AUTODISARM;
    if (sigaltstack(&ss, &st.prev) != 0) {
        ss.ss_flags = 0; /* kernel older than 4.7 */
        if (sigaltstack(&ss, &st.prev) != 0) {
            munmap(m, size);
            return;
        }
    }
#else
    ss.ss_flags = 0;
    if (sigaltstack(&ss, &st.prev) != 0) {
        munmap(m, size);
        return;
    }
#endif
    st.own_stack = true;
    st.map = m;
    st.map_size = size;
}

void gort__signal_thread_fini(void)
{
    if (!st.init)
        return;
    st.init = false;
    if (!st.own_stack)
        return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || (cur.ss_flags & SS_ONSTACK))
        return; /* running on it: leak it rather than pull it away */
    char *ours = st.map + page_size();
    if (!(cur.ss_flags & SS_DISABLE) && cur.ss_sp != ours)
        return; /* someone replaced it and may put it back: leak it */
    stack_t back = st.prev;
    if (back.ss_flags & SS_DISABLE) {
        back.ss_sp = NULL;
        back.ss_size = 0;
        back.ss_flags = SS_DISABLE;
    }
    if (sigaltstack(&back, NULL) != 0) {
        stack_t off = {NULL, SS_DISABLE, 0};
        sigaltstack(&off, NULL);
    }
    munmap(st.map, st.map_size);
    st.own_stack = false;
    st.map = NULL;
}

/* ===================================================================
 * Redirecting the faulting thread (Go's preparePanic)
 * =================================================================== */

bool gort_signal_panics(bool enable)
{
    return atomic_exchange_explicit(&signal_panics, enable, memory_order_relaxed);
}

#if defined(__x86_64__)
/* Both trampolines call *%rax with the arguments the handler put in rdi..r8,
 * on a 16-byte aligned stack (the faulting code's may be misaligned),
 * and never return.
 *
 * gort__sigtramp_push is entered as if called from the faulting
 * instruction: [rsp] holds the faulting pc.  .cfi_signal_frame makes
 * that pc a faulting instruction, not a return address, for libgcc's
 * unwinder, gdb and the traceback.  The push overwrites the last word of
 * the faulting function's red zone: only leaf functions use it, and a
 * leaf never resumes after the fault (recovery resumes a function with
 * a defer frame, which calls its deferred functions, so is no leaf).
 * Go pushes the same way; the kernel's 128 bytes below are not skipped,
 * which also keeps valgrind quiet about writes below the stack.
 *
 * gort__sigtramp_call is entered after a call through a bad pointer:
 * [rsp] is that call's return address, an ordinary frame. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl gort__sigtramp_push\n"
        ".hidden gort__sigtramp_push\n"
        ".type gort__sigtramp_push, @function\n"
        "gort__sigtramp_push:\n"
        ".cfi_startproc\n"
        ".cfi_signal_frame\n"
        "    pushq %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "    andq $-16, %rsp\n"
        "    call *%rax\n"
        "    ud2\n"
        ".cfi_endproc\n"
        ".size gort__sigtramp_push, .-gort__sigtramp_push\n"
        ".p2align 4\n"
        ".globl gort__sigtramp_call\n"
        ".hidden gort__sigtramp_call\n"
        ".type gort__sigtramp_call, @function\n"
        "gort__sigtramp_call:\n"
        ".cfi_startproc\n"
        "    pushq %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "    andq $-16, %rsp\n"
        "    call *%rax\n"
        "    ud2\n"
        ".cfi_endproc\n"
        ".size gort__sigtramp_call, .-gort__sigtramp_call\n");

void gort__sigtramp_push(void);
void gort__sigtramp_call(void);
#endif

/* A call through a bad function pointer: the pc is not code. */
static bool bad_pc(int sig, uintptr_t pc, uintptr_t addr)
{
    return pc == 0 || (sig == SIGSEGV && addr == pc);
}

/* Makes the faulting thread, once the handler returns, call
 * fn(a0, a1, a2, a3, a4) as if the faulting instruction had called it
 * (after a call through a bad pointer: as if that call had).  Refuses if
 * the thread's stack, when known, lacks @headroom bytes. */
static bool redirect(ucontext_t *uc, int sig, uintptr_t addr, uintptr_t fn,
                     uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3,
                     uintptr_t a4, size_t headroom)
{
#if defined(__x86_64__)
    greg_t *r = uc->uc_mcontext.gregs;
    uintptr_t pc = gort__uc_pc(uc), sp = gort__uc_sp(uc);
    uintptr_t nsp = sp - sizeof(uintptr_t);
    if (st.stack_lo != 0 &&
        (nsp < st.stack_lo + headroom || sp > st.stack_hi))
        return false; /* not on the stack we know, or too deep in it */
    if (bad_pc(sig, pc, addr)) {
        r[REG_RIP] = (greg_t)(uintptr_t)gort__sigtramp_call;
    } else {
        *(uintptr_t *)nsp = pc;
        r[REG_RSP] = (greg_t)nsp;
        r[REG_RIP] = (greg_t)(uintptr_t)gort__sigtramp_push;
    }
    r[REG_RAX] = (greg_t)fn;
    r[REG_RDI] = (greg_t)a0;
    r[REG_RSI] = (greg_t)a1;
    r[REG_RDX] = (greg_t)a2;
    r[REG_RCX] = (greg_t)a3;
    r[REG_R8] = (greg_t)a4;
    r[REG_EFL] &= ~(greg_t)0x400; /* DF clear, as the ABI requires at a call */
    if (uc->uc_mcontext.fpregs != NULL) {
        /* Empty x87 stack, as at any call (a fault mid-computation may
         * leave values on it). */
        uc->uc_mcontext.fpregs->ftw = 0;
        uc->uc_mcontext.fpregs->swd &= (unsigned short)~0x3800;
    }
    return true;
#else
    /* Other architectures (aarch64) get no context rewrite: faults are
     * reported from the handler and never become panics (documented in
     * gort/defer.h's gort_signal_panics and docs/design/defer.md). */
    (void)uc, (void)sig, (void)addr, (void)fn, (void)a0, (void)a1;
    (void)a2, (void)a3, (void)a4, (void)headroom;
    return false;
#endif
}

/* The runtime error Go's sigpanic raises for this fault, or NULL if Go
 * would throw instead (panicmem, panicdivide). */
static const gort_error *panic_error(int sig, int code, uintptr_t addr)
{
    switch (sig) {
    case SIGSEGV:
        if ((code == SEGV_MAPERR || code == SEGV_ACCERR) && addr < NIL_PAGE)
            return &gort_err_nil_deref;
        return NULL;
    case SIGBUS:
        return code == BUS_ADRERR && addr < NIL_PAGE ? &gort_err_nil_deref : NULL;
    case SIGFPE:
        return code == FPE_INTDIV ? &gort_err_divide : NULL;
    default:
        return NULL;
    }
}

static bool is_stack_overflow(int sig, uintptr_t addr, uintptr_t sp)
{
    if (sig != SIGSEGV)
        return false;
    if (addr + OVERFLOW_BELOW_SP >= sp && addr <= sp + OVERFLOW_ABOVE_SP)
        return true;
    return st.stack_lo != 0 && addr < st.stack_lo + page_size() &&
           addr + OVERFLOW_BELOW_STACK >= st.stack_lo;
}

/* ===================================================================
 * Crash output (Go's sigpanic -> throw, sighandler, dopanic_m)
 * =================================================================== */

/* The fault being reported; written by the handler of the thread that
 * owns the crash section, read by the report (in the handler, or after
 * it returned). */
static struct {
    int sig;
    int code;         /* si_code */
    uintptr_t addr;   /* si_addr */
    uintptr_t pc;     /* faulting pc */
    uintptr_t sp;     /* stack pointer at the fault */
    bool overflow;    /* a stack overflow */
    bool in_runtime;  /* the fault hit gort's own panic loop */
    ucontext_t uc;    /* registers at the fault; fpregs pointer stale */
} fault;

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV: segmentation violation";
    case SIGBUS: return "SIGBUS: bus error";
    case SIGFPE: return "SIGFPE: floating-point exception";
    case SIGILL: return "SIGILL: illegal instruction";
    case SIGTRAP: return "SIGTRAP: trace trap";
    default: return NULL;
    }
}

static void out_udec(gort__out *o, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    gort__out_mem(o, tmp + i, sizeof tmp - (size_t)i);
}

static void print_instruction_bytes(gort__out *o, uintptr_t pc)
{
    /* Go prints 16 bytes, not crossing into the next page. */
    size_t n = 16, page = page_size();
    if (n > page - pc % page)
        n = page - pc % page;
    unsigned char b[16];
    gort__out_str(o, "instruction bytes:");
    if (gort__safe_read(pc, b, n)) {
        for (size_t i = 0; i < n; i++) {
            gort__out_str(o, " ");
            gort__out_hex(o, b[i]);
        }
    }
    gort__out_str(o, "\n");
}

static void dump_regs(gort__out *o, const ucontext_t *uc)
{
#if defined(__x86_64__)
    static const struct {
        const char *name;
        int reg;
    } regs[] = {
        {"rax    ", REG_RAX}, {"rbx    ", REG_RBX}, {"rcx    ", REG_RCX},
        {"rdx    ", REG_RDX}, {"rdi    ", REG_RDI}, {"rsi    ", REG_RSI},
        {"rbp    ", REG_RBP}, {"rsp    ", REG_RSP}, {"r8     ", REG_R8},
        {"r9     ", REG_R9},  {"r10    ", REG_R10}, {"r11    ", REG_R11},
        {"r12    ", REG_R12}, {"r13    ", REG_R13}, {"r14    ", REG_R14},
        {"r15    ", REG_R15}, {"rip    ", REG_RIP}, {"rflags ", REG_EFL},
    };
    const greg_t *r = uc->uc_mcontext.gregs;
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        gort__out_str(o, regs[i].name);
        gort__out_hex(o, (uint64_t)r[regs[i].reg]);
        gort__out_str(o, "\n");
    }
    /* REG_CSGSFS packs cs, gs and fs in 16-bit fields. */
    uint64_t seg = (uint64_t)r[REG_CSGSFS];
    gort__out_str(o, "cs     ");
    gort__out_hex(o, seg & 0xffff);
    gort__out_str(o, "\nfs     ");
    gort__out_hex(o, (seg >> 32) & 0xffff);
    gort__out_str(o, "\ngs     ");
    gort__out_hex(o, (seg >> 16) & 0xffff);
    gort__out_str(o, "\n");
#elif defined(__aarch64__)
    for (int i = 0; i < 31; i++) {
        gort__out_str(o, "r");
        gort__out_dec(o, i);
        gort__out_str(o, i < 10 ? "      " : "     ");
        gort__out_hex(o, uc->uc_mcontext.regs[i]);
        gort__out_str(o, "\n");
    }
    gort__out_str(o, "sp      ");
    gort__out_hex(o, uc->uc_mcontext.sp);
    gort__out_str(o, "\npc      ");
    gort__out_hex(o, uc->uc_mcontext.pc);
    gort__out_str(o, "\n");
#endif
}

static uint64_t stack_limit(void)
{
    if (st.stack_lo != 0)
        return st.stack_hi - st.stack_lo;
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return rl.rlim_cur;
    return 8 << 20; /* glibc's default thread stack */
}

/* The traceback of the report: from the signal context @uc when the
 * report runs in the handler, else from the caller (the trampoline made the
 * faulting frame look like the report's caller).  Either way a fault may
 * have hit inside malloc: the watchdog is armed. */
static void report_traceback(gort__out *o, ucontext_t *uc)
{
    if (uc == NULL) {
        gort__traceback_print_ctx(o, NULL, GORT__TB_WATCHDOG);
        return;
    }
    unsigned flags = GORT__TB_WATCHDOG;
    if (!fault.overflow && bad_pc(fault.sig, fault.pc, fault.addr)) {
        /* Nothing unwinds from a bad pc: start at the bad call's caller. */
        uintptr_t ret;
        if (gort__safe_read(fault.sp, &ret, sizeof ret)) {
#if defined(__x86_64__)
            uc->uc_mcontext.gregs[REG_RIP] = (greg_t)ret;
            uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(fault.sp + sizeof ret);
            flags |= GORT__TB_UC_RETURN;
#endif
        }
    }
    gort__traceback_print_ctx(o, uc, flags);
}

/* Prints Go's report of the fault and exits.  @depth is what
 * gort__crash_enter() returned; @uc is the live context in the handler,
 * NULL after a redirect. */
static _Noreturn void report(int depth, ucontext_t *uc)
{
    gort__out o;
    gort__out_init(&o, 2);
    int sig = fault.sig, code = fault.code;

    if (depth >= 2) {
        /* Go's startpanic_m: the report itself keeps failing. */
        if (depth == 2) {
            gort__out_str(&o, "stack trace unavailable\n");
            gort__out_flush(&o);
            _exit(4);
        }
        _exit(5);
    }
    if (depth == 1)
        gort__out_str(&o, "panic during panic\n");

    if (code <= 0 || sig == SIGILL || sig == SIGTRAP) {
        /* Sent by a program, or Go's _SigThrow: sighandler's report. */
        const char *name = signal_name(sig);
        if (name != NULL) {
            gort__out_str(&o, name);
        } else {
            gort__out_str(&o, "Signal ");
            gort__out_dec(&o, sig);
        }
        gort__out_str(&o, "\nPC=");
        gort__out_hex(&o, fault.pc);
        gort__out_str(&o, " m=");
        gort__out_dec(&o, gort_goid() - 1); /* threads are gort's Ms */
        gort__out_str(&o, " sigcode=");
        out_udec(&o, (uint64_t)(int64_t)code);
        gort__out_str(&o, "\n");
        if (sig == SIGILL || sig == SIGFPE)
            print_instruction_bytes(&o, fault.pc);
        gort__out_str(&o, "\n");
        report_traceback(&o, uc);
        gort__out_str(&o, "\n");
        dump_regs(&o, &fault.uc);
    } else if (fault.overflow) {
        gort__out_str(&o, "runtime: goroutine stack exceeds ");
        out_udec(&o, stack_limit());
        gort__out_str(&o, "-byte limit\n");
        if (st.stack_lo != 0) {
            gort__out_str(&o, "runtime: sp=");
            gort__out_hex(&o, fault.sp);
            gort__out_str(&o, " stack=[");
            gort__out_hex(&o, st.stack_lo);
            gort__out_str(&o, ", ");
            gort__out_hex(&o, st.stack_hi);
            gort__out_str(&o, "]\n");
        }
        gort__out_str(&o, "fatal error: stack overflow\n\n");
        report_traceback(&o, uc);
    } else {
        const gort_error *err = panic_error(sig, code, fault.addr);
        if (fault.in_runtime) {
            /* Go's sighandler when the fault is in the runtime itself. */
            gort__out_str(&o, "fatal error: unexpected signal during runtime "
                              "execution\n");
        } else if (err != NULL) {
            gort__out_str(&o, "panic: ");
            gort__out_str(&o, err->msg);
            gort__out_str(&o, "\n");
        } else if (sig == SIGFPE) {
            gort__out_str(&o, code == FPE_INTOVF
                                  ? "panic: runtime error: integer overflow\n"
                                  : "panic: runtime error: floating point error\n");
        } else {
            gort__out_str(&o, "unexpected fault address ");
            gort__out_hex(&o, fault.addr);
            gort__out_str(&o, "\nfatal error: fault\n");
        }
        gort__print_signal_line(&o, sig, code, fault.addr, fault.pc);
        gort__out_str(&o, "\n");
        report_traceback(&o, uc);
    }
    gort__out_flush(&o);
    gort__crash_exit();
}

/* Where a redirected thread reports its fault (Go's sigpanic -> throw):
 * outside the signal handler, as the owner of the crash section. */
_Noreturn void gort__sigfatal(void);
__attribute__((noinline)) void gort__sigfatal(void)
{
    report(0, NULL);
}

/* ===================================================================
 * The handler (Go's sighandler)
 * =================================================================== */

static void handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    if (gort__traceback_symbolizing())
        gort__traceback_abort(); /* a fault while printing a traceback */
    int saved_errno = errno;
    in_handler++;
    uintptr_t addr = (uintptr_t)si->si_addr, pc = gort__uc_pc(uc), sp = gort__uc_sp(uc);
    int code = si->si_code;

    /* A panic?  Kernel-generated faults only (si_code > 0), never while
     * this thread reports a crash (the panic machinery would run again). */
    if (code > 0 && gort__crash_depth() == 0 && !gort__in_panic_machinery()) {
        const gort_error *err = panic_error(sig, code, addr);
        if (err != NULL && !is_stack_overflow(sig, addr, sp) &&
            (gort__g.panics != NULL ||
             (atomic_load_explicit(&signal_panics, memory_order_relaxed) &&
              gort__has_defers())) &&
            redirect(uc, sig, addr, (uintptr_t)gort__panic_signal,
                     (uintptr_t)err, (uintptr_t)sig, (uintptr_t)code, addr, pc,
                     0)) {
            in_handler--;
            errno = saved_errno;
            return; /* the thread now calls gort__panic_signal */
        }
    }

    /* A crash.  Other crashing threads stop here for good. */
    int depth = gort__crash_enter();
    if (st.stack_lo == 0 && syscall(SYS_gettid) == getpid())
        main_stack_bounds();
    fault.sig = sig;
    fault.code = code;
    fault.addr = addr;
    fault.pc = pc;
    fault.sp = sp;
    fault.overflow = code > 0 && is_stack_overflow(sig, addr, sp);
    fault.in_runtime = code > 0 && gort__in_panic_machinery();
    memcpy(&fault.uc, uc, sizeof fault.uc);
    /* Report after the handler returns, as Go's sigpanic does, unless the
     * stack cannot take it (then from here, on the alternate stack). */
    if (depth == 0 && !fault.overflow &&
        redirect(uc, sig, addr, (uintptr_t)gort__sigfatal, 0, 0, 0, 0, 0,
                 REPORT_HEADROOM)) {
        in_handler--;
        errno = saved_errno;
        return;
    }
    report(depth, uc);
}

void gort__signal_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        sigaction(handled[i], &sa, NULL);
    gort__signal_thread_init(); /* the loading thread, usually main */
    /* Measured at 0.2-0.3 ms: cheap enough to do at load, while the heap
     * is certainly sane, rather than in the first crash. */
    gort__traceback_prepare();
}
