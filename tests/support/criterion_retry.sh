#!/usr/bin/env bash
# criterion_retry.sh PROGRAM ARGS... - runs a Criterion test program, and
# runs it once more only when Criterion itself could not start one of its
# test processes ("criterion: Could not spawn test instance: Protocol
# error": BoxFort's fork/SIGSTOP handshake with the worker failed before
# any test code ran).  Seen once in about 30 whole-suite runs on a
# 2-core machine with a load average of 6.  Any other failure, and a
# second spawn failure, is the program's exit status as it is.
set -u
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne 0 ] && grep -q '^criterion: Could not spawn test instance' "$out"; then
    echo "criterion_retry.sh: Criterion could not start a test process (above); running the program once more"
    "$@"
    exit $?
fi
exit "$rc"
