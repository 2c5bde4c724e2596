/*
 * traceback.c - Go's crash traceback for C: unwind, symbolize, lay out.
 *
 * Design.  gort__traceback_print() prints what Go's traceback1() prints
 * for the running goroutine: "goroutine N [running]:", then per frame a
 * line "name(...)" and a line "\t/abs/file.c:LINE +0xOFF", where OFF is
 * the frame's pc minus its function's entry (Go's frame.pc - f.entry()).
 * It works in three steps, each of which can fail without taking the
 * process down:
 *
 *   1. Unwind, on the thread's own stack.  libgcc's _Unwind_Backtrace
 *      walks it with the .eh_frame tables to its end (at most WALK_CAP
 *      frames) and keeps the first 100 physical frames and, in a ring,
 *      the last 64: Go 1.21 shows the innermost 50 frames and the
 *      outermost 50 of a deeper stack, with the number elided between
 *      (the frames not kept count one each).  _Unwind_GetIPInfo says whether a
 *      pc is a return address (symbolized at pc - 1, the call
 *      instruction, Go's tracepc--) or the faulting instruction of a
 *      signal frame (symbolized as is, Go's _TraceTrap); signal.c's
 *      redirect trampolines are marked as signal frames for this.  Recording
 *      starts at our caller's frame, or, given a signal context, at the
 *      frame whose pc is the context's (the handler's and the kernel
 *      trampoline's frames are skipped).  If the unwinder cannot get
 *      there, the context's frame-pointer chain is followed instead,
 *      reading memory with process_vm_readv so that a bad pointer ends
 *      the walk, not the process.
 *
 *   2. Symbolize, on a process-wide crash stack (libdw's line-table
 *      reader alone needs ~150 KiB of stack, more than an alternate
 *      signal stack has).  An elfutils Dwfl for the process
 *      (dwfl_linux_proc_report, built at load time in 0.2-0.3 ms, rebuilt
 *      at crash time if dl_iterate_phdr's load/unload counters moved)
 *      maps each pc to its module, its compilation unit (by
 *      .debug_aranges, or by scanning the CUs' ranges: clang emits no
 *      aranges) and the innermost scope holding it (dwarf_getscopes),
 *      whose enclosing concrete scopes (dwarf_getscopes_die) form Go's
 *      inlining tree: every DW_TAG_inlined_subroutine becomes its own
 *      "name(...)" line without an offset, the innermost location comes
 *      from the line table, each outer one from the DW_AT_call_file and
 *      DW_AT_call_line of the level it inlined, and the DW_TAG_subprogram
 *      ends the chain and carries the "+0xOFF" (its entry: the ELF symbol
 *      holding the pc, so a .cold part counts from itself).  Names come
 *      from DW_AT_name through DW_AT_abstract_origin, else from the
 *      symbol table; relative file names are joined to an absolute
 *      DW_AT_comp_dir.
 *
 *   3. Lay out, with Go's showframe() rules.  gort's own frames are
 *      hidden like Go's runtime frames: any frame, physical or inlined,
 *      whose function name starts with "gort_" (the API, gort__ internals,
 *      the inline helpers of <gort/defer.h> inlined into user code), and
 *      any frame whose pc lies in gort's code: in the shared library, the
 *      module that holds this file; linked statically, every compilation
 *      unit from the source directory of this file (found through this
 *      file's own DWARF, so no path is built in).  As Go shows
 *      runtime.gopanic in the middle of a traceback, a hidden frame of
 *      gort_panic, gort_panic_err, gort_repanic or gort__panic_signal that
 *      is not the first frame shown is printed as "panic(...)", and
 *      gort_goexit always as "Goexit(...)" (Go shows runtime.Goexit, an
 *      exported runtime function).  The walk
 *      stops after main() (Go stops at main.main), before
 *      gort__goroutine_entry (the goroutine's goexit frame: Go then prints
 *      "created by" with the creator's function and the file:line of the
 *      gort_go call), and before libc's thread and process start frames
 *      (by name, and without libc's debug info by dropping trailing
 *      frames of libc, the loader or a sanitizer runtime).  If nothing
 *      would be shown, everything is (Go's second pass with
 *      _TraceRuntimeFrames).
 *
 * Crash-path invariants.  Only the thread that owns the crash section
 * (gort__crash_enter) calls the printer, so its working storage, the
 * crash stack included, is static and never shared.  No step may
 * deadlock or depend on a sane heap:
 *   - unwinding and symbolizing run "guarded": a per-thread flag tells
 *     the fatal-signal handler (signal.c) that a fault there must jump
 *     back here (gort__traceback_abort, a siglongjmp) instead of being
 *     reported; the frames not yet symbolized are then printed raw, as
 *     "??(...)" and "\t?:0 pc=0x...", and libdw is not entered again.
 *     While on the crash stack the alternate signal stack is disabled,
 *     so such a nested signal lands on the crash stack rather than on
 *     top of the handler frames that called us;
 *   - libdw allocates, so a fault inside malloc (heap lock held) would
 *     deadlock it: for a signal's report, a watchdog timer aimed at this
 *     thread (SIGALRM, installed only then) aborts symbolization after
 *     WATCHDOG_SECONDS the same way;
 *   - the Dwfl lock is only tried on the crash path (bounded wait): a
 *     thread stuck while building the Dwfl cannot block the report;
 *   - debug files are looked up locally by build id only: no debuginfod
 *     network request can happen while a process is dying.
 *
 * Behaviour mirrors Go 1.19 runtime/traceback.go (traceback1,
 * gentraceback's printing half, showframe, printcreatedby), with Go
 * 1.21's elision of deep stacks (traceback1's tracebackInnerFrames and
 * tracebackOuterFrames); no code is taken from it.
 *
 * Ordering guarantees: `prepared` is stored with release after the Dwfl
 * is built and loaded with acquire by gort__traceback_prepare() and the
 * crash path; the crash stack pointer is published by a compare-and-swap
 * (acq_rel) paired with the acquire load in crash_stack(); the Dwfl itself
 * is only touched under dwfl_lock, whose unlock/lock pairs order the rest.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runtime_internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

enum {
    MAX_FRAMES = 100,       /* inner physical frames kept (Go 1.19's
                               _TracebackMaxFrames) */
    SHOWN_INNER = 50,       /* Go 1.21's tracebackInnerFrames */
    SHOWN_OUTER = 50,       /* Go 1.21's tracebackOuterFrames */
    OUTER_FRAMES = 64,      /* outermost physical frames kept */
    WALK_CAP = 1 << 20,     /* physical frames walked at most */
    MAX_LINES = 640,        /* printed lines, inlined levels included */
    MAX_SKIP = 128,         /* handler frames skipped looking for the uc's pc */
    WATCHDOG_SECONDS = 10,  /* symbolization budget on the signal path */
    LOCK_WAIT_MS = 1000,    /* crash path: longest wait for the Dwfl lock */
};

