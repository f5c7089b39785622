#!/bin/bash
# /healthz latency under webhook load (issue 15): starts bin/grace-operator
# with its webhook on loopback (no API server needed: the HTTP server is up
# while discovery retries), then reports /healthz p50/p99/max and failures
# (a) idle, (b) under slow clients trickling webhook bodies, (c) under 200
# concurrent clients posting large valid AdmissionReviews. Prints figures,
# never fails on speed. Knobs: SLOW_CONNS (100), FLOOD_CLIENTS (200),
# FLOOD_SIZE (800000 bytes), SECONDS_EACH (15).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GRACE_BIN:-$ROOT/bin/grace-operator}
LOAD="$ROOT/hack/webhook_load.py"
[ -x "$BIN" ] || { echo "build first: make" >&2; exit 2; }
WORK=$(mktemp -d /tmp/grace-healthz-bench.XXXX)
OP=
cleanup() { [ -n "$OP" ] && kill -TERM "$OP" 2>/dev/null && wait "$OP" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HP=$(free_port); WP=$(free_port)
printf 'clusters:\n- name: c\n  cluster: {server: "http://127.0.0.1:1"}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n' >"$WORK/kubeconfig"
"$BIN" --kubeconfig "$WORK/kubeconfig" --log-format json --leader-elect=false \
  --health-addr "127.0.0.1:$HP" --metrics-addr 127.0.0.1:0 \
  --webhook-addr "127.0.0.1:$WP" --webhook-cert-dir "$WORK/certs" >"$WORK/operator.log" 2>&1 &
OP=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

S=${SECONDS_EACH:-15}
report() {
  python3 -c '
import json, sys
d = json.loads(sys.argv[2]); h = d["healthz"] if "healthz" in d else d
extra = ""
if d.get("load") == "slow":
    extra = " trickling=%d closed=%d max_open=%ss" % (d["conns"], d["closed"], d["max_open_s"])
if d.get("load") == "flood":
    extra = " clients=%d review=%dB answers=%s in %ss" % (d["clients"], d["review_bytes"], d["answers"], d["seconds"])
print("%-6s /healthz p50=%.1fms p99=%.1fms max=%.1fms n=%d failures=%d%s" % (sys.argv[1], h["p50_ms"], h["p99_ms"], h["max_ms"], h["n"], h["failures"], extra))
' "$1" "$2"
}
report idle "$(python3 "$LOAD" poll --health-port "$HP" --seconds 3)"
report slow "$(python3 "$LOAD" slow --webhook-port "$WP" --health-port "$HP" --cafile "$WORK/certs/ca.crt" --conns "${SLOW_CONNS:-100}" --seconds "$S")"
report flood "$(python3 "$LOAD" flood --webhook-port "$WP" --health-port "$HP" --cafile "$WORK/certs/ca.crt" --clients "${FLOOD_CLIENTS:-200}" --size "${FLOOD_SIZE:-800000}" --seconds "$S")"
