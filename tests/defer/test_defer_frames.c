/*
 * Defer frames in depth: order across nested frames, every exit path,
 * arguments copied at the defer statement (every storage class of the
 * copy), thousands of defers in one frame (the per-thread pool beyond the
 * eight inline records), deep recursion with a panic recovered at the
 * top, deferred calls that panic on the normal path, deferred NULL
 * functions.
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char trail[512];

static void trail_reset(void)
{
    trail[0] = '\0';
}

static void note(void *arg)
{
    size_t n = strlen(trail);
    snprintf(trail + n, sizeof trail - n, "%s", (const char *)arg);
}

/* ===================================================================
 * Order and exit paths
 * =================================================================== */

static char after_inner[sizeof trail];

static void inner_frame(void)
{
    GORT_FRAME;
    gort_defer(note, "i1");
    gort_defer(note, "i2");
}

static void outer_frame(void)
{
    GORT_FRAME;
    gort_defer(note, "o1");
    inner_frame();
    snprintf(after_inner, sizeof after_inner, "%s", trail);
    gort_defer(note, "o2");
}

Test(defer, runs_each_frame_s_calls_when_that_frame_returns)
{
    trail_reset();
    outer_frame();
    cr_assert_str_eq(after_inner, "i2i1", "the inner frame's calls ran late");
    cr_assert_str_eq(trail, "i2i1o2o1");
}

static int loop_exit(int stop)
{
    GORT_FRAME_RETURN(-1);
    gort_defer(note, "[");
    for (int i = 0; i < 10; i++) {
        if (i == stop) {
            gort_defer(note, "!");
            return i;
        }
    }
    {
        gort_defer(note, "{}"); /* a nested block: still the function's frame */
    }
    return 100;
}

Test(defer, runs_the_frame_s_calls_on_a_return_from_a_loop_or_a_block)
{
    trail_reset();
    cr_assert_eq(loop_exit(3), 3);
    cr_assert_str_eq(trail, "![");
    trail_reset();
    cr_assert_eq(loop_exit(20), 100);
    cr_assert_str_eq(trail, "{}[");
}

static void falls_off_the_end(int n)
{
    GORT_FRAME;
    if (n > 0)
        gort_defer(note, "x");
}

Test(defer, runs_the_calls_when_a_void_function_falls_off_its_end)
{
    trail_reset();
    falls_off_the_end(1);
    falls_off_the_end(0);
    falls_off_the_end(2);
    cr_assert_str_eq(trail, "xx");
}

static void add_one(void *arg)
{
    ++*(int *)arg;
}

static int uses_later_local(void)
{
    int before = 0;
    GORT_FRAME_RETURN(-1);
    int after = 10; /* declared after the frame, in the outermost block */
    gort_defer(add_one, &before);
    gort_defer(add_one, &after);
    return before + after;
}

Test(defer, lets_deferred_calls_use_locals_of_the_outermost_block)
{
    /* C's normal path evaluates the result before the deferred calls. */
    cr_assert_eq(uses_later_local(), 10);
}

Test(defer, accepts_a_frame_without_deferred_calls)
{
    trail_reset();
    inner_frame();
    {
        GORT_FRAME;
        (void)0;
    }
    cr_assert_str_eq(trail, "i2i1");
}

/* ===================================================================
 * gort_defer_copy: every size class of the copy
 * =================================================================== */

typedef struct copy_check {
    size_t size;
    unsigned char seed;
    int called;
    int bad_align;
    int bad_bytes;
} copy_check;

static copy_check checks[8];
static int ncheck;

static void check_copy(void *arg)
{
    copy_check *c = &checks[--ncheck];
    c->called++;
    if (c->size == 0)
        return;
    if ((uintptr_t)arg % alignof(max_align_t) != 0)
        c->bad_align++;
    const unsigned char *p = arg;
    for (size_t i = 0; i < c->size; i++)
        if (p[i] != (unsigned char)(c->seed + i))
            c->bad_bytes++;
}

static void defer_copies(const size_t *sizes, size_t n, int pad_to_pool)
{
    static unsigned char src[4096];
    GORT_FRAME;
    for (int i = 0; i < pad_to_pool; i++)
        gort_defer(note, "");
    for (size_t k = 0; k < n; k++) {
        copy_check *c = &checks[ncheck++];
        *c = (copy_check){sizes[k], (unsigned char)(k * 31 + 1), 0, 0, 0};
        for (size_t i = 0; i < c->size; i++)
            src[i] = (unsigned char)(c->seed + i);
        gort_defer_copy(check_copy, c->size ? src : NULL, c->size);
        memset(src, 0xEE, sizeof src); /* the copy was taken already */
    }
}

