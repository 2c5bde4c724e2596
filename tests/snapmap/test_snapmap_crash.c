/*
 * Snapshot-map misuse that Go would call fatal: writing through a
 * read-only view, flushing or freeing while holding a view (which would
 * otherwise deadlock), and ending a view that is not open.  Each runs as
 * a child process of snapmap-crashers: exit status 2, stderr starting
 * with the exact "fatal error: ..." line, a blank line, the goroutine
 * header, and a traceback that names the scenario's function.
 */
#include "expect_fatal.h"

static void expect_fatal(const char *scenario, const char *goroutine,
                         const char *msg)
{
    expect_fatal_child("snapmap-crashers", scenario, goroutine, msg);
}

#define READ_ONLY "gort: write to a read-only map view (gort_snapmap_read_begin)"

Test(snapmap_crash, writing_through_a_view_is_fatal)
{
    expect_fatal("write_through_view", "1", READ_ONLY);
    expect_fatal("delete_through_view", "1", READ_ONLY);
    expect_fatal("clear_through_view", "1", READ_ONLY);
    expect_fatal("free_view", "1", READ_ONLY);
}

#define HOLDING(fn)                                                            \
    fn ": called while holding a view (gort_snapmap_read_begin): it would "    \
       "wait for that view to end; call gort_snapmap_read_end first"

Test(snapmap_crash, flushing_or_freeing_while_holding_a_view_is_fatal_not_a_deadlock)
{
    expect_fatal("flush_in_view", "1", HOLDING("gort_snapmap_flush"));
    expect_fatal("flush_in_other_view", "1", HOLDING("gort_snapmap_flush"));
    expect_fatal("free_in_view", "1", HOLDING("gort_snapmap_free"));
    expect_fatal("flush_in_read_section", "1",
                 "gort_snapmap_flush: called inside a read section "
                 "(gort_read_begin): it would wait for that section to end; "
                 "call gort_read_end first");
}

#define NOT_OPEN                                                               \
    "gort_snapmap_read_end: the view is not open on this goroutine (not "     \
    "returned by gort_snapmap_read_begin of this snapmap here, or already "    \
    "ended)"

Test(snapmap_crash, ending_a_view_that_is_not_open_here_is_fatal)
{
    expect_fatal("end_twice", "1", NOT_OPEN);
    expect_fatal("end_with_other_map", "1", NOT_OPEN);
    expect_fatal("end_null", "1", NOT_OPEN);
    expect_fatal("end_nil_map_in_plain_section", "1", NOT_OPEN);
    expect_fatal("end_twice_beside_another_maps_view", "1", NOT_OPEN);
    expect_fatal("end_nil_map_in_plain_section_ool", "1", NOT_OPEN);
}

Test(snapmap_crash, a_goroutine_cannot_end_another_goroutines_view)
{
    const char *argv[] = {child_sibling_path("snapmap-crashers"),
                          "end_on_other_goroutine", NULL};
    child_result r;
    cr_assert(child_run(argv, NULL, 60, &r));
    cr_expect_eq(r.status, 2, "exit status %d\n%s", r.status, r.err);
    cr_expect(strncmp(r.err, "fatal error: " NOT_OPEN "\n\ngoroutine ",
                      strlen("fatal error: " NOT_OPEN "\n\ngoroutine ")) == 0,
              "stderr:\n%s", r.err);
    cr_expect(strstr(r.err, "goroutine 1 [running]") == NULL,
              "reported by the other goroutine:\n%s", r.err);
    cr_expect(strstr(r.err, "end_it") != NULL, "%s", r.err);
    child_result_free(&r);
}
