/*
 * Iteration (Go's hiter): every entry once, random order, deletions and
 * insertions during an iteration, growth during an iteration (iterators
 * started before and during a growth), iterators kept across growths and
 * abandoned ones, clear during an iteration, and what the map keeps for
 * iterators (retained arrays, deferred key copies) and when it lets go.
 */
#include "map_test.h"

#include <criterion/criterion.h>

#include <stdlib.h>

enum { NKEYS = 20000 };

/* Per-key state of an iteration check over u64 keys 0..NKEYS-1. */
typedef struct iter_check {
    uint8_t must[NKEYS];     /* present at the start and never deleted */
    uint8_t produced[NKEYS]; /* produced once already */
    uint8_t present[NKEYS];  /* in the map now */
} iter_check;

static iter_check *check_begin(gort_map *m)
{
    iter_check *c = calloc(1, sizeof *c);
    for (uint64_t k = 0; k < NKEYS; k++)
        c->present[k] = c->must[k] = gort_map_get_u64(m, k) != NULL;
    return c;
}

static void check_set(iter_check *c, gort_map *m, uint64_t k)
{
    *(uint64_t *)gort_map_set_u64(m, k) = k * 3;
    if (!c->present[k])
        c->produced[k] = 0; /* a new entry may be produced once more */
    c->present[k] = 1;
}

static void check_delete(iter_check *c, gort_map *m, uint64_t k)
{
    cr_assert_eq(gort_map_delete_u64(m, k), c->present[k] != 0);
    c->present[k] = 0;
    c->must[k] = 0;
}

static void check_produced(iter_check *c, const gort_map_iter *it)
{
    cr_assert_eq(it->key_len, 8);
    uint64_t k = *(const uint64_t *)it->key;
    cr_assert_lt(k, NKEYS);
    cr_assert_not(c->produced[k], "key %llu produced twice", (unsigned long long)k);
    cr_assert(c->present[k], "deleted key %llu produced", (unsigned long long)k);
    cr_assert_eq(*(const uint64_t *)it->val, k * 3);
    c->produced[k] = 1;
}

static void check_end(iter_check *c)
{
    for (uint64_t k = 0; k < NKEYS; k++)
        cr_assert(!c->must[k] || c->produced[k],
                  "key %llu present throughout was not produced",
                  (unsigned long long)k);
    free(c);
}

static gort_map *u64_map(uint64_t n)
{
    gort_map *m = gort_map_new_u64(8, 0);
    for (uint64_t k = 0; k < n; k++)
        *(uint64_t *)gort_map_set_u64(m, k) = k * 3;
    return m;
}

Test(map_iter, an_empty_or_nil_map_iterates_nothing)
{
    gort_map *m = gort_map_new_str(8, 0);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    cr_assert_not(gort_map_iter_next(&it));
    gort_map_iter_init(&it, NULL);
    cr_assert_not(gort_map_iter_next(&it));
    gort_map_free(m);
}

Test(map_iter, every_entry_is_produced_once_and_done_stays_done)
{
    gort_map *m = u64_map(5000);
    iter_check *c = check_begin(m);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    size_t n = 0;
    while (gort_map_iter_next(&it)) {
        check_produced(c, &it);
        n++;
    }
    cr_assert_eq(n, 5000);
    cr_assert_not(gort_map_iter_next(&it));
    cr_assert_null(it.key);
    check_end(c);
    gort_map_free(m);
}

Test(map_iter, entries_deleted_before_they_are_reached_are_not_produced)
{
    gort_map *m = u64_map(3000);
    iter_check *c = check_begin(m);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    uint64_t next_victim = 0;
    while (gort_map_iter_next(&it)) {
        check_produced(c, &it);
        /* Delete the current key and two others. */
        check_delete(c, m, *(const uint64_t *)it.key);
        for (int j = 0; j < 2 && next_victim < 3000; next_victim++)
            if (c->present[next_victim]) {
                check_delete(c, m, next_victim);
                j++;
            }
        cr_assert(gort__map_verify(m));
    }
    check_end(c);
    cr_assert_eq(gort_map_len(m), 0);
    gort_map_free(m);
}