static const size_t copy_sizes[] = {0, 1, 16, 17, 4096};
enum { NSIZES = sizeof copy_sizes / sizeof copy_sizes[0] };

static void assert_copies(void)
{
    cr_assert_eq(ncheck, 0);
    for (size_t k = 0; k < NSIZES; k++) {
        const copy_check *c = &checks[k];
        cr_assert_eq(c->called, 1, "size %zu: called %d times", c->size, c->called);
        cr_assert_eq(c->bad_align, 0, "size %zu: copy misaligned", c->size);
        cr_assert_eq(c->bad_bytes, 0, "size %zu: %d bytes differ", c->size,
                     c->bad_bytes);
    }
}

Test(defer, copy_passes_a_copy_taken_at_the_defer_statement_for_every_size)
{
    ncheck = 0;
    defer_copies(copy_sizes, NSIZES, 0);
    assert_copies();
}

Test(defer, copy_works_the_same_in_pooled_records)
{
    ncheck = 0;
    defer_copies(copy_sizes, NSIZES, 8);
    assert_copies();
}

static void copies_then_panics(int pad)
{
    GORT_FRAME;
    for (int i = 0; i < pad; i++)
        gort_defer(note, "");
    for (size_t k = 0; k < NSIZES; k++) {
        static unsigned char src[4096];
        copy_check *c = &checks[ncheck++];
        *c = (copy_check){copy_sizes[k], (unsigned char)(k + 5), 0, 0, 0};
        for (size_t i = 0; i < c->size; i++)
            src[i] = (unsigned char)(c->seed + i);
        gort_defer_copy(check_copy, c->size ? src : NULL, c->size);
    }
    gort_panic("run the copies");
}

static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static void recover_copies_then_panics(int pad)
{
    GORT_FRAME;
    gort_defer(swallow, NULL);
    copies_then_panics(pad);
}

/* Under ASan this also checks that a panic frees the heap copies. */
Test(defer, copy_passes_the_copy_to_calls_run_by_a_panic)
{
    ncheck = 0;
    recover_copies_then_panics(0);
    assert_copies();
    ncheck = 0;
    recover_copies_then_panics(9);
    assert_copies();
}

/* A pooled record whose small copy is passed to a function that defers
 * many calls itself: the record goes back to the pool before the call, so
 * the copy must not live in it any more. */
typedef struct sixteen {
    uint64_t a, b;
} sixteen;

static sixteen seen_after_inner;

static void clobber_arg(void *arg)
{
    (void)arg;
}

static void defers_many_then_reads(void *arg)
{
    {
        GORT_FRAME;
        for (uint64_t i = 0; i < 100; i++) {
            sixteen junk = {~i, i};
            gort_defer_copy(clobber_arg, &junk, sizeof junk);
        }
    }
    seen_after_inner = *(const sixteen *)arg;
}

static void pooled_small_copy_reused(void)
{
    GORT_FRAME;
    for (int i = 0; i < 8; i++)
        gort_defer(note, "");
    sixteen v = {0x1111111111111111u, 0x2222222222222222u};
    gort_defer_copy(defers_many_then_reads, &v, sizeof v);
}

Test(defer, copy_survives_a_call_that_reuses_its_pooled_record)
{
    pooled_small_copy_reused();
    cr_assert_eq(seen_after_inner.a, 0x1111111111111111u);
    cr_assert_eq(seen_after_inner.b, 0x2222222222222222u);
}

/* ===================================================================
 * Thousands of defers in one frame
 * =================================================================== */

enum { MANY = 10000 };
static int seq[MANY];
static int nseq;

static void record_copied(void *arg)
{
    seq[nseq++] = *(const int *)arg;
}

static void record_pointer(void *arg)
{
    seq[nseq++] = (int)(intptr_t)arg;
}

static void ten_thousand(int copy)
{
    GORT_FRAME;
    for (int i = 0; i < MANY; i++) {
        if (copy)
            gort_defer_copy(record_copied, &i, sizeof i);
        else
            gort_defer(record_pointer, (void *)(intptr_t)i);
    }
}

