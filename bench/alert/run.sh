#!/bin/bash
# bench/alert/run.sh - time from fault injection to the webhook alert at 1 s
# probing, measured in the lab in the same run as the routing convergence
# time (lab.sh fault reports when every branch's answers match the truth).
# Runs tests/lab/test_events.sh REPEAT times on its own lab (LAB_PREFIX=ev)
# and summarizes: alert delay beyond convergence, p50/p95/max per fault.
# Usage: bench/alert/run.sh [REPEAT]    (root; ANYCAST_BIN = build dir)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REPEAT=${1:-3}
export LAB_PREFIX=${LAB_PREFIX:-ev}
export LAB_DIR=/tmp/anycast-lab-$LAB_PREFIX
export ANYCAST_BIN=${ANYCAST_BIN:-$ROOT/build}
OUT=$(mktemp /tmp/ev-bench.XXXXXX)
trap '"$ROOT/scripts/lab/lab.sh" down >/dev/null 2>&1 || true' EXIT
"$ROOT/scripts/lab/lab.sh" up
for i in $(seq "$REPEAT"); do
	echo "bench: run $i/$REPEAT" >&2
	for t in test_events test_events_more; do
		BENCH_OUT=$OUT "$ROOT/tests/lab/$t.sh" || echo "bench: run $i ($t) had failing checks" >&2
	done
done
python3 "$ROOT/bench/alert/summarize.py" "$OUT"
echo "raw: $OUT" >&2
