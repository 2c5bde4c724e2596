/*
 * read_section.c - read-side sections, grace periods and retirement (RCU)
 * on top of liburcu's urcu-memb flavour.
 *
 * Design.  Go frees an unpublished object when the garbage collector
 * proves no goroutine holds it; gort asks readers to say when they might
 * hold one.  gort_read_begin()/gort_read_end() delimit a read-side
 * critical section, gort_synchronize() is liburcu's synchronize_rcu(),
 * gort_retire() its call_rcu() and gort_retire_barrier() its rcu_barrier().
 * The memb flavour was chosen over the others liburcu ships because its
 * readers need neither a signal (urcu-signal) nor periodic quiescent-state
 * calls (urcu-qsbr, impossible to ask of arbitrary C code), and, when the
 * kernel offers membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), a read
 * section costs no fence: the writer's membarrier orders the readers.
 * Measured on the 2-core development VM (docs/design/read_sections.md):
 * liburcu's own pair costs 1.1-1.4 ns when the machine is quiet, and gort's
 * 1.15-1.8x that in the same run (it records the frame and checks
 * registration; a nested pair, which never enters liburcu, costs half).
 * Without membarrier liburcu falls back to mfence on the read side
 * (urcu-mb's cost: 72-95 ns a pair), which is why the kernel feature
 * matters.
 *
 * Per-thread state (rs): liburcu needs each reading thread registered;
 * gort registers a thread on its first section (or retire), so
 * goroutines and foreign threads need no set-up.  Besides liburcu's
 * nesting counter, gort keeps a small stack with one entry per open
 * section: the innermost defer frame (gort__g.frames) at the time of the
 * gort_read_begin().  It serves SPEC's rule that a panic unwinding out of
 * a section leaves no section open: when a panic is recovered and frame
 * fr resumes (panic.c), every section at the top of the stack that was
 * begun in fr or in a deeper frame (frames live on the thread's stack,
 * which grows down: deeper is a lower address) is closed, since the code
 * that would have closed it was abandoned.  Sections begun with no frame
 * open (NULL) or in an older frame stay open.  Recording the frame costs
 * one TLS load and one store per begin and nothing on the defer fast path.
 * Limitation: a function with a GORT_FRAME that returns with a section
 * still open (a "begin" wrapper) leaves an entry recording its dead frame;
 * a panic recovered later in a sibling frame at the same depth may close
 * that section too.  Such wrappers should not open a frame.
 *
 * Thread end: a goroutine's end (gort__goroutine_entry), gort_thread_detach
 * and a thread-exit key destructor call gort__read_thread_fini(), which
 * closes any section still open (Goexit inside a section) and unregisters
 * the thread, so no grace period ever waits for a thread that is gone.
 * The key is gort's own, set at registration, so a thread that detached
 * and reads again is still unregistered at exit.
 *
 * Retirement: gort_retire() allocates a small node and queues it with
 * call_rcu(); liburcu's call_rcu thread waits for a grace period and runs
 * destroy(p).  Pending objects are not destroyed at process exit (Go runs
 * no finalizers at exit, and an exit-time barrier would hang behind any
 * goroutine still inside a section); gort_retire_barrier() drains them.
 * gort relies on liburcu's default call_rcu thread, whose queue is FIFO:
 * a program must not give its threads or CPUs call_rcu threads of their
 * own (liburcu's create_all_cpu_call_rcu_data), or the barrier would
 * only drain the caller's queue.
 * Fork: liburcu's call_rcu fork handlers are installed on the first
 * retire, so a child that does not exec still gets a call_rcu thread:
 * started by the child's first retire, not at fork (settle_fork_child).
 *
 * Ordering guarantees: liburcu provides RCU's: every section that began
 * before gort_synchronize() was called ends before it returns, with the
 * memory effects of the section visible to the caller (a full barrier,
 * from membarrier or mfence, on each side); the call_rcu thread runs
 * destroy(p) after such a grace period that began after the gort_retire()
 * call.  The per-thread state below is only touched by its own thread.
 *
 * ThreadSanitizer: Debian's liburcu 0.13 is not instrumented and orders
 * readers with membarrier, so TSan sees none of these edges and would
 * report every reclamation as a race.  Two happens-before annotations
 * tell it what liburcu guarantees (each annotated site says which):
 *   - gp_clock: released by every outermost gort_read_end() (and by a
 *     thread end that closes sections), acquired when gort_synchronize()
 *     returns and before each destroy(): "the reader's section happens
 *     before the end of the grace period".  It over-approximates: a
 *     section that began after the grace period started and ended before
 *     it finished also gets the edge (TSan could miss a race of such a
 *     reader with the updater; it never reports a false one);
 *   - the retire node: released by gort_retire(), acquired by the
 *     callback on the call_rcu thread ("retire happens before destroy";
 *     the queue between them is liburcu's uninstrumented wfcqueue).
 * gort_retire_barrier() needs none: it is a retired marker whose
 * destructor signals a pthread condition variable, which TSan sees, and
 * it runs on the call_rcu thread after the destructors queued before it.
 * liburcu's own rcu_barrier() is not used: its completion nodes are
 * allocated by the caller and freed by the call_rcu thread through the
 * uninstrumented queue, which TSan reports inside liburcu.
 */
