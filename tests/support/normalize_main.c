/*
 * gort-normalize: reads crash output on stdin, writes it normalised
 * (rules in golden.h).  tests/golden/regen.sh uses it on Go's output.
 */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    size_t k;
    while (text != NULL && (k = fread(text + len, 1, cap - len - 1, stdin)) > 0) {
        len += k;
        if (cap - len < 2)
            text = realloc(text, cap *= 2);
    }
    if (text == NULL)
        return 1;
    text[len] = '\0';
    char *out = golden_normalize(text);
    fputs(out, stdout);
    free(out);
    free(text);
    return 0;
}
