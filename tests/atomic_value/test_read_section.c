/*
 * Read-side sections: nesting, what gort_synchronize waits for and what it
 * does not, retirement only after the readers leave, sections closed by a
 * recovered panic and by a goroutine's end, foreign threads.
 *
 * Waiting is checked with handshakes: a test may sleep to give a wrong
 * implementation the chance to misbehave, but never asserts on time.  A
 * synchronize that waits for the wrong readers hangs: ctest's timeout
 * then fails the test.
 */
#include "av_test.h"

#include <criterion/criterion.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

Test(read_section, sections_nest_beyond_the_inline_stack)
{
    for (int i = 0; i < 100; i++)
        gort_read_begin();
    for (int i = 0; i < 100; i++)
        gort_read_end();
    gort_synchronize(); /* fatal if a section were left open */
    gort_read_begin();
    gort_read_begin();
    gort_read_end();
    gort_read_end();
    gort_synchronize();
}

/* The inline halves (gort/read_section.h) run only while the thread's
 * stack is its inline one: nesting deeper moves the stack to the heap and
 * sends every begin and end out of line; once the deep sections have
 * ended, the next begin moves the stack back and the inline paths resume.
 * In the fence fallback and in a ThreadSanitizer build they never run. */
Test(read_section, inline_paths_resume_after_nesting_beyond_the_inline_stack)
{
    gort_read_begin(); /* registers the thread: use_fence is known */
    bool inline_on =
        __atomic_load_n(&gort__rs_gp.use_fence, __ATOMIC_RELAXED) == 0;
#ifdef GORT__TSAN
    inline_on = false;
#endif
    unsigned on = inline_on ? GORT__RS_INLINE_SECTIONS : 0;
    cr_assert_eq(gort__rs.fast_cap, on);
    for (int i = 0; i < 20; i++)
        gort_read_begin();
    cr_assert_neq(gort__rs.stack, gort__rs.inline_stack, "on the heap");
    cr_assert_eq(gort__rs.fast_cap, 0u, "out of line while on the heap");
    for (int i = 0; i < 20; i++)
        (gort_read_end)();
    gort_read_begin(); /* depth 2: the stack moves back (at most 4 open) */
    cr_assert_eq(gort__rs.stack, gort__rs.inline_stack);
    cr_assert_eq(gort__rs.fast_cap, on);
    cr_assert_eq(gort__rs.depth, 2u);
    gort_read_end();
    (gort_read_end)();
    cr_assert_eq(gort__rs.depth, 0u);
    gort_synchronize(); /* fatal if a section were left open */
}

/* The two halves of a plain section pair either way. */
Test(read_section, the_inline_and_out_of_line_halves_pair_either_way)
{
    (gort_read_begin)();
    gort_read_begin();
    gort_read_end();
    (gort_read_end)();
    gort_read_begin();
    (gort_read_end)();
    cr_assert_eq(gort__rs.depth, 0u);
    gort_synchronize();
}

/* ---- synchronize waits for a reader that began before it ------------ */

typedef struct early {
    av_flag in;        /* 1: the reader is inside its section */
    av_flag syncing;   /* 1: the writer is about to synchronize */
    int done;          /* __atomic: set by the reader just before its end */
    gort_waitgroup wg;
} early;

static void early_reader(void *arg)
{
    early *e = arg;
    gort_read_begin();
    av_flag_set(&e->in, 1);
    av_flag_wait(&e->syncing, 1);
    av_sleep_ms(30); /* let the writer block in synchronize */
    __atomic_store_n(&e->done, 1, __ATOMIC_RELAXED);
    gort_read_end();
    gort_waitgroup_done(&e->wg);
}

Test(read_section, synchronize_waits_for_a_reader_that_began_before_it)
{
    static early e = {AV_FLAG_INIT, AV_FLAG_INIT, 0, {0}};
    gort_waitgroup_add(&e.wg, 1);
    gort_go(early_reader, &e);
    av_flag_wait(&e.in, 1);
    av_flag_set(&e.syncing, 1);
    gort_synchronize();
    cr_assert_eq(__atomic_load_n(&e.done, __ATOMIC_RELAXED), 1,
                 "synchronize returned while an earlier reader was inside");
    gort_waitgroup_wait(&e.wg);
}

