#!/usr/bin/env bash
# e2e/run.sh: the end-to-end harness (`make e2e`).
#
# Which API server (printed first, and on every result line):
#   - KUBECONFIG set: that cluster, for everything (no kubesim; stand-ins only with
#     E2E_STANDINS=1; PostgreSQL still local).
#   - else, when the real control plane's binaries are found (hack/envtest.sh assets:
#     KUBEBUILDER_ASSETS, default ../shared/envtest): two passes. First "envtest", a real
#     kube-apiserver + etcd + kube-controller-manager started by hack/envtest.sh, runs every
#     conformance case and every scenario. Then "kubesim", the local stand-in, runs every
#     conformance case again and every scenario that skipped on the real server (those need
#     kubesim's fault injection). A conformance case whose result or observations (lines it
#     records with `observe`) differ between the two servers fails the run: where they
#     differ, kubesim is wrong.
#   - else: kubesim only (a fresh clone with nothing beside it).
#   E2E_SERVER=envtest|kubesim forces one server (no second pass).
#
# Conformance cases (e2e/conformance/NN-*.sh) test the bare server, so nothing else runs
# yet. Before the first scenario (e2e/scenarios/NN-*.sh) of a pass the harness applies the
# project's CRDs (crds/*.yaml), starts hack/standins with --install-crds (the child CRDs
# and the status side of their controllers) and PostgreSQL through hack/pg.sh (exports
# PG_ENV_FILE and PG*). On a real server (envtest, or KUBECONFIG unless E2E_OPERATOR_SA=0)
# it also installs deploy/kustomize's ServiceAccount and RBAC and writes a kubeconfig with
# a token from `kubectl create token` (E2E_OPERATOR_KUBECONFIG): the scenarios run the
# operator as that ServiceAccount, so a verb missing from the RBAC is a 403 in a test.
# Scenarios run sorted (only files whose name starts with a digit; the rest are helpers),
# each under `timeout`, with its output in a log that is printed when it fails. Exit code
# 77 = skip.
#
# Environment:
#   E2E_FILTER=REGEX     run only scenarios whose path (conformance/01-apply.sh) matches
#   E2E_SERVER=NAME      envtest or kubesim: that server only (without KUBECONFIG)
#   E2E_TIMEOUT=SECONDS  per-scenario timeout (default 180)
#   E2E_KEEP=1           keep the temporary directory (logs, server state)
#   E2E_STANDINS=1       start the stand-ins even with KUBECONFIG set
#   E2E_STANDINS_ARGS    extra flags for hack/standins/standins.py
#   E2E_PG=0             do not start PostgreSQL
#   E2E_INSTALL_CRDS=0   do not apply crds/*.yaml (the GraceService CRD)
#   E2E_OPERATOR_SA=0    run the operator with the admin kubeconfig, not its ServiceAccount
#   E2E_VERBOSE=1        print every scenario's output, not only failures
#
# Everything it starts is stopped on exit, also on failure and on Ctrl-C. The last line
# is exactly "N passed, N failed" (", N skipped" appended when some skipped). The exit
# status is non-zero when a scenario failed, when none ran, or when setup failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIMEOUT=${E2E_TIMEOUT:-180}
FILTER=${E2E_FILTER:-}
SIM_READY_TIMEOUT=20
STANDINS_READY_TIMEOUT=60

WORK=
SIM_PID=
ENVTEST_DIR=
STANDINS_PID=
PHASE= # the server of the current pass: envtest, kubesim or cluster
PG_DIR=
CURRENT_PID=
passed=0 failed=0 skipped=0

say() { printf '%s\n' "$*"; }
summary() {
  local s="$passed passed, $failed failed"
  [ "$skipped" -gt 0 ] && s="$s, $skipped skipped"
  say "$s"
}
err() { printf 'e2e: %s\n' "$*" >&2; }

# stop_group PID NAME: SIGTERM the process group led by PID, then SIGKILL after 10 s.
stop_group() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    err "$2 (pid $pid) ignored SIGTERM; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# stop_all: stop everything we started and remove the work directory (idempotent).
stop_all() {
  [ -n "$CURRENT_PID" ] && stop_group "$CURRENT_PID" "scenario"
  stop_group "$STANDINS_PID" "stand-ins"
  if [ -n "$PG_DIR" ]; then
    "$ROOT/hack/pg.sh" stop "$PG_DIR" >/dev/null 2>&1 || err "stopping PostgreSQL failed"
  fi
  stop_group "$SIM_PID" "kubesim"
  stop_envtest
  CURRENT_PID= STANDINS_PID= PG_DIR= SIM_PID=
  if [ -n "$WORK" ]; then
    if [ "${E2E_KEEP:-0}" = 1 ]; then
      err "kept $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  WORK=
}

