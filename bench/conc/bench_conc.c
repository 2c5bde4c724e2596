/*
 * bench_conc.c - the concurrent read-mostly map benchmark driver
 * (WORKLOAD.md "Concurrent read-mostly map"): 100,000 keys (the 16 hex
 * characters of mix64(i ^ 0x5EED)), int64 values, T reader threads doing
 * random hit lookups (splitmix64 per thread) for a fixed time, with no
 * writer or with one writer updating random existing keys continuously;
 * total lookups/s and the writer's updates/s.  Maps that stage writes
 * publish every 1000 updates.
 *
 * Each process runs one implementation with one T and one writer setting,
 * so that nothing one map leaves behind (heap, RCU or GC state, threads)
 * disturbs another; the runner (bench/run-conc.sh) starts them
 * interleaved, several rounds, with the Go peer (bench/peers/go/conc)
 * printing the same lines.
 *
 * Checks: every reader checks every value it finds against the key it
 * looked up (the value's low 20 bits are the key's index, whatever the
 * writer wrote) and counts misses; after the run the writer's last update
 * must be visible.  A failed check exits with status 1 before any result
 * line is printed.  Timings never fail anything.
 *
 * Modes:
 *   bench_conc --impl NAME [--threads T] [--writer] [--seconds S] [--n N]
 *       one run: a "D" line (key digest) and
 *       "R <impl> <T> <writer> <lookups/s> <updates/s> <lookups> <updates>";
 *   bench_conc --percost [--n N] [--lookups L] [--rounds R]
 *       ns per lookup of a plain single-threaded gort_map against a
 *       snapshot-map view opened and closed per lookup: "P" lines;
 *   bench_conc --flush [--n N] [--reps R]
 *       time to publish a 1000-op batch, snapshot map against copying the
 *       whole gort_map (naive copy-on-write): "F" lines;
 *   bench_conc --list
 *       the implementations compiled in: "<name> <label>" lines;
 *   bench_conc --table FILE
 *       merges the lines of many runs (this program's and the Go peer's)
 *       into tables: best and median, ratios, the targets.
 */
#include "conc.h"
#include "bench_samples.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ===================================================================
 * Implementations compiled in
 * =================================================================== */

extern const conc_impl conc_impl_snapmap, conc_impl_snapmap1, conc_impl_syncmap,
    conc_impl_gortrw, conc_impl_lfht, conc_impl_glib;

static const conc_impl *const impls[] = {
#ifdef CONC_HAVE_SNAPMAP
    &conc_impl_snapmap,
    &conc_impl_snapmap1,
#endif
#ifdef CONC_HAVE_SYNCMAP
    &conc_impl_syncmap,
#endif
#ifdef CONC_HAVE_GORTRW
    &conc_impl_gortrw,
#endif
#ifdef CONC_HAVE_LFHT
    &conc_impl_lfht,
#endif
#ifdef CONC_HAVE_GLIB
    &conc_impl_glib,
#endif
    NULL, /* so the array is never empty */
};
enum { NIMPLS = sizeof impls / sizeof impls[0] - 1 };

/* ===================================================================
 * Clock and workload
 * =================================================================== */

double conc_now_ns(void)
{
    return bench_clock_ns();
}

/* n keys in one arena (keys[0].p is its start), each 16 hex + NUL. */
conc_key *conc_make_keys(size_t n)
{
    static const char hex[] = "0123456789abcdef";
    conc_key *keys = bench_xmalloc(n * sizeof *keys);
    char *arena = bench_xmalloc(n * 17);
    for (size_t i = 0; i < n; i++) {
        char *p = arena + 17 * i;
        uint64_t h = bench_mix64((uint64_t)i ^ 0x5EED);
        for (int d = 0; d < 16; d++)
            p[d] = hex[(h >> (60 - 4 * d)) & 15];
        p[16] = '\0';
        keys[i].p = p;
        keys[i].len = 16;
    }
    return keys;
}

void conc_free_keys(conc_key *keys)
{
    free((void *)keys[0].p);
    free(keys);
}

/* FNV-1a 64 over the keys, each followed by its NUL (the Go peer prints
 * the same), so --table can check everyone ran on the same keys. */
