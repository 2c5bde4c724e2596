/*
 * Snapshot map: every operation, the three publication triggers, views
 * (snapshots, nesting, panics), free with pending ops, and the misuse
 * that panics (the fatal misuse is in test_snapmap_crash.c).
 *
 * Tests that must not be disturbed by the age trigger set the batch age
 * to UINT_MAX ms (49 days).  Waits for the background flusher are
 * bounded polling loops (snap_wait_len), never timing assertions.
 */
#include "panic_capture.h"
#include "snapmap_test.h"

#include <gort/read_section.h>
#include <gort/snapmap.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdio.h>
#include <unistd.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Declared in src/map_internal.h; exported for the tests. */
bool gort__map_verify(const gort_map *m);

/* A map whose only trigger is an explicit flush. */
static gort_snapmap *manual_map(size_t val_size)
{
    gort_snapmap *s = gort_snapmap_new_str(val_size);
    gort_snapmap_set_batch_size(s, SIZE_MAX);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    return s;
}

/* ===================================================================
 * Basics
 * =================================================================== */

Test(snapmap, a_new_map_is_an_empty_version_0)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    const gort_map *v = gort_snapmap_read_begin(s);
    cr_assert_not_null(v);
    cr_assert_eq(gort_map_len(v), 0);
    cr_assert_null(gort_map_get_str(v, "k", 1));
    gort_snapmap_read_end(s, v);
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.version, 0);
    cr_assert_eq(info.len, 0);
    cr_assert_eq(info.pending, 0);
    cr_assert_eq(info.batch_size, 1000, "default batch size");
    cr_assert_eq(info.batch_age_ms, 200, "default batch age");
    gort_snapmap_free(s);
    gort_snapmap_free(NULL); /* NULL is fine, as free(NULL) */
}

Test(snapmap, queued_writes_are_invisible_until_a_flush_publishes_them)
{
    gort_snapmap *s = manual_map(8);
    snap_set(s, "a", 1);
    snap_set(s, "b", 2);
    cr_assert_eq(snap_get(s, "a", -1), -1, "queued, not published");
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.pending, 2);
    cr_assert_eq(info.ops_queued, 2);
    cr_assert_eq(info.version, 0);
    gort_snapmap_flush(s);
    cr_assert_eq(snap_get(s, "a", -1), 1);
    cr_assert_eq(snap_get(s, "b", -1), 2);
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.version, 1);
    cr_assert_eq(info.by_flush, 1);
    cr_assert_eq(info.ops_applied, 2);
    cr_assert_eq(info.pending, 0);
    cr_assert_eq(info.len, 2);
    gort_snapmap_flush(s); /* nothing queued: no new version */
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.version, 1);
    gort_snapmap_free(s);
}

Test(snapmap, ops_apply_in_the_order_they_were_queued)
{
    gort_snapmap *s = manual_map(8);
    snap_set(s, "k", 1);
    snap_set(s, "k", 2);
    gort_snapmap_delete_str(s, "k", 1);
    snap_set(s, "k", 3);
    gort_snapmap_delete_str(s, "absent", 6);
    snap_set(s, "gone", 4);
    gort_snapmap_delete_str(s, "gone", 4);
    gort_snapmap_flush(s);
    const gort_map *v = gort_snapmap_read_begin(s);
    cr_assert_eq(view_get(v, "k", -1), 3);
    cr_assert_eq(view_get(v, "gone", -1), -1);
    cr_assert_eq(gort_map_len(v), 1);
    gort_snapmap_read_end(s, v);
    /* Both copies got the batch: the next version starts from it. */
    snap_set(s, "k", 5);
    gort_snapmap_flush(s);
    snap_set(s, "x", 6);
    gort_snapmap_flush(s);
    v = gort_snapmap_read_begin(s);
    cr_assert_eq(view_get(v, "k", -1), 5);
    cr_assert_eq(view_get(v, "x", -1), 6);
    cr_assert_eq(view_get(v, "gone", -1), -1);
    cr_assert_eq(gort_map_len(v), 2);
    gort_snapmap_read_end(s, v);
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.ops_applied, 9);
    cr_assert_eq(info.version, 3);
    gort_snapmap_free(s);
}

Test(snapmap, keys_and_values_are_copied_when_queued)
{
    gort_snapmap *s = manual_map(sizeof(int64_t[4]));
    char key[8] = "key";
    int64_t val[4] = {1, 2, 3, 4};
    gort_snapmap_set_str(s, key, 3, val);
    memcpy(key, "xyz", 3);
    val[0] = 99;
    gort_snapmap_flush(s);
    const gort_map *v = gort_snapmap_read_begin(s);
    const int64_t *got = gort_map_get_str(v, "key", 3);
    cr_assert_not_null(got);
    cr_assert_eq(got[0], 1);
    cr_assert_eq(got[3], 4);
    cr_assert_null(gort_map_get_str(v, "xyz", 3));
    gort_snapmap_read_end(s, v);
    gort_snapmap_free(s);
}

