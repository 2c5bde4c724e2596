/*
 * bench_map.c - the map benchmark driver (WORKLOAD.md, "Map phases"):
 * for one implementation and one N per process,
 *
 *   insert       N inserts in perm order into a map made without a hint,
 *   insert+hint  the same into a map made with hint N,
 *   lookup-hit   10,000,000 lookups cycling through perm,
 *   lookup-miss  10,000,000 lookups of key N + (q mod N),
 *   iterate      whole-map passes summing values until 10,000,000 entries
 *                are visited (ns per entry),
 *   delete       the N keys in perm order,
 *   memory       heap in use after the inserts minus before the map was
 *                made (glibc mallinfo2 uordblks + hblkhd), over N; the
 *                pre-generated keys are not counted, key copies are;
 *                glibc's per-thread cache (tcache) of freed chunks counts
 *                as in use there, so --mem-only measures the same in a
 *                process of its own, which the runner starts with those
 *                caches off: the live bytes, Go's HeapAlloc after a GC;
 *
 * in ns per operation, for the implementations compiled in (phases.h does
 * the timing; cases_*.c{,pp} are the maps).  The Go 1.19 peer
 * (bench/peers/go/map) prints the same lines for map[string]int64.
 *
 * Each process runs one implementation at one N, so that one map's heap
 * cannot disturb another's memory figure or its allocator state; the
 * runner (bench/run-map.sh) starts them interleaved, several rounds.
 *
 * Checksums: every phase's checksum (sum of the values found, entries
 * inserted or deleted) is checked here against the value computed from
 * the workload; a mismatch exits with status 1 before any result line is
 * printed.  The key and permutation digests (D lines) let --table check
 * that every implementation, C or Go, ran on the same keys.  Timings never
 * fail anything.
 *
 * Modes:
 *   bench_map --impl NAME --n N [--reps-ops K] [--copy-keys]
 *             [--lookups L] [--iter-entries E] [--label KEY]
 *       one run: "R <impl> <n> <phase> <value> <ops> <checksum>" lines;
 *       --label prints KEY instead of NAME in the D and R lines, so the
 *       same implementation run under other conditions has a column of
 *       its own: run-map.sh runs gortref with GORTDEBUG=mapstrict=1 as
 *       "refstrict" (column ref-strict);
 *   bench_map --impl NAME --n N --mem-only [--label KEY]
 *       only the memory figure: warm-up, one map made without a hint, the
 *       N keys inserted once (generated as above), heap delta over N
 *       printed as row "memlive" (checksum: the map's length, checked),
 *       the map freed; no other phase.  run-map.sh runs it with
 *       GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0,
 *       so that no freed chunk is counted as in use;
 *   bench_map --floor ROUNDS --n N [--lookups L]
 *       what share of a lookup-hit is gort's map (floor.c): its hit loop
 *       against the same loop without a map, with one random line, and
 *       with a bare 208-byte bucket access; "L <loop> <n> <ns>" lines;
 *   bench_map --list
 *       the implementations compiled in: "<name> <label>" lines;
 *   bench_map --table FILE
 *       merges the R lines of many runs (this program's and the Go
 *       peer's) into one table per N: fastest and median, ratios, targets.
 */
#include "bench_map.h"
#include "bench_samples.h"
#include "bench_workload.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* ===================================================================
 * Implementations compiled in
 * =================================================================== */

extern const bench_map_impl bench_impl_absl, bench_impl_boost,
    bench_impl_glib, bench_impl_uthash;
#ifdef BENCH_MAP_HAVE_GORT
extern const bench_map_impl bench_impl_gortref, bench_impl_gortstr;
#endif
#ifdef BENCH_MAP_HAVE_NOCHECK
extern const bench_map_impl bench_impl_gortref_nochk,
    bench_impl_gortstr_nochk;
#endif

static const bench_map_impl *const impls[] = {
#ifdef BENCH_MAP_HAVE_GORT
    &bench_impl_gortref, &bench_impl_gortstr,
#endif
#ifdef BENCH_MAP_HAVE_NOCHECK
    &bench_impl_gortref_nochk, &bench_impl_gortstr_nochk,
#endif
#ifdef BENCH_MAP_HAVE_ABSL
    &bench_impl_absl,
#endif
#ifdef BENCH_MAP_HAVE_BOOST
    &bench_impl_boost,
#endif
#ifdef BENCH_MAP_HAVE_GLIB
    &bench_impl_glib,
#endif
#ifdef BENCH_MAP_HAVE_UTHASH
    &bench_impl_uthash,
#endif
    NULL, /* so the array is never empty */
};
enum { NIMPLS = sizeof impls / sizeof impls[0] - 1 };

