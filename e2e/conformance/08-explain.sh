#!/usr/bin/env bash
# kubectl explain on a CRD (OpenAPI v3 document with the CRD schema).
. "$(dirname "$0")/lib.sh"
install_crd

out=$(kubectl explain widget.spec) || fail "explain widget.spec"
for want in "GROUP:      conformance.kubesim.dev" "KIND:       Widget" "VERSION:    v1" \
            "Desired state of the widget." "size	<string> -required-" \
            "enum: small, medium, large" "replicas	<integer>" "Number of copies."; do
  [[ $out == *"$want"* ]] || fail "explain output lacks '$want': $out"
done
out=$(kubectl explain widget.spec.replicas) || fail "explain field"
[[ $out == *"FIELD: replicas <integer>"* ]] || fail "field explain: $out"
out=$(kubectl explain widgets --recursive) || fail "explain --recursive"
[[ $out == *"metadata"*"<ObjectMeta>"* && $out == *"conditions"* ]] || fail "recursive: $out"
note "ok"
