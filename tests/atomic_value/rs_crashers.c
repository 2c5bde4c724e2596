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

static void synchronizer(void *arg)
{
    (void)arg;
    gort_synchronize();
    fputs("synchronized\n", stderr);
}

/* Main ends by Goexit inside a read section while a goroutine waits for
 * a grace period: the section must end with main, as it would with any
 * goroutine, or the goroutine waits forever and so does main. */
static void goexit_in_section(void)
{
    gort_read_begin();
    gort_go(synchronizer, NULL);
    gort_goexit();
}

static void flushing_writer(void *arg)
{
    gort_snapmap *s = arg;
    int v = 2;
    gort_snapmap_set_str(s, "b", 1, &v);
    gort_snapmap_flush(s);
    const gort_map *view = gort_snapmap_read_begin(s);
    const int *b = gort_map_get_str(view, "b", 1);
    fprintf(stderr, "flushed, b = %d\n", b != NULL ? *b : -1);
    gort_snapmap_read_end(s, view);
}

/* The same with a snapmap: main holds a view, a goroutine's flush waits
 * for it; the map's flusher goroutine (started by the first write) must
 * not keep main's Goexit from finding that no goroutine is left. */
static void goexit_with_a_view_and_a_flusher(void)
{
    gort_snapmap *s = gort_snapmap_new_str(sizeof(int));
    int v = 1;
    gort_snapmap_set_str(s, "a", 1, &v);
    const gort_map *view = gort_snapmap_read_begin(s);
    (void)view;
    gort_go(flushing_writer, s);
    gort_goexit();
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
        {"goexit_in_section", goexit_in_section},
        {"goexit_with_a_view_and_a_flusher", goexit_with_a_view_and_a_flusher},
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