# finish RC: stop everything, print the summary line last, exit RC.
finish() {
  trap - EXIT
  trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
  stop_all
  summary
  exit "$1"
}
trap 'rc=$?; trap - EXIT; stop_all; exit $rc' EXIT
interrupted() {
  err "interrupted by SIG$1"
  finish "$2"
}
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM

# setup_failed MSG [LOG]: report, show the log tail, print the summary line, exit 2.
setup_failed() {
  err "setup failed: $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    err "last lines of $2:"
    tail -n 30 "$2" | sed 's/^/    | /' >&2
  fi
  finish 2
}

# start_bg LOG CMD...: start CMD in its own process group (session); pid in BG_PID.
# (setsid does not fork here: a background child of a script is no group leader.)
start_bg() {
  local log=$1
  shift
  setsid "$@" </dev/null >"$log" 2>&1 &
  BG_PID=$!
}

# wait_file FILE PID SECONDS: until FILE is non-empty; fails if PID dies or time runs out.
wait_file() {
  local file=$1 pid=$2 end=$((SECONDS + $3))
  while [ ! -s "$file" ]; do
    kill -0 "$pid" 2>/dev/null || return 2
    [ $SECONDS -lt "$end" ] || return 1
    sleep 0.1
  done
}

start_kubesim() {
  local sim=$ROOT/hack/kubesim/kubesim.py dir=$WORK/kubesim log=$WORK/logs/kubesim.log
  [ -f "$sim" ] || setup_failed "$sim not found (the local API server)"
  mkdir -p "$dir"
  start_bg "$log" python3 "$sim" --dir "$dir"
  SIM_PID=$BG_PID
  wait_file "$dir/ready" "$SIM_PID" "$SIM_READY_TIMEOUT"
  case $? in
    0) ;;
    1) setup_failed "kubesim did not write $dir/ready within ${SIM_READY_TIMEOUT}s" "$log" ;;
    *) setup_failed "kubesim exited before it was ready" "$log" ;;
  esac
  [ -s "$dir/kubeconfig" ] || setup_failed "kubesim wrote no $dir/kubeconfig" "$log"
  export KUBECONFIG=$dir/kubeconfig KUBESIM_DIR=$dir
  say "kubesim: $(cat "$dir/url" 2>/dev/null || echo "port $(cat "$dir/ready")") ($dir)"
}

# envtest_available: hack/envtest.sh finds (and unpacks) the real control plane's binaries.
envtest_available() {
  "$ROOT/hack/envtest.sh" assets >"$WORK/logs/envtest-assets.log" 2>&1
}

start_envtest() {
  local log=$WORK/logs/envtest.log
  ENVTEST_DIR=$WORK/envtest
  ENVTEST_OWNER_PID=$$ "$ROOT/hack/envtest.sh" start "$ENVTEST_DIR" >"$log" 2>&1 ||
    setup_failed "the real control plane (hack/envtest.sh) did not start" "$log"
  export KUBECONFIG=$ENVTEST_DIR/kubeconfig
  unset KUBESIM_DIR
  say "envtest: $(cat "$ENVTEST_DIR/version") at $(cat "$ENVTEST_DIR/url") ($ENVTEST_DIR)"
}

stop_envtest() {
  [ -n "$ENVTEST_DIR" ] || return 0
  "$ROOT/hack/envtest.sh" stop "$ENVTEST_DIR" >/dev/null 2>&1 || err "stopping the control plane failed"
  ENVTEST_DIR=
}

