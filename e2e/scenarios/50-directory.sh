#!/bin/bash
# The service directory (docs/agents.md):
#  - the ConfigMap lists every service with the right URLs, topics,
#    database flag and readiness, and the Kafka map (producer = owner,
#    consumers, external topics);
#  - it carries no secret (not the database password, no Secret name);
#  - GET /directory (also ?namespace=) and `grace-operator directory -o json`
#    give the ConfigMap's very bytes; the table lists the services;
#  - a change of a GraceService reaches it within seconds;
#  - a restart with nothing changed writes nothing (same resourceVersion,
#    grace_directory_configmap_writes_total 0 on the new process).
. "$(dirname "$0")/gslib.sh"

CM_NS=grace-system
CM=grace-directory
setup_env
sed -i "s|^directory: .*|directory: {configMap: {namespace: $CM_NS, name: $CM}}|" "$WORK/config.yaml"
grep -q "name: $CM}" "$WORK/config.yaml" || fail "directory configuration not set"
sed -i "s|^kafka: {namespace: $KNS, cluster: kafka}|kafka: {namespace: $KNS, cluster: kafka, externalTopics: [$NS.feed]}|" "$WORK/config.yaml"
kubectl get namespace "$CM_NS" >/dev/null 2>&1 || kubectl create namespace "$CM_NS" >/dev/null
kubectl -n "$CM_NS" delete configmap "$CM" --ignore-not-found >/dev/null

op_start
gs_apply prod 'image: example/prod:1' 'description: Takes orders and emits one event per order.' \
  'postgres: {}' "kafka: {topics: [{name: $NS.orders}], produces: [$NS.orders]}"
gs_apply cons 'image: example/cons:1' 'description: Ships what was ordered.' \
  'openapiPath: /api/openapi.json' "kafka: {consumes: [$NS.orders, $NS.feed]}"
wait_ready prod 60
wait_ready cons 60

cm_json() { kubectl -n "$CM_NS" get configmap "$CM" -o 'jsonpath={.data.directory\.json}'; }
# same_as_cm FILE: FILE holds the ConfigMap's bytes (kubectl's jsonpath may
# or may not print the final newline the directory ends with).
same_as_cm() { cm_json >"$WORK/cm-now.json"; cmp -s "$WORK/cm-now.json" "$1" || cmp -s "$WORK/cm-now.json" <(head -c -1 "$1"); }
# q JQ: evaluate JQ on the ConfigMap's directory.
q() { cm_json | python3 -c "import json,sys; d=json.load(sys.stdin); s={x['name']:x for x in d['services']}; t={x['name']:x for x in d['topics']}; print($1)"; }

eventually_eq 10 "True True" q "s['prod']['ready'], s['cons']['ready']" || fail "directory: $(cm_json)"
[ "$(q "s['prod']['url']")" = "https://prod.e2e.example.com" ] || fail "prod url: $(q "s['prod']")"
[ "$(q "s['prod']['tailnetUrl']")" = "https://prod.e2e.example.com" ] || fail "prod tailnetUrl"
[ "$(q "s['cons']['openapiUrl']")" = "https://cons.e2e.example.com/api/openapi.json" ] || fail "cons openapiUrl: $(q "s['cons']")"
[ "$(q "s['prod']['description']")" = "Takes orders and emits one event per order." ] || fail "description"
[ "$(q "s['prod']['produces'], s['prod']['hasDatabase'], s['cons']['hasDatabase']")" = "['$NS.orders'] True False" ] || fail "prod: $(q "s['prod']")"
[ "$(q "s['cons']['consumes']")" = "['$NS.feed', '$NS.orders']" ] || fail "cons consumes: $(q "s['cons']")"
[ "$(q "t['$NS.orders']['producer'], t['$NS.orders']['consumers']")" = "$NS/prod ['$NS/cons']" ] || fail "orders: $(q "t['$NS.orders']")"
[ "$(q "t['$NS.feed'].get('producer'), t['$NS.feed']['external']")" = "None True" ] || fail "feed: $(q "t['$NS.feed']")"
[ -n "$(q "s['prod']['lastTransitionTime']")" ] || fail "no lastTransitionTime"
note "ConfigMap lists both services with URLs, topics and the Kafka map"

