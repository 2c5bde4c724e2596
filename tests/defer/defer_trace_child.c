/*
 * defer_trace_child - a small program for test_defer_trace.c: registers
 * and runs deferred calls in one scenario (argv[1]) and prints to stdout
 * one "expect FUNC LINE" line per gort_defer, before the call, so the
 * test can match GORTDEBUG=deferpcstack=1's trace on stderr.
 *
 * Scenarios: return (nested frames, normal returns), panic (a panic
 * recovered two frames up), pooled (twelve calls in one frame), copy
 * (gort_defer_copy, inline and heap copies).
 */
#include <gort/defer.h>

#include <stdio.h>
#include <string.h>

#define DEFER_NOTED(fn, arg)                                                   \
    do {                                                                       \
        printf("expect %s %d\n", __func__, __LINE__);                          \
        gort_defer((fn), (arg));                                               \
    } while (0)

#define DEFER_COPY_NOTED(fn, arg, size)                                        \
    do {                                                                       \
        printf("expect %s %d\n", __func__, __LINE__);                          \
        gort_defer_copy((fn), (arg), (size));                                  \
    } while (0)

static void nothing(void *arg)
{
    (void)arg;
}

static void swallow(void *arg)
{
    (void)arg;
    gort_recover();
}

static void inner(void)
{
    GORT_FRAME;
    DEFER_NOTED(nothing, NULL);
    DEFER_NOTED(nothing, NULL);
}

static void scenario_return(void)
{
    GORT_FRAME;
    DEFER_NOTED(nothing, NULL);
    inner();
    DEFER_NOTED(nothing, NULL);
    DEFER_NOTED(nothing, NULL);
}

static void panicking(void)
{
    GORT_FRAME;
    DEFER_NOTED(nothing, NULL);
    gort_panic("traced");
}

static void middle(void)
{
    GORT_FRAME;
    DEFER_NOTED(nothing, NULL);
    panicking();
}

static void scenario_panic(void)
{
    GORT_FRAME;
    DEFER_NOTED(nothing, NULL);
    DEFER_NOTED(swallow, NULL);
    middle();
}

static void scenario_pooled(void)
{
    GORT_FRAME;
    for (int i = 0; i < 12; i++)
        DEFER_NOTED(nothing, NULL);
}

static void scenario_copy(void)
{
    static char big[100];
    int small = 4;
    GORT_FRAME;
    DEFER_COPY_NOTED(nothing, &small, sizeof small);
    DEFER_COPY_NOTED(nothing, big, sizeof big);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "return";
    if (strcmp(mode, "return") == 0)
        scenario_return();
    else if (strcmp(mode, "panic") == 0)
        scenario_panic();
    else if (strcmp(mode, "pooled") == 0)
        scenario_pooled();
    else if (strcmp(mode, "copy") == 0)
        scenario_copy();
    else
        return 64;
    printf("done\n");
    return 0;
}
