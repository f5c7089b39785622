# gslib.sh: helpers for the operator scenarios (sourced). Each scenario gets
# its own namespaces (service, kafka, backup, admin), its own operator
# process with a config pointing at them, and cleans up on exit.
# Needs: KUBECONFIG; PG_ENV_FILE (export PGHOST.. lines) for PostgreSQL.
# Exit codes: 0 pass, 1 fail, 77 skip.
set -euo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GRACE_BIN=${GRACE_BIN:-$E2E_ROOT/bin/grace-operator}
SCENARIO=$(basename "$0" .sh)
SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
NS="s${SCENARIO%%-*}-$SUFFIX"
KNS="$NS-kafka"
BNS="$NS-backup"
WORK=$(mktemp -d "/tmp/grace-e2e-$SCENARIO.XXXX")
OP_PIDS=()
EXTRA_NS=() # more service namespaces a scenario creates (cleaned up like $NS)

fail() {
  echo "FAIL [$SCENARIO]: $*" >&2
  for log in "$WORK"/operator*.log; do
    [ -f "$log" ] && { echo "--- $(basename "$log") (tail)" >&2; tail -25 "$log" >&2; }
  done
  exit 1
}
note() { echo "  [$SCENARIO] $*"; }
skip() { echo "SKIP [$SCENARIO]: $*"; exit 77; }

