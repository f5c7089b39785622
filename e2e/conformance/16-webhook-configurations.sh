#!/usr/bin/env bash
# admissionregistration.k8s.io/v1: webhook configurations are served (the install in
# deploy/kustomize carries both kinds), cluster-scoped, and a webhook without the fields
# v1 requires (sideEffects, admissionReviewVersions) is refused. Server-side dry runs:
# nothing is registered, so no request of another case is sent to a webhook.
. "$(dirname "$0")/lib.sh"

vwc() { # NAME EXTRA-WEBHOOK-LINES
  cat <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $1}
webhooks:
- name: check.conformance.kubesim.dev
  clientConfig: {url: "https://127.0.0.1:1/validate"}
  rules:
  - {apiGroups: [conformance.kubesim.dev], apiVersions: [v1], operations: [CREATE], resources: [widgets]}
$2
YAML
}

scope=$(kubectl api-resources --api-group=admissionregistration.k8s.io --no-headers 2>&1 | awk '{print $1, $(NF-1)}' | grep webhook | sort | tr '\n' ' ')
observe api-resources "$scope"
[[ $scope == *"validatingwebhookconfigurations false"* ]] || fail "not served cluster-scoped: $scope"

out=$(vwc c16-ok "  sideEffects: None
  admissionReviewVersions: [v1]" | kubectl create --dry-run=server -f - 2>&1) || fail "valid configuration refused: $out"
observe valid "$out"
if out=$(vwc c16-bad "" | kubectl create --dry-run=server -f - 2>&1); then
  fail "a webhook without sideEffects and admissionReviewVersions was accepted"
fi
observe missing-fields "$out"
note "ok"
