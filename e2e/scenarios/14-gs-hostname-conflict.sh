#!/bin/bash
# Two services claim one hostname: the older keeps it, the newer reports
# RouteReady=False HostnameConflict and the winner is not touched.
. "$(dirname "$0")/gslib.sh"
setup_env
op_start
gs_apply first 'image: example/a:1' 'hostname: shared'
wait_ready first
sleep 1.1 # creationTimestamp has second precision
gs_apply second 'image: example/b:1' 'hostname: shared'
eventually_eq 30 HostnameConflict cond_reason second RouteReady || fail "no HostnameConflict on the newer service"
[ "$(cond second Ready)" = False ] || fail "loser is Ready"
jp gs/second '{.status.conditions[?(@.type=="RouteReady")].message}' | grep -q "$NS/first" || fail "message does not name the winner"
[ "$(cond first Ready)" = True ] || fail "winner lost Ready"
kubectl get ingressroute second -n "$NS" >/dev/null 2>&1 && fail "loser got a route"
# The winner goes away: the claim passes to the other service.
kubectl delete gs first -n "$NS" --wait=false >/dev/null
eventually_eq 60 True cond second Ready || fail "claim was not handed over"
note "conflict reported and resolved"
