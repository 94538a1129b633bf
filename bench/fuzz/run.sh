#!/bin/bash
# bench/fuzz/run.sh - the long fuzz run recorded in bench/fuzz/RESULTS.md: every
# tests/fuzz/fuzz_* target for FUZZ_RUNS executions (default 10 million), two
# at a time (FUZZ_PAR), from a scratch copy of its seed corpus; FUZZ_MAX_SECONDS
# caps each target's time. Prints one Markdown row
# per target: executions, seconds, execs/s, coverage (cov, ft), corpus size,
# and whether it crashed. Usage: bench/fuzz/run.sh [target ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${FUZZ_RUNS:-10000000}
MAX_S=${FUZZ_MAX_SECONDS:-0}   # 0: no time cap
PAR=${FUZZ_PAR:-2}
BUILD_FUZZ=${BUILD_FUZZ:-$PWD/build-fuzz}
export BUILD_FUZZ
FUZZ_SECONDS=1 tests/fuzz/run.sh >/dev/null   # builds every target
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for s in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$s" .c)"); done
fi
out=$(mktemp -d /tmp/anycast-fuzz-long.XXXXXX)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

one() {
	local name=$1 t0 rc=0
	mkdir -p "$out/$name.corpus"
	cp -r "tests/fuzz/corpus/$name/." "$out/$name.corpus/" 2>/dev/null || true
	t0=$(date +%s)
	"$BUILD_FUZZ/$name" -runs="$RUNS" -max_total_time="$MAX_S" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$out/$name-" "$out/$name.corpus" \
		>"$out/$name.log" 2>&1 || rc=$?
	echo "$rc $(($(date +%s) - t0))" >"$out/$name.rc"
}
running=0
for t in "${targets[@]}"; do
	one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$PAR" ]; then wait -n; running=$((running - 1)); fi
done
wait

echo "| target | executions | seconds | execs/s | cov | ft | corpus | result |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for t in "${targets[@]}"; do
	read -r rc secs <"$out/$t.rc"
	execs=$(grep -h '^stat::number_of_executed_units' "$out/$t.log" | awk '{print $2}' | tail -n1)
	last=$(grep -h -E '^#[0-9]+' "$out/$t.log" | tail -n1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	result="no crash"
	[ "$rc" = 0 ] || result="CRASH (exit $rc, log $out/$t.log)"
	echo "| $t | ${execs:-?} | $secs | $(( ${execs:-0} / (secs > 0 ? secs : 1) )) | ${cov:-?} | ${ft:-?} | ${corp:-?} | $result |"
done
