#!/bin/bash
# Apply a full GraceService: it becomes Ready (kubectl wait) and every child
# exists with the right owner reference and labels.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply peeps 'image: ghcr.io/example/peeps:1.4.2' 'port: 8000' 'postgres: {}' \
  'kafka: {topics: [{name: peeps.updated}], consumes: [imessage.received], produces: [peeps.updated]}' \
  'backup: {schedule: "0 * * * *"}' 'egress: {restricted: true}'
wait_ready peeps 60
uid=$(jp gs/peeps '{.metadata.uid}')
for obj in deployment/peeps service/peeps secret/peeps-postgres certificate/peeps ingressroute/peeps networkpolicy/peeps-egress; do
  kubectl get "$obj" -n "$NS" >/dev/null 2>&1 || fail "$obj missing"
  [ "$(jp "$obj" '{.metadata.ownerReferences[0].uid}')" = "$uid" ] || fail "$obj: wrong owner"
  [ "$(jp "$obj" '{.metadata.ownerReferences[0].controller}')" = "true" ] || fail "$obj: not controller"
  [ "$(jp "$obj" '{.metadata.labels.app\.kubernetes\.io/managed-by}')" = grace-operator ] || fail "$obj: managed-by label"
  [ "$(jp "$obj" '{.metadata.labels.grace\.dev/service}')" = peeps ] || fail "$obj: service label"
done
for obj in kafkatopic/peeps.updated "kafkauser/$(unique_name "$NS" peeps)"; do
  kubectl get "$obj" -n "$KNS" >/dev/null 2>&1 || { kubectl get kafkatopics,kafkausers -n "$KNS" >&2; fail "$obj missing in $KNS"; }
  [ "$(jp "$obj" '{.metadata.labels.grace\.dev/service}' "$KNS")" = peeps ] || fail "$obj: service label"
  [ -z "$(jp "$obj" '{.metadata.ownerReferences}' "$KNS")" ] || fail "$obj: cross-namespace ownerReference"
done
[ "$(kubectl get schedules -n "$BNS" -l grace.dev/service=peeps -o name | wc -l)" = 1 ] || fail "no Schedule in $BNS"
[ "$(jp gs/peeps '{.status.hostname}')" = peeps.e2e.example.com ] || fail "status.hostname"
[ "$(jp gs/peeps '{.status.url}')" = https://peeps.e2e.example.com ] || fail "status.url"
[ "$(jp gs/peeps '{.status.observedGeneration}')" = "$(jp gs/peeps '{.metadata.generation}')" ] || fail "observedGeneration"
for t in WorkloadReady RouteReady CertificateReady TailscaleReady DatabaseReady KafkaReady BackupReady EgressReady; do
  [ "$(cond peeps $t)" = True ] || fail "$t is not True"
done
[ "$(cond peeps Reconciling)" = False ] && [ "$(cond peeps Stalled)" = False ] || fail "Reconciling/Stalled"
# No secret value in status or Events.
pw=$(secret_field peeps-postgres password)
[ -n "$pw" ] || fail "no password in the Secret"
if kubectl get gs peeps -n "$NS" -o json | grep -qF "$pw"; then fail "password in the GraceService"; fi
if kubectl get events -n "$NS" -o json | grep -qF "$pw"; then fail "password in an Event"; fi
if grep -qF "$pw" "$WORK"/operator.log; then fail "password in the operator log"; fi
note "Ready with all children"