/* ---- synchronize does not wait for readers that began after it ------ */

/* Two readers pass a baton so that some section is always open, each one
 * ending only after the other began.  A synchronize that also waited for
 * sections begun after it would never return. */
typedef struct baton {
    uint64_t gen;  /* __atomic: bumped by each begin */
    int stop;      /* __atomic */
    gort_waitgroup wg;
} baton;

typedef struct baton_reader {
    baton *b;
    uint64_t me; /* 0 or 1: begins when gen % 2 == me */
} baton_reader;

static void baton_run(void *arg)
{
    baton_reader *r = arg;
    baton *b = r->b;
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        uint64_t g = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
        if (g % 2 != r->me) {
            sched_yield();
            continue;
        }
        gort_read_begin();
        __atomic_store_n(&b->gen, g + 1, __ATOMIC_RELEASE);
        /* Hold the section until the other reader has begun its own. */
        while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == g + 1 &&
               !__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE))
            sched_yield();
        gort_read_end();
    }
    gort_waitgroup_done(&b->wg);
}

Test(read_section, synchronize_does_not_wait_for_readers_that_began_after_it)
{
    static baton b;
    static baton_reader r[2] = {{&b, 0}, {&b, 1}};
    gort_waitgroup_add(&b.wg, 2);
    gort_go(baton_run, &r[0]);
    gort_go(baton_run, &r[1]);
    while (__atomic_load_n(&b.gen, __ATOMIC_ACQUIRE) < 10)
        sched_yield();
    for (int i = 0; i < 3; i++) {
        uint64_t before = __atomic_load_n(&b.gen, __ATOMIC_ACQUIRE);
        gort_synchronize();
        cr_assert_gt(__atomic_load_n(&b.gen, __ATOMIC_ACQUIRE), before,
                     "the sections open at the call must have ended");
    }
    __atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
    gort_waitgroup_wait(&b.wg);
}

/* ---- retire destroys only after the readers leave ------------------- */

typedef struct retire_case {
    av_obj *volatile published; /* __atomic */
    av_flag loaded;             /* 1: the reader holds the object */
    av_flag retired;            /* 1: the writer has retired it */
    bool ok;                    /* the object was alive all along */
    gort_waitgroup wg;
} retire_case;

static void holding_reader(void *arg)
{
    retire_case *c = arg;
    gort_read_begin();
    av_obj *o = __atomic_load_n(&c->published, __ATOMIC_ACQUIRE);
    av_flag_set(&c->loaded, 1);
    av_flag_wait(&c->retired, 1);
    av_sleep_ms(30); /* give a wrong implementation time to destroy it */
    c->ok = av_obj_ok(o) && o->version == 7;
    gort_read_end();
    gort_waitgroup_done(&c->wg);
}

Test(read_section, retire_destroys_only_after_the_readers_leave)
{
    static retire_case c = {NULL, AV_FLAG_INIT, AV_FLAG_INIT, false, {0}};
    av_obj *o = av_obj_new(7);
    __atomic_store_n(&c.published, o, __ATOMIC_RELEASE);
    gort_waitgroup_add(&c.wg, 1);
    gort_go(holding_reader, &c);
    av_flag_wait(&c.loaded, 1);
    __atomic_store_n(&c.published, NULL, __ATOMIC_RELEASE); /* unpublish */
    gort_retire(o, av_obj_destroy);
    av_flag_set(&c.retired, 1);
    gort_waitgroup_wait(&c.wg);
    cr_assert(c.ok, "the object was destroyed while a reader held it");
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 1);
}

Test(read_section, retire_inside_a_section_waits_for_that_section)
{
    av_obj *o = av_obj_new(1);
    gort_read_begin();
    gort_retire(o, av_obj_destroy);
    av_sleep_ms(30); /* time for a wrong implementation to destroy it */
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 0,
                 "destroyed inside the retiring thread's own section");
    cr_assert(av_obj_ok(o));
    gort_read_end();
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 1);
}

static int in_destroy_sections;