#include "read_section_internal.h"
#include "runtime_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>
/* struct urcu_reader and the urcu_memb_reader TLS declaration: read once,
 * on registration, to leave alone a thread liburcu already knows. */
#include <urcu/static/urcu-memb.h>

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
static char gp_clock;

/* ===================================================================
 * Per-thread state
 * =================================================================== */

#define INLINE_SECTIONS 8 /* nesting deeper than this moves to the heap */

typedef struct rs_thread {
    unsigned depth;  /* open sections, 0..cap */
    unsigned cap;    /* capacity of stack; 0: not registered */
    const gort__frame **stack; /* [0, depth): innermost frame at each begin
                                  (NULL: none); inline_stack or heap */
    bool external;   /* registered with liburcu by someone else (its
                        call_rcu thread, or a program that also uses
                        urcu-memb): gort never unregisters it */
    bool in_destroy; /* running a retired object's destroy() */
    const gort__frame *inline_stack[INLINE_SECTIONS];
} rs_thread;

static __thread rs_thread rs __attribute__((tls_model("initial-exec")));

/* Its destructor unregisters threads that end without telling gort. */
static pthread_key_t rs_key;
static pthread_once_t rs_key_once = PTHREAD_ONCE_INIT;

static void rs_thread_exit(void *unused)
{
    (void)unused;
    gort__read_thread_fini();
}

static void rs_key_create(void)
{
    if (pthread_key_create(&rs_key, rs_thread_exit) != 0)
        gort__fatal("gort: cannot create the read-section thread key");
}

/* Registers the calling thread with liburcu (first section or retire). */
static void register_thread(rs_thread *t)
{
    gort__getg(); /* the thread's goroutine id, as any gort call gives */
    pthread_once(&rs_key_once, rs_key_create);
    /* Registering twice aborts inside liburcu (its assert is on in
     * Debian's build): the call_rcu thread is registered by liburcu, and
     * a program may register its own threads to use urcu-memb directly
     * (cds_lfht, say). */
    t->external = URCU_TLS(urcu_memb_reader).registered;
    if (!t->external)
        urcu_memb_register_thread();
    pthread_setspecific(rs_key, t); /* any non-NULL value */
    t->stack = t->inline_stack;
    t->cap = INLINE_SECTIONS;
}

/* Slow path of gort_read_begin: first use on this thread, or nesting
 * beyond the stack's capacity. */
__attribute__((noinline)) static void grow(rs_thread *t)
{
    if (t->cap == 0) {
        register_thread(t);
        return;
    }
    unsigned cap = t->cap * 2;
    const gort__frame **s = gort__xmalloc(cap * sizeof *s);
    memcpy(s, t->stack, t->depth * sizeof *s);
    if (t->stack != t->inline_stack)
        free(t->stack);
    t->stack = s;
    t->cap = cap;
}

/* Closes every open section of the calling thread at once. */
static void close_all(rs_thread *t)
{
    if (t->depth == 0)
        return;
    t->depth = 0;
    TSAN_RELEASE(&gp_clock); /* the section ends: see the essay */
    urcu_memb_read_unlock();
}

void gort__read_thread_fini(void)
{
    rs_thread *t = &rs;
    if (t->cap == 0)
        return;
    close_all(t);
    if (!t->external)
        urcu_memb_unregister_thread();
    pthread_setspecific(rs_key, NULL); /* nothing left for the key */
    if (t->stack != t->inline_stack)
        free(t->stack);
    t->stack = NULL;
    t->cap = 0;
    t->external = false;
}

void gort__read_recover(const gort__frame *fr)
{
    rs_thread *t = &rs;
    unsigned d = t->depth;
    while (d > 0) {
        const gort__frame *rf = t->stack[d - 1];
        if (rf == NULL || (uintptr_t)rf > (uintptr_t)fr)
            break; /* begun with no frame, or in an older frame */
        d--;
    }
    if (d == t->depth)
        return;
    if (d == 0) {
        close_all(t);
    } else {
        /* Inner sections only: liburcu counts one outermost lock. */
        t->depth = d;
    }
}

/* ===================================================================
 * Read side
 * =================================================================== */

void gort_read_begin(void)
{
    rs_thread *t = &rs;
    unsigned d = t->depth;
    if (GORT_UNLIKELY(d >= t->cap))
        grow(t);
    t->stack[d] = gort__g.frames;
    t->depth = d + 1;
    /* liburcu nests too, but one lock per outermost section keeps its
     * counter out of the nested fast path. */
    if (d == 0)
        urcu_memb_read_lock();
}

