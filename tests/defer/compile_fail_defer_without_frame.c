/*
 * SPEC: "gort_defer in a function without GORT_FRAME does not compile
 * (the macro refers to the frame)".  tests/defer/CMakeLists.txt compiles
 * this file twice: as is, expecting the compiler to reject the
 * gort_defer below, and with -DWITH_FRAME, expecting it to compile, so
 * the first failure can only come from the missing frame.
 */
#include <gort/defer.h>

void nothing(void *arg);
void nothing(void *arg)
{
    (void)arg;
}

void no_frame(void);
void no_frame(void)
{
#ifdef WITH_FRAME
    GORT_FRAME;
#endif
    gort_defer(nothing, NULL);
}
