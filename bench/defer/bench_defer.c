/*
 * bench_defer.c - the defer/panic benchmark driver (WORKLOAD.md, "Defer /
 * panic"): ns per call of
 *
 *   defer1   a non-inlined function with one deferred call that increments
 *            a counter;
 *   defer8   the same with eight deferred calls;
 *   loop4    a defer registered inside a loop of 4 iterations;
 *   panic1   panic + recover, recovered one frame up;
 *   panic10  recovered ten frames up, one deferred call in each frame;
 *   panic1e  panic1 with a static error value instead of a formatted
 *            string (isolates gort_panic's vsnprintf);
 *
 * for gort (cases_gort.c), gort with libc's _setjmp as resume point (the
 * same file built with -DGORT_RESUME_LIBC), the cleanup attribute
 * (cases_cleanup.c) and C++ (cases_cxx.cpp); the Go 1.19 peer
 * (bench/peers/go/defer) prints the same lines for Go.  Each case has a
 * baseline, the same non-inlined functions without defer or panic doing
 * the same calls to bench_incr(), timed the same way and subtracted.
 *
 * Method: every measurement calls the case through a function pointer in
 * a loop, doubling the iteration count until one timed loop lasts at least
 * --min-ms (50 ms) by CLOCK_MONOTONIC; its time per call is the result.
 * The counter the deferred calls increment is checked after every loop
 * (the checksum): a wrong count is a failure, a slow time never is.
 *
 * Modes:
 *   bench_defer [--min-ms N] [--no-prims] [--cases defer1,panic1,...]
 *       one run (of the listed cases): prints "R <impl> <case> <ns> <iters> <checksum>" lines
 *       and "P <prim> <ns> <iters>" lines for the primitives (prims.c);
 *   bench_defer --fixed N --only IMPL:CASE
 *       N calls of one case, untimed, for callgrind/perf;
 *   bench_defer --table FILE
 *       merges the R/P lines of many runs (of this program and of the Go
 *       peer) into the tables run-defer.sh prints: fastest of the runs
 *       (the least disturbed on a noisy machine) and the median.
 *
 * This program never fails because of a timing.
 */
#include "bench_defer.h"
#include "bench_samples.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ===================================================================
 * The deferred call and the baseline
 * =================================================================== */

BENCH_NOINLINE void bench_incr(void *c)
{
    ++*(uint64_t *)c;
}

BENCH_NOINLINE static void base1(uint64_t *c)
{
    bench_incr(c);
}

BENCH_NOINLINE static void base8(uint64_t *c)
{
    bench_incr(c);
    bench_incr(c);
    bench_incr(c);
    bench_incr(c);
    bench_incr(c);
    bench_incr(c);
    bench_incr(c);
    bench_incr(c);
}

BENCH_NOINLINE static void base_loop4(uint64_t *c)
{
    for (int i = 0; i < 4; i++)
        bench_incr(c);
}

/* What panic1 does without the panic: a call one frame down that returns. */
BENCH_NOINLINE static void base_thrower(uint64_t *c)
{
    bench_incr(c);
}

BENCH_NOINLINE static void base_panic1(uint64_t *c)
{
    base_thrower(c);
}

BENCH_NOINLINE static void base_level(int n, uint64_t *c)
{
    if (n != 0)
        base_level(n - 1, c);
    bench_incr(c);
}

BENCH_NOINLINE static void base_panic10(uint64_t *c)
{
    base_level(9, c);
    bench_incr(c);
}

const bench_impl bench_impl_cbase = {
    "cbase",
    {
        [BENCH_DEFER1] = base1,
        [BENCH_DEFER8] = base8,
        [BENCH_LOOP4] = base_loop4,
        [BENCH_PANIC1] = base_panic1,
        [BENCH_PANIC10] = base_panic10,
        [BENCH_PANIC1E] = base_panic1,
    },
};

/* ===================================================================
 * Cases and implementations
 * =================================================================== */

static const struct {
    const char *key;   /* in the R lines */
    const char *label; /* in the table */
    uint64_t per_call; /* counter increments per call */
} cases[BENCH_NCASES] = {
    [BENCH_DEFER1] = {"defer1", "defer x1", 1},
    [BENCH_DEFER8] = {"defer8", "defer x8", 8},
    [BENCH_LOOP4] = {"loop4", "defer in loop x4", 4},
    [BENCH_PANIC1] = {"panic1", "panic+recover, 1 up", 1},
    [BENCH_PANIC10] = {"panic10", "panic+recover, 10 up", 11},
    [BENCH_PANIC1E] = {"panic1e", "panic(err), 1 up", 1},
};

