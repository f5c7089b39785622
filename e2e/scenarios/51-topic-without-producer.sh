#!/bin/bash
# The Kafka map's warning: a service consuming a topic nobody produces
# becomes Ready anyway, with a TopicWithoutProducer line in its KafkaReady
# message and a Warning Event naming the topic; when a producer appears the
# line goes (the consumer is requeued); a topic in kafka.externalTopics
# never warns.
. "$(dirname "$0")/gslib.sh"

setup_env
sed -i "s|^kafka: {namespace: $KNS, cluster: kafka}|kafka: {namespace: $KNS, cluster: kafka, externalTopics: [$NS.outside]}|" "$WORK/config.yaml"
grep -q externalTopics "$WORK/config.yaml" || fail "config: $(cat "$WORK/config.yaml")"
op_start

gs_apply reader 'image: example/reader:1' "kafka: {consumes: [$NS.late, $NS.outside]}"
wait_ready reader 60
kmsg() { jp gs/reader '{.status.conditions[?(@.type=="KafkaReady")].message}'; }
[ "$(cond reader KafkaReady)" = True ] || fail "KafkaReady is not True"
kmsg | grep -qF "TopicWithoutProducer: no GraceService produces topic \"$NS.late\"" ||
  fail "KafkaReady message: $(kmsg)"
if kmsg | grep -qF "$NS.outside"; then fail "an external topic warns: $(kmsg)"; fi
events() { kubectl get events -n "$NS" --field-selector reason=TopicWithoutProducer -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}'; }
eventually 10 bash -c "kubectl get events -n '$NS' --field-selector reason=TopicWithoutProducer -o name | grep -q ." ||
  fail "no TopicWithoutProducer Event"
events | grep -qF "\"$NS.late\"" || fail "the Event does not name the topic: $(events)"
[ "$(kubectl get events -n "$NS" --field-selector reason=TopicWithoutProducer -o 'jsonpath={.items[0].type}')" = Warning ] ||
  fail "the Event is not a Warning"
note "consumer Ready with the warning line and a Warning Event naming $NS.late"

gs_apply writer 'image: example/writer:1' "kafka: {topics: [{name: $NS.late}], produces: [$NS.late]}"
wait_ready writer 60
cleared() { ! kmsg | grep -q TopicWithoutProducer; }
eventually 20 cleared || fail "the warning did not clear: $(kmsg)"
[ "$(cond reader KafkaReady)" = True ] || fail "KafkaReady is not True after the producer appeared"
note "the warning cleared when the producer appeared: $(kmsg)"
echo "PASS [$SCENARIO]"