Test(snapmap, zero_size_values_make_a_set_and_the_empty_key_works)
{
    gort_snapmap *s = manual_map(0);
    gort_snapmap_set_str(s, "member", 6, NULL);
    gort_snapmap_set_str(s, NULL, 0, NULL); /* the empty key */
    gort_snapmap_flush(s);
    const gort_map *v = gort_snapmap_read_begin(s);
    cr_assert_not_null(gort_map_get_str(v, "member", 6));
    cr_assert_not_null(gort_map_get_str(v, "", 0));
    cr_assert_null(gort_map_get_str(v, "other", 5));
    cr_assert_eq(gort_map_len(v), 2);
    gort_snapmap_read_end(s, v);
    gort_snapmap_delete_str(s, NULL, 0);
    gort_snapmap_flush(s);
    v = gort_snapmap_read_begin(s);
    cr_assert_null(gort_map_get_str(v, "", 0));
    gort_snapmap_read_end(s, v);
    gort_snapmap_free(s);
}

Test(snapmap, a_view_iterates_like_a_map)
{
    gort_snapmap *s = manual_map(8);
    int64_t want = 0;
    char k[32];
    for (int64_t i = 0; i < 500; i++) {
        snprintf(k, sizeof k, "key-%lld", (long long)i);
        snap_set(s, k, i);
        want += i;
    }
    gort_snapmap_flush(s);
    const gort_map *v = gort_snapmap_read_begin(s);
    gort_map_iter it;
    int64_t sum = 0;
    size_t n = 0;
    for (gort_map_iter_init(&it, v); gort_map_iter_next(&it); n++)
        sum += *(const int64_t *)it.val;
    cr_assert_eq(n, 500);
    cr_assert_eq(sum, want);
    gort_snapmap_read_end(s, v);
    /* A later batch that grows the map after the view iterated. */
    for (int64_t i = 500; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%lld", (long long)i);
        snap_set(s, k, i);
    }
    gort_snapmap_flush(s);
    cr_assert_eq(snap_get(s, "key-4999", -1), 4999);
    gort_snapmap_free(s);
}

/* ===================================================================
 * Views are snapshots
 * =================================================================== */

typedef struct remote_writer {
    gort_snapmap *s;
    int64_t from, to;  /* values written to "k", in order */
    bool flush_each;   /* flush after every write */
    gort_waitgroup *wg;
} remote_writer;

static void remote_write(void *arg)
{
    remote_writer *w = arg;
    for (int64_t i = w->from; i < w->to; i++) {
        snap_set(w->s, "k", i);
        if (w->flush_each)
            gort_snapmap_flush(w->s);
    }
    gort_waitgroup_done(w->wg);
}

Test(snapmap, a_view_keeps_its_version_while_writers_publish)
{
    gort_snapmap *s = manual_map(8);
    snap_set(s, "k", 0);
    gort_snapmap_flush(s);
    const gort_map *v = gort_snapmap_read_begin(s);
    const int64_t *slot = gort_map_get_str(v, "k", 1);
    cr_assert_not_null(slot);
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, 1);
    /* The writer's flushes cannot complete while we hold v... */
    remote_writer w = {s, 1, 2, true, &wg};
    gort_go(remote_write, &w);
    /* ...but the first one publishes before waiting for us: poll for it
     * with fresh views, nested inside v. */
    double end = snap_now() + 20;
    while (snap_get(s, "k", -1) != 1 && snap_now() < end)
        snap_sleep_ms(1);
    cr_assert_eq(snap_get(s, "k", -1), 1, "new views see the new version");
    cr_assert_eq(*slot, 0, "the old view and its slot did not change");
    cr_assert_eq(view_get(v, "k", -1), 0);
    gort_snapmap_read_end(s, v);
    gort_waitgroup_wait(&wg); /* its flush ends once our view has */
    /* Many more versions while a view is open elsewhere in the loop. */
    gort_waitgroup_add(&wg, 1);
    remote_writer w2 = {s, 2, 200, true, &wg};
    gort_go(remote_write, &w2);
    for (int i = 0; i < 200; i++) {
        v = gort_snapmap_read_begin(s);
        int64_t a = view_get(v, "k", -1);
        sched_yield();
        int64_t b = view_get(v, "k", -1);
        gort_snapmap_read_end(s, v);
        cr_assert_eq(a, b, "a view never changes");
    }
    gort_waitgroup_wait(&wg);
    cr_assert_eq(snap_get(s, "k", -1), 199);
    gort_snapmap_free(s);
}