static uint64_t keys_digest(const conc_key *keys, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b <= keys[i].len; b++)
            h = (h ^ (unsigned char)keys[i].p[b]) * 0x100000001B3ULL;
    return h;
}

/* ===================================================================
 * One run: T readers (+ one writer) for `seconds`
 * =================================================================== */

typedef struct run_ctx {
    const conc_impl *impl;
    const conc_work *w;
    void *map;
    pthread_barrier_t start; /* readers, writer and the driver */
    atomic_int stop;         /* 1 when time is up */
} run_ctx;

typedef struct thread_arg {
    run_ctx *r;
    conc_thread *t;
    int writer;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    run_ctx *r = a->r;
    r->impl->thread_begin();
    pthread_barrier_wait(&r->start);
    double t0 = conc_now_ns();
    if (a->writer)
        r->impl->write(r->map, r->w, a->t);
    else
        r->impl->read(r->map, r->w, a->t);
    a->t->ns = conc_now_ns() - t0;
    r->impl->thread_end();
    return NULL;
}

/* The check after a run, in a thread of its own: some maps want their
 * readers registered (RCU), and the driver's thread stays clean. */
typedef struct check_arg {
    run_ctx *r;
    uint32_t key;
    int found;
    int64_t val;
} check_arg;

static void *check_main(void *p)
{
    check_arg *c = p;
    c->r->impl->thread_begin();
    c->found = c->r->impl->lookup(c->r->map, &c->r->w->keys[c->key], &c->val);
    c->r->impl->thread_end();
    return NULL;
}

static void spawn(pthread_t *th, void *(*fn)(void *), void *arg)
{
    int e = pthread_create(th, NULL, fn, arg);
    if (e != 0) {
        fprintf(stderr, "bench_conc: pthread_create: %s\n", strerror(e));
        exit(1);
    }
}

