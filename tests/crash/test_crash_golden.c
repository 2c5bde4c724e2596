/*
 * Crash output: each scenario of gort-crashers runs as a child process;
 * its exit status must be 2 and its normalised stderr must equal Go's
 * (tests/golden/NAME.golden).  Scenarios whose output cannot be a golden
 * file (stack overflow, SIGILL, out of memory, racing panics) are checked
 * line by line.
 *
 * Sanitizers.  Every scenario runs in the asan and tsan presets too.
 * A fault's report symbolizes inside the signal handler, which TSan
 * reports as "signal-unsafe call inside of a signal", once per distinct
 * stack: the crash path does that on purpose, guarded by its watchdog
 * (src/traceback.c, "Crash-path invariants").  The children run with
 * those reports off: with them, the stack overflow scenario drew about
 * 360 reports of 256 frames each, whose symbolization by TSan on a
 * loaded machine ate the watchdog's 10 s, and the traceback came out
 * unsymbolized.  Any other TSan report at the start of the output is
 * skipped whole, and the report that follows is compared in full.
 */
#include "child.h"
#include "golden.h"

#include <criterion/criterion.h>
#include <string.h>

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

#define TSAN_RULE "==================\n"

/* Skips the ThreadSanitizer reports at the start of @text (each framed
 * by "==================" lines, the first line of its body starting
 * "WARNING: ThreadSanitizer:"). */
static const char *skip_sanitizer_reports(const char *text)
{
    static const char head[] = TSAN_RULE "WARNING: ThreadSanitizer:";
    while (strncmp(text, head, sizeof head - 1) == 0) {
        const char *end = strstr(text + sizeof head - 1, "\n" TSAN_RULE);
        if (end == NULL)
            break;
        text = end + 1 + strlen(TSAN_RULE);
    }
    return text;
}

/* Runs a scenario (stdout and stderr on one pipe if @merged); returns
 * what it printed on stderr (or on both), TSan's reports skipped. */
static const char *run_scenario(const char *scenario, bool merged, child_result *r)
{
    const char *argv[] = {child_sibling_path("gort-crashers"), scenario, NULL};
    const char *env[] = {"TSAN_OPTIONS=report_signal_unsafe=0", NULL};
    bool ok = merged ? child_run_merged(argv, env, 30, r)
                     : child_run(argv, env, 30, r);
    cr_assert(ok, "cannot run gort-crashers");
    cr_expect(!r->timed_out, "%s timed out", scenario);
    const char *text = merged ? r->out : r->err;
    cr_expect_eq(r->status, 2, "%s: exit status %d, want 2\noutput:\n%s",
                 scenario, r->status, text);
    return skip_sanitizer_reports(text);
}

static void expect_golden_output(const char *scenario, bool merged)
{
    child_result r;
    const char *report = run_scenario(scenario, merged, &r);
    cr_expect(golden_match(scenario, report), "%s: output differs from Go's",
              scenario);
    child_result_free(&r);
}