Test(snapmap, views_nest_and_may_end_in_any_order)
{
    gort_snapmap *a = manual_map(8), *b = manual_map(8);
    snap_set(a, "k", 1);
    gort_snapmap_flush(a);
    const gort_map *a1 = gort_snapmap_read_begin(a);
    const gort_map *b1 = gort_snapmap_read_begin(b);
    const gort_map *a2 = gort_snapmap_read_begin(a);
    cr_assert_eq(a1, a2, "same version, same copy");
    cr_assert_eq(view_get(a2, "k", -1), 1);
    /* Deeper than the per-goroutine inline records (8). */
    const gort_map *deep[20];
    for (int i = 0; i < 20; i++)
        deep[i] = gort_snapmap_read_begin(i % 2 ? a : b);
    for (int i = 0; i < 20; i += 2)
        gort_snapmap_read_end(b, deep[i]);
    for (int i = 19; i > 0; i -= 2)
        gort_snapmap_read_end(a, deep[i]);
    gort_snapmap_read_end(a, a1); /* not the innermost */
    gort_snapmap_read_end(b, b1);
    cr_assert_eq(view_get(a2, "k", -1), 1);
    gort_snapmap_read_end(a, a2);
    /* No view left: flush and free are allowed. */
    snap_set(a, "k", 2);
    gort_snapmap_flush(a);
    cr_assert_eq(snap_get(a, "k", -1), 2);
    gort_snapmap_free(a);
    gort_snapmap_free(b);
}

/* gort/snapmap.h compiles the common case of begin and end into the
 * caller; the functions, named in parentheses, do the whole job.  The two
 * halves of a view must pair either way, at every depth. */
Test(snapmap, the_inline_and_out_of_line_halves_of_a_view_pair_either_way)
{
    gort_snapmap *a = manual_map(8);
    snap_set(a, "k", 1);
    gort_snapmap_flush(a);
    const gort_map *v1 = (gort_snapmap_read_begin)(a);
    const gort_map *v2 = gort_snapmap_read_begin(a);
    cr_assert_eq(v1, v2);
    gort_snapmap_read_end(a, v1); /* inline end of an out-of-line begin */
    (gort_snapmap_read_end)(a, v2);
    const gort_map *deep[12];
    for (int i = 0; i < 12; i++) /* beyond the inline stack's 8 */
        deep[i] = i % 2 ? gort_snapmap_read_begin(a)
                        : (gort_snapmap_read_begin)(a);
    for (int i = 11; i >= 0; i--) {
        cr_assert_eq(view_get(deep[i], "k", -1), 1);
        if (i % 3)
            gort_snapmap_read_end(a, deep[i]);
        else
            (gort_snapmap_read_end)(a, deep[i]);
    }
    cr_assert_eq(gort__rs.depth, 0u, "every view ended");
    /* Nothing open: a flush may wait for readers. */
    snap_set(a, "k", 2);
    gort_snapmap_flush(a);
    const gort_map *v3 = gort_snapmap_read_begin(a);
    cr_assert_eq(view_get(v3, "k", -1), 2);
    (gort_snapmap_read_end)(a, v3);
    gort_snapmap_free(a);
}

Test(snapmap, views_and_plain_sections_interleave_and_end_in_any_order)
{
    gort_snapmap *a = manual_map(8), *b = manual_map(8);
    snap_set(a, "k", 1);
    gort_snapmap_flush(a);
    snap_set(b, "k", 2);
    gort_snapmap_flush(b);
    const gort_map *va = gort_snapmap_read_begin(a);
    gort_read_begin();
    const gort_map *vb = gort_snapmap_read_begin(b);
    /* A plain end closes the innermost plain section, not the view on
     * top of it; a view's end finds its own section below others. */
    gort_read_end();
    cr_assert_eq(view_get(vb, "k", -1), 2);
    gort_read_begin();
    gort_snapmap_read_end(a, va);
    cr_assert_eq(view_get(vb, "k", -1), 2);
    gort_read_end();
    gort_snapmap_read_end(b, vb);
    /* Nothing open: flush may wait for readers again. */
    snap_set(a, "k", 3);
    gort_snapmap_flush(a);
    cr_assert_eq(snap_get(a, "k", -1), 3);
    gort_snapmap_free(a);
    gort_snapmap_free(b);
}

/* ===================================================================
 * Triggers: size, age
 * =================================================================== */

Test(snapmap, a_full_batch_is_published_by_the_flusher)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_snapmap_set_batch_size(s, 10);
    char k[16];
    for (int i = 0; i < 9; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snap_set(s, k, i);
    }
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.version, 0, "9 ops: below the batch size");
    snap_set(s, "k9", 9);
    cr_assert(snap_wait_len(s, 10, 20), "the 10th op publishes the batch");
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.by_size, 1);
    cr_assert_eq(info.by_age, 0);
    cr_assert_eq(info.by_flush, 0);
    cr_assert_eq(info.ops_applied, 10);
    gort_snapmap_free(s);
}

