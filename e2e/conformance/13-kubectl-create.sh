#!/usr/bin/env bash
# kubectl create (typed clients send protobuf bodies) and built-in defaults:
# Secret stringData, Service clusterIP, Deployment defaults, generateName.
. "$(dirname "$0")/lib.sh"
make_ns

kubectl create configmap cm -n "$NS" --from-literal=a=1 >/dev/null || fail "configmap"
kubectl create secret generic s -n "$NS" --from-literal=user=alice >/dev/null || fail "secret"
[ "$(jp secret/s '{.data.user}' | base64 -d)" = alice ] || fail "secret data"
cat <<YAML | kubectl apply -f - >/dev/null || fail "secret stringData"
apiVersion: v1
kind: Secret
metadata: {name: s2, namespace: $NS}
stringData: {password: example}
YAML
[ "$(jp secret/s2 '{.data.password}' | base64 -d)" = example ] || fail "stringData not merged"
[ -z "$(jp secret/s2 '{.stringData}')" ] || fail "stringData returned"
[ "$(jp secret/s2 '{.type}')" = Opaque ] || fail "secret type default"

kubectl create deployment web -n "$NS" --image=nginx:1.27 --replicas=2 >/dev/null || fail "deployment"
[ "$(jp deploy/web '{.spec.strategy.type}/{.spec.revisionHistoryLimit}/{.spec.template.spec.containers[0].imagePullPolicy}')" \
  = "RollingUpdate/10/IfNotPresent" ] || fail "deployment defaults: $(jp deploy/web '{.spec}')"
observe deployment-spec "$(jp deploy/web '{.spec}')"
kubectl create service clusterip web -n "$NS" --tcp=80:8080 >/dev/null || fail "service"
ip=$(jp svc/web '{.spec.clusterIP}')
[[ $ip =~ ^10\.96\.[0-9]+\.[0-9]+$ ]] || fail "clusterIP: $ip"
if err=$(kubectl patch svc web -n "$NS" --type=merge -p '{"spec":{"clusterIP":"10.96.0.77"}}' 2>&1); then
  fail "clusterIP change accepted"
fi
observe clusterip-change "$err"
observe service-spec "$(jp svc/web '{.spec.ports}') $(jp svc/web '{.spec.type}/{.spec.sessionAffinity}/{.spec.ipFamilyPolicy}/{.spec.ipFamilies}/{.spec.internalTrafficPolicy}')"
kubectl scale deployment web -n "$NS" --replicas=3 >/dev/null || fail "scale"
[ "$(jp deploy/web '{.spec.replicas}')" = 3 ] || fail "scale not applied"
[ "$(jp deploy/web '{.metadata.generation}')" = 2 ] || fail "scale did not bump generation"
kubectl label configmap cm -n "$NS" tier=web >/dev/null || fail "label"
[ "$(kubectl get cm -n "$NS" -l tier=web -o name)" = configmap/cm ] || fail "label selector"
[ -z "$(kubectl get cm -n "$NS" -l 'tier notin (web)' -o name | grep cm/cm || true)" ] || fail "notin"
kubectl create -n "$NS" -f - -o name <<YAML >/dev/null || fail "generateName"
apiVersion: v1
kind: ConfigMap
metadata: {generateName: gen-}
YAML
[ "$(kubectl get cm -n "$NS" -o name | grep -c configmap/gen-)" = 1 ] || fail "generateName object"
note "ok"