# setup_operator_sa: deploy/kustomize's namespace, ServiceAccount and RBAC, and a kubeconfig
# holding a token of that ServiceAccount (same server and CA as $KUBECONFIG).
setup_operator_sa() {
  local log=$WORK/logs/operator-sa.log kc=$WORK/operator.kubeconfig server ca token
  kubectl apply -f "$ROOT/deploy/kustomize/namespace.yaml" -f "$ROOT/deploy/kustomize/serviceaccount.yaml" \
    -f "$ROOT/deploy/kustomize/rbac.yaml" >"$log" 2>&1 || setup_failed "installing deploy/kustomize's RBAC failed" "$log"
  token=$(kubectl create token grace-operator -n grace-system --duration=4h 2>>"$log") ||
    setup_failed "kubectl create token grace-operator failed" "$log"
  server=$(kubectl config view --raw --minify -o 'jsonpath={.clusters[0].cluster.server}')
  ca=$(kubectl config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
  (
    umask 077
    cat >"$kc" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: grace-operator
  user: {token: "$token"}
contexts:
- name: grace-operator
  context: {cluster: e2e, user: grace-operator}
current-context: grace-operator
EOF
  )
  [ "$(KUBECONFIG=$kc kubectl auth can-i patch graceservices.grace.dev/status -A 2>>"$log")" = yes ] ||
    setup_failed "the operator's ServiceAccount token does not work" "$log"
  export E2E_OPERATOR_KUBECONFIG=$kc
  say "operator: runs as ServiceAccount grace-system/grace-operator (deploy/kustomize RBAC)"
}

start_standins() {
  local log=$WORK/logs/standins.log ready=$WORK/standins.ready
  local -a extra=()
  # shellcheck disable=SC2206
  [ -n "${E2E_STANDINS_ARGS:-}" ] && extra=($E2E_STANDINS_ARGS)
  start_bg "$log" python3 "$ROOT/hack/standins/standins.py" \
    --kubeconfig "$KUBECONFIG" --install-crds --ready-file "$ready" "${extra[@]}"
  STANDINS_PID=$BG_PID
  wait_file "$ready" "$STANDINS_PID" "$STANDINS_READY_TIMEOUT"
  case $? in
    0) ;;
    1) setup_failed "stand-ins not ready within ${STANDINS_READY_TIMEOUT}s" "$log" ;;
    *) setup_failed "stand-ins exited during startup" "$log" ;;
  esac
  export E2E_STANDINS_RUNNING=1
  say "stand-ins: running (child CRDs installed)"
}

stop_standins() {
  stop_group "$STANDINS_PID" "stand-ins"
  STANDINS_PID=
  unset E2E_STANDINS_RUNNING
}

start_pg() {
  [ "${E2E_PG:-1}" = 0 ] && { say "postgresql: not started (E2E_PG=0)"; return 0; }
  [ -z "$PG_DIR" ] || return 0 # one server for every pass
  local log=$WORK/logs/pg.log
  [ -x "$ROOT/hack/pg.sh" ] || setup_failed "hack/pg.sh not found"
  PG_DIR=$WORK/pg
  PG_OWNER_PID=$$ "$ROOT/hack/pg.sh" start "$PG_DIR" >"$log" 2>&1 ||
    setup_failed "PostgreSQL did not start" "$log"
  [ -s "$PG_DIR/pg.env" ] || setup_failed "hack/pg.sh wrote no $PG_DIR/pg.env" "$log"
  # shellcheck disable=SC1091
  . "$PG_DIR/pg.env"
  export PG_ENV_FILE=$PG_DIR/pg.env PGHOST PGPORT PGUSER PGPASSWORD
  say "postgresql: 127.0.0.1:$PGPORT"
}

# install_project_crds: kubectl apply crds/*.yaml and wait until Established.
install_project_crds() {
  [ "${E2E_INSTALL_CRDS:-1}" = 0 ] && return 0
  local log=$WORK/logs/crds.log names
  compgen -G "$ROOT/crds/*.yaml" >/dev/null || return 0
  names=$(kubectl apply -f "$ROOT/crds/" -o name 2>"$log") ||
    setup_failed "kubectl apply -f crds/ failed" "$log"
  # shellcheck disable=SC2086
  kubectl wait --for=condition=Established $names --timeout=30s >>"$log" 2>&1 ||
    setup_failed "the project's CRDs did not become Established" "$log"
  say "crds: $(echo $names | sed 's#customresourcedefinition.apiextensions.k8s.io/##g')"
}

# setup_scenarios: what operator scenarios need beyond the server (once).
SCENARIO_SETUP_DONE=0
setup_scenarios() {
  [ "$SCENARIO_SETUP_DONE" = 1 ] && return 0
  SCENARIO_SETUP_DONE=1
  install_project_crds
  if [ "$PHASE" != cluster ] || [ "${E2E_STANDINS:-0}" = 1 ]; then
    start_standins
  else
    say "stand-ins: not started (set E2E_STANDINS=1 to start them)"
  fi
  start_pg
  unset E2E_OPERATOR_KUBECONFIG
  if [ "$PHASE" != kubesim ] && [ "${E2E_OPERATOR_SA:-1}" = 1 ]; then
    setup_operator_sa
  fi
}

