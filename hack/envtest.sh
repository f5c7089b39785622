#!/usr/bin/env bash
# hack/envtest.sh: a real Kubernetes control plane on loopback, for the e2e suite,
# the bench and anyone checking the project (the role of controller-runtime's envtest).
#
#   hack/envtest.sh start DIR   throwaway PKI, etcd, kube-apiserver (RBAC on) and, when its
#                               binary is there, kube-controller-manager (garbage collector,
#                               namespace controller, ServiceAccount tokens), each on a free
#                               127.0.0.1 port; waits until all are ready; writes
#                               DIR/kubeconfig (cluster admin, client certificate)
#   hack/envtest.sh stop DIR    stops exactly what `start DIR` started; removes nothing else
#   hack/envtest.sh assets      prints the directory of usable binaries (unpacking them
#                               first when needed); exits 1 when there are none
#
# Binaries come from KUBEBUILDER_ASSETS (the envtest convention: a directory holding
# kube-apiserver and etcd; kube-controller-manager optional), defaulting to ../shared/envtest
# beside the checkout. A directory holding *.xz archives (as ../shared/envtest does) is
# unpacked once, checked against its SHA256SUMS, into a cache outside git:
# ${GRACE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/grace-operator}/envtest/<checksum>.
#
# ENVTEST_OWNER_PID=<pid> (optional): a detached watcher stops the control plane once that
# process has exited, so a crashed test run leaves nothing behind.
# Files in DIR: kubeconfig, pids, logs/*.log, pki/, etcd/ (data), url, version.
set -euo pipefail

PROG=envtest.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
READY_TIMEOUT=${ENVTEST_READY_TIMEOUT:-60}

die() {
  echo "$PROG: $*" >&2
  exit 1
}
usage() {
  echo "usage: $PROG start DIR | stop DIR | assets" >&2
  exit 2
}

# ---- assets --------------------------------------------------------------------------

assets_source() {
  if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
    printf '%s\n' "$KUBEBUILDER_ASSETS"
  elif [ -d "$ROOT/../shared/envtest" ]; then
    (cd "$ROOT/../shared/envtest" && pwd)
  else
    return 1
  fi
}

