#!/bin/bash
# tests/fuzz/run.sh - the fuzz stage of scripts/test.sh: builds every
# tests/fuzz/fuzz_*.c libFuzzer target with clang, ASan and UBSan, runs each for
# FUZZ_SECONDS (default 20) from a scratch copy of tests/fuzz/corpus/<name>/,
# and fails if any target crashes, leaks, hangs or does not build.
# Environment: BUILD_FUZZ (default build-fuzz), FUZZ_SECONDS, FUZZ_JOBS (default 1),
# FUZZ_ONLY (space-separated target names), FUZZ_KEEP=1 keeps the scratch dir.
# Crash inputs are kept in $BUILD_FUZZ/crashes/<name>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_FUZZ=${BUILD_FUZZ:-$ROOT/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_JOBS=${FUZZ_JOBS:-1}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang not found (scripts/install-deps.sh installs it)" >&2
	exit 1
fi

targets=()
for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	if [ -n "${FUZZ_ONLY:-}" ] && ! grep -qw -- "$name" <<<"$FUZZ_ONLY"; then
		continue
	fi
	targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets"
	exit 0
fi

# -fsanitize=fuzzer-no-link gives every library coverage feedback, not only
# the target file (CMakeLists.txt adds -fsanitize=fuzzer to the targets).
echo "fuzz: building ${targets[*]} in $BUILD_FUZZ"
mkdir -p "$BUILD_FUZZ"
CC=clang cmake -S . -B "$BUILD_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DANYCAST_FUZZ=ON -DANYCAST_TESTS=OFF -DANYCAST_SANITIZE=ON \
	-DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >"$BUILD_FUZZ/cmake.log" 2>&1 ||
	{ cat "$BUILD_FUZZ/cmake.log" >&2; echo "fuzz: cmake failed" >&2; exit 1; }
if ! cmake --build "$BUILD_FUZZ" -j"$(nproc)" --target "${targets[@]}" >"$BUILD_FUZZ/build.log" 2>&1; then
	tail -n 40 "$BUILD_FUZZ/build.log" >&2
	echo "fuzz: build failed" >&2
	exit 1
fi

scratch=$(mktemp -d /tmp/anycast-fuzz.XXXXXX)
cleanup() {
	if [ "${FUZZ_KEEP:-0}" = 1 ]; then
		echo "fuzz: scratch kept in $scratch"
	else
		rm -rf "$scratch"
	fi
}
trap cleanup EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for name in "${targets[@]}"; do
	bin="$BUILD_FUZZ/$name"
	corpus="$scratch/$name"
	crashes="$BUILD_FUZZ/crashes/$name"
	mkdir -p "$corpus" "$crashes"
	# a copy: new inputs found by this run must not grow the repository
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -r "tests/fuzz/corpus/$name/." "$corpus/"
	fi
	log="$scratch/$name.log"
	echo "fuzz: $name for ${FUZZ_SECONDS}s ($(find "$corpus" -type f | wc -l) seeds)"
	jobs=()
	# -jobs runs children whose output goes to fuzz-N.log; one job runs in-process
	[ "$FUZZ_JOBS" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
	rc=0
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 "${jobs[@]}" -artifact_prefix="$crashes/" -print_final_stats=1 \
		"$corpus" >"$log" 2>&1 || rc=$?
	# with -jobs, libFuzzer writes each job's output to fuzz-N.log in the cwd
	if [ ${#jobs[@]} -gt 0 ]; then
		cat fuzz-*.log >>"$log" 2>/dev/null || true
		rm -f fuzz-*.log
	fi
	stats=$(grep -h -E '^stat::number_of_executed_units' "$log" | tail -n 1 || true)
	if [ "$rc" -ne 0 ] || grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		echo "fuzz: $name FAILED (exit $rc); inputs in $crashes" >&2
		grep -E -A 30 'ERROR:|runtime error:' "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
		failed+=("$name")
	else
		echo "fuzz: $name ok ${stats}"
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${FUZZ_SECONDS}s without a crash"
