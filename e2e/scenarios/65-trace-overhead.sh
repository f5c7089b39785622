#!/bin/bash
# A dead collector changes no reconcile time. Three runs of one operator each
# over N fresh GraceServices (E2E_OVERHEAD_N, default 20): traces off; traces to
# a "black hole" (accepts connections, never answers: every export waits out its
# 2 s timeout); traces to a refused port. Prints the mean reconcile time
# (controller_runtime_reconcile_time_seconds sum/count) and the time until all
# are Ready for each; fails only if a dead collector more than doubles the mean
# (plus 5 ms of noise), so it measures rather than races.
. "$(dirname "$0")/gslib.sh"
N=${E2E_OVERHEAD_N:-20}
setup_env
cp "$WORK/config.yaml" "$WORK/base.yaml"
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)   # never read, never answer
' "$WORK/hole.port" &
OP_PIDS+=($!)
eventually 10 test -s "$WORK/hole.port" || fail "black hole did not start"
HOLE=$(cat "$WORK/hole.port")
metric() { # NAME: the controller's sample of NAME from a started operator's /metrics
  curl -fsS "http://127.0.0.1:$(op_port "$RUN" metrics)/metrics" |
    awk -v n="$1" '!done && $1 ~ "^"n"\\{" && $1 ~ /controller="graceservice"/ {print $2; done = 1}'
}
run() { # MODE CONFIG-LINE
  RUN=op-$1
  cp "$WORK/base.yaml" "$WORK/config.yaml"
  [ -z "$2" ] || echo "$2" >>"$WORK/config.yaml"
  op_start "$RUN"
  local t0 i
  t0=$(date +%s.%N)
  for ((i = 0; i < N; i++)); do gs_apply "$1-$i" 'image: example/web:1' 'ingress: {enabled: false}'; done
  for ((i = 0; i < N; i++)); do wait_ready "$1-$i" 90; done
  local t1 sum cnt
  t1=$(date +%s.%N)
  sum=$(metric controller_runtime_reconcile_time_seconds_sum)
  cnt=$(metric controller_runtime_reconcile_time_seconds_count)
  drops=$(curl -fsS "http://127.0.0.1:$(op_port "$RUN" metrics)/metrics" |
    awk '/^grace_operator_trace_spans_dropped_total/ {s += $2} END {print s + 0}')
  local pid_var=${RUN//-/_}_PID
  kill -TERM "${!pid_var}"; wait "${!pid_var}" 2>/dev/null || true
  # The next run starts from an empty namespace: only its own services count.
  for ((i = 0; i < N; i++)); do
    kubectl patch "gs/$1-$i" -n "$NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
  done
  kubectl delete gs --all -n "$NS" --wait=true --timeout=60s >/dev/null 2>&1 || fail "services of run $1 not deleted"
  MEAN_MS=$(awk -v s="$sum" -v c="$cnt" 'BEGIN {printf "%.2f", c ? 1000 * s / c : 0}')
  note "$(printf '%-10s reconciles %4s  mean %6s ms  all %d Ready in %5.1f s  spans dropped %s' \
    "$1" "$cnt" "$MEAN_MS" "$N" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$drops")"
}
run off ""
base=$MEAN_MS
run hole "operatorTraces: {endpoint: \"http://127.0.0.1:$HOLE\"}"
hole=$MEAN_MS
run refused "operatorTraces: {endpoint: \"http://127.0.0.1:9\"}"
refused=$MEAN_MS
for m in "$hole" "$refused"; do
  awk -v m="$m" -v b="$base" 'BEGIN { exit !(m <= 2 * b + 5) }' ||
    fail "a dead collector slowed reconciles: mean $m ms against $base ms without traces"
done
