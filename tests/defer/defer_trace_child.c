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
#include <gort/sync.h>

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

static void scenario_long_file(void);

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
    else if (strcmp(mode, "long_file") == 0)
        scenario_long_file();
    else
        return 64;
    printf("done\n");
    return 0;
}

/* Sites in a file whose path is longer than the trace's line buffer
 * (#line gives them one), deferred by four goroutines at once: every
 * trace line must still come out whole, in one write.  Last in this
 * file: the #line changes __FILE__ for everything after it. */
static gort_waitgroup long_file_done;

static void nothing_long(void *arg)
{
    (void)arg;
}

#line 1 "/a-very-long-directory-name-00/a-very-long-directory-name-01/a-very-long-directory-name-02/a-very-long-directory-name-03/a-very-long-directory-name-04/a-very-long-directory-name-05/a-very-long-directory-name-06/a-very-long-directory-name-07/a-very-long-directory-name-08/a-very-long-directory-name-09/a-very-long-directory-name-10/a-very-long-directory-name-11/a-very-long-directory-name-12/a-very-long-directory-name-13/a-very-long-directory-name-14/a-very-long-directory-name-15/a-very-long-directory-name-16/a-very-long-directory-name-17/a-very-long-directory-name-18/a-very-long-directory-name-19/a-very-long-directory-name-20/a-very-long-directory-name-21/a-very-long-directory-name-22/a-very-long-directory-name-23/a-very-long-directory-name-24/a-very-long-directory-name-25/a-very-long-directory-name-26/a-very-long-directory-name-27/a-very-long-directory-name-28/a-very-long-directory-name-29/a-very-long-directory-name-30/a-very-long-directory-name-31/a-very-long-directory-name-32/a-very-long-directory-name-33/a-very-long-directory-name-34/a-very-long-directory-name-35/a-very-long-directory-name-36/a-very-long-directory-name-37/a-very-long-directory-name-38/a-very-long-directory-name-39/long_file.c"
static void long_file_frame(void)
{
    GORT_FRAME;
    for (int i = 0; i < 10; i++)
        gort_defer(nothing_long, NULL);
}

static void long_file_frames(void *arg)
{
    (void)arg;
    for (int round = 0; round < 50; round++)
        long_file_frame();
    gort_waitgroup_done(&long_file_done);
}

static void scenario_long_file(void)
{
    gort_waitgroup_add(&long_file_done, 4);
    for (int i = 0; i < 4; i++)
        gort_go(long_file_frames, NULL);
    gort_waitgroup_wait(&long_file_done);
}
