/*
 * snapmap_stress - validate program: goroutines mixing views, writes,
 * flushes and frees on snapshot maps, checking the invariants, for
 * GORT_STRESS_SECONDS (default 2) split over four phases:
 *
 *   chaos   3 writers (one of them writing while it holds views), 3
 *           readers, a flushing goroutine and a goroutine that creates,
 *           fills and frees maps while another goroutine holds a view;
 *           batch size 7, age 1 ms.  Checks: per-writer order (a key's
 *           value never goes back, from one view to a later one), views
 *           never change, every acknowledged write is visible after the
 *           writer's flush, free applies the pending ops.
 *   groups  4 writers each setting a group of 8 keys to a new generation
 *           per round (with their flushes under a user lock, so a batch
 *           holds whole groups), 4 readers: a view must never show a
 *           group with two generations (no half-applied batch).
 *   model   one writer applying random sets and deletes to a reference
 *           model, flushing after each round with a "gen" key; 4 readers
 *           compare each view's whole contents with the model's checksum
 *           recorded for that generation (exactly once, in order, both
 *           copies kept equal by the replay).
 *   frees   rounds of: a new map, 4 writers (two also flushing), a
 *           reader, a view held across gort_snapmap_free; the free hook
 *           checks the final version holds every writer's last values.
 * ASan (use after free of a replaced copy) and TSan (publication and
 * grace-period ordering) check the rest in their presets.
 */
#include "check.h"
#include "snapmap_test.h"

#include <gort/mutex.h>
#include <gort/read_section.h>
#include <gort/snapmap.h>
#include <gort/sync.h>

#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static double phase_end;
static atomic_int stop;

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool running(void)
{
    return !atomic_load_explicit(&stop, memory_order_relaxed);
}

/* Runs @n goroutines of @fn (args at @args, @size bytes apart) and the
 * calling thread's timer: sets stop at the phase end, waits for all. */
static void run_phase(const char *name, double seconds, void (*fn)(void *),
                      void *args, size_t size, int n)
{
    atomic_store(&stop, 0);
    phase_end = snap_now() + seconds;
    gort_waitgroup *wg = *(gort_waitgroup **)args; /* first field */
    gort_waitgroup_add(wg, n);
    for (int i = 0; i < n; i++)
        gort_go(fn, (char *)args + (size_t)i * size);
    while (snap_now() < phase_end)
        snap_sleep_ms(5);
    atomic_store(&stop, 1);
    gort_waitgroup_wait(wg);
    printf("snapmap_stress: %s done\n", name);
}

/* ===================================================================
 * chaos
 * =================================================================== */

enum { CH_WRITERS = 3, CH_KEYS = 16, CH_READERS = 3 };

typedef struct chaos_arg {
    gort_waitgroup *wg; /* first: run_phase */
    int role;           /* 0..2 writers, 3..5 readers, 6 flusher, 7 churn */
    gort_snapmap *s;
    long ops, views;
} chaos_arg;

static void chaos_key(char *k, size_t n, int w, int j)
{
    snprintf(k, n, "w%d-%d", w, j);
}

static void chaos_writer(chaos_arg *a)
{
    int w = a->role;
    int64_t last[CH_KEYS];
    for (int j = 0; j < CH_KEYS; j++)
        last[j] = -1;
    char k[32];
    int64_t c = 0;
    while (running()) {
        /* Writer 2 writes its next 50 ops while holding a view. */
        const gort_map *held = NULL;
        if (w == 2 && c % 200 == 0)
            held = gort_snapmap_read_begin(a->s);
        for (int i = 0; i < 50; i++, c++) {
            int j = (int)(c % CH_KEYS);
            chaos_key(k, sizeof k, w, j);
            snap_set(a->s, k, c);
            last[j] = c;
        }
        if (held != NULL)
            gort_snapmap_read_end(a->s, held);
        a->ops += 50;
        if (c % 200 == 0) {
            gort_snapmap_flush(a->s);
            const gort_map *v = gort_snapmap_read_begin(a->s);
            for (int j = 0; j < CH_KEYS; j++) {
                chaos_key(k, sizeof k, w, j);
                /* No other goroutine writes these keys. */
                CHECK_EQ_LONG(view_get(v, k, -1), last[j]);
            }
            gort_snapmap_read_end(a->s, v);
        }
    }
}

