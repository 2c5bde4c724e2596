/*
 * Stress: 8+ goroutines on one owning atomic value for GORT_STRESS_SECONDS
 * (default 2): readers load inside (sometimes nested) sections and check
 * every object they see is alive and intact; writers store (the old
 * object is retired), swap (and retire what they get back), and
 * compare-and-swap (retiring the old object on success, freeing their own
 * unpublished one on failure); one goroutine panics inside sections and
 * recovers; foreign threads come and go.  Destructors poison and free, so
 * a destroy while a reader still looks is seen here (poison) or by ASan
 * (use after free).  At the end every object created has been destroyed
 * exactly once.
 */
#include "av_test.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static gort_atomic_value value;
static double deadline;
static uint64_t next_version = 1;
static uint64_t reads, bad_reads;
static gort_waitgroup wg;

static bool time_left(void)
{
    return av_now() < deadline;
}

static void check(const av_obj *o)
{
    if (o != NULL && !av_obj_ok(o))
        __atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
}

static void reader(void *arg)
{
    uint64_t n = 0, seed = (uint64_t)(uintptr_t)arg;
    while (time_left()) {
        gort_read_begin();
        const av_obj *a = gort_atomic_value_load(&value);
        check(a);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if (seed >> 62 == 0) { /* a nested section now and then */
            gort_read_begin();
            check(gort_atomic_value_load(&value));
            gort_read_end();
        }
        check(a); /* still intact: the outer section protects it */
        gort_read_end();
        n++;
    }
    __atomic_add_fetch(&reads, n, __ATOMIC_RELAXED);
    gort_waitgroup_done(&wg);
}

static av_obj *fresh(void)
{
    return av_obj_new(__atomic_fetch_add(&next_version, 1, __ATOMIC_RELAXED));
}

static void storer(void *arg)
{
    (void)arg;
    while (time_left())
        gort_atomic_value_store(&value, fresh());
    gort_waitgroup_done(&wg);
}

static void swapper(void *arg)
{
    (void)arg;
    while (time_left()) {
        av_obj *old = gort_atomic_value_swap(&value, fresh());
        gort_retire(old, av_obj_destroy); /* ours now; readers may hold it */
    }
    gort_waitgroup_done(&wg);
}

static void caser(void *arg)
{
    (void)arg;
    while (time_left()) {
        av_obj *mine = fresh();
        gort_read_begin(); /* keeps cur alive between load and CAS */
        av_obj *cur = gort_atomic_value_load(&value);
        bool ok = gort_atomic_value_compare_and_swap(&value, cur, mine);
        if (ok)
            gort_retire(cur, av_obj_destroy); /* retire inside a section */
        gort_read_end();
        if (!ok)
            av_obj_destroy(mine); /* never published: no reader saw it */
    }
    gort_waitgroup_done(&wg);
}

static void recover_quietly(void *unused)
{
    (void)unused;
    gort_recover();
}

static void panic_in_section(void)
{
    GORT_FRAME;
    gort_defer(recover_quietly, NULL);
    gort_read_begin();
    check(gort_atomic_value_load(&value));
    gort_panic("reader panics");
}

static void panicker(void *arg)
{
    (void)arg;
    while (time_left()) {
        panic_in_section();
        gort_synchronize(); /* fatal if the panic left a section open */
    }
    gort_waitgroup_done(&wg);
}

static void *foreign(void *arg)
{
    for (int i = 0; i < 200; i++) {
        gort_read_begin();
        check(gort_atomic_value_load(&value));
        gort_read_end();
    }
    if (arg != NULL)
        gort_thread_detach();
    return NULL;
}

static void foreigners(void *arg)
{
    (void)arg;
    for (int i = 0; time_left(); i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, foreign, (i & 1) ? &t : NULL) == 0)
            pthread_join(t, NULL);
    }
    gort_waitgroup_done(&wg);
}

Test(atomic_value_stress, readers_writers_panics_and_foreign_threads)
{
    deadline = av_now() + av_stress_seconds();
    gort_atomic_value_init(&value, av_obj_destroy);
    gort_atomic_value_store(&value, fresh());
    void (*workers[])(void *) = {reader, reader, reader,  reader,
                                 storer, swapper, caser, panicker,
                                 foreigners};
    size_t n = sizeof workers / sizeof workers[0];
    gort_waitgroup_add(&wg, (int)n);
    for (size_t i = 0; i < n; i++)
        gort_go(workers[i], (void *)(uintptr_t)(i + 1));
    gort_waitgroup_wait(&wg);
    gort_atomic_value_destroy(&value);
    gort_retire_barrier();
    cr_assert_eq(__atomic_load_n(&bad_reads, __ATOMIC_RELAXED), 0,
                 "readers saw destroyed or torn objects");
    cr_assert_gt(__atomic_load_n(&reads, __ATOMIC_RELAXED), 0);
    cr_assert_eq(__atomic_load_n(&av_destroyed, __ATOMIC_RELAXED),
                 __atomic_load_n(&av_created, __ATOMIC_RELAXED),
                 "every object is destroyed exactly once");
}

/* Which barrier scheme the process uses: membarrier when the kernel has
 * it, fences when GORTDEBUG=rcufence=1 (ctest runs this file both ways).
 * gort registers the process for MEMBARRIER_CMD_PRIVATE_EXPEDITED on the
 * first section unless told not to, and the command fails with EPERM in
 * an unregistered process (this test does not link liburcu, which would
 * register it at load). */
Test(atomic_value_stress, the_barrier_scheme_is_the_one_asked_for)
{
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        cr_skip_test("no MEMBARRIER_CMD_PRIVATE_EXPEDITED in this kernel");
    gort_read_begin();
    gort_read_end();
    gort_synchronize();
    const char *dbg = getenv("GORTDEBUG");
    bool fence = dbg != NULL && strstr(dbg, "rcufence=1") != NULL;
    long r = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    if (fence)
        cr_assert(r == -1 && errno == EPERM,
                  "GORTDEBUG=rcufence=1, yet the process is registered for "
                  "membarrier");
    else
        cr_assert_eq(r, 0, "read sections did not register the process for "
                           "membarrier (errno %d)", errno);
}
