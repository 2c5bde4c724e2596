#!/usr/bin/env bash
# run-map.sh - build and run the map benchmark (WORKLOAD.md, "Map
# phases"): gort's borrowed-key map (gort-ref) and copying map (gort-str),
# Abseil, Boost, GLib and uthash (bench_map) against Go 1.19's own
# map[string]int64 (bench_map_go), N = 1,000 / 100,000 / 1,000,000, then
# one table per N of ns/op per phase, bytes per entry, the ratios
# gort/peer and the issue's targets (bench_map --table).
#
# Every implementation runs in a process of its own for each N (so one
# map's heap cannot disturb another's memory figure), RUNS rounds, the
# order of the implementations rotating every round; the table shows the
# fastest round (the least disturbed on these noisy 2-core machines) and
# the median.  gort runs with GORTDEBUG unset: the default, misuse checks
# on.  The benchmark never fails because of a timing; it fails only if a
# build or a checksum does.
#
# The misuse checks' cost: ref-nochk and str-nochk (bench_map_nochk, the
# library compiled without the hashWriting checks, when it has the switch)
# and ref-strict ("refstrict": the borrowed-key map of bench_map run with
# GORTDEBUG=mapstrict=1, which makes the map's writing flag an atomic
# read-modify-write, relabelled by --label refstrict), each a process of
# its own in the same rotation; the table prints with / without and
# strict / default per phase.
#
# Huge pages: Go's runtime asks for transparent huge pages on its heap
# (madvise), glibc's malloc does not unless told to; on a VM, where a TLB
# miss walks two page tables, that moves the N = 10^5..10^6 lookups by tens
# of percent.  By default the C/C++ processes run with
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1 so that everyone's heap is in huge
# pages (the row "huge pages MB" shows what each process got); --no-thp
# leaves glibc's default.
#
# Memory: the full run's bytes/entry is glibc's mallinfo2 in-use figure,
# which counts the freed chunks glibc keeps in its per-thread cache
# (tcache) as in use: a map that grows by doubling is charged for some of
# the small arrays it freed.  Go's figure (HeapAlloc after runtime.GC())
# is live bytes.  So every C/C++ implementation also runs, per N and
# round, a short `bench_map --mem-only` process (one unhinted fill, the
# same heap delta, nothing else) with
# GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0 (plus
# hugetlb=1 under --thp): the row "B/entry live", the analogue of Go's,
# which the bytes/entry target uses.
#
# usage: bench/run-map.sh [-n RUNS] [--quick] [--sizes N1,N2,...]
#                         [--impls a,b,...] [--copy-keys] [--no-thp]
#                         [--reps-ops K]
#                         [--no-build] [--no-go] [--build-dir DIR]
#                         [--out FILE]
#   -n RUNS         rounds (default 5)
#   --quick         N = 1000,100000 only
#   --sizes LIST    the Ns (default 1000,100000,1000000)
#   --impls LIST    only these (names of `bench_map --list`, refstrict
#                   and go)
#   --copy-keys     look up and delete with copies of the keys at other
#                   addresses (no pointer-equality shortcut for anyone)
#   --no-thp        leave the C/C++ maps' malloc'ed memory in glibc's
#                   default pages.  By default it is asked for in
#                   transparent huge pages (GLIBC_TUNABLES=
#                   glibc.malloc.hugetlb=1), as Go's runtime asks for its
#                   heap and gort for its bucket arrays: the same for every
#                   implementation (--thp, the former opt-in, is accepted)
#   --reps-ops K    small-N insert/delete repeated until K ops (1000000)
#   --no-build      use the binaries as built (BENCH_MAP_BIN,
#                   BENCH_MAP_NOCHK_BIN, BENCH_MAP_GO_BIN, or
#                   DIR/bench/map/...)
#   --no-go         skip the Go peer
#   --build-dir DIR the CMake build tree (default build/default, the
#                   default preset's)
#   --out FILE      keep the raw D/R lines there (default: the build dir)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
runs=5
sizes=1000,100000,1000000
impls=""
copy=""
thp=1
reps_ops=1000000
build=1
use_go=1
builddir="$root/build/default"
out=""

while [ $# -gt 0 ]; do
    case "$1" in
    -n) runs=$2; shift 2 ;;
    --quick) sizes=1000,100000; shift ;;
    --sizes) sizes=$2; shift 2 ;;
    --impls) impls=$2; shift 2 ;;
    --copy-keys) copy=1; shift ;;
    --thp) thp=1; shift ;;
    --no-thp) thp=""; shift ;;
    --reps-ops) reps_ops=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-go) use_go=0; shift ;;
    --build-dir) builddir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,65p' "$0"; exit 0 ;;
    *) echo "run-map.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

if [ "$build" = 1 ]; then
    if [ "$builddir" = "$root/build/default" ]; then
        (cd "$root" && cmake --preset default >/dev/null)
    else
        cmake -S "$root" -B "$builddir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DGORT_WERROR=ON >/dev/null
    fi
    cmake --build "$builddir" --target bench-map -j2
fi

c_bin=${BENCH_MAP_BIN:-$builddir/bench/map/bench_map}
nc_bin=${BENCH_MAP_NOCHK_BIN:-$builddir/bench/map/bench_map_nochk}
go_bin=${BENCH_MAP_GO_BIN:-$builddir/bench/map/bench_map_go}

[ -x "$c_bin" ] || { echo "run-map.sh: $c_bin not built" >&2; exit 1; }
if [ "$use_go" = 1 ] && [ ! -x "$go_bin" ]; then
    echo "run-map.sh: Go peer not built (is go installed?): no Go column" >&2
    use_go=0
fi