/* ===================================================================
 * Clock and heap
 * =================================================================== */

double bench_now_ns(void)
{
    return bench_clock_ns();
}

size_t bench_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* How much of the process sits in transparent huge pages.  Go's runtime
 * asks for them on its heap (madvise MADV_HUGEPAGE); glibc's malloc does
 * only with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (run-map.sh --thp).  On
 * a VM, where a TLB miss walks two page tables, it changes the large-N
 * lookups by tens of percent, so the table shows it. */
double bench_thp_mb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (f == NULL)
        return NAN;
    char line[256];
    double kb = NAN;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "AnonHugePages: %lf kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024;
}

/* ===================================================================
 * The workload generator (WORKLOAD.md "Generator")
 * =================================================================== */

/* The workload's own arrays (key headers, perm): every C/C++ map is
 * measured with them in transparent huge pages, as Go's []string and
 * []int are (large allocations of Go's huge-paged heap).  The key bytes
 * are not: Go 1.19 allocates each string in a small-object span and
 * asks for huge pages only for whole 2 MiB runs of one span (mheap.go,
 * sysUsedOS), so its key bytes stay in small pages, and so do these
 * (make_keys).  Advice on the 2 MiB-aligned interior of the block, as
 * gort does for its bucket arrays; the same for every C/C++
 * implementation, and nothing changes where THP is "never". */
static void *xmalloc_workload(size_t n)
{
    void *p = bench_xmalloc(n);
    uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    return p;
}

/* Writes key i (16..32 bytes) at out; returns its length. */
static size_t make_key(uint64_t i, char *out)
{
    static const char hex[] = "0123456789abcdef";
    static const char tail[] = "abcdefghijklmnopq"; /* 17 letters */
    uint64_t h = bench_mix64(i ^ 0x5EED);
    for (int d = 0; d < 16; d++)
        out[d] = hex[(h >> (60 - 4 * d)) & 15];
    size_t extra = (size_t)(bench_mix64(i + 0x1000000) % 17);
    for (size_t e = 0; e < extra; e++)
        out[16 + e] = tail[(i + e) % 17];
    return 16 + extra;
}

/* 2n keys in one arena, each NUL-terminated. */
static bench_key *make_keys(size_t n)
{
    bench_key *keys = xmalloc_workload(2 * n * sizeof *keys);
    char *arena = bench_xmalloc(2 * n * 33); /* small pages, as Go's */
    char *p = arena;
    for (size_t i = 0; i < 2 * n; i++) {
        size_t len = make_key(i, p);
        p[len] = '\0';
        keys[i].p = p;
        keys[i].len = len;
        p += len + 1;
    }
    return keys;
}

/* The same keys at other addresses (--copy-keys). */
static bench_key *copy_keys(const bench_key *keys, size_t n)
{
    bench_key *copy = xmalloc_workload(2 * n * sizeof *copy);
    char *arena = xmalloc_workload(2 * n * 33);
    char *p = arena;
    for (size_t i = 0; i < 2 * n; i++) {
        memcpy(p, keys[i].p, keys[i].len + 1);
        copy[i].p = p;
        copy[i].len = keys[i].len;
        p += keys[i].len + 1;
    }
    return copy;
}

