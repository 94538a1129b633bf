#!/bin/bash
# scripts/test.sh - the whole test suite: installs what is missing, builds with
# -Werror and ASan+UBSan, runs the Criterion unit tests, the lab integration
# tests (network namespaces), the browser tests and short fuzz runs.
# Usage: scripts/test.sh [unit|pg|lab|fault|prom|alert|web|fuzz|package ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(unit pg lab fault prom alert web fuzz package)

./scripts/install-deps.sh

BUILD=${BUILD:-$ROOT/build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DANYCAST_WERROR=ON -DANYCAST_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ANYCAST_BIN="$BUILD"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
times=()
for stage in "${stages[@]}"; do
	echo "=== stage: $stage"
	t0=$SECONDS
	case "$stage" in
	unit)
		(cd "$BUILD" && ctest --output-on-failure -j"$(nproc)") || failed+=(unit) ;;
	pg|lab|fault|prom|alert|web|fuzz|package)
		if [ -x "tests/$stage/run.sh" ]; then
			"tests/$stage/run.sh" || failed+=("$stage")
		else
			echo "no tests/$stage/run.sh"
		fi ;;
	*) echo "unknown stage $stage" >&2; exit 2 ;;
	esac
	times+=("$stage $((SECONDS - t0))s")
	echo "=== stage $stage took $((SECONDS - t0)) s"
done
echo "=== stage times: ${times[*]} (total $SECONDS s)"

if [ ${#failed[@]} -gt 0 ]; then
	echo "=== FAILED stages: ${failed[*]}"
	exit 1
fi
echo "=== all stages passed: ${stages[*]}"
