/*
 * read_section.c - read-side sections, grace periods and retirement (RCU):
 * gort's implementation of the membarrier-based userspace RCU algorithm
 * (Desnoyers, McKenney, Stern, Dagenais, Walpole, "User-Level
 * Implementations of Read-Copy Update", IEEE TPDS 2012; the design of
 * liburcu's urcu-memb flavour, written here from the paper).
 *
 * Why not liburcu itself (docs/design/read_sections.md measures it): its
 * read side is out of line unless _LGPL_SOURCE compiles it into the
 * caller, which its licence allows only for LGPL/GPL-compatible code, and
 * its reader state is global-dynamic TLS (__tls_get_addr on every call).
 * A begin/end pair cost about 120 instructions through it; here it is
 * about 30, with the same guarantees.
 *
 * The algorithm.  A global counter gp.ctr holds an "active" bit (always
 * set) and a phase bit.  Each registered thread has a reader word ctr: 0
 * outside sections; at its outermost gort_read_begin() it copies gp.ctr
 * into ctr, then issues only a compiler barrier; at the outermost
 * gort_read_end() a compiler barrier, ctr = 0, a compiler barrier, and a
 * wake-up of a sleeping writer if there is one.  No atomic
 * read-modify-write, no fence.
 * A grace period (grace_period()) is, under gp_lock:
 *   1. membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): every running thread
 *      of the process executes a full barrier (a descheduled one had one
 *      at its context switch).  A reader is therefore either far enough
 *      that its ctr store is visible to us now, or its section's loads
 *      come after the barrier and see what the writer unpublished before
 *      the call: it cannot hold an unpublished pointer.
 *   2. Twice: flip the phase bit of gp.ctr, then wait until no registered
 *      reader is active with the other phase.  A reader keeps one ctr for
 *      its whole outermost section, so a section that began before step 1
 *      has one phase or the other and one of the two waits catches it.
 *      One flip would not do: a reader that loaded gp.ctr long before the
 *      flip and stored it after our scan carries the old phase into a
 *      section that the NEXT grace period would take for a new one (the
 *      paper's argument for two flips).  Progress: readers that begin
 *      after a flip is visible take the new phase, so the set waited for
 *      only shrinks: a stream of short readers cannot starve the writer.
 *   3. membarrier again: the waited-for readers' accesses, which precede
 *      their ctr = 0 stores, happen before what the writer does next
 *      (free).
 * Without membarrier (old kernel, seccomp, or GORTDEBUG=rcufence=1) the
 * readers issue seq_cst fences instead of compiler barriers and the writer
 * a seq_cst fence where it would call membarrier: the classic urcu-mb
 * flavour, slower readers, same guarantees, all in the C11 model.
 *
 * Waiting: a bounded spin (SPIN_ATTEMPTS scans with a pause), then the
 * writer sets gp.futex to -1, issues the heavy barrier (so that a reader
 * whose ctr = 0 store it misses sees the -1: store/barrier/load on both
 * sides) and rescans; FUTEX_WAIT until an ending reader resets the word
 * and wakes it.  The registry lock is released while spinning or sleeping,
 * so threads register and unregister freely during a grace period (a
 * waited-for reader may wait for a thread that starts reading); each scan
 * walks the registry afresh.
 *
 * Per-thread state (gort__rs, initial-exec TLS, so no __tls_get_addr;
 * declared in gort/read_section.h, whose inline fast paths programs and
 * the library's own readers use): the reader word, the registry links and a
 * small stack with one entry per open section: the innermost defer frame
 * (gort__g.frames) at the time of the begin, and a tag naming the
 * snapmap view the section is (NULL for gort_read_begin).  It serves SPEC's rule that a panic unwinding
 * out of a section leaves no section open: when a panic is recovered and
 * frame fr resumes (panic.c), every section at the top of the stack that
 * was begun in fr or in a deeper frame (frames live on the thread's stack,
 * which grows down: deeper is a lower address) is closed, since the code
 * that would have closed it was abandoned.  Sections begun with no frame
 * open (NULL) or in an older frame stay open.  Limitation: a function
 * with a GORT_FRAME that returns with a section still open (a "begin"
 * wrapper) leaves an entry recording its dead frame; a panic recovered
 * later in a sibling frame at the same depth may close that section too.
 * Such wrappers should not open a frame.
 *
 * Thread end: a goroutine's end (gort__goroutine_entry), gort_thread_detach
 * and a thread-exit key destructor call gort__read_thread_fini(), which
 * closes any section still open (Goexit inside a section) and unregisters
 * the thread (its record is TLS, freed with the thread), so no grace
 * period ever waits for a thread that is gone.  The key is gort's own,
 * set at registration, so a thread that detached and reads again is still
 * unregistered at exit.
 *
 * Retirement: gort_retire() queues a small node (FIFO, under rq.mu); one
 * worker thread, started by the first retire, takes the whole queue, runs
 * one grace period for the batch and then the destructors in queue order,
 * and sleeps on a condition variable when the queue is empty.
 * gort_retire_barrier() retires a marker whose destructor signals the
 * caller: it runs after every object queued before it.  Pending objects
 * are not destroyed at process exit (Go runs no finalizers at exit).
 * Fork: the registry is pruned to the forking thread in the child, the
 * locks the child may find held are re-initialised, and the child has no
 * worker: its first retire starts one (no thread is started in a fork
 * handler, which ThreadSanitizer forbids after a multi-threaded fork).
 *
 * ThreadSanitizer cannot see membarrier (nor the futex), so it would
 * report every reclamation as a race.  One happens-before annotation
 * states what the algorithm guarantees: gp_clock is released by every
 * outermost gort_read_end() (and by a thread end that closes sections)
 * and acquired when a grace period ends ("the reader's section happens
 * before the end of the grace period").  It over-approximates: a section
 * that began after the grace period started and ended before it finished
 * also gets the edge (TSan could miss a race of such a reader with the
 * updater; it never reports a false one).  Everything else (the retire
 * queue, the barrier, the registry) goes through pthread mutexes and
 * condition variables, which TSan sees.
 */