Test(snapmap, an_old_batch_is_published_by_the_flusher)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_age_ms(s, 20);
    snap_set(s, "a", 1);
    cr_assert(snap_wait_len(s, 1, 20), "published on age");
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.by_age, 1);
    cr_assert_eq(info.by_size, 0);
    /* The timer restarts with the next first op. */
    snap_set(s, "b", 2);
    snap_set(s, "c", 3);
    cr_assert(snap_wait_len(s, 3, 20));
    gort_snapmap_stats(s, &info);
    cr_assert_geq(info.by_age, 2);
    /* Age 0: publish as soon as the flusher runs. */
    gort_snapmap_set_batch_age_ms(s, 0);
    snap_set(s, "d", 4);
    cr_assert(snap_wait_len(s, 4, 20));
    gort_snapmap_free(s);
}

Test(snapmap, lowering_the_batch_size_below_the_queue_publishes_it)
{
    gort_snapmap *s = manual_map(8);
    snap_set(s, "a", 1);
    snap_set(s, "b", 2);
    gort_snapmap_set_batch_size(s, 2);
    cr_assert(snap_wait_len(s, 2, 20));
    gort_snapmap_free(s);
}

Test(snapmap, the_default_age_publishes_within_its_200_ms)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    snap_set(s, "a", 1);
    cr_assert(snap_wait_len(s, 1, 20));
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.by_age, 1);
    gort_snapmap_free(s);
}

/* The nice value of each of this process's threads, -100 for a thread
 * that could not be read; returns how many were read. */
static int thread_nices(int *nices, int cap)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        /* Field 19 is the nice value; fields after the command (which
         * may hold spaces) start after its closing parenthesis. */
        const char *p = strrchr(buf, ')');
        int nice = -100, field = 2;
        for (; p != NULL && *p != 0; p++) {
            if (*p == ' ' && ++field == 19) {
                nice = atoi(p + 1);
                break;
            }
        }
        nices[n++] = nice;
    }
    closedir(d);
    return n;
}

Test(snapmap, the_flusher_runs_nicer_than_its_creator_so_readers_come_first)
{
    errno = 0;
    int base = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    cr_assert(!(base == -1 && errno != 0));
    if (base >= 19)
        cr_skip_test("the test runs at nice 19 already");
    int want = base + 10 > 19 ? 19 : base + 10;
    int before[64];
    int n0 = thread_nices(before, 64);
    for (int i = 0; i < n0; i++)
        cr_assert_neq(before[i], want, "a thread at the flusher's nice");
    gort_snapmap *s = gort_snapmap_new_str(8);
    snap_set(s, "a", 1); /* starts the flusher goroutine */
    bool found = false;
    for (int tries = 0; tries < 2000 && !found; tries++) {
        int nices[64];
        int n = thread_nices(nices, 64);
        for (int i = 0; i < n; i++)
            found |= nices[i] == want;
        if (!found)
            sched_yield();
    }
    cr_assert(found, "no thread at nice %d once the flusher runs", want);
    gort_snapmap_flush(s);
    cr_assert_eq(snap_get(s, "a", -1), 1);
    gort_snapmap_free(s);
}

/* ===================================================================
 * Writers: back-pressure, writers holding views, many writers
 * =================================================================== */

Test(snapmap, a_writer_outside_views_never_finds_more_than_eight_batches)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_snapmap_set_batch_size(s, 8);
    char k[16];
    for (int i = 0; i < 4000; i++) {
        snprintf(k, sizeof k, "k%d", i % 100);
        snap_set(s, k, i);
        gort_snapmap_info info;
        gort_snapmap_stats(s, &info);
        /* Only this goroutine writes, and it returned with room. */
        cr_assert_lt(info.pending, 8 * 8, /* QUEUE_BATCHES batches of 8 */ "op %d: %zu pending", i, info.pending);
    }
    gort_snapmap_flush(s);
    cr_assert_eq(snap_get(s, "k99", -1), 3999);
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.ops_applied, 4000, "every op exactly once");
    cr_assert_geq(info.by_size, 4000 / (8 * 8), "published by size");
    gort_snapmap_free(s);
}

/* gort_snapmap_set_queue_batches(1): a version per batch, as a
 * copy-on-write map publishing every batch_size updates. */
