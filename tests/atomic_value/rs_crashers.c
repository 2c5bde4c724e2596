/*
 * rs_crashers - misuse of read sections and of the atomic value that ends
 * the process; run as a child by test_read_section_crash.c, one scenario
 * per run (argv[1]).
 */
#include <gort/defer.h>
#include <gort/sync.h>

#include <stdio.h>
#include <string.h>

static void synchronize_in_section(void)
{
    gort_read_begin();
    gort_read_begin();
    gort_read_end();
    gort_synchronize();
}

static void read_end_outside(void)
{
    gort_read_begin();
    gort_read_end();
    gort_read_end();
}

/* The only open section is a snapmap view: a plain end must not close
 * it (the view's own end checks its map and view). */
static void read_end_with_only_a_view(void)
{
    gort_snapmap *s = gort_snapmap_new_str(sizeof(int));
    const gort_map *v = gort_snapmap_read_begin(s);
    (void)v;
    gort_read_end();
}

static void barrier_in_section(void)
{
    gort_read_begin();
    gort_retire_barrier();
}

static int dummy;

static void barrier_destructor(void *p)
{
    (void)p;
    gort_retire_barrier();
}

static void barrier_in_destructor(void)
{
    gort_retire(&dummy, barrier_destructor);
    gort_retire_barrier();
}

static void store_nil(void)
{
    gort_atomic_value v;
    gort_atomic_value_init(&v, NULL);
    gort_atomic_value_store(&v, NULL);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } scenarios[] = {
        {"synchronize_in_section", synchronize_in_section},
        {"read_end_outside", read_end_outside},
        {"read_end_with_only_a_view", read_end_with_only_a_view},
        {"barrier_in_section", barrier_in_section},
        {"barrier_in_destructor", barrier_in_destructor},
        {"store_nil", store_nil},
    };
    for (size_t i = 0; argc > 1 && i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            scenarios[i].fn();
            return 0;
        }
    }
    fprintf(stderr, "usage: rs_crashers SCENARIO\n");
    return 64;
}
