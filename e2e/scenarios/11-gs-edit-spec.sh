#!/bin/bash
# Edit the spec: the children follow and observedGeneration advances.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply web 'image: example/web:1'
wait_ready web
g1=$(jp gs/web '{.status.observedGeneration}')
gs_apply web 'image: example/web:2' 'replicas: 2'
eventually_eq 30 example/web:2 jp deployment/web '{.spec.template.spec.containers[0].image}' ||
  fail "Deployment image did not follow"
[ "$(jp deployment/web '{.spec.replicas}')" = 2 ] || fail "replicas did not follow"
wait_ready web
g2=$(jp gs/web '{.status.observedGeneration}')
[ "$g2" -gt "$g1" ] || fail "observedGeneration did not advance ($g1 -> $g2)"
[ "$g2" = "$(jp gs/web '{.metadata.generation}')" ] || fail "observedGeneration != generation"
note "children followed; observedGeneration $g1 -> $g2"
