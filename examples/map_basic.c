/*
 * map_basic.c - Go's map in C: map[string]int64 and a map with struct
 * keys.
 *
 *     ages := make(map[string]int64)
 *     ages["alice"] = 31
 *     ages["bob"] += 1                    // a missing key reads as zero
 *     if v, ok := ages["alice"]; ok { ... }
 *     delete(ages, "bob")
 *     for k, v := range ages { ... }      // random order
 *
 *     type point struct{ x, y int32 }
 *     grid := map[point]string{}
 *
 *     $ ./map_basic
 *     ages["alice"] = 31, len 3
 *     ages["bob"] = 1 after += 1
 *     delete(ages, "bob") -> true; again -> false
 *     range: alice 31        (order differs from run to run)
 *     range: carol 27
 *     grid[{2,3}] = "tree"; grid[{9,9}] absent; len 2
 */
#include <gort/map.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct point {
    int32_t x, y;
} point;

/* A user hash must mix in the map's seed (splitmix64's finalizer). */
static uint64_t point_hash(const void *key, uint64_t seed)
{
    const point *p = key; /* keys are stored aligned for their type */
    uint64_t z = ((uint64_t)(uint32_t)p->x << 32 | (uint32_t)p->y) + seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool point_equal(const void *a, const void *b)
{
    const point *p = a, *q = b;
    return p->x == q->x && p->y == q->y;
}

int main(void)
{
    /* map[string]int64; the map copies the keys it stores. */
    gort_map *ages = gort_map_new_str(sizeof(int64_t), 0);
    *(int64_t *)gort_map_set_str(ages, "alice", 5) = 31;
    *(int64_t *)gort_map_set_str(ages, "carol", 5) = 27;
    /* set returns the slot, zeroed when the key is new: ages["bob"] += 1 */
    *(int64_t *)gort_map_set_str(ages, "bob", 3) += 1;

    const int64_t *v = gort_map_get_str(ages, "alice", 5); /* read-only */
    if (v != NULL)
        printf("ages[\"alice\"] = %" PRId64 ", len %zu\n", *v,
               gort_map_len(ages));
    v = gort_map_get_str(ages, "bob", 3);
    printf("ages[\"bob\"] = %" PRId64 " after += 1\n", v != NULL ? *v : 0);

    bool was = gort_map_delete_str(ages, "bob", 3);
    bool again = gort_map_delete_str(ages, "bob", 3);
    printf("delete(ages, \"bob\") -> %s; again -> %s\n",
           was ? "true" : "false", again ? "true" : "false");

    /* for k, v := range ages: string keys are not NUL-terminated. */
    gort_map_iter it;
    gort_map_iter_init(&it, ages);
    while (gort_map_iter_next(&it))
        printf("range: %.*s %" PRId64 "\n", (int)it.key_len,
               (const char *)it.key, *(const int64_t *)it.val);
    gort_map_free(ages);

    /* map[point]string: fixed-size keys with a user hash and equality;
     * the value is a const char *. */
    const gort_map_type point_type = {
        .key_size = sizeof(point),
        .val_size = sizeof(const char *),
        .hash = point_hash,
        .equal = point_equal,
    };
    gort_map *grid = gort_map_new(&point_type, 0);
    point tree = {2, 3}, rock = {5, 1}, nowhere = {9, 9};
    *(const char **)gort_map_set(grid, &tree) = "tree";
    *(const char **)gort_map_set(grid, &rock) = "rock";
    const char *const *what = gort_map_get(grid, &tree);
    printf("grid[{2,3}] = \"%s\"; grid[{9,9}] %s; len %zu\n",
           what != NULL ? *what : "",
           gort_map_get(grid, &nowhere) == NULL ? "absent" : "present",
           gort_map_len(grid));
    gort_map_free(grid);
    return 0;
}
