/*
 * Stress (label stress, bounded by GORT_STRESS_SECONDS, default 2 s per
 * test): goroutines mixing every sync.Map operation, Range, len and
 * panicking Range callbacks on one map that owns its values (a
 * destructor is set), checking invariants as they go:
 *   - a value loaded inside a read section is alive and belongs to the
 *     key it was loaded from (premature destruction is caught, and is a
 *     use-after-free under ASan/TSan);
 *   - keys private to one goroutine behave exactly as a plain map would;
 *   - Range visits each key at most once, len stays within the key space;
 *   - at the end: the structure's invariants, len equal to what Range
 *     sees, every value created destroyed exactly once, no entry left
 *     (store/delete churn of fresh keys included: Go's issue 40999).
 */
#include "syncmap_test.h"

#include <criterion/criterion.h>

enum {
    WORKERS = 8,
    SHARED = 256,   /* keys "s<i>" every goroutine uses */
    PRIVATE = 64,   /* keys "p<g>_<i>" one goroutine owns */
    KEYSPACE = SHARED + WORKERS * PRIVATE,
};

/* First failure seen by any goroutine (Criterion asserts only in main). */
static _Atomic int failures;
static char failure_msg[256];

#define SCHECK(c)                                                              \
    do {                                                                       \
        if (!(c) && atomic_fetch_add(&failures, 1) == 0)                       \
            snprintf(failure_msg, sizeof failure_msg, "%s:%d: %s", __FILE__,   \
                     __LINE__, #c);                                            \
    } while (0)

typedef struct worker {
    gort_syncmap *m;
    int g;
    double deadline;
    uint64_t rng;
    gort_waitgroup *wg;
    void *model[PRIVATE];   /* private keys: value, or ABSENT */
    long ops, ranges, panics;
} worker;

static char absent_marker;
#define ABSENT ((void *)&absent_marker)

/* Key of a value: shared i -> i; private (g, i) -> SHARED + g*PRIVATE + i. */
static size_t shared_key(char *k, size_t n, long i)
{
    return (size_t)snprintf(k, n, "s%ld", i);
}

static size_t private_key(char *k, size_t n, int g, long i)
{
    return (size_t)snprintf(k, n, "p%d_%ld", g, i);
}

/* A loaded value (inside a read section) is NULL or alive and for @id. */
static void check_value(void *v, long id)
{
    if (v == NULL)
        return;
    tv *t = v;
    SCHECK(tv_alive(t));
    SCHECK(t->id == id);
}

typedef struct range_ctx {
    unsigned char seen[KEYSPACE];
    int count;
    bool panic_now;
} range_ctx;

static long id_of_key(const char *k, size_t klen)
{
    char buf[32];
    if (klen == 0 || klen >= sizeof buf)
        return -1;
    memcpy(buf, k, klen);
    buf[klen] = 0;
    if (buf[0] == 's')
        return atol(buf + 1);
    if (buf[0] == 'p') {
        int g;
        long i;
        if (sscanf(buf, "p%d_%ld", &g, &i) == 2)
            return SHARED + g * PRIVATE + i;
    }
    return -2; /* a churn key */
}

static bool range_check(const void *key, size_t klen, void *val, void *ctx)
{
    range_ctx *r = ctx;
    long id = id_of_key(key, klen);
    SCHECK(id != -1);
    if (id >= 0) {
        SCHECK(id < KEYSPACE);
        if (id < KEYSPACE) {
            SCHECK(!r->seen[id]);
            r->seen[id] = 1;
        }
        check_value(val, id);
    }
    r->count++;
    if (r->panic_now)
        gort_panic("range callback panics");
    return true;
}

static void range_panicking(void *arg)
{
    worker *w = arg;
    range_ctx r;
    memset(&r, 0, sizeof r);
    r.panic_now = true;
    gort_syncmap_range(w->m, range_check, &r);
}

static void shared_op(worker *w, int op)
{
    char k[32];
    long i = (long)(rnd_next(&w->rng) % SHARED);
    size_t kl = shared_key(k, sizeof k, i);
    gort_syncmap *m = w->m;
    void *v = NULL;
    switch (op) {
    case 0: /* load */
        gort_read_begin();
        if (gort_syncmap_load(m, k, kl, &v))
            check_value(v, i);
        gort_read_end();
        break;
    case 1: /* store (sometimes NULL) */
        gort_syncmap_store(m, k, kl, rnd_next(&w->rng) % 8 == 0 ? NULL : tv_new(i));
        break;
    case 2: { /* load_or_store */
        tv *n = tv_new(i);
        gort_read_begin();
        void *act = NULL;
        if (gort_syncmap_load_or_store(m, k, kl, n, &act)) {
            check_value(act, i);
            tv_destroy(n); /* not taken: still ours, never shared */
        } else {
            SCHECK(act == n);
        }
        gort_read_end();
        break;
    }
    case 3: /* load_and_delete: the value is ours, others may read it */
        if (gort_syncmap_load_and_delete(m, k, kl, &v) && v != NULL)
            gort_retire(v, tv_destroy);
        break;
    case 4: /* delete */
        gort_syncmap_delete(m, k, kl);
        break;
    case 5: { /* swap */
        void *prev = NULL;
        if (gort_syncmap_swap(m, k, kl, tv_new(i), &prev) && prev != NULL)
            gort_retire(prev, tv_destroy);
        break;
    }
    case 6: { /* compare_and_swap with the value just seen */
        gort_read_begin();
        if (gort_syncmap_load(m, k, kl, &v)) {
            check_value(v, i);
            tv *n = tv_new(i);
            if (!gort_syncmap_compare_and_swap(m, k, kl, v, n))
                tv_destroy(n); /* never published */
        }
        gort_read_end();
        break;
    }
    case 7: /* compare_and_delete with the value just seen */
        gort_read_begin();
        if (gort_syncmap_load(m, k, kl, &v)) {
            check_value(v, i);
            gort_syncmap_compare_and_delete(m, k, kl, v);
        }
        gort_read_end();
        break;
    }
}

static void private_op(worker *w, int op, long i)
{
    char k[32];
    long id = SHARED + w->g * PRIVATE + i;
    size_t kl = private_key(k, sizeof k, w->g, i);
    gort_syncmap *m = w->m;
    void *want = w->model[i], *v = NULL;
    bool present = want != ABSENT;
    switch (op) {
    case 0: {
        bool ok = gort_syncmap_load(m, k, kl, &v); /* only we write it */
        SCHECK(ok == present);
        if (ok)
            SCHECK(v == want);
        break;
    }
    case 1: {
        tv *n = tv_new(id);
        gort_syncmap_store(m, k, kl, n);
        w->model[i] = n;
        break;
    }
    case 2: {
        bool ok = gort_syncmap_load_and_delete(m, k, kl, &v);
        SCHECK(ok == present);
        if (ok) {
            SCHECK(v == want);
            gort_retire(v, tv_destroy); /* concurrent Ranges may see it */
        }
        w->model[i] = ABSENT;
        break;
    }
    case 3: {
        tv *n = tv_new(id);
        void *prev = NULL;
        bool ok = gort_syncmap_swap(m, k, kl, n, &prev);
        SCHECK(ok == present);
        if (ok) {
            SCHECK(prev == want);
            gort_retire(prev, tv_destroy);
        }
        w->model[i] = n;
        break;
    }
    case 4: {
        tv *n = tv_new(id);
        void *act = NULL;
        bool loaded = gort_syncmap_load_or_store(m, k, kl, n, &act);
        SCHECK(loaded == present);
        if (loaded) {
            SCHECK(act == want);
            tv_destroy(n);
        } else {
            w->model[i] = n;
        }
        break;
    }
    case 5:
        gort_syncmap_delete(m, k, kl);
        w->model[i] = ABSENT;
        break;
    }
}

static void work(void *arg)
{
    worker *w = arg;
    char k[40];
    long churn = 0;
    for (int i = 0; i < PRIVATE; i++)
        w->model[i] = ABSENT;
    while (now_seconds() < w->deadline) {
        for (int n = 0; n < 256; n++) {
            uint64_t r = rnd_next(&w->rng) % 100;
            if (r < 60) {
                shared_op(w, (int)(rnd_next(&w->rng) % 8));
            } else if (r < 90) {
                private_op(w, (int)(rnd_next(&w->rng) % 6),
                           (long)(rnd_next(&w->rng) % PRIVATE));
            } else if (r < 98) {
                /* churn: a fresh key stored and deleted (issue 40999) */
                int kl = snprintf(k, sizeof k, "c%d_%ld", w->g, churn++);
                gort_syncmap_store(w->m, k, (size_t)kl, NULL);
                if (rnd_next(&w->rng) % 2)
                    gort_syncmap_load(w->m, k, (size_t)kl, NULL);
                gort_syncmap_delete(w->m, k, (size_t)kl);
            } else {
                size_t len = gort_syncmap_len(w->m);
                SCHECK(len <= KEYSPACE + 2 * WORKERS); /* + in-flight writers */
            }
            w->ops++;
        }
        if (rnd_next(&w->rng) % 16 == 0) {
            range_ctx rc;
            memset(&rc, 0, sizeof rc);
            gort_syncmap_range(w->m, range_check, &rc);
            SCHECK(rc.count <= KEYSPACE + WORKERS);
            w->ranges++;
        }
        if (rnd_next(&w->rng) % 256 == 0) {
            caught_panic c;
            call_catching(range_panicking, w, &c);
            /* An empty map calls nothing; otherwise the panic came out. */
            if (c.panicked)
                SCHECK(strcmp(c.msg, "range callback panics") == 0);
            w->panics++;
        }
    }
    /* Private keys are exact after the run too. */
    for (long i = 0; i < PRIVATE; i++)
        private_op(w, 0, i);
    gort_waitgroup_done(w->wg);
}

static bool count_range(const void *key, size_t klen, void *val, void *ctx)
{
    (void)key, (void)klen, (void)val;
    (*(size_t *)ctx)++;
    return true;
}

Test(syncmap_stress, every_operation_from_many_goroutines_on_an_owning_map)
{
    gort_retire_barrier();
    long base_entries = gort__syncmap_live_entries();
    long base_created = atomic_load(&tv_created);
    long base_destroyed = atomic_load(&tv_destroyed);
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_set_destructor(m, tv_destroy);
    static worker w[WORKERS];
    gort_waitgroup wg = {0};
    double deadline = now_seconds() + stress_seconds();
    uint64_t seed = (uint64_t)time(NULL);
    fprintf(stderr, "syncmap_stress: seed %llu\n", (unsigned long long)seed);
    for (int g = 0; g < WORKERS; g++) {
        w[g] = (worker){.m = m, .g = g, .deadline = deadline,
                        .rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)g + 1,
                        .wg = &wg};
        gort_waitgroup_add(&wg, 1);
        gort_go(work, &w[g]);
    }
    gort_waitgroup_wait(&wg);
    cr_assert_eq(failures, 0, "%d failures, first: %s", failures, failure_msg);
    long ops = 0, ranges = 0, panics = 0;
    for (int g = 0; g < WORKERS; g++) {
        ops += w[g].ops;
        ranges += w[g].ranges;
        panics += w[g].panics;
    }
    fprintf(stderr, "syncmap_stress: %ld ops, %ld ranges, %ld panicking ranges\n",
            ops, ranges, panics);
    cr_assert_gt(ops, 0);
    /* Quiescent: invariants, len exact. */
    cr_assert(gort__syncmap_verify(m));
    size_t seen = 0;
    gort_syncmap_range(m, count_range, &seen);
    cr_assert_eq(gort_syncmap_len(m), seen);
    /* Deleted keys were reclaimed: at most one entry per key of the key
     * space is left (churn keys are all deleted). */
    gort_retire_barrier();
    cr_assert_leq(gort__syncmap_live_entries() - base_entries, KEYSPACE);
    gort_syncmap_free(m);
    gort_retire_barrier();
    cr_assert_eq(gort__syncmap_live_entries(), base_entries);
    cr_assert_eq(tv_double_destroys, 0);
    long created = atomic_load(&tv_created) - base_created;
    long destroyed = atomic_load(&tv_destroyed) - base_destroyed;
    cr_assert_eq(created, destroyed, "created %ld, destroyed %ld", created,
                 destroyed);
}