# check_alive: a crashed helper makes every later scenario fail; say so once.
check_alive() {
  if [ -n "$SIM_PID" ] && ! kill -0 "$SIM_PID" 2>/dev/null; then
    err "kubesim is no longer running; last lines of its log:"
    tail -n 30 "$WORK/logs/kubesim.log" | sed 's/^/    | /' >&2
    SIM_PID=
  fi
  if [ -n "$STANDINS_PID" ] && ! kill -0 "$STANDINS_PID" 2>/dev/null; then
    err "the stand-ins are no longer running; last lines of their log:"
    tail -n 30 "$WORK/logs/standins.log" | sed 's/^/    | /' >&2
    STANDINS_PID=
  fi
}

# run_one FILE: run one scenario under timeout in its own process group.
# Its result goes to $WORK/results/$PHASE ("rel pass|fail|skip"); what it records with
# `observe` to $WORK/observe/$PHASE/<rel>.
run_one() {
  local file=$1 rel=${1#"$ROOT"/e2e/} log start rc dur res
  log=$WORK/logs/$PHASE/$(printf '%s' "$rel" | tr '/' '_').log
  mkdir -p "$WORK/logs/$PHASE" "$WORK/observe/$PHASE"
  export E2E_OBSERVE_FILE=$WORK/observe/$PHASE/$(printf '%s' "$rel" | tr '/' '_')
  : >"$E2E_OBSERVE_FILE"
  start=$(date +%s%N)
  # timeout puts itself and the scenario in a new process group (pgid = its pid): on
  # expiry it signals the whole group, and afterwards we clean up whatever is left.
  (cd "$ROOT" && exec timeout -k 10 "$TIMEOUT" bash "$file") </dev/null >"$log" 2>&1 &
  CURRENT_PID=$!
  wait "$CURRENT_PID"
  rc=$?
  kill -TERM -- "-$CURRENT_PID" 2>/dev/null || true
  CURRENT_PID=
  dur=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  case $rc in 0) res=pass ;; 77) res=skip ;; *) res=fail ;; esac
  echo "$rel $res" >>"$WORK/results/$PHASE"
  case $rc in
    0)
      passed=$((passed + 1))
      say "PASS [$PHASE] $rel (${dur}s)"
      [ "${E2E_VERBOSE:-0}" = 1 ] && sed 's/^/    | /' "$log"
      ;;
    77)
      skipped=$((skipped + 1))
      say "SKIP [$PHASE] $rel: $(grep -h 'SKIP' "$log" | tail -n 1 | sed 's/^SKIP \[[^]]*\]: //')"
      ;;
    *)
      failed=$((failed + 1))
      if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        say "FAIL [$PHASE] $rel (timed out after ${TIMEOUT}s)"
      else
        say "FAIL [$PHASE] $rel (rc=$rc, ${dur}s)"
      fi
      sed 's/^/    | /' "$log"
      ;;
  esac
  return 0
}

