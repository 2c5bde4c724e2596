/*
 * Ports of Go 1.19 tests about goroutines, Goexit and WaitGroup that
 * need no crash, rewritten in C:
 *   - runtime/crash_test.go TestGoexitDefer, TestMainGoroutineID (its
 *     non-crash half: the main goroutine's id);
 *   - the testprog programs of TestRecoverBeforePanicAfterGoexit,
 *     TestRecoverBeforePanicAfterGoexit2, TestRecoveredPanicAfterGoexit
 *     and TestGoexitInPanic, run in a goroutine instead of main: in main
 *     they end with Go's "no goroutines (main called runtime.Goexit) -
 *     deadlock!" fatal error, which is a crash test; in a goroutine the
 *     same sequence must simply end the goroutine after running every
 *     deferred call;
 *   - runtime/stack_test.go TestDeferPtrsGoexit, TestDeferPtrsPanic (Go's
 *     TestDeferPtrsPanic starts testDeferPtrsGoexit by mistake; this port
 *     runs the panic variant it was meant to run) and
 *     TestDeferHeapAndStack (its -short sizes);
 *   - sync/waitgroup_test.go TestWaitGroup, TestWaitGroupMisuse,
 *     TestWaitGroupRace, TestWaitGroupAlign.
 *
 * Channels become WaitGroups and atomic counters.  Goroutines record what
 * they see; assertions run on the main goroutine.
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void wg_done(void *arg)
{
    gort_waitgroup_done(arg);
}

typedef struct g_result {
    gort_waitgroup wg;
    int bad;          /* a check failed in the goroutine */
    char why[128];    /* the first failure */
    int after_goexit; /* code after Goexit ran */
    int ran;          /* deferred calls that ran */
} g_result;

static void g_fail(g_result *r, const char *why)
{
    if (r->bad++ == 0)
        snprintf(r->why, sizeof r->why, "%s", why);
}

static void start_and_wait(void (*fn)(void *), g_result *r)
{
    memset(r, 0, sizeof *r);
    gort_waitgroup_add(&r->wg, 1);
    gort_go(fn, r);
    gort_waitgroup_wait(&r->wg);
}

/* ===================================================================
 * TestGoexitDefer, TestMainGoroutineID
 * =================================================================== */

static void goexit_defer_check(void *arg)
{
    g_result *r = arg;
    if (gort_recover() != NULL)
        g_fail(r, "non-nil recover during Goexit");
    r->ran++;
    gort_waitgroup_done(&r->wg); /* c <- struct{}{} */
}

static void goexit_defer_goroutine(void *arg)
{
    g_result *r = arg;
    GORT_FRAME;
    gort_defer(goexit_defer_check, r);
    gort_goexit();
}

Test(go_goroutine, goexit_defer)
{
    static g_result r;
    start_and_wait(goexit_defer_goroutine, &r);
    cr_assert_eq(r.bad, 0, "%s", r.why);
    cr_assert_eq(r.ran, 1);
}

Test(go_goroutine, main_goroutine_id)
{
    cr_assert_eq(gort_goid(), 1);
}

/* ===================================================================
 * RecoverBeforePanicAfterGoexit(2), RecoveredPanicAfterGoexit,
 * GoexitInPanic
 * =================================================================== */

static void must_recover_during_goexit(void *arg)
{
    g_result *r = arg;
    r->ran++;
    if (gort_recover() == NULL)
        g_fail(r, "bad recover"); /* Go: panic("bad recover") */
}

static void panic_hello(void *arg)
{
    (void)arg;
    gort_panic("hello");
}

static void count_ran(void *arg)
{
    ((g_result *)arg)->ran++;
}

/* 1. defer a function that recovers; 2. defer a function that panics;
 * 3. call Goexit.  Goexit runs #2, whose panic #1 catches; execution then
 * resumes in the Goexit loop, not in the caller (which would make the
 * Goexit disappear). */
static void recover_before_panic_after_goexit_body(g_result *r)
{
    GORT_FRAME;
    gort_defer(must_recover_during_goexit, r);
    gort_defer(panic_hello, NULL);
    gort_goexit();
}

