#!/bin/bash
# tests/pg/run.sh - the pg stage of scripts/test.sh: starts a private
# PostgreSQL 15 (tests/lib/pg.sh), runs the collector's store and API suites
# (Criterion) against it, one fresh database per test, then every
# tests/pg/test_*.sh (each starts its own server). Stops the server by PID.
# ANYCAST_BIN names the build dir (scripts/test.sh exports its ASan build).
# Usage: tests/pg/run.sh [test_name.sh ...]   (default: the suites and all)
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
export ANYCAST_BIN=${ANYCAST_BIN:-$ROOT/build-test}
PG_LOG_DIR=${PG_LOG_DIR:-/tmp/anycast-pg-logs}
# shellcheck source=../lib/pg.sh
. tests/lib/pg.sh

rm -rf "$PG_LOG_DIR"
mkdir -p "$PG_LOG_DIR"
failed=()
passed=()
if [ $# -eq 0 ]; then
	trap pg_stop EXIT
	if ! pg_start; then
		echo "=== pg: cannot start PostgreSQL"
		exit 1
	fi
	export ANYCAST_TEST_PG
	ANYCAST_TEST_PG=$(pg_url postgres)
	for suite in collector_test_store collector_test_api collector_test_integrity_api collector_test_leader; do
		echo "=== pg suite: $suite"
		if (cd "$ROOT" && "$ANYCAST_BIN/$suite" --verbose=0 -j1) >"$PG_LOG_DIR/$suite.log" 2>&1; then
			passed+=("$suite")
		else
			failed+=("$suite")
		fi
		tail -3 "$PG_LOG_DIR/$suite.log"
	done
	unset ANYCAST_TEST_PG
	pg_stop
	trap - EXIT
fi
tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("tests/pg/$(basename "$t")"); done
else
	for t in tests/pg/test_*.sh; do [ -e "$t" ] && tests+=("$t"); done
fi
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	echo "=== pg test: $name"
	timeout --kill-after=10 300 bash "$t" </dev/null >"$PG_LOG_DIR/$name.log" 2>&1
	rc=$?
	cat "$PG_LOG_DIR/$name.log"
	if [ $rc = 0 ]; then passed+=("$name"); else failed+=("$name (exit $rc)"); fi
done
echo "=== pg: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || { printf '    FAILED: %s\n' "${failed[@]}"; exit 1; }