#include "read_section_internal.h"
#include "runtime_internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef GORT__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(a) __tsan_acquire(a)
#define TSAN_RELEASE(a) __tsan_release(a)
#else
#define TSAN_ACQUIRE(a) ((void)(a))
#define TSAN_RELEASE(a) ((void)(a))
#endif

/* TSan synchronisation object (its address only; see the essay). */
char gort__rs_gp_clock;
#define gp_clock gort__rs_gp_clock

/* ===================================================================
 * Global grace-period state
 * =================================================================== */

#define RS_ACTIVE GORT__RS_ACTIVE
#define RS_PHASE GORT__RS_PHASE

/* Scans a writer makes, with a pause between them, before it sleeps.  A
 * reader in a short section ends within a few of them; one that was
 * descheduled will not end during a spin anyway (2-core machines). */
#define SPIN_ATTEMPTS 128

gort__rs_global gort__rs_gp = {RS_ACTIVE, 0, 0};
#define gp gort__rs_gp
/* gp.use_fence is set once, in rs_global_init(), before any thread
 * registers (pthread_once and the registry lock order it before every
 * reader's and writer's use). */

static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER; /* one grace
                                                               period at a
                                                               time */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* ===================================================================
 * Per-thread state
 * =================================================================== */

typedef gort__rs_thread rs_thread;
#define INLINE_SECTIONS GORT__RS_INLINE_SECTIONS

__thread gort__rs_thread gort__rs __attribute__((tls_model("initial-exec")));
#define rs gort__rs

static rs_thread *registry; /* registered threads (registry_lock) */

/* Its destructor unregisters threads that end without telling gort. */
static pthread_key_t rs_key;
static pthread_once_t rs_once = PTHREAD_ONCE_INIT;

static long sys_membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