/* Implementations measured in this process, in column order. */
static const bench_impl *const impls[] = {
    &bench_impl_cbase, &bench_impl_gort, &bench_impl_gortlibc,
    &bench_impl_cleanup, &bench_impl_cxx,
};
enum { NIMPLS = sizeof impls / sizeof impls[0] };

/* ===================================================================
 * Timing
 * =================================================================== */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t checksum_total;

static void checksum_fail(const char *what, uint64_t got, uint64_t want)
{
    fprintf(stderr,
            "bench_defer: checksum mismatch in %s: counter %llu, expected "
            "%llu\n",
            what, (unsigned long long)got, (unsigned long long)want);
    exit(1);
}

/* Times fn until one loop lasts min_ns; returns ns per call. */
static double measure(const char *what, void (*fn)(uint64_t *),
                      uint64_t per_call, double min_ns, uint64_t *iters_out,
                      uint64_t *sum_out)
{
    uint64_t iters = 64;
    for (;;) {
        uint64_t counter = 0;
        double t0 = now_ns();
        for (uint64_t i = 0; i < iters; i++)
            fn(&counter);
        double el = now_ns() - t0;
        if (counter != iters * per_call)
            checksum_fail(what, counter, iters * per_call);
        checksum_total += counter;
        if (el >= min_ns) {
            *iters_out = iters;
            *sum_out = counter;
            return el / (double)iters;
        }
        /* Aim at 1.2x the minimum, at most 16x more per step. */
        double want = el > 0 ? (double)iters * min_ns * 1.2 / el : 16.0 * iters;
        if (want > 16.0 * (double)iters)
            want = 16.0 * (double)iters;
        if (want < 2.0 * (double)iters)
            want = 2.0 * (double)iters;
        iters = (uint64_t)want;
    }
}

/* Whether key is in the comma-separated list (NULL: everything). */
static int selected(const char *list, const char *key)
{
    if (list == NULL)
        return 1;
    size_t n = strlen(key);
    for (const char *p = list; *p != '\0';) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, key, n) == 0)
            return 1;
        p += len + (e != NULL);
    }
    return 0;
}

static int run_all(double min_ms, int prims, const char *case_list)
{
    double min_ns = min_ms * 1e6;
    char what[64];
    uint64_t iters, sum;
    for (int c = 0; c < BENCH_NCASES; c++) {
        if (!selected(case_list, cases[c].key))
            continue;
        for (int i = 0; i < NIMPLS; i++) {
            bench_case_fn fn = impls[i]->fn[c];
            if (fn == NULL)
                continue;
            snprintf(what, sizeof what, "%s:%s", impls[i]->name, cases[c].key);
            double ns =
                measure(what, fn, cases[c].per_call, min_ns, &iters, &sum);
            printf("R %s %s %.3f %llu %llu\n", impls[i]->name, cases[c].key,
                   ns, (unsigned long long)iters, (unsigned long long)sum);
            fflush(stdout);
        }
    }
    if (prims) {
        for (int p = 0; p < bench_nprims; p++) {
            double ns = measure(bench_prims[p].name, bench_prims[p].fn, 1,
                                min_ns, &iters, &sum);
            printf("P %s %.3f %llu\n", bench_prims[p].name, ns,
                   (unsigned long long)iters);
            fflush(stdout);
        }
    }
    printf("C checksum %llu ok\n", (unsigned long long)checksum_total);
    return 0;
}

/* --fixed N --only IMPL:CASE: untimed, for callgrind and perf. */
static int run_fixed(const char *only, uint64_t n)
{
    char impl[32];
    const char *colon = strchr(only, ':');
    if (colon == NULL || (size_t)(colon - only) >= sizeof impl) {
        fprintf(stderr, "bench_defer: --only wants IMPL:CASE\n");
        return 2;
    }
    memcpy(impl, only, (size_t)(colon - only));
    impl[colon - only] = '\0';
    for (int i = 0; i < NIMPLS; i++) {
        if (strcmp(impls[i]->name, impl) != 0)
            continue;
        for (int c = 0; c < BENCH_NCASES; c++) {
            if (strcmp(cases[c].key, colon + 1) != 0 || impls[i]->fn[c] == NULL)
                continue;
            uint64_t counter = 0;
            for (uint64_t k = 0; k < n; k++)
                impls[i]->fn[c](&counter);
            if (counter != n * cases[c].per_call)
                checksum_fail(only, counter, n * cases[c].per_call);
            printf("%s: %llu calls, checksum %llu ok\n", only,
                   (unsigned long long)n, (unsigned long long)counter);
            return 0;
        }
    }
    for (int p = 0; p < bench_nprims; p++) {
        if (strcmp(impl, "prim") != 0 || strcmp(bench_prims[p].name, colon + 1) != 0)
            continue;
        uint64_t counter = 0;
        for (uint64_t k = 0; k < n; k++)
            bench_prims[p].fn(&counter);
        printf("%s: %llu calls, checksum %llu ok\n", only,
               (unsigned long long)n, (unsigned long long)counter);
        return 0;
    }
    fprintf(stderr, "bench_defer: no such IMPL:CASE '%s'\n", only);
    return 2;
}

