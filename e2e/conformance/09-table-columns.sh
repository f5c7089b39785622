#!/usr/bin/env bash
# Server-side printing: CRD printer columns (JSONPath filter, priority, date
# as age), -o wide, and the columns of built-in kinds.
. "$(dirname "$0")/lib.sh"
install_crd
make_ns

widget t1 large 3 | kubectl apply -f - >/dev/null || fail "create"
kubectl patch widget t1 -n "$NS" --subresource=status --type=merge \
  -p '{"status":{"message":"hello","conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null \
  || fail "status"
out=$(kubectl get widgets -n "$NS")
head=$(printf '%s\n' "$out" | head -1 | tr -s ' ')
[ "$head" = "NAME READY SIZE REPLICAS AGE" ] || fail "header: $head"
observe widget-header "$head"
row=$(printf '%s\n' "$out" | sed -n 2p | tr -s ' ')
[[ $row == "t1 True large 3 "* ]] || fail "row: $row"
wide=$(kubectl get widgets -n "$NS" -o wide | tr -s ' ')
[[ $wide == *"MESSAGE"* && $wide == *"hello"* ]] || fail "wide: $wide"
observe widget-wide-header "$(printf '%s\n' "$wide" | head -1)"
cm=$(kubectl create configmap tc -n "$NS" --from-literal=a=1 --from-literal=b=2 >/dev/null &&
     kubectl get configmaps tc -n "$NS" | tr -s ' ')
[[ $cm == "NAME DATA AGE"*"tc 2 "* ]] || fail "configmap columns: $cm"
ns=$(kubectl get namespace "$NS" | tr -s ' ')
[[ $ns == "NAME STATUS AGE"*"$NS Active"* ]] || fail "namespace columns: $ns"
kubectl create deployment web -n "$NS" --image=nginx:1.27 >/dev/null || fail "deployment"
dep=$(kubectl get deployments -n "$NS" | tr -s ' ')
[[ $dep == "NAME READY UP-TO-DATE AVAILABLE AGE"*"web 0/1 0 0 "* ]] || fail "deployment columns: $dep"
observe deployment-header "$(printf '%s\n' "$dep" | head -1)"
observe deployment-wide-header "$(kubectl get deployments -n "$NS" -o wide | head -1 | tr -s ' ')"
observe configmap-header "$(printf '%s\n' "$cm" | head -1)"
note "ok"
