/*
 * scn_snapmap.c - scenario snapmap (the design notes' "MapWrapper":
 * read-only views, write-deferred batches) and its child part.
 *
 *     type MapWrapper struct { view atomic.Pointer[map]; batch []op; ... }
 *
 * A config-like map[string]int64 read by many and written in batches.
 * The scenario shows the three ways a batch becomes a version (size, age,
 * flush), that a view is a snapshot that stays valid while newer
 * versions are published, the statistics, and (child) that a view cannot
 * be written.
 */
#include "demo.h"

#include <gort/gort.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void put(gort_snapmap *s, const char *k, int64_t v)
{
    gort_snapmap_set_str(s, k, strlen(k), &v);
}

/* m[k] in a fresh view, or -1. */
static int64_t get(gort_snapmap *s, const char *k)
{
    const gort_map *view = gort_snapmap_read_begin(s);
    const int64_t *v = gort_map_get_str(view, k, strlen(k));
    int64_t r = v != NULL ? *v : -1;
    gort_snapmap_read_end(s, view);
    return r;
}

static gort_snapmap_info stats(gort_snapmap *s)
{
    gort_snapmap_info info;
    gort_snapmap_stats(s, &info);
    return info;
}

static size_t view_len(gort_snapmap *s)
{
    const gort_map *view = gort_snapmap_read_begin(s);
    size_t n = gort_map_len(view);
    gort_snapmap_read_end(s, view);
    return n;
}

/* Polls fresh views (1 ms sleeps, 10 s at most) until one has @len
 * entries. */
static bool wait_len(gort_snapmap *s, size_t len)
{
    double end = now_ms() + 10000;
    while (view_len(s) != len) {
        if (now_ms() > end)
            return false;
        sleep_ms(1);
    }
    return true;
}

static void print_view(const char *label, const gort_map *view)
{
    printf("    %s: %zu entries {", label, gort_map_len(view));
    /* Sorted by key for a stable output (iteration order is random). */
    static const char *const keys[] = {"a", "b", "c", "d", "e", "f",
                                       "g", "h", "i", "j", "k"};
    const char *sep = "";
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const int64_t *v = gort_map_get_str(view, keys[i], 1);
        if (v != NULL) {
            printf("%s%s:%" PRId64, sep, keys[i], *v);
            sep = " ";
        }
    }
    printf("}\n");
}

typedef struct flusher_arg {
    gort_snapmap *s;
    gort_waitgroup wg;
} flusher_arg;

/* Another goroutine's flush: it publishes at once, then waits until the
 * views of the replaced version have ended. */
static void flush_elsewhere(void *arg)
{
    flusher_arg *f = arg;
    gort_snapmap_flush(f->s);
    gort_waitgroup_done(&f->wg);
}