Test(map_iter, growth_during_an_iteration_produces_nothing_twice)
{
    for (int round = 0; round < 20; round++) {
        gort_map *m = u64_map(100);
        iter_check *c = check_begin(m);
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        uint64_t next_new = 100;
        int step = 0;
        while (gort_map_iter_next(&it)) {
            check_produced(c, &it);
            /* Several doublings while the iteration runs. */
            for (int j = 0; j < 7 && next_new < NKEYS; j++)
                check_set(c, m, next_new++);
            if (++step % 5 == 0)
                check_delete(c, m, (uint64_t)(step * 7) % next_new);
        }
        check_end(c);
        cr_assert(gort__map_verify(m));
        gort_map_free(m);
    }
}

Test(map_iter, an_iterator_started_during_a_growth_follows_it)
{
    for (int round = 0; round < 30; round++) {
        gort_map *m = gort_map_new_u64(8, 0);
        gort_map_info info;
        uint64_t k = 0;
        /* Stop right after a doubling started. */
        do {
            *(uint64_t *)gort_map_set_u64(m, k) = k * 3;
            k++;
            gort_map_stats(m, &info);
        } while (!(info.growing && k > 200 + (uint64_t)round * 37));
        iter_check *c = check_begin(m);
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        int step = 0;
        while (gort_map_iter_next(&it)) {
            check_produced(c, &it);
            if (++step % 3 == 0 && k < NKEYS)
                check_set(c, m, k++); /* evacuates two old buckets */
            if (step % 11 == 0)
                check_delete(c, m, (uint64_t)step % k);
        }
        check_end(c);
        gort_map_free(m);
    }
}

Test(map_iter, kept_iterators_resume_after_many_growths)
{
    gort_map *m = u64_map(64);
    iter_check *c = check_begin(m);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    for (int i = 0; i < 20 && gort_map_iter_next(&it); i++)
        check_produced(c, &it);
    /* Several complete growths while the iterator waits. */
    for (uint64_t k = 64; k < NKEYS; k++)
        check_set(c, m, k);
    for (uint64_t k = 0; k < 64; k += 3)
        check_delete(c, m, k);
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_geq(info.retained_arrays, 1, "the start array is kept");
    while (gort_map_iter_next(&it))
        check_produced(c, &it);
    check_end(c);
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

/* ---- growths chosen by hand ------------------------------------------
 *
 * A generic map whose hash is the key itself: the low bits pick the
 * bucket, the top byte is the tophash, so a test decides which bucket
 * every key goes to and can pile overflow buckets up until a same-size
 * growth starts (Go's tooManyOverflowBuckets). */

static uint64_t identity_hash(const void *k, uint64_t seed)
{
    (void)seed;
    uint64_t x;
    memcpy(&x, k, sizeof x);
    return x;
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, 8) == 0;
}

static const gort_map_type identity_type = {8, 8, identity_hash, u64_equal};

/* Keys are bucket + 8 * serial (serial never reused): with B <= 3 the key
 * lands in bucket `bucket`. */
typedef struct hand_map {
    gort_map *m;
    iter_check *c;
    uint64_t serial;
} hand_map;

static void hand_set(hand_map *h, uint64_t bucket)
{
    uint64_t k = bucket + 8 * h->serial++;
    cr_assert_lt(k, NKEYS);
    *(uint64_t *)gort_map_set(h->m, &k) = k * 3;
    if (!h->c->present[k])
        h->c->produced[k] = 0;
    h->c->present[k] = 1;
}

static void hand_delete(hand_map *h, uint64_t k)
{
    cr_assert_eq(gort_map_delete(h->m, &k), h->c->present[k] != 0);
    h->c->present[k] = 0;
    h->c->must[k] = 0;
}

static bool hand_growing(hand_map *h, bool *same_size)
{
    gort_map_info info;
    gort_map_stats(h->m, &info);
    if (same_size != NULL)
        *same_size = info.same_size_grow;
    return info.growing;
}

/* Adds 9 keys to a bucket and deletes 8 of them, bucket after bucket:
 * overflow buckets pile up until a same-size growth starts. */
static void hand_churn_until_growth(hand_map *h)
{
    for (uint64_t b = 0;; b = (b + 1) & 7) {
        uint64_t first = b + 8 * h->serial;
        for (int j = 0; j < 9; j++) {
            hand_set(h, b);
            if (hand_growing(h, NULL))
                return;
        }
        for (int j = 0; j < 8; j++)
            hand_delete(h, first + 8 * (uint64_t)j);
    }
}