static void expect_golden(const char *scenario)
{
    expect_golden_output(scenario, false);
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

/* Main returns while a goroutine is in its panic: Go's runtime.main lets
 * the panic end the program.  Repeated: before the fix main's exit(0)
 * won about 4 runs in 10 (found by review). */
Test(crash, a_goroutine_s_panic_wins_over_main_returning)
{
    for (int i = 0; i < 5; i++)
        expect_golden("panic_in_goroutine_as_main_returns");
}

/* Before: no "[signal SIGSEGV ...]" line (found by review). */
Test(crash, once_with_a_nil_function_panics_as_the_fault_go_takes)
{
    expect_golden("once_nil_func");
}

Test(crash, a_goroutine_started_by_a_tail_call_names_its_creator)
{
    expect_golden("go_from_tail_call");
    /* The creator's file:line is the gort_go call's, not the line of
     * gort_go's inline wrapper in <gort/sync.h>. */
    child_result r;
    const char *report = run_scenario("go_from_tail_call", false, &r);
    const char *created = strstr(report, "created by tailStarter\n\t");
    cr_assert_not_null(created, "no created-by line:\n%s", report);
    const char *loc = strchr(created, '\t') + 1;
    const char *eol = strchr(loc, '\n');
    const char *file = strstr(loc, "crashers.c:");
    cr_expect(file != NULL && eol != NULL && file < eol,
              "created by names the wrong file:\n%s", report);
    child_result_free(&r);
}

/* Go 1.21's layout of a deep traceback (hand-written golden, README). */
Test(crash, a_deep_traceback_shows_50_frames_each_side_of_the_elided_ones)
{
    expect_golden("deep_recursion");
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

Test(crash, allocation_failure_is_the_out_of_memory_fatal_error)
{
    const char *argv[] = {child_sibling_path("gort-crashers"), "out_of_memory", NULL};
    /* Under the sanitizers, make malloc return NULL rather than abort
     * (ASan still prints a warning line first). */
    const char *env[] = {"ASAN_OPTIONS=allocator_may_return_null=1",
                         "TSAN_OPTIONS=allocator_may_return_null=1 report_signal_unsafe=0",
                         NULL};
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

/* A fork child has none of the parent's other goroutines: main's Goexit
 * there is Go's "no goroutines" deadlock, not a wait for ever. */
Test(crash, goexit_in_a_fork_child_waits_for_none_of_the_parents_goroutines)
{
    /* run_scenario checks that it ended (a timeout: the fork child
     * waited for the parent's goroutine) with status 2. */
    child_result r;
    const char *err = run_scenario("goexit_in_fork_child", false, &r);
    const char *want = "fatal error: no goroutines (main called runtime.Goexit) - deadlock!\n";
    cr_expect(strncmp(err, want, strlen(want)) == 0, "stderr:\n%s", err);
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

/* ===================================================================
 * Fatal signals
 * =================================================================== */

Test(crash, a_nil_dereference_in_a_deferred_call_lists_the_panic_then_the_signal)
{
    expect_golden("nil_deref_in_deferred");
}

Test(crash, a_call_through_a_null_function_pointer_is_a_nil_dereference)
{
    expect_golden("nil_func_call");
}

/* Hand-written golden: C traps where Go checks (tests/golden/README.md). */
Test(crash, integer_division_by_zero_traps_with_sigfpe)
{
    expect_golden("divide_by_zero");
}

Test(crash, a_fault_at_a_non_nil_address_is_the_fatal_error_fault)
{
    expect_golden("bad_address");
}

Test(crash, an_unrecovered_signal_panic_runs_the_deferred_call_then_crashes)
{
    expect_golden("nil_deref_with_defer");
}

/* Go's TestStackOverflow checks lines, not a golden text: thousands of
 * frames, of which Go 1.21 shows the innermost and outermost 50. */
Test(crash, infinite_recursion_is_the_fatal_error_stack_overflow)
{
    child_result r;
    const char *out = run_scenario("stack_overflow", false, &r);
    static const char limit[] = "runtime: goroutine stack exceeds ";
    cr_expect(strncmp(out, limit, sizeof limit - 1) == 0, "stderr:\n%s", r.err);
    const char *n = out + sizeof limit - 1;
    size_t digits = strspn(n, "0123456789");
    cr_expect(digits > 0 && strncmp(n + digits, "-byte limit\n", 12) == 0,
              "stderr:\n%s", r.err);
    cr_expect(strstr(out, "\nruntime: sp=0x") != NULL, "stderr:\n%s", r.err);
    cr_expect(strstr(out, " stack=[0x") != NULL, "stderr:\n%s", r.err);
    /* The first frame is the recursing function, and so are the next. */
    cr_expect(strstr(out, "\nfatal error: stack overflow\n\n"
                          "goroutine 1 [running]:\n"
                          "stackOverflow(...)\n") != NULL,
              "stderr:\n%s", r.err);
    cr_expect(count(out, "\nstackOverflow(...)\n") >= 10, "stderr:\n%s", r.err);
    /* The middle is elided, and the outermost frames end with main. */
    const char *elided = strstr(out, " frames elided...\n");
    cr_expect(elided != NULL && strstr(elided, "\nmain(...)\n") != NULL,
              "stderr:\n%s", r.err);
    cr_expect(count(out, "(...)\n") == 100, "stderr:\n%s", r.err);
    child_result_free(&r);
}

/* Go's report for a _SigThrow signal (sighandler): the signal, PC, m and
 * sigcode, the instruction bytes, the traceback, the registers. */
Test(crash, an_illegal_instruction_prints_go_sighandler_report)
{
    child_result r;
    const char *out = run_scenario("illegal_instruction", false, &r);
    static const char head[] = "SIGILL: illegal instruction\nPC=0x";
    cr_expect(strncmp(out, head, sizeof head - 1) == 0, "stderr:\n%s", r.err);
    /* ILL_ILLOPN; the main thread is gort's m0. */
    cr_expect(strstr(out, " m=0 sigcode=2\n") != NULL, "stderr:\n%s", r.err);
#if defined(__x86_64__)
    cr_expect(strstr(out, "\ninstruction bytes: 0xf 0xb ") != NULL, /* ud2 */
              "stderr:\n%s", r.err);
#endif
    cr_expect(strstr(out, "\n\ngoroutine 1 [running]:\n"
                          "illegalInstruction(...)\n") != NULL,
              "stderr:\n%s", r.err);
    cr_expect(strstr(out, "\nmain(...)\n") != NULL, "stderr:\n%s", r.err);
#if defined(__x86_64__)
    cr_expect(strstr(out, "\n\nrax    0x") != NULL, "stderr:\n%s", r.err);
    cr_expect(strstr(out, "\nrip    0x") != NULL, "stderr:\n%s", r.err);
    cr_expect(strstr(out, "\nrflags 0x") != NULL, "stderr:\n%s", r.err);
#endif
    child_result_free(&r);
}

/* ===================================================================
 * Go 1.19 runtime/crash_test.go, the crashing halves
 * =================================================================== */

Test(crash, go_TestRecursivePanic3_the_first_panic_finishes_as_a_panic)
{
    expect_golden("recursive_panic3");
}

Test(crash, go_TestRecursivePanic4_a_recovered_panic_stays_listed)
{
    expect_golden("recursive_panic4");
}

Test(crash, go_TestDoublePanic_no_message_is_clobbered)
{
    expect_golden("double_panic");
}

/* Go shows the runtime.Goexit frame below the deferred call (exported
 * runtime functions are always shown, traceback.go showfuncinfo): gort
 * must print gort_goexit as "Goexit(...)", as it prints "panic(...)". */
Test(crash, go_TestPanicAfterGoexit_an_uncaught_panic_still_crashes)
{
    expect_golden("panic_after_goexit");
}

Test(crash, go_TestGoexitCrash_goexit_in_main_after_a_goroutine_exits)
{
    expect_golden("goexit_exit");
}

Test(crash, go_TestGoexitDeadlock)
{
    expect_golden("goexit_deadlock");
}

Test(crash, go_TestGoexitInPanic)
{
    expect_golden("goexit_in_panic");
}

Test(crash, go_TestRecoveredPanicAfterGoexit)
{
    expect_golden("recovered_panic_after_goexit");
}

Test(crash, go_TestRecoverBeforePanicAfterGoexit)
{
    expect_golden("recover_before_panic_after_goexit");
}

Test(crash, go_TestRecoverBeforePanicAfterGoexit2)
{
    expect_golden("recover_before_panic_after_goexit2");
}

/* Go 1.19 throws "go of nil func value" (runtime.newproc): a fatal
 * error, no deferred call runs. */
Test(crash, go_TestGoNil_is_a_fatal_error)
{
    expect_golden("go_nil");
}

Test(crash, go_TestMainGoroutineID_main_is_goroutine_1)
{
    expect_golden("main_goroutine_id");
}

/* ===================================================================
 * Panic values and output streams
 * =================================================================== */

Test(crash, a_message_longer_than_the_inline_buffer_is_printed_whole)
{
    expect_golden("panic_long_message");
}

Test(crash, an_error_value_in_a_goroutine_names_its_creator)
{
    expect_golden("panic_error_in_goroutine");
}

/* Go's stdout is unbuffered; C's is buffered on a pipe: the crash must
 * flush it before its report, which shares the pipe here (2>&1). */
Test(crash, buffered_stdout_comes_out_before_the_report)
{
    expect_golden_output("panic_after_stdout", true);
}

Test(crash, returning_from_main_ends_the_process_while_goroutines_run)
{
    const char *argv[] = {child_sibling_path("gort-crashers"), "main_returns", NULL};
    child_result r;
    cr_assert(child_run(argv, NULL, 30, &r));
    cr_expect(!r.timed_out, "the process outlived main");
    cr_expect_eq(r.status, 0, "exit status %d\n%s", r.status, r.err);
    cr_expect_str_eq(r.err, "");
    child_result_free(&r);
}
