#!/bin/bash
# The operator traces itself to an OTLP/HTTP receiver (hack/otlp_receiver.py):
# one trace per reconcile, whose root span "reconcile" carries the GraceService
# as attributes and whose children are the steps (render, postgres, migrations)
# and every API write ("kube APPLY", "kube PATCH", ...); the trace ID is logged
# beside reconcileID. A receiver that answers slowly loses spans, counted in
# grace_operator_trace_spans_dropped_total, and reconciles go on at full speed.
. "$(dirname "$0")/gslib.sh"
. "$(dirname "$0")/miglib.sh"
setup_env
python3 "$E2E_ROOT/hack/otlp_receiver.py" --port-file "$WORK/otlp.port" --out "$WORK/spans.jsonl" &
OP_PIDS+=($!)
eventually 10 test -s "$WORK/otlp.port" || fail "receiver did not start"
RPORT=$(cat "$WORK/otlp.port")
cat >>"$WORK/config.yaml" <<YAML
operatorTraces: {endpoint: "http://127.0.0.1:$RPORT"}
YAML
op_start
grep -q '"tracing the operator"' "$WORK/operator.log" || fail "tracing is not on"
gs_apply web 'image: example/web:1' 'postgres: {}' 'migrations: {command: [migrate]}'
wait_ready web
sleep 2 # one flush interval (1 s) and then some
python3 - "$WORK/spans.jsonl" "$WORK/operator.log" "$NS" <<'PY' || fail "span structure (above)"
import collections, json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
logs = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
ns = sys.argv[3]
def bad(msg):
    print("bad traces: " + msg, file=sys.stderr); sys.exit(1)
if not spans:
    bad("no spans reached the receiver")
traces = collections.defaultdict(list)
for s in spans:
    traces[s["traceId"]].append(s)
mine = []
for tid, ss in traces.items():
    roots = [s for s in ss if not s.get("parentSpanId")]
    if len(roots) != 1 or roots[0]["name"] != "reconcile":
        bad("trace %s has roots %s" % (tid, [r["name"] for r in roots]))
    root = roots[0]
    ids = {s["spanId"] for s in ss}
    for s in ss:
        if s is not root and s.get("parentSpanId") != root["spanId"]:
            bad("span %s (%s) is not a child of its reconcile" % (s["name"], s.get("parentSpanId")))
        if int(s["startTimeUnixNano"]) > int(s["endTimeUnixNano"]):
            bad("span %s ends before it starts" % s["name"])
        if s is not root and not (int(root["startTimeUnixNano"]) <= int(s["startTimeUnixNano"]) and
                                  int(s["endTimeUnixNano"]) <= int(root["endTimeUnixNano"])):
            bad("span %s outside its reconcile" % s["name"])
    if len(ids) != len(ss):
        bad("duplicate span IDs in trace %s" % tid)
    if root["resource"].get("service.name") != "grace-operator":
        bad("resource service.name %r" % root["resource"])
    if root["attrs"].get("k8s.namespace.name") == ns and root["attrs"].get("grace.service") == "web":
        mine.append((root, ss))
if not mine:
    bad("no reconcile of %s/web" % ns)
names = collections.Counter(s["name"] for _, ss in mine for s in ss)
for want in ("render", "postgres", "migrations", "kube APPLY", "kube PATCH"):
    if not names[want]:
        bad("no %r span under a reconcile of web (have %s)" % (want, dict(names)))
full = [r for r, ss in mine if r["attrs"].get("grace.outcome") != "unchanged"]
if not all(r["attrs"].get("grace.image") == "example/web:1" and "grace.generation" in r["attrs"] for r in full):
    bad("reconcile spans lack grace.image / grace.generation")
writes = [s for _, ss in mine for s in ss if s["name"].startswith("kube ")]
if not all("url.path" in s["attrs"] and "http.response.status_code" in s["attrs"] for s in writes):
    bad("API write spans lack url.path / http.response.status_code")
# one trace per reconcile: each reconcileID has one trace, logged beside it
by_rid = collections.defaultdict(set)
for l in logs:
    if l.get("reconcileID") and l.get("traceID"):
        by_rid[l["reconcileID"]].add(l["traceID"])
rid_of = {r["traceId"]: r["attrs"].get("grace.reconcile_id") for r, _ in mine}
if any(len(v) != 1 for v in by_rid.values()):
    bad("a reconcileID logged with several traceIDs")
logged = {next(iter(v)) for v in by_rid.values()}
if not logged & set(rid_of):
    bad("no traceID of a reconcile of web in the log")
for tid, rid in rid_of.items():
    if tid in logged and by_rid.get(rid) != {tid}:
        bad("trace %s logged under another reconcileID" % tid)
if len(set(rid_of.values())) != len(rid_of):
    bad("two traces for one reconcile")
print("traces: %d of web (%d spans: %s)" % (len(mine), sum(len(ss) for _, ss in mine),
      ", ".join("%s=%d" % kv for kv in sorted(names.items()))))
PY
note "$(python3 -c "import sys; print(sum(1 for _ in open(sys.argv[1])))" "$WORK/spans.jsonl") spans received; structure ok"
# A slow collector: exports time out (2 s), spans are dropped and counted; reconciles
# are not slowed down.
curl -fsS -X POST "http://127.0.0.1:$RPORT/control?delay=5" >/dev/null || fail "receiver control"
MPORT=$(op_port operator metrics)
dropped() {
  curl -fsS "http://127.0.0.1:$MPORT/metrics" |
    awk '/^grace_operator_trace_spans_dropped_total\{reason="export_failed"\}/ {print $2}'
}
d0=$(dropped); d0=${d0:-0}
t0=$(date +%s.%N)
for i in 1 2 3 4 5; do
  kubectl annotate gs web -n "$NS" --overwrite "grace.dev/reconcile-requested-at=$i-$RANDOM" >/dev/null
  sleep 0.3
done
gs_apply web 'image: example/web:1' 'replicas: 2' 'postgres: {}' 'migrations: {command: [migrate]}'
eventually_eq 15 2 jp deployment/web '{.spec.replicas}' || fail "reconciles stalled behind a slow collector"
t1=$(date +%s.%N)
wait_ready web
end=$((SECONDS + 20))
until d1=$(dropped) && awk -v a="${d1:-0}" -v b="$d0" 'BEGIN { exit !(a > b) }'; do
  [ $SECONDS -lt $end ] || fail "no spans counted as dropped (export_failed: $d0 -> ${d1:-})"
  sleep 0.5
done
note "slow collector: dropped export_failed $d0 -> $d1; edits applied in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