static void destroy_with_section(void *p)
{
    gort_read_begin(); /* the call_rcu thread may read too */
    gort_read_end();
    gort_retire(NULL, av_obj_destroy); /* no-op, but legal there */
    __atomic_add_fetch(&in_destroy_sections, 1, __ATOMIC_RELAXED);
    av_obj_destroy(p);
}

Test(read_section, a_destructor_may_use_sections_and_retire)
{
    for (int i = 0; i < 10; i++)
        gort_retire(av_obj_new((uint64_t)i), destroy_with_section);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&in_destroy_sections, __ATOMIC_RELAXED), 10);
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 10);
}

Test(read_section, retire_of_null_or_without_destructor_does_nothing)
{
    gort_retire(NULL, av_obj_destroy);
    av_obj *o = av_obj_new(1);
    gort_retire(o, NULL);
    gort_retire_barrier();
    cr_assert(av_obj_ok(o));
    av_obj_destroy(o);
}

/* ---- panics ---------------------------------------------------------- */

static void end_section(void *unused)
{
    (void)unused;
    gort_read_end();
}

static void recover_it(void *unused)
{
    (void)unused;
    cr_assert_not_null(gort_recover());
}

static void reader_that_panics(void)
{
    gort_read_begin();
    gort_panic("inside a read section");
}

static int recovered_one_up(void)
{
    volatile int r = 1;
    GORT_FRAME_RETURN(r);
    gort_defer(recover_it, NULL);
    gort_read_begin();
    gort_read_begin();
    reader_that_panics();
    return 0;
}

Test(read_section, a_panic_recovered_one_frame_up_closes_the_sections)
{
    cr_assert_eq(recovered_one_up(), 1);
    gort_synchronize(); /* neither a fatal error nor a deadlock */
}

static void three_deep(void)
{
    GORT_FRAME;
    gort_read_begin();
    reader_that_panics();
}

static void two_deep(void)
{
    GORT_FRAME;
    gort_defer(end_section, NULL); /* runs during the panic: closes one */
    gort_read_begin();
    gort_read_begin();
    three_deep();
}

static int recovered_three_up(void)
{
    volatile int r = 3;
    GORT_FRAME_RETURN(r);
    gort_defer(recover_it, NULL);
    gort_read_begin();
    two_deep();
    return 0;
}

Test(read_section, a_panic_recovered_three_frames_up_closes_the_sections)
{
    cr_assert_eq(recovered_three_up(), 3);
    gort_synchronize();
}

Test(read_section, a_section_opened_before_the_recovering_frame_stays_open)
{
    gort_read_begin(); /* no frame here: recovery never closes it */
    cr_assert_eq(recovered_three_up(), 3);
    cr_assert_eq(recovered_one_up(), 1);
    gort_read_end(); /* fatal ("outside a read section") if it were closed */
    gort_synchronize();
}

static int outer_with_frame(void)
{
    volatile int r = 0;
    GORT_FRAME_RETURN(r);
    gort_read_begin(); /* recorded with this frame, older than the next */
    r = recovered_one_up();
    gort_read_end();
    return r;
}

Test(read_section, a_section_of_an_older_frame_stays_open)
{
    cr_assert_eq(outer_with_frame(), 1);
    gort_synchronize();
}

/* ---- goroutine ends ------------------------------------------------- */

static void done_deferred(void *wg)
{
    gort_waitgroup_done(wg);
}

static void goexit_inside(void *wg)
{
    GORT_FRAME;
    gort_defer(done_deferred, wg);
    gort_read_begin();
    gort_read_begin();
    gort_goexit();
}

static void return_inside(void *wg)
{
    gort_read_begin();
    gort_waitgroup_done(wg);
}

Test(read_section, a_goroutine_ending_inside_a_section_does_not_block_writers)
{
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, 2);
    gort_go(goexit_inside, &wg);
    gort_go(return_inside, &wg);
    gort_waitgroup_wait(&wg);
    gort_synchronize(); /* hangs if the ended goroutines stayed registered */
    av_obj *o = av_obj_new(1);
    gort_retire(o, av_obj_destroy);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 1);
}

/* ---- threads gort did not start ------------------------------------- */

static gort_atomic_value foreign_value;