static uint32_t *make_perm(size_t n)
{
    uint32_t *perm = xmalloc_workload(n * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    uint64_t state = 42;
    for (size_t i = n - 1; i >= 1; i--) {
        size_t j = (size_t)(bench_splitmix64(&state) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

/* FNV-1a 64, to compare workloads across programs (D lines). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ULL;
    return h;
}

static uint64_t keys_digest(const bench_key *keys, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < 2 * n; i++)
        h = fnv(h, keys[i].p, keys[i].len + 1); /* NUL separates keys */
    return h;
}

static uint64_t perm_digest(const uint32_t *perm, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char le[4] = {(unsigned char)perm[i],
                               (unsigned char)(perm[i] >> 8),
                               (unsigned char)(perm[i] >> 16),
                               (unsigned char)(perm[i] >> 24)};
        h = fnv(h, le, 4);
    }
    return h;
}

/* ===================================================================
 * One run
 * =================================================================== */

static const char *const phase_key[PH_NTIMED] = {
    "insert", "insert_hint", "hit", "miss", "iter", "delete"};

static const bench_map_impl *find_impl(const char *name)
{
    for (int i = 0; i < NIMPLS; i++)
        if (strcmp(impls[i]->name, name) == 0)
            return impls[i];
    fprintf(stderr, "bench_map: no implementation '%s' (--list)\n", name);
    return NULL;
}

/* The keys and perm of n, as run_one makes them, lookups with the
 * inserted keys, every phase once. */
static void make_work(bench_work *w, size_t n)
{
    memset(w, 0, sizeof *w);
    bench_key *keys = make_keys(n);
    w->n = n;
    w->keys = keys;
    w->lkeys = keys;
    w->perm = make_perm(n);
    w->reps = 1;
}

#ifdef BENCH_MAP_HAVE_GORT
/* --floor: the workload, then floor.c's loops. */
static int run_floor(size_t n, size_t lookups, int rounds)
{
    bench_work w;
    make_work(&w, n);
    w.lookups = lookups;
    printf("D floor %zu keys %016llx perm %016llx\n", n,
           (unsigned long long)keys_digest(w.keys, n),
           (unsigned long long)perm_digest(w.perm, n));
    return bench_floor(&w, rounds);
}
#endif

/* --mem-only: the keys and perm exactly as run_one makes them, then only
 * the memory figure (impl->mem).  The heap delta is measured by the same
 * code as run_one's "mem" row; what differs is the allocator's
 * configuration the runner starts this process with (no tcache, no
 * fastbins), hence the other row key. */
static int run_mem(const char *name, const char *label, size_t n)
{
    const bench_map_impl *impl = find_impl(name);
    if (impl == NULL)
        return 2;

    bench_work w;
    make_work(&w, n);
    const bench_key *keys = w.keys;

    bench_result r;
    memset(&r, 0, sizeof r);
    impl->mem(&w, &r);
    if (r.sum[PH_INSERT] != (int64_t)n) {
        fprintf(stderr, "bench_map: %s n=%zu memlive: map length %lld, "
                "expected %zu\n", name, n, (long long)r.sum[PH_INSERT], n);
        return 1;
    }
    printf("D %s %zu keys %016llx perm %016llx\n", label, n,
           (unsigned long long)keys_digest(keys, n),
           (unsigned long long)perm_digest(w.perm, n));
    printf("R %s %zu memlive %.3f %zu %lld\n", label, n, r.bytes_per_entry,
           n, (long long)r.sum[PH_INSERT]);
    fflush(stdout);
    return 0;
}

static int run_one(const char *name, const char *label, size_t n,
                   size_t reps_ops, int copy, size_t lookups,
                   size_t iter_entries)
{
    const bench_map_impl *impl = find_impl(name);
    if (impl == NULL)
        return 2;

    bench_work w;
    bench_key *keys = make_keys(n);
    w.n = n;
    w.keys = keys;
    w.lkeys = copy ? copy_keys(keys, n) : keys;
    w.perm = make_perm(n);
    w.reps = reps_ops / n != 0 ? reps_ops / n : 1;
    w.lookups = lookups;
    w.iter_entries = iter_entries;

    /* Expected checksums. */
    int64_t tri = (int64_t)n * ((int64_t)n - 1) / 2; /* 0 + 1 + ... + n-1 */
    int64_t hit = (int64_t)(lookups / n) * tri;
    for (size_t i = 0; i < lookups % n; i++)
        hit += w.perm[i];
    size_t passes = (iter_entries + n - 1) / n;
    int64_t want[PH_NTIMED] = {
        [PH_INSERT] = (int64_t)n,   [PH_INSERT_HINT] = (int64_t)n,
        [PH_HIT] = hit,             [PH_MISS] = 0,
        [PH_ITER] = (int64_t)passes * tri, [PH_DELETE] = (int64_t)n,
    };

    bench_result r;
    memset(&r, 0, sizeof r);
    impl->run(&w, &r);

    int bad = 0;
    for (int p = 0; p < PH_NTIMED; p++) {
        if (isnan(r.ns[p]))
            continue;
        if (r.sum[p] != want[p]) {
            fprintf(stderr,
                    "bench_map: %s n=%zu %s: checksum %lld, expected %lld\n",
                    name, n, phase_key[p], (long long)r.sum[p],
                    (long long)want[p]);
            bad = 1;
        }
    }
    if (r.ops[PH_ITER] != passes * n) {
        fprintf(stderr, "bench_map: %s n=%zu iter: %llu entries visited, "
                "expected %llu\n", name, n,
                (unsigned long long)r.ops[PH_ITER],
                (unsigned long long)(passes * n));
        bad = 1;
    }
    if (bad)
        return 1;

    printf("D %s %zu keys %016llx perm %016llx\n", label, n,
           (unsigned long long)keys_digest(keys, n),
           (unsigned long long)perm_digest(w.perm, n));
    for (int p = 0; p < PH_NTIMED; p++)
        if (!isnan(r.ns[p]))
            printf("R %s %zu %s %.3f %llu %lld\n", label, n, phase_key[p],
                   r.ns[p], (unsigned long long)r.ops[p],
                   (long long)r.sum[p]);
    printf("R %s %zu mem %.3f 0 0\n", label, n, r.bytes_per_entry);
    if (!isnan(r.keycopy_per_entry))
        printf("R %s %zu keycopy %.3f 0 0\n", label, n, r.keycopy_per_entry);
    if (!isnan(r.own_per_entry))
        printf("R %s %zu own %.3f 0 0\n", label, n, r.own_per_entry);
    if (!isnan(r.thp_mb))
        printf("R %s %zu thp %.1f 0 0\n", label, n, r.thp_mb);
    fflush(stdout);
    return 0;
}

/* ===================================================================
 * --table: merging the runs
 * =================================================================== */

enum { MAX_SIZES = 8 };

/* Table rows: the timed phases, then bytes.  Two heap figures per C/C++
 * map: "memlive" (bench_map --mem-only, run with glibc's tcache and
 * fastbins off: freed chunks are not counted, the analogue of Go's
 * HeapAlloc after runtime.GC()) and "mem" (mallinfo2 in the full run,
 * counting the freed chunks glibc's tcache keeps as in use).  Go's one
 * figure is live bytes already: its "mem" samples fill both rows
 * (read_results), so the live row and the target compare like with
 * like. */
enum { ROW_MEMLIVE = PH_NTIMED, ROW_MEM, ROW_OWN, ROW_KEYCOPY, ROW_THP,
       NROWS };
static const char *const row_key[NROWS] = {
    "insert", "insert_hint", "hit", "miss", "iter", "delete", "memlive",
    "mem", "own", "keycopy", "thp"};
static const char *const row_label[NROWS] = {
    "insert ns/op",         "insert+hint ns/op",     "lookup-hit ns/op",
    "lookup-miss ns/op",    "iterate ns/entry",      "delete ns/op",
    "B/entry live",         "B/entry +glibc caches", "(map stats) B/entry",
    "key copies B/entry",   "huge pages MB"};

/* Columns, in table order: gort first, then the peers.  "refstrict" is
 * no implementation of its own: bench_map --impl gortref --label
 * refstrict, run by run-map.sh with GORTDEBUG=mapstrict=1 (the map's
 * writing flag set and cleared by atomic read-modify-writes). */
enum { COL_GORTREF, COL_GORTREFNC, COL_GORTREFSTRICT, COL_GORTSTR,
       COL_GORTSTRNC, COL_GO, COL_ABSL, COL_BOOST, COL_GLIB, COL_UTHASH,
       NCOLS };
static const char *const col_key[NCOLS] = {
    "gortref", "gortrefnc", "refstrict", "gortstr", "gortstrnc", "go",
    "absl",    "boost",     "glib",      "uthash"};
static const char *const col_label[NCOLS] = {
    "gort-ref", "ref-nochk", "ref-strict", "gort-str", "str-nochk", "Go",
    "Abseil",   "Boost",     "GLib",       "uthash"};
enum { FIRST_PEER = COL_GO };

typedef bench_samples samples; /* bench/common/bench_samples.h */

static size_t sizes[MAX_SIZES]; /* the Ns seen, ascending */
static int nsizes;
static samples results[MAX_SIZES][NCOLS][NROWS];
static char digests[MAX_SIZES][80]; /* "keys ... perm ..." of the first */
static int digest_bad;

static int size_index(size_t n)
{
    for (int i = 0; i < nsizes; i++)
        if (sizes[i] == n)
            return i;
    if (nsizes == MAX_SIZES)
        return -1;
    int i = nsizes++;
    while (i > 0 && sizes[i - 1] > n) { /* keep them sorted */
        sizes[i] = sizes[i - 1];
        memcpy(results[i], results[i - 1], sizeof results[i]);
        memcpy(digests[i], digests[i - 1], sizeof digests[i]);
        i--;
    }
    sizes[i] = n;
    memset(results[i], 0, sizeof results[i]);
    digests[i][0] = '\0';
    return i;
}

typedef double (*stat_fn)(const samples *);

static int read_results(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bench_map: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512], impl[64], key[64], dg[80];
    unsigned long long n, kd, pd;
    double v;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "R %63s %llu %63s %lf", impl, &n, key, &v) == 4) {
            int si = size_index((size_t)n);
            for (int c = 0; c < NCOLS && si >= 0; c++)
                for (int r = 0; r < NROWS; r++)
                    if (strcmp(col_key[c], impl) == 0 &&
                        strcmp(row_key[r], key) == 0) {
                        bench_samples_add(&results[si][c][r], v);
                        /* Go's HeapAlloc after runtime.GC() is its live
                         * figure too (see row_key). */
                        if (c == COL_GO && r == ROW_MEM)
                            bench_samples_add(&results[si][c][ROW_MEMLIVE], v);
                    }
        } else if (sscanf(line, "D %63s %llu keys %llx perm %llx", impl, &n,
                          &kd, &pd) == 4) {
            int si = size_index((size_t)n);
            if (si < 0)
                continue;
            snprintf(dg, sizeof dg, "keys %016llx perm %016llx", kd, pd);
            if (digests[si][0] == '\0') {
                snprintf(digests[si], sizeof digests[si], "%s", dg);
            } else if (strcmp(digests[si], dg) != 0) {
                fprintf(stderr, "bench_map: %s n=%llu ran on other keys: "
                        "%s, others %s\n", impl, n, dg, digests[si]);
                digest_bad = 1;
            }
        }
    }
    fclose(f);
    return 0;
}

