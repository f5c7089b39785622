#!/bin/bash
# Invalid manifests are rejected by the API server with the CRD's message.
. "$(dirname "$0")/gslib.sh"
kubectl create namespace "$NS" >/dev/null
bad() { # NAME EXPECTED-TEXT SPEC-LINES...
  local n=$1 want=$2; shift 2
  local out
  out=$( { printf 'apiVersion: grace.dev/v1alpha1\nkind: GraceService\nmetadata: {name: %s, namespace: %s}\nspec:\n' "$n" "$NS"; for l in "$@"; do printf '  %s\n' "$l"; done; } | kubectl apply -f - 2>&1 ) && fail "$n accepted"
  echo "$out" | grep -qi -- "$want" || fail "$n: expected \"$want\" in: $out"
}
bad no-image 'spec.image: Required value' 'port: 8000'
bad bad-host 'hostname' 'image: x:1' 'hostname: Not_A_Label'
bad bad-policy 'deletionPolicy' 'image: x:1' 'postgres: {deletionPolicy: Sometimes}'
bad bad-topic 'topic' 'image: x:1' 'kafka: {topics: [{name: "bad topic!"}]}'
bad bad-schedule 'schedule' 'image: x:1' 'backup: {schedule: ""}'
note "invalid manifests rejected with the CRD's messages"
