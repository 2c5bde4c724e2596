/*
 * GORTDEBUG's map settings, read at process start as Go reads GODEBUG:
 * mapseed=N fixes every map's seed (a negative N is its two's
 * complement), mapstrict=N turns strict mode on for any N != 0, a later
 * setting wins, malformed values and unknown names are ignored.  Each
 * case runs gortdebug-child with the variable set and reads the seeds
 * and flags of its two maps from their dumps.
 */
#include "child.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct child_maps {
    unsigned long long seed[2];
    unsigned flags[2];
} child_maps;

static child_maps run_with(const char *gortdebug)
{
    char var[256];
    snprintf(var, sizeof var, "GORTDEBUG=%s", gortdebug);
    const char *env[] = {var, NULL};
    const char *argv[] = {child_sibling_path("gortdebug-child"), NULL};
    child_result r;
    cr_assert(child_run(argv, env, 30, &r), "cannot run gortdebug-child");
    cr_assert_eq(r.status, 0, "stderr:\n%s", r.err);
    child_maps maps;
    const char *p = r.out;
    for (int i = 0; i < 2; i++) {
        p = strstr(p, "hash0=");
        cr_assert_not_null(p, "%s", r.out);
        maps.seed[i] = strtoull(p + 6, NULL, 0);
        p = strstr(p, " flags=");
        cr_assert_not_null(p, "%s", r.out);
        maps.flags[i] = (unsigned)strtoul(p + 7, NULL, 0);
    }
    child_result_free(&r);
    return maps;
}

Test(map_gortdebug, mapseed_fixes_every_map_s_seed)
{
    child_maps m = run_with("mapseed=42");
    cr_assert_eq(m.seed[0], 42);
    cr_assert_eq(m.seed[1], 42);
    m = run_with("mapseed=5,mapseed=7");
    cr_assert_eq(m.seed[0], 7, "the later setting wins");
    m = run_with("mapseed=-1");
    cr_assert_eq(m.seed[0], ~0ull, "two's complement, as Go's atoi");
    m = run_with(",,mapseed=9,,");
    cr_assert_eq(m.seed[0], 9);
}

Test(map_gortdebug, malformed_or_absent_mapseed_leaves_seeds_random)
{
    const char *bad[] = {"", "mapseed=", "mapseed=0x10", " mapseed=9",
                         "mapseed=18446744073709551616", "mapseed"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        child_maps m = run_with(bad[i]);
        cr_assert_neq(m.seed[0], m.seed[1], "GORTDEBUG=%s: two maps, one "
                      "seed %llx", bad[i], m.seed[0]);
    }
}

Test(map_gortdebug, mapstrict_is_on_for_any_nonzero_value)
{
    unsigned off = run_with("").flags[0];
    unsigned on = run_with("mapstrict=1").flags[0];
    cr_assert_neq(off, on, "strict mode shows in the flags");
    cr_assert_eq(run_with("mapstrict=-1").flags[0], on);
    cr_assert_eq(run_with("mapstrict=2").flags[0], on);
    cr_assert_eq(run_with("mapstrict=1,mapstrict=0").flags[0], off);
    cr_assert_eq(run_with("mapstrict=x").flags[0], off);
}