static int col_used(int c)
{
    for (int s = 0; s < nsizes; s++)
        for (int r = 0; r < NROWS; r++)
            if (results[s][c][r].n > 0)
                return 1;
    return 0;
}

static int row_used(int s, int r)
{
    for (int c = 0; c < NCOLS; c++)
        if (results[s][c][r].n > 0)
            return 1;
    return 0;
}

static void put_num(double v, int width)
{
    if (isnan(v))
        printf(" %*s", width, "-");
    else if (v >= 1000)
        printf(" %*.0f", width, v);
    else
        printf(" %*.2f", width, v);
}

enum { LABEL_W = 21, COL_W = 9, RATIO_W = 12 };

/* A value column: COL_W, or its title's width if that is longer. */
static int col_width(int c)
{
    int w = (int)strlen(col_label[c]);
    return w > COL_W ? w : COL_W;
}

static void print_values(int s, const char *what, stat_fn stat)
{
    printf("\n%s\n%-*s", what, LABEL_W, "phase");
    for (int c = 0; c < NCOLS; c++)
        if (col_used(c))
            printf(" %*s", col_width(c), col_label[c]);
    printf("\n");
    for (int r = 0; r < NROWS; r++) {
        if (!row_used(s, r))
            continue;
        printf("%-*s", LABEL_W, row_label[r]);
        for (int c = 0; c < NCOLS; c++)
            if (col_used(c))
                put_num(stat(&results[s][c][r]), col_width(c));
        printf("\n");
    }
}

