#!/usr/bin/env bash
# run-defer.sh - build and run the defer/panic benchmark (WORKLOAD.md,
# "Defer / panic"): gort, gort with libc _setjmp, the cleanup attribute and
# C++ (bench_defer) against Go 1.19 (bench_defer_go), interleaved, then one
# table of ns/call with ratios (bench_defer --table).
#
# These machines are noisy: every implementation runs N times, the C driver
# and the Go peer alternating (and swapping order every round), and the
# table shows the fastest run (the least disturbed) and the median.  The
# benchmark never fails because of a timing; it fails only if a build or a
# checksum does.
#
# usage: bench/run-defer.sh [-n RUNS] [--min-ms MS] [--no-build] [--no-go]
#                            [--out FILE]
#   -n RUNS      rounds (default 7)
#   --min-ms MS  minimum length of one timed loop (default 50)
#   --no-build   use the binaries as built (BENCH_DEFER_BIN,
#                BENCH_DEFER_GO_BIN, or build/default/bench/...)
#   --no-go      skip the Go peer
#   --out FILE   keep the raw R/P lines there (default: the build dir)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
runs=7
min_ms=50
build=1
use_go=1
out=""

while [ $# -gt 0 ]; do
    case "$1" in
    -n) runs=$2; shift 2 ;;
    --min-ms) min_ms=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-go) use_go=0; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run-defer.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

bindir="$root/build/default/bench"
c_bin=${BENCH_DEFER_BIN:-$bindir/bench_defer}
go_bin=${BENCH_DEFER_GO_BIN:-$bindir/bench_defer_go}

if [ "$build" = 1 ]; then
    (cd "$root" && cmake --preset default >/dev/null &&
        cmake --build build/default --target bench-defer -j2)
fi

[ -x "$c_bin" ] || { echo "run-defer.sh: $c_bin not built" >&2; exit 1; }
if [ "$use_go" = 1 ] && [ ! -x "$go_bin" ]; then
    echo "run-defer.sh: Go peer not built (is go installed?): Go columns empty" >&2
    use_go=0
fi

[ -n "$out" ] || out="$(dirname "$c_bin")/defer-results.txt"
: >"$out"

run_c() { "$c_bin" --min-ms "$min_ms" >>"$out"; }
run_go() { "$go_bin" -min-ms "$min_ms" >>"$out"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$runs"); do
    echo "run-defer.sh: round $i/$runs" >&2
    if [ "$use_go" = 1 ] && [ $((i % 2)) = 0 ]; then
        run_go; run_c
    else
        run_c
        [ "$use_go" = 0 ] || run_go
    fi
done

echo "run-defer.sh: raw results in $out" >&2
uname -srm
echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores; other load inflates the medians)"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /' || true
if [ "$use_go" = 1 ]; then
    (command -v go >/dev/null && go version) || true
fi
"$c_bin" --table "$out"
