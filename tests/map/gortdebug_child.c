/*
 * gortdebug-child: prints the gort_map_dump header line of two new maps,
 * so that test_map_gortdebug.c can check what GORTDEBUG (read at process
 * start) did to their seeds and flags.
 */
#include <gort/map.h>

#include <stdio.h>

int main(void)
{
    for (int i = 0; i < 2; i++) {
        gort_map *m = gort_map_new_u64(8, 0);
        gort_map_dump(m, stdout);
        gort_map_free(m);
    }
    return 0;
}
