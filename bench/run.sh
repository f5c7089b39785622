#!/usr/bin/env bash
# bench/run.sh: the operator benchmark (`make bench`). See bench/README.md.
#
# For each N it starts a fresh API server and the dependency stand-ins
# (hack/standins), then bench/bench.py runs the operator (bin/grace-operator)
# through: idle, creation of N GraceServices, spec-change latency, restarts
# with nothing changed, a forced resync, and the API server's own capacity.
# PostgreSQL (hack/pg.sh) is started once when a run uses it. bench/report.py
# writes bench/results/<date>-<host>.json and .md and bench/results/latest.md.
#
# The API server (BENCH_SERVER), like the e2e suite:
#   kubeconfig  KUBECONFIG is set: that cluster (client certificate or token).
#               One namespace per run (bench-<N>-<random>), its GraceServices
#               deleted through the operator at the end; no server CPU by
#               process (its /metrics still gives process_cpu_seconds_total)
#   envtest     the real control plane of hack/envtest.sh (etcd, kube-apiserver
#               v1.32, kube-controller-manager), a fresh one per N: the default
#               without KUBECONFIG when `hack/envtest.sh assets` finds binaries
#   kubesim     the Python stand-in hack/kubesim, a fresh one per N: otherwise
#
# Environment:
#   BENCH_SERVER=kubesim|envtest|kubeconfig  force the API server (see above)
#   BENCH_N="100 1000 3000"  GraceService counts, one run each
#   BENCH_PG=1          every run with spec.postgres (a database per service)
#   BENCH_PG_N=100      one extra run with spec.postgres at this N ("" = none;
#                       ignored with BENCH_PG=1)
#   BENCH_K=50          spec changes in the latency phase
#   BENCH_RESTARTS=2    restarts with nothing changed (cold start, writes)
#   BENCH_BIN=PATH      operator binary (default bin/grace-operator)
#   BENCH_ALT_BIN=PATH  a second binary: the restarts alternate between BENCH_BIN
#                       (odd) and this one (even), back to back against the same
#                       server; use BENCH_RESTARTS=6 or more (A/B comparisons)
#   BENCH_OUT=DIR       results directory (default bench/results)
#   BENCH_KEEP=1        keep the temporary directory (logs)
#   BENCH_SIM_ARGS=-v   extra kubesim flags (diagnosis only)
#   BENCH_LOG_LEVEL=warn  operator log level (debug: diagnosis only; logs cost CPU)
#   BENCH_HEALTHZ=0     skip the /healthz-under-webhook-load phase (bench/healthz.sh)
#   BENCH_CONFIG_EXTRA='directory: {configMap: {name: ""}}'  lines appended to
#                       the operator's configuration (comparisons)
#   BENCH_ARGS="..."    extra bench/bench.py flags, for profiling, e.g.
#                       "--phases none --perf /tmp/op.perf" (see README)
#   BENCH_PERF_FREQ=499 perf's sampling rate for --perf (more for a short phase
#                       such as a cold start)
#   BENCH_WRAP="..."    command prefix for the operator, e.g.
#                       "valgrind --tool=massif --massif-out-file=/tmp/massif.%p"
#
# Prints the figures; never fails on speed. Exits non-zero only when the
# set-up breaks. Everything started here is stopped on exit (also on Ctrl-C),
# and the temporary directory is removed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/bin/grace-operator}
NS_LIST=${BENCH_N:-100 1000 3000}
PG_ALL=${BENCH_PG:-0}
PG_N=${BENCH_PG_N-100}
K=${BENCH_K:-50}
RESTARTS=${BENCH_RESTARTS:-2}
OUT=${BENCH_OUT:-$ROOT/bench/results}

SERVER=${BENCH_SERVER:-}
EXT_KUBECONFIG=${KUBECONFIG:-}
if [ -z "$SERVER" ]; then
  if [ -n "$EXT_KUBECONFIG" ]; then
    SERVER=kubeconfig
  elif bash "$ROOT/hack/envtest.sh" assets >/dev/null 2>&1; then
    SERVER=envtest
  else
    SERVER=kubesim
  fi
