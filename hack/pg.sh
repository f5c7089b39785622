#!/bin/bash
# hack/pg.sh: a real, throwaway PostgreSQL server for the tests and `make run`.
#
#   hack/pg.sh start   DIR [PORT]  initdb DIR/data if needed, start, wait until ready
#   hack/pg.sh stop    DIR         fast shutdown (no-op when not running)
#   hack/pg.sh restart DIR         stop, then start on the same port
#   hack/pg.sh status  DIR         exit 0 when running, 3 when stopped
#
# The server listens on 127.0.0.1 only (TCP needs scram-sha-256), keeps its unix
# socket in DIR (peer auth for the `postgres` superuser, for debugging:
# `runuser -u postgres -- psql -h DIR -p PORT`), and logs to DIR/pg.log with
# log_statement=ddl so tests can check that no plain password reaches the log.
# It has an admin role `grace_admin` (LOGIN CREATEDB CREATEROLE, not superuser)
# with a random password. DIR/pg.env (mode 600) holds the client settings:
#   export PGHOST=127.0.0.1 PGPORT=... PGUSER=grace_admin PGPASSWORD=... PGDATABASE=postgres
# (one `export` per line). The port is kept across stop/start.
#
# postgres refuses to run as root: as root, DIR is chown'ed to the `postgres`
# system user and every server command runs through runuser. As any other
# user, the commands run as that user.
#
# PG_OWNER_PID=<pid> (optional, for tests): a detached watcher stops the
# server once that process has exited, so a crashed test leaves nothing behind.
set -euo pipefail

ADMIN_ROLE=grace_admin
PROG=$(basename "$0")

die() {
  echo "$PROG: $*" >&2
  exit 1
}

usage() {
  echo "usage: $PROG start DIR [PORT] | stop DIR | restart DIR | status DIR" >&2
  exit 2
}

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    BIN=$PG_BIN
  else
    BIN=/usr/lib/postgresql/15/bin
    if [ ! -x "$BIN/postgres" ]; then # another major version, the newest
      BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
  fi
  for b in initdb pg_ctl pg_isready psql postgres; do
    if [ ! -x "$BIN/$b" ]; then
      die "PostgreSQL server binaries not found (no $b in $BIN); install Debian's postgresql package (hack/deps.sh) or set PG_BIN"
    fi
  done
}

# as_pg CMD...: run a command as the user that owns the cluster.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

set_dir() {
  [ -n "${1:-}" ] || usage
  mkdir -p "$1" || die "cannot create $1"
  DIR=$(cd "$1" && pwd -P)
  DATA=$DIR/data
  LOG=$DIR/pg.log
  ENV=$DIR/pg.env
  PORTFILE=$DIR/port
}

