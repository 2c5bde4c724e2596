#!/usr/bin/env bash
# abi_names.sh CC LIBGORT_SO INCLUDE_DIR
#
# The inline paths compile the layout of gort's per-thread records into
# programs, and the variables they name carry the layout's number
# (gort/common.h, GORT__ABI).  Checks both halves of that promise:
#   1. a program using every inline path (a frame and a defer, a plain
#      read section, a snapshot-map view) links against the library;
#   2. the same program built against a copy of the headers whose layout
#      number differs (as headers of another release would) does not: the
#      link fails naming the variables, instead of a program that reads the
#      records at the wrong offsets.
set -euo pipefail
cc=$1 lib=$2 inc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/p.c" <<'C'
#include <gort/gort.h>
#include <stdio.h>

static void note(void *arg) { ++*(int *)arg; }

static void with_frame(int *ran)
{
    GORT_FRAME;
    gort_defer(note, ran);
}

static int use_inline_paths(gort_snapmap *s)
{
    int ran = 0;
    with_frame(&ran);
    gort_read_begin();
    gort_read_end();
    const gort_map *v = gort_snapmap_read_begin(s);
    int found = gort_map_get_str(v, "k", 1) != NULL;
    gort_snapmap_read_end(s, v);
    return ran + found;
}

int main(void)
{
    gort_snapmap *s = gort_snapmap_new_str(sizeof(int));
    int r = use_inline_paths(s);
    gort_snapmap_free(s);
    printf("%d\n", r);
    return r == 1 ? 0 : 1;
}
C

"$cc" -std=gnu11 -Wall -Wextra -Werror -I"$inc" "$tmp/p.c" "$lib" \
    -Wl,-rpath,"$(dirname "$lib")" -o "$tmp/p"
"$tmp/p" > /dev/null || { echo "abi_names: the program built with the headers failed"; exit 1; }

grep -q '#define GORT__ABI(name) name##_abi1$' "$inc/gort/common.h" ||
    { echo "abi_names: GORT__ABI is not where this test expects it"; exit 1; }
mkdir -p "$tmp/other"
cp -r "$inc/gort" "$tmp/other/"
sed -i 's/#define GORT__ABI(name) name##_abi1$/#define GORT__ABI(name) name##_abi0/' \
    "$tmp/other/gort/common.h"
if "$cc" -std=gnu11 -I"$tmp/other" "$tmp/p.c" "$lib" -o "$tmp/q" 2> "$tmp/err"; then
    echo "abi_names: a program built against another layout's headers linked"
    exit 1
fi
for v in gort__g_abi0 gort__rs_abi0 gort__rs_gp_abi0; do
    grep -q "$v" "$tmp/err" ||
        { echo "abi_names: the failed link does not name $v:"; cat "$tmp/err"; exit 1; }
done
echo "abi_names: headers of this layout link; another layout's fail to link"