fi

WORK=
SIM_PID=
ENVTEST_DIR=
STANDINS_PID=
PG_DIR=
RUN_DIR=
BENCH_PID=

say() { printf '%s\n' "$*"; }
err() { printf 'bench: %s\n' "$*" >&2; }

# stop_group PID: SIGTERM the process group led by PID, SIGKILL after 10 s.
stop_group() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  # a group paused by the reqcost phase (SIGSTOP) gets the TERM once continued
  kill -CONT -- "-$pid" 2>/dev/null || kill -CONT "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_operator() {
  local f=$RUN_DIR/operator.pid pid
  [ -n "$RUN_DIR" ] && [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_stack() {
  if [ -n "$BENCH_PID" ]; then
    kill -TERM "$BENCH_PID" 2>/dev/null
    wait "$BENCH_PID" 2>/dev/null
    BENCH_PID=
  fi
  stop_operator
  stop_group "$STANDINS_PID"
  STANDINS_PID=
  stop_group "$SIM_PID"
  SIM_PID=
  if [ -n "$ENVTEST_DIR" ]; then
    bash "$ROOT/hack/envtest.sh" stop "$ENVTEST_DIR" >/dev/null 2>&1 || err "stopping envtest failed"
    ENVTEST_DIR=
  fi
}

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_stack
  if [ -n "$PG_DIR" ]; then
    bash "$ROOT/hack/pg.sh" stop "$PG_DIR" >/dev/null 2>&1 || err "stopping PostgreSQL failed"
    rm -rf "$PG_DIR"
  fi
  if [ -n "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then err "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'err "interrupted"; exit 130' INT TERM

setup_failed() {
  err "setup failed: $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 30 "$2" | sed 's/^/    | /' >&2; fi
  exit 2
}

# wait_file FILE PID SECONDS
wait_file() {
  local file=$1 pid=$2 end=$((SECONDS + $3))
  while [ ! -s "$file" ]; do
    kill -0 "$pid" 2>/dev/null || return 2
    [ $SECONDS -lt "$end" ] || return 1
    sleep 0.1
  done
}

start_pg() {
  [ -n "$PG_DIR" ] && return 0
  # Not under $WORK (mode 700): the postgres user must reach it.
  PG_DIR=$(mktemp -d /tmp/grace-bench-pg.XXXXXX)
  PG_OWNER_PID=$$ bash "$ROOT/hack/pg.sh" start "$PG_DIR" >"$WORK/pg.log" 2>&1 ||
    setup_failed "PostgreSQL did not start" "$WORK/pg.log"
}

# start_server DIR: the API server of this run; sets KUBECONFIG and SERVER_PIDS
# ("name=pid,..." of the local server processes whose CPU is measured).
start_server() {
  local dir=$1
  case $SERVER in
    kubesim)
      mkdir -p "$dir/sim"
      # shellcheck disable=SC2086
      setsid python3 "$ROOT/hack/kubesim/kubesim.py" --dir "$dir/sim" ${BENCH_SIM_ARGS:-} </dev/null >"$dir/kubesim.log" 2>&1 &
      SIM_PID=$!
      wait_file "$dir/sim/ready" "$SIM_PID" 60 || setup_failed "kubesim did not start" "$dir/kubesim.log"
      export KUBECONFIG=$dir/sim/kubeconfig
      SERVER_PIDS=apiserver=$SIM_PID
      ;;
    envtest)
      ENVTEST_DIR=$dir/envtest
      ENVTEST_OWNER_PID=$$ bash "$ROOT/hack/envtest.sh" start "$ENVTEST_DIR" >"$dir/envtest.log" 2>&1 ||
        setup_failed "hack/envtest.sh start failed" "$dir/envtest.log"
      export KUBECONFIG=$ENVTEST_DIR/kubeconfig
      SERVER_PIDS=$(awk '$1 == "kube-apiserver" {printf "apiserver=%s,", $2}
        $1 == "etcd" {printf "etcd=%s,", $2}
        $1 == "kube-controller-manager" {printf "kcm=%s,", $2}' "$ENVTEST_DIR/pids")
      SERVER_PIDS=${SERVER_PIDS%,}
      ;;
    kubeconfig)
      export KUBECONFIG=$EXT_KUBECONFIG
      SERVER_PIDS=
      ;;
    *) setup_failed "BENCH_SERVER=$SERVER: kubesim, envtest or kubeconfig" ;;
  esac
}

