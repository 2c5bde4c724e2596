/*
 * goroutine.c - goroutines as OS threads: ids, gort_go, Goexit's end.
 *
 * Design.  A goroutine is a detached pthread whose entry,
 * gort__goroutine_entry(), is a gort frame that tracebacks stop at (the
 * analogue of Go's goexit frame); it records the pc of the gort_go call
 * so crash output can end with Go's "created by <function>" and its
 * file:line.  Ids come from one counter: the process's main thread is 1,
 * every gort_go call takes the next id at creation, and a thread gort did
 * not start takes one on first use.  Ids are never reused.
 *
 * Ending a goroutine: returning from its function, or gort_goexit(), which
 * runs the defers and longjmps back to the entry so the thread returns
 * from its start routine (pthread_exit would force-unwind C++ frames and
 * -fexceptions cleanups).  Goexit in the main goroutine waits for every
 * other goroutine to end, then fails as Go does:
 * "fatal error: no goroutines (main called runtime.Goexit) - deadlock!".
 * A goroutine that can never run again (gort_once_do called from its own
 * function) is parked for ever, asleep: it leaves the goroutines main
 * waits for.  Main in that state likewise waits for the others, then
 * fails as Go's checkdead does: "fatal error: all goroutines are asleep -
 * deadlock!", its traceback and the parked ones' marked [semacquire]; so
 * does main's Goexit when only parked goroutines are left.
 * It first closes main's read sections, as any goroutine's end does: a
 * goroutine still running may wait for a grace period (a snapmap flush),
 * which main's open view would otherwise block forever.  The library's
 * own goroutines (a snapmap's flusher, gort__go_system) are Go's system
 * goroutines: they do not keep main's Goexit waiting, as Go's checkdead
 * does not count them.
 * Returning from main() ends the process, running goroutines included,
 * except that a goroutine in a panic gets to crash first, as Go's
 * runtime.main lets it (runtime.c, wait_for_a_crashing_goroutine).
 * A thread gort did not start ends its Goexit with pthread_exit: in code
 * built with -fexceptions its forced unwind runs the cleanups of frames
 * Goexit already ran (gort__goexit_unwinding lets them pass).
 *
 * Ordering guarantees: next_goid is a relaxed counter (ids only need to be
 * unique); live_goroutines is a relaxed atomic counter with a futex wait,
 * so that a goroutine's end creates no happens-before edge to goroutines
 * started later (a mutex here would hide, from ThreadSanitizer, races
 * between a finished goroutine and a later one, which Go's race detector
 * reports).  Only main's Goexit waits on it, and it needs no data.
 */
#include "read_section_internal.h"
#include "runtime_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread gort__goroutine curg __attribute__((tls_model("initial-exec")));
/* Where Goexit returns to in a goroutine started by gort_go. */
static __thread jmp_buf *exit_resume __attribute__((tls_model("initial-exec")));
/* Set in goroutines the library starts for itself (not counted). */
static __thread bool curg_system __attribute__((tls_model("initial-exec")));

static _Atomic int64_t next_goid = 2; /* 1 is the main thread */

/* Goroutines started by gort_go and not yet ended, system goroutines
 * excepted; a futex word. */
static uint32_t live_goroutines;

/* Threads gort did not start get their per-thread resources (the
 * alternate signal stack) released by this key's destructor at exit,
 * unless they called gort_thread_detach() first. */
static pthread_key_t foreign_key;
static pthread_once_t foreign_key_once = PTHREAD_ONCE_INIT;

static void foreign_thread_exit(void *unused)
{
    (void)unused;
    gort__read_thread_fini();
    gort__signal_thread_fini();
}

static void foreign_key_create(void)
{
    if (pthread_key_create(&foreign_key, foreign_thread_exit) != 0)
        gort__fatal("runtime: cannot create the thread-exit key");
}

gort__goroutine *gort__getg(void)
{
    if (GORT_UNLIKELY(curg.goid == 0)) {
        if (syscall(SYS_gettid) == getpid()) {
            curg.goid = 1;
            curg.is_main = true;
        } else {
            curg.goid = atomic_fetch_add_explicit(&next_goid, 1,
                                                  memory_order_relaxed);
            gort__signal_thread_init();
            pthread_once(&foreign_key_once, foreign_key_create);
            pthread_setspecific(foreign_key, &curg); /* any non-NULL value */
        }
    }
    return &curg;
}

int64_t gort_goid(void)
{
    return gort__getg()->goid;
}

/* ===================================================================
 * Starting and ending goroutines
 * =================================================================== */

typedef struct go_start {
    void (*fn)(void *); /* the goroutine's function */
    void *arg;          /* its argument */
    int64_t goid;       /* id assigned by gort_go */
    uintptr_t gopc;     /* return address of the gort_go call */
    bool system;        /* the library's own: not in live_goroutines */
} go_start;

