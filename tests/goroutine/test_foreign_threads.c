/*
 * Threads gort did not start: they get a goroutine id on first use, and
 * what gort gave them (the alternate signal stack, the defer pool) is
 * released when they exit, with or without gort_thread_detach(); a
 * detach inside a function with a frame leaves that frame's records
 * alone; and gort_goexit ends such a thread.  This file is built with
 * -fexceptions (tests/goroutine/CMakeLists.txt), as distributions build
 * much C code: pthread_exit's forced unwind then runs the cleanups of the
 * frames Goexit has already run.
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

/* The SPEC asks a foreign thread to detach "before it exits", which may
 * be inside a function with a frame whose deferred call is a pooled
 * record (a copied argument): the detach must not free it (ASan:
 * heap-use-after-free before the fix, found by review). */
static void check_copied_arg(void *arg)
{
    cr_assert_eq(*(int *)arg, 42);
    *(int *)arg = 0; /* writes the record's copy: must still be ours */
}

static int deferring_detacher(void)
{
    GORT_FRAME_RETURN(0);
    int x = 42;
    gort_defer_copy(check_copied_arg, &x, sizeof x);
    gort_thread_detach();
    return 1;
}

static void *detach_in_frame(void *unused)
{
    (void)unused;
    cr_assert_eq(deferring_detacher(), 1);
    deferring(); /* gort again after the detach: the pool is still sane */
    return NULL;
}

Test(foreign_threads, a_detach_inside_a_frame_leaves_its_records_alone)
{
    for (int i = 0; i < 20; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, detach_in_frame, NULL), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
    }
}

static _Atomic int goexit_deferred_ran;

static void count_run(void *unused)
{
    (void)unused;
    goexit_deferred_ran++;
}

static void goexit_inner(void)
{
    GORT_FRAME;
    gort_defer(count_run, NULL);
    gort_goexit();
}

static void *goexit_outer(void *unused)
{
    (void)unused;
    GORT_FRAME_RETURN(NULL);
    gort_defer(count_run, NULL);
    goexit_inner();
    cr_assert_fail("gort_goexit returned");
    return NULL;
}

/* Before the fix: "fatal error: defer chain corrupted at the return of
 * goexit_inner" from the forced unwind (found by review). */
Test(foreign_threads, goexit_ends_the_thread_in_code_built_with_fexceptions)
{
    for (int i = 0; i < 10; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, goexit_outer, NULL), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
    }
    cr_assert_eq(goexit_deferred_ran, 20);
}