static void chaos_reader(chaos_arg *a)
{
    int64_t seen[CH_WRITERS][CH_KEYS];
    for (int w = 0; w < CH_WRITERS; w++)
        for (int j = 0; j < CH_KEYS; j++)
            seen[w][j] = -1;
    char k[32];
    while (running()) {
        const gort_map *v = gort_snapmap_read_begin(a->s);
        int64_t now[CH_WRITERS][CH_KEYS];
        for (int w = 0; w < CH_WRITERS; w++) {
            for (int j = 0; j < CH_KEYS; j++) {
                chaos_key(k, sizeof k, w, j);
                now[w][j] = view_get(v, k, -1);
                /* Per-writer order: never older than an earlier view. */
                CHECK(now[w][j] >= seen[w][j]);
                seen[w][j] = now[w][j];
            }
        }
        /* A nested view is at least as new, and v does not change. */
        const gort_map *v2 = gort_snapmap_read_begin(a->s);
        sched_yield();
        for (int w = 0; w < CH_WRITERS; w++) {
            for (int j = 0; j < CH_KEYS; j++) {
                chaos_key(k, sizeof k, w, j);
                CHECK(view_get(v2, k, -1) >= now[w][j]);
                CHECK_EQ_LONG(view_get(v, k, -1), now[w][j]);
            }
        }
        gort_snapmap_read_end(a->s, v);  /* outer first: any order */
        gort_snapmap_read_end(a->s, v2);
        a->views++;
    }
}

static void chaos_flusher(chaos_arg *a)
{
    while (running()) {
        gort_snapmap_flush(a->s);
        a->ops++;
        sched_yield();
    }
}

typedef struct churn_holder {
    gort_snapmap *t;
    atomic_int state; /* 1 view open, 2 ended */
    gort_waitgroup wg;
} churn_holder;

static void churn_hold(void *arg)
{
    churn_holder *h = arg;
    const gort_map *v = gort_snapmap_read_begin(h->t);
    size_t n = gort_map_len(v);
    atomic_store(&h->state, 1);
    snap_sleep_ms(1);
    CHECK_EQ_LONG(gort_map_len(v), n); /* ASan: still allocated */
    atomic_store(&h->state, 2);
    gort_snapmap_read_end(h->t, v);
    gort_waitgroup_done(&h->wg);
}

typedef struct churn_final {
    int64_t expect[64];
    int bad;
} churn_final;

static void churn_check(const gort_map *m, void *arg)
{
    churn_final *f = arg;
    char k[16];
    for (int j = 0; j < 64; j++) {
        snprintf(k, sizeof k, "c%d", j);
        if (view_get(m, k, -1) != f->expect[j])
            f->bad++;
    }
    if (gort_map_len(m) != 64)
        f->bad++;
}

static void chaos_churn(chaos_arg *a)
{
    uint64_t rng = 7;
    while (running()) {
        gort_snapmap *t = gort_snapmap_new_str(8);
        gort_snapmap_set_batch_size(t, 1 + splitmix(&rng) % 9);
        gort_snapmap_set_batch_age_ms(t, (unsigned)(splitmix(&rng) % 2));
        churn_final f = {{0}, 0};
        char k[16];
        for (int i = 0; i < 300; i++) {
            int j = i % 64;
            snprintf(k, sizeof k, "c%d", j);
            snap_set(t, k, i);
            f.expect[j] = i;
        }
        churn_holder h = {.t = t};
        gort_waitgroup_add(&h.wg, 1);
        gort_go(churn_hold, &h);
        while (atomic_load(&h.state) == 0)
            sched_yield();
        for (int i = 300; i < 400; i++) { /* pending at free, some */
            int j = i % 64;
            snprintf(k, sizeof k, "c%d", j);
            snap_set(t, k, i);
            f.expect[j] = i;
        }
        gort__snapmap_set_free_hook(t, churn_check, &f);
        gort_snapmap_free(t);
        CHECK_EQ_LONG(atomic_load(&h.state), 2); /* free waited for it */
        CHECK_EQ_LONG(f.bad, 0);
        gort_waitgroup_wait(&h.wg);
        a->ops++;
    }
}

static void chaos_main(void *arg)
{
    chaos_arg *a = arg;
    if (a->role < CH_WRITERS)
        chaos_writer(a);
    else if (a->role < CH_WRITERS + CH_READERS)
        chaos_reader(a);
    else if (a->role == CH_WRITERS + CH_READERS)
        chaos_flusher(a);
    else
        chaos_churn(a);
    gort_waitgroup_done(a->wg);
}

static void phase_chaos(double seconds)
{
    enum { N = CH_WRITERS + CH_READERS + 2 };
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_size(s, 7);
    gort_snapmap_set_batch_age_ms(s, 1);
    gort_waitgroup wg = {0};
    chaos_arg args[N];
    for (int i = 0; i < N; i++)
        args[i] = (chaos_arg){&wg, i, s, 0, 0};
    run_phase("chaos", seconds, chaos_main, args, sizeof args[0], N);
    gort_snapmap_flush(s);
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    CHECK_EQ_LONG(info.ops_applied, info.ops_queued); /* exactly once */
    CHECK_EQ_LONG(info.pending, 0);
    CHECK(info.by_size > 0);
    CHECK(info.by_flush > 0);
    long views = 0;
    for (int i = 0; i < N; i++)
        views += args[i].views;
    CHECK(views > 0);
    printf("  %llu versions (%llu size, %llu age, %llu flush), %llu ops, "
           "%ld views, %llu writer waits\n",
           (unsigned long long)info.version,
           (unsigned long long)info.by_size, (unsigned long long)info.by_age,
           (unsigned long long)info.by_flush,
           (unsigned long long)info.ops_applied, views,
           (unsigned long long)info.writer_waits);
    gort_snapmap_free(s);
}

