/*
 * hash.c - hash seeds and per-thread random numbers for the map.
 *
 * Design.  Every map gets its own 64-bit hash seed (Go's hash0) so that a
 * set of colliding keys cannot be computed in advance: seeds come from
 * the kernel's CSPRNG (getrandom(2)).  One system call per map would cost
 * more than creating a small map, so each thread keeps a pool of 32
 * seeds read in one call (256 bytes, within getrandom's no-block,
 * no-short-read limit), and hands them out one by one; a seed is never
 * used twice.  GORTDEBUG=mapseed=N replaces this with N for every map, to
 * reproduce a bug; it is never the default.
 *
 * Iteration order (random start bucket and offset, Go's fastrand) and the
 * sampling of noverflow for big maps need fast, not secret, numbers:
 * gort__fastrand64() is wyrand on a per-thread state seeded once from
 * getrandom.  Seeds never come from it, so observing iteration orders
 * tells an attacker nothing about a seed.
 *
 * The hash functions themselves are XXH3 (libxxhash), inlined from the
 * system header in map_internal.h: for str keys XXH3-64 of the bytes
 * with the seed (the lookup fast path computes the same value with the
 * seed folded into XXH3's secret words once per map: m->hkey), for u64 keys XXH3-64 of the 8 bytes (its 4-8 byte path:
 * two multiplications, measured as fast as a bare mixer).  Generic maps
 * use the user's hash with the map's seed.
 *
 * A fork child drops the pool and the generator state it inherited
 * (hash_fork_child): a seed is never used twice, in either process.
 *
 * Ordering guarantees: none needed; all state is per thread.
 */
#include "map_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

__thread uint64_t gort__rand_state __attribute__((tls_model("initial-exec")));

enum { SEED_POOL = 32 };

static __thread uint64_t seed_pool[SEED_POOL]
    __attribute__((tls_model("initial-exec")));
static __thread unsigned seed_left __attribute__((tls_model("initial-exec")));

/* Fills @buf from getrandom(2); if the kernel refuses (no getrandom, or
 * a seccomp filter), falls back to a mix of clocks and addresses: weaker
 * against an attacker, but never a failure. */
static void os_random(void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = getrandom((char *)buf + off, n - off, 0);
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    if (off == n)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                 (uint64_t)(uintptr_t)buf ^ ((uint64_t)getpid() << 16) ^
                 (uint64_t)(uintptr_t)&x;
    for (; off < n; off++) {
        x += 0x9E3779B97F4A7C15ull; /* splitmix64 */
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        ((unsigned char *)buf)[off] ^= (unsigned char)(z ^ (z >> 31));
    }
}

uint64_t gort__map_new_seed(void)
{
    if (GORT_UNLIKELY(gort__debug.has_mapseed))
        return gort__debug.mapseed;
    if (seed_left == 0) {
        os_random(seed_pool, sizeof seed_pool);
        seed_left = SEED_POOL;
    }
    uint64_t s = seed_pool[--seed_left];
    seed_pool[seed_left] = 0; /* a seed is handed out once */
    return s;
}

/* The child of a fork() starts with a copy of the forking thread's pool
 * and generator state: both are dropped, or parent and child would hand
 * out the same seeds (and iteration orders) from here on.  Registered
 * with pthread_atfork by gort__runtime_init; runs in the child's only
 * thread, the one that forked. */
static void hash_fork_child(void)
{
    for (unsigned i = 0; i < seed_left; i++)
        seed_pool[i] = 0;
    seed_left = 0;
    gort__rand_state = 0; /* reseeded from getrandom on next use */
}

void gort__hash_atfork(void)
{
    if (pthread_atfork(NULL, NULL, hash_fork_child) != 0)
        gort__fatal("runtime: cannot register the map seeds' fork handler");
}

void gort__rand_seed(void)
{
    uint64_t s = 0;
    while (s == 0)
        os_random(&s, sizeof s);
    gort__rand_state = s;
}
