#!/bin/bash
# tests/prom/run.sh - the prom stage of scripts/test.sh: runs every tests/prom/test_*.sh
#
# The tests check the collector's /metrics with Debian's promtool and a real
# Prometheus (loopback only, temp dirs, daemons stopped by PID; helpers from
# tests/fault/lib.sh). ANYCAST_BIN names the build dir with the binaries.
# Logs go to $PROM_LOG_DIR/<test>.log and are printed after each test.
# Usage: tests/prom/run.sh [test_name.sh ...]   (default: all)
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
export ANYCAST_BIN=${ANYCAST_BIN:-$ROOT/build-test}
PROM_LOG_DIR=${PROM_LOG_DIR:-/tmp/anycast-prom-logs}
PROM_TEST_TIMEOUT=${PROM_TEST_TIMEOUT:-180}

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("tests/prom/$(basename "$t")"); done
else
	for t in tests/prom/test_*.sh; do [ -e "$t" ] && tests+=("$t"); done
fi
rm -rf "$PROM_LOG_DIR"
mkdir -p "$PROM_LOG_DIR"

failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	echo "=== prom test: $name"
	timeout --kill-after=10 "$PROM_TEST_TIMEOUT" bash "$t" </dev/null >"$PROM_LOG_DIR/$name.log" 2>&1
	rc=$?
	cat "$PROM_LOG_DIR/$name.log"
	[ $rc = 124 ] && echo "=== $name: timed out after ${PROM_TEST_TIMEOUT}s"
	[ $rc = 0 ] || failed=$((failed + 1))
done
echo "=== prom summary: $((${#tests[@]} - failed)) passed, $failed failed (logs: $PROM_LOG_DIR)"
[ $failed = 0 ]
