/*
 * race_main.c - gort-demo-race: the race-report scenario's program
 * (race_program.c) as an executable of its own, compiled and linked with
 * -fsanitize=thread against a ThreadSanitizer build of the library's
 * sources (cmake/GortRaceDemo.cmake).  ASan and TSan cannot share an
 * executable, so this is how a default or asan build of gort-demo shows
 * race mode: it runs this program as a child and relays its report.
 *
 * Expected: "WARNING: ThreadSanitizer: data race" naming gort_map_set_str
 * in both stacks, and exit status 66 (TSan's exitcode after a report).
 */
#include "demo.h"

#include <stdio.h>

int main(void)
{
    /* Lines reach the pipe in order with TSan's reports on stderr. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return demo_race_program();
}