gs_cleanup() {
  local rc=$?
  set +e
  for p in "${OP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${OP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  # No operator runs now: drop our finalizers so namespaces can go.
  for n in "$NS" ${EXTRA_NS[@]+"${EXTRA_NS[@]}"}; do
    for gs in $(kubectl get gs -n "$n" -o name 2>/dev/null); do
      kubectl patch "$gs" -n "$n" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    done
  done
  for n in "$NS" "$KNS" "$BNS" ${EXTRA_NS[@]+"${EXTRA_NS[@]}"}; do
    kubectl delete namespace "$n" --wait=false --ignore-not-found >/dev/null 2>&1
  done
  if [ -n "${E2E_KEEP:-}" ] && [ "$rc" != 0 ]; then
    echo "kept $WORK (E2E_KEEP)" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap gs_cleanup EXIT

# eventually SECONDS CMD...: retry CMD every 0.2 s until it succeeds.
eventually() {
  local t=$1; shift
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

# eventually_eq SECONDS EXPECTED CMD...: retry until CMD prints EXPECTED
# (CMD runs again each time; "$(...)" in an argument would run only once).
eventually_eq() {
  local t=$1 want=$2; shift 2
  local end=$((SECONDS + t))
  until [ "$("$@" 2>/dev/null)" = "$want" ]; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

# jp KIND/NAME JSONPATH [NS]: print a field.
jp() { kubectl get "$1" -n "${3:-$NS}" -o "jsonpath=$2" 2>/dev/null; }

cond() { jp "gs/$1" "{.status.conditions[?(@.type==\"$2\")].status}"; }
cond_reason() { jp "gs/$1" "{.status.conditions[?(@.type==\"$2\")].reason}"; }

pg_env() {
  [ -n "${PG_ENV_FILE:-}" ] && [ -f "$PG_ENV_FILE" ] || fail "PG_ENV_FILE is not set (the harness starts PostgreSQL)"
  # shellcheck disable=SC1090
  . "$PG_ENV_FILE"
}

# setup_env: namespaces, the admin Secret and the operator config.
setup_env() {
  for n in "$NS" "$KNS" "$BNS"; do kubectl create namespace "$n" >/dev/null || fail "namespace $n"; done
  pg_env
  kubectl -n "$NS" create secret generic pg-admin --from-literal=host="$PGHOST" \
    --from-literal=port="$PGPORT" --from-literal=user="$PGUSER" \
    --from-literal=password="$PGPASSWORD" --from-literal=sslmode=disable >/dev/null || fail "admin secret"
  cat >"$WORK/config.yaml" <<YAML
baseDomain: e2e.example.com
kafka: {namespace: $KNS, cluster: kafka}
backup: {namespace: $BNS}
postgres:
  adminSecret: {namespace: $NS, name: pg-admin}
directory: {configMap: {name: ""}}
YAML
  # (no directory ConfigMap: the RBAC grants it in grace-system only, and
  # concurrent scenarios would overwrite one another's; 50 turns it on)
}

# OP_KUBECONFIG: what the operator runs with. On a real server the harness sets
# E2E_OPERATOR_KUBECONFIG: a token of deploy/kustomize's ServiceAccount, so the operator has
# exactly the RBAC users install (a missing verb is a 403 here); else the admin kubeconfig.
OP_KUBECONFIG=${E2E_OPERATOR_KUBECONFIG:-$KUBECONFIG}

# op_grant_leader_election NS: what a user installing the operator with its Lease in NS
# does: deploy/kustomize's leader-election Role and RoleBinding, moved into NS (the binding
# still names the ServiceAccount in grace-system). Nothing to do with the admin kubeconfig.
op_grant_leader_election() {
  [ -n "${E2E_OPERATOR_KUBECONFIG:-}" ] || return 0
  awk -v ns="$1" '
    /^---$/ { if (keep) printf "---\n%s", doc; doc = ""; keep = 0; meta = 0; next }
    /^kind: (Role|RoleBinding)$/ { keep = 1 }
    /^metadata:/ { meta = 1 }
    meta && /^  namespace: / { $0 = "  namespace: " ns; meta = 0 }
    /^[a-z]/ && !/^metadata:/ { meta = 0 }
    { doc = doc $0 "\n" }
    END { if (keep) printf "---\n%s", doc }' "$E2E_ROOT/deploy/kustomize/rbac.yaml" |
    kubectl apply -f - >/dev/null || fail "leader-election Role/RoleBinding in $1"
}

# op_start [NAME [extra flags...]]: start an operator; NAME defaults to "operator".
op_start() {
  local name=${1:-operator}; shift || true
  "$GRACE_BIN" --kubeconfig "$OP_KUBECONFIG" --config "$WORK/config.yaml" \
    --health-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --webhook-addr off \
    --log-format json --namespace "$NS" "$@" >"$WORK/$name.log" 2>&1 &
  OP_PIDS+=($!)
  eval "${name//-/_}_PID=$!"
  eventually 20 grep -q '"caches synced"' "$WORK/$name.log" || fail "$name did not sync its caches"
}

# op_port NAME health|metrics|webhook: the port a started operator listens
# on. Scenarios give the operator port 0 and read the bound port here: a port
# picked "free" beforehand by another process can be taken by the time the
# operator binds (once it was the operator's own metrics port).
op_port() {
  local key=healthPort
  case $2 in metrics) key=metricsPort ;; webhook) key=webhookPort ;; esac
  grep -o "\"$key\":\"[0-9]*\"" "$WORK/$1.log" | head -1 | grep -o '[0-9]*'
}

# unique_name NS NAME: grace.unique_name, the name of the service's children
# in shared namespaces (Schedule, KafkaUser): <ns>-<name> (for the plain
# names the scenarios use) cut to 46 characters, "-", 16 hex of SHA-256(ns/name).
unique_name() {
  printf '%s-%s' "$(printf '%s-%s' "$1" "$2" | cut -c1-46 | sed 's/-*$//')" \
    "$(printf '%s/%s' "$1" "$2" | sha256sum | cut -c1-16)"
}

# gs_apply NAME [YAML spec lines...]: apply a GraceService.
gs_apply() {
  local name=$1; shift
  { printf 'apiVersion: grace.dev/v1alpha1\nkind: GraceService\nmetadata: {name: %s, namespace: %s}\nspec:\n' "$name" "$NS"
    for l in "$@"; do printf '  %s\n' "$l"; done; } | kubectl apply -f - >/dev/null
}

wait_ready() {
  kubectl wait --for=condition=Ready "gs/$1" -n "$NS" --timeout="${2:-60}s" >/dev/null ||
    { kubectl get gs "$1" -n "$NS" -o yaml | sed -n '/^status:/,$p' >&2; fail "gs/$1 not Ready"; }
}

# psql_as USER PASSWORD DB SQL: run SQL as a given role (no admin env leak).
psql_as() {
  PGPASSWORD=$2 psql -X -q -t -A -h "$PGHOST" -p "$PGPORT" -U "$1" -d "$3" -v ON_ERROR_STOP=1 -c "$4"
}
admin_psql() {
  psql -X -q -t -A -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -c "$1"
}
secret_field() { jp "secret/$1" "{.data.$2}" | base64 -d; }