# run_pass FILE...: run the given conformance cases and scenarios against the current server.
run_pass() {
  local f
  SCENARIO_SETUP_DONE=0
  : >>"$WORK/results/$PHASE"
  for f in "$@"; do
    case $f in "$ROOT"/e2e/scenarios/*) setup_scenarios ;; esac
    check_alive
    run_one "$f"
  done
}

# skipped_in PHASE: the files that skipped in that pass.
skipped_in() {
  awk '$2 == "skip" {print $1}' "$WORK/results/$1" | while read -r rel; do echo "$ROOT/e2e/$rel"; done
}

# compare_conformance: every conformance case that ran on both servers must give the same
# result and record the same observations; a difference is a failure (kubesim is wrong).
compare_conformance() {
  local rel a b diffs=0 obs
  while read -r rel a; do
    case $rel in conformance/*) ;; *) continue ;; esac
    b=$(awk -v r="$rel" '$1 == r {print $2}' "$WORK/results/kubesim")
    [ -n "$b" ] && [ "$a" != skip ] && [ "$b" != skip ] || continue
    obs=$(printf '%s' "$rel" | tr '/' '_')
    if [ "$a" != "$b" ]; then
      say "DIFF $rel: $a on envtest, $b on kubesim"
      diffs=$((diffs + 1))
    elif ! cmp -s "$WORK/observe/envtest/$obs" "$WORK/observe/kubesim/$obs"; then
      say "DIFF $rel: observations differ (< envtest, > kubesim):"
      diff "$WORK/observe/envtest/$obs" "$WORK/observe/kubesim/$obs" | grep '^[<>]' | sed 's/^/    | /'
      diffs=$((diffs + 1))
    fi
  done <"$WORK/results/envtest"
  if [ "$diffs" -gt 0 ]; then
    failed=$((failed + diffs))
    say "conformance: $diffs case(s) differ between the real kube-apiserver and kubesim"
  else
    say "conformance: same results and observations on the real kube-apiserver and kubesim"
  fi
}

# choose_servers: the passes to run, from KUBECONFIG, E2E_SERVER and the envtest assets.
choose_servers() {
  if [ -n "${KUBECONFIG:-}" ]; then
    SERVERS=cluster
    return
  fi
  case ${E2E_SERVER:-} in
    envtest | kubesim) SERVERS=$E2E_SERVER ;;
    "") if envtest_available; then SERVERS="envtest kubesim"; else SERVERS=kubesim; fi ;;
    *) setup_failed "E2E_SERVER=$E2E_SERVER: use envtest or kubesim" ;;
  esac
  if [ "$SERVERS" = kubesim ] && [ -z "${E2E_SERVER:-}" ]; then
    say "server: kubesim only (no real control plane: $(tail -n 1 "$WORK/logs/envtest-assets.log"))"
  fi
}

start_server() {
  PHASE=$1
  case $1 in
    cluster)
      unset KUBESIM_DIR
      say "server: KUBECONFIG=$KUBECONFIG (no local kubesim)"
      ;;
    envtest) start_envtest ;;
    kubesim) start_kubesim ;;
  esac
}

# stop_server: end a pass (the stand-ins watch this server; PostgreSQL stays).
stop_server() {
  stop_standins
  case $PHASE in
    envtest) stop_envtest ;;
    kubesim) stop_group "$SIM_PID" "kubesim" && SIM_PID= ;;
  esac
}

main() {
  local f first=1 server
  for f in kubectl python3 timeout setsid; do
    command -v "$f" >/dev/null || setup_failed "$f not found in PATH"
  done
  WORK=$(mktemp -d /tmp/grace-e2e.XXXXXX) || setup_failed "mktemp failed"
  chmod 755 "$WORK" # hack/pg.sh runs the server as the postgres user below it
  mkdir -p "$WORK/logs" "$WORK/results"
  export E2E_WORK=$WORK E2E_LOG_DIR=$WORK/logs E2E_ROOT=$ROOT
  export GRACE_BIN=${GRACE_BIN:-$ROOT/bin/grace-operator}
  unset E2E_STANDINS_RUNNING E2E_OPERATOR_KUBECONFIG

  local -a files=()
  for f in "$ROOT"/e2e/conformance/[0-9]*.sh "$ROOT"/e2e/scenarios/[0-9]*.sh; do
    [ -f "$f" ] || continue
    if [ -n "$FILTER" ] && ! [[ ${f#"$ROOT"/e2e/} =~ $FILTER ]]; then
      continue
    fi
    files+=("$f")
  done
  choose_servers
  for server in $SERVERS; do
    if [ $first = 1 ]; then
      start_server "$server"
      run_pass "${files[@]}"
    else
      # the second pass (kubesim): every conformance case, and what skipped on envtest
      local -a again=()
      mapfile -t again < <(printf '%s\n' "${files[@]}" | grep '/e2e/conformance/'; skipped_in envtest | grep -v '/e2e/conformance/')
      stop_server
      start_server "$server"
      [ ${#again[@]} -eq 0 ] || run_pass "${again[@]}"
      compare_conformance
    fi
    first=0
  done

  if [ "$failed" -gt 0 ]; then
    for f in standins kubesim; do
      [ -s "$WORK/logs/$f.log" ] || continue
      say "--- last lines of the $f log ($WORK/logs/$f.log):"
      tail -n 20 "$WORK/logs/$f.log" | sed 's/^/    | /'
    done
  fi
  [ $((passed + failed)) -gt 0 ] || err "no scenario ran${FILTER:+ (E2E_FILTER=$FILTER)}"
  if [ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]; then
    finish 0
  fi
  finish 1
}

main "$@"
