/*
 * floor.c - bench_map --floor: what share of a lookup-hit is the map's.
 *
 * At N = 1e5 and 1e6 a lookup-hit is bound by memory latency, and part
 * of that latency is the workload's, not the map's: the key's header
 * (keys[perm[q]], a random element) and the key's bytes (hashed) miss
 * the caches before any map is touched.  This mode times, in one
 * process and on the workload's keys, in interleaved slices (the loops'
 * order rotating every round, as bench_conc --percost does, so that all
 * loops see the same machine):
 *
 *   map     gort_map_get_str on a borrowed-key map of the N keys: the hit
 *           phase's loop;
 *   hash    the same loop without a map: the key's header and bytes read
 *           and hashed (XXH3 64, gort's hash), the hashes summed;
 *   line    hash, then one 8-byte load at a random line of an array as
 *           large as the map's buckets: a structure with one dependent
 *           cache miss per lookup and no work;
 *   bucket  hash, then what Go's layout costs at least: the bucket's
 *           other lines prefetched, its tophash word loaded, then a key
 *           word and a value word at a slot chosen from it (three
 *           dependent accesses within one 208-byte bucket, as gort's
 *           lookup makes them), with no other work.
 *
 * The differences between the loops price the steps: map - bucket is
 * what the lookup's instructions cost beyond its memory accesses (at
 * these sizes, by shrinking how many lookups the CPU overlaps).
 * Printed: "L <loop> <n> <ns per lookup>" per loop and round.  A
 * checksum of the map loop is checked (every value found belongs to its
 * key); a failure exits with status 1.
 */
#include "bench_map.h"

#include <gort/map.h>

#include <xxhash.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { FLOOR_SLICES = 20, FLOOR_LOOPS = 4 };

typedef struct floor_state {
    const bench_work *w;
    const gort_map *m;
    const uint8_t *lines;   /* the line and bucket loops' array */
    size_t nbuckets;        /* the map's: a power of two */
    size_t bucket;          /* the map's bucket size: 208 bytes (8
                               tophash bytes, 8 keys of 16 bytes, 8
                               values of 8, the overflow pointer) */
    size_t q[FLOOR_LOOPS];  /* each loop's position in perm */
    uint64_t sum[FLOOR_LOOPS];
    uint64_t want;          /* the map loop's expected value sum */
} floor_state;

BENCH_NOINLINE static void loop_map(floor_state *s, size_t count)
{
    const bench_key *keys = s->w->lkeys;
    const uint32_t *perm = s->w->perm;
    size_t n = s->w->n, q = s->q[0];
    uint64_t sum = 0, want = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t k = perm[q];
        const int64_t *v = gort_map_get_str(s->m, keys[k].p, keys[k].len);
        sum += (uint64_t)*v;
        want += k;
        if (++q == n)
            q = 0;
    }
    s->q[0] = q;
    s->sum[0] += sum;
    s->want += want;
}

BENCH_NOINLINE static void loop_hash(floor_state *s, size_t count)
{
    const bench_key *keys = s->w->lkeys;
    const uint32_t *perm = s->w->perm;
    size_t n = s->w->n, q = s->q[1];
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t k = perm[q];
        sum += XXH3_64bits_withSeed(keys[k].p, keys[k].len, 0x5EED);
        if (++q == n)
            q = 0;
    }
    s->q[1] = q;
    s->sum[1] += sum;
}

BENCH_NOINLINE static void loop_line(floor_state *s, size_t count)
{
    const bench_key *keys = s->w->lkeys;
    const uint32_t *perm = s->w->perm;
    const uint8_t *lines = s->lines;
    size_t n = s->w->n, q = s->q[2];
    size_t nlines = s->nbuckets * s->bucket / 64;
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t k = perm[q];
        uint64_t h = XXH3_64bits_withSeed(keys[k].p, keys[k].len, 0x5EED);
        uint64_t word;
        memcpy(&word, lines + (((h >> 32) * nlines) >> 32) * 64, /* no divide */
               sizeof word);
        sum += word;
        if (++q == n)
            q = 0;
    }
    s->q[2] = q;
    s->sum[2] += sum;
}