Test(snapmap, one_queued_batch_makes_a_version_per_batch)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_snapmap_set_batch_size(s, 100);
    gort_snapmap_set_queue_batches(s, 1);
    char k[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "k%d", i % 300);
        snap_set(s, k, i);
        gort_snapmap_info info;
        gort_snapmap_stats(s, &info);
        cr_assert_eq(info.queue_batches, 1);
        cr_assert_lt(info.pending, 100, "op %d: %zu pending", i, info.pending);
    }
    gort_snapmap_flush(s);
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.ops_applied, 2000, "every op exactly once");
    /* A version per batch (with 8 queued batches, a writer faster than
     * publication makes versions of several). */
    cr_assert_geq(info.by_size, 19, "%llu versions by size",
                  (unsigned long long)info.by_size);
    cr_assert_eq(snap_get(s, "k299", -1), 1799);
    gort_snapmap_free(s);
}

static void set_zero_queue_batches(void *arg)
{
    gort_snapmap_set_queue_batches(arg, 0);
}

Test(snapmap, zero_queued_batches_panics)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    caught_panic c;
    call_catching(set_zero_queue_batches, s, &c);
    cr_assert(c.panicked);
    cr_assert_str_eq(c.msg, "gort_snapmap_set_queue_batches: 0 batches");
    gort_snapmap_free(s);
}

Test(snapmap, a_writer_holding_a_view_never_waits)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_snapmap_set_batch_size(s, 4);
    const gort_map *v = gort_snapmap_read_begin(s);
    char k[16];
    /* 250 batches while holding v: if the writer waited for the
     * flusher, which waits for v, this would never return. */
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snap_set(s, k, i);
    }
    cr_assert_eq(gort_map_len(v), 0, "still the old version");
    gort_snapmap_read_end(s, v);
    gort_snapmap_flush(s);
    cr_assert_eq(snap_get(s, "k999", -1), 999);
    cr_assert(snap_wait_len(s, 1000, 1));
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.ops_applied, 1000);
    cr_assert_eq(info.writer_waits, 0);
    gort_snapmap_free(s);
}

Test(snapmap, a_writer_inside_a_plain_read_section_never_waits)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    gort_snapmap_set_batch_size(s, 4);
    gort_read_begin();
    char k[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snap_set(s, k, i);
    }
    gort_read_end();
    gort_snapmap_flush(s);
    cr_assert(snap_wait_len(s, 1000, 1));
    gort_snapmap_free(s);
}

enum { NWRITERS = 4, PER_WRITER = 3000 };

typedef struct own_writer {
    gort_snapmap *s;
    int id;
    int bad;          /* acknowledged writes not visible after a flush */
    gort_waitgroup *wg;
} own_writer;

/* Writes its own keys in increasing values; after each flush its last
 * values must be visible to a fresh view. */
static void own_write(void *arg)
{
    own_writer *w = arg;
    char k[32];
    for (int i = 0; i < PER_WRITER; i++) {
        snprintf(k, sizeof k, "w%d-%d", w->id, i % 10);
        snap_set(w->s, k, i);
        if (i % 97 == 96) {
            gort_snapmap_flush(w->s);
            if (snap_get(w->s, k, -1) != i)
                w->bad++;
        }
    }
    gort_waitgroup_done(w->wg);
}

Test(snapmap, concurrent_writers_keep_their_order_and_flush_shows_their_writes)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_size(s, 50);
    gort_snapmap_set_batch_age_ms(s, 1);
    gort_waitgroup wg = {0};
    own_writer w[NWRITERS];
    gort_waitgroup_add(&wg, NWRITERS);
    for (int i = 0; i < NWRITERS; i++) {
        w[i] = (own_writer){s, i, 0, &wg};
        gort_go(own_write, &w[i]);
    }
    gort_waitgroup_wait(&wg);
    gort_snapmap_flush(s);
    char k[32];
    for (int i = 0; i < NWRITERS; i++) {
        cr_assert_eq(w[i].bad, 0, "writer %d", i);
        for (int j = 0; j < 10; j++) {
            snprintf(k, sizeof k, "w%d-%d", i, j);
            /* The last value written to key j: the largest i' < PER_WRITER
             * with i' % 10 == j. */
            cr_assert_eq(snap_get(s, k, -1), PER_WRITER - 10 + j);
        }
    }
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.ops_applied, NWRITERS * PER_WRITER);
    cr_assert_eq(info.ops_queued, NWRITERS * PER_WRITER);
    cr_assert_eq(info.len, NWRITERS * 10);
    gort_snapmap_free(s);
}

/* ===================================================================
 * Free
 * =================================================================== */

typedef struct final_state {
    int calls;
    size_t len;
    int64_t a, b;
} final_state;

static void record_final(const gort_map *m, void *arg)
{
    final_state *f = arg;
    f->calls++;
    f->len = gort_map_len(m);
    f->a = view_get(m, "a", -1);
    f->b = view_get(m, "b", -1);
}