# The implementations and the program that runs each: the C driver's,
# the no-check driver's (gort without the hashWriting checks, when the
# library has the switch), gort-ref in strict mode, then Go.  base[] is
# the --impl a name runs (itself but for refstrict), debug[] the
# GORTDEBUG it runs with (unset when empty: the default).
declare -A prog base debug
all=""
for i in $("$c_bin" --list | cut -d' ' -f1); do
    prog[$i]=$c_bin
    base[$i]=$i
    debug[$i]=""
    all="$all $i"
done
if [ -x "$nc_bin" ]; then
    for i in $("$nc_bin" --list | cut -d' ' -f1); do
        prog[$i]=$nc_bin
        base[$i]=$i
        debug[$i]=""
        all="$all $i"
    done
fi
# Strict mode is read by the library from GORTDEBUG at start-up, and each
# map made afterwards keeps it; an unknown name or a value that is not a
# number is ignored without a word (as Go's GODEBUG), so the spelling
# here is the one src/runtime.c parses.
if [ -n "${prog[gortref]:-}" ]; then
    prog[refstrict]=$c_bin
    base[refstrict]=gortref
    debug[refstrict]=mapstrict=1
    all="$all refstrict"
fi
[ "$use_go" = 0 ] || all="$all go"
if [ -n "$impls" ]; then
    want=" ${impls//,/ } "
    sel=""
    for i in $all; do
        case "$want" in *" $i "*) sel="$sel $i" ;; esac
    done
    all=$sel
fi
set -- $all
[ $# -gt 0 ] || { echo "run-map.sh: no implementation selected" >&2; exit 1; }
list=("$@")
case " ${list[*]} " in
*" gortref "*) ;;
*) echo "run-map.sh: no gort map in $c_bin (the library has no map yet?):" \
        "peers only" >&2 ;;
esac

[ -n "$out" ] || out="$(dirname "$c_bin")/map-results.txt"
: >"$out"

# glibc without its caches of freed chunks, for the --mem-only processes.
live_tunables=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0${thp:+:glibc.malloc.hugetlb=1}

run_one() { # impl[:mem] n
    local rc=0 i=${1%:mem}
    # GORTDEBUG as the implementation wants it: unset, or its setting.
    local dbg=(-u GORTDEBUG)
    [ "$i" = go ] || [ -z "${debug[$i]}" ] || dbg=(GORTDEBUG="${debug[$i]}")
    if [ "$1" = go ]; then
        env -u GOGC -u GOMAXPROCS -u GODEBUG -u GOMEMLIMIT \
            "$go_bin" -impl go -n "$2" -reps-ops "$reps_ops" ${copy:+-copy-keys} \
            >>"$out" || rc=$?
    elif [ "$i" != "$1" ]; then
        env "${dbg[@]}" GLIBC_TUNABLES="$live_tunables" \
            "${prog[$i]}" --impl "${base[$i]}" --label "$i" --n "$2" \
            --mem-only >>"$out" || rc=$?
    else
        env "${dbg[@]}" ${thp:+GLIBC_TUNABLES=glibc.malloc.hugetlb=1} \
            "${prog[$i]}" --impl "${base[$i]}" --label "$i" --n "$2" \
            --reps-ops "$reps_ops" ${copy:+--copy-keys} >>"$out" || rc=$?
    fi
    if [ "$rc" != 0 ]; then
        echo "run-map.sh: $1 at N=$2 failed (status $rc; checksum?)" >&2
        exit 1
    fi
}

# The sources the binaries were (just) built from; with --no-build, the
# sources as they are now.
gort_sources="gort sources: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + uncommitted changes'), src/map* md5 $(cat "$root"/src/map* 2>/dev/null | md5sum | cut -c1-12)$([ "$build" = 1 ] || echo ' (now; --no-build)')"
# The processes of one round and N: every implementation's full run and,
# for the C/C++ ones, its memory-only run ("impl:mem"), rotating together.
# ref-strict has none: strict mode changes no allocation (its full run's
# heap rows are there to show it).
procs=()
for i in "${list[@]}"; do
    procs+=("$i")
    case "$i" in go|refstrict) ;; *) procs+=("$i:mem") ;; esac
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
nprocs=${#procs[@]}
for r in $(seq 1 "$runs"); do
    for n in ${sizes//,/ }; do
        echo "run-map.sh: round $r/$runs, N=$n (order rotates): ${procs[*]}" >&2
        for k in $(seq 0 $((nprocs - 1))); do
            run_one "${procs[$(((k + r - 1) % nprocs))]}" "$n"
        done
    done
done

echo "run-map.sh: raw results in $out ($(($(date +%s) - t_start)) s)" >&2
uname -srm
echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores; other load inflates the medians)"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /' || true
if [ "$use_go" = 1 ]; then
    (command -v go >/dev/null && go version) || true
fi
echo "$gort_sources"
echo "C/C++ live bytes: separate --mem-only processes with GLIBC_TUNABLES=$live_tunables (no tcache, no fastbins: freed chunks not counted); Go's live row is its HeapAlloc after runtime.GC(), the same figure as its +glibc caches row"
echo "C/C++ heap: $([ -n "$thp" ] && echo "transparent huge pages requested (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; --no-thp to leave it out)" || echo "glibc malloc default (--no-thp: no huge pages asked for; Go's runtime asks for them)")"
echo "lookup/delete keys: $([ -n "$copy" ] && echo "copies at other addresses (--copy-keys)" || echo "the inserted key bytes themselves (as a Go program passes the same string)")"
case " ${list[*]} " in
*" refstrict "*) echo "ref-strict: bench_map --impl gortref --label refstrict with GORTDEBUG=${debug[refstrict]}; every other gort column with GORTDEBUG unset" ;;
esac
"$c_bin" --table "$out"