static void *foreign_reader(void *mode)
{
    int m = (int)(intptr_t)mode;
    for (int i = 0; i < 100; i++) {
        gort_read_begin();
        av_obj *o = gort_atomic_value_load(&foreign_value);
        if (o != NULL && !av_obj_ok(o))
            abort();
        gort_read_end();
        if (i % 10 == 0)
            gort_atomic_value_store(&foreign_value, av_obj_new((uint64_t)i));
    }
    if (m == 1) {
        gort_thread_detach();
        gort_read_begin(); /* reads again after detaching */
        gort_read_end();
    } else if (m == 2) {
        gort_read_begin(); /* exits inside a section, without detaching */
    } else {
        gort_thread_detach();
    }
    return NULL;
}

Test(read_section, foreign_threads_register_on_first_use_and_never_block_writers)
{
    gort_atomic_value_init(&foreign_value, av_obj_destroy);
    for (int round = 0; round < 5; round++) {
        pthread_t t[6];
        for (int i = 0; i < 6; i++)
            cr_assert_eq(pthread_create(&t[i], NULL, foreign_reader,
                                        (void *)(intptr_t)(i % 3)), 0);
        for (int i = 0; i < 6; i++)
            cr_assert_eq(pthread_join(t[i], NULL), 0);
        gort_synchronize(); /* hangs if an exited thread stayed registered */
    }
    gort_atomic_value_destroy(&foreign_value);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED),
                 __atomic_load_n(&av_created, __ATOMIC_RELAXED));
}

/* ---- a program that also uses liburcu on its own threads ------------- */

/* gort's read sections are its own (read_section.c), not liburcu's: a
 * thread registered with liburcu by the program, inside liburcu's read
 * lock and gort's section at once, works with both. */

#include <urcu/urcu-memb.h>

static void *urcu_user(void *unused)
{
    (void)unused;
    urcu_memb_register_thread(); /* the program uses urcu-memb directly */
    gort_read_begin();           /* gort must not register it again */
    urcu_memb_read_lock();
    urcu_memb_read_unlock();
    gort_read_end();
    gort_retire(av_obj_new(1), av_obj_destroy);
    urcu_memb_unregister_thread();
    return NULL;
}

Test(read_section, threads_registered_with_liburcu_by_the_program_work_too)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, urcu_user, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    gort_synchronize();
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 1);
}

/* ---- grace periods under a stream of readers ------------------------ */

/* Readers enter and leave short sections without pause on several
 * goroutines, so some section is open almost all the time, while the
 * writer replaces a published object, waits for a grace period and
 * destroys the old one, many times.  A grace period that waited for
 * sections begun after it (no phase flip) could starve and hang; one that
 * did not wait for the sections that may hold the old object lets a reader
 * see it poisoned (or ASan see the use after free). */
#define CHURN_READERS 3
#define CHURN_ROUNDS 300

typedef struct churn {
    av_obj *published; /* __atomic */
    int stop;          /* __atomic */
    uint64_t bad;      /* __atomic: poisoned objects seen */
    uint64_t sections; /* __atomic */
    int running;       /* __atomic: readers past their first sections */
    gort_waitgroup wg;
} churn;

static void churn_reader(void *arg)
{
    churn *c = arg;
    uint64_t n = 0;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        gort_read_begin();
        av_obj *o = __atomic_load_n(&c->published, __ATOMIC_ACQUIRE);
        if (!av_obj_ok(o))
            __atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
        if ((n & 7) == 0) {
            gort_read_begin(); /* nested now and then */
            sched_yield();     /* and sometimes descheduled inside */
            gort_read_end();
        }
        if (!av_obj_ok(o))
            __atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
        gort_read_end();
        if (++n == 100)
            __atomic_add_fetch(&c->running, 1, __ATOMIC_RELEASE);
    }
    __atomic_add_fetch(&c->sections, n, __ATOMIC_RELAXED);
    gort_waitgroup_done(&c->wg);
}

