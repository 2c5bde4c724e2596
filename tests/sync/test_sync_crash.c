/*
 * sync/mutex_test.go TestMutexMisuse as crash tests: each misuse case
 * runs as a child process (tests/crash's gort-crashers); the exit status
 * must be 2 and the normalised stderr must equal Go 1.19's
 * (tests/golden/sync_*.golden, recorded by tests/golden/regen.sh from the
 * Go twins in tests/golden/go/main.go; README.md there says which frames
 * of Go's output are filtered: sync.* and the other goroutines).  Each
 * scenario defers a recover, as Go's test does: these are fatal errors,
 * not panics, so nothing recovers them.
 *
 * These run in every preset, tsan included: the scenarios have no race
 * for ThreadSanitizer to report.
 */
#include "child.h"
#include "golden.h"

#include <criterion/criterion.h>

static void expect_sync_golden(const char *scenario)
{
    const char *argv[] = {child_sibling_path("../crash/gort-crashers"),
                          scenario, NULL};
    child_result r;
    cr_assert(child_run(argv, NULL, 30, &r), "cannot run gort-crashers");
    cr_expect(!r.timed_out, "%s timed out", scenario);
    cr_expect_eq(r.status, 2, "%s: exit status %d, want 2\nstderr:\n%s",
                 scenario, r.status, r.err);
    cr_expect(golden_match(scenario, r.err), "%s: output differs from Go's",
              scenario);
    child_result_free(&r);
}

Test(sync_crash, mutex_misuse_mutex_unlock)
{
    expect_sync_golden("sync_mutex_unlock");
}

Test(sync_crash, mutex_misuse_mutex_unlock2)
{
    expect_sync_golden("sync_mutex_unlock2");
}

Test(sync_crash, mutex_misuse_rwmutex_unlock)
{
    expect_sync_golden("sync_rwmutex_unlock");
}

Test(sync_crash, mutex_misuse_rwmutex_unlock2)
{
    expect_sync_golden("sync_rwmutex_unlock2");
}

Test(sync_crash, mutex_misuse_rwmutex_unlock3)
{
    expect_sync_golden("sync_rwmutex_unlock3");
}

Test(sync_crash, mutex_misuse_rwmutex_runlock)
{
    expect_sync_golden("sync_rwmutex_runlock");
}

Test(sync_crash, mutex_misuse_rwmutex_runlock2)
{
    expect_sync_golden("sync_rwmutex_runlock2");
}

Test(sync_crash, mutex_misuse_rwmutex_runlock3)
{
    expect_sync_golden("sync_rwmutex_runlock3");
}

/* Beyond Go's test: the second unlock comes from a goroutine other than
 * the locker (the first unlock from there is legal); the report shows
 * that goroutine and its creator. */
Test(sync_crash, unlock_of_unlocked_mutex_in_another_goroutine)
{
    expect_sync_golden("sync_mutex_unlock_in_goroutine");
}

/* gort_once_do called from inside its own function on the same once.
 * Go's doSlow blocks on the mutex it holds; with no other goroutine left
 * its checkdead ends the program with "fatal error: all goroutines are
 * asleep - deadlock!" and goroutine 1 in semacquire.  Before: gort hung
 * for ever (the child timed out). */
Test(sync_crash, once_called_recursively_is_go_s_deadlock)
{
    expect_sync_golden("once_recursive");
}

/* The same while another goroutine runs: Go reports the deadlock when
 * that goroutine has ended, not before. */
Test(sync_crash, once_called_recursively_is_reported_when_the_others_end)
{
    expect_sync_golden("once_recursive_after_goroutines");
}

/* A goroutine that called gort_once_do from its own function is parked
 * for ever, asleep: Go's checkdead does not wait for it.  Main's Goexit
 * then reports "all goroutines are asleep" (not "no goroutines"), the
 * parked goroutine's traceback first; main's own recursive call reports
 * the deadlock with goroutine 1 first.  Before: main waited for the
 * parked goroutine to end, for ever (the child timed out). */
Test(sync_crash, goexit_with_a_parked_goroutine_is_go_s_deadlock)
{
    expect_sync_golden("once_recursive_in_goroutine_then_goexit");
}

Test(sync_crash, once_called_recursively_with_a_parked_goroutine_is_reported)
{
    expect_sync_golden("once_recursive_in_goroutine_and_main");
}
