/*
 * recover_error.c - turn a panic into an error result (Go's named-result
 * pattern):
 *
 *     func average(xs []int) (avg int, err error) {
 *         defer func() {
 *             if r := recover(); r != nil { err = r.(error) }
 *         }()
 *         return sum(xs) / len(xs), nil
 *     }
 *
 *     $ ./recover_error
 *     average of 3 values = 4
 *     average of 0 values: runtime error: integer divide by zero
 *     average of 2 values: negative value
 */
#include <gort/defer.h>

#include <stdio.h>

typedef struct avg_result {
    int avg;
    const gort_error *err; /* NULL: avg is valid */
} avg_result;

static const gort_error err_negative = {"negative value", false};

static void to_error(void *res)
{
    const gort_panic_info *p = gort_recover(); /* called directly: works */
    if (p == NULL)
        return; /* not panicking */
    if (gort_panic_error(p) == NULL)
        gort_repanic(p); /* not an error: panic(r) */
    ((volatile avg_result *)res)->err = gort_panic_error(p);
}

static int sum(const int *xs, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++) {
        if (xs[i] < 0)
            gort_panic_err(&err_negative);
        s += xs[i];
    }
    return s;
}

static avg_result average(const int *xs, int n)
{
    volatile avg_result res = {0, NULL}; /* read after a recovered panic */
    GORT_FRAME_RETURN(res);              /* the value returned then */
    gort_defer(to_error, (void *)&res);
    int s = sum(xs, n);
    if (n == 0)
        gort_panic_err(&gort_err_divide);
    res.avg = s / n;
    return res;
}

static void report(const int *xs, int n)
{
    avg_result r = average(xs, n);
    if (r.err != NULL)
        printf("average of %d values: %s\n", n, gort_error_message(r.err));
    else
        printf("average of %d values = %d\n", n, r.avg);
}

int main(void)
{
    static const int good[] = {3, 4, 5}, bad[] = {1, -1};
    report(good, 3);
    report(good, 0);
    report(bad, 2);
    return 0;
}