Test(read_section, grace_periods_complete_under_a_stream_of_short_readers)
{
    static churn c;
    __atomic_store_n(&c.published, av_obj_new(0), __ATOMIC_RELEASE);
    gort_waitgroup_add(&c.wg, CHURN_READERS);
    for (int i = 0; i < CHURN_READERS; i++)
        gort_go(churn_reader, &c);
    while (__atomic_load_n(&c.running, __ATOMIC_ACQUIRE) < CHURN_READERS)
        sched_yield(); /* every reader is streaming sections */
    int rounds = 0;
    for (uint64_t v = 1; v <= CHURN_ROUNDS; v++) {
        av_obj *old = __atomic_exchange_n(&c.published, av_obj_new(v),
                                          __ATOMIC_ACQ_REL);
        gort_synchronize();
        av_obj_destroy(old);
        rounds++;
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    gort_waitgroup_wait(&c.wg);
    av_obj_destroy(__atomic_load_n(&c.published, __ATOMIC_ACQUIRE));
    cr_assert_eq(rounds, CHURN_ROUNDS);
    cr_assert_eq(__atomic_load_n(&c.bad, __ATOMIC_RELAXED), 0,
                 "a reader saw an object destroyed after a grace period");
    cr_assert_geq(__atomic_load_n(&c.sections, __ATOMIC_RELAXED),
                  100 * CHURN_READERS);
}

/* ---- retire from a destructor, barriers from several threads -------- */

typedef struct chained {
    av_obj obj;
    int left; /* how many more to retire from this one's destructor */
} chained;

static void chained_destroy(void *p);

static void retire_chained(int left)
{
    chained *c = malloc(sizeof *c);
    av_obj *o = av_obj_new((uint64_t)left);
    c->obj = *o;
    free(o);
    c->left = left;
    gort_retire(c, chained_destroy);
}

static void chained_destroy(void *p)
{
    chained *c = p;
    if (c->left > 0)
        retire_chained(c->left - 1); /* retire from inside a destructor */
    av_obj_destroy(&c->obj);         /* c is its first member */
}

Test(read_section, a_destructor_may_retire_objects_a_later_barrier_drains)
{
    retire_chained(4); /* five objects, each retired by the previous one */
    /* The object retired by the k-th destructor was retired before the
     * (k+1)-th barrier call, so five barriers drain the chain. */
    for (uint64_t k = 1; k <= 5; k++) {
        gort_retire_barrier();
        cr_assert_geq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), k);
    }
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED), 5);
}

#define BARRIER_THREADS 4
#define BARRIER_OBJECTS 200

static int owned_destroyed[BARRIER_THREADS]; /* __atomic */

typedef struct owned {
    int owner;
} owned;

static void owned_destroy(void *p)
{
    owned *o = p;
    __atomic_add_fetch(&owned_destroyed[o->owner], 1, __ATOMIC_RELAXED);
    free(o);
}

static int barrier_failures; /* __atomic */

static gort_waitgroup barrier_wg;

/* Retires its own objects in rounds; after each of its barriers, all of
 * them must be destroyed, whatever the other threads retire meanwhile. */
static void barrier_user(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int round = 1; round <= 5; round++) {
        for (int i = 0; i < BARRIER_OBJECTS / 5; i++) {
            owned *o = malloc(sizeof *o);
            o->owner = me;
            gort_retire(o, owned_destroy);
        }
        gort_retire_barrier();
        if (__atomic_load_n(&owned_destroyed[me], __ATOMIC_RELAXED) !=
            round * (BARRIER_OBJECTS / 5))
            __atomic_add_fetch(&barrier_failures, 1, __ATOMIC_RELAXED);
    }
    gort_waitgroup_done(&barrier_wg);
}

Test(read_section, barriers_from_several_threads_each_drain_their_retires)
{
    gort_waitgroup_add(&barrier_wg, BARRIER_THREADS);
    for (int i = 0; i < BARRIER_THREADS; i++)
        gort_go(barrier_user, (void *)(intptr_t)i);
    gort_waitgroup_wait(&barrier_wg);
    cr_assert_eq(__atomic_load_n(&barrier_failures, __ATOMIC_RELAXED), 0,
                 "a barrier returned before the caller's retires were "
                 "destroyed");
    for (int i = 0; i < BARRIER_THREADS; i++)
        cr_assert_eq(__atomic_load_n(&owned_destroyed[i], __ATOMIC_RELAXED),
                     BARRIER_OBJECTS);
}

