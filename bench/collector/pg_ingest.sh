#!/bin/bash
# bench/collector/pg_ingest.sh - ingest through HTTP into PostgreSQL and into
# SQLite in one run (same load generator, agents and seconds), against a raw
# COPY of the same rows into a table with the same key: results/s, CPU per
# result (the collector's, plus the PostgreSQL server's on PostgreSQL) and
# bytes per stored result on both backends.
# Usage: bench/collector/pg_ingest.sh [SECONDS] [AGENTS] [THREADS]   (as root:
# the private PostgreSQL server of tests/lib/pg.sh runs as user postgres)
source "$(dirname "$0")/common.sh"
. "$ROOT/tests/lib/pg.sh"
SECONDS_RUN=${1:-20}
AGENTS=${2:-100}
THREADS=${3:-4}
HZ=$(getconf CLK_TCK)
trap 'pg_stop; cleanup' EXIT

# CPU seconds of the PostgreSQL server: the postmaster, its children now
# running, and the children that already exited (cutime/cstime).
pg_cpu_s() {
	local total=0 p
	for p in $PG_PID $(pgrep -P "$PG_PID"); do
		[ -r "/proc/$p/stat" ] || continue
		total=$(awk -v t="$total" '{print t + $14 + $15 + $16 + $17}' "/proc/$p/stat")
	done
	awk -v t="$total" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'
}

# run LABEL: one ingest run on $DB; prints and sets STORED, C_CPU, S_CPU
run() {
	local pg0 pg1 out
	start_collector --sync full
	pg0=$(pg_cpu_s)
	out=$("$WORK/loadgen" --url "$URL" --agents "$AGENTS" --threads "$THREADS" --batch 100 \
		--services 10 --seconds "$SECONDS_RUN")
	C_CPU=$(cpu_s)
	pg1=$(pg_cpu_s)
	S_CPU=0
	[ "$1" = sqlite ] || S_CPU=$(awk -v a="$pg0" -v b="$pg1" 'BEGIN {printf "%.2f", b - a}')
	STORED=$(curl -s "$URL/metrics" | awk '/^anycast_ingest_results_total\{outcome="stored"\}/ {print $2}')
	stop_collector
	echo "$1: $out"
	awk -v n="$STORED" -v c="$C_CPU" -v s="$S_CPU" -v t="$SECONDS_RUN" -v l="$1" 'BEGIN {
		printf "%s: %d results stored, %.0f/s, collector CPU %.2f s, server CPU %.2f s, %.1f us per result\n",
			l, n, n / t, c, s, (c + s) * 1e6 / n }'
}

build_collector
build_loadgen
write_inventory "$AGENTS" 10
pg_start
pg_createdb bench
echo "agents=$AGENTS threads=$THREADS ${SECONDS_RUN}s per run; load average $(cut -d' ' -f1-3 /proc/loadavg)"

DB=$(pg_url bench) run postgresql
PG_STORED=$STORED PG_US=$(awk -v n="$STORED" -v c="$C_CPU" -v s="$S_CPU" 'BEGIN {print (c + s) * 1e6 / n}')
DB=$WORK/anycast.db run sqlite
SQ_STORED=$STORED SQ_US=$(awk -v n="$STORED" -v c="$C_CPU" 'BEGIN {print c * 1e6 / n}')

# The raw baseline: the same rows, exported, then COPY'd by one backend into
# a plain table with the same primary key (no partition routing, no latest
# state, no rollups, no HTTP, no JSON).
export PG_DB=bench
pg_psql -c "COPY (SELECT * FROM results) TO '$PG_DIR/data/rows.copy'"
pg_psql -c "CREATE TABLE raw_results (LIKE results INCLUDING DEFAULTS INCLUDING INDEXES)"
raw=$(pg_psql -A -t <<SQL
SELECT pg_backend_pid() \gset
\o $PG_DIR/data/cpu0
SELECT pg_read_file('/proc/' || :pg_backend_pid || '/stat');
\o
\timing on
COPY raw_results FROM '$PG_DIR/data/rows.copy';
\timing off
\o $PG_DIR/data/cpu1
SELECT pg_read_file('/proc/' || :pg_backend_pid || '/stat');
\o
SQL
)
raw_ms=$(echo "$raw" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
raw_cpu=$(awk -v hz="$HZ" 'NR == FNR {a = $14 + $15; next} {printf "%.3f", ($14 + $15 - a) / hz}' \
	"$PG_DIR/data/cpu0" "$PG_DIR/data/cpu1")
raw_n=$(pg_psql -A -t -c "SELECT count(*) FROM raw_results")
RAW_US=$(awk -v n="$raw_n" -v c="$raw_cpu" 'BEGIN {print c * 1e6 / n}')
awk -v n="$raw_n" -v ms="$raw_ms" -v c="$raw_cpu" 'BEGIN {
	printf "raw COPY: %d rows in %.0f ms (%.0f rows/s), backend CPU %.2f s, %.1f us per row\n",
		n, ms, n * 1000 / ms, c, c * 1e6 / n }'

pg_bytes=$(pg_psql -A -t -c "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
	WHERE inhparent = 'results'::regclass")
raw_bytes=$(pg_psql -A -t -c "SELECT pg_total_relation_size('raw_results')")
sqlite3 "$WORK/anycast.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
sq_bytes=$(sqlite3 "$WORK/anycast.db" "SELECT sum(pgsize) FROM dbstat WHERE name = 'results'
	OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'results' AND type = 'index')")
awk -v pb="$pg_bytes" -v pn="$PG_STORED" -v rb="$raw_bytes" -v rn="$raw_n" -v sb="$sq_bytes" -v sn="$SQ_STORED" \
	-v pu="$PG_US" -v su="$SQ_US" -v ru="$RAW_US" 'BEGIN {
	printf "bytes per result (table + indexes): PostgreSQL %.0f, raw table %.0f, SQLite %.0f\n",
		pb / pn, rb / rn, sb / sn
	printf "CPU per result: PostgreSQL %.1f us = %.1fx raw COPY, SQLite %.1f us; PostgreSQL / SQLite %.2fx\n",
		pu, pu / ru, su, pu / su }'