static void recover_before_panic_after_goexit_goroutine(void *arg)
{
    g_result *r = arg;
    GORT_FRAME;
    gort_defer(wg_done, &r->wg);
    gort_defer(count_ran, r);
    recover_before_panic_after_goexit_body(r);
    r->after_goexit++;
}

Test(go_goroutine, recover_before_panic_after_goexit)
{
    static g_result r;
    start_and_wait(recover_before_panic_after_goexit_goroutine, &r);
    cr_assert_eq(r.bad, 0, "%s", r.why);
    cr_assert_eq(r.after_goexit, 0, "the Goexit disappeared after the recovery");
    cr_assert_eq(r.ran, 2);
}

static void nothing(void *arg)
{
    (void)arg;
}

static void recover_before_panic_after_goexit2_body(g_result *r)
{
    GORT_FRAME;
    for (int i = 0; i < 2; i++)
        gort_defer(nothing, NULL);
    gort_defer(must_recover_during_goexit, r);
    gort_defer(panic_hello, NULL);
    gort_goexit();
}

static void recover_before_panic_after_goexit2_goroutine(void *arg)
{
    g_result *r = arg;
    GORT_FRAME;
    gort_defer(wg_done, &r->wg);
    gort_defer(count_ran, r);
    recover_before_panic_after_goexit2_body(r);
    r->after_goexit++;
}

Test(go_goroutine, recover_before_panic_after_goexit2)
{
    static g_result r;
    start_and_wait(recover_before_panic_after_goexit2_goroutine, &r);
    cr_assert_eq(r.bad, 0, "%s", r.why);
    cr_assert_eq(r.after_goexit, 0, "the Goexit disappeared after the recovery");
    cr_assert_eq(r.ran, 2);
}

/* A deferred call run by Goexit panics and recovers inside itself. */
static void panic_and_recover_inside(void *arg)
{
    g_result *r = arg;
    GORT_FRAME;
    gort_defer(must_recover_during_goexit, r);
    gort_panic("hello");
}

static void recovered_panic_after_goexit_goroutine(void *arg)
{
    g_result *r = arg;
    GORT_FRAME;
    gort_defer(wg_done, &r->wg);
    gort_defer(count_ran, r);
    gort_defer(panic_and_recover_inside, r);
    gort_goexit();
    r->after_goexit++;
}

Test(go_goroutine, recovered_panic_after_goexit)
{
    static g_result r;
    start_and_wait(recovered_panic_after_goexit_goroutine, &r);
    cr_assert_eq(r.bad, 0, "%s", r.why);
    cr_assert_eq(r.after_goexit, 0);
    cr_assert_eq(r.ran, 2);
}

/* A deferred call run by a panic calls Goexit: the goroutine ends, the
 * panic does not crash the process (issue 8774: this used to recurse
 * forever), and the older deferred calls still run. */
static void goexit_from_deferred(void *arg)
{
    ((g_result *)arg)->ran++;
    gort_goexit();
}

static void goexit_in_panic_goroutine(void *arg)
{
    g_result *r = arg;
    GORT_FRAME;
    gort_defer(wg_done, &r->wg);
    gort_defer(count_ran, r);
    gort_defer(goexit_from_deferred, r);
    gort_panic("hello");
}

Test(go_goroutine, goexit_in_panic)
{
    static g_result r;
    start_and_wait(goexit_in_panic_goroutine, &r);
    cr_assert_eq(r.ran, 2);
    /* The process is still healthy: panics and recovers work on main. */
    static g_result again;
    start_and_wait(recovered_panic_after_goexit_goroutine, &again);
    cr_assert_eq(again.bad, 0, "%s", again.why);
}

/* ===================================================================
 * TestDeferPtrsGoexit, TestDeferPtrsPanic
 * =================================================================== */

typedef struct big_buf {
    unsigned char b[4 * 1024];
} big_buf;

typedef struct set_big_args {
    int *p;
    int x;
    big_buf b;
} set_big_args;

static void set_big(void *arg)
{
    const set_big_args *a = arg;
    *a->p = a->x;
}

