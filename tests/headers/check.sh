#!/usr/bin/env bash
# Compiles each public header on its own, as C (gnu11) and as C++ (gnu++17),
# with warnings as errors, with gcc and with clang (liburcu's _cxx twins).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for h in include/gort/*.h; do
  name=$(basename "$h")
  printf '#include <gort/%s>\n' "$name" > "$tmp/t.c"
  cp "$tmp/t.c" "$tmp/t.cpp"
  for cc in gcc clang; do
    if ! $cc -std=gnu11 -Wall -Wextra -Werror -Iinclude -c "$tmp/t.c" -o "$tmp/t.o"; then
      echo "header $name does not compile alone as C with $cc"; status=1
    fi
  done
  for cxx in g++ clang++; do
    if ! $cxx -std=gnu++17 -Wall -Wextra -Werror -Wzero-as-null-pointer-constant -Iinclude -c "$tmp/t.cpp" -o "$tmp/t.o"; then
      echo "header $name does not compile alone as C++ with $cxx"; status=1
    fi
  done
done
[ $status -eq 0 ] && echo "headers: all self-contained as C and C++"
exit $status
