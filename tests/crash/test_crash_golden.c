/*
 * Crash output: each scenario of gort-crashers runs as a child process;
 * its exit status must be 2 and its normalised stderr must equal Go's
 * (tests/golden/NAME.golden).
 */
#include "child.h"
#include "golden.h"

#include <criterion/criterion.h>
#include <string.h>

static void expect_golden(const char *scenario)
{
    const char *argv[] = {child_sibling_path("gort-crashers"), scenario, NULL};
    child_result r;
    cr_assert(child_run(argv, NULL, 30, &r), "cannot run gort-crashers");
    cr_expect(!r.timed_out, "%s timed out", scenario);
    cr_expect_eq(r.status, 2, "%s: exit status %d, want 2\nstderr:\n%s",
                 scenario, r.status, r.err);
    cr_expect(golden_match(scenario, r.err), "%s: stderr differs from Go's",
              scenario);
    child_result_free(&r);
}

Test(crash, unrecovered_panic_prints_the_message_and_the_traceback)
{
    expect_golden("panic_simple");
}

Test(crash, a_panic_during_panicking_lists_both_panics)
{
    expect_golden("panic_nested");
}

Test(crash, a_recovered_panic_that_repanics_is_marked_recovered)
{
    expect_golden("panic_recovered_repanic");
}

Test(crash, an_error_value_prints_its_message)
{
    expect_golden("panic_error_value");
}

Test(crash, a_panic_in_a_goroutine_names_its_creator)
{
    expect_golden("panic_in_goroutine");
}

Test(crash, a_deferred_nil_function_panics_when_run)
{
    expect_golden("nil_func_deferred");
}

Test(crash, a_nil_dereference_prints_the_signal_line)
{
    expect_golden("nil_deref");
}

Test(crash, goexit_in_main_dies_when_no_goroutine_is_left)
{
    expect_golden("goexit_main");
}

Test(crash, panic_of_null_is_the_go_1_21_runtime_error)
{
    expect_golden("panic_nil");
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

Test(crash, allocation_failure_is_the_out_of_memory_fatal_error)
{
    const char *argv[] = {child_sibling_path("gort-crashers"), "out_of_memory", NULL};
    /* Under the sanitizers, make malloc return NULL rather than abort
     * (ASan still prints a warning line first). */
    const char *env[] = {"ASAN_OPTIONS=allocator_may_return_null=1",
                         "TSAN_OPTIONS=allocator_may_return_null=1", NULL};
    child_result r;
    cr_assert(child_run(argv, env, 30, &r));
    cr_expect_eq(r.status, 2, "exit status %d\n%s", r.status, r.err);
    const char *report = strstr(r.err, "fatal error: runtime: out of memory\n\n"
                                       "goroutine 1 [running]:\n");
    cr_expect(report != NULL && (report == r.err || report[-1] == '\n'),
              "stderr:\n%s", r.err);
    cr_expect(strstr(r.err, "outOfMemory(...)") != NULL, "no outOfMemory frame:\n%s", r.err);
    child_result_free(&r);
}

Test(crash, concurrent_panics_print_one_report_without_interleaving)
{
    for (int run = 0; run < 5; run++) {
        const char *argv[] = {child_sibling_path("gort-crashers"), "concurrent_panics", NULL};
        child_result r;
        cr_assert(child_run(argv, NULL, 30, &r));
        cr_expect_eq(r.status, 2, "exit status %d\n%s", r.status, r.err);
        cr_expect_eq(count(r.err, "panic: "), 1, "stderr:\n%s", r.err);
        cr_expect_eq(count(r.err, "[running]:"), 1, "stderr:\n%s", r.err);
        cr_expect(strncmp(r.err, "panic: racing panic ", 20) == 0, "stderr:\n%s", r.err);
        cr_expect(strstr(r.err, "racingPanicker(...)") != NULL, "stderr:\n%s", r.err);
        child_result_free(&r);
    }
}
