#!/usr/bin/env bash
# Regenerates the golden files from Go 1.19 (Debian golang-go), offline:
# builds tests/golden/go, runs each scenario, normalises its stderr with
# gort-normalize (rules in tests/support/golden.h) and writes NAME.golden.
# Scenarios whose output changed after Go 1.19, or that have no Go
# equivalent, are hand-written (README.md says why) and listed in
# HANDWRITTEN below; they are not overwritten.
# Usage: tests/golden/regen.sh <path to gort-normalize>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
normalize=${1:?usage: regen.sh path/to/gort-normalize}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/go" && GOPROXY=off GOFLAGS=-mod=mod go build -o "$tmp/gortgolden" .)
scenarios=(panic_simple panic_nested panic_recovered_repanic panic_error_value
           panic_in_goroutine panic_in_goroutine_as_main_returns go_from_tail_call
           nil_func_deferred nil_deref goexit_main
           nil_deref_in_deferred nil_func_call bad_address nil_deref_with_defer
           recursive_panic3 recursive_panic4 double_panic panic_after_goexit
           goexit_exit goexit_deadlock goexit_in_panic
           recovered_panic_after_goexit recover_before_panic_after_goexit
           recover_before_panic_after_goexit2 go_nil main_goroutine_id
           panic_long_message panic_error_in_goroutine panic_after_stdout
           nil_map_write_deferred concurrent_map_writes
           concurrent_map_read_write concurrent_map_iter_write
           sync_mutex_unlock sync_mutex_unlock2 sync_rwmutex_unlock
           sync_rwmutex_unlock2 sync_rwmutex_unlock3 sync_rwmutex_runlock
           sync_rwmutex_runlock2 sync_rwmutex_runlock3
           sync_mutex_unlock_in_goroutine once_nil_func once_recursive
           once_recursive_after_goroutines
           once_recursive_in_goroutine_then_goexit
           once_recursive_in_goroutine_and_main)
# Not regenerated (README.md): Go 1.21 changed the output, or Go 1.19
# prints something else because C faults where Go checks in code.
HANDWRITTEN=(panic_nil divide_by_zero deep_recursion)
# Recorded with stdout and stderr on one pipe (2>&1): what the program
# printed on stdout must come out before the crash report.
MERGED=(panic_after_stdout)
# Go throws (fatal error with m.throwing set): its traceback then shows
# the runtime's own frames (runtime.throw, runtime.sigpanic, runtime.main,
# runtime.goexit, with fp= sp= pc=) and every other goroutine, system
# goroutines included.  gort hides its own frames (SPEC section 2) and
# these programs have no other goroutine, so the runtime.* frames and
# every goroutine after the first are dropped before normalising.
# The concurrent map errors are fatal() in Go 1.19 (runtime/map.go;
# throwTypeUser): no runtime frames, but every goroutine (gotraceback in
# runtime1.go sets `all` for any throw): the other racer, main blocked in
# WaitGroup.Wait.  gort prints the detecting goroutine only (issue 3: "a
# traceback of the detecting goroutine"; a C thread cannot be unwound from
# another), which is what the filter keeps.
THROW=(bad_address concurrent_map_writes concurrent_map_read_write
       concurrent_map_iter_write)
# sync's misuse errors (sync.fatal, Go's throwTypeUser): Go 1.19 prints
# the library's own frames (sync.fatal, sync.(*Mutex).unlockSlow,
# sync.(*Mutex).Unlock, ...) and every other goroutine.  gort hides its
# own frames, gort_mutex_unlock and the rest, as it hides runtime.*
# (SPEC section 2), and prints the failing goroutine only: the filter keeps
# the first goroutine and drops its sync.* and runtime.* frames.
# once_nil_func is a panic, not a fatal error, but its traceback has the
# same sync.* frames (sync.(*Once).doSlow, sync.(*Once).Do), hidden in
# gort as gort_once_do is.  once_recursive*: Go's checkdead reports the
# deadlock ("all goroutines are asleep") with goroutine 1 in semacquire
# under sync.runtime_SemacquireMutex, sync.(*Mutex).Lock and
# sync.(*Once).doSlow; gort hides gort_once_do's frames the same way.
SYNC_FATAL=(sync_mutex_unlock sync_mutex_unlock2 sync_rwmutex_unlock
            sync_rwmutex_unlock2 sync_rwmutex_unlock3 sync_rwmutex_runlock
            sync_rwmutex_runlock2 sync_rwmutex_runlock3
            sync_mutex_unlock_in_goroutine once_nil_func once_recursive
            once_recursive_after_goroutines
            once_recursive_in_goroutine_then_goexit
            once_recursive_in_goroutine_and_main)

in_list() {
  local x=$1; shift
  local y
  for y in "$@"; do [ "$x" = "$y" ] && return 0; done
  return 1
}

# Scenarios whose every goroutine's traceback is kept (Go's checkdead
# prints each asleep goroutine; gort prints each one it parked).
ALL_GOROUTINES=(once_recursive_in_goroutine_and_main)

# Keeps the first goroutine's traceback (every one when $all is 1),
# without runtime.* frames.
all=0
drop_runtime_frames() {
  awk -v all="$all" '
    /^goroutine [0-9]+ \[/ { ng++ }
    ng > 1 && !all { exit }
    skip { skip = 0; if ($0 ~ /^\t/) next }
    /^runtime\.[^ ]*\(.*\)$/ { skip = 1; next }
    { print }
  ' | sed -e '${/^$/d;}'
}

# The same, also without the sync package's frames.
drop_sync_frames() {
  drop_runtime_frames | awk '
    skip { skip = 0; if ($0 ~ /^\t/) next }
    /^sync\.[^ ]*\(.*\)$/ { skip = 1; next }
    { print }
  '
}

for s in "${HANDWRITTEN[@]}"; do
  in_list "$s" "${scenarios[@]}" && { echo "regen: $s is hand-written" >&2; exit 1; }
done
for s in "${scenarios[@]}"; do
  set +e
  if in_list "$s" "${MERGED[@]}"; then
    "$tmp/gortgolden" "$s" >"$tmp/$s.err" 2>&1
  else
    "$tmp/gortgolden" "$s" >/dev/null 2>"$tmp/$s.err"
  fi
  status=$?
  set -e
  if [ "$status" -ne 2 ]; then
    echo "regen: $s exited with $status, want 2" >&2
    exit 1
  fi
  all=0
  in_list "$s" "${ALL_GOROUTINES[@]}" && all=1
  if in_list "$s" "${THROW[@]}"; then
    drop_runtime_frames < "$tmp/$s.err" > "$tmp/$s.filtered"
    mv "$tmp/$s.filtered" "$tmp/$s.err"
  fi
  if in_list "$s" "${SYNC_FATAL[@]}"; then
    drop_sync_frames < "$tmp/$s.err" > "$tmp/$s.filtered"
    mv "$tmp/$s.filtered" "$tmp/$s.err"
  fi
  "$normalize" < "$tmp/$s.err" > "$here/$s.golden"
  echo "wrote $s.golden"
done
