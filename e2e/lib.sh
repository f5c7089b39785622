# e2e/lib.sh: helpers for end-to-end scenarios (sourced, never run).
#
#   . "$(dirname "$0")/../lib.sh"
#
# A scenario is a bash script e2e/scenarios/NN-name.sh that e2e/run.sh runs with
# KUBECONFIG set (and KUBESIM_DIR when the server is the local kubesim, PG_ENV_FILE
# when PostgreSQL runs, E2E_STANDINS_RUNNING=1 when hack/standins runs). Exit codes:
# 0 pass, 1 fail, 77 skip. Sourcing this file turns on `set -euo pipefail` and
# installs an EXIT trap that stops the operator, runs the on_exit commands (last
# first), deletes the namespaces made with ns_create and removes $E2E_SCENARIO_DIR.
# Do not set your own EXIT trap: register cleanups with on_exit.
#
# Helpers:
#   fail MSG...               print "FAIL [scenario]: MSG" and exit 1
#   skip MSG...               print "SKIP [scenario]: MSG" and exit 77
#   note MSG...               progress line on stdout
#   assert_eq WANT GOT [WHAT] fail unless WANT = GOT
#   wait_for 'CMD' SECONDS [WHAT]
#                             eval CMD every 0.25 s until it succeeds; fail (with CMD's
#                             last output) after SECONDS
#   ns_create NAME            create a unique namespace e2e-NAME-xxxxxxxx, set NS to it;
#                             deleted at exit (call it in the main shell, not in $(...))
#   kc ARGS...                kubectl --request-timeout=$E2E_KC_TIMEOUT (default 30s)
#   sim_fault JSON            POST JSON to kubesim's /_sim/faults (skips without kubesim);
#                             prints the answer
#   operator_start [ARGS...]  start $GRACE_BIN --kubeconfig $KUBECONFIG ARGS in the
#                             background, log in $OPERATOR_LOG, pid in $OPERATOR_PID
#   operator_stop             SIGTERM, wait (E2E_OPERATOR_STOP_TIMEOUT, default 15 s),
#                             fail with the log tail if it hangs or exits non-zero
#   pg_psql ARGS...           psql -X -At -v ON_ERROR_STOP=1 with the harness' admin env
#   on_exit 'CMD'             run CMD at exit
#   need_kubesim | need_pg | need_standins | need_operator
#                             skip unless that part is available
set -euo pipefail