# ensure_ns NAME: create a namespace unless it exists (an existing cluster).
ensure_ns() {
  kubectl get namespace "$1" >/dev/null 2>&1 || kubectl create namespace "$1" >/dev/null
}

# start_stack DIR PG: API server + CRD + stand-ins + namespaces (+ admin Secret), config.
start_stack() {
  local dir=$1 pg=$2 ns
  start_server "$dir"
  kubectl apply -f "$ROOT/crds/graceservice.yaml" >/dev/null || setup_failed "GraceService CRD"
  setsid python3 "$ROOT/hack/standins/standins.py" --kubeconfig "$KUBECONFIG" --install-crds \
    --ready-file "$dir/standins.ready" </dev/null >"$dir/standins.log" 2>&1 &
  STANDINS_PID=$!
  wait_file "$dir/standins.ready" "$STANDINS_PID" 120 || setup_failed "stand-ins did not start" "$dir/standins.log"
  kubectl wait --for=condition=Established crd/graceservices.grace.dev --timeout=60s >/dev/null ||
    setup_failed "GraceService CRD not Established"
  for ns in "$BENCH_NS" kafka velero grace-system; do
    ensure_ns "$ns" || setup_failed "namespace $ns"
  done
  if [ "$pg" = 1 ]; then
    # shellcheck disable=SC1091
    (. "$PG_DIR/pg.env" && kubectl -n grace-system create secret generic postgres-admin \
      --from-literal=host="$PGHOST" --from-literal=port="$PGPORT" --from-literal=user="$PGUSER" \
      --from-literal=password="$PGPASSWORD" --from-literal=sslmode=disable \
      --dry-run=client -o yaml | kubectl apply -f - >/dev/null) ||
      setup_failed "PostgreSQL admin Secret"
  fi
  cat >"$dir/config.yaml" <<'YAML'
baseDomain: bench.example.com
kafka: {namespace: kafka, cluster: kafka}
backup: {namespace: velero}
postgres:
  sslmode: disable
  adminSecret: {namespace: grace-system, name: postgres-admin}
YAML
  # extra configuration lines, for comparisons (e.g. the directory off)
  [ -z "${BENCH_CONFIG_EXTRA:-}" ] || printf '%s\n' "$BENCH_CONFIG_EXTRA" >>"$dir/config.yaml"
}

# one_run N PG: a fresh stack, bench.py, stop the stack.
one_run() {
  local n=$1 pg=$2 tag rc
  tag=n$n$([ "$pg" = 1 ] && echo -pg)
  RUN_DIR=$WORK/$tag
  BENCH_NS=bench
  [ "$SERVER" = kubeconfig ] && BENCH_NS=bench-$n-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  say ""
  say "== N=$n$([ "$pg" = 1 ] && echo ' with PostgreSQL') on $SERVER ($(cut -d' ' -f1-3 /proc/loadavg) load)"
  [ "$pg" = 1 ] && start_pg
  mkdir -p "$RUN_DIR"
  start_stack "$RUN_DIR" "$pg"
  local args=(--kubeconfig "$KUBECONFIG" --server "$SERVER" --ns "$BENCH_NS" --work "$RUN_DIR"
    --bin "$BIN" --config "$RUN_DIR/config.yaml" --n "$n" --k "$K" --restarts "$RESTARTS"
    --standins-pid "$STANDINS_PID" --log-level "${BENCH_LOG_LEVEL:-warn}"
    --out "$WORK/results/$tag.json")
  [ -n "$SERVER_PIDS" ] && args+=(--server-pids "$SERVER_PIDS")
  [ "$SERVER" = kubeconfig ] && args+=(--cleanup --name-prefix "s${BENCH_NS##*-}")
  [ "$pg" = 1 ] && args+=(--pg)
  # shellcheck disable=SC2206
  [ -n "${BENCH_ARGS:-}" ] && args+=($BENCH_ARGS)
  [ -n "${BENCH_WRAP:-}" ] && args+=(--wrap "$BENCH_WRAP")
  [ -n "$ALT_BIN" ] && args+=(--alt-bin "$ALT_BIN")
  # In the background and waited for: a signal to this script interrupts the
  # wait at once (a foreground child would delay the trap until it ends).
  python3 "$ROOT/bench/bench.py" "${args[@]}" &
  BENCH_PID=$!
  wait "$BENCH_PID"
  rc=$?
  BENCH_PID=
  if [ $rc -ne 0 ]; then
    err "run N=$n failed (exit $rc); operator log tail:"
    tail -n 20 "$RUN_DIR"/operator-*.log 2>/dev/null | sed 's/^/    | /' >&2
    failed=$((failed + 1))
  fi
  if [ "$SERVER" = kubeconfig ]; then # an existing cluster: leave it as found
    kubectl delete namespace "$BENCH_NS" --wait=false >/dev/null 2>&1 || err "namespace $BENCH_NS not deleted"
  fi
  stop_stack
  RUN_DIR=
}