static int run_one(const char *name, int nthreads, int writer,
                   double seconds, size_t n)
{
    const conc_impl *impl = NULL;
    for (int i = 0; i < NIMPLS; i++)
        if (strcmp(impls[i]->name, name) == 0)
            impl = impls[i];
    if (impl == NULL) {
        fprintf(stderr, "bench_conc: no implementation '%s' (--list)\n",
                name);
        return 2;
    }

    conc_key *keys = conc_make_keys(n);
    conc_work w = {n, keys};
    run_ctx r;
    r.impl = impl;
    r.w = &w;
    r.map = impl->make(&w);
    atomic_init(&r.stop, 0);
    int nth = nthreads + (writer != 0);
    pthread_barrier_init(&r.start, NULL, (unsigned)nth + 1);

    conc_thread *ts = aligned_alloc(64, sizeof(conc_thread) * (size_t)nth);
    thread_arg *args = bench_xmalloc(sizeof *args * (size_t)nth);
    pthread_t *th = bench_xmalloc(sizeof *th * (size_t)nth);
    if (ts == NULL) {
        fprintf(stderr, "bench_conc: out of memory\n");
        return 1;
    }
    memset(ts, 0, sizeof(conc_thread) * (size_t)nth);
    for (int i = 0; i < nth; i++) {
        int is_writer = writer && i == nthreads;
        ts[i].seed = is_writer ? 0x2000 : 0x1000 + (uint64_t)i;
        ts[i].stop = &r.stop;
        args[i] = (thread_arg){&r, &ts[i], is_writer};
        spawn(&th[i], thread_main, &args[i]);
    }

    pthread_barrier_wait(&r.start);
    struct timespec d = {(time_t)seconds,
                         (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
    /* Relaxed: the flag carries no data; pthread_join below orders the
     * threads' results before the driver reads them. */
    atomic_store_explicit(&r.stop, 1, memory_order_relaxed);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);

    int bad = 0;
    double reads = 0, writes = 0;
    uint64_t lookups = 0, updates = 0;
    for (int i = 0; i < nthreads; i++) {
        conc_thread *t = &ts[i];
        if (t->missing != 0 || t->got != t->want || t->ops == 0) {
            fprintf(stderr, "bench_conc: %s reader %d: %llu lookups, %llu "
                    "missing, index checksum %llu, expected %llu\n", name, i,
                    (unsigned long long)t->ops,
                    (unsigned long long)t->missing,
                    (unsigned long long)t->got, (unsigned long long)t->want);
            bad = 1;
        }
        reads += (double)t->ops / t->ns * 1e9;
        lookups += t->ops;
    }
    if (writer) {
        conc_thread *t = &ts[nthreads];
        writes = (double)t->ops / t->ns * 1e9;
        updates = t->ops;
        check_arg c = {&r, t->last_key, 0, 0};
        pthread_t ct;
        spawn(&ct, check_main, &c);
        pthread_join(ct, NULL);
        if (t->ops == 0 || !c.found || c.val != t->last_val) {
            fprintf(stderr, "bench_conc: %s writer: %llu updates, the last "
                    "(key %u := %lld) reads back as %s%lld\n", name,
                    (unsigned long long)t->ops, t->last_key,
                    (long long)t->last_val, c.found ? "" : "missing ",
                    (long long)c.val);
            bad = 1;
        }
    }
    if (!bad) {
        printf("D %s %zu keys %016llx\n", name, n,
               (unsigned long long)keys_digest(keys, n));
        if (impl->note != NULL)
            impl->note(r.map, nthreads, writer != 0);
        printf("R %s %d %d %.0f %.0f %llu %llu\n", name, nthreads,
               writer != 0, reads, writes, (unsigned long long)lookups,
               (unsigned long long)updates);
        fflush(stdout);
    }
    impl->destroy(r.map);
    pthread_barrier_destroy(&r.start);
    free(ts);
    free(args);
    free(th);
    conc_free_keys(keys);
    return bad;
}

/* ===================================================================
 * --table: merging the runs
 * =================================================================== */

enum { MAX_T = 256 };

/* Columns, in table order: gort first, then the peers. */
enum { C_SNAPMAP, C_SNAPMAP1, C_SYNCMAP, C_GORTRW, C_LFHT, C_GLIBRW,
       C_GOCOW, C_GOSYNCMAP, C_GORW, NCOLS };
static const char *const col_key[NCOLS] = {
    "snapmap", "snapmap1", "syncmap", "gortrw",    "lfht",
    "glibrw",  "gocow",    "gosyncmap", "gorw"};
static const char *const col_label[NCOLS] = {
    "gort_snapmap",     "gort_snapmap, 1 queued", "gort_syncmap",
    "gort rwmutex+map", "urcu lfht",              "rwlock+GLib",
    "Go COW atomic.Value", "Go sync.Map",         "Go RWMutex+map"};

typedef bench_samples samples; /* bench/common/bench_samples.h */

/* [T][column][writer 0/1]: lookups/s; and the writer's updates/s. */
static samples *reads[MAX_T + 1][NCOLS][2];
static samples *writes[MAX_T + 1][NCOLS];
/* [T]: the snapshot map's operations per published version and its
 * writer's back-pressure waits per run, with one writer ("S" lines). */
static samples *snap_opv[MAX_T + 1][2], *snap_waits[MAX_T + 1][2];
/* --percost: ns per lookup, plain map and snapshot view. */
enum { P_MAP, P_SNAP, P_SNAPONE, NP };
static samples percost[NP];
static size_t percost_n;
/* --flush: ns, per kind and N (up to 4 Ns). */
enum { F_SNAPFLUSH, F_SNAPBATCH, F_COW, NF, MAX_FN = 4 };
static const char *const flush_key[NF] = {"snapflush", "snapbatch", "cow"};
static const char *const flush_label[NF] = {
    "gort_snapmap flush", "gort_snapmap queue+flush",
    "naive COW (copy gort_map)"};
static size_t flush_ns_n[MAX_FN];
static int nflush_n;
static samples flushes[NF][MAX_FN];
static char digest[80];
static int digest_bad;

static samples *cell(samples **slot)
{
    if (*slot == NULL) {
        *slot = calloc(1, sizeof **slot);
        if (*slot == NULL) {
            fprintf(stderr, "bench_conc: out of memory\n");
            exit(1);
        }
    }
    return *slot;
}

static int col_index(const char *impl)
{
    for (int c = 0; c < NCOLS; c++)
        if (strcmp(col_key[c], impl) == 0)
            return c;
    return -1;
}

static int flush_n_index(size_t n)
{
    for (int i = 0; i < nflush_n; i++)
        if (flush_ns_n[i] == n)
            return i;
    if (nflush_n == MAX_FN)
        return -1;
    int i = nflush_n++;
    while (i > 0 && flush_ns_n[i - 1] > n) { /* keep them sorted */
        flush_ns_n[i] = flush_ns_n[i - 1];
        for (int k = 0; k < NF; k++)
            flushes[k][i] = flushes[k][i - 1];
        i--;
    }
    flush_ns_n[i] = n;
    for (int k = 0; k < NF; k++)
        flushes[k][i].n = 0;
    return i;
}

static int read_results(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bench_conc: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512], impl[64], dg[80];
    unsigned long long n, kd;
    int t, wr;
    double rd, up;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "R %63s %d %d %lf %lf", impl, &t, &wr, &rd, &up) ==
            5) {
            int c = col_index(impl);
            if (c < 0 || t < 1 || t > MAX_T || (wr != 0 && wr != 1))
                continue;
            bench_samples_add(cell(&reads[t][c][wr]), rd);
            if (wr)
                bench_samples_add(cell(&writes[t][c]), up);
        } else if (sscanf(line, "S %63s %d %d %llu %*u %*u %*u %lf %lf",
                          impl, &t, &wr, &n, &rd, &up) == 6) {
            int v = strcmp(impl, "snapmap") == 0    ? 0
                    : strcmp(impl, "snapmap1") == 0 ? 1
                                                    : -1;
            if (v >= 0 && t >= 1 && t <= MAX_T && wr == 1 && n != 0) {
                bench_samples_add(cell(&snap_opv[t][v]), rd / (double)n);
                bench_samples_add(cell(&snap_waits[t][v]), up);
            }
        } else if (sscanf(line, "P %63s %llu %lf", impl, &n, &rd) == 3) {
            int k = strcmp(impl, "map") == 0       ? P_MAP
                    : strcmp(impl, "snap") == 0    ? P_SNAP
                    : strcmp(impl, "snapone") == 0 ? P_SNAPONE
                                                   : -1;
            if (k >= 0) {
                bench_samples_add(&percost[k], rd);
                percost_n = (size_t)n;
            }
        } else if (sscanf(line, "F %63s %llu %lf", impl, &n, &rd) == 3) {
            for (int k = 0; k < NF; k++) {
                int i;
                if (strcmp(flush_key[k], impl) == 0 &&
                    (i = flush_n_index((size_t)n)) >= 0)
                    bench_samples_add(&flushes[k][i], rd);
            }
        } else if (sscanf(line, "D %63s %llu keys %llx", impl, &n, &kd) ==
                   3) {
            snprintf(dg, sizeof dg, "N = %llu, keys %016llx", n, kd);
            if (digest[0] == '\0') {
                snprintf(digest, sizeof digest, "%s", dg);
            } else if (strcmp(digest, dg) != 0) {
                fprintf(stderr, "bench_conc: %s ran on other keys: %s, "
                        "others %s\n", impl, dg, digest);
                digest_bad = 1;
            }
        }
    }
    fclose(f);
    return 0;
}

