#!/usr/bin/env bash
# Regenerates the golden files from Go 1.19 (Debian golang-go), offline:
# builds tests/golden/go, runs each scenario, normalises its stderr with
# gort-normalize (rules in tests/support/golden.h) and writes NAME.golden.
# Scenarios whose output changed after Go 1.19 are hand-written from Go's
# source and listed in HANDWRITTEN below; they are not overwritten.
# Usage: tests/golden/regen.sh <path to gort-normalize>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
normalize=${1:?usage: regen.sh path/to/gort-normalize}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/go" && GOPROXY=off GOFLAGS=-mod=mod go build -o "$tmp/gortgolden" .)
scenarios=(panic_simple panic_nested panic_recovered_repanic panic_error_value
           panic_in_goroutine nil_func_deferred nil_deref goexit_main)
for s in "${scenarios[@]}"; do
  set +e
  "$tmp/gortgolden" "$s" >/dev/null 2>"$tmp/$s.err"
  status=$?
  set -e
  if [ "$status" -ne 2 ]; then
    echo "regen: $s exited with $status, want 2" >&2
    exit 1
  fi
  "$normalize" < "$tmp/$s.err" > "$here/$s.golden"
  echo "wrote $s.golden"
done
