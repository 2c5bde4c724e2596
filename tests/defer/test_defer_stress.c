/*
 * Stress: random programs of nested frames, deferred calls (inline,
 * pooled, with inline and heap copies), panics, nested panics raised by
 * deferred calls and one recovery, checked against a reference model of
 * Go's rules: every deferred call runs exactly once, in LIFO order; the
 * frame that registered the recovering call returns its
 * GORT_FRAME_RETURN value; the recovered value is the newest panic;
 * recover returns NULL in calls not run by the panic and in sub-calls.
 *
 * Bounded by GORT_STRESS_SECONDS (default 2) per test; one test runs the
 * programs on the main goroutine, one on 8 goroutines at once (each with
 * its own defer chain).  Failures print the seed of the program.
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

/* ===================================================================
 * Programs
 * =================================================================== */

enum { MAXD = 24, MAXK = 30, POST = 500 };

enum {
    CALL_RECOVERS = 1,       /* recovers directly: the panic stops here */
    CALL_PANICS = 2,         /* raises a new panic (run by a panic) */
    CALL_NORMAL_PATH = 4,    /* run by a return: recover must return NULL */
    CALL_HELPER_RECOVER = 8, /* run by the panic; a sub-call tries recover */
};

typedef struct prog {
    uint64_t seed;
    int depth;             /* levels 0 .. depth-1 */
    int pre[MAXD];         /* deferred calls before the call to the next level */
    int post[MAXD];        /* deferred calls after it */
    bool panics;           /* the deepest level panics after its pre calls */
    int rec_level, rec_idx; /* the recovering call, when panics */
    unsigned char kind[MAXD][2 * MAXK]; /* 0 pointer, 1 16-byte copy, 2 heap copy */
    unsigned char panicker[MAXD][2 * MAXK];
    unsigned char helper[MAXD][2 * MAXK];
} prog;

/* The argument of a deferred call; the first 16 bytes are the call. */
typedef struct call_arg {
    int32_t level, idx;
    uint32_t flags;
    uint32_t check; /* level, idx and flags hashed: detects a bad copy */
    uint64_t pad[4]; /* makes the heap copy 48 bytes */
} call_arg;

typedef struct stress_ctx {
    uint64_t rng;
    prog p;
    int seq[MAXD * 2 * MAXK];
    int nseq;
    int want[MAXD * 2 * MAXK];
    int nwant;
    char want_msg[32];
    call_arg slots[MAXD][2 * MAXK]; /* arguments of the pointer calls */
    long programs, errors;
    char first_error[256];
} stress_ctx;

static __thread stress_ctx *cur;

static uint64_t rnd(stress_ctx *c)
{
    /* xorshift64* */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 0x2545F4914F6CDD1DULL;
}

static int rnd_n(stress_ctx *c, int n)
{
    return (int)(rnd(c) % (uint64_t)n);
}

static void fail(stress_ctx *c, const char *what, int a, int b)
{
    if (c->errors++ == 0)
        snprintf(c->first_error, sizeof c->first_error,
                 "program seed %#llx: %s (%d, %d)",
                 (unsigned long long)c->p.seed, what, a, b);
}

static uint32_t check_of(int32_t level, int32_t idx, uint32_t flags)
{
    return (uint32_t)level * 2654435761u ^ (uint32_t)idx * 40503u ^ flags ^ 0xA5A5u;
}

static void make_prog(stress_ctx *c)
{
    prog *p = &c->p;
    memset(p, 0, sizeof *p);
    p->seed = c->rng;
    p->depth = 1 + rnd_n(c, MAXD);
    for (int l = 0; l < p->depth; l++) {
        int big = rnd_n(c, 8) == 0;
        p->pre[l] = rnd_n(c, big ? MAXK : 10);
        p->post[l] = rnd_n(c, big ? MAXK : 6);
        for (int i = 0; i < 2 * MAXK; i++) {
            p->kind[l][i] = (unsigned char)rnd_n(c, 3);
            p->panicker[l][i] = rnd_n(c, 10) == 0;
            p->helper[l][i] = rnd_n(c, 5) == 0;
        }
    }
    p->panics = rnd_n(c, 3) != 0;
    if (p->panics) {
        p->rec_level = rnd_n(c, p->depth);
        if (p->pre[p->rec_level] == 0)
            p->pre[p->rec_level] = 1;
        p->rec_idx = rnd_n(c, p->pre[p->rec_level]);
    }
}

static bool run_by_panic(const prog *p, int level, int idx)
{
    return p->panics && idx < POST &&
           (level > p->rec_level || (level == p->rec_level && idx >= p->rec_idx));
}

static uint32_t flags_of(const prog *p, int level, int idx)
{
    if (!run_by_panic(p, level, idx))
        return CALL_NORMAL_PATH;
    if (level == p->rec_level && idx == p->rec_idx)
        return CALL_RECOVERS;
    uint32_t f = 0;
    if (p->panicker[level][idx])
        f |= CALL_PANICS;
    if (p->helper[level][idx])
        f |= CALL_HELPER_RECOVER;
    return f;
}

/* The reference model: the order of the calls and the recovered value. */
static void model(stress_ctx *c)
{
    const prog *p = &c->p;
    c->nwant = 0;
    snprintf(c->want_msg, sizeof c->want_msg, "origin");
    for (int l = p->depth - 1; l >= 0; l--) {
        bool unwound = p->panics && l >= p->rec_level;
        if (!unwound)
            for (int i = p->post[l] - 1; i >= 0; i--)
                c->want[c->nwant++] = l * 1000 + POST + i;
        for (int i = p->pre[l] - 1; i >= 0; i--) {
            c->want[c->nwant++] = l * 1000 + i;
            if (flags_of(p, l, i) & CALL_PANICS)
                snprintf(c->want_msg, sizeof c->want_msg, "p%d.%d", l, i);
        }
    }
}

