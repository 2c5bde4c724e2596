/*
 * Fatal misuse of read sections (gort's own errors: Go has no RCU) and an
 * unrecovered atomic-value panic: each scenario of rs_crashers runs as a
 * child process; exit status 2, the message on stderr, then the
 * traceback of the goroutine that misused the API, as Go's fatal errors
 * print.
 */
#include "child.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* Runs a scenario of rs_crashers, which must end with exit status 2
 * (not hang: @hang says what a timeout would mean). */
static void run_scenario(const char *scenario, const char *hang,
                         child_result *r)
{
    const char *argv[] = {child_sibling_path("rs_crashers"), scenario, NULL};
    cr_assert(child_run(argv, NULL, 60, r), "cannot run rs_crashers");
    cr_expect(!r->timed_out, "%s timed out (%s)", scenario, hang);
    cr_expect_eq(r->status, 2, "%s: exit status %d, want 2\nstderr:\n%s",
                 scenario, r->status, r->err);
}

static void expect_crash(const char *scenario, const char *first_line,
                         const char *function)
{
    child_result r;
    run_scenario(scenario, "a deadlock instead of an error", &r);
    cr_expect_eq(strncmp(r.err, first_line, strlen(first_line)), 0,
                 "%s: stderr does not start with \"%s\":\n%s", scenario,
                 first_line, r.err);
    cr_expect_not_null(strstr(r.err, "\n\ngoroutine "),
                       "%s: no traceback:\n%s", scenario, r.err);
    if (function != NULL)
        cr_expect_not_null(strstr(r.err, function),
                           "%s: the traceback does not name %s:\n%s",
                           scenario, function, r.err);
    child_result_free(&r);
}

Test(read_section_crash, synchronize_inside_a_section_is_fatal_not_a_deadlock)
{
    expect_crash("synchronize_in_section",
                 "fatal error: gort: gort_synchronize inside a read section "
                 "(deadlock)\n",
                 "synchronize_in_section");
}

Test(read_section_crash, read_end_without_begin_is_fatal)
{
    expect_crash("read_end_outside",
                 "fatal error: gort: gort_read_end outside a read section\n",
                 "read_end_outside");
}

Test(read_section_crash, a_plain_read_end_does_not_end_a_snapmap_view)
{
    expect_crash("read_end_with_only_a_view",
                 "fatal error: gort: gort_read_end: the open read sections "
                 "are snapmap views (end them with gort_snapmap_read_end)\n",
                 "read_end_with_only_a_view");
}

Test(read_section_crash, retire_barrier_inside_a_section_is_fatal)
{
    expect_crash("barrier_in_section",
                 "fatal error: gort: gort_retire_barrier inside a read "
                 "section (deadlock)\n",
                 "barrier_in_section");
}

Test(read_section_crash, retire_barrier_inside_a_destructor_is_fatal)
{
    expect_crash("barrier_in_destructor",
                 "fatal error: gort: gort_retire_barrier inside a retire "
                 "destructor (deadlock)\n",
                 NULL);
}

Test(read_section_crash, an_unrecovered_nil_store_prints_gos_panic)
{
    expect_crash("store_nil",
                 "panic: sync/atomic: store of nil value into Value\n\n"
                 "goroutine 1 [running]:\n",
                 "store_nil");
}

/* Goexit in main: Go's "no goroutines" deadlock once the other goroutines
 * have ended; main's open sections must not keep one of them waiting. */
static void expect_goexit_deadlock(const char *scenario, const char *before)
{
    child_result r;
    run_scenario(scenario, "main's Goexit never reported", &r);
    char want[256];
    snprintf(want, sizeof want,
             "%sfatal error: no goroutines (main called runtime.Goexit) - "
             "deadlock!\n",
             before);
    cr_expect_str_eq(r.err, want, "%s", scenario);
    child_result_free(&r);
}

Test(read_section_crash, goexit_in_main_ends_mains_sections)
{
    expect_goexit_deadlock("goexit_in_section", "synchronized\n");
}

Test(read_section_crash, goexit_in_main_ends_its_views_and_ignores_a_flusher)
{
    expect_goexit_deadlock("goexit_with_a_view_and_a_flusher",
                           "flushed, b = 2\n");
}
