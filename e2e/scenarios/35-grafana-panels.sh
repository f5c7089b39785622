#!/bin/bash
# The Grafana dashboard and the alert rules, judged by the real Prometheus
# (Debian's /usr/bin/prometheus, scraping the operator every second) with
# services in every state at once:
#   ok, host-a  Ready;
#   db          DatabaseReady=False ConnectionFailed (the admin Secret points
#               at a closed port; the suite's PostgreSQL is not touched);
#   host-b      RouteReady=False HostnameConflict (host-a holds the name);
#   tmpl        Stalled=True TemplateError (--templates: egress.lua broken);
#   gone        being deleted, held by the operator's finalizer (its database
#               cleanup cannot reach PostgreSQL);
# and a standby operator (a Lease held elsewhere: leader_election_master_status 0).
# Then:
#   - the dashboard JSON passes hack/dashboard.py check;
#   - every template variable and every panel target of
#     charts/grafana-dashboard.json (whatever panels it holds), expanded as
#     Grafana does ($namespace = this namespace, $controller = graceservice,
#     $__rate_interval etc. for a 1 s scrape interval), returns series through
#     /api/v1/query(_range), with the labels its legend or table columns use;
#   - the per-service panels show each state: "Failing conditions" lists
#     exactly the failing services with the failing condition, "Services by
#     readiness" each service's 0/1, "Being deleted" gone, the counts add up;
#   - promtool: the rules file is valid and its unit tests pass;
#   - every alert's expr (for: aside) fires on the live scrape for its state:
#     GraceServiceNotReady for exactly db, host-b, tmpl, gone;
#     GraceServiceStuckDeleting for exactly gone;
#     GraceOperatorReconcileErrors (db and gone retry with errors);
#     GraceOperatorNoLeader once the leading operator stops (only the standby,
#     at 0, is left).
. "$(dirname "$0")/gslib.sh"

PROMETHEUS=${PROMETHEUS:-prometheus}
command -v promtool >/dev/null || skip "promtool not installed (hack/deps.sh installs prometheus)"
command -v "$PROMETHEUS" >/dev/null || skip "prometheus not installed (hack/deps.sh installs it)"
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 not available"
DASH=$E2E_ROOT/charts/grafana-dashboard.json
RULES=$E2E_ROOT/charts/grace-operator/files/prometheus-rules.yaml
RULE_TESTS=$E2E_ROOT/charts/grace-operator/tests/prometheus-rules.test.yaml
TOOL=$E2E_ROOT/hack/dashboard.py

# Static checks first: they need no cluster.
"$PY" "$TOOL" check "$DASH" || fail "the dashboard JSON is not valid for Grafana"
promtool check rules "$RULES" >"$WORK/promtool-rules.out" 2>&1 || { cat "$WORK/promtool-rules.out" >&2; fail "promtool check rules"; }
promtool test rules "$RULE_TESTS" >"$WORK/promtool-test.out" 2>&1 || { cat "$WORK/promtool-test.out" >&2; fail "promtool test rules"; }
# Every alert of the rules file has a unit test.
for a in $(sed -n 's/^ *- alert: *//p' "$RULES"); do
  grep -q "alertname: $a\$" "$RULE_TESTS" || fail "alert $a has no promtool unit test"
done
note "dashboard check, promtool check/test rules: ok"

setup_env
# The database is down for this operator: its admin Secret points at a port
# where nothing listens (port 1), so the shared PostgreSQL keeps running.
kubectl -n "$NS" create secret generic pg-admin --from-literal=host=127.0.0.1 \
  --from-literal=port=1 --from-literal=user=postgres --from-literal=password=x \
  --from-literal=sslmode=disable --dry-run=client -o yaml | kubectl replace -f - >/dev/null || fail "admin secret"
