#!/usr/bin/env bash
# 410 after compaction (kubesim fault): a watch from an old resourceVersion
# gets HTTP 200 with one ERROR event (code 410, "too old resource version");
# an Exact list and an old continue token get HTTP 410 Expired.
. "$(dirname "$0")/lib.sh"
need_kubesim
make_ns

for i in 0 1 2; do kubectl create configmap "c$i" -n "$NS" >/dev/null; done
list=$(kubectl get --raw "/api/v1/namespaces/$NS/configmaps?limit=1")
old=$(printf '%s' "$list" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
cont=$(printf '%s' "$list" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["continue"])')
kubectl patch configmap c0 -n "$NS" --type=merge -p '{"data":{"x":"1"}}' >/dev/null

# before compaction the old RV still replays
out=$(kubectl get --raw "/api/v1/namespaces/$NS/configmaps?watch=1&resourceVersion=$old&timeoutSeconds=1")
[[ $out == *'"type":"MODIFIED"'* ]] || fail "replay from the old RV: $out"

raw_post /_sim/faults '{"compact": true}' >/dev/null || fail "compact fault"

out=$(kubectl get --raw "/api/v1/namespaces/$NS/configmaps?watch=1&resourceVersion=$old&timeoutSeconds=2") \
  || fail "watch should answer HTTP 200"
[[ $out == *'"type":"ERROR"'* && $out == *'"code":410'* && $out == *"too old resource version: $old"* ]] \
  || fail "expected one ERROR 410 event, got: $out"
[ "$(printf '%s\n' "$out" | grep -c '"type"')" = 1 ] || fail "more than one event: $out"

if err=$(kubectl get --raw "/api/v1/namespaces/$NS/configmaps?resourceVersion=$old&resourceVersionMatch=Exact" 2>&1); then
  fail "Exact list at a compacted RV succeeded"
fi
[[ $err == *"Expired"* || $err == *"too old"* ]] || fail "Exact list error: $err"
if err=$(kubectl get --raw "/api/v1/namespaces/$NS/configmaps?limit=1&continue=$cont" 2>&1); then
  fail "old continue token accepted"
fi
[[ $err == *"Expired"* || $err == *"too old"* ]] || fail "continue error: $err"

# a list without RV and a watch from the new list RV still work
rv=$(kubectl get configmaps -n "$NS" -o jsonpath='{.metadata.resourceVersion}') || fail "fresh list"
out=$(kubectl get --raw "/api/v1/namespaces/$NS/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=1") \
  || fail "watch from a fresh RV"
[[ $out != *'"type":"ERROR"'* ]] || fail "fresh watch errored: $out"
note "ok"
