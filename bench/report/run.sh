#!/bin/sh
# bench/report/run.sh - build and run the reporting-path benchmark (optimised,
# no sanitizers) straight from the sources; see RESULTS.md.
# Usage: bench/report/run.sh [results] [rate/s]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-/tmp/bench_report}
CURL_UV=${CURL_UV:-$ROOT/common/curl_uv.c}
cc -O2 -g -std=gnu17 -D_GNU_SOURCE -DANYCAST_VERSION=\"bench\" -I"$ROOT" \
	"$ROOT/bench/report/bench_report.c" \
	"$ROOT/agent/spool.c" "$ROOT/agent/spool_file.c" "$ROOT/agent/reporter.c" "$ROOT/agent/reporter_state.c" "$ROOT/agent/reporter_http.c" \
	"$ROOT/common/log.c" "$ROOT/common/timefmt.c" "$ROOT/common/result.c" "$CURL_UV" \
	-luv -lcurl -ljansson -lpthread -lm -o "$OUT"
exec "$OUT" "$@"
