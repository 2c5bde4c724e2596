/*
 * Threads gort did not start: they get a goroutine id on first use, and
 * what gort gave them (the alternate signal stack, the defer pool) is
 * released when they exit, with or without gort_thread_detach().
 */
#include <gort/gort.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void nothing(void *arg)
{
    (void)arg;
}

static int deferring(void)
{
    GORT_FRAME_RETURN(0);
    for (int i = 0; i < 20; i++) /* past the frame's slots: pooled records */
        gort_defer(nothing, NULL);
    return 1;
}

static void *foreign(void *detach)
{
    int64_t id = gort_goid();
    cr_assert_gt(id, 1);
    cr_assert_eq(gort_goid(), id, "the id is stable");
    deferring();
    if (detach != NULL)
        gort_thread_detach();
    return NULL;
}

static void run_threads(bool detach)
{
    for (int i = 0; i < 50; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, foreign, detach ? &t : NULL), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
    }
}

Test(foreign_threads, release_their_resources_at_exit_without_detach)
{
    run_threads(false); /* warm up: thread stacks cached by glibc */
    long before = count_mappings();
    run_threads(false);
    long after = count_mappings();
    cr_assert_leq(after - before, 4, "mappings grew from %ld to %ld", before, after);
}

Test(foreign_threads, release_their_resources_at_detach)
{
    run_threads(true);
    long before = count_mappings();
    run_threads(true);
    long after = count_mappings();
    cr_assert_leq(after - before, 4, "mappings grew from %ld to %ld", before, after);
}