# Templates with one broken concern: egress.lua fails for services that
# restrict egress, the others render as usual.
cp -r "$E2E_ROOT/templates" "$WORK/templates"
sed -i 's/^return function(gs, config)$/&\n  if gs.spec.egress and gs.spec.egress.restricted then error("broken on purpose by e2e") end/' \
  "$WORK/templates/egress.lua"
grep -q 'broken on purpose' "$WORK/templates/egress.lua" || fail "could not break egress.lua"

op_start operator --templates "$WORK/templates"
# ok produces a topic host-a consumes (the directory's Kafka map panels have a row) and
# runs its migrations first (the stand-ins complete the Job: "Migrations by state")
gs_apply ok 'image: example/ok:1' "kafka: {topics: [{name: $NS.events}], produces: [$NS.events]}" \
  'migrations: {command: [alembic, upgrade, head]}'

gs_apply host-a 'image: example/a:1' 'hostname: shared' "kafka: {consumes: [$NS.events]}"
gs_apply db 'image: example/db:1' 'postgres: {}'
gs_apply tmpl 'image: example/t:1' 'egress: {restricted: true}'
gs_apply gone 'image: example/g:1' 'postgres: {deletionPolicy: Delete}'
wait_ready ok 30
wait_ready host-a 30
sleep 1.1 # creationTimestamp has second precision: host-a is older
gs_apply host-b 'image: example/b:1' 'hostname: shared'
eventually_eq 30 HostnameConflict cond_reason host-b RouteReady || fail "no HostnameConflict on host-b"
eventually_eq 30 ConnectionFailed cond_reason db DatabaseReady || fail "db: DatabaseReady reason $(cond_reason db DatabaseReady)"
eventually_eq 30 TemplateError cond_reason tmpl Stalled || fail "tmpl: Stalled reason $(cond_reason tmpl Stalled)"
eventually_eq 30 False cond gone DatabaseReady || fail "gone: DatabaseReady is not False"
eventually_eq 30 grace.dev/cleanup jp gs/gone '{.metadata.finalizers[0]}' || fail "gone has no finalizer: $(jp gs/gone '{.metadata.finalizers}')"
kubectl delete gs gone -n "$NS" --wait=false >/dev/null || fail "delete gone"
sleep 2
[ -n "$(jp gs/gone '{.metadata.deletionTimestamp}')" ] || fail "gone is not being deleted"
note "states: ok/host-a Ready, db ConnectionFailed, host-b HostnameConflict, tmpl TemplateError, gone deleting"

# A standby replica: leader election on a Lease held by another holder for an
# hour, so it reports leader_election_master_status 0.
op_grant_leader_election "$NS"
kubectl apply -f - >/dev/null <<YAML || fail "lease"
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: grace-operator-leader, namespace: $NS}
spec: {holderIdentity: elsewhere, leaseDurationSeconds: 3600, renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)", acquireTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"}
YAML
op_start standby --templates "$WORK/templates" --leader-elect --leader-election-namespace "$NS" --identity standby
mport=$(op_port operator metrics)
sport=$(op_port standby metrics)
[ -n "$mport" ] && [ -n "$sport" ] || fail "no metrics ports in the logs"
eventually 10 bash -c "curl -fsS http://127.0.0.1:$sport/metrics | grep -q '^leader_election_master_status{name=\"grace-operator-leader\"} 0'" ||
  fail "the standby does not report leader_election_master_status 0"

# A real Prometheus scraping both every second.
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pport=$(free_port)
mkdir -p "$WORK/prom"
cat >"$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: ['$RULES']
scrape_configs:
  - job_name: grace-operator
    static_configs: [{targets: ['127.0.0.1:$mport', '127.0.0.1:$sport']}]
YAML
prom_start() {
  "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  OP_PIDS+=("$PROM_PID")
}
PROM_T0=$(date +%s)
prom_start
for _ in 1 2 3; do # Prometheus cannot bind port 0 and report it: retry on a taken port
  eventually 10 curl -fsS --max-time 1 "http://127.0.0.1:$pport/-/ready" && break
  kill -0 "$PROM_PID" 2>/dev/null && break
  grep -q 'address already in use' "$WORK/prometheus.log" || break
  pport=$(free_port)
  prom_start