static int t_used(int t)
{
    for (int c = 0; c < NCOLS; c++)
        if (reads[t][c][0] != NULL || reads[t][c][1] != NULL)
            return 1;
    return 0;
}

static void print_mops(double v)
{
    if (isnan(v))
        printf(" %9s", "-");
    else
        printf(" %9.2f", v / 1e6);
}

static void print_ratio(double a, double b)
{
    if (isnan(a) || isnan(b) || b == 0)
        printf(" %6s", "-");
    else
        printf(" %6.2f", a / b);
}

/* "a / b: best (median)" for one pair of cells. */
static void ratio_pair(const samples *a, const samples *b)
{
    print_ratio(bench_samples_max(a), bench_samples_max(b));
    printf(" (");
    print_ratio(bench_samples_median(a), bench_samples_median(b));
    printf(")");
}

static void print_t(int t)
{
    int runs = 0;
    for (int c = 0; c < NCOLS; c++)
        for (int wr = 0; wr < 2; wr++)
            if (reads[t][c][wr] != NULL && reads[t][c][wr]->n > runs)
                runs = reads[t][c][wr]->n;
    printf("\n==================== T = %d reader thread%s (%d run%s) "
           "====================\n", t, t == 1 ? "" : "s", runs,
           runs == 1 ? "" : "s");
    printf("%-22s| %-19s | %-19s | %-19s\n", "", "lookups M/s",
           "lookups M/s", "writer updates M/s");
    printf("%-22s| %-19s | %-19s | %-19s\n", "implementation",
           "no writer", "one writer", "");
    printf("%-22s| %9s %9s | %9s %9s | %9s %9s\n", "", "best", "median",
           "best", "median", "best", "median");
    for (int c = 0; c < NCOLS; c++) {
        if (reads[t][c][0] == NULL && reads[t][c][1] == NULL)
            continue;
        printf("%-22s|", col_label[c]);
        print_mops(bench_samples_max(reads[t][c][0]));
        print_mops(bench_samples_median(reads[t][c][0]));
        printf(" |");
        print_mops(bench_samples_max(reads[t][c][1]));
        print_mops(bench_samples_median(reads[t][c][1]));
        printf(" |");
        print_mops(bench_samples_max(writes[t][c]));
        print_mops(bench_samples_median(writes[t][c]));
        printf("\n");
    }
    if (reads[t][C_SNAPMAP][0] == NULL && reads[t][C_SNAPMAP][1] == NULL)
        return;
    printf("ratios, best (median):              no writer         one "
           "writer\n");
    printf("  snapmap / lfht lookups         ");
    ratio_pair(reads[t][C_SNAPMAP][0], reads[t][C_LFHT][0]);
    printf("  ");
    ratio_pair(reads[t][C_SNAPMAP][1], reads[t][C_LFHT][1]);
    printf("\n  snapmap / Go COW lookups       ");
    ratio_pair(reads[t][C_SNAPMAP][0], reads[t][C_GOCOW][0]);
    printf("  ");
    ratio_pair(reads[t][C_SNAPMAP][1], reads[t][C_GOCOW][1]);
    printf("\n  snapmap / Go COW writer updates                  ");
    ratio_pair(writes[t][C_SNAPMAP], writes[t][C_GOCOW]);
    if (writes[t][C_SNAPMAP1] != NULL) {
        printf("\n  snapmap, 1 queued / Go COW lookups                ");
        ratio_pair(reads[t][C_SNAPMAP1][1], reads[t][C_GOCOW][1]);
        printf("\n  snapmap, 1 queued / Go COW writer updates        ");
        ratio_pair(writes[t][C_SNAPMAP1], writes[t][C_GOCOW]);
    }
    printf("\n");
    for (int v = 0; v < 2; v++)
        if (snap_opv[t][v] != NULL)
            printf("%s with one writer: %.0f operations per published "
                   "version, writer waited for the flusher %.0f times per "
                   "run (medians)\n", col_label[v ? C_SNAPMAP1 : C_SNAPMAP],
                   bench_samples_median(snap_opv[t][v]),
                   bench_samples_median(snap_waits[t][v]));
    if (t != 2)
        return;
    /* The targets (T = 2, one writer), on the medians; shown, never
     * enforced. */
    double s = bench_samples_median(reads[t][C_SNAPMAP][1]), l = bench_samples_median(reads[t][C_LFHT][1]),
           g = bench_samples_median(reads[t][C_GOCOW][1]), sw = bench_samples_median(writes[t][C_SNAPMAP]),
           gw = bench_samples_median(writes[t][C_GOCOW]);
    printf("targets (T = 2, one writer, medians): snapmap lookups >= lfht: "
           "%s; >= Go COW: %s; snapmap writer >= 10x Go COW writer: %s\n",
           isnan(l) ? "n/a" : s >= l ? "met" : "NOT met",
           isnan(g) ? "n/a" : s >= g ? "met" : "NOT met",
           isnan(gw) ? "n/a" : sw >= 10 * gw ? "met" : "NOT met");
    /* The same with a version every 1000 updates exactly, as the COW
     * writer publishes (the default row coalesces up to 8 batches). */
    double s1 = bench_samples_median(reads[t][C_SNAPMAP1][1]),
           sw1 = bench_samples_median(writes[t][C_SNAPMAP1]);
    if (!isnan(s1))
        printf("targets, version every 1000 updates (snapmap, 1 queued): "
               "lookups >= lfht: %s; >= Go COW: %s; writer >= 10x Go COW "
               "writer: %s\n",
               isnan(l) ? "n/a" : s1 >= l ? "met" : "NOT met",
               isnan(g) ? "n/a" : s1 >= g ? "met" : "NOT met",
               isnan(gw) ? "n/a" : sw1 >= 10 * gw ? "met" : "NOT met");
}

