/*
 * Basic recover behaviour: a recovered panic makes the registering frame
 * return GORT_FRAME_RETURN's expression.
 */
#include <gort/defer.h>

#include <criterion/criterion.h>

static void recover_into(void *arg)
{
    const gort_panic_info *p = gort_recover();
    cr_assert_not_null(p);
    cr_assert_str_eq(gort_panic_message(p), "boom 7");
    cr_assert_null(gort_panic_error(p));
    *(volatile int *)arg = 42;
}

static int panics(void)
{
    volatile int result = 1; /* volatile: read after the resume point */
    GORT_FRAME_RETURN(result);
    gort_defer(recover_into, (void *)&result);
    gort_panic("boom %d", 7);
}

Test(recover, returns_the_frame_expression_after_recovery)
{
    cr_assert_eq(panics(), 42);
}

Test(recover, returns_null_when_not_panicking)
{
    cr_assert_null(gort_recover());
}