Test(snapmap, free_applies_the_pending_ops)
{
    gort_snapmap *s = manual_map(8);
    snap_set(s, "a", 1);
    gort_snapmap_flush(s);
    snap_set(s, "a", 10);
    snap_set(s, "b", 20);
    final_state f = {0};
    gort__snapmap_set_free_hook(s, record_final, &f);
    gort_snapmap_free(s);
    cr_assert_eq(f.calls, 1);
    cr_assert_eq(f.len, 2);
    cr_assert_eq(f.a, 10);
    cr_assert_eq(f.b, 20);
}

Test(snapmap, free_of_a_map_never_written_starts_no_flusher)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    final_state f = {0};
    gort__snapmap_set_free_hook(s, record_final, &f);
    gort_snapmap_free(s);
    cr_assert_eq(f.calls, 1);
    cr_assert_eq(f.len, 0);
}

typedef struct holder {
    gort_snapmap *s;
    atomic_int opened;   /* 1 once the view is open */
    atomic_int ended;    /* 1 just before read_end */
    int64_t seen;        /* "a" read through the view after the wait */
    gort_waitgroup *wg;
} holder;

static void hold_view(void *arg)
{
    holder *h = arg;
    const gort_map *v = gort_snapmap_read_begin(h->s);
    atomic_store(&h->opened, 1);
    /* Give free time to run ahead if it did not wait for us; a free that
     * did would make the read below a use-after-free (ASan). */
    snap_sleep_ms(50);
    h->seen = view_get(v, "a", -1);
    atomic_store(&h->ended, 1);
    gort_snapmap_read_end(h->s, v);
    gort_waitgroup_done(h->wg);
}

Test(snapmap, free_waits_for_the_open_views)
{
    gort_snapmap *s = manual_map(8);
    snap_set(s, "a", 1);
    gort_snapmap_flush(s);
    snap_set(s, "a", 2); /* pending at free */
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, 1);
    holder h = {.s = s, .wg = &wg};
    gort_go(hold_view, &h);
    while (!atomic_load(&h.opened))
        snap_sleep_ms(1);
    gort_snapmap_free(s);
    cr_assert_eq(atomic_load(&h.ended), 1, "free returned before the view ended");
    gort_waitgroup_wait(&wg);
    cr_assert_eq(h.seen, 1, "the view kept its version");
}

/* Iterating a view marks its copy as iterated: a growth of that copy
 * then keeps its old array (and defers freeing deleted keys) for
 * iterators, until the map is cleared or emptied, which a snapmap's
 * copies never are.  The snapmap knows better: once the grace period
 * after a copy's unpublication ends, no iterator of it is left, and what
 * it kept goes.  Keys out of line (24+ bytes), 1000 live, churned; each
 * round a view is iterated whole.  Before: 4 retained arrays and 4000
 * deferred keys after 1500 rounds, 6 and 6000 after 3000. */
Test(snapmap, iterated_views_keep_no_memory_across_publications)
{
    gort_snapmap *s = manual_map(8);
    char k[64];
    int64_t next = 0, oldest = 0;
    for (; next < 1000; next++) {
        snprintf(k, sizeof k, "a-key-stored-out-of-line-%08lld", (long long)next);
        gort_snapmap_set_str(s, k, strlen(k), &next);
    }
    gort_snapmap_flush(s);
    size_t most_retained = 0, most_deferred = 0;
    for (int round = 0; round < 1500; round++) {
        for (int i = 0; i < 200; i++, next++, oldest++) {
            snprintf(k, sizeof k, "a-key-stored-out-of-line-%08lld", (long long)next);
            gort_snapmap_set_str(s, k, strlen(k), &next);
            snprintf(k, sizeof k, "a-key-stored-out-of-line-%08lld", (long long)oldest);
            gort_snapmap_delete_str(s, k, strlen(k));
        }
        gort_snapmap_flush(s);
        const gort_map *v = gort_snapmap_read_begin(s);
        size_t n = 0;
        gort_map_iter it;
        gort_map_iter_init(&it, v);
        while (gort_map_iter_next(&it))
            n++;
        cr_assert_eq(n, 1000);
        gort_map_info info;
        gort_map_stats(v, &info);
        if (info.retained_arrays > most_retained)
            most_retained = info.retained_arrays;
        if (info.deferred_keys > most_deferred)
            most_deferred = info.deferred_keys;
        cr_assert(gort__map_verify(v));
        gort_snapmap_read_end(s, v);
    }
    /* A growth under way when its copy is forgotten keeps its old array
     * until the next publication (its keys may be shared with it): one
     * array, and the keys deleted meanwhile, at most. */
    cr_assert_leq(most_retained, 1, "a copy kept %zu arrays", most_retained);
    cr_assert_leq(most_deferred, 400, "a copy kept %zu deleted keys", most_deferred);
    gort_snapmap_free(s);
}

/* ===================================================================
 * fork
 * =================================================================== */