[ -x "$BIN" ] || setup_failed "$BIN not found (run make)"
command -v kubectl >/dev/null || setup_failed "kubectl not found"
WORK=$(mktemp -d /tmp/grace-bench.XXXXXX)
mkdir -p "$WORK/results" "$OUT"
# Snapshot the binary and the templates: a rebuild of bin/ during a long run
# must not change what is measured half-way.
mkdir -p "$WORK/op/bin"
if ! cp "$BIN" "$WORK/op/bin/grace-operator" || ! cp -r "$ROOT/templates" "$WORK/op/templates"; then
  setup_failed "cannot copy the operator binary and templates"
fi
BIN=$WORK/op/bin/grace-operator
ALT_BIN=
if [ -n "${BENCH_ALT_BIN:-}" ]; then
  cp "$BENCH_ALT_BIN" "$WORK/op/bin/grace-operator-alt" || setup_failed "cannot copy $BENCH_ALT_BIN"
  ALT_BIN=$WORK/op/bin/grace-operator-alt
fi
python3 "$ROOT/bench/report.py" machine --bin "$BIN" --out "$WORK/machine.json" ||
  setup_failed "machine description"
say "bench: server=$SERVER N=[$NS_LIST] postgres=$([ "$PG_ALL" = 1 ] && echo all || echo "${PG_N:-none}") K=$K"
failed=0
for n in $NS_LIST; do
  one_run "$n" "$PG_ALL"
done
if [ "$PG_ALL" != 1 ] && [ -n "$PG_N" ]; then
  one_run "$PG_N" 1
fi
python3 "$ROOT/bench/report.py" render --machine "$WORK/machine.json" --out-dir "$OUT" \
  "$WORK"/results/*.json || { err "report failed"; exit 1; }
# /healthz latency under webhook load (idle, slow clients, 200 clients): bench/healthz.sh,
# appended to the report just written (BENCH_HEALTHZ=0 skips it).
if [ "${BENCH_HEALTHZ:-1}" = 1 ]; then
  say ""
  say "== /healthz under webhook load ($(cut -d' ' -f1-3 /proc/loadavg) load)"
  if GRACE_BIN=$BIN bash "$ROOT/bench/healthz.sh" >"$WORK/healthz.txt" 2>&1; then
    sed 's/^/  /' "$WORK/healthz.txt"
    for md in "$OUT/latest.md" "$(ls -t "$OUT"/*-*.md | head -n 1)"; do
      printf '\n## /healthz under webhook load (bench/healthz.sh)\n\n```\n%s\n```\n' \
        "$(cat "$WORK/healthz.txt")" >>"$md"
    done
  else
    err "bench/healthz.sh failed:"
    sed 's/^/    | /' "$WORK/healthz.txt" >&2
  fi
fi
[ $failed -eq 0 ] || { err "$failed run(s) broke (set-up, not speed)"; exit 1; }
exit 0