done
PROM=http://127.0.0.1:$pport

# prom_count QUERY: the number of series an instant query returns.
prom_count() {
  curl -fsS --max-time 2 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(len(d["data"]["result"]))'
}
eventually_eq 20 2 prom_count 'up{job="grace-operator"} == 1' || {
  tail -20 "$WORK/prometheus.log" >&2; fail "Prometheus does not scrape both operators"; }
# rate() needs two samples in its window, and the 4 s $__rate_interval
# window must have filled.
sleep 6
eventually_eq 10 6 prom_count "grace_service_ready{namespace=\"$NS\"}" || fail "Prometheus does not have the 6 services"

# Every panel target, as Grafana would query it for the last minutes.
T1=$(date +%s)
if ! "$PY" "$TOOL" eval --prom "$PROM" --from "$PROM_T0" --to "$T1" --scrape-interval 1s \
  --var namespace="$NS" --var controller=graceservice --json "$WORK/panels.json" "$DASH" >"$WORK/panels.out" 2>&1; then
  cat "$WORK/panels.out" >&2
  fail "a dashboard panel returns nothing or lacks the labels it shows"
fi
sed 's/^/    /' "$WORK/panels.out"

# The per-service panels show each state.
kubectl get gs -n "$NS" -o json >"$WORK/gs.json" || fail "kubectl get gs"
"$PY" - "$WORK/panels.json" "$NS" "$WORK/gs.json" <<'PY' || fail "the per-service panels do not show the states right"
import json, sys
rep, ns = json.load(open(sys.argv[1])), sys.argv[2]
bad = []
# What the API server says is failing: a concern or Ready False, or Stalled True.
truth = set()
for gs in json.load(open(sys.argv[3]))["items"]:
    for c in gs.get("status", {}).get("conditions", []):
        if (c["type"] == "Stalled" and c["status"] == "True") or \
           (c["type"] not in ("Reconciling", "Stalled") and c["status"] == "False"):
            truth.add((gs["metadata"]["name"], c["type"], c["status"]))
def panel(title):
    hits = [p for p in rep["panels"] if p["panel"] == title]
    if not hits:
        bad.append("no panel %r" % title)
    return hits
def last(s):
    return float(s["values"][-1][1])
for p in panel("Failing conditions"):
    got = sorted((s["labels"]["name"], s["labels"]["type"], s["labels"]["status"])
                 for s in p["series"] if s["labels"].get("namespace") == ns and last(s) == 1)
    names = {g[0] for g in got}
    for name, typ, st in [("db", "DatabaseReady", "False"), ("host-b", "RouteReady", "False"),
                          ("tmpl", "Stalled", "True"), ("gone", "DatabaseReady", "False")]:
        if (name, typ, st) not in got:
            bad.append("Failing conditions: no %s %s=%s in %s" % (name, typ, st, got))
    for name in ("ok", "host-a"):
        if name in names:
            bad.append("Failing conditions lists the Ready service %s: %s" % (name, got))
    if set(got) != truth:
        bad.append("Failing conditions: %s, but the API server says %s" % (got, sorted(truth)))
for p in panel("Services by readiness"):
    ready = {s["labels"]["name"]: last(s) for s in p["series"]}
    want = {"ok": 1, "host-a": 1, "db": 0, "host-b": 0, "tmpl": 0, "gone": 0}
    if ready != want:
        bad.append("Services by readiness: %s, want %s" % (ready, want))
for title, want in (("Services", 6), ("Ready", 2), ("Not ready", 4)):
    for p in panel(title):
        v = [last(s) for s in p["series"]]
        if v != [want]:
            bad.append("%s: %s, want %s" % (title, v, want))
