/*
 * scn_goroutines.c - scenario goroutines and its child part.
 */
#include "demo.h"

#include <gort/gort.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static gort_waitgroup wg;

/* defer wg.Done() */
static void wg_done(void *w)
{
    gort_waitgroup_done(w);
}

enum { PLAIN, RECOVERS, GOEXITS, NWORKERS };

typedef struct worker {
    int kind;           /* PLAIN, RECOVERS or GOEXITS */
    int64_t started_as; /* gort_go's return value (written by main) */
    int64_t goid;       /* gort_goid() seen by the goroutine */
    demo_log log;       /* what happened, in order */
} worker;

/* A deferred event: copied at the defer statement with gort_defer_copy,
 * as Go evaluates `defer log(w, "text")`'s arguments there. */
typedef struct event {
    demo_log *log;
    const char *text;
} event;

static void log_event(void *arg)
{
    const event *e = arg;
    demo_log_add(e->log, "%s; ", e->text);
}

#define DEFER_EVENT(w, t)                                                      \
    do {                                                                       \
        event ev_ = {&(w)->log, (t)};                                          \
        gort_defer_copy(log_event, &ev_, sizeof ev_);                          \
    } while (0)

static void recover_into_log(void *arg)
{
    worker *w = arg;
    const gort_panic_info *p = gort_recover();
    demo_log_add(&w->log, "recover() -> %s%s%s; ", p != NULL ? "\"" : "",
                 p != NULL ? gort_panic_message(p) : "nil",
                 p != NULL ? "\"" : "");
}

static void risky(worker *w)
{
    GORT_FRAME;
    gort_defer(recover_into_log, w);
    DEFER_EVENT(w, "risky's cleanup");
    demo_log_add(&w->log, "panic; ");
    gort_panic("worker %" PRId64 " failed", w->goid);
}

static void quit(worker *w)
{
    GORT_FRAME;
    gort_defer(recover_into_log, w); /* Goexit is not a panic: nil */
    DEFER_EVENT(w, "quit's cleanup");
    demo_log_add(&w->log, "Goexit; ");
    gort_goexit();
}

static void worker_main(void *arg)
{
    worker *w = arg;
    GORT_FRAME;
    gort_defer(wg_done, &wg); /* oldest: runs last, after every event */
    DEFER_EVENT(w, "worker's cleanup");
    w->goid = gort_goid();
    demo_log_add(&w->log, "start; ");
    if (w->kind == RECOVERS)
        risky(w);
    else if (w->kind == GOEXITS)
        quit(w);
    demo_log_add(&w->log, "return; ");
}

int scenario_goroutines(void)
{
    /* Parenthesised: clang's -Wstring-concatenation would take a split
     * literal in an array for a missing comma. */
    static const char *const want[NWORKERS] = {
        [PLAIN] = "start; return; worker's cleanup; ",
        [RECOVERS] = ("start; panic; risky's cleanup; recover() -> \"worker "
                      "%" PRId64 " failed\"; return; worker's cleanup; "),
        [GOEXITS] = ("start; Goexit; quit's cleanup; recover() -> nil; "
                     "worker's cleanup; "),
    };
    static const char *const what[NWORKERS] = {
        [PLAIN] = "returns; its deferred calls run",
        [RECOVERS] = "panics and recovers in its own chain",
        [GOEXITS] =
            "calls gort_goexit: all its deferred calls run, nil recover()",
    };
    worker workers[NWORKERS];
    int fails = 0;

    memset(workers, 0, sizeof workers);
    memset(&wg, 0, sizeof wg); /* a zero WaitGroup is ready to use */
    printf("  main is goroutine %" PRId64 "\n", gort_goid());
    fails += demo_check(gort_goid() == 1, "main is goroutine 1");

    gort_waitgroup_add(&wg, NWORKERS);
    for (int i = 0; i < NWORKERS; i++) {
        workers[i].kind = i;
        demo_log_reset(&workers[i].log);
        workers[i].started_as = gort_go(worker_main, &workers[i]);
    }
    gort_waitgroup_wait(&wg); /* every log is complete once this returns */

    for (int i = 0; i < NWORKERS; i++) {
        worker *w = &workers[i];
        char expected[256];
        char line[160];
        snprintf(expected, sizeof expected, want[i], w->goid);
        printf("  goroutine %" PRId64 ": %s\n", w->goid, w->log.text);
        snprintf(line, sizeof line, "goroutine %" PRId64 " %s", w->goid,
                 what[i]);
        fails += demo_check(strcmp(w->log.text, expected) == 0, line);
        fails += demo_check(w->goid == w->started_as && w->goid > 1,
                            "  gort_goid() inside == gort_go's return value");
    }
    fails += demo_check(workers[0].goid != workers[1].goid &&
                            workers[1].goid != workers[2].goid &&
                            workers[0].goid != workers[2].goid,
                        "ids are distinct");

    printf("\n  An unrecovered panic in a goroutine (child process):\n");
    fails += demo_run_child("goroutine-panic");
    return fails;
}

/* ===================================================================
 * goroutine-panic (child part)
 * =================================================================== */

static gort_waitgroup forever;

static void crash_note(void *unused)
{
    (void)unused;
    printf("deferred call of goroutine %" PRId64 " runs before the crash\n",
           gort_goid());
}

static void crasher(void *unused)
{
    (void)unused;
    GORT_FRAME;
    gort_defer(crash_note, NULL);
    gort_panic("boom in goroutine %" PRId64, gort_goid());
}

int child_goroutine_panic(void)
{
    printf("main: starting a goroutine that panics, then waiting forever\n");
    gort_waitgroup_add(&forever, 1);
    gort_go(crasher, NULL);
    gort_waitgroup_wait(&forever);
    return 1; /* not reached: the goroutine's panic ends the process */
}