/* libdw's line-table reader alone takes ~150 KiB of stack (152 KiB
 * measured symbolizing a test binary and libc with its debug info): far
 * more than an alternate signal stack.  Symbolization runs on this
 * process-wide stack instead, with a 25x margin for bigger debug info;
 * MAP_NORESERVE, so untouched pages cost nothing. */
#define CRASH_STACK_SIZE ((size_t)4 << 20)

bool gort__safe_read(uintptr_t addr, void *buf, size_t n)
{
    /* The kernel copies for us and reports EFAULT instead of faulting. */
    struct iovec local = {buf, n};
    struct iovec remote = {(void *)addr, n};
    int saved = errno;
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    errno = saved;
    return got == (ssize_t)n;
}

/* ===================================================================
 * The symbolizer (libdw)
 * =================================================================== */

/* Local lookups only: dwfl_standard_find_debuginfo would ask debuginfod
 * servers (DEBUGINFOD_URLS) for missing files, from a dying process. */
static char *debuginfo_path; /* NULL: libdw's default search path */
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static pthread_mutex_t dwfl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t prepare_once = PTHREAD_ONCE_INIT;
static _Atomic bool prepared;  /* prepare_first() has run */
static Dwfl *dwfl;             /* NULL if libdw failed; under dwfl_lock */
static Dwfl_Module *self_mod;  /* module holding gort's code, or NULL */
static bool self_is_exe;       /* gort is linked into the executable */
static unsigned long long dl_adds, dl_subs; /* loader counters at the report */
static __thread bool reporting __attribute__((tls_model("initial-exec")));

/* Directory of gort's sources ("/.../src/"), for static linking. */
static char self_dir[512];
static size_t self_dir_len; /* 0: unknown */
static bool self_dir_done;

struct dl_counts {
    unsigned long long adds, subs;
};

static int dl_count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct dl_counts *c = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every entry */
}

static struct dl_counts dl_counts_now(void)
{
    struct dl_counts c = {0, 0};
    dl_iterate_phdr(dl_count_cb, &c);
    return c;
}

/* (Re)reports the modules of the process.  Called with dwfl_lock held. */
static void report_locked(void)
{
    reporting = true;
    if (dwfl == NULL)
        dwfl = dwfl_begin(&callbacks);
    if (dwfl != NULL) {
        struct dl_counts c = dl_counts_now();
        dl_adds = c.adds;
        dl_subs = c.subs;
        /* Modules reported again keep their identity and caches; those
         * not reported (dlclose'd) are dropped. */
        dwfl_report_begin(dwfl);
        dwfl_linux_proc_report(dwfl, getpid());
        dwfl_report_end(dwfl, NULL, NULL);
        self_mod = dwfl_addrmodule(
            dwfl, (Dwarf_Addr)(uintptr_t)&gort__traceback_print);
        unsigned long entry = getauxval(AT_ENTRY);
        self_is_exe = self_mod != NULL && entry != 0 &&
                      dwfl_addrmodule(dwfl, entry) == self_mod;
    }
    reporting = false;
}

/* Where symbolization runs on the crash path (see CRASH_STACK_SIZE). */
static _Atomic(char *) crash_stack_top; /* NULL: not allocated (yet) */
static bool on_crash_stack; /* set while the crash owner runs there */

