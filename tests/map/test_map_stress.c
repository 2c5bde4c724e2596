/*
 * Stress tests (label stress, bounded by GORT_STRESS_SECONDS, default 2 s
 * each): long random op-stream programs against the reference model,
 * growth during iteration, and many goroutines reading maps that grow
 * between rounds (Go's TestConcurrentReadsAfterGrowth, long form).
 */
#include "map_ops.h"

#include "check.h"

#include <gort/sync.h>

#include <criterion/criterion.h>

#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(map_stress, random_programs_match_the_model_until_the_deadline)
{
    double end = now() + check_stress_seconds();
    uint64_t state = (uint64_t)time(NULL);
    fprintf(stderr, "map_stress: seed %llu\n", (unsigned long long)state);
    uint8_t *buf = malloc(20000);
    long programs = 0;
    while (now() < end) {
        size_t len = 3 + fm_mix(state++) % 19990;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)fm_mix(state++);
        fm_run(buf, len);
        programs++;
    }
    free(buf);
    cr_assert_gt(programs, 0);
}

Test(map_stress, iterations_survive_repeated_growth_and_deletion)
{
    double end = now() + check_stress_seconds();
    uint64_t round = 0;
    while (now() < end) {
        gort_map *m = gort_map_new_str(sizeof(uint64_t), 0);
        char buf[32];
        uint64_t n0 = 1 + round % 300, next = n0;
        for (uint64_t i = 0; i < n0; i++) {
            int len = snprintf(buf, sizeof buf, "k%llu", (unsigned long long)i);
            *(uint64_t *)gort_map_set_str(m, buf, (size_t)len) = i;
        }
        static uint8_t seen[100000];
        memset(seen, 0, sizeof seen);
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        while (gort_map_iter_next(&it)) {
            uint64_t v = *(const uint64_t *)it.val;
            cr_assert_lt(v, 100000);
            cr_assert_not(seen[v], "produced twice");
            seen[v] = 1;
            for (int j = 0; j < 3 && next < 100000; j++, next++) {
                int len = snprintf(buf, sizeof buf, "k%llu", (unsigned long long)next);
                *(uint64_t *)gort_map_set_str(m, buf, (size_t)len) = next;
            }
            uint64_t victim = fm_mix(round * 7919 + next) % next;
            if (victim != v && victim >= n0) {
                int len = snprintf(buf, sizeof buf, "k%llu", (unsigned long long)victim);
                gort_map_delete_str(m, buf, (size_t)len);
            }
        }
        for (uint64_t i = 0; i < n0; i++)
            cr_assert(seen[i], "initial key %llu missed", (unsigned long long)i);
        cr_assert(gort__map_verify(m));
        gort_map_free(m);
        round++;
    }
}

typedef struct reader_arg {
    gort_map *m;
    uint64_t n;
    gort_waitgroup *wg;
} reader_arg;

static void reader(void *p)
{
    reader_arg *a = p;
    uint64_t sum = 0;
    gort_map_iter it;
    gort_map_iter_init(&it, a->m);
    while (gort_map_iter_next(&it))
        sum += *(const uint64_t *)it.val;
    for (uint64_t k = 0; k < a->n; k++) {
        const uint64_t *v = gort_map_get_u64(a->m, k);
        if (v == NULL || *v != k)
            abort();
    }
    if (sum != a->n * (a->n - 1) / 2)
        abort();
    gort_waitgroup_done(a->wg);
}

Test(map_stress, concurrent_readers_of_a_growing_map_agree)
{
    double end = now() + check_stress_seconds();
    while (now() < end) {
        gort_map *m = gort_map_new_u64(sizeof(uint64_t), 0);
        for (uint64_t n = 1; n < 600 && now() < end; n += 1 + n / 8) {
            for (uint64_t k = gort_map_len(m); k < n; k++)
                *(uint64_t *)gort_map_set_u64(m, k) = k;
            gort_waitgroup wg = {0};
            reader_arg args[8];
            gort_waitgroup_add(&wg, 8);
            for (int r = 0; r < 8; r++) {
                args[r] = (reader_arg){m, n, &wg};
                gort_go(reader, &args[r]);
            }
            gort_waitgroup_wait(&wg);
        }
        gort_map_free(m);
    }
}