/* Writes (an insert and its delete) until the growth is over. */
static void hand_finish_growth(hand_map *h)
{
    while (hand_growing(h, NULL)) {
        uint64_t k = (h->serial & 7) + 8 * h->serial;
        hand_set(h, h->serial & 7);
        hand_delete(h, k);
    }
}

static hand_map hand_map_new(size_t hint, uint64_t nkeys)
{
    hand_map h = {gort_map_new(&identity_type, hint), NULL, 1};
    h.c = calloc(1, sizeof *h.c);
    for (uint64_t n = 0; n < nkeys; n++)
        hand_set(&h, n & 7);
    for (uint64_t k = 0; k < NKEYS; k++)
        h.c->must[k] = h.c->present[k];
    return h;
}

static bool hand_step(hand_map *h, gort_map_iter *it)
{
    if (!gort_map_iter_next(it))
        return false;
    check_produced(h->c, it);
    return true;
}

/* An iterator that started before two same-size growths must not walk
 * the old array of the second: that array was the first growth's new
 * one, which the map frees when the second growth ends (an ASan
 * heap-use-after-free before the fix; found by review, not by Go's
 * tests: Go's collector keeps every array alive). */
Test(map_iter, an_iterator_walks_no_old_array_of_a_later_growth)
{
    hand_map h = hand_map_new(30, 8);
    gort_map_iter it;
    gort_map_iter_init(&it, h.m);
    bool same_size;
    hand_churn_until_growth(&h);
    cr_assert(hand_growing(&h, &same_size) && same_size);
    hand_finish_growth(&h);
    hand_churn_until_growth(&h);
    cr_assert(hand_growing(&h, &same_size) && same_size);
    /* Step while the second growth is under way, finish it midway. */
    for (int i = 0; i < 3 && hand_step(&h, &it); i++) {
    }
    hand_finish_growth(&h);
    while (hand_step(&h, &it)) {
    }
    check_end(h.c);
    cr_assert(gort__map_verify(h.m));
    gort_map_free(h.m);
}

/* An iterator that started during a doubling walks old buckets keeping
 * only the keys of the new bucket it visits.  When that doubling ends and
 * a same-size growth starts before its next step, the rest of the old
 * bucket it is in must still be filtered: its other keys belong to the
 * sibling bucket, visited separately (they came out twice before). */
Test(map_iter, an_old_bucket_stays_filtered_when_a_same_size_growth_follows)
{
    for (int round = 0; round < 8; round++) {
        hand_map h = hand_map_new(20, 26); /* B = 2, nearly full */
        hand_set(&h, 0);                   /* starts the doubling to B = 3 */
        bool same_size = true;
        cr_assert(hand_growing(&h, &same_size) && !same_size);
        for (uint64_t k = 0; k < NKEYS; k++)
            h.c->must[k] = h.c->present[k];
        gort_map_iter it;
        gort_map_iter_init(&it, h.m);
        /* Into an old bucket, a few slots (round) past its first key. */
        while (hand_step(&h, &it) && it.check_bucket_ == ~(uintptr_t)0) {
        }
        for (int i = 0; i < round % 3; i++)
            (void)hand_step(&h, &it);
        hand_finish_growth(&h);
        hand_churn_until_growth(&h);
        cr_assert(hand_growing(&h, &same_size) && same_size);
        while (hand_step(&h, &it)) {
        }
        check_end(h.c);
        cr_assert(gort__map_verify(h.m));
        gort_map_free(h.m);
    }
}

/* ---- what the map keeps for iterations, and for how long -------------
 *
 * A growth that finds no iteration live, at its start or at its end,
 * frees the arrays and key copies kept for the finished ones: a
 * long-lived map whose iterations end between its growths, or during
 * them (a scan deleting what expired), keeps nothing (before, it kept
 * one array per such growth until a clear).  What stays is what an
 * iteration live at every growth boundary needs. */

/* Deletes every key the churn added (the map keeps its size, so that
 * growths stay same-size ones and the keys last). */