/* Idempotent; mmap only, so the crash path may call it too. */
static char *crash_stack(void)
{
    char *top = atomic_load_explicit(&crash_stack_top, memory_order_acquire);
    if (top != NULL)
        return top;
    size_t guard = 64 * 1024; /* several pages, whatever the page size */
    char *m = mmap(NULL, CRASH_STACK_SIZE + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    mprotect(m, guard, PROT_NONE);
    char *expected = NULL;
    /* acq_rel: pairs with itself and with the acquire load above. */
    if (!atomic_compare_exchange_strong_explicit(
            &crash_stack_top, &expected, m + guard + CRASH_STACK_SIZE,
            memory_order_acq_rel, memory_order_acquire)) {
        munmap(m, CRASH_STACK_SIZE + guard); /* another thread won */
        return expected;
    }
    return m + guard + CRASH_STACK_SIZE;
}

static void prepare_first(void)
{
    crash_stack();
    pthread_mutex_lock(&dwfl_lock);
    report_locked();
    pthread_mutex_unlock(&dwfl_lock);
    /* This release pairs with the acquire in gort__traceback_prepare(). */
    atomic_store_explicit(&prepared, true, memory_order_release);
}

void gort__traceback_prepare(void)
{
    /* Called at the start of every panic: one load once prepared. */
    if (GORT_LIKELY(atomic_load_explicit(&prepared, memory_order_acquire)))
        return;
    pthread_once(&prepare_once, prepare_first);
}

/* Crash path: takes the Dwfl for this thread, refreshed if libraries
 * were loaded or unloaded since it was built.  Runs guarded. */
static bool symbolizer_acquire(void)
{
    if (reporting)
        return false; /* we faulted while building it: it is half-made */
    if (!atomic_load_explicit(&prepared, memory_order_acquire))
        pthread_once(&prepare_once, prepare_first);
    int waited = 0;
    while (pthread_mutex_trylock(&dwfl_lock) != 0) {
        if (waited++ == LOCK_WAIT_MS)
            return false;
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    if (dwfl == NULL) {
        pthread_mutex_unlock(&dwfl_lock);
        return false;
    }
    struct dl_counts c = dl_counts_now();
    if (c.adds != dl_adds || c.subs != dl_subs)
        report_locked();
    return true;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    /* _integrate follows DW_AT_abstract_origin and DW_AT_specification:
     * inlined instances and out-of-line copies name their origin. */
    if (dwarf_attr_integrate(die, DW_AT_name, &attr) == NULL)
        return NULL;
    return dwarf_formstring(&attr);
}

/* The absolute path of a compilation unit's primary source file. */
static bool cu_path(Dwarf_Die *cu, char *buf, size_t size)
{
    const char *name = dwarf_diename(cu);
    if (name == NULL)
        return false;
    size_t used = 0;
    if (name[0] != '/') {
        Dwarf_Attribute attr;
        const char *dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
        if (dir == NULL)
            return false;
        size_t n = strlen(dir);
        if (n + 1 >= size)
            return false;
        memcpy(buf, dir, n);
        buf[n] = '/';
        used = n + 1;
    }
    size_t n = strlen(name);
    if (used + n >= size)
        return false;
    memcpy(buf + used, name, n + 1);
    return true;
}

/* The compilation unit holding @pc.  libdw 0.188 looks it up in
 * .debug_aranges, which clang does not emit: then scan the CUs. */
static Dwarf_Die *find_cu(Dwfl_Module *mod, uintptr_t pc, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, bias);
    if (cu != NULL)
        return cu;
    while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
        if (dwarf_haspc(cu, pc - *bias) > 0)
            return cu;
    return NULL;
}

/* Static linking: the directory of this file's compilation unit. */
static void find_self_dir(void)
{
    self_dir_done = true;
    if (self_mod == NULL)
        return;
    Dwarf_Addr bias;
    Dwarf_Die *cu =
        find_cu(self_mod, (uintptr_t)&gort__traceback_print, &bias);
    if (cu == NULL || !cu_path(cu, self_dir, sizeof self_dir))
        return;
    char *slash = strrchr(self_dir, '/');
    if (slash != NULL) {
        slash[1] = '\0';
        self_dir_len = (size_t)(slash + 1 - self_dir);
    }
}

/* Whether a compilation unit of the executable is one of gort's. */
static bool cu_is_gort(Dwarf_Die *cu)
{
    char path[512];
    if (self_dir_len == 0 || !cu_path(cu, path, sizeof path))
        return false;
    return strncmp(path, self_dir, self_dir_len) == 0 &&
           strchr(path + self_dir_len, '/') == NULL;
}

/* ===================================================================
 * Working storage (crash section owner only)
 * =================================================================== */

typedef struct tb_frame {
    uintptr_t pc; /* return address, or the faulting pc */
    bool trap;    /* pc is the faulting instruction itself */
} tb_frame;

enum { LINE_RAW = 0, LINE_INLINED = 1, LINE_PHYSICAL = 2 };

typedef struct tb_line {
    const char *name;  /* function; "??" if unknown */
    const char *file;  /* NULL if unknown */
    int line;          /* 0 if unknown */
    uintptr_t pc;      /* the physical frame's pc */
    uintptr_t off;     /* pc - function entry; 0: not printed */
    unsigned char kind;     /* LINE_* */
    unsigned char hidden;   /* one of gort's frames */
    unsigned char panic_fn; /* GO_PANIC: "panic(...)" mid-stack; GO_GOEXIT:
                               "Goexit(...)" always (Go shows exported
                               runtime functions) */
    unsigned char sys;      /* in libc or the dynamic loader */
} tb_line;

enum { STOP_NONE, STOP_AFTER, STOP_BEFORE };

static struct {
    /* unwinding */
    tb_frame frames[MAX_FRAMES + OUTER_FRAMES];
    int nframes;        /* kept: the first MAX_FRAMES walked, then the
                           last OUTER_FRAMES (a ring during the walk) */
    long walked;        /* physical frames walked */
    long middle;        /* walked but not kept, between the two parts */
    bool capped;        /* the walk stopped short of the stack's end */
    int middle_line;    /* first line of the outer part (middle > 0) */
    bool complete;      /* the unwinder reached the end of the stack */
    bool hit_end;       /* ...seen as a frame whose pc is 0 */
    uintptr_t start_pc; /* first frame to record */
    bool start_trap;    /* ...and whether it is a signal frame */
    bool started;       /* start frame seen */
    int skipped;        /* frames before it */
    /* symbolizing */
    tb_line lines[MAX_LINES];
    int nlines;
    int frame;          /* next frame to symbolize */
    int frame_line;     /* first line of that frame */
    int stop;           /* STOP_*: a frame that ends the walk was seen */
    bool raw;           /* libdw is off limits from now on */
    bool locked;        /* we hold dwfl_lock */
    tb_line created;    /* "created by" */
    bool has_created;
} tb;

static sigjmp_buf guard_jmp; /* where gort__traceback_abort() returns */
static __thread volatile sig_atomic_t guarded
    __attribute__((tls_model("initial-exec")));
static volatile sig_atomic_t watchdog_expired;

bool gort__traceback_symbolizing(void)
{
    return guarded != 0;
}

void gort__traceback_abort(void)
{
    guarded = 0;
    siglongjmp(guard_jmp, 1);
}

/* ===================================================================
 * Watchdog: a crash inside malloc must not hang libdw forever
 * =================================================================== */

static int watchdog_timer = -1; /* kernel timer id, -1 if none */

static void watchdog_fire(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    watchdog_expired = 1;
    if (guarded)
        gort__traceback_abort();
}

static void watchdog_arm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = watchdog_fire;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    /* Raw syscalls: a kernel timer aimed at this thread, no allocation. */
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGALRM;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    int id;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id) != 0)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = WATCHDOG_SECONDS;
    if (syscall(SYS_timer_settime, id, 0, &its, NULL) != 0) {
        syscall(SYS_timer_delete, id);
        return;
    }
    watchdog_timer = id;
}