__attribute__((noinline)) void *gort__goroutine_entry(void *v)
{
    go_start s = *(go_start *)v;
    free(v);
    curg.goid = s.goid;
    curg.gopc = s.gopc;
    curg.started_by_gort = true;
    curg_system = s.system;
    gort__signal_thread_init();

    jmp_buf resume;
    exit_resume = &resume;
    if (_setjmp(resume) == 0)
        s.fn(s.arg);
    exit_resume = NULL;

    gort__read_thread_fini(); /* no grace period may wait for this thread */
    gort__signal_thread_fini();
    if (!s.system &&
        __atomic_sub_fetch(&live_goroutines, 1, __ATOMIC_RELAXED) == 0)
        syscall(SYS_futex, &live_goroutines, FUTEX_WAKE_PRIVATE, INT_MAX,
                NULL, NULL, 0);
    __asm__ volatile("" ::: "memory"); /* keep this frame: tracebacks stop here */
    return NULL;
}

static int64_t start_goroutine(void (*fn)(void *), void *arg, uintptr_t gopc,
                               bool system)
{
    gort__getg();
    go_start *s = gort__xmalloc(sizeof *s);
    s->fn = fn;
    s->arg = arg;
    s->goid = atomic_fetch_add_explicit(&next_goid, 1, memory_order_relaxed);
    s->gopc = gopc;
    s->system = system;
    int64_t id = s->goid;

    if (!system)
        __atomic_add_fetch(&live_goroutines, 1, __ATOMIC_RELAXED);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int err = pthread_create(&t, &attr, gort__goroutine_entry, s);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        gort__out o;
        gort__out_init(&o, 2);
        gort__out_str(&o, "runtime: failed to create new OS thread (errno=");
        gort__out_dec(&o, err);
        gort__out_str(&o, ")\n");
        gort__out_flush(&o);
        gort__fatal("newosproc");
    }
    return id;
}

__attribute__((noinline)) int64_t (gort_go)(void (*fn)(void *), void *arg)
{
    GORT_CHECK_ARG(fn != NULL, "go of nil func value");
    return start_goroutine(fn, arg, (uintptr_t)__builtin_return_address(0),
                           false);
}

__attribute__((noinline)) int64_t gort__go_system(void (*fn)(void *), void *arg)
{
    return start_goroutine(fn, arg, (uintptr_t)__builtin_return_address(0),
                           true);
}

/* Goroutines started by gort_go that gort__goroutine_block_forever
 * parked (Go's asleep goroutines), in id order as Go's allgs lists them
 * for the deadlock report; entries live on the parked threads' stacks.
 * A parked goroutine leaves live_goroutines (release, after its entry is
 * linked): main's Goexit and main's own deadlock wait only for the
 * goroutines that can still run, as Go's checkdead does. */
typedef struct parked_g {
    int64_t goid;
    uint32_t turn;         /* futex: 1 once main asks for its traceback */
    uint32_t printed;      /* futex: 1 once it has printed it */
    struct parked_g *next; /* next higher id */
} parked_g;
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static parked_g *parked; /* parked_lock */

/* The child of a fork() has one thread, the one that forked: the
 * parent's other goroutines, running or parked, are not in it (Go never
 * forks without exec; C programs do).  Without this, main's Goexit or its
 * deadlock report in the child would wait for them for ever.  The
 * parked list's lock may have been held by another thread at the fork:
 * made anew.  Runs in the child's only thread (pthread_atfork, registered
 * by gort__runtime_init). */
static void goroutine_fork_child(void)
{
    bool counted = curg.started_by_gort && !curg_system;
    __atomic_store_n(&live_goroutines, counted ? 1u : 0u, __ATOMIC_RELAXED);
    pthread_mutex_init(&parked_lock, NULL);
    parked = NULL;
    /* Panics under way in the parent's other threads are not the
     * child's: main's return must not wait for them. */
    atomic_store_explicit(&gort__panicking, gort__own_panics(),
                          memory_order_relaxed);
}

void gort__goroutine_atfork(void)
{
    if (pthread_atfork(NULL, NULL, goroutine_fork_child) != 0)
        gort__fatal("runtime: cannot register the goroutines' fork handler");
}

/* Main will never run again: Go keeps the process alive for the other
 * goroutines, then finds nothing left to run.  Main's sections end here,
 * as they would at any goroutine's end: a goroutine may wait for readers.
 * Returns when no goroutine started by gort_go can run any more: each
 * has ended or is parked (system goroutines aside, as Go's checkdead
 * does not count them).  Returns whether some are parked. */
static bool main_waits_for_the_others(void)
{
    gort__read_thread_fini();
    uint32_t live;
    while ((live = __atomic_load_n(&live_goroutines, __ATOMIC_RELAXED)) != 0)
        syscall(SYS_futex, &live_goroutines, FUTEX_WAIT_PRIVATE, live, NULL,
                NULL, 0);
    /* acquire: pairs with a parking goroutine's release decrement, so its
     * entry is on the list. */
    (void)__atomic_load_n(&live_goroutines, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&parked_lock);
    bool any = parked != NULL;
    pthread_mutex_unlock(&parked_lock);
    return any;
}

