#!/bin/bash
# With otlpEndpoint set, a restricted service's egress policy admits the collector
# (its namespace, on its port), the policy selects the migration pods too, and the
# migration Job carries the same OTEL_* variables as the workload.
. "$(dirname "$0")/gslib.sh"
. "$(dirname "$0")/miglib.sh"
setup_env
echo "otlpEndpoint: http://otel-collector.observability.svc:4318" >>"$WORK/config.yaml"
op_start
gs_apply web 'image: example/web:1' 'egress: {restricted: true}' 'migrations: {command: [migrate, STANDIN_SLEEP=2]}'
j=$(wait_mig_job web)
env_of() { jp "$1" "{.spec.template.spec.containers[0].env[?(@.name==\"$2\")].value}"; }
[ "$(env_of "job/$j" OTEL_EXPORTER_OTLP_ENDPOINT)" = http://otel-collector.observability.svc:4318 ] ||
  fail "Job lacks OTEL_EXPORTER_OTLP_ENDPOINT"
[ "$(env_of "job/$j" OTEL_SERVICE_NAME)" = web ] || fail "Job lacks OTEL_SERVICE_NAME"
[ "$(env_of "job/$j" OTEL_RESOURCE_ATTRIBUTES)" = "service.namespace=$NS" ] || fail "Job lacks OTEL_RESOURCE_ATTRIBUTES"
wait_ready web
[ "$(env_of deployment/web OTEL_EXPORTER_OTLP_ENDPOINT)" = http://otel-collector.observability.svc:4318 ] ||
  fail "Deployment lacks OTEL_EXPORTER_OTLP_ENDPOINT"
np=networkpolicy/web-egress
rule=$(kubectl get "$np" -n "$NS" -o json | python3 -c '
import json, sys
np = json.load(sys.stdin)
for r in np["spec"]["egress"]:
    for peer in r.get("to", []):
        ns = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name")
        if ns == "observability":
            print(",".join("%s/%s" % (p.get("protocol"), p.get("port")) for p in r.get("ports", [])))
')
[ "$rule" = TCP/4318 ] || fail "egress does not admit the collector (rule: '$rule')"
# The policy's selector matches the migration pods' labels.
sel=$(jp "$np" '{.spec.podSelector.matchLabels}')
[ "$sel" = '{"grace.dev/service":"web"}' ] || fail "podSelector $sel"
[ "$(jp "job/$j" '{.spec.template.metadata.labels.grace\.dev/service}')" = web ] || fail "migration pods unlabelled"
note "egress admits the collector; $j carries the OTEL variables"