static void futex_wait(int *word, int val)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_one(int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* A full fence.  ThreadSanitizer does not model standalone fences (GCC
 * says so, -Wtsan): the happens-before edges it needs come from gp_clock
 * (see the essay); the fence is still emitted and orders the machine. */
static inline void full_fence(void)
{
#if defined(GORT__TSAN) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
    atomic_thread_fence(memory_order_seq_cst);
#if defined(GORT__TSAN) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

void gort__read_full_fence(void)
{
    full_fence();
}

/* The writer's half: a full barrier on every thread of the process. */
static void writer_barrier(void)
{
    if (!__atomic_load_n(&gp.use_fence, __ATOMIC_RELAXED) &&
        sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        gort__fatalf("gort: membarrier failed (errno %d)", errno);
    /* The writer's own full barrier (membarrier implies one; the fence
     * says so to the compiler and to the C11 model, and is the whole
     * barrier in the fallback, pairing with the readers' fences). */
    full_fence();
}

static void rs_fork_prepare(void);
static void rs_fork_parent(void);
static void rs_fork_child(void);

static void rs_thread_exit(void *unused)
{
    (void)unused;
    gort__read_thread_fini();
}

/* Once per process, before the first registration or retire. */
static void rs_global_init(void)
{
    if (pthread_key_create(&rs_key, rs_thread_exit) != 0)
        gort__fatal("gort: cannot create the read-section thread key");
    bool fence = gort__debug.rcufence != 0;
    if (!fence) {
        long cmds = sys_membarrier(MEMBARRIER_CMD_QUERY);
        long need = MEMBARRIER_CMD_PRIVATE_EXPEDITED |
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
        fence = cmds < 0 || (cmds & need) != need ||
                sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0;
    }
    __atomic_store_n(&gp.use_fence, fence ? 1 : 0, __ATOMIC_RELAXED);
    if (pthread_atfork(rs_fork_prepare, rs_fork_parent, rs_fork_child) != 0)
        gort__fatal("gort: cannot install the read-section fork handlers");
}

/* Sets the capacity of @t's stack, and the depth its inline paths may
 * reach (gort/read_section.h): none in the fence fallback, whose begins
 * and ends need fences, nor in a ThreadSanitizer build, whose ends tell
 * TSan about gp_clock; both are out of line. */
static void set_cap(rs_thread *t, unsigned cap)
{
    t->cap = cap;
#ifdef GORT__TSAN
    t->fast_cap = 0;
#else
    t->fast_cap = t->stack != t->inline_stack ||
                          __atomic_load_n(&gp.use_fence, __ATOMIC_RELAXED)
                      ? 0
                      : cap;
#endif
}

/* Registers the calling thread (its first section). */
static void register_thread(rs_thread *t)
{
    gort__getg(); /* the thread's goroutine id, as any gort call gives */
    pthread_once(&rs_once, rs_global_init);
    __atomic_store_n(&t->ctr, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&registry_lock);
    t->prev = NULL;
    t->next = registry;
    if (registry != NULL)
        registry->prev = t;
    registry = t;
    pthread_mutex_unlock(&registry_lock);
    pthread_setspecific(rs_key, t); /* any non-NULL value */
    t->stack = t->inline_stack;
    set_cap(t, INLINE_SECTIONS);
}

static void unregister_thread(rs_thread *t)
{
    pthread_mutex_lock(&registry_lock);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        registry = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
    pthread_mutex_unlock(&registry_lock);
}

/* Slow path of a begin: first use on this thread, or nesting beyond the
 * stack's capacity. */
__attribute__((noinline)) static void grow(rs_thread *t)
{
    if (t->cap == 0) {
        register_thread(t);
        return;
    }
    unsigned cap = t->cap * 2;
    gort__rs_entry *s = gort__xmalloc(cap * sizeof *s);
    memcpy(s, t->stack, t->depth * sizeof *s);
    if (t->stack != t->inline_stack)
        free(t->stack);
    t->stack = s;
    set_cap(t, cap);
}

/* The sections nested deeper than the inline stack have ended: the
 * stack goes back to it, and the inline paths are on again (their fast
 * path addresses inline_stack).  Only once at most half of it is in use,
 * so that nesting that goes back and forth across the inline capacity
 * does not free and allocate a heap stack each time. */
#define SHRINK_DEPTH (INLINE_SECTIONS / 2)

__attribute__((noinline)) static void shrink(rs_thread *t)
{
    memcpy(t->inline_stack, t->stack, t->depth * sizeof *t->stack);
    free(t->stack);
    t->stack = t->inline_stack;
    set_cap(t, INLINE_SECTIONS);
}

/* Only a reader the sleeping writer waits for wakes it: one whose section
 * has the phase before the current one (old_readers_active).  Readers
 * that began after the flip end sections all the time; if each of them
 * woke the writer, it would rescan, find the old reader (often one that
 * was preempted inside its section) still there and go to sleep again,
 * with a membarrier and futex calls on both sides every time: measured
 * with bench_conc (snapmap, 2 readers with a view per lookup, one writer,
 * 2 cores), about 2400 membarriers a second, and the publishing thread
 * in the kernel most of its time.
 * Skipping the wake of a current-phase reader is safe: if the writer's
 * scan missed this reader's ctr = 0, this reader's futex load comes
 * after the writer's barrier, so it sees the flip that preceded it (and
 * the acquire load below orders the flip before the -1 it pairs with),
 * and an old reader finds its phase old and wakes the writer. */
__attribute__((noinline, cold)) void gort__read_wake_writer(unsigned long ctr)
{
    /* acquire: pairs with the writer's release store of -1; the phase
     * flip the writer made before it is visible. */
    if (__atomic_load_n(&gp.futex, __ATOMIC_ACQUIRE) != -1)
        return;
    unsigned long cur = __atomic_load_n(&gp.ctr, __ATOMIC_RELAXED);
    if (((ctr ^ cur) & RS_PHASE) == 0)
        return; /* a section of the current phase: not waited for */
    __atomic_store_n(&gp.futex, 0, __ATOMIC_RELAXED);
    futex_wake_one(&gp.futex);
}

/* Closes every open section of the calling thread at once. */
static void close_all(rs_thread *t)
{
    if (t->depth == 0)
        return;
    t->depth = 0;
    gort__read_section_exit();
}

void gort__read_thread_fini(void)
{
    rs_thread *t = &rs;
    if (t->cap == 0)
        return;
    close_all(t);
    unregister_thread(t);
    pthread_setspecific(rs_key, NULL); /* nothing left for the key */
    if (t->stack != t->inline_stack)
        free(t->stack);
    t->stack = NULL;
    set_cap(t, 0);
}

void gort__read_recover(const gort__frame *fr)
{
    rs_thread *t = &rs;
    unsigned d = t->depth;
    while (d > 0) {
        const gort__frame *rf = t->stack[d - 1].frame;
        if (rf == NULL || (uintptr_t)rf > (uintptr_t)fr)
            break; /* begun with no frame, or in an older frame */
        d--;
    }
    if (d == t->depth)
        return;
    if (d == 0)
        close_all(t);
    else
        t->depth = d; /* inner sections only: ctr stays */
}

/* ===================================================================
 * Read side (the fast paths are inline in gort/read_section.h)
 * =================================================================== */

__attribute__((noinline)) gort__rs_entry *
gort__read_begin_slow(const void *owner, const void *view)
{
    rs_thread *t = &rs;
    if (t->stack != t->inline_stack && t->cap != 0 &&
        t->depth <= SHRINK_DEPTH)
        shrink(t);
    if (t->depth >= t->cap)
        grow(t);
    unsigned d = t->depth;
    gort__rs_entry *e = &t->stack[d];
    e->frame = gort__g.frames;
    e->owner = owner;
    e->view = view;
    t->depth = d + 1;
    if (d == 0) {
        /* The phase this section belongs to (see the essay). */
        __atomic_store_n(
            &t->ctr, __atomic_load_n(&gp.ctr, __ATOMIC_RELAXED),
            __ATOMIC_RELAXED);
        /* ctr before the section's accesses: a compiler barrier that the
         * writer's membarrier makes a full one; a fence in the fallback,
         * pairing with the writer's. */
        if (__atomic_load_n(&gp.use_fence, __ATOMIC_RELAXED))
            full_fence();
        else
            atomic_signal_fence(memory_order_seq_cst);
    }
    return e;
}

bool gort__read_end_tagged(const void *owner, const void *view)
{
    rs_thread *t = &rs;
    unsigned d = t->depth;
    unsigned i = d;
    while (i > 0 && !(t->stack[i - 1].owner == owner &&
                      t->stack[i - 1].view == view))
        i--;
    if (i == 0)
        return false;
    /* The entries above it keep their frames and tags (each is its own
     * section); only the count of open sections matters to writers. */
    memmove(&t->stack[i - 1], &t->stack[i], (d - i) * sizeof *t->stack);
    t->depth = d - 1;
    if (d == 1)
        gort__read_section_exit();
    return true;
}

bool gort__read_holds_view(void)
{
    const rs_thread *t = &rs;
    for (unsigned i = 0; i < t->depth; i++)
        if (t->stack[i].owner != GORT__RS_PLAIN)
            return true;
    return false;
}

void (gort_read_begin)(void)
{
    gort__read_lock();
}

void (gort_read_end)(void)
{
    if (GORT_LIKELY(gort__read_end_top(GORT__RS_PLAIN, NULL)))
        return;
    if (gort__read_end_tagged(GORT__RS_PLAIN, NULL))
        return;
    if (rs.depth == 0)
        gort__fatal("gort: gort_read_end outside a read section");
    gort__fatal("gort: gort_read_end: the open read sections are snapmap "
                "views (end them with gort_snapmap_read_end)");
}

/* ===================================================================
 * Write side
 * =================================================================== */

/* Whether a registered reader is inside a section begun in the phase
 * before @cur.  registry_lock held. */
static bool old_readers_active(unsigned long cur)
{
    for (rs_thread *r = registry; r != NULL; r = r->next) {
        unsigned long c = __atomic_load_n(&r->ctr, __ATOMIC_RELAXED);
        if ((c & RS_ACTIVE) != 0 && ((c ^ cur) & RS_PHASE) != 0)
            return true;
    }
    return false;
}

static void wait_for_old_readers(unsigned long cur)
{
    for (unsigned spins = 0;;) {
        bool sleeping = spins >= SPIN_ATTEMPTS;
        if (sleeping) {
            /* release: pairs with the acquire load in
             * gort__read_wake_writer(): the flip to cur is visible to a
             * reader that sees -1. */
            __atomic_store_n(&gp.futex, -1, __ATOMIC_RELEASE);
            writer_barrier(); /* futex = -1 before the scan: pairs with the
                                 reader's barrier between ctr = 0 and its
                                 futex load (one of us sees the other) */
        }
        pthread_mutex_lock(&registry_lock);
        bool busy = old_readers_active(cur);
        pthread_mutex_unlock(&registry_lock);
        if (!busy) {
            if (sleeping)
                __atomic_store_n(&gp.futex, 0, __ATOMIC_RELAXED);
            return;
        }
        if (sleeping) {
            futex_wait(&gp.futex, -1); /* at once if a reader reset it */
        } else {
            spins++;
            cpu_relax();
        }
    }
}

/* One grace period: every section open when it began has ended when it
 * returns (see the essay for the proof sketch). */
static void grace_period(void)
{
    pthread_mutex_lock(&gp_lock);
    pthread_mutex_lock(&registry_lock);
    bool nobody = registry == NULL;
    pthread_mutex_unlock(&registry_lock);
    if (nobody) {
        /* No thread has ever read (or all left): a section that begins
         * now registers through registry_lock after our check, which
         * orders our earlier writes before its loads. */
        pthread_mutex_unlock(&gp_lock);
        full_fence(); /* the documented full
                                                      barrier */
        return;
    }
    writer_barrier(); /* step 1: the unpublication before every later
                         section; earlier sections' ctr visible to us */
    unsigned long cur = __atomic_load_n(&gp.ctr, __ATOMIC_RELAXED);
    for (int flip = 0; flip < 2; flip++) {
        /* The previous wait's scans complete before the flip (else a
         * reader of the new phase could be taken for an old one, and new
         * readers could keep the writer waiting). */
        full_fence();
        cur ^= RS_PHASE;
        __atomic_store_n(&gp.ctr, cur, __ATOMIC_RELAXED);
        /* The flip visible before the scan, so that readers beginning
         * from now on take the new phase (progress, not safety). */
        full_fence();
        wait_for_old_readers(cur);
    }
    writer_barrier(); /* step 3: the readers' accesses before our return */
    pthread_mutex_unlock(&gp_lock);
    /* Paired with the release in gort__read_section_exit(): the sections this grace
     * period waited for happen before our return. */
    TSAN_ACQUIRE(&gp_clock);
}

void gort_synchronize(void)
{
    if (rs.depth != 0)
        gort__fatal("gort: gort_synchronize inside a read section (deadlock)");
    grace_period();
}

/* ===================================================================
 * Retirement
 * =================================================================== */

typedef struct retire_node {
    struct retire_node *next; /* queue link */
    void *p;                  /* the retired object */
    void (*destroy)(void *);  /* its destructor, never NULL */
} retire_node;

/* The queue and the worker, all under mu. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* the worker sleeps on it when idle */
    retire_node *head;   /* FIFO */
    retire_node **tail;
    bool started;        /* a worker exists (false again in a fork child) */
    bool idle;           /* the worker waits on cv */
} rq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, &rq.head,
        false, false};

static void *retire_worker(void *unused)
{
    (void)unused;
    rs_thread *t = &rs;
    for (;;) {
        pthread_mutex_lock(&rq.mu);
        while (rq.head == NULL) {
            rq.idle = true;
            pthread_cond_wait(&rq.cv, &rq.mu);
        }
        rq.idle = false;
        retire_node *batch = rq.head;
        rq.head = NULL;
        rq.tail = &rq.head;
        pthread_mutex_unlock(&rq.mu);
        /* One grace period for the batch: it began after every retire in
         * it (the mutex orders them), so it waits for every section that
         * was open at any of those calls. */
        grace_period();
        while (batch != NULL) {
            retire_node *n = batch;
            batch = n->next;
            t->in_destroy = true;
            n->destroy(n->p);
            t->in_destroy = false;
            free(n);
        }
    }
    return NULL;
}

/* rq.mu held. */
static void start_worker(void)
{
    pthread_once(&rs_once, rs_global_init); /* fork handlers first */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Asynchronous signals are the program's threads' business; the
     * worker only runs destructors.  Faults stay deliverable. */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int err = pthread_create(&th, &attr, retire_worker, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0)
        gort__fatalf("gort: cannot start the retire thread (errno %d)", err);
    pthread_setname_np(th, "gort-retire");
    rq.started = true;
}

void gort_retire(void *p, void (*destroy)(void *))
{
    if (p == NULL || destroy == NULL)
        return;
    retire_node *n = gort__xmalloc(sizeof *n);
    n->next = NULL;
    n->p = p;
    n->destroy = destroy;
    pthread_mutex_lock(&rq.mu);
    *rq.tail = n;
    rq.tail = &n->next;
    if (!rq.started)
        start_worker(); /* the first retire, or the first in a fork child */
    else if (rq.idle)
        pthread_cond_signal(&rq.cv);
    pthread_mutex_unlock(&rq.mu);
}

/* gort_retire_barrier()'s marker: retired like any object, so it is
 * destroyed after every object queued before it. */
typedef struct barrier_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done; /* guarded by mu */
} barrier_waiter;

