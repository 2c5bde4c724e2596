/*
 * check.h - assertions for standalone validate programs.
 *
 * Criterion cannot run under ThreadSanitizer (its BoxFort arena is mapped
 * at a fixed address TSan's shadow memory owns: Criterion issue #274), so
 * the concurrency tests are also built as plain programs ("validate"
 * programs, after Concurrency Kit's regressions/) that run in every preset,
 * tsan included.  A failed CHECK prints the condition and exits with 1.
 */
#ifndef GORT_TEST_CHECK_H
#define GORT_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #c);                                                       \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define CHECK_EQ_LONG(a, b)                                                    \
    do {                                                                       \
        long check_a_ = (long)(a), check_b_ = (long)(b);                       \
        if (check_a_ != check_b_) {                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%ld != %ld)\n",    \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                     \
    do {                                                                       \
        const char *check_a_ = (a), *check_b_ = (b);                           \
        if (check_a_ == NULL || check_b_ == NULL ||                            \
            strcmp(check_a_, check_b_) != 0) {                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)", \
                    check_b_ ? check_b_ : "(null)");                           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Seconds a stress loop may run: GORT_STRESS_SECONDS, default 2. */
static inline double check_stress_seconds(void)
{
    const char *s = getenv("GORT_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 0;
    return v > 0 ? v : 2.0;
}

#endif