static void assert_reverse_order(void)
{
    cr_assert_eq(nseq, MANY);
    for (int k = 0; k < MANY; k++)
        cr_assert_eq(seq[k], MANY - 1 - k, "call %d ran with %d", k, seq[k]);
}

Test(defer, runs_ten_thousand_calls_of_one_frame_in_lifo_order)
{
    for (int round = 0; round < 3; round++) {
        nseq = 0;
        ten_thousand(round & 1);
        assert_reverse_order();
    }
}

static void ten_thousand_then_panic(void)
{
    GORT_FRAME;
    for (int i = 0; i < MANY; i++)
        gort_defer_copy(record_copied, &i, sizeof i);
    gort_panic("many");
}

static int recover_ten_thousand(void)
{
    GORT_FRAME_RETURN(1);
    gort_defer(swallow, NULL);
    ten_thousand_then_panic();
    return 0;
}

Test(defer, runs_ten_thousand_calls_of_one_frame_during_a_panic)
{
    nseq = 0;
    cr_assert_eq(recover_ten_thousand(), 1);
    assert_reverse_order();
}

/* ===================================================================
 * Deep recursion, on a thread gort did not start (with a stack big
 * enough: a frame with its eight inline records and resume buffer takes
 * close to 1 KB, so 10,000 levels do not fit in the default 8 MB).
 * =================================================================== */

enum { DEPTH = 10000 };
static int level_seq[DEPTH * 3];
static int nlevel;

static void record_level(void *arg)
{
    level_seq[nlevel++] = (int)(intptr_t)arg;
}

static void recurse(int level, int panic_at_bottom)
{
    GORT_FRAME;
    gort_defer(record_level, (void *)(intptr_t)level);
    if (level % 1000 == 0) {
        /* some levels spill into the pool */
        for (int i = 0; i < 10; i++)
            gort_defer(record_level, (void *)(intptr_t)-1);
    }
    if (level + 1 < DEPTH)
        recurse(level + 1, panic_at_bottom);
    else if (panic_at_bottom)
        gort_panic("bottom");
    gort_defer(record_level, (void *)(intptr_t)(DEPTH + level));
}

static char deep_recovered[32];

static void recover_at_top(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(deep_recovered, sizeof deep_recovered, "%s",
             p != NULL ? gort_panic_message(p) : "nil");
}

static int deep_top(int panic_at_bottom)
{
    GORT_FRAME_RETURN(-1);
    gort_defer(recover_at_top, NULL);
    recurse(0, panic_at_bottom);
    return 0;
}

typedef struct deep_run {
    int panic_at_bottom;
    int result;
} deep_run;

static void *deep_thread(void *arg)
{
    deep_run *r = arg;
    r->result = deep_top(r->panic_at_bottom);
    gort_thread_detach();
    return NULL;
}