/* Lookups/s with one writer by T, one column per implementation: the
 * scaling table (--scaling runs T = 1..nproc). */
static void print_scaling(void)
{
    int nt = 0;
    for (int t = 1; t <= MAX_T; t++)
        nt += t_used(t);
    if (nt < 2)
        return;
    printf("\n==================== scaling: lookups M/s (median) by reader "
           "threads ====================\n");
    for (int wr = 1; wr >= 0; wr--) {
        printf("%s\n%4s", wr ? "one writer:" : "no writer:", "T");
        for (int c = 0; c < NCOLS; c++)
            for (int t = 1; t <= MAX_T; t++)
                if (reads[t][c][wr] != NULL) {
                    printf(" %11.11s", col_label[c]);
                    break;
                }
        printf("\n");
        for (int t = 1; t <= MAX_T; t++) {
            if (!t_used(t))
                continue;
            printf("%4d", t);
            for (int c = 0; c < NCOLS; c++) {
                int used = 0;
                for (int u = 1; u <= MAX_T; u++)
                    used |= reads[u][c][wr] != NULL;
                if (!used)
                    continue;
                double v = bench_samples_median(reads[t][c][wr]);
                if (isnan(v))
                    printf(" %11s", "-");
                else
                    printf(" %11.2f", v / 1e6);
            }
            printf("\n");
        }
    }
}

