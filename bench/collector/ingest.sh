#!/bin/bash
# bench/collector/ingest.sh - ingest rate through HTTP: batches of 100
# results from the load generator, run on the same machine as the collector.
# Usage: bench/collector/ingest.sh [--sync full|normal] [SECONDS] [AGENTS] [THREADS]
# Env: COLLECTOR=path to the binary (default: a Release build in build-bench).
source "$(dirname "$0")/common.sh"
SYNC=full
if [ "${1:-}" = "--sync" ]; then SYNC=$2; shift 2; fi
SECONDS_RUN=${1:-10}
AGENTS=${2:-100}
THREADS=${3:-4}

build_collector
build_loadgen
write_inventory "$AGENTS" 10
start_collector --sync "$SYNC"
echo "collector $COLLECTOR, sync=$SYNC, agents=$AGENTS, threads=$THREADS, ${SECONDS_RUN}s"
/usr/bin/time -f "loadgen CPU %U s user %S s system" "$WORK/loadgen" --url "$URL" --agents "$AGENTS" --threads "$THREADS" --batch 100 \
	--services 10 --seconds "$SECONDS_RUN"
echo "collector CPU $(cpu_s) s (user+system) for the whole run; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "collector RSS now $(rss_kb) kB, peak $(hwm_kb) kB"
curl -s "$URL/metrics" | grep -E '^anycast_(store_transactions_total|store_commit_seconds_total|ingest_results_total)'
stop_collector
echo "rows in results: $(sqlite3 "$WORK/anycast.db" 'SELECT count(*) FROM results')," \
	"database $(du -h "$WORK/anycast.db" | cut -f1)"