/* ---- fork ------------------------------------------------------------ */

/* AddressSanitizer's allocator (GCC 12's libasan) takes no lock around
 * fork(): a thread of the parent that was inside malloc at the fork leaves
 * an allocator lock held forever in the child, and the child's first
 * malloc of that size class never returns (seen here: the child's
 * gort-retire thread blocked in SizeClassAllocator64::GetFromAllocator,
 * about 1 run in 50 on a loaded machine).  glibc's malloc is fork-safe,
 * so the fork tests run in the default and clang builds only. */
#if defined(__SANITIZE_ADDRESS__)
#define FORK_UNSAFE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FORK_UNSAFE_MALLOC 1
#endif
#endif

#if !defined(GORT__TSAN) && !defined(FORK_UNSAFE_MALLOC)
static int fork_destroyed; /* set by the child's destructor */

static void fork_destroy(void *p)
{
    free(p);
    __atomic_store_n(&fork_destroyed, 1, __ATOMIC_RELAXED);
}
#endif

/* The parent has a call_rcu thread (a retire ran); fork() leaves the child
 * without it.  The child's first retire rebuilds liburcu's call_rcu state
 * and its objects are destroyed there too.  Not under ThreadSanitizer,
 * which ends a child that starts a thread after a multi-threaded fork
 * (which is why gort does not start one in the fork handler). */
Test(read_section, a_child_of_fork_retires_and_drains)
{
#ifdef GORT__TSAN
    cr_skip_test("TSan: no thread may start in a child of a multi-threaded fork");
#elif defined(FORK_UNSAFE_MALLOC)
    cr_skip_test("ASan: its allocator is not fork-safe (see above)");
#else
    gort_retire(malloc(16), free); /* the parent's call_rcu thread */
    gort_retire_barrier();
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        gort_retire(malloc(16), fork_destroy);
        gort_retire_barrier();
        gort_synchronize();
        _exit(__atomic_load_n(&fork_destroyed, __ATOMIC_RELAXED) ? 0 : 3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child's retired object was not destroyed (status %#x)",
              status);
    /* The parent's own call_rcu thread still works after the fork. */
    gort_retire(malloc(16), free);
    gort_retire_barrier();
#endif
}

#if !defined(GORT__TSAN) && !defined(FORK_UNSAFE_MALLOC)
typedef struct held {
    av_flag in;      /* 1: the reader is inside its section */
    av_flag release; /* 1: the reader may end it */
    gort_waitgroup wg;
} held;

static void holding_section(void *arg)
{
    held *h = arg;
    gort_read_begin();
    av_flag_set(&h->in, 1);
    av_flag_wait(&h->release, 1);
    gort_read_end();
    gort_waitgroup_done(&h->wg);
}
#endif

/* Another goroutine is inside a section when the parent forks: that
 * thread does not exist in the child, so the child's grace periods must
 * not wait for it (nor for the parent's retire thread). */
Test(read_section, a_child_of_fork_does_not_wait_for_the_parents_readers)
{
#ifdef GORT__TSAN
    cr_skip_test("TSan: no thread may start in a child of a multi-threaded fork");
#elif defined(FORK_UNSAFE_MALLOC)
    cr_skip_test("ASan: its allocator is not fork-safe (see above)");
#else
    static held h = {AV_FLAG_INIT, AV_FLAG_INIT, {0}};
    gort_retire(malloc(16), free); /* the parent has a retire thread */
    gort_waitgroup_add(&h.wg, 1);
    gort_go(holding_section, &h);
    av_flag_wait(&h.in, 1);
    gort_read_begin(); /* the forking thread is inside a section too */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        gort_read_end(); /* the child inherits the forking thread's one */
        gort_synchronize();
        gort_retire(malloc(16), fork_destroy);
        gort_retire_barrier();
        _exit(__atomic_load_n(&fork_destroyed, __ATOMIC_RELAXED) ? 0 : 3);
    }
    gort_read_end();
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child could not complete a grace period (status %#x)",
              status);
    av_flag_set(&h.release, 1);
    gort_waitgroup_wait(&h.wg);
    gort_retire_barrier();
#endif
}