void gort_read_end(void)
{
    rs_thread *t = &rs;
    unsigned d = t->depth;
    if (GORT_UNLIKELY(d == 0))
        gort__fatal("gort: gort_read_end outside a read section");
    t->depth = d - 1;
    if (d == 1) {
        /* Everything this section did happens before the end of the grace
         * periods that wait for it (acquired in gort_synchronize() and
         * retire_cb()). */
        TSAN_RELEASE(&gp_clock);
        urcu_memb_read_unlock();
    }
}

/* ===================================================================
 * Write side
 * =================================================================== */

void gort_synchronize(void)
{
    if (rs.depth != 0)
        gort__fatal("gort: gort_synchronize inside a read section (deadlock)");
    urcu_memb_synchronize_rcu();
    /* Paired with the release in gort_read_end(): the sections this grace
     * period waited for happen before our return. */
    TSAN_ACQUIRE(&gp_clock);
}

typedef struct retire_node {
    struct rcu_head head;     /* liburcu's queue link and callback */
    void *p;                  /* the retired object */
    void (*destroy)(void *);  /* its destructor, never NULL */
} retire_node;

/* Runs on liburcu's call_rcu thread after a grace period. */
static void retire_cb(struct rcu_head *head)
{
    retire_node *n = caa_container_of(head, retire_node, head);
    /* Paired with the release in gort_retire(): the node and the object's
     * last writes by the retiring thread. */
    TSAN_ACQUIRE(n);
    /* Paired with the release in gort_read_end(): the readers of p. */
    TSAN_ACQUIRE(&gp_clock);
    rs_thread *t = &rs;
    t->in_destroy = true;
    n->destroy(n->p);
    t->in_destroy = false;
    free(n);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Set in a child of fork() until its call_rcu state is rebuilt.  liburcu's
 * child handler (urcu_memb_call_rcu_after_fork_child) starts a new call_rcu
 * thread; it runs here on the child's first retire instead of in the fork
 * handler, so a child that execs or never retires starts no thread, and a
 * child under ThreadSanitizer (which ends a process that starts threads
 * after a multi-threaded fork) can fork and exec. */
static bool fork_child_pending;
static pthread_mutex_t fork_child_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_fork_child(void)
{
    /* The child has one thread here: no ordering needed. */
    __atomic_store_n(&fork_child_pending, true, __ATOMIC_RELAXED);
    pthread_mutex_init(&fork_child_lock, NULL);
}

static void install_atfork(void)
{
    /* liburcu pauses its call_rcu threads across fork() and gives the
     * child a new one (liburcu's documented fork protocol). */
    if (pthread_atfork(urcu_memb_call_rcu_before_fork,
                       urcu_memb_call_rcu_after_fork_parent,
                       note_fork_child) != 0)
        gort__fatal("gort: cannot install the call_rcu fork handlers");
}

/* In a child of fork(): rebuilds liburcu's call_rcu state before the first
 * call_rcu (once, whichever thread gets here first). */
static void settle_fork_child(void)
{
    /* Acquire pairs with the release below: a thread that sees the state
     * rebuilt also sees what the rebuild wrote. */
    if (GORT_LIKELY(!__atomic_load_n(&fork_child_pending, __ATOMIC_ACQUIRE)))
        return;
    pthread_mutex_lock(&fork_child_lock);
    if (__atomic_load_n(&fork_child_pending, __ATOMIC_RELAXED)) {
        urcu_memb_call_rcu_after_fork_child();
        /* Release: pairs with the acquire above. */
        __atomic_store_n(&fork_child_pending, false, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&fork_child_lock);
}

void gort_retire(void *p, void (*destroy)(void *))
{
    if (p == NULL || destroy == NULL)
        return;
    rs_thread *t = &rs;
    if (GORT_UNLIKELY(t->cap == 0))
        register_thread(t); /* call_rcu() must run on a registered thread */
    pthread_once(&atfork_once, install_atfork);
    settle_fork_child();
    retire_node *n = gort__xmalloc(sizeof *n);
    n->p = p;
    n->destroy = destroy;
    /* Paired with the acquire in retire_cb(). */
    TSAN_RELEASE(n);
    urcu_memb_call_rcu(&n->head, retire_cb);
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
    /* liburcu's call_rcu thread runs callbacks in queue order, one batch
     * after another, so the marker's destructor runs after every object
     * retired before this call.  (liburcu's rcu_barrier() would do, but
     * it allocates and frees its own nodes across threads through its
     * uninstrumented queue, which TSan reports as races.)  The mutex
     * hands the ordering to TSan too: the earlier destroy() calls happen
     * before barrier_reached() on the same thread. */
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
