/*
 * Port of Go 1.19 test/recover5.go (errorcheck): recover takes no
 * arguments, and the compiler enforces it.  tests/panic/CMakeLists.txt
 * compiles this file expecting "too many arguments" errors, and once with
 * -DOK_ONLY expecting success.
 */
#include <gort/defer.h>

void use(void);
void use(void)
{
    (void)gort_recover(); /* OK */
#ifndef OK_ONLY
    (void)gort_recover(1);    /* ERROR "too many arguments" */
    (void)gort_recover(1, 2); /* ERROR "too many arguments" */
#endif
}