int scenario_snapmap(void)
{
    int fails = 0;
    gort_snapmap *s = gort_snapmap_new_str(sizeof(int64_t));
    gort_snapmap_set_batch_size(s, 5);
    /* A minute, except in step 2: a slow machine (valgrind, sanitizers)
     * must not see the age trigger fire in the other steps. */
    gort_snapmap_set_batch_age_ms(s, 60000);
    printf("  m := snapmap[string]int64, batch size 5 ops, batch age 1 "
           "minute (100 ms in step 2)\n");

    printf("\n  1. Batch by size: 4 writes are queued, the 5th fills the "
           "batch.\n");
    const gort_map *v0 = gort_snapmap_read_begin(s);
    put(s, "a", 1);
    put(s, "b", 2);
    put(s, "c", 3);
    put(s, "a", 10); /* the same key again: applied in order */
    gort_snapmap_info info = stats(s);
    printf("    after 4 writes: version %" PRIu64 ", %zu pending, "
           "m[\"a\"] = %" PRId64 " (absent: -1)\n",
           info.version, info.pending, get(s, "a"));
    fails += demo_check(info.version == 0 && info.pending == 4 &&
                            get(s, "a") == -1,
                        "queued writes are not visible yet");
    put(s, "d", 4);
    fails += demo_check(wait_len(s, 4), "the flusher goroutine published "
                                        "the full batch");
    info = stats(s);
    printf("    after the 5th: version %" PRIu64 " (by size: %" PRIu64
           "), m[\"a\"] = %" PRId64 "\n",
           info.version, info.by_size, get(s, "a"));
    fails += demo_check(info.by_size == 1 && get(s, "a") == 10,
                        "version 1 by size, writes applied in order");
    print_view("view opened before, still version 0", v0);
    fails += demo_check(gort_map_len(v0) == 0, "an open view is a snapshot");
    gort_snapmap_read_end(s, v0);

    printf("\n  2. Batch by age: 2 writes, no more; the flusher publishes "
           "them when the\n     oldest is 100 ms old.\n");
    gort_snapmap_set_batch_age_ms(s, 100);
    double t0 = now_ms();
    put(s, "e", 5);
    put(s, "f", 6);
    bool aged = wait_len(s, 6);
    double waited = now_ms() - t0;
    info = stats(s);
    printf("    published after %.0f ms: version %" PRIu64 " (by age: %" PRIu64
           ")\n",
           waited, info.version, info.by_age);
    fails += demo_check(aged && info.by_age == 1 && waited >= 100,
                        "version 2 by age, not before 100 ms");
    gort_snapmap_set_batch_age_ms(s, 60000);

    printf("\n  3. Flush: 3 writes, then gort_snapmap_flush returns once "
           "they are visible.\n");
    put(s, "g", 7);
    put(s, "h", 8);
    gort_snapmap_delete_str(s, "b", 1);
    gort_snapmap_flush(s);
    info = stats(s);
    printf("    right after the flush: version %" PRIu64 " (by flush: %" PRIu64
           "), m[\"g\"] = %" PRId64 ", m[\"b\"] = %" PRId64 "\n",
           info.version, info.by_flush, get(s, "g"), get(s, "b"));
    fails += demo_check(info.by_flush == 1 && get(s, "g") == 7 &&
                            get(s, "b") == -1,
                        "version 3 by flush, visible when flush returns");

    printf("\n  4. Versions: a view stays valid while newer versions are "
           "published;\n     the old copy is reused only after its last "
           "view ends.\n");
    const gort_map *v3 = gort_snapmap_read_begin(s);
    const int64_t *slot = gort_map_get_str(v3, "a", 1);
    put(s, "a", 100);
    put(s, "i", 9);
    flusher_arg fa = {.s = s};
    gort_waitgroup_add(&fa.wg, 1);
    gort_go(flush_elsewhere, &fa); /* we hold a view: we may not flush */
    double end = now_ms() + 10000;
    while (get(s, "a") != 100 && now_ms() < end)
        sleep_ms(1);
    const gort_map *v4 = gort_snapmap_read_begin(s); /* nested in v3 */
    print_view("new view (version 4)", v4);
    gort_snapmap_read_end(s, v4);
    print_view("held view (version 3)", v3);
    printf("    slot m[\"a\"] found through the held view still reads %" PRId64
           "\n",
           *slot);
    fails += demo_check(get(s, "a") == 100 && *slot == 10,
                        "new views see version 4, the held view version 3");
    info = stats(s);
    printf("    the other goroutine's flush is waiting for this view "
           "(version %" PRIu64 " published)\n",
           info.version);
    gort_snapmap_read_end(s, v3);
    gort_waitgroup_wait(&fa.wg);
    printf("    view ended: the flush returned, the old copy caught up\n");

    printf("\n  5. Statistics:\n");
    info = stats(s);
    printf("    versions %" PRIu64 " (size %" PRIu64 ", age %" PRIu64
           ", flush %" PRIu64 "), ops queued %" PRIu64 ", applied %" PRIu64
           ",\n    entries %zu, pending %zu, writer waits %" PRIu64 "\n",
           info.version, info.by_size, info.by_age, info.by_flush,
           info.ops_queued, info.ops_applied, info.len, info.pending,
           info.writer_waits);
    fails += demo_check(info.version == 4 && info.ops_applied == 12 &&
                            info.ops_queued == 12 && info.len == 8,
                        "4 versions, 12 ops each applied once, 8 entries");
    gort_snapmap_free(s);

    printf("\n  6. Writing through a view (the const cast away) is a fatal "
           "error (child):\n");
    fails += demo_run_child("snapmap-write-view");
    return fails;
}

int child_snapmap_write_view(void)
{
    gort_snapmap *s = gort_snapmap_new_str(sizeof(int64_t));
    put(s, "a", 1);
    gort_snapmap_flush(s);
    const gort_map *view = gort_snapmap_read_begin(s);
    printf("    view: m[\"a\"] = %" PRId64 "; now *gort_map_set_str("
           "(gort_map *)view, \"a\") = 2\n",
           *(const int64_t *)gort_map_get_str(view, "a", 1));
    fflush(stdout);
    int64_t *v = gort_map_set_str((gort_map *)view, "a", 1);
    *v = 2;
    printf("    the write went through (not the documented behaviour)\n");
    return 1;
}
