#!/bin/bash
# Leader election with two, then three operator processes on one Lease:
#  - exactly one leads (Lease holder, leader_election_master_status 1 vs 0);
#    both answer /readyz 200, the follower runs no reconcile;
#  - kill -9 the leader: the follower takes over once the lease expires
#    (not before ~lease duration, within 15 s + margin) and reconciles;
#  - SIGTERM the leader: it exits 0 and releases the Lease; a third process
#    takes over within a few seconds (about one retry period) and reconciles.
# Takeover times are printed.
. "$(dirname "$0")/gslib.sh"

LEASE=grace-operator-leader # the default --leader-election-id
LEASE_S=15 # kleader's default lease duration (retry period 2 s)
# After kill -9 the follower sees the last renewal up to one retry period
# late, then waits LEASE_S on its own clock, then up to one retry period for
# its next attempt: at most LEASE_S + 4 s, plus slack for a loaded machine.
KILL_MAX_S=$((LEASE_S + 7))
KILL_MIN_S=10 # the earliest is LEASE_S - 2 s: earlier means the lease was not respected
TERM_MAX_S=6  # a released Lease is taken at the next attempt (~one retry period)

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# Operators are named operator-ID (so gslib's fail shows their logs); the
# helpers below take the identity ID.
pid_of() { local v="operator_${1}_PID"; echo "${!v}"; }
port_of() { op_port "operator-$1" "$2"; }
holder() { jp "lease/$LEASE" '{.spec.holderIdentity}'; }

# metric NAME LINE_PREFIX: the value of one sample on NAME's metrics port.
metric() {
  curl -fsS --max-time 2 "http://127.0.0.1:$(port_of "$1" metrics)/metrics" |
    awk -v p="$2" 'index($0, p) == 1 { print $NF; found = 1 } END { exit !found }'
}
leader_gauge() { metric "$1" "leader_election_master_status{name=\"$LEASE\"} "; }
is_leading() { [ "$(leader_gauge "$1")" = 1 ]; }
reconciles() { metric "$1" 'controller_runtime_reconcile_total{controller="graceservice",result="success"} ' || echo 0; }
readyz() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$(port_of "$1" health)/readyz"; }

# one_leader A B: exactly one of A and B leads; prints the leader's name.
one_leader() {
  local a=$1 b=$2 h
  h=$(holder)
  [ "$h" = "$a" ] || [ "$h" = "$b" ] || return 1
  local other=$a
  [ "$h" = "$a" ] && other=$b
  is_leading "$h" && [ "$(leader_gauge "$other")" = 0 ] || return 1
  echo "$h"
}

# wait_takeover NAME MAX_S: wait until NAME leads (gauge, then Lease holder);
# sets TOOK to the seconds since $T0.
wait_takeover() {
  eventually "$2" is_leading "$1" || fail "$1 did not take over within $2 s (holder: '$(holder)')"
  TOOK=$(elapsed "$T0")
  [ "$(holder)" = "$1" ] || fail "$1 reports leading but the Lease holder is '$(holder)'"
}

leader_flags=(--leader-elect --leader-election-namespace "$NS")

setup_env
op_grant_leader_election "$NS"
op_start operator-a "${leader_flags[@]}" --identity a
op_start operator-b "${leader_flags[@]}" --identity b
if ! eventually 10 one_leader a b; then
  for p in a b; do
    leader_gauge $p >/dev/null || fail "$p exposes no leader_election_master_status{name=\"$LEASE\"} sample (a candidate must report 0)"
  done
  fail "not exactly one leader (holder '$(holder)', a=$(leader_gauge a), b=$(leader_gauge b))"
fi
L=$(one_leader a b) || fail "leadership changed"
F=a
[ "$L" = a ] && F=b
note "leader $L, follower $F"
for p in a b; do
  [ "$(readyz $p)" = 200 ] || fail "$p: /readyz is not 200"
done

gs_apply one 'image: example/one:1'
wait_ready one 30
[ "$(reconciles "$L")" -gt 0 ] || fail "the leader $L reports no successful reconcile"
[ "$(reconciles "$F")" = 0 ] || fail "the follower $F reconciled"
grep -q '"workers started"' "$WORK/operator-$F.log" && fail "the follower $F started workers"
one_leader a b >/dev/null || fail "leadership changed while idle"
transitions=$(jp "lease/$LEASE" '{.spec.leaseTransitions}')

# kill -9: no release, the follower waits for the lease to expire.
T0=$(now)
kill -9 "$(pid_of "$L")"
wait "$(pid_of "$L")" 2>/dev/null || true
wait_takeover "$F" "$KILL_MAX_S"
t_kill=$TOOK
note "takeover after kill -9 of $L: ${t_kill} s (lease ${LEASE_S} s)"
lt "$KILL_MIN_S" "$t_kill" || fail "$F took over after ${t_kill} s: before the lease could expire"
[ "$(jp "lease/$LEASE" '{.spec.leaseTransitions}')" -gt "$transitions" ] || fail "leaseTransitions did not grow"
gs_apply two 'image: example/two:1'
wait_ready two 30
[ "$(reconciles "$F")" -gt 0 ] || fail "the new leader $F reports no successful reconcile"

# SIGTERM: the Lease is released and a third process takes over at once.
op_start operator-c "${leader_flags[@]}" --identity c
sleep 2.5 # c has tried the held Lease at least once
[ "$(holder)" = "$F" ] && [ "$(leader_gauge c)" = 0 ] || fail "c took the Lease from a live leader"
T0=$(now)
kill -TERM "$(pid_of "$F")"
rc=0
wait "$(pid_of "$F")" || rc=$?
t_exit=$(elapsed "$T0")
[ "$rc" = 0 ] || fail "$F exited $rc after SIGTERM"
h=$(holder)
[ -z "$h" ] || [ "$h" = c ] || fail "Lease still held by '$h' after $F exited"
grep -q '"lost the leader lease' "$WORK/operator-$F.log" && fail "$F logged a lost lease on SIGTERM"
wait_takeover c "$TERM_MAX_S"
t_term=$TOOK
note "takeover after SIGTERM of $F: ${t_term} s ($F exited after ${t_exit} s)"
gs_apply three 'image: example/three:1'
wait_ready three 30
[ "$(cond one Ready)" = True ] && [ "$(cond two Ready)" = True ] || fail "an earlier service lost Ready"
note "kill -9 takeover ${t_kill} s, SIGTERM takeover ${t_term} s"