/* ===================================================================
 * --table: merging the runs
 * =================================================================== */

/* Table columns: this process's implementations, then Go's. */
enum { COL_CBASE, COL_GORT, COL_GORTLIBC, COL_CLEANUP, COL_CXX, COL_GOBASE,
       COL_GO, NCOLS };
static const char *const col_key[NCOLS] = {
    "cbase", "gort", "gortlibc", "cleanup", "cxx", "gobase", "go"};

typedef bench_samples samples; /* bench/common/bench_samples.h */

static samples results[BENCH_NCASES][NCOLS];

typedef struct prim_samples {
    char name[64];  /* prim key; "" when unused */
    samples s;
} prim_samples;
static prim_samples prim_results[32];

static int read_results(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bench_defer: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512], impl[64], key[64];
    double ns;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "R %63s %63s %lf", impl, key, &ns) == 3) {
            for (int c = 0; c < BENCH_NCASES; c++)
                for (int k = 0; k < NCOLS; k++)
                    if (strcmp(cases[c].key, key) == 0 &&
                        strcmp(col_key[k], impl) == 0)
                        bench_samples_add(&results[c][k], ns);
        } else if (sscanf(line, "P %63s %lf", key, &ns) == 2) {
            for (size_t p = 0; p < sizeof prim_results / sizeof prim_results[0]; p++) {
                if (prim_results[p].name[0] == '\0')
                    snprintf(prim_results[p].name, sizeof prim_results[p].name,
                             "%s", key);
                if (strcmp(prim_results[p].name, key) == 0) {
                    bench_samples_add(&prim_results[p].s, ns);
                    break;
                }
            }
        }
    }
    fclose(f);
    return 0;
}

typedef double (*stat_fn)(const samples *);

/* Value of a cell: gross, or net of the column's baseline. */
static double cell(int c, int k, stat_fn stat, int net)
{
    double v = stat(&results[c][k]);
    if (!net || k == COL_CBASE || k == COL_GOBASE)
        return v;
    return v - stat(&results[c][k == COL_GO ? COL_GOBASE : COL_CBASE]);
}

static void put_num(double v, int width)
{
    if (isnan(v))
        printf(" %*s", width, "-");
    else
        printf(" %*.2f", width, v);
}

/* Ratio a/b, or "n/a" when b is below 0.5 ns: a ratio to (nearly) nothing
 * means nothing (use the difference column). */
static void put_ratio(double a, double b, int width)
{
    if (isnan(a) || isnan(b) || b < 0.5)
        printf(" %*s", width, isnan(a) || isnan(b) ? "-" : "n/a");
    else
        printf(" %*.2f", width, a / b);
}

static void print_table(const char *title, stat_fn stat, int net)
{
    printf("\n%s\n", title);
    printf("%-22s %7s %7s %9s %7s %7s %7s %7s %7s %7s %8s\n", "case", "C base",
           "gort", "gort-libc", "cleanup", "C++", "Go base", "Go", "gort/Go",
           "gort/cln", "gort-cln");
    for (int c = 0; c < BENCH_NCASES; c++) {
        printf("%-22s", cases[c].label);
        static const int w[NCOLS] = {7, 7, 9, 7, 7, 7, 7};
        for (int k = 0; k < NCOLS; k++)
            put_num(cell(c, k, stat, net), w[k]);
        double g = cell(c, COL_GORT, stat, net);
        double go = cell(c, COL_GO, stat, net);
        double cl = cell(c, COL_CLEANUP, stat, net);
        put_ratio(g, go, 7);
        put_ratio(g, cl, 8);
        put_num(g - cl, 8);
        printf("\n");
    }
}