E2E_ROOT=${E2E_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
GRACE_BIN=${GRACE_BIN:-$E2E_ROOT/bin/grace-operator}
SCENARIO=$(basename "$0" .sh)
E2E_SCENARIO_DIR=$(mktemp -d "${E2E_WORK:-/tmp}/scenario-$SCENARIO.XXXXXX")
OPERATOR_PID=
OPERATOR_LOG=
_E2E_NAMESPACES=()
_E2E_ON_EXIT=()
_E2E_OPERATOR_N=0

fail() {
  echo "FAIL [$SCENARIO]: $*" >&2
  exit 1
}
skip() {
  echo "SKIP [$SCENARIO]: $*"
  exit 77
}
note() { echo "  [$SCENARIO] $*"; }

assert_eq() {
  [ "$1" = "$2" ] || fail "${3:-value}: want '$1', got '$2'"
}

wait_for() {
  local cmd=$1 timeout=$2 what=${3:-$1} out end
  end=$(($(date +%s) + timeout))
  while :; do
    if out=$(eval "$cmd" 2>&1); then
      return 0
    fi
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${timeout}s waiting for: $what
  last output: ${out:-(none)}"
    sleep 0.25
  done
}

kc() { kubectl --request-timeout="${E2E_KC_TIMEOUT:-30s}" "$@"; }

on_exit() { _E2E_ON_EXIT+=("$1"); }

ns_create() {
  local base
  base=$(printf '%s' "$1" | tr 'A-Z_.' 'a-z--' | tr -cd 'a-z0-9-' | cut -c1-40)
  NS="e2e-${base}-$(printf '%04x%04x' $RANDOM $RANDOM)"
  kc create namespace "$NS" >/dev/null || fail "cannot create namespace $NS"
  _E2E_NAMESPACES+=("$NS")
}

need_kubesim() {
  [ -n "${KUBESIM_DIR:-}" ] || skip "needs the local kubesim (KUBESIM_DIR unset)"
}
need_pg() {
  [ -n "${PG_ENV_FILE:-}" ] && [ -f "$PG_ENV_FILE" ] || skip "needs PostgreSQL (PG_ENV_FILE unset)"
}
need_standins() {
  [ "${E2E_STANDINS_RUNNING:-0}" = 1 ] || skip "needs hack/standins (not running; E2E_STANDINS=1)"
}
need_operator() {
  [ -x "$GRACE_BIN" ] || skip "needs $GRACE_BIN (run make)"
}

# sim_fault JSON: the server URL, token and CA come from the current kubeconfig.
sim_fault() {
  need_kubesim
  local view="kubectl config view --raw --minify -o"
  local server token ca cert key hdr
  server=$($view 'jsonpath={.clusters[0].cluster.server}')
  token=$($view 'jsonpath={.users[0].user.token}')
  local d=$E2E_SCENARIO_DIR/.sim
  mkdir -p "$d" && chmod 700 "$d"
  local args=(-sS --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary "$1")
  ca=$($view 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
  if [ -n "$ca" ]; then
    printf '%s' "$ca" | base64 -d >"$d/ca.crt"
    args+=(--cacert "$d/ca.crt")
  fi
  if [ -n "$token" ]; then
    # The header goes through a file, so the token never appears in a process list.
    printf 'Authorization: Bearer %s\n' "$token" >"$d/auth"
    args+=(-H "@$d/auth")
  else
    cert=$($view 'jsonpath={.users[0].user.client-certificate-data}')
    key=$($view 'jsonpath={.users[0].user.client-key-data}')
    printf '%s' "$cert" | base64 -d >"$d/client.crt"
    printf '%s' "$key" | base64 -d >"$d/client.key"
    args+=(--cert "$d/client.crt" --key "$d/client.key")
  fi
  local out code
  out=$(curl "${args[@]}" -w '\n%{http_code}' "$server/_sim/faults") || fail "sim_fault: curl failed"
  rm -f "$d/auth" "$d/client.key"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [ "$code" = 200 ] || [ "$code" = 201 ] || fail "sim_fault $1: HTTP $code: $out"
  printf '%s\n' "$out"
}

operator_start() {
  need_operator
  [ -z "$OPERATOR_PID" ] || fail "operator_start: an operator is already running (pid $OPERATOR_PID)"
  _E2E_OPERATOR_N=$((_E2E_OPERATOR_N + 1))
  OPERATOR_LOG=$E2E_SCENARIO_DIR/operator-$_E2E_OPERATOR_N.log
  "$GRACE_BIN" --kubeconfig "$KUBECONFIG" "$@" >"$OPERATOR_LOG" 2>&1 </dev/null &
  OPERATOR_PID=$!
  sleep 0.3
  if ! kill -0 "$OPERATOR_PID" 2>/dev/null; then
    local rc=0
    wait "$OPERATOR_PID" || rc=$?
    OPERATOR_PID=
    _e2e_operator_tail
    fail "operator exited at start (rc=$rc)"
  fi
}

_e2e_operator_tail() {
  [ -n "$OPERATOR_LOG" ] && [ -f "$OPERATOR_LOG" ] || return 0
  echo "--- operator log (last 40 lines of $OPERATOR_LOG)" >&2
  tail -n 40 "$OPERATOR_LOG" >&2 || true
  echo "---" >&2
  OPERATOR_LOG= # shown once
}

operator_stop() {
  [ -n "$OPERATOR_PID" ] || return 0
  local pid=$OPERATOR_PID rc=0 i limit
  OPERATOR_PID=
  kill -TERM "$pid" 2>/dev/null || true
  limit=$((${E2E_OPERATOR_STOP_TIMEOUT:-15} * 10))
  for ((i = 0; i < limit; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    _e2e_operator_tail
    fail "operator did not exit within ${E2E_OPERATOR_STOP_TIMEOUT:-15}s of SIGTERM"
  fi
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" != 0 ]; then
    _e2e_operator_tail
    fail "operator exited with rc=$rc after SIGTERM"
  fi
}

pg_psql() {
  need_pg
  (
    # shellcheck disable=SC1090
    . "$PG_ENV_FILE"
    psql -X -q -At -v ON_ERROR_STOP=1 "$@"
  )
}

_e2e_exit() {
  local rc=$? i
  set +e
  trap - EXIT
  if [ -n "$OPERATOR_PID" ]; then
    # A failing scenario shows the log; the stop itself must not change the verdict.
    kill -TERM "$OPERATOR_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$OPERATOR_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$OPERATOR_PID" 2>/dev/null
    wait "$OPERATOR_PID" 2>/dev/null
  fi
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    _e2e_operator_tail
  fi
  for ((i = ${#_E2E_ON_EXIT[@]} - 1; i >= 0; i--)); do
    eval "${_E2E_ON_EXIT[$i]}"
  done
  for ns in "${_E2E_NAMESPACES[@]}"; do
    kubectl --request-timeout=10s delete namespace "$ns" --wait=false --ignore-not-found \
      >/dev/null 2>&1
  done
  rm -rf "$E2E_SCENARIO_DIR"
  exit "$rc"
}
trap _e2e_exit EXIT