running() {
  [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

free_port() {
  python3 - <<'EOF' 2>/dev/null && return 0
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
  # Fallback without python: a random high port that nobody answers on.
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

prepare_owner() {
  [ "$(id -u)" = 0 ] || return 0
  id postgres >/dev/null 2>&1 || die "the 'postgres' system user does not exist (install the postgresql package)"
  chown postgres: "$DIR"
  chmod 700 "$DIR"
  runuser -u postgres -- test -w "$DIR" ||
    die "user postgres cannot reach $DIR (a parent directory is not searchable by others); use a directory under /tmp"
}

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  echo "$PROG: initdb $DATA" >&2
  as_pg "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
    --auth-local=peer --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1 ||
    die "initdb failed; see $DIR/initdb.log"
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# hack/pg.sh: superuser over the unix socket (peer), everyone else over TCP from 127.0.0.1 with SCRAM.
local   all   postgres                 peer
host    all   all        127.0.0.1/32  scram-sha-256
EOF
}

write_conf() {
  local port=$1
  as_pg tee "$DATA/grace.conf" >/dev/null <<EOF
# written by hack/pg.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
password_encryption = 'scram-sha-256'
log_statement = 'ddl'
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
max_connections = 60
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  grep -q "^include_if_exists = 'grace.conf'" "$DATA/postgresql.conf" ||
    echo "include_if_exists = 'grace.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

env_value() { # env_value KEY: the value of `export KEY=...` in pg.env
  [ -f "$ENV" ] || return 0
  sed -n "s/^export $1=//p" "$ENV" | tail -n 1
}

psql_super() {
  as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$1" -U postgres -d postgres
}

# Create or re-password the admin role. The password travels on stdin, never
# on a command line, and the session turns statement logging off so it does not
# reach pg.log either.
ensure_admin() {
  local port=$1 pw
  pw=$(env_value PGPASSWORD)
  if [ -z "$pw" ]; then
    pw=$(openssl rand -hex 24 2>/dev/null || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fi
  psql_super "$port" >/dev/null <<EOF || die "could not create role $ADMIN_ROLE; see $LOG"
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ADMIN_ROLE') AS missing \\gset
\\if :missing
CREATE ROLE $ADMIN_ROLE LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '$pw';
\\else
ALTER ROLE $ADMIN_ROLE LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '$pw';
\\endif
EOF
  local tmp=$ENV.tmp
  (umask 077 && cat >"$tmp" <<EOF
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=$ADMIN_ROLE
export PGPASSWORD=$pw
export PGDATABASE=postgres
EOF
  )
  mv -f "$tmp" "$ENV"
}

wait_ready() {
  local port=$1
  for _ in $(seq 1 100); do
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && return 0
    sleep 0.1
  done
  die "server on 127.0.0.1:$port did not accept connections within 10 s; see $LOG"
}

start_watcher() {
  [ -n "${PG_OWNER_PID:-}" ] || return 0
  local w
  w=$(cat "$DIR/watch.pid" 2>/dev/null || true)
  [ -n "$w" ] && kill -0 "$w" 2>/dev/null && return 0
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    [ -f "$3/data/PG_VERSION" ] && "$2" stop "$3" >/dev/null 2>&1
  ' pg-watch "$PG_OWNER_PID" "$(cd "$(dirname "$0")" && pwd -P)/$PROG" "$DIR" \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$DIR/watch.pid"
}

cmd_start() {
  find_bin
  set_dir "$1"
  local port=${2:-}
  if running; then
    port=$(cat "$PORTFILE")
    [ -z "${2:-}" ] || [ "$2" = "$port" ] || die "already running on port $port (asked for $2); stop it first"
    wait_ready "$port"
    [ -s "$ENV" ] || ensure_admin "$port"
    start_watcher
    echo "$PROG: already running on 127.0.0.1:$port ($ENV)" >&2
    return 0
  fi
  if [ -z "$port" ]; then
    port=$(cat "$PORTFILE" 2>/dev/null || true)
    [ -n "$port" ] || port=$(free_port) || die "could not find a free TCP port on 127.0.0.1"
  fi
  case $port in '' | *[!0-9]*) die "invalid port '$port'" ;; esac
  prepare_owner
  init_cluster
  write_conf "$port"
  echo "$port" >"$PORTFILE"
  as_pg touch "$LOG"
  if ! as_pg "$BIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 30 -s >/dev/null 2>&1; then
    echo "$PROG: PostgreSQL failed to start; last lines of $LOG:" >&2
    tail -n 15 "$LOG" >&2 || true
    exit 1
  fi
  wait_ready "$port"
  ensure_admin "$port"
  start_watcher
  echo "$PROG: running on 127.0.0.1:$port ($ENV)" >&2
}

cmd_stop() {
  find_bin
  set_dir "$1"
  if ! running; then
    echo "$PROG: not running ($DIR)" >&2
    return 0
  fi
  as_pg "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 30 -s || die "pg_ctl stop failed; see $LOG"
  echo "$PROG: stopped ($DIR)" >&2
}

cmd_status() {
  find_bin
  set_dir "$1"
  if running; then
    echo "running on 127.0.0.1:$(cat "$PORTFILE") (data $DATA, env $ENV, log $LOG)"
    return 0
  fi
  echo "stopped ($DIR)"
  exit 3
}

case ${1:-} in
start)
  if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
  cmd_start "$2" "${3:-}"
  ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
restart) [ $# -eq 2 ] || usage; cmd_stop "$2"; cmd_start "$2" ;;
status) [ $# -eq 2 ] || usage; cmd_status "$2" ;;
*) usage ;;
esac