static void watchdog_disarm(void)
{
    if (watchdog_timer >= 0)
        syscall(SYS_timer_delete, watchdog_timer);
    watchdog_timer = -1;
}

/* ===================================================================
 * Step 1: unwinding
 * =================================================================== */

static _Unwind_Reason_Code collect_step(struct _Unwind_Context *ctx, void *arg)
{
    (void)arg;
    int before = 0;
    uintptr_t pc = (uintptr_t)_Unwind_GetIPInfo(ctx, &before);
    if (!tb.started) {
        if (pc != tb.start_pc || (before != 0) != tb.start_trap)
            return ++tb.skipped > MAX_SKIP ? _URC_NORMAL_STOP : _URC_NO_REASON;
        tb.started = true;
    }
    if (pc == 0) {
        /* The outermost frame's caller (libgcc reports it before it sees
         * the end): the stack is complete. */
        tb.hit_end = true;
        return _URC_NORMAL_STOP;
    }
    if (tb.walked == WALK_CAP) {
        tb.capped = true;
        return _URC_NORMAL_STOP;
    }
    /* The first MAX_FRAMES frames, then a ring of the last OUTER_FRAMES
     * (put in order by keep_outer_frames). */
    long i = tb.walked < MAX_FRAMES
                 ? tb.walked
                 : MAX_FRAMES + (tb.walked - MAX_FRAMES) % OUTER_FRAMES;
    tb.frames[i].pc = pc;
    tb.frames[i].trap = before != 0;
    tb.walked++;
    return _URC_NO_REASON;
}

/* After the walk: the kept frames in order, and how many were not kept.
 * A walk that stopped short keeps only the first part (its end is not
 * the stack's). */
static void keep_outer_frames(void)
{
    if (tb.walked <= MAX_FRAMES) {
        tb.nframes = (int)tb.walked;
        tb.middle = 0;
        return;
    }
    long outer = tb.walked - MAX_FRAMES;
    if (tb.capped || outer <= 0) {
        tb.nframes = MAX_FRAMES;
        tb.middle = 0;
        return;
    }
    if (outer > OUTER_FRAMES) {
        /* Rotate the ring so that its oldest frame comes first. */
        tb_frame tmp[OUTER_FRAMES];
        long oldest = outer % OUTER_FRAMES;
        for (long k = 0; k < OUTER_FRAMES; k++)
            tmp[k] = tb.frames[MAX_FRAMES + (oldest + k) % OUTER_FRAMES];
        memcpy(&tb.frames[MAX_FRAMES], tmp, sizeof tmp);
        tb.middle = outer - OUTER_FRAMES;
        outer = OUTER_FRAMES;
    } else {
        tb.middle = 0;
    }
    tb.nframes = MAX_FRAMES + (int)outer;
}

/* Fallback when the unwinder could not reach the context's frame: the
 * frame-pointer chain (gort and code built with its flags keep one). */
