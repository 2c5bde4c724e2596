/*
 * criterion/criterion.h - a stand-in for Criterion, used only by the tsan
 * preset.
 *
 * Criterion cannot run under ThreadSanitizer (its BoxFort arena is mapped
 * where TSan's shadow memory lives: Criterion issue #274), so
 * tests/CMakeLists.txt does not register Criterion tests in that preset.
 * So that every suite still runs under TSan, gort_add_test() compiles the
 * test sources against this header in that preset (its directory comes
 * first on the include path) and links them with shim_main.c.  Only what
 * gort's tests use is here: Test() (its options are ignored: tests that
 * need .exit_code or .signal run their code in a child process instead),
 * the cr_assert and cr_expect families with optional printf-style
 * messages, cr_assert_fail() and cr_skip_test().  As with Criterion, every
 * test runs in its own child process; a failed assertion ends that
 * process, a failed expectation marks it failed and lets it go on.
 */
#ifndef GORT_CRITERION_SHIM_H
#define GORT_CRITERION_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct shim_test {
    const char *suite;       /* Test()'s first argument */
    const char *name;        /* its second */
    void (*fn)(void);        /* the body */
    struct shim_test *next;  /* registration list */
} shim_test;

void shim_register(shim_test *t);
_Noreturn void shim_fail(const char *file, int line, const char *expr,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void shim_expect_fail(const char *file, int line, const char *expr,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
_Noreturn void shim_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                                 \
    static void suite##_##name##_impl(void);                                   \
    static shim_test suite##_##name##_reg = {#suite, #name,                    \
                                             suite##_##name##_impl, NULL};     \
    __attribute__((constructor)) static void suite##_##name##_ctor(void)       \
    {                                                                          \
        shim_register(&suite##_##name##_reg);                                  \
    }                                                                          \
    static void suite##_##name##_impl(void)

/* The message, when given, starts with a string literal: " " makes the
 * format non-empty either way. */
#define SHIM_CHECK(cond, expr, ...)                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            shim_fail(__FILE__, __LINE__, expr, " " __VA_ARGS__);              \
    } while (0)

#define SHIM_EXPECT(cond, expr, ...)                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            shim_expect_fail(__FILE__, __LINE__, expr, " " __VA_ARGS__);       \
    } while (0)

#define cr_expect(c, ...) SHIM_EXPECT((c), #c, __VA_ARGS__)
#define cr_expect_not(c, ...) SHIM_EXPECT(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_eq(a, b, ...) SHIM_EXPECT((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) SHIM_EXPECT((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_null(p, ...) SHIM_EXPECT((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...)                                             \
    SHIM_EXPECT((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)                                            \
    SHIM_EXPECT(strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)

#define cr_assert(c, ...) SHIM_CHECK((c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) SHIM_CHECK(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) SHIM_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) SHIM_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) SHIM_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) SHIM_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...)                                             \
    SHIM_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                            \
    SHIM_CHECK(strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_fail(...) shim_fail(__FILE__, __LINE__, "fail", " " __VA_ARGS__)
#define cr_skip_test(...) shim_skip(" " __VA_ARGS__)

#endif
