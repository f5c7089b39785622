#!/bin/sh
# hack/deps.sh: install the Debian packages that the build, the tests and
# `make run` need -- only those that are missing. Safe to run repeatedly; it
# does nothing (and needs no network) when everything is present. clang and
# libclang-rt-14-dev (libFuzzer and the sanitizer runtimes of Debian 12's
# clang 14) are for `make fuzz` and the fuzz regression in `make test`.
set -eu
PKGS="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libyaml-dev
liblua5.4-dev lua5.4 libwebsockets-dev libssl-dev libpq-dev zlib1g-dev check
postgresql postgresql-contrib python3 openssl curl xz-utils prometheus
clang-format clang-tidy cppcheck valgrind python3-jsonschema
clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root, or install them)" >&2
    exit 1
  fi
  echo "deps.sh: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "deps.sh: kubectl is not on PATH; the end-to-end tests need the real kubectl client" >&2
  exit 1
fi