/* Ratios gort-X / peer, one table per gort column (gort-ref, gort-str;
 * the no-check columns have their own table, print_check_cost): each cell
 * is the ratio of the fastest runs, then of the medians in brackets. */
static void print_ratios(int s, int g)
{
    if (!col_used(g))
        return;
    printf("\nN = %zu, ratios %s / peer: fastest (median); < 1: %s is "
           "faster or smaller\n%-*s", sizes[s], col_label[g], col_label[g],
           LABEL_W, "phase");
    for (int p = FIRST_PEER; p < NCOLS; p++)
        if (col_used(p))
            printf(" %*s", RATIO_W, col_label[p]);
    printf("\n");
    for (int r = 0; r < NROWS; r++) {
        if (!row_used(s, r) || r == ROW_OWN || r == ROW_KEYCOPY ||
            r == ROW_THP)
            continue;
        printf("%-*s", LABEL_W, row_label[r]);
        for (int p = FIRST_PEER; p < NCOLS; p++) {
            if (!col_used(p))
                continue;
            const samples *a = &results[s][g][r], *b = &results[s][p][r];
            double f = bench_samples_min(a) / bench_samples_min(b), m = bench_samples_median(a) / bench_samples_median(b);
            if (isnan(f) || isinf(f))
                printf(" %*s", RATIO_W, "-");
            else
                printf(" %*.2f (%4.2f)", RATIO_W - 7, f, m);
        }
        printf("\n");
    }
}