BENCH_NOINLINE static void loop_bucket(floor_state *s, size_t count)
{
    const bench_key *keys = s->w->lkeys;
    const uint32_t *perm = s->w->perm;
    const uint8_t *lines = s->lines;
    size_t n = s->w->n, q = s->q[3], mask = s->nbuckets - 1, bsize = s->bucket;
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t k = perm[q];
        uint64_t h = XXH3_64bits_withSeed(keys[k].p, keys[k].len, 0x5EED);
        const uint8_t *b = lines + (h & mask) * bsize;
        __builtin_prefetch(b + 64);
        __builtin_prefetch(b + 128);
        __builtin_prefetch(b + bsize - 1);
        uint64_t top, key, val;
        memcpy(&top, b, sizeof top);
        unsigned slot = (unsigned)((top ^ (h >> 56)) & 7); /* depends on
                                                             the load */
        memcpy(&key, b + 8 + 16 * slot, sizeof key);
        memcpy(&val, b + 8 + 16 * 8 + 8 * slot, sizeof val); /* 208 */
        sum += key + val;
        if (++q == n)
            q = 0;
    }
    s->q[3] = q;
    s->sum[3] += sum;
}

static void (*const floor_loops[FLOOR_LOOPS])(floor_state *, size_t) = {
    loop_map, loop_hash, loop_line, loop_bucket};
static const char *const floor_names[FLOOR_LOOPS] = {"map", "hash", "line",
                                                     "bucket"};

int bench_floor(const bench_work *w, int rounds)
{
    floor_state s;
    memset(&s, 0, sizeof s);
    s.w = w;
    gort_map *m = gort_map_new_strref(sizeof(int64_t), 0);
    for (size_t i = 0; i < w->n; i++) {
        uint32_t k = w->perm[i];
        *(int64_t *)gort_map_set_str(m, w->keys[k].p, w->keys[k].len) = k;
    }
    s.m = m;
    gort_map_info info;
    gort_map_stats(m, &info);
    s.nbuckets = info.buckets;
    s.bucket = info.bucket_size;
    if (s.bucket != 208) { /* loop_bucket's slot offsets */
        fprintf(stderr, "bench_map: --floor: a bucket of %zu bytes, "
                "expected 208\n", s.bucket);
        gort_map_free(m);
        return 1;
    }
    size_t bytes = s.nbuckets * s.bucket;
    uint8_t *lines = aligned_alloc(2u << 20, (bytes + (2u << 20) - 1) &
                                                 ~(size_t)((2u << 20) - 1));
    if (lines == NULL) {
        fprintf(stderr, "bench_map: --floor: out of memory\n");
        return 1;
    }
    (void)madvise(lines, bytes, MADV_HUGEPAGE); /* as gort's buckets */
    for (size_t i = 0; i < bytes; i++)
        lines[i] = (uint8_t)(i * 0x9E3779B1u >> 24);
    s.lines = lines;

    size_t slice = w->lookups / FLOOR_SLICES;
    for (int r = 0; r < rounds; r++) {
        double ns[FLOOR_LOOPS] = {0};
        for (int sl = 0; sl < FLOOR_SLICES; sl++) {
            for (int j = 0; j < FLOOR_LOOPS; j++) {
                int l = (j + sl + r) % FLOOR_LOOPS;
                double t0 = bench_now_ns();
                floor_loops[l](&s, slice);
                ns[l] += bench_now_ns() - t0;
            }
        }
        for (int l = 0; l < FLOOR_LOOPS; l++)
            printf("L %s %zu %.3f\n", floor_names[l], w->n,
                   ns[l] / (double)(slice * FLOOR_SLICES));
    }
    /* Every value found is its key's index (value = key index). */
    int bad = s.sum[0] != s.want;
    if (bad)
        fprintf(stderr, "bench_map: --floor: the map loop's checksum is "
                "%llu, expected %llu\n", (unsigned long long)s.sum[0],
                (unsigned long long)s.want);
    printf("C %llx\n", (unsigned long long)(s.sum[1] ^ s.sum[2] ^ s.sum[3]));
    free(lines);
    gort_map_free(m);
    return bad;
}