static void print_percost(void)
{
    if (percost[P_MAP].n == 0 && percost[P_SNAP].n == 0)
        return;
    printf("\n==================== per-read cost, T = 1 (N = %zu, one "
           "thread, no writer; %d run(s)) ====================\n",
           percost_n, percost[P_MAP].n);
    printf("%-40s %9s %9s\n", "ns per lookup", "best", "median");
    printf("%-40s %9.2f %9.2f\n", "plain gort_map (single-threaded)",
           bench_samples_min(&percost[P_MAP]), bench_samples_median(&percost[P_MAP]));
    if (percost[P_SNAP].n == 0)
        return;
    printf("%-40s %9.2f %9.2f\n", "gort_snapmap (view per lookup)",
           bench_samples_min(&percost[P_SNAP]), bench_samples_median(&percost[P_SNAP]));
    /* Judged on the rounds' own ratios: each round runs the two loops
     * back to back, so a round's ratio sees the same machine state; a
     * ratio of medians over rounds mixes states that differ by 5x here. */
    samples paired = {0};
    int np = percost[P_SNAP].n < percost[P_MAP].n ? percost[P_SNAP].n
                                                  : percost[P_MAP].n;
    for (int i = 0; i < np; i++)
        bench_samples_add(&paired, percost[P_SNAP].v[i] / percost[P_MAP].v[i]);
    double rb = bench_samples_min(&paired), rm = bench_samples_median(&paired);
    printf("%-40s %9.2f %9.2f   target <= 1.2: %s\n",
           "ratio snapmap / map, paired by round", rb, rm,
           rm <= 1.2 ? "met" : "NOT met");
    if (percost[P_SNAPONE].n == 0)
        return;
    printf("%-40s %9.2f %9.2f\n", "gort_snapmap (one view, all lookups)",
           bench_samples_min(&percost[P_SNAPONE]), bench_samples_median(&percost[P_SNAPONE]));
    printf("%-40s %9.2f %9.2f\n", "ratio one view / map",
           bench_samples_min(&percost[P_SNAPONE]) / bench_samples_min(&percost[P_MAP]),
           bench_samples_median(&percost[P_SNAPONE]) / bench_samples_median(&percost[P_MAP]));
}

