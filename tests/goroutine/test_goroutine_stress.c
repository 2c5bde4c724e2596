/*
 * Stress: goroutines that come and go.  Until GORT_STRESS_SECONDS
 * (default 2) have passed, batches of goroutines are started; each one,
 * at random, returns normally, panics and recovers, ends by Goexit from a
 * random depth (sometimes with a panic recovered during the Goexit), or
 * starts a child goroutine of its own.  Checked: every deferred call of
 * every goroutine runs exactly once, in LIFO order, on that goroutine;
 * code after Goexit never runs; ids are unique and never 1; every
 * WaitGroup wait returns.
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double stress_seconds(void)
{
    const char *s = getenv("GORT_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { BATCH = 8, MAXDEPTH = 12, PER_LEVEL = 12 };

enum { END_RETURN, END_PANIC, END_GOEXIT, END_GOEXIT_PANIC, END_CHILD, NENDS };

typedef struct job {
    uint64_t rng;
    int end;                /* END_* */
    int depth;              /* levels of frames */
    int end_level;          /* where the panic or Goexit happens */
    int per_level[MAXDEPTH];
    int64_t goid;
    int ran[MAXDEPTH][PER_LEVEL]; /* times each deferred call ran */
    int order_errors;       /* a call ran before a newer one */
    int last_key;           /* key of the last call: level * 100 + index */
    int after_end;          /* code after the panic or Goexit ran */
    int recovered;
    int64_t child_goid;
    gort_waitgroup *wg;
    gort_waitgroup child_wg;
} job;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

typedef struct call {
    job *j;
    int level, idx;
} call;

static void run_call(void *arg)
{
    const call *c = arg;
    job *j = c->j;
    int key = c->level * 100 + c->idx;
    /* LIFO: deeper levels first, then higher indexes first. */
    if (j->last_key >= 0 && key > j->last_key)
        j->order_errors++;
    j->last_key = key;
    j->ran[c->level][c->idx]++;
}

static void recover_here(void *arg)
{
    job *j = arg;
    if (gort_recover() != NULL)
        j->recovered++;
}

static void panic_in_goexit(void *arg)
{
    (void)arg;
    gort_panic("during goexit");
}

static void wg_done(void *arg)
{
    gort_waitgroup_done(arg);
}

static void child_main(void *arg)
{
    job *j = arg;
    j->child_goid = gort_goid();
    gort_waitgroup_done(&j->child_wg);
}

static void level(job *j, int l)
{
    GORT_FRAME;
    if (l == 0 && (j->end == END_PANIC || j->end == END_GOEXIT_PANIC))
        gort_defer(recover_here, j);
    for (int i = 0; i < j->per_level[l]; i++) {
        call c = {j, l, i};
        gort_defer_copy(run_call, &c, sizeof c);
    }
    if (l == j->end_level) {
        switch (j->end) {
        case END_PANIC:
            gort_panic("level %d", l);
        case END_GOEXIT_PANIC:
            gort_defer(panic_in_goexit, NULL);
            gort_goexit();
        case END_GOEXIT:
            gort_goexit();
        case END_CHILD:
            gort_waitgroup_add(&j->child_wg, 1);
            gort_go(child_main, j);
            gort_waitgroup_wait(&j->child_wg);
            break;
        default:
            break;
        }
    }
    if (l + 1 < j->depth)
        level(j, l + 1);
    if (l >= j->end_level && (j->end == END_PANIC || j->end == END_GOEXIT ||
                              j->end == END_GOEXIT_PANIC))
        j->after_end++;
}

static void job_main(void *arg)
{
    job *j = arg;
    j->goid = gort_goid();
    GORT_FRAME;
    gort_defer(wg_done, j->wg);
    level(j, 0);
}

static void plan(job *j, uint64_t seed, gort_waitgroup *wg)
{
    memset(j, 0, sizeof *j);
    j->rng = seed;
    j->wg = wg;
    j->last_key = -1;
    j->end = (int)(rnd(&j->rng) % NENDS);
    j->depth = 1 + (int)(rnd(&j->rng) % MAXDEPTH);
    j->end_level = (int)(rnd(&j->rng) % (uint64_t)j->depth);
    for (int l = 0; l < j->depth; l++)
        j->per_level[l] = (int)(rnd(&j->rng) % PER_LEVEL);
}

/* Which deferred calls must have run: the levels entered. */
static int levels_entered(const job *j)
{
    if (j->end == END_RETURN || j->end == END_CHILD)
        return j->depth;
    return j->end_level + 1;
}

typedef struct totals {
    long goroutines, errors;
    char first[256];
} totals;

static void check_job(const job *j, totals *t)
{
    char why[128] = "";
    int entered = levels_entered(j);
    for (int l = 0; l < j->depth && why[0] == '\0'; l++)
        for (int i = 0; i < j->per_level[l]; i++)
            if (j->ran[l][i] != (l < entered ? 1 : 0)) {
                snprintf(why, sizeof why, "call %d.%d ran %d times", l, i, j->ran[l][i]);
                break;
            }
    if (why[0] == '\0' && j->order_errors != 0)
        snprintf(why, sizeof why, "%d calls out of LIFO order", j->order_errors);
    if (why[0] == '\0' && j->after_end != 0)
        snprintf(why, sizeof why, "code after the panic or Goexit ran");
    if (why[0] == '\0' && j->goid <= 1)
        snprintf(why, sizeof why, "goroutine id %ld", (long)j->goid);
    if (why[0] == '\0' && (j->end == END_PANIC || j->end == END_GOEXIT_PANIC) &&
        j->recovered != 1)
        snprintf(why, sizeof why, "recovered %d panics", j->recovered);
    if (why[0] == '\0' && j->end == END_CHILD &&
        (j->child_goid <= 1 || j->child_goid == j->goid))
        snprintf(why, sizeof why, "child id %ld, parent %ld", (long)j->child_goid,
                 (long)j->goid);
    if (why[0] != '\0' && t->errors++ == 0)
        snprintf(t->first, sizeof t->first, "goroutine end %d depth %d at %d: %s",
                 j->end, j->depth, j->end_level, why);
}

Test(goroutine_stress, goroutines_that_come_and_go_run_every_deferred_call_once)
{
    static job jobs[BATCH];
    totals t = {0, 0, ""};
    int64_t max_id = 1;
    uint64_t seed = (uint64_t)time(NULL) | 1;
    double deadline = now_s() + stress_seconds();
    do {
        gort_waitgroup wg = {0};
        gort_waitgroup_add(&wg, BATCH);
        for (int i = 0; i < BATCH; i++) {
            plan(&jobs[i], seed, &wg);
            seed = rnd(&seed) | 1;
            gort_go(job_main, &jobs[i]);
        }
        gort_waitgroup_wait(&wg);
        for (int i = 0; i < BATCH; i++) {
            check_job(&jobs[i], &t);
            for (int k = 0; k < i; k++)
                if (jobs[k].goid == jobs[i].goid && t.errors++ == 0)
                    snprintf(t.first, sizeof t.first, "two goroutines with id %ld",
                             (long)jobs[i].goid);
            if (jobs[i].goid > max_id)
                max_id = jobs[i].goid;
        }
        t.goroutines += BATCH;
    } while (t.errors == 0 && now_s() < deadline);
    cr_assert_eq(t.errors, 0, "%ld errors in %ld goroutines; first: %s", t.errors,
                 t.goroutines, t.first);
    cr_assert_geq(max_id, t.goroutines, "ids were reused");
    cr_assert_eq(gort_goid(), 1);
}
