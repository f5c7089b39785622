#!/bin/sh
# make lint: banned functions, cppcheck, clang-tidy over the C sources.
set -eu
cd "$(dirname "$0")/.."
SRC=$(find kube controllers operator -name '*.c' | sort)
status=0
# 1. Banned functions (unbounded or unchecked): use snprintf, memcpy with a
#    checked length, strtol.
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|gets)[[:space:]]*\(' $SRC tests/*.c; then
  echo "lint: banned function used (sprintf, strcpy, strcat, atoi, atol, gets)" >&2
  status=1
fi
# 2. cppcheck
CPPFLAGS_PKG=$(pkg-config --cflags-only-I libcurl jansson yaml-0.1 lua5.4 libwebsockets libpq openssl 2>/dev/null || true)
cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
  --enable=warning,portability --suppress=missingIncludeSystem \
  -I kube -I controllers -I operator $SRC || status=1
# 3. clang-tidy (bug-prone and cert checks that do not fight the style)
CHECKS='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,cert-err34-c,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-clang-analyzer-optin.performance.Padding'
# Each layer sees its own and lower include paths only (as in the Makefile).
layer_inc() {
  case "$1" in
    kube/*) echo "-Ikube" ;;
    controllers/*) echo "-Ikube -Icontrollers" ;;
    *) echo "-Ikube -Icontrollers -Ioperator" ;;
  esac
}
for f in $SRC; do
  # shellcheck disable=SC2046 # the include flags are split on purpose
  clang-tidy --quiet --checks="$CHECKS" --warnings-as-errors='*' "$f" -- \
    -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DGRACE_VERSION='"lint"' $(layer_inc "$f") \
    $CPPFLAGS_PKG 2>/dev/null || { echo "lint: clang-tidy: $f" >&2; status=1; }
done
[ $status -eq 0 ] && echo "lint: ok"
exit $status
