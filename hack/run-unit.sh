#!/bin/sh
# Runs every Check suite binary given; prints each suite's summary and a total.
# Exits non-zero if any suite fails. CK_DEFAULT_TIMEOUT keeps a hung test from
# hanging CI. UNIT_WRAP: a command prefix (make valgrind sets valgrind's).
: "${CK_DEFAULT_TIMEOUT:=60}"
export CK_DEFAULT_TIMEOUT
fail=0
for t in "$@"; do
  echo "== $t"
  # shellcheck disable=SC2086 # UNIT_WRAP is a command line, split on purpose
  if ! ${UNIT_WRAP:-} "$t"; then fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit suites: $# run, $fail failed"
[ "$fail" -eq 0 ]