/* ===================================================================
 * Running a program
 * =================================================================== */

__attribute__((noinline)) static const gort_panic_info *helper_recover(void)
{
    const gort_panic_info *p = gort_recover();
    __asm__ volatile("" ::: "memory");
    return p;
}

static void stress_call(void *arg)
{
    stress_ctx *c = cur;
    call_arg a;
    memcpy(&a, arg, 16);
    if (a.check != check_of(a.level, a.idx, a.flags)) {
        fail(c, "corrupt deferred argument", a.level, a.idx);
        return;
    }
    c->seq[c->nseq++] = a.level * 1000 + a.idx;
    if (a.flags & CALL_RECOVERS) {
        const gort_panic_info *p = gort_recover();
        if (p == NULL)
            fail(c, "recover returned NULL in the recovering call", a.level, a.idx);
        else if (strcmp(gort_panic_message(p), c->want_msg) != 0)
            fail(c, "recovered the wrong panic", a.level, a.idx);
        return;
    }
    if ((a.flags & CALL_NORMAL_PATH) && gort_recover() != NULL)
        fail(c, "recover succeeded on the normal path", a.level, a.idx);
    if ((a.flags & CALL_HELPER_RECOVER) && helper_recover() != NULL)
        fail(c, "recover succeeded in a sub-call", a.level, a.idx);
    if (a.flags & CALL_PANICS)
        gort_panic("p%d.%d", a.level, a.idx);
}

#define PUSH(c_, lvl_, ix_)                                                    \
    do {                                                                       \
        call_arg a_ = {(lvl_), (ix_), flags_of(&(c_)->p, (lvl_), (ix_)), 0,    \
                       {0, 0, 0, 0}};                                          \
        a_.check = check_of(a_.level, a_.idx, a_.flags);                       \
        int k_ = (ix_) >= POST ? MAXK + (ix_) - POST : (ix_);                  \
        switch ((c_)->p.kind[(lvl_)][k_]) {                                    \
        case 0:                                                                \
            (c_)->slots[(lvl_)][k_] = a_;                                      \
            gort_defer(stress_call, &(c_)->slots[(lvl_)][k_]);                 \
            break;                                                             \
        case 1: gort_defer_copy(stress_call, &a_, 16); break;                  \
        default: gort_defer_copy(stress_call, &a_, sizeof a_); break;          \
        }                                                                      \
    } while (0)

static int level_fn(stress_ctx *c, int level)
{
    const prog *p = &c->p;
    GORT_FRAME_RETURN(-1 - level);
    for (int i = 0; i < p->pre[level]; i++)
        PUSH(c, level, i);
    if (level + 1 < p->depth) {
        int r = level_fn(c, level + 1);
        int want = p->panics && level + 1 == p->rec_level ? -2 - level
                                                          : 1000 + level + 1;
        if (r != want)
            fail(c, "a level returned the wrong value", level + 1, r);
    } else if (p->panics) {
        gort_panic("origin");
    }
    for (int i = 0; i < p->post[level]; i++)
        PUSH(c, level, POST + i);
    return 1000 + level;
}

static void run_program(stress_ctx *c)
{
    make_prog(c);
    model(c);
    c->nseq = 0;
    int r = level_fn(c, 0);
    int want = c->p.panics && c->p.rec_level == 0 ? -1 : 1000;
    if (r != want)
        fail(c, "the top level returned the wrong value", r, want);
    if (c->nseq != c->nwant)
        fail(c, "wrong number of deferred calls", c->nseq, c->nwant);
    for (int i = 0; i < c->nseq && i < c->nwant; i++) {
        if (c->seq[i] != c->want[i]) {
            fail(c, "deferred call out of order (got, want)", c->seq[i], c->want[i]);
            break;
        }
    }
    if (gort_recover() != NULL)
        fail(c, "a panic is still live after the program", 0, 0);
    c->programs++;
}

static void run_until(stress_ctx *c, double deadline)
{
    cur = c;
    do {
        for (int i = 0; i < 50 && c->errors == 0; i++)
            run_program(c);
    } while (c->errors == 0 && now_s() < deadline);
    cur = NULL;
}

static uint64_t seed_for(int64_t id)
{
    const char *s = getenv("GORT_STRESS_SEED");
    uint64_t base = s != NULL ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    return (base ^ (uint64_t)id * 0x9E3779B97F4A7C15ULL) | 1;
}

Test(defer_stress, random_programs_match_the_model)
{
    static stress_ctx c;
    c.rng = seed_for(0);
    run_until(&c, now_s() + stress_seconds());
    cr_assert_eq(c.errors, 0, "%ld errors; first: %s", c.errors, c.first_error);
    cr_assert_gt(c.programs, 0);
}

typedef struct worker {
    stress_ctx c;
    double deadline;
    gort_waitgroup *wg;
} worker;

static void worker_main(void *arg)
{
    worker *w = arg;
    run_until(&w->c, w->deadline);
    gort_waitgroup_done(w->wg);
}

Test(defer_stress, random_programs_on_8_goroutines_match_the_model)
{
    enum { N = 8 };
    static worker w[N];
    gort_waitgroup wg = {0};
    double deadline = now_s() + stress_seconds();
    gort_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++) {
        w[i].c.rng = seed_for(i + 1);
        w[i].deadline = deadline;
        w[i].wg = &wg;
        gort_go(worker_main, &w[i]);
    }
    gort_waitgroup_wait(&wg);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(w[i].c.errors, 0, "goroutine %d: %ld errors; first: %s", i,
                     w[i].c.errors, w[i].c.first_error);
        cr_assert_gt(w[i].c.programs, 0);
    }
}