static void fp_walk(const ucontext_t *uc)
{
    tb.nframes = 0;
    tb.frames[tb.nframes].pc = gort__uc_pc(uc);
    tb.frames[tb.nframes].trap = true;
    tb.nframes++;
    uintptr_t fp = gort__uc_fp(uc);
    while (tb.nframes < MAX_FRAMES && fp != 0 && (fp & 7) == 0) {
        uintptr_t rec[2]; /* saved frame pointer, return address */
        if (!gort__safe_read(fp, rec, sizeof rec) || rec[1] == 0)
            break;
        tb.frames[tb.nframes].pc = rec[1];
        tb.frames[tb.nframes].trap = false;
        tb.nframes++;
        if (rec[0] <= fp)
            break; /* the chain must go up the stack */
        fp = rec[0];
    }
    tb.complete = false;
    tb.capped = tb.nframes == MAX_FRAMES; /* the rest is unknown */
    tb.walked = tb.nframes;
    tb.middle = 0;
}

static void unwind(const ucontext_t *uc, unsigned flags, uintptr_t caller)
{
    tb.nframes = 0;
    tb.walked = 0;
    tb.middle = 0;
    tb.capped = false;
    tb.skipped = 0;
    tb.started = false;
    tb.complete = false;
    tb.hit_end = false;
    tb.start_pc = uc != NULL ? gort__uc_pc(uc) : caller;
    tb.start_trap = uc != NULL;
    if (sigsetjmp(guard_jmp, 1) == 0) {
        guarded = 1;
        _Unwind_Reason_Code rc = _Unwind_Backtrace(collect_step, NULL);
        guarded = 0;
        tb.complete = (rc == _URC_END_OF_STACK || tb.hit_end) && !tb.capped;
    } else {
        tb.capped = true; /* a fault ended the walk */
    }
    if (tb.started)
        keep_outer_frames();
    if (!tb.started) {
        if (uc != NULL) {
            fp_walk(uc);
        } else {
            /* Not even our caller was found: show whatever unwinds. */
            tb.start_pc = 0;
            tb.started = true;
            tb.walked = 0;
            if (sigsetjmp(guard_jmp, 1) == 0) {
                guarded = 1;
                _Unwind_Backtrace(collect_step, NULL);
                guarded = 0;
            } else {
                tb.capped = true;
            }
            keep_outer_frames();
        }
    }
    /* A call through a bad pointer: the handler moved the context back
     * to the caller, whose pc is then a return address. */
    if (uc != NULL && (flags & GORT__TB_UC_RETURN) && tb.nframes > 0)
        tb.frames[0].trap = false;
}

/* ===================================================================
 * Step 2: symbolizing
 * =================================================================== */

static bool has_prefix(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

enum { GO_HIDDEN = 0, GO_PANIC = 1, GO_GOEXIT = 2 };

/* gort's frames that Go's traceback shows under Go's name. */
static unsigned char is_panic_fn(const char *name)
{
    if (name == NULL)
        return GO_HIDDEN;
    if (strcmp(name, "gort_panic") == 0 || strcmp(name, "gort_panic_err") == 0 ||
        strcmp(name, "gort_repanic") == 0 ||
        strcmp(name, "gort__panic_signal") == 0)
        return GO_PANIC;
    if (strcmp(name, "gort_goexit") == 0)
        return GO_GOEXIT;
    return GO_HIDDEN;
}

/* libc's and the loader's frames that start a thread or the process
 * (by name; without libc's debug info, trailing system frames are
 * dropped instead, see print_all). */
static bool is_start_fn(const char *name)
{
    static const char *const names[] = {
        "start_thread", "clone3", "clone", "__clone", "__clone_internal",
        "_start", "__libc_start_call_main", "__libc_start_main",
        "__libc_start_main_impl", NULL};
    if (name == NULL)
        return false;
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static bool is_system_module(const char *modname)
{
    if (modname == NULL)
        return false;
    const char *base = strrchr(modname, '/');
    base = base != NULL ? base + 1 : modname;
    /* The sanitizer runtimes wrap thread start functions. */
    return has_prefix(base, "libc.so") || has_prefix(base, "ld-linux") ||
           has_prefix(base, "libpthread.so") || has_prefix(base, "libasan.so") ||
           has_prefix(base, "libtsan.so") || has_prefix(base, "libclang_rt.");
}

static tb_line *add_line(void)
{
    if (tb.nlines == MAX_LINES)
        return NULL;
    tb_line *l = &tb.lines[tb.nlines++];
    memset(l, 0, sizeof *l);
    l->name = "??";
    return l;
}

static void add_raw(uintptr_t pc)
{
    tb_line *l = add_line();
    if (l != NULL) {
        l->pc = pc;
        l->kind = LINE_RAW;
    }
}

static const char *call_file(Dwarf_Die *cu, Dwarf_Die *inlined)
{
    Dwarf_Attribute attr;
    Dwarf_Word idx;
    Dwarf_Files *files;
    size_t nfiles;
    if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &idx) != 0 ||
        dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, idx, NULL, NULL);
}

static int call_line(Dwarf_Die *inlined)
{
    Dwarf_Attribute attr;
    Dwarf_Word line;
    if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &line) != 0)
        return 0;
    return (int)line;
}

/* Room for file names made absolute (a traceback prints few). */
static char path_pool[16384];
static size_t path_pool_used;

