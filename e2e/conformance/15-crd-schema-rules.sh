#!/usr/bin/env bash
# CRD schema rules the real kube-apiserver enforces on create: under
# properties.metadata only name and generateName may be specified (a description
# alone is rejected: the rule that kept grace-operator's CRD off every real
# cluster), metadata must be an object, and an object field needs a type. Every
# answer is recorded with `observe`, so the harness fails when kubesim answers
# differently from the real server. Server-side dry runs: nothing is created.
. "$(dirname "$0")/lib.sh"

# crd NAME METADATA-LINE: a CRD whose root schema has the given property line.
crd() {
  cat <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $1s.conformance.kubesim.dev}
spec:
  group: conformance.kubesim.dev
  scope: Namespaced
  names: {kind: Rule$1, plural: $1s, singular: $1, listKind: Rule$1List}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          $2
YAML
}

# try NAME WANT(accepted|rejected) PROPERTY: dry-run create, record the answer.
try() {
  local out rc=0
  out=$(crd "$1" "$3" | kubectl create --dry-run=server -f - 2>&1) || rc=$?
  observe "$1" "$out"
  if [ "$2" = accepted ]; then
    [ $rc = 0 ] || fail "$1: rejected: $out"
  else
    [ $rc != 0 ] || fail "$1: accepted, the real server rejects it"
  fi
  note "$1: $2"
}

try metadesc rejected 'metadata: {type: object, description: Standard object metadata.}'
try metalabels rejected 'metadata: {type: object, properties: {labels: {type: object}}}'
try metatype rejected 'metadata: {type: string}'
try metaname accepted 'metadata: {type: object, properties: {name: {type: string, maxLength: 20}}}'
try metaplain accepted 'metadata: {type: object}'
try specnotype rejected 'spec: {description: no type}'