static void run_deep(deep_run *r)
{
    pthread_attr_t attr;
    pthread_t t;
    cr_assert_eq(pthread_attr_init(&attr), 0);
    cr_assert_eq(pthread_attr_setstacksize(&attr, (size_t)512 << 20), 0);
    cr_assert_eq(pthread_create(&t, &attr, deep_thread, r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

/* The deferred calls of a level, in the order they must run. */
static int expect_level(int level, int panicked, int *out)
{
    int n = 0;
    if (!panicked)
        out[n++] = DEPTH + level;
    if (level % 1000 == 0)
        for (int i = 0; i < 10; i++)
            out[n++] = -1;
    out[n++] = level;
    return n;
}

static void assert_deep_order(int panicked)
{
    int k = 0;
    for (int level = DEPTH - 1; level >= 0; level--) {
        int want[12];
        int n = expect_level(level, panicked, want);
        for (int i = 0; i < n; i++, k++)
            cr_assert_eq(level_seq[k], want[i], "level %d: call %d ran %d, want %d",
                         level, i, level_seq[k], want[i]);
    }
    cr_assert_eq(nlevel, k);
}

Test(defer, runs_every_level_of_a_10000_deep_recursion_in_order)
{
    deep_run r = {0, 7};
    nlevel = 0;
    strcpy(deep_recovered, "unset");
    run_deep(&r);
    cr_assert_eq(r.result, 0);
    cr_assert_str_eq(deep_recovered, "nil");
    assert_deep_order(0);
}

Test(defer, recovers_at_the_top_a_panic_from_10000_levels_down)
{
    deep_run r = {1, 7};
    nlevel = 0;
    run_deep(&r);
    cr_assert_eq(r.result, -1);
    cr_assert_str_eq(deep_recovered, "bottom");
    assert_deep_order(1);
}

/* ===================================================================
 * Deferred calls that panic on the normal return path
 * =================================================================== */

static void panics(void *arg)
{
    gort_panic("%s", (const char *)arg);
}

static void copied_panics(void *arg)
{
    gort_panic("%s", ((const char *const *)arg)[0]);
}

static void return_path_panics(int pad)
{
    GORT_FRAME;
    gort_defer(note, "a");
    for (int i = 0; i < pad; i++)
        gort_defer(note, "");
    if (pad > 8) {
        /* a heap copy, run while it is still on the chain */
        const char *big[8] = {"from deferred"};
        gort_defer_copy(copied_panics, big, sizeof big);
    } else {
        gort_defer(panics, "from deferred");
    }
    gort_defer(note, "c");
}

static char rp_seen[64];

static void recover_into_rp(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    snprintf(rp_seen, sizeof rp_seen, "%s", p ? gort_panic_message(p) : "nil");
}

static void catches_return_path(int pad)
{
    GORT_FRAME;
    gort_defer(recover_into_rp, NULL);
    return_path_panics(pad);
    note((void *)"never");
}

Test(defer, a_panic_in_a_deferred_call_runs_the_frame_s_remaining_calls)
{
    int pads[] = {0, 3, 9, 20};
    for (size_t k = 0; k < sizeof pads / sizeof pads[0]; k++) {
        trail_reset();
        rp_seen[0] = '\0';
        catches_return_path(pads[k]);
        cr_assert_str_eq(trail, "ca", "pad %d", pads[k]);
        cr_assert_str_eq(rp_seen, "from deferred", "pad %d", pads[k]);
    }
}

/* ===================================================================
 * Deferred NULL functions (Go's test/defernil.go; more in go_defer)
 * =================================================================== */

static int state;

static void defers_nil(int pad)
{
    GORT_FRAME;
    for (int i = 0; i < pad; i++)
        gort_defer(note, ".");
    gort_defer(NULL, NULL);
    state = 2; /* the panic comes at the return, not at the defer */
}

static bool nil_seen;
static const gort_error *nil_err;
static char nil_msg[128];

static void recover_nil(void *arg)
{
    (void)arg;
    const gort_panic_info *p = gort_recover();
    nil_seen = p != NULL;
    nil_err = gort_panic_error(p);
    snprintf(nil_msg, sizeof nil_msg, "%s", p ? gort_panic_message(p) : "nil");
}

static void catches_nil(int pad)
{
    GORT_FRAME;
    gort_defer(recover_nil, NULL);
    defers_nil(pad);
}

Test(defer, of_null_panics_with_the_nil_dereference_error_when_run)
{
    int pads[] = {0, 8, 20};
    for (size_t k = 0; k < sizeof pads / sizeof pads[0]; k++) {
        trail_reset();
        state = 1;
        nil_seen = false;
        catches_nil(pads[k]);
        cr_assert_eq(state, 2, "panicked at the defer statement");
        cr_assert(nil_seen, "did not panic (pad %d)", pads[k]);
        cr_assert_eq(nil_err, &gort_err_nil_deref);
        cr_assert(gort_error_is_runtime(nil_err));
        cr_assert_str_eq(nil_msg,
                         "runtime error: invalid memory address or nil pointer "
                         "dereference");
        /* the calls registered before the nil one still ran, by the panic */
        cr_assert_eq(strlen(trail), (size_t)pads[k], "pad %d", pads[k]);
    }
}

static void nil_during_panic(void)
{
    GORT_FRAME;
    gort_defer(NULL, NULL);
    gort_panic("first");
}

static void catches_nil_during_panic(void)
{
    GORT_FRAME;
    gort_defer(recover_nil, NULL);
    nil_during_panic();
}

Test(defer, of_null_run_by_a_panic_replaces_it_with_the_nil_dereference_panic)
{
    nil_seen = false;
    catches_nil_during_panic();
    cr_assert(nil_seen);
    cr_assert_eq(nil_err, &gort_err_nil_deref);
}
