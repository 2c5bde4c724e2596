/*
 * The steady state allocates nothing: once a thread's defer pool has
 * grown to what its frames need, registering and running deferred calls
 * (inline records, pooled records, copies of up to 16 bytes) and
 * panicking and recovering with a short message never call malloc.
 *
 * How allocations are counted: this program is linked against the static
 * library with -Wl,--wrap for malloc, calloc, realloc, free, strdup,
 * posix_memalign and aligned_alloc (tests/defer/CMakeLists.txt), so every
 * call the library's objects and this file make goes through the
 * __wrap_ functions below.  Counters are per thread, so Criterion's own
 * threads do not disturb them.  The first test proves the hook sees the
 * library's allocations, so the others cannot pass vacuously.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ===================================================================
 * The malloc hook
 * =================================================================== */

static __thread long n_alloc __attribute__((tls_model("initial-exec")));
static __thread long n_free __attribute__((tls_model("initial-exec")));

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
char *__real_strdup(const char *s);
int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

void *__wrap_malloc(size_t size)
{
    n_alloc++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    n_alloc++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    n_alloc++;
    return __real_realloc(p, size);
}

void __wrap_free(void *p)
{
    if (p != NULL)
        n_free++;
    __real_free(p);
}

char *__wrap_strdup(const char *s)
{
    n_alloc++;
    return __real_strdup(s);
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
    n_alloc++;
    return __real_posix_memalign(p, align, size);
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    n_alloc++;
    return __real_aligned_alloc(align, size);
}

typedef struct counts {
    long alloc, free;
} counts;

static counts now(void)
{
    return (counts){n_alloc, n_free};
}

static counts since(counts before)
{
    return (counts){n_alloc - before.alloc, n_free - before.free};
}

/* ===================================================================
 * Workloads
 * =================================================================== */

static volatile uint64_t sink;

static void consume(void *arg)
{
    sink += (uintptr_t)arg;
}

static void consume_copy(void *arg)
{
    uint64_t v[2];
    memcpy(v, arg, sizeof v);
    sink += v[0] + v[1];
}

/* A frame with n deferred calls (n up to 20: beyond 8 they are pooled),
 * every third one with a 16-byte copy. */
static void frame_with(int n, int depth)
{
    GORT_FRAME;
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0) {
            uint64_t v[2] = {(uint64_t)i, (uint64_t)n};
            gort_defer_copy(consume_copy, v, sizeof v);
        } else {
            gort_defer(consume, (void *)(intptr_t)i);
        }
    }
    if (depth > 0)
        frame_with((n + 7) % 21, depth - 1);
}

static void frames_round(void)
{
    for (int n = 0; n <= 20; n++)
        frame_with(n, 2);
}

static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static void panics_after(int n)
{
    GORT_FRAME;
    for (int i = 0; i < n; i++)
        gort_defer(consume, (void *)(intptr_t)i);
    gort_panic("steady %d", n);
}

static int recovers(int n)
{
    GORT_FRAME_RETURN(1);
    gort_defer(swallow, NULL);
    for (int i = 0; i < n; i++)
        gort_defer(consume, (void *)(intptr_t)i);
    panics_after(n);
    return 0;
}

static void panics_round(void)
{
    for (int n = 0; n <= 20; n++)
        recovers(n);
}

static void ten_thousand(void)
{
    GORT_FRAME;
    for (int i = 0; i < 10000; i++)
        gort_defer(consume, (void *)(intptr_t)i);
}

/* ===================================================================
 * Tests
 * =================================================================== */

static void defer_big_copy(void)
{
    static unsigned char big[4096];
    GORT_FRAME;
    gort_defer_copy(consume, big, sizeof big);
}

Test(defer_alloc, hook_sees_the_library_s_allocations)
{
    counts c = now();
    frame_with(9, 0); /* a fresh thread's first pooled record */
    cr_assert_geq(since(c).alloc, 1, "the malloc hook does not see libgort");

    c = now();
    defer_big_copy();
    counts d = since(c);
    cr_assert_eq(d.alloc, 1, "a 4096-byte copy made %ld allocations", d.alloc);
    cr_assert_eq(d.free, 1, "a 4096-byte copy made %ld frees", d.free);
}

Test(defer_alloc, steady_state_frames_with_up_to_20_defers_allocate_nothing)
{
    frames_round(); /* warm-up: grows the pool */
    counts c = now();
    for (int i = 0; i < 200; i++)
        frames_round();
    counts d = since(c);
    cr_assert_eq(d.alloc, 0, "%ld allocations in the steady state", d.alloc);
    cr_assert_eq(d.free, 0, "%ld frees in the steady state", d.free);
}

Test(defer_alloc, steady_state_panic_and_recover_allocate_nothing)
{
    panics_round(); /* warm-up */
    counts c = now();
    for (int i = 0; i < 50; i++)
        panics_round();
    counts d = since(c);
    cr_assert_eq(d.alloc, 0, "%ld allocations in the steady state", d.alloc);
    cr_assert_eq(d.free, 0, "%ld frees in the steady state", d.free);
}

Test(defer_alloc, ten_thousand_defers_reuse_the_pool)
{
    ten_thousand(); /* warm-up */
    counts c = now();
    for (int i = 0; i < 5; i++)
        ten_thousand();
    counts d = since(c);
    cr_assert_eq(d.alloc, 0, "%ld allocations in the steady state", d.alloc);
    cr_assert_eq(d.free, 0, "%ld frees in the steady state", d.free);
}
