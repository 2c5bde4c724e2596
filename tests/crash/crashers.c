/*
 * gort-crashers: the crash scenarios of tests/golden, one per argument.
 *
 * Each scenario function has the same name as its twin in
 * tests/golden/go/main.go, and main() calls it directly, so the
 * normalised tracebacks of the two programs must be identical.
 */
#include <gort/gort.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int *volatile sink;

__attribute__((noinline)) static void panicSimple(void)
{
    gort_panic("boom");
}

__attribute__((noinline)) static void nestedSecond(void *arg)
{
    (void)arg;
    gort_panic("second");
}

__attribute__((noinline)) static void panicNested(void)
{
    GORT_FRAME;
    gort_defer(nestedSecond, NULL);
    gort_panic("first");
}

__attribute__((noinline)) static void recoverThenPanic(void *arg)
{
    (void)arg;
    gort_recover();
    gort_panic("second");
}

__attribute__((noinline)) static void panicRecoveredRepanic(void)
{
    GORT_FRAME;
    gort_defer(recoverThenPanic, NULL);
    gort_panic("first");
}

static const gort_error errUser = {"user error value", false};

__attribute__((noinline)) static void panicErrorValue(void)
{
    gort_panic_err(&errUser);
}

__attribute__((noinline)) static void goroutineWorker(void *arg)
{
    (void)arg;
    gort_panic("in goroutine");
}

__attribute__((noinline)) static void panicInGoroutine(void)
{
    gort_go(goroutineWorker, NULL);
    sleep(10);
}

__attribute__((noinline)) static void nilFuncDeferred(void)
{
    GORT_FRAME;
    void (*volatile nilf)(void *) = NULL;
    gort_defer(nilf, NULL);
}

/* UBSan (asan preset) would stop the null store before the fault. */
__attribute__((noinline, no_sanitize("undefined"))) static void nilDeref(void)
{
    *sink = 1;
}

__attribute__((noinline)) static void deferredPrint(void *arg)
{
    (void)arg;
    fprintf(stderr, "deferred call ran\n");
}

__attribute__((noinline)) static void goexitMain(void)
{
    GORT_FRAME;
    gort_defer(deferredPrint, NULL);
    gort_goexit();
}

__attribute__((noinline)) static void panicNil(void)
{
    gort_panic(NULL);
}

static void ignore(void *arg)
{
    (void)arg;
}

/* An argument copy too large for any heap: Go's out-of-memory fatal
 * error, not a crash. */
__attribute__((noinline)) static void outOfMemory(void)
{
    GORT_FRAME;
    static char small;
    gort_defer_copy(ignore, &small, (size_t)1 << 62);
}

static gort_waitgroup start_line;

__attribute__((noinline)) static void racingPanicker(void *arg)
{
    gort_waitgroup_done(&start_line);
    gort_waitgroup_wait(&start_line);
    gort_panic("racing panic %ld", (long)(intptr_t)arg);
}

/* Eight goroutines panic at the same instant: exactly one report, never
 * interleaved (Go's paniclk). */
__attribute__((noinline)) static void concurrentPanics(void)
{
    gort_waitgroup_add(&start_line, 8);
    for (long i = 0; i < 8; i++)
        gort_go(racingPanicker, (void *)(intptr_t)i);
    sleep(10);
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "";
    if (strcmp(s, "panic_simple") == 0)
        panicSimple();
    else if (strcmp(s, "panic_nested") == 0)
        panicNested();
    else if (strcmp(s, "panic_recovered_repanic") == 0)
        panicRecoveredRepanic();
    else if (strcmp(s, "panic_error_value") == 0)
        panicErrorValue();
    else if (strcmp(s, "panic_in_goroutine") == 0)
        panicInGoroutine();
    else if (strcmp(s, "nil_func_deferred") == 0)
        nilFuncDeferred();
    else if (strcmp(s, "nil_deref") == 0)
        nilDeref();
    else if (strcmp(s, "goexit_main") == 0)
        goexitMain();
    else if (strcmp(s, "panic_nil") == 0)
        panicNil();
    else if (strcmp(s, "out_of_memory") == 0)
        outOfMemory();
    else if (strcmp(s, "concurrent_panics") == 0)
        concurrentPanics();
    else {
        fprintf(stderr, "gort-crashers: unknown scenario %s\n", s);
        return 64;
    }
    return 0;
}
