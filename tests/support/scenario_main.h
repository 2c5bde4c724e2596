/*
 * scenario_main.h - main() of a crash-scenario program: runs the scenario
 * named by argv[1], a function that must end the process (exit status 2
 * and a "fatal error: ..." report); if it returns, the misuse went
 * unnoticed (status 1).  Header-only, for the programs that tests run as
 * child processes (tests/map/map_crashers.c, tests/snapmap/...).
 */
#ifndef GORT_TEST_SCENARIO_MAIN_H
#define GORT_TEST_SCENARIO_MAIN_H

#include <stdio.h>
#include <string.h>

typedef struct scenario {
    const char *name;
    void (*fn)(void);
} scenario;

static inline int scenario_main(int argc, char **argv, const char *prog,
                                const scenario *s, size_t n)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCENARIO\n", prog);
        return 64;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], s[i].name) == 0) {
            s[i].fn();
            fprintf(stderr, "%s: the misuse went unnoticed\n", argv[1]);
            return 1;
        }
    }
    fprintf(stderr, "%s: no scenario %s\n", prog, argv[1]);
    return 64;
}

#endif /* GORT_TEST_SCENARIO_MAIN_H */
