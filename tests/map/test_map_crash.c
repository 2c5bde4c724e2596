/*
 * Iterator misuse that would read freed memory in C (Go's collector
 * makes it harmless there): two copies of one iteration that both finish
 * it, and an iteration of a snapmap view stepped after the view ended.
 * Each runs as a child process of map-crashers: exit status 2, stderr
 * starting with the exact "fatal error: ..." line, a blank line, the
 * goroutine header, and a traceback that names the scenario's function.
 */
#include "expect_fatal.h"

static void expect_fatal(const char *scenario, const char *msg)
{
    expect_fatal_child("map-crashers", scenario, "1", msg);
}

#define FINISHED(fn)                                                           \
    fn ": the iteration was already finished (a copy of this gort_map_iter "   \
       "ran to its end or was ended; only one copy of an iteration may go "    \
       "on)"
#define RELEASED                                                               \
    "gort_map_iter_next: the map freed the arrays this iteration reads, "      \
    "counting it finished (a copy of this gort_map_iter ran to its end or "    \
    "was ended, or the iterator outlived its snapmap view)"

Test(map_crash, two_copies_of_an_iteration_cannot_both_finish_it)
{
    expect_fatal("iter_copy_finished_twice", FINISHED("gort_map_iter_next"));
    expect_fatal("iter_copy_ended_then_finished",
                 FINISHED("gort_map_iter_next"));
}

Test(map_crash, an_iteration_whose_arrays_were_freed_is_fatal_not_a_use_after_free)
{
    expect_fatal("iter_copy_after_release", RELEASED);
    expect_fatal("iter_outlives_view", RELEASED);
}
