#!/bin/bash
# /metrics after a GraceService became Ready:
#  - `promtool check metrics` reports no problem at all (exit 0, no output);
#  - the families controller dashboards expect are there, and
#    grace_service_ready / grace_service_condition show the service Ready;
#  - a real Prometheus (Debian's /usr/bin/prometheus) scrapes the operator
#    every second: up == 1 for the job and grace_service_ready == 1.
. "$(dirname "$0")/gslib.sh"

PROMETHEUS=${PROMETHEUS:-prometheus}
command -v promtool >/dev/null || skip "promtool not installed (hack/deps.sh installs prometheus)"
command -v "$PROMETHEUS" >/dev/null || skip "prometheus not installed (hack/deps.sh installs it)"

# The interpreter itself, resolved once: a version-manager shim (pyenv) may
# cost seconds per start.
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 not available"

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# has_sample REGEX: a sample line of the scrape matches REGEX (whole line).
has_sample() { grep -Eq "^$1\$" "$WORK/metrics.txt"; }

setup_env
op_start
gs_apply meter 'image: example/meter:1'
wait_ready meter 30
mport=$(op_port operator metrics)
[ -n "$mport" ] || fail "no metrics port in the log"

# The status write and the gauges update in the same reconcile; scrape until
# the gauges agree with the Ready condition (a scrape may race the reconcile).
scrape() {
  curl -fsS --max-time 5 -D "$WORK/metrics.hdr" -o "$WORK/metrics.txt" "http://127.0.0.1:$mport/metrics" &&
    has_sample "grace_service_ready\\{namespace=\"$NS\",name=\"meter\"\\} 1"
}
eventually 10 scrape || fail "grace_service_ready{namespace=\"$NS\",name=\"meter\"} 1 not in /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/metrics.hdr" ||
  fail "content type: $(grep -i '^content-type' "$WORK/metrics.hdr")"

if ! promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 || [ -s "$WORK/promtool.out" ]; then
  cat "$WORK/promtool.out" >&2
  fail "promtool check metrics found problems"
fi

q='"' # label values
for re in \
  "controller_runtime_reconcile_total\\{.*controller=${q}graceservice${q}.*result=${q}success${q}.*\\} [1-9][0-9]*" \
  "controller_runtime_reconcile_time_seconds_bucket\\{.*le=${q}\\+Inf${q}.*\\} [1-9][0-9]*" \
  "workqueue_depth\\{.*name=${q}graceservice${q}.*\\} [0-9]+" \
  "workqueue_adds_total\\{.*name=${q}graceservice${q}.*\\} [1-9][0-9]*" \
  "rest_client_requests_total\\{.*code=${q}200${q}.*\\} [1-9][0-9]*" \
  "leader_election_master_status\\{name=${q}[^${q}]+${q}\\} 1" \
  "grace_service_ready\\{namespace=${q}$NS${q},name=${q}meter${q}\\} 1" \
  "grace_service_condition\\{namespace=${q}$NS${q},name=${q}meter${q},type=${q}Ready${q},status=${q}True${q}\\} 1"; do
  has_sample "$re" || { grep -E "^${re%%\\\{*}" "$WORK/metrics.txt" | head -5 >&2; fail "no sample matching: $re"; }
done
# Only the current status of a condition is 1.
if has_sample "grace_service_condition\\{namespace=${q}$NS${q},name=${q}meter${q},type=${q}Ready${q},status=${q}(False|Unknown)${q}\\} 1"; then
  fail "Ready is both True and not True"
fi
for fam in controller_runtime_reconcile_total controller_runtime_reconcile_time_seconds workqueue_depth \
  workqueue_adds_total rest_client_requests_total leader_election_master_status grace_service_ready \
  grace_service_condition; do
  grep -q "^# TYPE $fam " "$WORK/metrics.txt" || fail "no # TYPE line for $fam"
done
note "promtool clean, $(grep -vc '^#' "$WORK/metrics.txt") samples"

# A real Prometheus scraping every second.
pport=$(free_port)
mkdir -p "$WORK/prom"
cat >"$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: grace-operator
    static_configs: [{targets: ['127.0.0.1:$mport']}]
YAML
# Prometheus cannot report a port it chose itself, so it gets a free one; the
# operator's ports are bound already (port 0, read from its log), so only an
# unrelated process can take it first: then Prometheus exits with "address
# already in use" and is started again on another port.
prom_start() {
  "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  OP_PIDS+=($PROM_PID) # gs_cleanup stops (SIGTERM) and reaps it before removing $WORK
}
prom_start
for _ in 1 2 3; do
  eventually 10 curl -fsS --max-time 1 "http://127.0.0.1:$pport/-/ready" && break
  kill -0 "$PROM_PID" 2>/dev/null && break # running but slow: the checks below wait
  grep -q 'address already in use' "$WORK/prometheus.log" || break
  pport=$(free_port)
  prom_start
done

# prom_value QUERY: the single value of an instant query (fails if not exactly one).
prom_value() {
  curl -fsS --max-time 2 -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c 'import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"] if d.get("status") == "success" else []
sys.exit(1) if len(r) != 1 else print(r[0]["value"][1])'
}
prom_is() { [ "$(prom_value "$1")" = "$2" ]; }

up='up{job="grace-operator"}'
if ! eventually 20 prom_is "$up" 1; then
  kill -0 "$PROM_PID" 2>/dev/null || { tail -20 "$WORK/prometheus.log" >&2; fail "prometheus exited"; }
  curl -sS --max-time 2 "http://127.0.0.1:$pport/api/v1/targets" >&2 || true
  fail "Prometheus does not see $up == 1"
fi
ready="grace_service_ready{job=\"grace-operator\",namespace=\"$NS\",name=\"meter\"}"
eventually 10 prom_is "$ready" 1 || fail "Prometheus has no $ready == 1 (got '$(prom_value "$ready" || true)')"
cnd="grace_service_condition{namespace=\"$NS\",name=\"meter\",type=\"Ready\",status=\"True\"}"
prom_is "$cnd" 1 || fail "Prometheus has no $cnd == 1"
rate='sum(controller_runtime_reconcile_total{job="grace-operator",result="success"}) > 0'
prom_value "$rate" >/dev/null || fail "Prometheus: no successful reconcile in controller_runtime_reconcile_total"
kill -TERM "$PROM_PID"
wait "$PROM_PID" 2>/dev/null || true
note "Prometheus scraped: up 1, grace_service_ready 1"