/* One target of issue 3 for the borrowed-key map: gort-ref <= factor x
 * peer, on the fastest and on the median figures.  Never fails. */
static void target(int s, const char *what, int row, int peer, double factor,
                   int *met, int *total)
{
    const samples *g = &results[s][COL_GORTREF][row];
    const samples *p = &results[s][peer][row];
    double gf = bench_samples_min(g), pf = bench_samples_min(p), gm = bench_samples_median(g), pm = bench_samples_median(p);
    if (isnan(gf) || isnan(pf)) {
        printf("  %-44s n/a (not measured)\n", what);
        return;
    }
    int mf = gf <= factor * pf, mm = gm <= factor * pm;
    *met += mf;
    ++*total;
    printf("  %-44s %s  ratio %.2f (fastest: %.2f vs %.2f; median ratio "
           "%.2f%s)\n",
           what, mf ? "MET   " : "MISSED", gf / pf, gf, pf, gm / pm,
           mf == mm ? "" : mm ? ", met on median" : ", missed on median");
}

static void print_targets(int s)
{
    int met = 0, total = 0;
    printf("\nTargets for gort-ref at N = %zu (issue 3; information, "
           "never a failure):\n", sizes[s]);
    target(s, "insert <= 0.8 x Go", PH_INSERT, COL_GO, 0.8, &met, &total);
    target(s, "insert+hint <= 0.8 x Go (hint)", PH_INSERT_HINT, COL_GO, 0.8,
           &met, &total);
    target(s, "lookup-hit <= 0.8 x Go", PH_HIT, COL_GO, 0.8, &met, &total);
    target(s, "lookup-miss <= 0.8 x Go", PH_MISS, COL_GO, 0.8, &met, &total);
    target(s, "iterate <= Go", PH_ITER, COL_GO, 1.0, &met, &total);
    target(s, "delete <= Go", PH_DELETE, COL_GO, 1.0, &met, &total);
    target(s, "bytes/entry (live) <= Go", ROW_MEMLIVE, COL_GO, 1.0, &met,
           &total);
    target(s, "lookup-hit <= 1.3 x Abseil", PH_HIT, COL_ABSL, 1.3, &met,
           &total);
    target(s, "lookup-miss <= 1.3 x Abseil", PH_MISS, COL_ABSL, 1.3, &met,
           &total);
    printf("  %d of %d met (fastest figures)\n", met, total);
}

/* The misuse checks' cost, time over time of the same code: the
 * hashWriting checks, gort-X over gort-X-nochk (the library compiled with
 * GORT_MAP_NOCHECK); strict mode, ref-strict over gort-ref (the same
 * binary, GORTDEBUG=mapstrict=1: set and clear of the writing flag become
 * atomic read-modify-writes, so only the write phases, insert,
 * insert+hint and delete, can move; the other rows show the noise). */
static void check_cell(int s, int with, int without, int r)
{
    const samples *a = &results[s][with][r], *b = &results[s][without][r];
    double f = bench_samples_min(a) / bench_samples_min(b), m = bench_samples_median(a) / bench_samples_median(b);
    if (isnan(f) || isinf(f))
        printf(" %*s", RATIO_W, "-");
    else
        printf(" %*.2f (%4.2f)", RATIO_W - 7, f, m);
}