/* Uses about n KB of stack, then calls f. */
__attribute__((noinline)) static void use_stack_and_call(int n, void (*f)(void))
{
    if (n == 0) {
        f();
        return;
    }
    volatile unsigned char b[1024];
    b[99] = 0;
    use_stack_and_call(n - 1 + b[99], f);
}

typedef struct ptrs_run {
    int i;
    int n; /* what the deferred call saw: c <- y */
    gort_waitgroup *wg;
} ptrs_run;

typedef struct report_args {
    ptrs_run *run;
    int *y;
    bool must_recover;
} report_args;

static void report_y(void *arg)
{
    const report_args *a = arg;
    if (a->must_recover && gort_recover() == NULL)
        a->run->n = -1;
    else
        a->run->n = *a->y;
    gort_waitgroup_done(a->run->wg);
}

static void call_goexit(void)
{
    gort_goexit();
}

static void call_panic(void)
{
    gort_panic("%d", 1);
}

static void defer_ptrs(ptrs_run *run, bool panics)
{
    int y = 0;
    GORT_FRAME;
    report_args ra = {run, &y, panics};
    gort_defer_copy(report_y, &ra, sizeof ra);
    static const big_buf zero;
    set_big_args sa = {&y, 42, zero};
    gort_defer_copy(set_big, &sa, sizeof sa);
    use_stack_and_call(run->i, panics ? call_panic : call_goexit);
}

static void defer_ptrs_goexit_goroutine(void *arg)
{
    defer_ptrs(arg, false);
}

static void defer_ptrs_panic_goroutine(void *arg)
{
    defer_ptrs(arg, true);
}

static void run_defer_ptrs(void (*fn)(void *))
{
    for (int i = 0; i < 100; i++) {
        gort_waitgroup wg = {0};
        ptrs_run run = {i, 0, &wg};
        gort_waitgroup_add(&wg, 1);
        gort_go(fn, &run);
        gort_waitgroup_wait(&wg);
        cr_assert_eq(run.n, 42,
                     "defer's stack references were not adjusted appropriately "
                     "(i=%d n=%d)",
                     i, run.n);
    }
}

Test(go_goroutine, defer_ptrs_goexit)
{
    run_defer_ptrs(defer_ptrs_goexit_goroutine);
}

Test(go_goroutine, defer_ptrs_panic)
{
    run_defer_ptrs(defer_ptrs_panic_goroutine);
}

/* ===================================================================
 * TestDeferHeapAndStack.  deferHeapAndStack(n) computes 2*n through its
 * named result, which its deferred calls increment; C's normal path
 * evaluates `return r` before the deferred calls, so the result is an
 * out parameter here.
 * =================================================================== */

static void incr(void *arg)
{
    ++*(int *)arg;
}

static void defer_heap_and_stack(int n, int *r)
{
    *r = 0;
    if (n == 0)
        return;
    GORT_FRAME;
    if (n % 2 == 0) {
        /* Go: heap-allocated defers (in a loop); gort: pooled records */
        for (int i = 0; i < 8; i++)
            gort_defer(nothing, NULL);
        for (int i = 0; i < 2; i++)
            gort_defer(incr, r);
    } else {
        /* stack-allocated defers */
        gort_defer(incr, r);
        gort_defer(incr, r);
    }
    defer_heap_and_stack(n - 1, r);
}

typedef struct dhs_worker {
    int n_iter, depth;
    int bad;
    gort_waitgroup *wg;
} dhs_worker;

static void dhs_main(void *arg)
{
    dhs_worker *w = arg;
    for (int i = 0; i < w->n_iter; i++) {
        int r = -1;
        defer_heap_and_stack(w->depth, &r);
        if (r != 2 * w->depth)
            w->bad++; /* Go: panic("bad result") */
    }
    gort_waitgroup_done(w->wg);
}

Test(go_goroutine, defer_heap_and_stack)
{
    enum { P = 2, N = 1000, D = 20 }; /* Go's -short sizes */
    static dhs_worker w[P];
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, P);
    for (int p = 0; p < P; p++) {
        w[p] = (dhs_worker){N, D, 0, &wg};
        gort_go(dhs_main, &w[p]);
    }
    gort_waitgroup_wait(&wg);
    for (int p = 0; p < P; p++)
        cr_assert_eq(w[p].bad, 0, "bad result");
}

