/*
 * Go's TestMapRangeNoAllocations, extended to the other read paths: on a
 * map whose keys are all in the read-only map (not amended), Range, Load
 * (hit and miss), len, and the lock-free updates of existing keys (store,
 * swap, compare_and_swap, load_or_store that loads) allocate nothing.
 * (With a destructor, retiring a replaced value allocates gort_retire's
 * node; these run without one.)
 *
 * How allocations are counted: as tests/defer/test_defer_alloc.c, this
 * program is linked against the static library with -Wl,--wrap for
 * malloc and friends (tests/syncmap/CMakeLists.txt), so the library's
 * calls go through the __wrap_ functions below; counters are per thread.
 * The first test proves the hook sees the library's allocations.
 */
#include "syncmap_test.h"

#include <criterion/criterion.h>

static __thread long n_alloc __attribute__((tls_model("initial-exec")));

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
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

static bool nop(const void *key, size_t klen, void *val, void *ctx)
{
    (void)key, (void)klen, (void)val;
    (*(long *)ctx)++;
    return true;
}

/* A map of n keys "k<i>" -> i, all promoted to the read-only map. */
static gort_syncmap *promoted_map(long n)
{
    gort_syncmap *m = gort_syncmap_new();
    char k[32];
    for (long i = 0; i < n; i++)
        gort_syncmap_store(m, k, ikey(k, sizeof k, i), IV(i));
    long visits = 0;
    gort_syncmap_range(m, nop, &visits); /* promotes */
    cr_assert_eq(visits, n);
    return m;
}

Test(syncmap_alloc, hook_sees_the_library_s_allocations)
{
    long before = n_alloc;
    gort_syncmap *m = gort_syncmap_new();
    gort_syncmap_store(m, "k", 1, NULL);
    cr_assert_geq(n_alloc - before, 2, "the malloc hook does not see libgort");
    gort_syncmap_free(m);
}

Test(syncmap_alloc, TestMapRangeNoAllocations)
{
    gort_syncmap *m = gort_syncmap_new();
    long visits = 0;
    gort_syncmap_range(m, nop, &visits); /* warm-up, as AllocsPerRun */
    long before = n_alloc;
    for (int i = 0; i < 10; i++)
        gort_syncmap_range(m, nop, &visits);
    cr_assert_eq(n_alloc - before, 0, "Range of an empty map allocated");
    gort_syncmap_free(m);

    m = promoted_map(1000);
    before = n_alloc;
    for (int i = 0; i < 10; i++)
        gort_syncmap_range(m, nop, &visits);
    cr_assert_eq(n_alloc - before, 0, "Range of a promoted map allocated");
    gort_syncmap_free(m);
}

Test(syncmap_alloc, reads_and_updates_of_promoted_keys_allocate_nothing)
{
    gort_syncmap *m = promoted_map(1000);
    char k[32];
    gort_syncmap_load(m, "k1", 2, NULL); /* warm-up */
    long before = n_alloc;
    for (int round = 0; round < 3; round++) {
        for (long i = 0; i < 1000; i++) {
            size_t kl = ikey(k, sizeof k, i);
            void *v = NULL;
            cr_assert(gort_syncmap_load(m, k, kl, &v) && v == IV(i));
            cr_assert_not(gort_syncmap_load(m, "absent", 6, NULL));
            gort_syncmap_store(m, k, kl, IV(i + 1));
            cr_assert(gort_syncmap_swap(m, k, kl, IV(i), &v) && v == IV(i + 1));
            cr_assert(gort_syncmap_compare_and_swap(m, k, kl, IV(i), IV(i)));
            cr_assert(gort_syncmap_load_or_store(m, k, kl, IV(0), &v) && v == IV(i));
        }
        cr_assert_eq(gort_syncmap_len(m), 1000);
    }
    cr_assert_eq(n_alloc - before, 0, "%ld allocations", n_alloc - before);
    gort_syncmap_free(m);
}