/* Go prints absolute paths; a line table may hold names relative to the
 * compilation directory (libc's debug info does). */
static const char *absolute(Dwarf_Die *cu, const char *file)
{
    if (file == NULL || file[0] == '/')
        return file;
    Dwarf_Attribute attr;
    const char *dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
    if (dir == NULL || dir[0] != '/')
        return file; /* a reproducible build's relative directory */
    while (file[0] == '.' && file[1] == '/')
        file += 2;
    size_t nd = strlen(dir), nf = strlen(file);
    if (path_pool_used + nd + nf + 2 > sizeof path_pool)
        return file;
    char *p = path_pool + path_pool_used;
    memcpy(p, dir, nd);
    p[nd] = '/';
    memcpy(p + nd + 1, file, nf + 1);
    path_pool_used += nd + nf + 2;
    return p;
}

/* What one physical frame at @pc looks like: its inlined levels, then the
 * function itself.  @physical_name receives the function's name. */
static void symbolize_pc(uintptr_t pc, bool trap, const char **physical_name,
                         bool *is_sys)
{
    uintptr_t lpc = trap ? pc : pc - 1; /* the call instruction */
    *physical_name = NULL;
    *is_sys = false;
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, lpc);
    if (mod == NULL) {
        add_raw(pc);
        return;
    }
    const char *modname =
        dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    bool sys = is_system_module(modname);
    *is_sys = sys;

    GElf_Off soff = 0;
    GElf_Sym sym;
    const char *symname = dwfl_module_addrinfo(mod, lpc, &soff, &sym, NULL, NULL, NULL);
    uintptr_t entry = symname != NULL ? lpc - (uintptr_t)soff : 0;

    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = find_cu(mod, lpc, &bias);
    bool gort_code = mod == self_mod && self_mod != NULL &&
                     (!self_is_exe || (cu != NULL && cu_is_gort(cu)));

    const char *file = NULL;
    int line = 0;
    Dwarf_Line *dl = cu != NULL ? dwarf_getsrc_die(cu, lpc - bias) : NULL;
    if (dl != NULL) {
        file = absolute(cu, dwarf_linesrc(dl, NULL, NULL));
        if (dwarf_lineno(dl, &line) != 0)
            line = 0;
    }

    /* dwarf_getscopes finds the innermost scope; past an inlined level it
     * continues in the abstract tree (for variable lookup), so the chain
     * of concrete scopes comes from dwarf_getscopes_die on it. */
    Dwarf_Die *scopes = NULL;
    int nscopes = 0;
    Dwarf_Die *found = NULL;
    if (cu != NULL && dwarf_getscopes(cu, lpc - bias, &found) > 0)
        nscopes = dwarf_getscopes_die(&found[0], &scopes);
    free(found);
    const char *name = NULL;
    for (int s = 0; s < nscopes; s++) {
        int tag = dwarf_tag(&scopes[s]);
        if (tag == DW_TAG_inlined_subroutine) {
            tb_line *l = add_line();
            if (l != NULL) {
                const char *n = die_name(&scopes[s]);
                l->name = n != NULL ? n : "??";
                l->file = file;
                l->line = line;
                l->pc = pc;
                l->kind = LINE_INLINED;
                l->hidden = gort_code || has_prefix(n, "gort_");
                l->panic_fn = is_panic_fn(n);
                l->sys = sys;
            }
            /* The caller's position is where this level was inlined. */
            file = absolute(cu, call_file(cu, &scopes[s]));
            line = call_line(&scopes[s]);
        } else if (tag == DW_TAG_subprogram) {
            name = die_name(&scopes[s]);
            break;
        }
    }
    free(scopes);
    if (name == NULL)
        name = symname;

    tb_line *l = add_line();
    if (l == NULL)
        return;
    l->name = name != NULL ? name : "??";
    l->file = file;
    l->line = line;
    l->pc = pc;
    l->off = entry != 0 && pc > entry ? pc - entry : 0;
    l->kind = LINE_PHYSICAL;
    l->hidden = gort_code || has_prefix(name, "gort_") ||
                has_prefix(symname, "gort_");
    l->panic_fn = is_panic_fn(name);
    l->sys = sys;
    *physical_name = name != NULL ? name : symname;
}

static void symbolize_frame(int i)
{
    const char *name;
    bool sys;
    symbolize_pc(tb.frames[i].pc, tb.frames[i].trap, &name, &sys);
    if (name == NULL)
        return;
    if (strcmp(name, "main") == 0)
        tb.stop = STOP_AFTER; /* Go stops at main.main */
    else if (strcmp(name, "gort__goroutine_entry") == 0 || is_start_fn(name))
        tb.stop = STOP_BEFORE;
}

/* "created by": Go 1.19 names the creator's physical function and gives
 * the innermost position of the call. */
static void symbolize_created(uintptr_t gopc)
{
    int first = tb.nlines;
    const char *name;
    bool sys;
    symbolize_pc(gopc, false, &name, &sys);
    if (tb.nlines > first) {
        /* The innermost position shown: gort_go's inline wrapper (a
         * hidden level, <gort/sync.h>) gives way to its call site. */
        int pos = first;
        while (pos < tb.nlines - 1 && tb.lines[pos].hidden)
            pos++;
        tb.created = tb.lines[pos];
        tb.created.name = tb.lines[tb.nlines - 1].name; /* physical name */
        tb.created.off = tb.lines[tb.nlines - 1].off;
        tb.created.hidden = tb.lines[tb.nlines - 1].hidden;
        tb.created.kind = tb.lines[tb.nlines - 1].kind;
        tb.has_created = true;
    }
    tb.nlines = first;
}