pw=$(secret_field prod-postgres password)
[ -n "$pw" ] || fail "no database password to look for"
if cm_json | grep -qF -- "$pw"; then fail "the directory carries the database password"; fi
if cm_json | grep -qi 'secret\|password'; then fail "the directory names a secret: $(cm_json)"; fi
note "no secret in the directory"

mport=$(op_port operator metrics)
curl -fsS "http://127.0.0.1:$mport/directory" >"$WORK/http.json" || fail "GET /directory"
same_as_cm "$WORK/http.json" ||
  fail "GET /directory differs from the ConfigMap: $(diff <(cm_json; echo) "$WORK/http.json" | head -5)"
curl -fsS "http://127.0.0.1:$mport/directory?namespace=$NS" >"$WORK/http-ns.json" || fail "GET /directory?namespace="
cmp -s "$WORK/http.json" "$WORK/http-ns.json" || fail "?namespace=$NS differs (all services are in it)"
[ "$(curl -fsS "http://127.0.0.1:$mport/directory?namespace=nope-$SUFFIX" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["services"]))')" = 0 ] ||
  fail "?namespace=nope lists services"
"$GRACE_BIN" directory --kubeconfig "$KUBECONFIG" --config "$WORK/config.yaml" -o json -n "$NS" >"$WORK/cli.json" ||
  fail "grace-operator directory -o json"
cmp -s "$WORK/http.json" "$WORK/cli.json" || fail "grace-operator directory differs from GET /directory: $(diff "$WORK/http.json" "$WORK/cli.json" | head -5)"
"$GRACE_BIN" directory --kubeconfig "$KUBECONFIG" --config "$WORK/config.yaml" -n "$NS" >"$WORK/table.txt" ||
  fail "grace-operator directory (table)"
grep -q "^$NS *prod *True *yes *https://prod.e2e.example.com" "$WORK/table.txt" || fail "table: $(cat "$WORK/table.txt")"
note "GET /directory, ?namespace= and grace-operator directory agree with the ConfigMap"

t0=$(date +%s%N)
kubectl -n "$NS" patch gs cons --type=merge -p '{"spec":{"description":"Ships orders, now by drone."}}' >/dev/null
eventually_eq 10 "Ships orders, now by drone." q "s['cons']['description']" || fail "the change did not reach the directory"
note "a description change reached the ConfigMap in $((($(date +%s%N) - t0) / 1000000)) ms"

sleep 3 # let the last change settle (one write per 2 s at most)
rv=$(kubectl -n "$CM_NS" get configmap "$CM" -o 'jsonpath={.metadata.resourceVersion}')
cm_json >"$WORK/before.json"
kill -TERM "$operator_PID"
wait "$operator_PID" 2>/dev/null || true
op_start operator2
mport=$(op_port operator2 metrics)
sleep 6 # three publishing intervals after the caches synced
[ "$(kubectl -n "$CM_NS" get configmap "$CM" -o 'jsonpath={.metadata.resourceVersion}')" = "$rv" ] ||
  fail "the restart wrote the ConfigMap (resourceVersion $rv changed)"
cmp -s "$WORK/before.json" <(cm_json) || fail "the directory changed across the restart"
curl -fsS "http://127.0.0.1:$mport/metrics" | grep -q '^grace_directory_configmap_writes_total 0$' ||
  fail "writes after the restart: $(curl -fsS "http://127.0.0.1:$mport/metrics" | grep grace_directory_configmap)"
curl -fsS "http://127.0.0.1:$mport/directory" >"$WORK/http2.json" || fail "GET /directory after the restart"
same_as_cm "$WORK/http2.json" ||
  fail "after the restart GET /directory differs: $(diff <(cm_json; echo) "$WORK/http2.json" | head -5)"
note "restart: identical directory, zero writes"
echo "PASS [$SCENARIO]"
