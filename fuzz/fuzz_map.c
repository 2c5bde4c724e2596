/*
 * fuzz_map.c - libFuzzer target for the map (STYLE.md 14: an op-stream
 * interpreter that is also a regression test).
 *
 * Built with -fsanitize=fuzzer under the fuzz preset (GORT_FUZZ=ON) as
 * `fuzz_map`; in every build as `fuzz_map_replay` (FUZZ_MAP_REPLAY), which
 * replays the committed seed corpus fuzz/corpus/map/ as the ctest
 * fuzz_map_corpus.  The interpreter and its reference model are in
 * map_ops.h.
 */
#include "map_ops.h"

#include <dirent.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_run(data, size);
    return 0;
}

#ifdef FUZZ_MAP_REPLAY
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap != 0 ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    fm_run(buf, len);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays every file given, and every file of every directory given. */
int main(int argc, char **argv)
{
    int files = 0, status = 0;
    for (int i = 1; i < argc; i++) {
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, by_name);
        if (n < 0) { /* not a directory: a file */
            status |= replay_file(argv[i]);
            files++;
            continue;
        }
        for (int j = 0; j < n; j++) {
            if (names[j]->d_name[0] != '.') {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], names[j]->d_name);
                status |= replay_file(path);
                files++;
            }
            free(names[j]);
        }
        free(names);
    }
    printf("fuzz_map: %d inputs replayed\n", files);
    return status != 0 || files == 0;
}
#endif