static void hand_trim(hand_map *h)
{
    for (uint64_t k = 72; k < 8 * h->serial && k < NKEYS; k++)
        if (h->c->present[k])
            hand_delete(h, k);
}

static gort_map_info hand_info(hand_map *h)
{
    gort_map_info info;
    gort_map_stats(h->m, &info);
    return info;
}

Test(map_iter, finished_iterations_let_later_growths_free_what_was_kept)
{
    hand_map h = hand_map_new(30, 8);
    for (int round = 0; round < 8; round++) {
        /* An iteration begun before a same-size growth starts ends while
         * it is under way: the old array it walked goes at its end. */
        gort_map_iter it;
        gort_map_iter_init(&it, h.m);
        cr_assert_eq(hand_info(&h).live_iterations, 1);
        (void)gort_map_iter_next(&it);
        hand_churn_until_growth(&h);
        while (gort_map_iter_next(&it)) {
        }
        cr_assert_eq(hand_info(&h).live_iterations, 0);
        hand_finish_growth(&h);
        cr_assert_eq(hand_info(&h).retained_arrays, 0, "round %d", round);
        /* One that runs between growths: nothing is kept either. */
        gort_map_iter_init(&it, h.m);
        while (gort_map_iter_next(&it)) {
        }
        hand_churn_until_growth(&h);
        hand_finish_growth(&h);
        gort_map_info info = hand_info(&h);
        cr_assert_eq(info.retained_arrays, 0, "round %d", round);
        cr_assert_eq(info.retained_bytes, 0, "round %d", round);
        cr_assert(gort__map_verify(h.m));
        hand_trim(&h);
    }
    /* An iteration live across a whole growth keeps the old array until
     * a growth finds it finished. */
    gort_map_iter it;
    gort_map_iter_init(&it, h.m);
    (void)gort_map_iter_next(&it);
    hand_churn_until_growth(&h);
    hand_finish_growth(&h);
    cr_assert_eq(hand_info(&h).retained_arrays, 1);
    while (gort_map_iter_next(&it)) {
    }
    cr_assert_eq(hand_info(&h).retained_arrays, 1, "kept until a growth");
    hand_churn_until_growth(&h);
    cr_assert_eq(hand_info(&h).retained_arrays, 0);
    hand_finish_growth(&h);
    cr_assert(gort__map_verify(h.m));
    gort_map_free(h.m);
    free(h.c);
}

Test(map_iter, an_ended_iteration_lets_the_next_growth_free_its_array)
{
    hand_map h = hand_map_new(30, 8);
    gort_map_iter it, abandoned;
    gort_map_iter_init(&it, h.m);
    gort_map_iter_init(&abandoned, h.m);
    cr_assert(gort_map_iter_next(&it));
    cr_assert(gort_map_iter_next(&abandoned));
    hand_churn_until_growth(&h);
    hand_finish_growth(&h);
    cr_assert_eq(hand_info(&h).retained_arrays, 1);
    gort_map_iter_end(&it);
    cr_assert_not(gort_map_iter_next(&it), "an ended iteration is done");
    gort_map_iter_end(&it); /* idempotent */
    cr_assert_eq(hand_info(&h).live_iterations, 1, "the abandoned one");
    /* An abandoned iteration still counts: its array stays (the array
     * of this growth goes: no iteration began on it). */
    hand_churn_until_growth(&h);
    hand_finish_growth(&h);
    cr_assert_eq(hand_info(&h).retained_arrays, 1);
    gort_map_iter_end(&abandoned);
    cr_assert_eq(hand_info(&h).live_iterations, 0);
    hand_churn_until_growth(&h);
    cr_assert_eq(hand_info(&h).retained_arrays, 0,
                 "a growth's start frees what no iteration needs");
    hand_finish_growth(&h);
    cr_assert_eq(hand_info(&h).retained_arrays, 0);
    cr_assert(gort__map_verify(h.m));
    /* Ending the iterator of a nil, empty or cleared map does nothing. */
    gort_map_iter_init(&it, NULL);
    gort_map_iter_end(&it);
    gort_map_iter_init(&it, h.m);
    gort_map_clear(h.m);
    gort_map_iter_end(&it);
    cr_assert_not(gort_map_iter_next(&it));
    cr_assert_eq(hand_info(&h).live_iterations, 0);
    gort_map_free(h.m);
    free(h.c);
}

