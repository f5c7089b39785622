#!/bin/sh
# hack/fuzz.sh: run the libFuzzer harnesses built by `make fuzz-build`.
#   fuzz.sh run SECONDS NAME...      fuzz each harness for SECONDS, one after
#                                    the other (FUZZ=a,b picks some; FUZZ_JOBS
#                                    runs that many at once, default 1)
#   fuzz.sh regress SECONDS NAME...  every harness over its committed corpus,
#                                    then SECONDS of fuzzing (make test)
# Seeds are fuzz/corpus/<name>/ (read only); new inputs go to
# $FUZZ_BUILD/corpus/<name>/, crashes to $FUZZ_BUILD/crashes/<name>-*, and
# each run's libFuzzer output to $FUZZ_BUILD/logs/<name>.log. The summary
# line of each run (execs/s, cov, ft) is printed. Exits non-zero if any
# harness found something.
set -u
mode=$1 secs=$2
shift 2
B=${FUZZ_BUILD:-build-fuzz}
mkdir -p "$B/logs" "$B/crashes"
if [ -n "${FUZZ:-}" ]; then
  # shellcheck disable=SC2046 # split on purpose: FUZZ=a,b
  set -- $(echo "$FUZZ" | tr ',' ' ')
fi

one() {
  name=$1
  bin=$B/fuzz/fuzz_$name
  log=$B/logs/$name.log
  seeds=fuzz/corpus/$name
  seed=""
  if [ "$mode" = regress ]; then
    work=$(mktemp -d)
    seed="-seed=1" # the same mutations each time: a regression run is repeatable
  else
    work=$B/corpus/$name
    mkdir -p "$work"
  fi
  # -rss_limit_mb: a harness may use up to ~1 GiB (ASan's shadow included).
  # shellcheck disable=SC2086 # $seed is empty or one word
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1536 -print_final_stats=1 $seed \
    -artifact_prefix="$B/crashes/$name-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  [ "$mode" = regress ] && rm -rf "$work"
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
  eps=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  if [ "$rc" -ne 0 ]; then
    echo "fuzz $name: FAILED (exit $rc); see $log and $B/crashes/$name-*"
    grep -E '^==[0-9]+==ERROR|^SUMMARY|invariant broken|runtime error' "$log" | head -n 5
    return 1
  fi
  echo "fuzz $name: ok ${secs}s, ${eps:-?} execs/s, ${stats#\#}"
}

fail=0
jobs=${FUZZ_JOBS:-1}
if [ "$jobs" -le 1 ]; then
  for n in "$@"; do one "$n" || fail=$((fail + 1)); done
else
  tmp=$(mktemp -d)
  running=0
  for n in "$@"; do
    ( one "$n" >"$tmp/$n.out" 2>&1 || echo FAIL >>"$tmp/$n.out" ) &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait; running=0; fi
  done
  wait
  for n in "$@"; do
    cat "$tmp/$n.out"
    grep -q '^FAIL$' "$tmp/$n.out" && fail=$((fail + 1))
  done
  rm -rf "$tmp"
fi
echo "fuzz harnesses: $# run, $fail failed"
[ "$fail" -eq 0 ]