/* ===================================================================
 * groups: no half-applied batch
 * =================================================================== */

enum { GR_WRITERS = 4, GR_KEYS = 8, GR_READERS = 4 };

typedef struct group_arg {
    gort_waitgroup *wg;
    int role;
    gort_snapmap *s;
    gort_mutex *glock;
    long rounds;
} group_arg;

static void group_main(void *arg)
{
    group_arg *a = arg;
    char k[32];
    uint64_t rng = (uint64_t)a->role * 31 + 1;
    if (a->role < GR_WRITERS) {
        for (int64_t g = 1; running(); g++) {
            gort_mutex_lock(a->glock);
            for (int j = 0; j < GR_KEYS; j++) {
                snprintf(k, sizeof k, "g%d-%d", a->role, j);
                snap_set(a->s, k, g);
            }
            if (splitmix(&rng) % 3 == 0)
                gort_snapmap_flush(a->s); /* whole groups only */
            gort_mutex_unlock(a->glock);
            a->rounds++;
        }
    } else {
        while (running()) {
            const gort_map *v = gort_snapmap_read_begin(a->s);
            for (int w = 0; w < GR_WRITERS; w++) {
                snprintf(k, sizeof k, "g%d-0", w);
                int64_t g0 = view_get(v, k, -1);
                for (int j = 1; j < GR_KEYS; j++) {
                    snprintf(k, sizeof k, "g%d-%d", w, j);
                    CHECK_EQ_LONG(view_get(v, k, -1), g0);
                }
            }
            gort_snapmap_read_end(a->s, v);
            a->rounds++;
        }
    }
    gort_waitgroup_done(a->wg);
}

static void phase_groups(double seconds)
{
    enum { N = GR_WRITERS + GR_READERS };
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_size(s, SIZE_MAX); /* flushes only */
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_mutex glock = {0};
    gort_waitgroup wg = {0};
    group_arg args[N];
    for (int i = 0; i < N; i++)
        args[i] = (group_arg){&wg, i, s, &glock, 0};
    run_phase("groups", seconds, group_main, args, sizeof args[0], N);
    for (int i = 0; i < N; i++)
        CHECK(args[i].rounds > 0);
    gort_snapmap_free(s);
}

/* ===================================================================
 * model: every view is exactly some published state
 * =================================================================== */

enum { MO_KEYS = 64, MO_READERS = 4, MO_GENS = 1 << 16 };

static uint64_t model_hist[MO_GENS]; /* checksum of generation g */

static uint64_t entry_sum(long key, int64_t val)
{
    uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull ^ (uint64_t)val;
    return splitmix(&x);
}

typedef struct model_arg {
    gort_waitgroup *wg;
    int role; /* 0 writer, others readers */
    gort_snapmap *s;
    long checked;
} model_arg;

static void model_writer(model_arg *a)
{
    int64_t model[MO_KEYS];
    bool present[MO_KEYS] = {false};
    uint64_t rng = 99;
    char k[16];
    for (int64_t g = 1; g < MO_GENS && running(); g++) {
        int n = 1 + (int)(splitmix(&rng) % 20);
        for (int i = 0; i < n; i++) {
            int j = (int)(splitmix(&rng) % MO_KEYS);
            snprintf(k, sizeof k, "m%d", j);
            if (splitmix(&rng) % 4 == 0) {
                gort_snapmap_delete_str(a->s, k, strlen(k));
                present[j] = false;
            } else {
                model[j] = (int64_t)(splitmix(&rng) >> 1);
                snap_set(a->s, k, model[j]);
                present[j] = true;
            }
        }
        uint64_t sum = 0;
        for (int j = 0; j < MO_KEYS; j++)
            if (present[j])
                sum += entry_sum(j, model[j]);
        /* Written before the op that publishes it: a view showing gen g
         * was published after this store. */
        model_hist[g] = sum;
        snap_set(a->s, "gen", g);
        gort_snapmap_flush(a->s);
        a->checked++;
    }
}

