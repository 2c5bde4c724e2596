/*
 * demo.h - the scenario table of gort-demo and the helpers scenarios share.
 *
 * A scenario is one function and one row of the table in demo.c.  The
 * function prints what happens and returns 0 when everything behaved as
 * Go would, non-zero otherwise.  The driver prints the row's heading and
 * "look for" text before calling it, so the function prints only the
 * events themselves.
 *
 * A scenario that ends the process (an unrecovered panic, a fatal error, a
 * fault) sets runs_as_child: the driver then re-executes /proc/self/exe
 * with the hidden subcommand "--child <name>", relays the child's stdout
 * and stderr (merged, in order, each line prefixed with "  | "), and checks
 * its exit status and the strings listed in expect.  A visible scenario
 * can also run hidden child parts itself with demo_run_child(); hidden
 * rows have no description and are not run by "all".
 *
 * A scenario that cannot run in this build (race-report without a
 * ThreadSanitizer-capable compiler) prints why and returns DEMO_SKIPPED:
 * the driver reports it as skipped, neither behaved nor failed.
 *
 * Adding a scenario: write `int scenario_foo(void)` in a scn_*.c file,
 * declare it below, add one row to the table in demo.c.
 */
#ifndef GORT_DEMO_H
#define GORT_DEMO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct demo_scenario {
    const char *name;          /* subcommand; hidden child parts too */
    const char *description;   /* one-line heading; NULL: hidden child part */
    const char *look_for;      /* what to look for, with the Go behaviour */
    int (*fn)(void);           /* 0 when it behaved as expected */
    bool runs_as_child;        /* ends the process: run via /proc/self/exe */
    int exit_status;           /* runs_as_child: the expected exit status */
    const char *env;           /* runs_as_child: "NAME=value" to add, or NULL */
    const char *const *expect; /* runs_as_child: NULL-terminated strings the
                                  merged output must contain, or NULL */
} demo_scenario;

/* Runs the hidden (or visible) scenario @name as a child process: relays
 * its output, prints its exit status, checks status and expected strings.
 * Returns 0 when they match the table row. */
int demo_run_child(const char *name);

/* Like demo_run_child, but runs the program @path (no arguments) instead
 * of this one with "--child @name", and checks it against the row @name.
 * @path NULL: this program, as demo_run_child.  When @output is not NULL,
 * *output receives the merged output for further checks (malloc'd, the
 * caller frees it; NULL when the child could not be run). */
int demo_run_program(const char *path, const char *name, char **output);

/* What a scenario function returns when it cannot run in this build. */
enum { DEMO_SKIPPED = -1 };

/* Prints "  ok: <what>" or "  FAIL: <what>" and returns 0 or 1, so a
 * scenario can sum its failures. */
int demo_check(bool ok, const char *what);

/* Small append-only text log, so that events recorded in any order (or by
 * several goroutines, one log each) can be compared and printed later. */
typedef struct demo_log {
    char text[512]; /* NUL-terminated; silently truncated when full */
    size_t len;     /* strlen(text) */
} demo_log;

void demo_log_reset(demo_log *l);
void demo_log_add(demo_log *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- scenarios (one function each; rows in demo.c) ---- */

/* scn_defer.c */
int scenario_defer_order(void);
int scenario_defer_trace(void);
/* scn_panic.c */
int scenario_nested_panic(void);
int child_nested_panic_crash(void);
int child_nested_panic_repanic(void);
int scenario_recover(void);
int child_recover_nil_deref(void);
/* scn_goroutines.c */
int scenario_goroutines(void);
int child_goroutine_panic(void);
/* scn_map.c */
int scenario_nil_map_defer(void);
int child_nil_map_defer_crash(void);
int scenario_iter_write_race(void);
int child_iter_write_race(void);
int scenario_map_layout(void);
/* scn_config_store.c */
int scenario_config_store(void);
/* scn_snapmap.c */
int scenario_snapmap(void);
int child_snapmap_write_view(void);
/* scn_race.c */
int scenario_race_report(void);
/* race_program.c: also gort-demo-race's whole program (race_main.c) */
int demo_race_program(void);

#endif /* GORT_DEMO_H */