Test(map_iter, an_iterator_returned_by_value_finishes_its_iteration_once)
{
    gort_map *m = u64_map(500);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    gort_map_iter copy = it; /* the original is not stepped again */
    size_t n = 0;
    while (gort_map_iter_next(&copy))
        n++;
    cr_assert_eq(n, 500);
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.live_iterations, 0);
    gort_map_free(m);
}

/* Long keys (out-of-line copies): an iteration that finished before a
 * growth ended leaves no key marked as shared, so later deletes free
 * their copies at once instead of deferring them until a clear.  The
 * iteration ends before the growths (round 0), is ended early (1), or
 * ends while a growth it saw start is under way (2: the growth marks the
 * keys it moves, and its end must clear the marks). */
Test(map_iter, keys_deleted_after_a_finished_iteration_are_freed_at_once)
{
    gort_map *m = gort_map_new_str(8, 0);
    char buf[64];
    int next = 0;
    for (; next < 100; next++)
        gort_map_set_str(m, buf, test_long_key(buf, sizeof buf, next));
    for (int round = 0; round < 3; round++) {
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        gort_map_info info;
        int base = next;
        if (round == 0) {
            while (gort_map_iter_next(&it)) {
            }
        } else if (round == 1) {
            cr_assert(gort_map_iter_next(&it));
            gort_map_iter_end(&it);
        } else {
            cr_assert(gort_map_iter_next(&it));
            do {
                gort_map_set_str(m, buf, test_long_key(buf, sizeof buf, next++));
                gort_map_stats(m, &info);
            } while (!info.growing);
            while (gort_map_iter_next(&it)) {
            }
        }
        for (int stop = next + 2000; next < stop; next++) /* growths */
            gort_map_set_str(m, buf, test_long_key(buf, sizeof buf, next));
        gort_map_stats(m, &info);
        cr_assert_not(info.growing, "round %d: no growth under way", round);
        for (int i = base; i < base + 1000; i++)
            gort_map_delete_str(m, buf, test_long_key(buf, sizeof buf, i));
        gort_map_stats(m, &info);
        cr_assert_eq(info.retained_arrays, 0, "round %d", round);
        cr_assert_eq(info.deferred_keys, 0, "round %d", round);
        cr_assert(gort__map_verify(m));
    }
    gort_map_free(m);
}

Test(map_iter, abandoned_iterators_need_no_clean_up)
{
    gort_map *m = gort_map_new_str(8, 0);
    for (int round = 0; round < 50; round++) {
        char buf[32];
        size_t klen;
        for (int i = 0; i < 200; i++) {
            klen = test_key(buf, sizeof buf, round * 200 + i);
            const char *k = buf;
            gort_map_set_str(m, k, klen);
        }
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        gort_map_iter_next(&it); /* and never again */
    }
    cr_assert(gort__map_verify(m));
    gort_map_free(m); /* ASan/valgrind: nothing leaks */
}

Test(map_iter, clear_during_an_iteration_stops_it)
{
    gort_map *m = u64_map(1000);
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    for (int i = 0; i < 10; i++)
        cr_assert(gort_map_iter_next(&it));
    for (uint64_t k = 1000; k < 5000; k++) /* grow: the start array is kept */
        gort_map_set_u64(m, k);
    gort_map_clear(m);
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.retained_arrays, 0, "clear lets kept arrays go");
    cr_assert_not(gort_map_iter_next(&it), "no pre-clear entry remains");
    gort_map_set_u64(m, 1);
    cr_assert_not(gort_map_iter_next(&it), "done stays done");
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

