#!/usr/bin/env bash
# Runs each program (with its arguments, one program per argument, words
# separated by spaces) under valgrind's memcheck and fails if any reports
# an error or a definite leak: SPEC's "clean under valgrind" for the
# single-process programs (the examples, the demo's scenarios).  The
# Criterion suites are checked by ASan/LSan instead (valgrind and
# Criterion's forked workers make a slow pair).
# usage: valgrind_clean.sh VALGRIND "prog args" ...
set -u
valgrind=$1
shift
rc=0
for cmd in "$@"; do
  # shellcheck disable=SC2086 # one string holds a program and its arguments
  if ! "$valgrind" -q --error-exitcode=99 --leak-check=full \
       --errors-for-leak-kinds=definite $cmd >/dev/null; then
    echo "valgrind_clean: $cmd: valgrind found errors (above)" >&2
    rc=1
  fi
done
exit $rc