# unpack SRC: the cache directory holding SRC's *.xz unpacked and checked.
unpack() {
  local src=$1 sum cache dest tmp f
  command -v xz >/dev/null || die "xz is needed to unpack $src (Debian package xz-utils)"
  sum=$( (cat "$src/SHA256SUMS" 2>/dev/null || ls -l "$src"/*.xz) | sha256sum | cut -c1-16)
  cache=${GRACE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/grace-operator}
  dest=$cache/envtest/$sum
  if [ ! -x "$dest/kube-apiserver" ] || [ ! -x "$dest/etcd" ]; then
    mkdir -p "$cache/envtest"
    tmp=$(mktemp -d "$cache/envtest/.unpack.XXXXXX")
    for f in "$src"/*.xz; do
      xz -dc "$f" >"$tmp/$(basename "$f" .xz)" || { rm -rf "$tmp"; die "cannot unpack $f"; }
      chmod +x "$tmp/$(basename "$f" .xz)"
    done
    if [ -f "$src/SHA256SUMS" ]; then
      (cd "$tmp" && sha256sum --quiet -c "$src/SHA256SUMS" >&2) ||
        { rm -rf "$tmp"; die "checksums of the unpacked binaries do not match $src/SHA256SUMS"; }
    fi
    rm -rf "$dest"
    mv "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp" # another run unpacked it first
  fi
  printf '%s\n' "$dest"
}

assets() {
  local src
  src=$(assets_source) || return 1
  [ -d "$src" ] || die "KUBEBUILDER_ASSETS=$src is not a directory"
  if [ -x "$src/kube-apiserver" ] && [ -x "$src/etcd" ]; then
    printf '%s\n' "$src"
  elif [ -f "$src/kube-apiserver.xz" ] && [ -f "$src/etcd.xz" ]; then
    unpack "$src"
  else
    die "$src holds neither kube-apiserver and etcd nor their .xz archives"
  fi
}

# ---- PKI -----------------------------------------------------------------------------

ossl() { openssl "$@" 2>/dev/null; }

pki() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=envtest-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    leaf apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc" serverAuth
    leaf admin "/O=system:masters/CN=envtest-admin" "" clientAuth
    ossl genrsa -out sa.key 2048
    ossl rsa -in sa.key -pubout -out sa.pub
  ) || die "making the test PKI in $d failed (openssl)"
}

# leaf NAME SUBJECT SAN EKU: a key and certificate signed by ca.crt (in the cwd).
leaf() {
  local ext
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$4"
    [ -z "$3" ] || echo "$3"
  } >"$ext"
  ossl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" &&
    ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile "$ext" -out "$1.crt"
  local rc=$?
  rm -f "$ext" "$1.csr"
  return $rc
}

kubeconfig() {
  local dir=$1 url=$2
  b64() { base64 -w0 <"$1"; }
  umask 077
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: $url
    certificate-authority-data: $(b64 "$dir/pki/ca.crt")
users:
- name: envtest-admin
  user:
    client-certificate-data: $(b64 "$dir/pki/admin.crt")
    client-key-data: $(b64 "$dir/pki/admin.key")
contexts:
- name: envtest
  context: {cluster: envtest, user: envtest-admin}
current-context: envtest
EOF
}

# ---- processes -----------------------------------------------------------------------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# spawn NAME CMD...: start CMD detached (own session), log in DIR/logs/NAME.log.
spawn() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
  echo "$name $!" >>"$DIR/pids"
  LAST_PID=$!
}

# wait_ready NAME PID CMD...: until CMD succeeds; fails when PID dies or time runs out.
wait_ready() {
  local name=$1 pid=$2 end=$((SECONDS + READY_TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$PROG: $name exited before it was ready; last lines of $DIR/logs/$name.log:" >&2
      tail -n 20 "$DIR/logs/$name.log" | sed 's/^/    | /' >&2
      return 1
    fi
    [ $SECONDS -lt "$end" ] || {
      echo "$PROG: $name not ready within ${READY_TIMEOUT}s (log: $DIR/logs/$name.log)" >&2
      return 1
    }
    sleep 0.2
  done
}

curl_admin() {
  curl -fsS --max-time 2 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" \
    --key "$DIR/pki/admin.key" "$@"
}
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$1/health" | grep -q '"health":"true"'; }
apiserver_ready() { [ "$(curl_admin "https://127.0.0.1:$1/readyz")" = ok ]; }
kcm_healthy() { [ "$(curl -fsSk --max-time 2 "https://127.0.0.1:$1/healthz")" = ok ]; }

start_etcd() {
  local p1 p2
  p1=$(free_port) p2=$(free_port)
  mkdir -p "$DIR/etcd"
  spawn etcd "$BIN/etcd" --name envtest --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$p1" --advertise-client-urls "http://127.0.0.1:$p1" \
    --listen-peer-urls "http://127.0.0.1:$p2" --unsafe-no-fsync --log-level warn
  wait_ready etcd "$LAST_PID" etcd_healthy "$p1" || return 1
  ETCD_PORT=$p1
}

start_apiserver() {
  local p
  p=$(free_port)
  local pk=$DIR/pki
  spawn kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --secure-port="$p" \
    --client-ca-file="$pk/ca.crt" --tls-cert-file="$pk/apiserver.crt" \
    --tls-private-key-file="$pk/apiserver.key" \
    --service-account-key-file="$pk/sa.pub" --service-account-signing-key-file="$pk/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --authorization-mode=Node,RBAC --service-cluster-ip-range=10.96.0.0/16 \
    --allow-privileged=true --profiling=true
  wait_ready kube-apiserver "$LAST_PID" apiserver_ready "$p" || return 1
  API_PORT=$p
}

start_kcm() {
  local p
  p=$(free_port)
  spawn kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$DIR/kubeconfig" --authentication-kubeconfig="$DIR/kubeconfig" \
    --authorization-kubeconfig="$DIR/kubeconfig" --authentication-skip-lookup=true \
    --bind-address=127.0.0.1 --secure-port="$p" --leader-elect=false \
    --controllers=garbage-collector-controller,namespace-controller,serviceaccount-token-controller,serviceaccount-controller \
    --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/ca.crt" \
    --use-service-account-credentials=false
  wait_ready kube-controller-manager "$LAST_PID" kcm_healthy "$p"
}

# watch_owner PID: stop the control plane once PID has exited.
watch_owner() {
  local owner=$1
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop "$3" >/dev/null 2>&1' \
    _ "$owner" "$ROOT/hack/envtest.sh" "$DIR" </dev/null >/dev/null 2>&1 &
}

set_dir() {
  [ -n "${1:-}" ] || usage
  mkdir -p "$1" || die "cannot create $1"
  DIR=$(cd "$1" && pwd -P)
}

start() {
  set_dir "$1"
  [ ! -s "$DIR/pids" ] || die "$DIR already holds a running control plane (run: $PROG stop $DIR)"
  BIN=$(assets) || die "no envtest binaries: set KUBEBUILDER_ASSETS to a directory with kube-apiserver and etcd"
  mkdir -p "$DIR/logs"
  : >"$DIR/pids"
  pki "$DIR/pki"
  local try
  for try in 1 2 3; do # a port taken between choosing and binding: try new ones
    start_etcd && break
    stop_pids
    [ "$try" -lt 3 ] || die "etcd did not start"
  done
  for try in 1 2 3; do
    start_apiserver && break
    kill_named kube-apiserver
    [ "$try" -lt 3 ] || { stop_pids; die "kube-apiserver did not start"; }
  done
  kubeconfig "$DIR" "https://127.0.0.1:$API_PORT"
  if [ -x "$BIN/kube-controller-manager" ]; then
    for try in 1 2 3; do
      start_kcm && break
      kill_named kube-controller-manager
      [ "$try" -lt 3 ] || { stop_pids; die "kube-controller-manager did not start"; }
    done
  else
    echo "$PROG: no kube-controller-manager in $BIN: no garbage collection, namespace deletion or ServiceAccount tokens" >&2
  fi
  echo "https://127.0.0.1:$API_PORT" >"$DIR/url"
  "$BIN/kube-apiserver" --version >"$DIR/version" 2>/dev/null || true
  [ -z "${ENVTEST_OWNER_PID:-}" ] || watch_owner "$ENVTEST_OWNER_PID"
  echo "envtest: $(cat "$DIR/version") at $(cat "$DIR/url"); KUBECONFIG=$DIR/kubeconfig"
}

# kill_named NAME: stop one started process and drop it from DIR/pids.
kill_named() {
  local pid
  pid=$(awk -v n="$1" '$1 == n {print $2}' "$DIR/pids" | tail -n 1)
  [ -n "$pid" ] && stop_pid "$pid"
  sed -i "/^$1 /d" "$DIR/pids"
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# stop_pids: stop every started process, newest first (apiserver before etcd).
stop_pids() {
  [ -f "$DIR/pids" ] || return 0
  local name pid
  tac "$DIR/pids" | while read -r name pid; do
    # only a process that is still ours: same binary name in its command line
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$name"; then
      stop_pid "$pid"
    fi
  done
  : >"$DIR/pids"
}

stop() {
  [ -n "${1:-}" ] || usage
  [ -d "$1" ] || return 0
  DIR=$(cd "$1" && pwd -P)
  stop_pids
  rm -f "$DIR/pids"
}

case ${1:-} in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  assets) assets ;;
  *) usage ;;
esac
