#!/bin/bash
# tests/fault/run.sh - the fault stage of scripts/test.sh: runs every tests/fault/test_*.sh
#
# Each test is standalone (loopback only, its own temp dir, daemons stopped by
# PID) and exits 0 on success. ANYCAST_BIN names the build dir with the
# binaries (scripts/test.sh exports its ASan build). Output goes to
# $FAULT_LOG_DIR/<test>.log and is printed after each test.
# Usage: tests/fault/run.sh [test_name.sh ...]   (default: all)
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
export ANYCAST_BIN=${ANYCAST_BIN:-$ROOT/build-test}
FAULT_LOG_DIR=${FAULT_LOG_DIR:-/tmp/anycast-fault-logs}
FAULT_TEST_TIMEOUT=${FAULT_TEST_TIMEOUT:-300}

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("tests/fault/$(basename "$t")"); done
else
	for t in tests/fault/test_*.sh; do [ -e "$t" ] && tests+=("$t"); done
fi
rm -rf "$FAULT_LOG_DIR"
mkdir -p "$FAULT_LOG_DIR"

passed=()
failed=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$FAULT_LOG_DIR/$name.log
	echo "=== fault test: $name"
	start=$(date +%s)
	timeout --kill-after=10 "$FAULT_TEST_TIMEOUT" bash "$t" </dev/null >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	cat "$log"
	if [ $rc = 0 ]; then
		passed+=("$name (${secs}s)")
	else
		[ $rc = 124 ] && echo "=== $name: timed out after ${FAULT_TEST_TIMEOUT}s"
		failed+=("$name (exit $rc, ${secs}s)")
	fi
done

echo "=== fault summary: ${#passed[@]} passed, ${#failed[@]} failed (logs: $FAULT_LOG_DIR)"
for p in "${passed[@]}"; do echo "  PASS $p"; done
for f in "${failed[@]}"; do echo "  FAIL $f"; done
[ ${#failed[@]} = 0 ]
