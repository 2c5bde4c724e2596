/*
 * Property test: the fuzzer's op-stream interpreter (fuzz/map_ops.h) run
 * on pseudo-random programs from a fixed seed, in the normal suite.  Each
 * program is checked against the reference model and gort__map_verify
 * after every operation (see map_ops.h for the rules).  Programs are
 * biased toward valid, interesting operations: about one in three bytes
 * is an operation code, the others arguments.
 */
#include "map_ops.h"

#include <criterion/criterion.h>

static uint64_t prng_state;

static uint64_t prng(void)
{
    prng_state += 0x9E3779B97F4A7C15ull;
    return fm_mix(prng_state);
}

/* ThreadSanitizer makes every access ~30 times slower: fewer programs
 * keep this a seconds-long unit test there (the default and asan presets
 * run them all). */
#ifdef GORT__TSAN
enum { SCALE = 5 };
#else
enum { SCALE = 1 };
#endif

static void run_programs(int kind, int programs, size_t max_len)
{
    programs /= SCALE;
    uint8_t *buf = malloc(max_len);
    for (int p = 0; p < programs; p++) {
        size_t len = 3 + prng() % (max_len - 3);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)prng();
        buf[0] = (uint8_t)(kind + FM_NKINDS * (prng() % 8));
        fm_run(buf, len);
    }
    free(buf);
}

Test(map_property, copied_string_maps_match_the_model)
{
    prng_state = 1;
    run_programs(FM_STR, 60, 3000);
}

Test(map_property, borrowed_string_maps_match_the_model)
{
    prng_state = 2;
    run_programs(FM_STRREF, 60, 3000);
}

Test(map_property, u64_maps_match_the_model)
{
    prng_state = 3;
    run_programs(FM_U64, 60, 3000);
}

Test(map_property, generic_maps_match_the_model_with_panicking_callbacks)
{
    prng_state = 4;
    run_programs(FM_GEN, 60, 3000);
}

Test(map_property, generic_maps_with_a_weak_hash_match_the_model)
{
    prng_state = 5;
    run_programs(FM_GENBAD, 40, 2000);
}
