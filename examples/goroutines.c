/*
 * goroutines.c - goroutines, `defer wg.Done()` and sync.WaitGroup:
 *
 *     var wg sync.WaitGroup
 *     for i := range parts {
 *         wg.Add(1)
 *         go func(p *part) { defer wg.Done(); p.sum = sum(p.xs) }(&parts[i])
 *     }
 *     wg.Wait()
 *
 *     $ ./goroutines
 *     part 0 summed by goroutine 2: 5050
 *     part 1 summed by goroutine 3: 15050
 *     part 2 summed by goroutine 4: 25050
 *     part 3 summed by goroutine 5: 35050
 *     total 80200 (main is goroutine 1)
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <inttypes.h>
#include <stdio.h>

enum { NPARTS = 4, PART_LEN = 100 };

typedef struct part {
    int first;    /* sums first .. first + PART_LEN - 1 */
    long sum;     /* written by the goroutine before wg.Done */
    int64_t goid; /* the goroutine that did it */
} part;

static gort_waitgroup wg; /* the zero value is ready to use */

static void done(void *w)
{
    gort_waitgroup_done(w);
}

static void sum_part(void *arg)
{
    part *p = arg;
    GORT_FRAME;
    gort_defer(done, &wg); /* runs however the goroutine ends */
    p->goid = gort_goid();
    for (int i = 0; i < PART_LEN; i++)
        p->sum += p->first + i;
}

int main(void)
{
    part parts[NPARTS] = {{0}};
    for (int i = 0; i < NPARTS; i++) {
        parts[i].first = 1 + i * PART_LEN;
        gort_waitgroup_add(&wg, 1); /* before gort_go, as in Go */
        gort_go(sum_part, &parts[i]);
    }
    gort_waitgroup_wait(&wg); /* the sums are visible now */
    long total = 0;
    for (int i = 0; i < NPARTS; i++) {
        printf("part %d summed by goroutine %" PRId64 ": %ld\n", i,
               parts[i].goid, parts[i].sum);
        total += parts[i].sum;
    }
    printf("total %ld (main is goroutine %" PRId64 ")\n", total, gort_goid());
    return total == 80200 ? 0 : 1;
}