/* Reports one target of the issue: met or not, on the fastest and on the
 * median figures.  Never fails: timings are information. */
static void target(const char *what, int c, int col, double slack)
{
    double gf = cell(c, COL_GORT, bench_samples_min, 1), pf = cell(c, col, bench_samples_min, 1);
    double gm = cell(c, COL_GORT, bench_samples_median, 1), pm = cell(c, col, bench_samples_median, 1);
    if (isnan(gf) || isnan(pf)) {
        printf("  %-52s n/a (peer not measured)\n", what);
        return;
    }
    int mf = gf <= pf + slack, mm = gm <= pm + slack;
    printf("  %-52s %s  (fastest: gort %.2f vs %.2f ns; median: %.2f vs "
           "%.2f ns%s)\n",
           what, mf ? "MET   " : "MISSED", gf, pf, gm, pm,
           mf == mm ? "" : mm ? "; met on median" : "; missed on median");
}

static int print_tables(const char *path)
{
    if (read_results(path) != 0)
        return 1;
    int runs = results[BENCH_DEFER1][COL_GORT].n;
    int goruns = results[BENCH_DEFER1][COL_GO].n;
    printf("gort defer/panic benchmark: ns per call, %d run(s) of the C "
           "driver and %d of the Go peer, interleaved\n",
           runs, goruns);
    printf("net = time per call minus the baseline (the same non-inlined "
           "function without defer/panic;\n      C base for gort, cleanup, "
           "C++; Go base for Go); gort/cln = gort/cleanup, gort-cln in ns\n");
    print_table("Net ns/call, fastest run (the least disturbed):", bench_samples_min, 1);
    print_table("Net ns/call, median run:", bench_samples_median, 1);
    print_table("Gross ns/call (baseline included), fastest run:", bench_samples_min, 0);

    printf("\nTargets (issue; informational, never a failure):\n");
    target("defer x1: gort <= Go open-coded defer", BENCH_DEFER1, COL_GO, 0);
    target("defer x1: gort within 2 ns of cleanup attribute", BENCH_DEFER1,
           COL_CLEANUP, 2.0);
    target("defer x8: gort <= Go", BENCH_DEFER8, COL_GO, 0);
    target("panic+recover 1 frame up: gort <= Go", BENCH_PANIC1, COL_GO, 0);
    target("panic+recover 10 frames up: gort <= Go", BENCH_PANIC10, COL_GO, 0);
    target("panic(err)+recover 1 frame up: gort <= Go", BENCH_PANIC1E, COL_GO, 0);

    int any = 0;
    for (size_t p = 0; p < sizeof prim_results / sizeof prim_results[0]; p++) {
        if (prim_results[p].name[0] == '\0')
            continue;
        if (!any)
            printf("\nPrimitives (ns/call, loop and call included):\n"
                   "  %-16s %8s %8s  %s\n", "name", "fastest", "median",
                   "what");
        any = 1;
        const char *what = "";
        for (int q = 0; q < bench_nprims; q++)
            if (strcmp(bench_prims[q].name, prim_results[p].name) == 0)
                what = bench_prims[q].what;
        printf("  %-16s %8.2f %8.2f  %s\n", prim_results[p].name,
               bench_samples_min(&prim_results[p].s), bench_samples_median(&prim_results[p].s), what);
    }
    return 0;
}

/* ===================================================================
 * main
 * =================================================================== */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_defer [--min-ms N] [--no-prims] [--cases C1,C2...]\n"
            "       bench_defer --fixed N --only IMPL:CASE   (IMPL prim for "
            "primitives)\n"
            "       bench_defer --table FILE\n");
}

int main(int argc, char **argv)
{
    double min_ms = 50;
    int prims = 1;
    const char *only = NULL, *table = NULL, *case_list = NULL;
    uint64_t fixed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-ms") == 0 && i + 1 < argc) {
            min_ms = atof(argv[++i]);
        } else if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc) {
            case_list = argv[++i];
        } else if (strcmp(argv[i], "--no-prims") == 0) {
            prims = 0;
        } else if (strcmp(argv[i], "--fixed") == 0 && i + 1 < argc) {
            fixed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            table = argv[++i];
        } else {
            usage();
            return 2;
        }
    }
    if (table != NULL)
        return print_tables(table);
    if (only != NULL)
        return run_fixed(only, fixed != 0 ? fixed : 1000000);
    if (min_ms <= 0) {
        usage();
        return 2;
    }
    return run_all(min_ms, prims, case_list);
}