/* Go's checkdead found every goroutine asleep: "all goroutines are
 * asleep - deadlock!", then the asleep goroutines' tracebacks (Go's
 * tracebackothers: main first when it is among them, then the others by
 * id).  Each parked goroutine prints its own, in turn, when main hands it
 * the printer: one thread prints at a time (traceback.c's storage is
 * shared), and main waits for each, up to a few seconds. */
static _Noreturn void report_all_asleep(bool main_asleep)
{
    gort__crash_enter();
    gort__out o;
    gort__out_init(&o, 2);
    gort__out_str(&o, "fatal error: all goroutines are asleep - deadlock!\n");
    if (main_asleep) {
        gort__out_str(&o, "\n");
        gort__traceback_print_ctx(&o, NULL, GORT__TB_SEMACQUIRE);
    }
    gort__out_flush(&o);
    pthread_mutex_lock(&parked_lock); /* held to the end: the list stays */
    for (parked_g *p = parked; p != NULL; p = p->next) {
        __atomic_store_n(&p->turn, 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &p->turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        struct timespec limit = {5, 0};
        while (__atomic_load_n(&p->printed, __ATOMIC_ACQUIRE) == 0)
            if (syscall(SYS_futex, &p->printed, FUTEX_WAIT_PRIVATE, 0, &limit,
                        NULL, 0) != 0 &&
                errno == ETIMEDOUT)
                gort__crash_exit(); /* its symbolizer hangs: end anyway */
    }
    gort__crash_exit();
}

void gort__goroutine_block_forever(void)
{
    if (gort__getg()->is_main) {
        main_waits_for_the_others();
        report_all_asleep(true);
    }
    /* Another goroutine: parked for ever, as Go parks it.  It never reads
     * again, so its read sections end now: a grace period (a snapmap
     * flush, gort_synchronize) must not wait for it, as nothing in Go
     * waits for an asleep goroutine.  The process ends when main returns
     * or crashes, or when main's deadlock finds it asleep. */
    gort__read_thread_fini();
    parked_g self = {curg.goid, 0, 0, NULL};
    if (curg.started_by_gort && !curg_system) {
        pthread_mutex_lock(&parked_lock);
        parked_g **at = &parked;
        while (*at != NULL && (*at)->goid < self.goid)
            at = &(*at)->next;
        self.next = *at;
        *at = &self;
        pthread_mutex_unlock(&parked_lock);
        if (__atomic_sub_fetch(&live_goroutines, 1, __ATOMIC_RELEASE) == 0)
            syscall(SYS_futex, &live_goroutines, FUTEX_WAKE_PRIVATE, INT_MAX,
                    NULL, NULL, 0);
    }
    /* Main's deadlock report asks for this goroutine's traceback. */
    while (__atomic_load_n(&self.turn, __ATOMIC_ACQUIRE) == 0)
        syscall(SYS_futex, &self.turn, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    gort__out o;
    gort__out_init(&o, 2);
    gort__out_str(&o, "\n");
    gort__traceback_print_ctx(&o, NULL, GORT__TB_SEMACQUIRE);
    gort__out_flush(&o);
    __atomic_store_n(&self.printed, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &self.printed, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    for (;;)
        pause();
}

void gort__goroutine_exit(void)
{
    gort__goroutine *g = gort__getg();
    if (exit_resume != NULL)
        longjmp(*exit_resume, 1);
    if (g->is_main) {
        if (main_waits_for_the_others())
            report_all_asleep(false); /* Go: asleep, not "no goroutines" */
        gort__crash_enter();
        gort__out o;
        gort__out_init(&o, 2);
        gort__out_str(&o, "fatal error: no goroutines (main called "
                          "runtime.Goexit) - deadlock!\n");
        gort__out_flush(&o);
        gort__crash_exit();
    }
    /* A thread gort did not start: end it as pthread_exit does.  Its
     * forced unwind may run the cleanups of frames Goexit has run. */
    gort_thread_detach();
    gort__goexit_unwinding = true;
    pthread_exit(NULL);
}

__thread bool gort__goexit_unwinding __attribute__((tls_model("initial-exec")));

void gort_thread_detach(void)
{
    /* Called inside a function with a frame, the pool may hold that
     * frame's records: the pool key's destructor frees it at the
     * thread's exit instead. */
    if (gort__g.frames == NULL)
        gort__defer_pool_free();
    gort__read_thread_fini();
    gort__signal_thread_fini();
    if (!curg.started_by_gort && !curg.is_main && curg.goid != 0)
        pthread_setspecific(foreign_key, NULL); /* nothing left to free */
}