for p in panel("Failures per condition"):
    v = {s["labels"]["type"]: last(s) for s in p["series"]}
    # Stalled: tmpl (TemplateError) and host-b (a HostnameConflict is terminal).
    for typ, n in (("DatabaseReady", 2), ("RouteReady", 1), ("Stalled", 2), ("Ready", 4)):
        if v.get(typ) != n:
            bad.append("Failures per condition: %s=%s, want %s (%s)" % (typ, v.get(typ), n, v))
    for typ in {t for _, t, _ in truth} | set(v):
        n = sum(1 for _, t, _ in truth if t == typ)
        if v.get(typ, 0) != n:
            bad.append("Failures per condition: %s=%s, the API server says %d" % (typ, v.get(typ), n))
for p in panel("Being deleted"):
    v = {s["labels"]["name"]: last(s) for s in p["series"]}
    if set(v) != {"gone"} or not 0 <= v["gone"] < 300:
        bad.append("Being deleted: %s, want gone (seconds since its deletion)" % v)
for p in panel("Leaders now"):
    v = [last(s) for s in p["series"]]
    if v != [1]:
        bad.append("Leaders now: %s, want [1]" % v)
for p in panel("Leader"):
    if len(p["series"]) != 2:
        bad.append("Leader: %d instances, want 2 (the leader and the standby)" % len(p["series"]))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
note "every panel returns series with its labels; the per-service panels show each state"

# Alerts on the live scrape (for: aside).
alerts() { "$PY" "$TOOL" alerts --prom "$PROM" --json "$WORK/alerts.json" "$RULES" >"$WORK/alerts.out" 2>&1; }
# fired ALERT [NAMES]: the alert's expr returns series; with NAMES (sorted,
# comma-separated), exactly the services of this namespace named.
fired() {
  alerts || return 1
  "$PY" - "$WORK/alerts.json" "$NS" "$@" <<'PY'
import json, sys
rules, ns, alert = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
want = sys.argv[4] if len(sys.argv) > 4 else None
r = [x for x in rules if x["alert"] == alert]
if not r or not r[0]["series"]:
    sys.exit(1)
if want is not None:
    got = ",".join(sorted(s["labels"]["name"] for s in r[0]["series"] if s["labels"].get("namespace") == ns))
    sys.exit(0 if got == want else 1)
PY
}
# Every alert in the rules file must be covered by a state below.
covered="GraceServiceNotReady GraceServiceStuckDeleting GraceOperatorReconcileErrors GraceOperatorNoLeader"
for a in $(sed -n 's/^ *- alert: *//p' "$RULES"); do
  case " $covered " in *" $a "*) ;; *) fail "alert $a has no live state in this scenario" ;; esac
done
eventually 10 fired GraceServiceNotReady db,gone,host-b,tmpl || { cat "$WORK/alerts.out" >&2; fail "GraceServiceNotReady does not fire for exactly db, gone, host-b, tmpl"; }
eventually 10 fired GraceServiceStuckDeleting gone || { cat "$WORK/alerts.out" >&2; fail "GraceServiceStuckDeleting does not fire for exactly gone"; }
eventually 15 fired GraceOperatorReconcileErrors || { cat "$WORK/alerts.out" >&2; fail "GraceOperatorReconcileErrors does not fire while db and gone fail"; }
fired GraceOperatorNoLeader && { cat "$WORK/alerts.out" >&2; fail "GraceOperatorNoLeader fires while the operator leads"; }
sed 's/^/    /' "$WORK/alerts.out"
# The leader stops: only the standby (0) is scraped.
kill -TERM "$operator_PID"
wait "$operator_PID" 2>/dev/null || true
eventually 15 fired GraceOperatorNoLeader || { cat "$WORK/alerts.out" >&2; fail "GraceOperatorNoLeader does not fire with only a standby"; }
sed 's/^/    /' "$WORK/alerts.out" | grep NoLeader
note "alerts fire for their states: NotReady (db, gone, host-b, tmpl), StuckDeleting (gone), ReconcileErrors, NoLeader"
