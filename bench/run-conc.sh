#!/usr/bin/env bash
# run-conc.sh - build and run the concurrent read-mostly map benchmark
# (WORKLOAD.md, "Concurrent read-mostly map"): gort_snapmap, gort_syncmap,
# gort_rwmutex + gort_map, liburcu's lfht and pthread_rwlock + GLib
# (bench_conc) against Go 1.19's sync.Map, map + sync.RWMutex and
# atomic.Value holding a copy-on-write map (bench_conc_go); T reader
# threads, with no writer and with one writer; then the per-read cost of a
# snapshot-map view against a plain gort_map (T = 1) and the time to
# publish a 1000-op batch at two map sizes (bench_conc --table).
#
# Every implementation runs in a process of its own for each T and writer
# setting, RUNS rounds, the order of the implementations rotating every
# round; the tables show the best round (the least disturbed on these
# noisy 2-core machines) and the median.  The benchmark never fails
# because of a timing; it fails only if a build or a check does.
#
# Huge pages: Go's runtime asks for transparent huge pages on its heap,
# glibc's malloc does not unless told to; on a VM, where a TLB miss walks
# two page tables, that moves lookups in a 100,000-key map by tens of
# percent (bench/map/README.md).  So the C processes run with
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (everyone's heap in huge pages,
# liburcu's and GLib's too, as gort's snapshot copies are); --no-thp
# leaves glibc's default.
#
# usage: bench/run-conc.sh [-n RUNS] [--threads LIST | --scaling]
#                          [--seconds S] [--impls a,b,...] [--quick] [--no-thp]
#                          [--flush-sizes N1,N2] [--no-percost] [--no-flush]
#                          [--no-build] [--no-go] [--build-dir DIR]
#                          [--out FILE]
#   -n RUNS           rounds (default 5)
#   --threads LIST    reader thread counts (default 1,2; any T >= 1)
#   --scaling         T = 1 .. the number of cores (nproc)
#   --seconds S       how long each run's readers run (default 1)
#   --impls LIST      only these (names of `bench_conc --list`, and
#                     gosyncmap, gorw, gocow)
#   --quick           1 round of 0.5 s runs
#   --no-thp          leave the C processes' malloc'ed memory in glibc's
#                     default pages (by default it is asked for in huge
#                     pages; --thp, the former opt-in, is accepted)
#   --flush-sizes L   the map sizes of the flush table (default
#                     10000,1000000)
#   --no-percost      skip the per-read cost table
#   --no-flush        skip the flush table
#   --no-build        use the binaries as built (BENCH_CONC_BIN,
#                     BENCH_CONC_GO_BIN, or DIR/bench/conc/...)
#   --no-go           skip the Go peers
#   --build-dir DIR   the CMake build tree (default build/default, the
#                     default preset's)
#   --out FILE        keep the raw lines there (default: the build dir)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
runs=5
threads=1,2
seconds=1
impls=""
flush_sizes=10000,1000000
thp=1
percost=1
flush=1
build=1
use_go=1
builddir="$root/build/default"
out=""

while [ $# -gt 0 ]; do
    case "$1" in
    -n) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --scaling) threads=$(seq -s, 1 "$(nproc)"); shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --impls) impls=$2; shift 2 ;;
    --quick) runs=1; seconds=0.5; shift ;;
    --thp) thp=1; shift ;;
    --no-thp) thp=""; shift ;;
    --flush-sizes) flush_sizes=$2; shift 2 ;;
    --no-percost) percost=0; shift ;;
    --no-flush) flush=0; shift ;;
    --no-build) build=0; shift ;;
    --no-go) use_go=0; shift ;;
    --build-dir) builddir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,48p' "$0"; exit 0 ;;
    *) echo "run-conc.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

if [ "$build" = 1 ]; then
    if [ "$builddir" = "$root/build/default" ]; then
        (cd "$root" && cmake --preset default >/dev/null)
    else
        cmake -S "$root" -B "$builddir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DGORT_WERROR=ON >/dev/null
    fi
    cmake --build "$builddir" --target bench-conc -j2
fi

c_bin=${BENCH_CONC_BIN:-$builddir/bench/conc/bench_conc}
go_bin=${BENCH_CONC_GO_BIN:-$builddir/bench/conc/bench_conc_go}

[ -x "$c_bin" ] || { echo "run-conc.sh: $c_bin not built" >&2; exit 1; }
if [ "$use_go" = 1 ] && [ ! -x "$go_bin" ]; then
    echo "run-conc.sh: Go peer not built (is go installed?): no Go rows" >&2
    use_go=0
