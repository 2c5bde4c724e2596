/*
 * Basic defer behaviour: LIFO order, every return path, arguments copied
 * at the defer statement.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char trail[64];

static void append(void *arg)
{
    strcat(trail, (const char *)arg);
}

static void three_defers(void)
{
    GORT_FRAME;
    gort_defer(append, "1");
    gort_defer(append, "2");
    gort_defer(append, "3");
}

Test(defer, runs_deferred_calls_in_lifo_order)
{
    trail[0] = '\0';
    three_defers();
    cr_assert_str_eq(trail, "321");
}

static int early_return(int early)
{
    GORT_FRAME_RETURN(-1);
    gort_defer(append, "a");
    if (early)
        return 1;
    gort_defer(append, "b");
    return 2;
}

Test(defer, runs_only_the_registered_calls_on_each_return_path)
{
    trail[0] = '\0';
    cr_assert_eq(early_return(1), 1);
    cr_assert_str_eq(trail, "a");
    trail[0] = '\0';
    cr_assert_eq(early_return(0), 2);
    cr_assert_str_eq(trail, "ba");
}

static void record_int(void *arg)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d,", *(int *)arg);
    strcat(trail, buf);
}

static void copies(void)
{
    GORT_FRAME;
    int i = 1;
    gort_defer_copy(record_int, &i, sizeof i);
    i = 2;
    gort_defer_copy(record_int, &i, sizeof i);
    i = 3;
}

Test(defer, copies_arguments_at_the_defer_statement)
{
    trail[0] = '\0';
    copies();
    cr_assert_str_eq(trail, "2,1,");
}