/* Many readers against writers that keep promoting and expunging: the
 * read-only map is replaced constantly while lock-free loads use it. */
typedef struct churner {
    gort_syncmap *m;
    double deadline;
    uint64_t rng;
    bool writer;
    gort_waitgroup *wg;
    long ops;
} churner;

static void churn(void *arg)
{
    churner *c = arg;
    char k[32];
    while (now_seconds() < c->deadline) {
        for (int n = 0; n < 128; n++) {
            long i = (long)(rnd_next(&c->rng) % 512);
            size_t kl = ikey(k, sizeof k, i);
            void *v = NULL;
            if (c->writer) {
                switch (rnd_next(&c->rng) % 4) {
                case 0: gort_syncmap_store(c->m, k, kl, IV(i)); break;
                case 1: gort_syncmap_delete(c->m, k, kl); break;
                case 2: gort_syncmap_load_or_store(c->m, k, kl, IV(i), NULL); break;
                case 3: gort_syncmap_compare_and_swap(c->m, k, kl, IV(i), IV(i)); break;
                }
            } else if (gort_syncmap_load(c->m, k, kl, &v)) {
                SCHECK(v == IV(i)); /* every value stored under k<i> is i */
            }
            c->ops++;
        }
    }
    gort_waitgroup_done(c->wg);
}

Test(syncmap_stress, lock_free_loads_while_the_read_map_is_replaced)
{
    gort_retire_barrier();
    long base_entries = gort__syncmap_live_entries();
    gort_syncmap *m = gort_syncmap_new();
    enum { N = 10 };
    static churner c[N];
    gort_waitgroup wg = {0};
    double deadline = now_seconds() + stress_seconds();
    for (int t = 0; t < N; t++) {
        c[t] = (churner){m, deadline, (uint64_t)t * 7919 + 17, t < 3, &wg, 0};
        gort_waitgroup_add(&wg, 1);
        gort_go(churn, &c[t]);
    }
    gort_waitgroup_wait(&wg);
    cr_assert_eq(failures, 0, "%d failures, first: %s", failures, failure_msg);
    cr_assert(gort__syncmap_verify(m));
    size_t seen = 0;
    gort_syncmap_range(m, count_range, &seen);
    cr_assert_eq(gort_syncmap_len(m), seen);
    gort_syncmap_free(m);
    gort_retire_barrier();
    cr_assert_eq(gort__syncmap_live_entries(), base_entries);
}
