#!/bin/bash
# tests/lab/run.sh - the lab stage of scripts/test.sh: one anycast lab, every lab test, teardown
#
# Convention for lab tests (add your own as tests/lab/test_<name>.sh, executable):
#  - run.sh brings up ONE lab (LAB_PREFIX=ci) with scripts/lab/lab.sh up, then runs
#    every tests/lab/test_*.sh in name order, each from the repository root, with
#    the variables of $LAB_DIR/lab.env exported (LAB_PREFIX, LAB_DIR, LAB_HOME,
#    LAB_COLLECTOR_ADDR, LAB_BRANCHES, LAB_SITES, LAB_INVENTORY, LAB_NS_*, ...)
#    plus ANYCAST_BIN (build dir holding anycast-agent and anycast-collector).
#  - A test starts on a healed lab (no faults), may inject faults with
#    "$LAB_HOME/lab.sh fault ...", and exits 0 on success, non-zero on failure.
#    run.sh runs "lab.sh heal" after each test (re-creating the lab if healing fails).
#  - A test must stop what it started: source tests/lab/lib.sh and use start_in_ns
#    (daemons in a namespace with their own dir and pid file, stopped at exit).
#    Keep files under $TEST_TMP (lib.sh) or your own mktemp -d, never in the repo.
#  - Output goes to $LAB_LOG_DIR/<test>.log and is printed after the test.
#  - Each test gets LAB_TEST_TIMEOUT seconds (default 600).
# Usage: tests/lab/run.sh [test_name.sh ...]   (default: all)
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
LAB=$ROOT/scripts/lab/lab.sh

export LAB_PREFIX=${LAB_PREFIX_CI:-ci}
export LAB_DIR=/tmp/anycast-lab-$LAB_PREFIX
export ANYCAST_BIN=${ANYCAST_BIN:-$ROOT/build-test}
LAB_LOG_DIR=${LAB_LOG_DIR:-/tmp/anycast-lab-$LAB_PREFIX-logs}
LAB_TEST_TIMEOUT=${LAB_TEST_TIMEOUT:-600}

if [ "$(id -u)" != 0 ]; then
	echo "lab stage: needs root (network namespaces)" >&2
	exit 1
fi

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("tests/lab/$(basename "$t")"); done
else
	for t in tests/lab/test_*.sh; do [ -e "$t" ] && tests+=("$t"); done
fi

rm -rf "$LAB_LOG_DIR"
mkdir -p "$LAB_LOG_DIR"
trap '"$LAB" down' EXIT
trap 'exit 130' INT TERM HUP

up() {
	"$LAB" up 2>&1 | tee "$LAB_LOG_DIR/lab-up.log"
	[ "${PIPESTATUS[0]}" = 0 ] || return 1
	set -a
	. "$LAB_DIR/lab.env"
	set +a
}

if ! up; then
	echo "=== lab: FAILED to bring the lab up; no lab test ran"
	exit 1
fi

passed=()
failed=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$LAB_LOG_DIR/$name.log
	echo "=== lab test: $name"
	start=$(date +%s)
	timeout --kill-after=10 "$LAB_TEST_TIMEOUT" bash "$t" </dev/null >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	cat "$log"
	if [ $rc = 0 ]; then
		passed+=("$name (${secs}s)")
	else
		[ $rc = 124 ] && echo "=== $name: timed out after ${LAB_TEST_TIMEOUT}s"
		failed+=("$name (exit $rc, ${secs}s)")
	fi
	if ! "$LAB" heal >"$LAB_LOG_DIR/heal-after-$name.log" 2>&1; then
		echo "=== heal after $name failed; re-creating the lab"
		cat "$LAB_LOG_DIR/heal-after-$name.log"
		up || { failed+=("lab re-creation after $name"); break; }
	fi
done

echo "=== lab summary: ${#passed[@]} passed, ${#failed[@]} failed (logs: $LAB_LOG_DIR)"
for p in "${passed[@]}"; do echo "  PASS $p"; done
for f in "${failed[@]}"; do echo "  FAIL $f"; done
[ ${#failed[@]} = 0 ]
