/*
 * snapmap-crashers: the snapshot map's fatal misuse, one scenario per
 * argument, run as a child by test_snapmap_crash.c.  Each scenario ends
 * the process with "fatal error: ..." and exit status 2; returning from
 * main (exit 0) or exit 1 means the misuse went unnoticed.
 */
#include <gort/read_section.h>
#include <gort/snapmap.h>
#include <gort/sync.h>

#include "scenario_main.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static gort_snapmap *published_map(void)
{
    gort_snapmap *s = gort_snapmap_new_str(8);
    int64_t v = 1;
    gort_snapmap_set_str(s, "k", 1, &v);
    gort_snapmap_flush(s);
    return s;
}

/* Casting the const away: the map's frozen flag stops every write path. */
__attribute__((noinline)) static void write_through_view(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    int64_t *slot = gort_map_set_str((gort_map *)v, "k", 1);
    *slot = 2;
}

__attribute__((noinline)) static void delete_through_view(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    gort_map_delete_str((gort_map *)v, "k", 1);
}

__attribute__((noinline)) static void clear_through_view(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    gort_map_clear((gort_map *)v);
}

__attribute__((noinline)) static void free_view(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    gort_snapmap_read_end(s, v);
    gort_map_free((gort_map *)v); /* even outside the view: never yours */
}

__attribute__((noinline)) static void flush_in_view(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    (void)v;
    gort_snapmap_flush(s);
}

/* A view of another map counts too: the flush waits for every reader. */
__attribute__((noinline)) static void flush_in_other_view(void)
{
    gort_snapmap *s = published_map(), *t = published_map();
    const gort_map *v = gort_snapmap_read_begin(t);
    (void)v;
    gort_snapmap_flush(s);
}

__attribute__((noinline)) static void flush_in_read_section(void)
{
    gort_snapmap *s = published_map();
    gort_read_begin();
    gort_snapmap_flush(s);
}

__attribute__((noinline)) static void free_in_view(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    (void)v;
    gort_snapmap_free(s);
}

__attribute__((noinline)) static void end_twice(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    gort_snapmap_read_end(s, v);
    gort_snapmap_read_end(s, v);
}

__attribute__((noinline)) static void end_with_other_map(void)
{
    gort_snapmap *s = published_map(), *t = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    gort_snapmap_read_end(t, v);
}

__attribute__((noinline)) static void end_null(void)
{
    gort_snapmap *s = published_map();
    const gort_map *v = gort_snapmap_read_begin(s);
    (void)v;
    gort_snapmap_read_end(s, NULL);
}

/* Two maps whose views sit at the same distance from their maps (maps
 * made one after another mostly do): ending b's view twice while a's is
 * open must not end a's. */
__attribute__((noinline)) static void end_twice_beside_another_maps_view(void)
{
    enum { N = 16 };
    gort_snapmap *m[N];
    ptrdiff_t off[N];
    for (int i = 0; i < N; i++) {
        m[i] = published_map();
        const gort_map *v = gort_snapmap_read_begin(m[i]);
        off[i] = (const char *)v - (const char *)m[i];
        gort_snapmap_read_end(m[i], v);
    }
    int a = 0, b = 1;
    for (int i = 0; i < N && a == 0 && b == 1; i++)
        for (int j = i + 1; j < N; j++)
            if (off[i] == off[j]) {
                a = i;
                b = j;
                break;
            }
    const gort_map *va = gort_snapmap_read_begin(m[a]);
    const gort_map *vb = gort_snapmap_read_begin(m[b]);
    (void)va;
    gort_snapmap_read_end(m[b], vb);
    gort_snapmap_read_end(m[b], vb);
}

/* (NULL, NULL) is the tag of a plain section: ending it as a view of a
 * nil map must not close the section, inline or out of line. */
__attribute__((noinline)) static void end_nil_map_in_plain_section(void)
{
    gort_read_begin();
    gort_snapmap_read_end(NULL, NULL);
}

__attribute__((noinline)) static void end_nil_map_in_plain_section_ool(void)
{
    gort_read_begin();
    (gort_snapmap_read_end)(NULL, NULL);
}

static gort_snapmap *shared;
static const gort_map *shared_view;

static void end_it(void *arg)
{
    (void)arg;
    gort_snapmap_read_end(shared, shared_view);
}

/* The view belongs to goroutine 1; goroutine 2 cannot end it. */
__attribute__((noinline)) static void end_on_other_goroutine(void)
{
    shared = published_map();
    shared_view = gort_snapmap_read_begin(shared);
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, 1);
    gort_go(end_it, NULL);
    gort_waitgroup_wait(&wg); /* never returns: the goroutine crashes */
}

int main(int argc, char **argv)
{
    static const scenario scenarios[] = {
        {"write_through_view", write_through_view},
        {"delete_through_view", delete_through_view},
        {"clear_through_view", clear_through_view},
        {"free_view", free_view},
        {"flush_in_view", flush_in_view},
        {"flush_in_other_view", flush_in_other_view},
        {"flush_in_read_section", flush_in_read_section},
        {"free_in_view", free_in_view},
        {"end_twice", end_twice},
        {"end_with_other_map", end_with_other_map},
        {"end_null", end_null},
        {"end_nil_map_in_plain_section", end_nil_map_in_plain_section},
        {"end_twice_beside_another_maps_view",
         end_twice_beside_another_maps_view},
        {"end_nil_map_in_plain_section_ool",
         end_nil_map_in_plain_section_ool},
        {"end_on_other_goroutine", end_on_other_goroutine},
    };
    return scenario_main(argc, argv, "snapmap-crashers", scenarios,
                         sizeof scenarios / sizeof scenarios[0]);
}