static void model_reader(model_arg *a)
{
    while (running()) {
        const gort_map *v = gort_snapmap_read_begin(a->s);
        int64_t g = view_get(v, "gen", 0);
        uint64_t sum = 0;
        gort_map_iter it;
        for (gort_map_iter_init(&it, v); gort_map_iter_next(&it);) {
            if (it.key_len == 3 && memcmp(it.key, "gen", 3) == 0)
                continue;
            char k[16];
            CHECK(it.key_len < sizeof k);
            memcpy(k, it.key, it.key_len);
            k[it.key_len] = '\0';
            sum += entry_sum(strtol(k + 1, NULL, 10), *(const int64_t *)it.val);
        }
        CHECK(sum == (g == 0 ? 0 : model_hist[g]));
        gort_snapmap_read_end(a->s, v);
        a->checked++;
    }
}

static void model_main(void *arg)
{
    model_arg *a = arg;
    if (a->role == 0)
        model_writer(a);
    else
        model_reader(a);
    gort_waitgroup_done(a->wg);
}

static void phase_model(double seconds)
{
    enum { N = 1 + MO_READERS };
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_size(s, SIZE_MAX);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_waitgroup wg = {0};
    model_arg args[N];
    for (int i = 0; i < N; i++)
        args[i] = (model_arg){&wg, i, s, 0};
    run_phase("model", seconds, model_main, args, sizeof args[0], N);
    for (int i = 0; i < N; i++)
        CHECK(args[i].checked > 0);
    printf("  %ld generations, %ld views compared\n", args[0].checked,
           args[1].checked + args[2].checked + args[3].checked +
               args[4].checked);
    gort_snapmap_free(s);
}

/* ===================================================================
 * frees: writers racing with flushes, then free with pending ops
 * =================================================================== */

enum { FR_WRITERS = 4, FR_OPS = 400, FR_KEYS = 20 };

typedef struct free_writer {
    gort_snapmap *s;
    int id;
    gort_waitgroup *wg;
} free_writer;

static void free_write(void *arg)
{
    free_writer *w = arg;
    char k[16];
    for (int i = 0; i < FR_OPS; i++) {
        snprintf(k, sizeof k, "f%d-%d", w->id, i % FR_KEYS);
        snap_set(w->s, k, i);
        if (w->id < 2 && i % 50 == 49)
            gort_snapmap_flush(w->s);
    }
    gort_waitgroup_done(w->wg);
}

typedef struct free_final {
    int bad;
} free_final;

static void free_check(const gort_map *m, void *arg)
{
    free_final *f = arg;
    char k[16];
    for (int w = 0; w < FR_WRITERS; w++) {
        for (int j = 0; j < FR_KEYS; j++) {
            snprintf(k, sizeof k, "f%d-%d", w, j);
            if (view_get(m, k, -1) != FR_OPS - FR_KEYS + j)
                f->bad++;
        }
    }
    if (gort_map_len(m) != FR_WRITERS * FR_KEYS)
        f->bad++;
}

typedef struct frees_arg {
    gort_waitgroup *wg;
    long rounds;
} frees_arg;

static void frees_main(void *arg)
{
    frees_arg *a = arg;
    uint64_t rng = 5;
    while (running()) {
        gort_snapmap *s = gort_snapmap_new_str(8);
        gort_snapmap_set_batch_size(s, 1 + splitmix(&rng) % 16);
        gort_snapmap_set_batch_age_ms(s, (unsigned)(splitmix(&rng) % 3));
        gort_waitgroup wg = {0};
        free_writer w[FR_WRITERS];
        gort_waitgroup_add(&wg, FR_WRITERS);
        for (int i = 0; i < FR_WRITERS; i++) {
            w[i] = (free_writer){s, i, &wg};
            gort_go(free_write, &w[i]);
        }
        gort_waitgroup_wait(&wg);
        churn_holder h = {.t = s};
        gort_waitgroup_add(&h.wg, 1);
        gort_go(churn_hold, &h);
        while (atomic_load(&h.state) == 0)
            sched_yield();
        free_final f = {0};
        gort__snapmap_set_free_hook(s, free_check, &f);
        gort_snapmap_free(s);
        CHECK_EQ_LONG(f.bad, 0);
        CHECK_EQ_LONG(atomic_load(&h.state), 2);
        gort_waitgroup_wait(&h.wg);
        a->rounds++;
    }
    gort_waitgroup_done(a->wg);
}

static void phase_frees(double seconds)
{
    gort_waitgroup wg = {0};
    frees_arg args[2] = {{&wg, 0}, {&wg, 0}};
    run_phase("frees", seconds, frees_main, args, sizeof args[0], 2);
    printf("  %ld maps freed with pending ops\n", args[0].rounds + args[1].rounds);
    CHECK(args[0].rounds > 0 && args[1].rounds > 0);
}

int main(void)
{
    double t = check_stress_seconds() / 4;
    phase_chaos(t);
    phase_groups(t);
    phase_model(t);
    phase_frees(t);
    printf("snapmap_stress: ok\n");
    return 0;
}