static void barrier_reached(void *p)
{
    barrier_waiter *w = p;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void gort_retire_barrier(void)
{
    if (rs.depth != 0)
        gort__fatal("gort: gort_retire_barrier inside a read section "
                    "(deadlock)");
    if (rs.in_destroy)
        gort__fatal("gort: gort_retire_barrier inside a retire destructor "
                    "(deadlock)");
    /* The worker runs batches in queue order, each in queue order, so the
     * marker's destructor runs after every object retired before this
     * call; the mutex hands that ordering to TSan too (the earlier
     * destroy() calls happen before barrier_reached() on the worker). */
    barrier_waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                        false};
    gort_retire(&w, barrier_reached);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

/* ===================================================================
 * Fork
 * =================================================================== */

unsigned gort__fork_gen; /* read_section_internal.h */

/* The queue and the registry are held across fork(), so the child gets
 * them consistent.  Neither lock is ever held while waiting for anything
 * else, so taking them cannot deadlock.  gp_lock is not taken: a grace
 * period may be waiting for the forking thread's own section. */
static void rs_fork_prepare(void)
{
    pthread_mutex_lock(&rq.mu);
    pthread_mutex_lock(&registry_lock);
}

static void rs_fork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&rq.mu);
}

/* The child has one thread, the forking one: every other record is the
 * TLS of a thread that does not exist here (an active one would block the
 * child's grace periods forever).  A grace period the parent was running
 * may have held gp_lock and left gp.futex at -1; its phase is irrelevant
 * (the next grace period flips twice).  The worker is gone: the child's
 * first retire starts one; the batch it was running is lost, as objects
 * pending at exit are. */
static void rs_fork_child(void)
{
    gort__fork_gen++;
    rs_thread *self = &rs;
    registry = NULL;
    if (self->cap != 0) {
        self->next = self->prev = NULL;
        registry = self;
    }
    __atomic_store_n(&gp.futex, 0, __ATOMIC_RELAXED);
    pthread_mutex_init(&gp_lock, NULL);
    rq.started = false;
    rq.idle = false;
    pthread_cond_init(&rq.cv, NULL);
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&rq.mu);
}
