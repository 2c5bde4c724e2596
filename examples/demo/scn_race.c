/*
 * scn_race.c - scenario race-report: race mode, Go's -race, shown from any
 * build tree.
 *
 * The racing program is race_program.c.  It only means something under
 * ThreadSanitizer, so this scenario runs it as a child process:
 * gort-demo-race (race_main.c, a TSan build of the program and of the
 * library's sources, cmake/GortRaceDemo.cmake) found next to gort-demo,
 * or, when gort-demo itself is a TSan build (tsan preset), gort-demo
 * --child race-report-program.  Besides the row's exit status and
 * strings (demo.c), it checks the report's structure: the two accesses
 * are both gort_map_set_str, one in each goroutine, on a heap block made
 * by gort_map_new_str, and both goroutines' creation stacks pass through
 * gort_go.  Without TSan it reports itself skipped, with the reason.
 */
#define _GNU_SOURCE
#include "demo.h"

#include <gort/gort.h> /* GORT__TSAN: is this program a TSan build? */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(GORT__TSAN) && defined(GORT_DEMO_RACE_EXE)
/* Fills @path with gort-demo-race's path: the directory gort-demo runs
 * from (both are built there).  Returns false if it cannot be found. */
static bool race_exe_path(char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    int k = snprintf(path, size, "%s/%s", self, GORT_DEMO_RACE_EXE);
    return k > 0 && (size_t)k < size && access(path, X_OK) == 0;
}
#endif

/* The text from @from up to (not including) the first of @ends after it,
 * or to @limit; [*begin, *end) on return.  False when @from is absent. */
static bool section(const char *text, const char *limit, const char *from,
                    const char *const *ends, const char **begin,
                    const char **end)
{
    const char *b = strstr(text, from);
    if (b == NULL || b >= limit)
        return false;
    const char *e = limit;
    for (size_t i = 0; ends[i] != NULL; i++) {
        const char *x = strstr(b + 1, ends[i]);
        if (x != NULL && x < e)
            e = x;
    }
    *begin = b;
    *end = e;
    return true;
}

/* Does [begin, end) contain @what? */
static bool has(const char *begin, const char *end, const char *what)
{
    const char *x = strstr(begin, what);
    return x != NULL && x < end;
}

static int check_report(const char *out)
{
    int fails = 0;
    const char *report = strstr(out, "WARNING: ThreadSanitizer: data race");
    if (report == NULL)
        return demo_check(false, "a data race report to look into");
    const char *limit = strstr(report, "\n==================");
    if (limit == NULL)
        limit = report + strlen(report);

    static const char *const section_ends[] = {
        "\n  Previous ", "\n  Location ", "\n  Thread ", "\n  Mutex ",
        "\nSUMMARY: ", NULL};
    const char *b, *e;
    bool ok = section(report, limit, "\n  Write of size 8", section_ends, &b,
                      &e) &&
              has(b, e, "gort_map_set_str") && has(b, e, "second_write");
    fails += demo_check(ok, "report: this write is gort_map_set_str in "
                            "second_write's goroutine");
    ok = section(report, limit, "\n  Previous write of size 8", section_ends,
                 &b, &e) &&
         has(b, e, "gort_map_set_str") && has(b, e, "first_write");
    fails += demo_check(ok, "report: the previous write is gort_map_set_str "
                            "in first_write's goroutine");
    ok = section(report, limit, "\n  Location is heap block", section_ends,
                 &b, &e) &&
         has(b, e, "gort_map_new_str");
    fails += demo_check(ok, "report: the location is the map's header, "
                            "allocated by gort_map_new_str");
    int created = 0;
    for (const char *t = report;
         section(t, limit, "\n  Thread T", section_ends, &b, &e); t = e)
        created += has(b, e, "created by main thread") && has(b, e, "gort_go") &&
                   has(b, e, "demo_race_program");
    fails += demo_check(created == 2, "report: both goroutines were created "
                                      "by gort_go in demo_race_program");
    return fails;
}

int scenario_race_report(void)
{
    const char *exe = NULL; /* NULL: gort-demo itself (tsan tree) */
#if defined(GORT__TSAN)
    printf("  This gort-demo is a ThreadSanitizer build: it runs the "
           "program itself.\n\n");
#elif defined(GORT_DEMO_RACE_EXE)
    char path[PATH_MAX];
    if (!race_exe_path(path, sizeof path))
        return demo_check(false, GORT_DEMO_RACE_EXE " is missing next to "
                                 "gort-demo (built with it)");
    exe = path;
    printf("  gort-demo is not a ThreadSanitizer build; " GORT_DEMO_RACE_EXE
           " is the same\n  program built with -fsanitize=thread, library "
           "included.\n\n");
#else
    printf("  Race mode cannot be shown by this build: %s.\n"
           "  Skipped: no race report was shown.\n",
           GORT_DEMO_RACE_UNAVAILABLE);
    return DEMO_SKIPPED;
#endif
    char *out = NULL;
    int fails = demo_run_program(exe, "race-report-program", &out);
    if (out != NULL)
        fails += check_report(out);
    free(out);
    return fails;
}