Test(map_iter, deleting_everything_ends_iterations_and_frees_kept_memory)
{
    /* Long keys: out-of-line copies, which a kept array points to. */
    gort_map *m = gort_map_new_str(8, 0);
    char buf[64];
    for (int i = 0; i < 100; i++)
        gort_map_set_str(m, buf, test_long_key(buf, sizeof buf, i));
    gort_map_iter it;
    gort_map_iter_init(&it, m);
    cr_assert(gort_map_iter_next(&it));
    for (int i = 100; i < 2000; i++)
        gort_map_set_str(m, buf, test_long_key(buf, sizeof buf, i));
    for (int i = 0; i < 1000; i++) /* keys an old array points to */
        gort_map_delete_str(m, buf, test_long_key(buf, sizeof buf, i));
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_geq(info.retained_arrays, 1);
    cr_assert_gt(info.deferred_keys, 0, "copies the kept array points to wait");
    for (int i = 1000; i < 2000; i++)
        gort_map_delete_str(m, buf, test_long_key(buf, sizeof buf, i));
    gort_map_stats(m, &info);
    cr_assert_eq(info.retained_arrays, 0);
    cr_assert_eq(info.deferred_keys, 0);
    cr_assert_not(gort_map_iter_next(&it));
    cr_assert(gort__map_verify(m));
    gort_map_free(m);
}

Test(map_iter, copied_keys_deleted_during_an_iteration_are_read_safely)
{
    /* An iterator on an old array looks evacuated keys up again: their
     * copies must outlive the delete (ASan checks the reads).  Short keys
     * (inline in the kept array's slots) and long ones (copies). */
    for (int round = 0; round < 20; round++) {
        size_t (*key)(char *, size_t, long) =
            round < 10 ? test_key : test_long_key;
        gort_map *m = gort_map_new_str(sizeof(int64_t), 0);
        char buf[64];
        for (int i = 0; i < 50; i++)
            *(int64_t *)gort_map_set_str(m, buf, key(buf, sizeof buf, i)) = i;
        gort_map_iter it;
        gort_map_iter_init(&it, m);
        cr_assert(gort_map_iter_next(&it));
        for (int i = 50; i < 800; i++) /* grow, evacuating everything */
            *(int64_t *)gort_map_set_str(m, buf, key(buf, sizeof buf, i)) = i;
        for (int i = round % 2; i < 50; i += 2)
            gort_map_delete_str(m, buf, key(buf, sizeof buf, i));
        while (gort_map_iter_next(&it)) {
            long v = *(const int64_t *)it.val;
            char want[64];
            size_t wlen;
            wlen = key(want, sizeof want, v);
            cr_assert_eq(it.key_len, wlen);
            cr_assert(memcmp(it.key, want, wlen) == 0);
        }
        cr_assert(gort__map_verify(m));
        gort_map_free(m);
    }
}

Test(map_iter, maps_that_are_never_iterated_keep_nothing)
{
    gort_map *m = gort_map_new_str(8, 0);
    char buf[64];
    for (int i = 0; i < 50000; i++)
        gort_map_set_str(m, buf, test_long_key(buf, sizeof buf, i));
    for (int i = 0; i < 50000; i += 2)
        gort_map_delete_str(m, buf, test_long_key(buf, sizeof buf, i));
    gort_map_info info;
    gort_map_stats(m, &info);
    cr_assert_eq(info.retained_arrays, 0);
    cr_assert_eq(info.deferred_keys, 0);
    gort_map_free(m);
}

Test(map_iter, order_differs_between_iterations)
{
    gort_map *m = u64_map(50);
    uint64_t first[50];
    gort_map_iter it;
    int i = 0;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it))
        first[i++] = *(const uint64_t *)it.key;
    bool differs = false;
    for (int t = 0; t < 100 && !differs; t++) {
        i = 0;
        gort_map_iter_init(&it, m);
        while (gort_map_iter_next(&it))
            differs |= first[i++] != *(const uint64_t *)it.key;
    }
    cr_assert(differs);
    gort_map_free(m);
}

Test(map_iter, string_keys_and_values_come_back_intact)
{
    gort_map *m = gort_map_new_str(16, 0);
    char buf[64];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof buf, "%d-%.*s", i, i % 40,
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
        char *v = gort_map_set_str(m, buf, (size_t)n);
        memcpy(v, &i, sizeof i);
        v[15] = (char)n;
    }
    gort_map_iter it;
    int seen = 0;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        int i;
        memcpy(&i, it.val, sizeof i);
        int n = snprintf(buf, sizeof buf, "%d-%.*s", i, i % 40,
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
        cr_assert_eq(it.key_len, (size_t)n);
        cr_assert(memcmp(it.key, buf, (size_t)n) == 0);
        cr_assert_eq(((const char *)it.val)[15], (char)n);
        seen++;
    }
    cr_assert_eq(seen, 3000);
    gort_map_free(m);
}