static void symbolize(uintptr_t gopc, bool watchdog)
{
    path_pool_used = 0;
    tb.nlines = 0;
    tb.frame = 0;
    tb.middle_line = -1;
    tb.stop = STOP_NONE;
    tb.raw = false;
    tb.locked = false;
    tb.has_created = false;
    watchdog_expired = 0;
    if (watchdog)
        watchdog_arm();

    /* A fault (or the watchdog) in a guarded section comes back here:
     * the frame being symbolized loses its partial lines and everything
     * left is printed raw.  Only static state is used across the jump. */
    if (sigsetjmp(guard_jmp, 1) != 0) {
        tb.raw = true;
        tb.nlines = tb.frame_line;
    }
    if (!tb.raw && !tb.locked) {
        tb.frame_line = 0;
        guarded = 1;
        tb.locked = symbolizer_acquire();
        if (tb.locked && !self_dir_done && self_is_exe)
            find_self_dir();
        guarded = 0;
        tb.raw = !tb.locked;
    }
    int n = tb.nframes;
    while (tb.frame < n && tb.stop == STOP_NONE) {
        tb.frame_line = tb.nlines;
        if (tb.frame == MAX_FRAMES)
            tb.middle_line = tb.nlines; /* the outer part starts */
        if (tb.raw || watchdog_expired) {
            tb.raw = true;
            add_raw(tb.frames[tb.frame].pc);
        } else {
            guarded = 1;
            symbolize_frame(tb.frame);
            guarded = 0;
        }
        tb.frame++;
    }
    if (tb.stop == STOP_BEFORE)
        tb.nlines = tb.frame_line;
    if (gopc != 0 && !tb.has_created) {
        tb.frame_line = tb.nlines;
        if (tb.raw || watchdog_expired) {
            tb.created = (tb_line){.name = "??", .pc = gopc, .kind = LINE_RAW};
            tb.has_created = true;
        } else {
            guarded = 1;
            symbolize_created(gopc);
            guarded = 0;
        }
    }
    if (watchdog)
        watchdog_disarm();
    if (tb.locked && !tb.raw)
        pthread_mutex_unlock(&dwfl_lock);
    /* After a fault the Dwfl may be inconsistent: keep it locked. */
}

/* ===================================================================
 * Step 3: layout
 * =================================================================== */

static void print_location(gort__out *o, const tb_line *l)
{
    gort__out_str(o, "\t");
    if (l->file != NULL) {
        gort__out_str(o, l->file);
        gort__out_str(o, ":");
        gort__out_dec(o, l->line);
    } else {
        gort__out_str(o, "?:0");
    }
    if (l->kind != LINE_INLINED && l->off != 0) {
        gort__out_str(o, " +");
        gort__out_hex(o, l->off);
    }
    if (l->file == NULL) {
        gort__out_str(o, " pc=");
        gort__out_hex(o, l->pc);
    }
    gort__out_str(o, "\n");
}

static void print_line(gort__out *o, const tb_line *l)
{
    gort__out_str(o, l->panic_fn == GO_PANIC    ? "panic"
                     : l->panic_fn == GO_GOEXIT ? "Goexit"
                                                : l->name);
    gort__out_str(o, "(...)\n");
    print_location(o, l);
}

static int shown[MAX_LINES]; /* print_lines' working storage */

/* Go's showframe: hidden frames are skipped, except a panic function in
 * the middle of the stack; with @all (nothing was shown) every frame is
 * printed.  Then Go 1.21's traceback1: if more than 100 frames would be
 * shown, the innermost 50, "...N frames elided...", and the outermost 50.
 * The frames walked but not kept (between the first MAX_FRAMES and the
 * last OUTER_FRAMES of a deep stack) count as one frame each: exact
 * unless they hold inlined calls or gort's own frames.  Returns the
 * number of frames shown. */
static int print_lines(gort__out *o, bool all)
{
    int n = 0;
    for (int i = 0; i < tb.nlines; i++) {
        const tb_line *l = &tb.lines[i];
        bool show = all || !l->hidden ||
                    (l->panic_fn == GO_PANIC && n > 0) ||
                    l->panic_fn == GO_GOEXIT;
        if (show)
            shown[n++] = i;
    }
    long middle = tb.middle_line >= 0 ? tb.middle : 0;
    int inner = n; /* shown lines before the frames not kept */
    if (middle > 0) {
        inner = 0;
        while (inner < n && shown[inner] < tb.middle_line)
            inner++;
    }
    long total = n + middle;
    if (tb.capped || total <= SHOWN_INNER + SHOWN_OUTER) {
        for (int k = 0; k < n; k++)
            print_line(o, &tb.lines[shown[k]]);
        return n;
    }
    int first = SHOWN_INNER, last = SHOWN_OUTER;
    if (middle > 0) { /* only kept frames can be printed */
        if (first > inner)
            first = inner;
        if (last > n - inner)
            last = n - inner;
    }
    for (int k = 0; k < first; k++)
        print_line(o, &tb.lines[shown[k]]);
    gort__out_str(o, "...");
    gort__out_dec(o, total - first - last);
    gort__out_str(o, " frames elided...\n");
    for (int k = n - last; k < n; k++)
        print_line(o, &tb.lines[shown[k]]);
    return n;
}