fi

# The implementations and the program that runs each.
declare -A prog
all=""
for i in $("$c_bin" --list | cut -d' ' -f1); do
    prog[$i]=c
    all="$all $i"
done
if [ "$use_go" = 1 ]; then
    for i in $("$go_bin" -list | cut -d' ' -f1); do
        prog[$i]=go
        all="$all $i"
    done
fi
if [ -n "$impls" ]; then
    want=" ${impls//,/ } "
    sel=""
    for i in $all; do
        case "$want" in *" $i "*) sel="$sel $i" ;; esac
    done
    all=$sel
fi
set -- $all
[ $# -gt 0 ] || { echo "run-conc.sh: no implementation selected" >&2; exit 1; }
list=("$@")
case " ${list[*]} " in
*" snapmap "*) ;;
*) echo "run-conc.sh: no gort_snapmap in $c_bin (not in the library" \
        "yet?): no snapmap rows or ratios" >&2 ;;
esac

[ -n "$out" ] || out="$(dirname "$c_bin")/conc-results.txt"
: >"$out"

run_one() { # impl T writer(0|1)
    local rc=0 gw="" cw=""
    if [ "$3" = 1 ]; then gw=-writer; cw=--writer; fi
    if [ "${prog[$1]}" = go ]; then
        env -u GOGC -u GOMAXPROCS -u GODEBUG -u GOMEMLIMIT \
            "$go_bin" -impl "$1" -threads "$2" -seconds "$seconds" $gw \
            >>"$out" || rc=$?
    else
        env -u GORTDEBUG ${thp:+GLIBC_TUNABLES=glibc.malloc.hugetlb=1} "$c_bin" --impl "$1" --threads "$2" \
            --seconds "$seconds" $cw >>"$out" || rc=$?
    fi
    if [ "$rc" != 0 ]; then
        echo "run-conc.sh: $1 T=$2 writer=$3 failed (status $rc; check?)" >&2
        exit 1
    fi
}

run_cost() { # --percost | --flush N
    local rc=0
    if [ "$1" = --percost ]; then
        env -u GORTDEBUG ${thp:+GLIBC_TUNABLES=glibc.malloc.hugetlb=1} "$c_bin" --percost --rounds 4 >>"$out" || rc=$?
    else
        env -u GORTDEBUG ${thp:+GLIBC_TUNABLES=glibc.malloc.hugetlb=1} "$c_bin" --flush --n "$2" --reps 10 >>"$out" || rc=$?
    fi
    if [ "$rc" != 0 ]; then
        echo "run-conc.sh: bench_conc $* failed (status $rc; check?)" >&2
        exit 1
    fi
}

run_pair() { # impl T
    run_one "$1" "$2" 0
    run_one "$1" "$2" 1
}

gort_sources="gort sources: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + uncommitted changes')$([ "$build" = 1 ] || echo ' (now; --no-build)')"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
nimpl=${#list[@]}
for r in $(seq 1 "$runs"); do
    for t in ${threads//,/ }; do
        echo "run-conc.sh: round $r/$runs, T=$t (order rotates): ${list[*]}" >&2
        for k in $(seq 0 $((nimpl - 1))); do
            run_pair "${list[$(((k + r - 1) % nimpl))]}" "$t"
        done
    done
    if [ "$percost" = 1 ]; then
        echo "run-conc.sh: round $r/$runs, per-read cost" >&2
        run_cost --percost
    fi
    if [ "$flush" = 1 ]; then
        for n in ${flush_sizes//,/ }; do
            echo "run-conc.sh: round $r/$runs, flush at N=$n" >&2
            run_cost --flush "$n"
        done
    fi
done

echo "run-conc.sh: raw results in $out ($(($(date +%s) - t_start)) s)" >&2
uname -srm
echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores; other load inflates the medians)"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /' || true
if [ "$use_go" = 1 ]; then
    (command -v go >/dev/null && go version) || true
fi
echo "$gort_sources"
echo "runs of ${seconds} s; reader threads: $threads; GOMAXPROCS: Go's default ($(nproc))"
echo "C heap: $([ -n "$thp" ] && echo "transparent huge pages requested (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; --no-thp to leave it out)" || echo "glibc malloc default (--no-thp: no huge pages asked for; Go's runtime asks for them)")"
"$c_bin" --table "$out"