static void print_check_cost(int s)
{
    int nochk = col_used(COL_GORTREFNC) || col_used(COL_GORTSTRNC);
    int strict = col_used(COL_GORTREFSTRICT);
    if (!nochk && !strict)
        return;
    printf("\nN = %zu, cost of the misuse checks, fastest (median); "
           "1.00 = free\n", sizes[s]);
    if (nochk)
        printf("  hashWriting checks: time with / without them "
               "(GORT_MAP_NOCHECK build)\n");
    if (strict)
        printf("  strict mode: ref-strict / gort-ref (GORTDEBUG=mapstrict=1 "
               "/ default); only the (write) rows can move\n");
    printf("%-*s", LABEL_W, "phase");
    if (nochk)
        printf(" %*s %*s", RATIO_W, "gort-ref chk", RATIO_W, "gort-str chk");
    if (strict)
        printf(" %*s", RATIO_W, "ref strict");
    printf("\n");
    for (int r = 0; r < PH_NTIMED; r++) {
        if (!row_used(s, r))
            continue;
        printf("%-*s", LABEL_W, row_label[r]);
        if (nochk) {
            check_cell(s, COL_GORTREF, COL_GORTREFNC, r);
            check_cell(s, COL_GORTSTR, COL_GORTSTRNC, r);
        }
        if (strict)
            check_cell(s, COL_GORTREFSTRICT, COL_GORTREF, r);
        printf(r == PH_INSERT || r == PH_INSERT_HINT || r == PH_DELETE
                   ? "   (write)\n" : "\n");
    }
}

static int print_tables(const char *path)
{
    if (read_results(path) != 0)
        return 1;
    printf("gort map benchmark (WORKLOAD.md map phases): ns per operation, "
           "bytes per entry\n");
    printf("each cell: one process per implementation and N, several "
           "interleaved rounds; '-' = not applicable or not measured\n");
    for (int s = 0; s < nsizes; s++) {
        int runs = 0;
        for (int c = 0; c < NCOLS; c++)
            if (results[s][c][PH_HIT].n > runs)
                runs = results[s][c][PH_HIT].n;
        char what[160];
        printf("\n==================== N = %zu (%d run(s); %s) "
               "====================\n", sizes[s], runs, digests[s]);
        snprintf(what, sizeof what, "N = %zu, fastest run (the least "
                 "disturbed):", sizes[s]);
        print_values(s, what, bench_samples_min);
        snprintf(what, sizeof what, "N = %zu, median run:", sizes[s]);
        print_values(s, what, bench_samples_median);
        print_ratios(s, COL_GORTREF);
        print_ratios(s, COL_GORTSTR);
        print_check_cost(s);
        if (col_used(COL_GORTREF))
            print_targets(s);
    }
    if (digest_bad) {
        fprintf(stderr, "bench_map: implementations ran on different "
                "workloads (see above)\n");
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
            "usage: bench_map --impl NAME --n N [--reps-ops K] [--copy-keys]\n"
            "                 [--lookups L] [--iter-entries E] [--label KEY]\n"
            "       bench_map --impl NAME --n N --mem-only [--label KEY]\n"
            "       bench_map --floor ROUNDS --n N [--lookups L]\n"
            "       bench_map --list\n"
            "       bench_map --table FILE\n");
}

int main(int argc, char **argv)
{
    const char *impl = NULL, *table = NULL, *label = NULL;
    size_t n = 0, reps_ops = 1000000, lookups = BENCH_LOOKUPS,
           iter_entries = BENCH_ITER_ENTRIES;
    int copy = 0, mem_only = 0, floor_rounds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) {
            impl = argv[++i];
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--reps-ops") == 0 && i + 1 < argc) {
            reps_ops = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--lookups") == 0 && i + 1 < argc) {
            lookups = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--iter-entries") == 0 && i + 1 < argc) {
            iter_entries = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
            label = argv[++i];
        } else if (strcmp(argv[i], "--copy-keys") == 0) {
            copy = 1;
        } else if (strcmp(argv[i], "--floor") == 0 && i + 1 < argc) {
            floor_rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--mem-only") == 0) {
            mem_only = 1;
        } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            table = argv[++i];
        } else if (strcmp(argv[i], "--list") == 0) {
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
    if (floor_rounds > 0 && n >= 2 && n <= UINT32_MAX / 2) {
#ifdef BENCH_MAP_HAVE_GORT
        return run_floor(n, lookups, floor_rounds);
#else
        fprintf(stderr, "bench_map: --floor needs gort's map\n");
        return 2;
#endif
    }
    if (impl == NULL || n < 2 || n > UINT32_MAX / 2) {
        usage();
        return 2;
    }
    if (label == NULL)
        label = impl;
    if (label[0] == '\0' || strcspn(label, " \t\n") != strlen(label) ||
        strlen(label) > 63) {
        fprintf(stderr, "bench_map: --label must be one word of 1..63 "
                "characters (a column key of --table)\n");
        return 2;
    }
    if (mem_only)
        return run_mem(impl, label, n);
    return run_one(impl, label, n, reps_ops, copy, lookups, iter_entries);
}