static void print_all(gort__out *o, gort__goroutine *g)
{
    /* Below a thread's entry, and at the end of a complete stack that did
     * not reach main, are libc's (or a sanitizer's) start-up frames: Go
     * never shows them. */
    if (tb.stop == STOP_BEFORE || (tb.complete && tb.stop == STOP_NONE)) {
        int n = tb.nlines;
        while (n > 0 && tb.lines[n - 1].sys)
            n--;
        tb.nlines = n;
    }
    if (print_lines(o, false) == 0)
        print_lines(o, true);
    if (tb.capped && tb.stop == STOP_NONE) /* Go 1.19's words */
        gort__out_str(o, "...additional frames elided...\n");
    if (g->started_by_gort && tb.has_created && !tb.created.hidden) {
        gort__out_str(o, "created by ");
        gort__out_str(o, tb.created.name);
        gort__out_str(o, "\n");
        print_location(o, &tb.created);
    }
}

/* ===================================================================
 * Running the symbolizer on the crash stack
 * =================================================================== */

/* Calls fn(arg) with the stack pointer set to @top, then switches back.
 * Its CFI names the caller's frame through rbp (x29), so debuggers and
 * unwinders can still walk from the crash stack to the thread's. */
void gort__call_on_stack(void (*fn)(void *), void *arg, void *top);
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl gort__call_on_stack\n"
        ".hidden gort__call_on_stack\n"
        ".type gort__call_on_stack, @function\n"
        "gort__call_on_stack:\n"
        ".cfi_startproc\n"
        "    pushq %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "    movq %rdx, %rsp\n"
        "    movq %rdi, %rax\n"
        "    movq %rsi, %rdi\n"
        "    call *%rax\n"
        "    movq %rbp, %rsp\n"
        "    popq %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size gort__call_on_stack, .-gort__call_on_stack\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl gort__call_on_stack\n"
        ".hidden gort__call_on_stack\n"
        ".type gort__call_on_stack, %function\n"
        "gort__call_on_stack:\n"
        ".cfi_startproc\n"
        "    stp x29, x30, [sp, #-16]!\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset 29, -16\n"
        ".cfi_offset 30, -8\n"
        "    mov x29, sp\n"
        ".cfi_def_cfa_register 29\n"
        "    mov sp, x2\n"
        "    mov x3, x0\n"
        "    mov x0, x1\n"
        "    blr x3\n"
        "    mov sp, x29\n"
        "    ldp x29, x30, [sp], #16\n"
        ".cfi_def_cfa 31, 0\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size gort__call_on_stack, .-gort__call_on_stack\n");
#endif

static struct {
    uintptr_t gopc; /* "created by" pc, 0 for none */
    bool watchdog;  /* arm the watchdog (signal path) */
} sym_args;

static void symbolize_on_crash_stack(void *unused)
{
    (void)unused;
    /* Nested signals (a fault in libdw, the watchdog) must be delivered
     * here, not at the top of the alternate stack, where the frames of
     * the handler that called us live.  We are off that stack now, so it
     * can be disabled (SS_AUTODISARM already did it for gort's own). */
    stack_t off = {NULL, SS_DISABLE, 0}, old;
    bool changed = sigaltstack(&off, &old) == 0;
    on_crash_stack = true;
    symbolize(sym_args.gopc, sym_args.watchdog);
    on_crash_stack = false;
    if (changed && !(old.ss_flags & SS_DISABLE)) {
        old.ss_flags &= ~SS_ONSTACK;
        sigaltstack(&old, NULL);
    }
}

static void traceback(gort__out *o, const ucontext_t *uc, unsigned flags,
                      uintptr_t caller)
{
    gort__goroutine *g = gort__getg();
    gort__out_str(o, "goroutine ");
    gort__out_dec(o, g->goid);
    gort__out_str(o, (flags & GORT__TB_SEMACQUIRE) ? " [semacquire]:\n"
                                                   : " [running]:\n");
    /* Unwinding must run on this thread's own stacks; it needs little. */
    unwind(uc, flags, caller);
    sym_args.gopc = g->started_by_gort ? g->gopc : 0;
    sym_args.watchdog = uc != NULL || (flags & GORT__TB_WATCHDOG);
    char *top = on_crash_stack ? NULL : crash_stack();
    if (top != NULL)
        gort__call_on_stack(symbolize_on_crash_stack, NULL, top);
    else
        symbolize(sym_args.gopc, sym_args.watchdog); /* nested: already there */
    print_all(o, g);
}

__attribute__((noinline)) void gort__traceback_print(gort__out *o,
                                                     const ucontext_t *uc)
{
    traceback(o, uc, 0, (uintptr_t)__builtin_return_address(0));
    __asm__ volatile("" ::: "memory"); /* no tail call: our caller's pc */
}

__attribute__((noinline)) void gort__traceback_print_ctx(gort__out *o,
                                                         const ucontext_t *uc,
                                                         unsigned flags)
{
    traceback(o, uc, flags, (uintptr_t)__builtin_return_address(0));
    __asm__ volatile("" ::: "memory");
}
