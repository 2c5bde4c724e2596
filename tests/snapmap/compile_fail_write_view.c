/*
 * SPEC: a snapmap view is read-only.  tests/snapmap/CMakeLists.txt
 * compiles this file twice: as is, expecting the compiler to reject the
 * write through the const view, and with -DREAD_ONLY, expecting it to
 * compile, so the first failure can only come from the write.
 */
#include <gort/snapmap.h>

#include <stdint.h>

int64_t touch(gort_snapmap *s);
int64_t touch(gort_snapmap *s)
{
    const gort_map *view = gort_snapmap_read_begin(s);
#ifdef READ_ONLY
    const int64_t *slot = gort_map_get_str(view, "k", 1);
#else
    int64_t *slot = gort_map_set_str(view, "k", 1);
#endif
    int64_t v = slot != NULL ? *slot : 0;
    gort_snapmap_read_end(s, view);
    return v;
}
