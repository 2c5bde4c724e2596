/*
 * defer_basic.c - Go's defer in C: cleanups registered where the resource
 * is acquired, run in reverse order on every return path.
 *
 *     $ ./defer_basic
 *     freed the line buffer
 *     closed /proc/self/status
 *     counted 3 lines
 *     deferred with i = 2
 *     deferred with i = 1
 *     deferred with i = 0
 */
#include <gort/defer.h>

#include <stdio.h>
#include <stdlib.h>

static void close_file(void *f)
{
    fclose(f);
    printf("closed /proc/self/status\n");
}

static void free_buffer(void *p)
{
    free(p);
    printf("freed the line buffer\n");
}

/* Counts the first lines of a file.  Each early return runs exactly the
 * defers registered before it. */
static int count_lines(const char *path, int max)
{
    GORT_FRAME_RETURN(-1);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;             /* nothing deferred yet */
    gort_defer(close_file, f); /* defer f.Close() */

    char *line = malloc(256);
    if (line == NULL)
        return -1;                 /* closes f */
    gort_defer(free_buffer, line); /* runs before close_file */

    int n = 0;
    while (n < max && fgets(line, 256, f) != NULL)
        n++;
    return n; /* n is evaluated, then the defers run */
}

static void print_i(void *arg)
{
    printf("deferred with i = %d\n", *(const int *)arg);
}

static void loop(void)
{
    GORT_FRAME;
    for (int i = 0; i < 3; i++)
        gort_defer_copy(print_i, &i, sizeof i); /* i is copied now */
}

int main(void)
{
    int n = count_lines("/proc/self/status", 3);
    printf("counted %d lines\n", n);
    loop();
    return n == 3 ? 0 : 1;
}