static void print_flush(void)
{
    if (nflush_n == 0)
        return;
    printf("\n==================== publishing a %d-op batch, one thread, no "
           "readers (us) ====================\n", CONC_BATCH);
    printf("%-28s", "");
    for (int i = 0; i < nflush_n; i++)
        printf(" %9s=%-9zu", "N", flush_ns_n[i]);
    printf("  last/first N\n%-28s", "best, median");
    for (int i = 0; i < nflush_n; i++)
        printf(" %9s %9s", "best", "median");
    printf("  (medians)\n");
    for (int k = 0; k < NF; k++) {
        int any = 0;
        for (int i = 0; i < nflush_n; i++)
            any |= flushes[k][i].n != 0;
        if (!any)
            continue;
        printf("%-28s", flush_label[k]);
        for (int i = 0; i < nflush_n; i++) {
            if (flushes[k][i].n == 0)
                printf(" %9s %9s", "-", "-");
            else
                printf(" %9.1f %9.1f", bench_samples_min(&flushes[k][i]) / 1e3,
                       bench_samples_median(&flushes[k][i]) / 1e3);
        }
        if (nflush_n >= 2)
            print_ratio(bench_samples_median(&flushes[k][nflush_n - 1]),
                        bench_samples_median(&flushes[k][0]));
        printf("\n");
    }
}

static int print_tables(const char *path)
{
    if (read_results(path) != 0)
        return 1;
    printf("gort concurrent read-mostly map benchmark (WORKLOAD.md): %s\n",
           digest[0] ? digest : "no runs");
    printf("lookups/s summed over the readers; one process per "
           "implementation, T and writer setting, interleaved rounds; "
           "best = fastest round, '-' = not measured\n");
    for (int t = 1; t <= MAX_T; t++)
        if (t_used(t))
            print_t(t);
    print_scaling();
    print_percost();
    print_flush();
    if (digest_bad) {
        fprintf(stderr, "bench_conc: implementations ran on different "
                "keys (see above)\n");
        return 1;
    }
    return 0;
}

/* ===================================================================
 * main
 * =================================================================== */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_conc --impl NAME [--threads T] [--writer] "
            "[--seconds S] [--n N]\n"
            "       bench_conc --percost [--n N] [--lookups L] [--rounds R]\n"
            "       bench_conc --flush [--n N] [--reps R]\n"
            "       bench_conc --list\n"
            "       bench_conc --table FILE\n");
}

int main(int argc, char **argv)
{
    const char *impl = NULL, *table = NULL;
    size_t n = CONC_N;
    int threads = 1, writer = 0, mode_percost = 0, mode_flush = 0;
    int rounds = 3, reps = 20;
    double seconds = 1.0;
    uint64_t lookups = 10000000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--impl") == 0 && v) {
            impl = v;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            threads = atoi(v);
            i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            seconds = atof(v);
            i++;
        } else if (strcmp(a, "--n") == 0 && v) {
            n = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--lookups") == 0 && v) {
            lookups = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--rounds") == 0 && v) {
            rounds = atoi(v);
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            reps = atoi(v);
            i++;
        } else if (strcmp(a, "--table") == 0 && v) {
            table = v;
            i++;
        } else if (strcmp(a, "--writer") == 0) {
            writer = 1;
        } else if (strcmp(a, "--percost") == 0) {
            mode_percost = 1;
        } else if (strcmp(a, "--flush") == 0) {
            mode_flush = 1;
        } else if (strcmp(a, "--list") == 0) {
            for (int k = 0; k < NIMPLS; k++)
                printf("%s %s\n", impls[k]->name, impls[k]->label);
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (table != NULL)
        return print_tables(table);
    if (n < 2 || n > CONC_MAX_N) {
        fprintf(stderr, "bench_conc: --n must be 2..%d\n", CONC_MAX_N);
        return 2;
    }
    if (mode_percost)
        return conc_percost(n, lookups, rounds < 1 ? 1 : rounds);
    if (mode_flush)
        return conc_flush(n, reps < 1 ? 1 : reps);
    if (impl == NULL || threads < 1 || threads > MAX_T ||
        !(seconds > 0 && seconds < 3600)) {
        usage();
        return 2;
    }
    return run_one(impl, threads, writer, seconds, n);
}