/* Sanitizer builds skip it, as read_section's fork tests do: TSan ends a
 * child that starts a thread after a multi-threaded fork, and GCC 12's
 * ASan allocator is not fork-safe (tests/atomic_value/test_read_section.c). */
#if defined(__SANITIZE_ADDRESS__)
#define SNAP_FORK_UNSAFE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SNAP_FORK_UNSAFE 1
#endif
#endif
#ifdef GORT__TSAN
#define SNAP_FORK_UNSAFE 1
#endif

/* The parent's flusher goroutine is not in a child of fork: the child's
 * writes must start its own, or its writer waits forever once eight
 * batches are queued, size-triggered batches are never published, and
 * free waits for a flusher that does not exist. */
Test(snapmap, a_child_of_fork_writes_flushes_and_frees)
{
#ifdef SNAP_FORK_UNSAFE
    cr_skip_test("sanitizers: no fork of a multi-threaded process here");
#else
    gort_snapmap *s = gort_snapmap_new_str(8);
    gort_snapmap_set_batch_size(s, 1); /* every write: a flusher batch */
    gort_snapmap_set_batch_age_ms(s, UINT_MAX);
    snap_set(s, "parent", 1);
    cr_assert(snap_wait_len(s, 1, 10), "the parent's flusher published");
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        alarm(20); /* a hang ends the child by SIGALRM */
        char k[16];
        for (int i = 0; i < 40; i++) { /* 5 times the writer's bound */
            snprintf(k, sizeof k, "child%d", i);
            snap_set(s, k, i);
        }
        if (!snap_wait_len(s, 41, 10)) /* published by the size trigger */
            _exit(3);
        snap_set(s, "flushed", 7);
        gort_snapmap_flush(s);
        if (snap_get(s, "flushed", -1) != 7 || snap_get(s, "child39", -1) != 39 ||
            snap_get(s, "parent", -1) != 1)
            _exit(4);
        gort_snapmap_free(s);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child's snapmap failed (status %#x: signal 14 is a hang)",
              status);
    /* The parent's map and flusher are untouched. */
    snap_set(s, "after", 2);
    cr_assert(snap_wait_len(s, 2, 10));
    gort_snapmap_free(s);
#endif
}

/* ===================================================================
 * Panics out of views
 * =================================================================== */

static gort_snapmap *panic_map;

static void panic_in_view(void *arg)
{
    (void)arg;
    const gort_map *v = gort_snapmap_read_begin(panic_map);
    const gort_map *v2 = gort_snapmap_read_begin(panic_map);
    (void)v2;
    if (gort_map_len(v) == 1)
        gort_panic("boom with two views open");
    gort_snapmap_read_end(panic_map, v); /* not reached */
}

/* Two snapmaps whose views sit at the same distance from their maps
 * (maps made one after another mostly do): a section's tag must tell
 * their views apart, as a pair (map, view), not by that distance. */
static void same_offset_maps(gort_snapmap **a, gort_snapmap **b)
{
    enum { N = 16 };
    gort_snapmap *m[N];
    ptrdiff_t off[N];
    for (int i = 0; i < N; i++) {
        m[i] = manual_map(8);
        const gort_map *v = gort_snapmap_read_begin(m[i]);
        off[i] = (const char *)v - (const char *)m[i];
        gort_snapmap_read_end(m[i], v);
    }
    *a = m[0];
    *b = m[1];
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (off[i] == off[j] && *a == m[0] && *b == m[1]) {
                *a = m[i];
                *b = m[j];
            }
    for (int i = 0; i < N; i++)
        if (m[i] != *a && m[i] != *b)
            gort_snapmap_free(m[i]);
}

static gort_snapmap *off_b;

static void end_a_then_panic(void *arg)
{
    const gort_map **va = arg;
    const gort_map *vb = gort_snapmap_read_begin(off_b);
    (void)vb;
    gort_snapmap_read_end(panic_map, *va);
    gort_panic("boom with b's view open");
}

Test(snapmap, views_of_maps_at_equal_offsets_end_out_of_order_and_recover)
{
    gort_snapmap *a, *b;
    same_offset_maps(&a, &b);
    panic_map = a;
    off_b = b;
    /* a's view outside any frame; b's inside the frame that recovers;
     * a's ended there, out of order, before the panic: the recovery must
     * close b's, and nothing else is open afterwards. */
    const gort_map *va = gort_snapmap_read_begin(a);
    caught_panic c;
    call_catching(end_a_then_panic, &va, &c);
    cr_assert(c.panicked);
    cr_assert_eq(gort__rs.depth, 0u, "a section leaked");
    snap_set(a, "k", 1);
    gort_snapmap_flush(a); /* fatal inside a view */
    snap_set(b, "k", 2);
    gort_snapmap_flush(b);
    cr_assert_eq(snap_get(a, "k", -1), 1);
    cr_assert_eq(snap_get(b, "k", -1), 2);
    gort_snapmap_free(a);
    gort_snapmap_free(b);
}

