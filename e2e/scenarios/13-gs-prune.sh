#!/bin/bash
# Disabling Kafka prunes its objects; removing one topic prunes that topic.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply bus 'image: example/bus:1' 'kafka: {topics: [{name: bus.a}, {name: bus.b}], produces: [bus.a]}'
wait_ready bus
kubectl get kafkatopic bus.a bus.b -n "$KNS" >/dev/null || fail "topics missing"
gs_apply bus 'image: example/bus:1' 'kafka: {topics: [{name: bus.a}], produces: [bus.a]}'
eventually 30 bash -c "! kubectl get kafkatopic bus.b -n $KNS" || fail "removed topic was not pruned"
kubectl get kafkatopic bus.a -n "$KNS" >/dev/null || fail "kept topic was pruned"
gs_apply bus 'image: example/bus:1'
eventually 30 bash -c "[ -z \"\$(kubectl get kafkatopics,kafkausers -n $KNS -l grace.dev/service=bus -o name)\" ]" ||
  fail "Kafka objects were not pruned after disabling Kafka"
wait_ready bus
[ -z "$(cond bus KafkaReady)" ] || fail "KafkaReady still reported for a disabled concern"
note "pruned"