/* ===================================================================
 * sync/waitgroup_test.go
 * =================================================================== */

typedef struct wg_pair {
    gort_waitgroup *wg1, *wg2, *exited_wg;
    int *exited;
} wg_pair;

static void wg_pair_main(void *arg)
{
    wg_pair *p = arg;
    gort_waitgroup_done(p->wg1);
    gort_waitgroup_wait(p->wg2);
    __atomic_fetch_add(p->exited, 1, __ATOMIC_RELEASE);
    gort_waitgroup_done(p->exited_wg);
}

static void test_wait_group(gort_waitgroup *wg1, gort_waitgroup *wg2)
{
    enum { n = 16 };
    int exited = 0;
    gort_waitgroup exited_wg = {0};
    wg_pair p = {wg1, wg2, &exited_wg, &exited};
    gort_waitgroup_add(wg1, n);
    gort_waitgroup_add(wg2, n);
    gort_waitgroup_add(&exited_wg, n);
    for (int i = 0; i != n; i++)
        gort_go(wg_pair_main, &p);
    gort_waitgroup_wait(wg1);
    for (int i = 0; i != n; i++) {
        cr_assert_eq(__atomic_load_n(&exited, __ATOMIC_ACQUIRE), 0,
                     "WaitGroup released group too soon");
        gort_waitgroup_done(wg2);
    }
    gort_waitgroup_wait(&exited_wg); /* blocks if the barrier fails */
    cr_assert_eq(exited, n);
}

Test(go_goroutine, wait_group)
{
    gort_waitgroup wg1 = {0}, wg2 = {0};
    /* the same WaitGroups, to check they are left in a proper state */
    for (int i = 0; i != 8; i++)
        test_wait_group(&wg1, &wg2);
}

static char misuse_seen[64];

static void misuse_recover(void *arg)
{
    (void)arg;
    const gort_panic_info *err = gort_recover();
    snprintf(misuse_seen, sizeof misuse_seen, "%s",
             err != NULL ? gort_panic_message(err) : "nil");
}

static void wait_group_misuse(void)
{
    gort_waitgroup wg = {0};
    GORT_FRAME;
    gort_defer(misuse_recover, NULL);
    gort_waitgroup_add(&wg, 1);
    gort_waitgroup_done(&wg);
    gort_waitgroup_done(&wg);
    cr_assert_fail("Should panic");
}

Test(go_goroutine, wait_group_misuse)
{
    wait_group_misuse();
    cr_assert_str_eq(misuse_seen, "sync: negative WaitGroup counter",
                     "Unexpected panic: %s", misuse_seen);
}

typedef struct race_args {
    gort_waitgroup *wg;
    int *n;
} race_args;

static void race_main(void *arg)
{
    race_args *a = arg;
    __atomic_fetch_add(a->n, 1, __ATOMIC_RELAXED);
    gort_waitgroup_done(a->wg);
}

Test(go_goroutine, wait_group_race)
{
    /* Go runs 1000 rounds in about 1 ms; threads are dearer: 200. */
    for (int i = 0; i < 200; i++) {
        gort_waitgroup wg = {0};
        int n = 0;
        race_args a = {&wg, &n};
        gort_waitgroup_add(&wg, 1);
        gort_go(race_main, &a);
        gort_waitgroup_add(&wg, 1);
        gort_go(race_main, &a);
        gort_waitgroup_wait(&wg);
        cr_assert_eq(__atomic_load_n(&n, __ATOMIC_RELAXED), 2, "Spurious wakeup from Wait");
    }
}

typedef struct aligned_x {
    char x;
    gort_waitgroup wg;
} aligned_x;

static void align_main(void *arg)
{
    gort_waitgroup_done(&((aligned_x *)arg)->wg);
}

Test(go_goroutine, wait_group_align)
{
    aligned_x x = {0, {0, 0}};
    gort_waitgroup_add(&x.wg, 1);
    gort_go(align_main, &x);
    gort_waitgroup_wait(&x.wg);
}