Test(snapmap, a_panic_recovered_outside_a_view_leaves_no_view_open)
{
    panic_map = manual_map(8);
    snap_set(panic_map, "a", 1);
    gort_snapmap_flush(panic_map);
    /* An outer view opened before the frame that recovers stays open. */
    const gort_map *outer = gort_snapmap_read_begin(panic_map);
    caught_panic c;
    call_catching(panic_in_view, NULL, &c);
    cr_assert(c.panicked);
    cr_assert_str_eq(c.msg, "boom with two views open");
    cr_assert_eq(view_get(outer, "a", -1), 1);
    gort_snapmap_read_end(panic_map, outer);
    /* No view, no section left: flush (which would be fatal inside a
     * view) and free work. */
    snap_set(panic_map, "a", 2);
    gort_snapmap_flush(panic_map);
    cr_assert_eq(snap_get(panic_map, "a", -1), 2);
    gort_snapmap_free(panic_map);
}

/* ===================================================================
 * Misuse that panics (recoverable, like Go's plain errors)
 * =================================================================== */

static void nil_set(void *a)
{
    (void)a;
    int64_t v = 1;
    gort_snapmap_set_str(NULL, "k", 1, &v);
}
static void nil_delete(void *a)
{
    (void)a;
    gort_snapmap_delete_str(NULL, "k", 1);
}
static void nil_flush(void *a)
{
    (void)a;
    gort_snapmap_flush(NULL);
}
static void nil_begin(void *a)
{
    (void)a;
    gort_snapmap_read_begin(NULL);
}
static void nil_batch_size(void *a)
{
    (void)a;
    gort_snapmap_set_batch_size(NULL, 10);
}
static void nil_batch_age(void *a)
{
    (void)a;
    gort_snapmap_set_batch_age_ms(NULL, 10);
}
static void nil_stats(void *a)
{
    (void)a;
    gort_snapmap_info info;
    gort_snapmap_stats(NULL, &info);
}
static void null_key_set(void *s)
{
    int64_t v = 1;
    gort_snapmap_set_str(s, NULL, 5, &v);
}
static void null_key_delete(void *s)
{
    gort_snapmap_delete_str(s, NULL, 3);
}
static void null_value(void *s)
{
    gort_snapmap_set_str(s, "k", 1, NULL);
}
static void batch_size_0(void *s)
{
    gort_snapmap_set_batch_size(s, 0);
}
static void huge_values(void *a)
{
    (void)a;
    gort_snapmap_new_str((size_t)1 << 40);
}

static void expect_panic(void (*fn)(void *), void *arg, const char *msg)
{
    caught_panic c;
    call_catching(fn, arg, &c);
    cr_assert(c.panicked, "no panic, expected \"%s\"", msg);
    cr_assert_str_eq(c.msg, msg);
}

Test(snapmap_args, a_nil_snapmap_panics_naming_the_function)
{
    expect_panic(nil_set, NULL, "gort_snapmap_set_str: nil snapmap");
    expect_panic(nil_delete, NULL, "gort_snapmap_delete_str: nil snapmap");
    expect_panic(nil_flush, NULL, "gort_snapmap_flush: nil snapmap");
    expect_panic(nil_begin, NULL, "gort_snapmap_read_begin: nil snapmap");
    expect_panic(nil_batch_size, NULL,
                 "gort_snapmap_set_batch_size: nil snapmap");
    expect_panic(nil_batch_age, NULL,
                 "gort_snapmap_set_batch_age_ms: nil snapmap");
    expect_panic(nil_stats, NULL, "gort_snapmap_stats: nil snapmap");
}

Test(snapmap_args, bad_arguments_panic_and_change_nothing)
{
    gort_snapmap *s = manual_map(8);
    expect_panic(null_key_set, s,
                 "gort_snapmap_set_str: NULL key with length 5");
    expect_panic(null_key_delete, s,
                 "gort_snapmap_delete_str: NULL key with length 3");
    expect_panic(null_value, s,
                 "gort_snapmap_set_str: NULL value with value size 8");
    expect_panic(batch_size_0, s, "gort_snapmap_set_batch_size: batch size 0");
    expect_panic(huge_values, NULL,
                 "gort_snapmap_new_str: value size 1099511627776 is larger "
                 "than 134217728 bytes");
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    cr_assert_eq(info.ops_queued, 0);
    cr_assert_eq(info.batch_size, SIZE_MAX, "unchanged by the bad call");
    /* Still usable. */
    snap_set(s, "k", 7);
    gort_snapmap_flush(s);
    cr_assert_eq(snap_get(s, "k", -1), 7);
    gort_snapmap_free(s);
}
