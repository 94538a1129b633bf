#!/bin/bash
# bench/collector/upkeep.sh - the SQLite store's upkeep under ingest:
#  1. WAL file size over a long ingest (sampled every second), then after
#     ingest stops (idle);
#  2. ingest rate while retention catches up with a backlog of expired rows,
#     against the same database and load with nothing expired (retention
#     horizon beyond the data), alternating, as a ratio.
# Usage: bench/collector/upkeep.sh [WAL_SECONDS] [OLD_ROWS] [PHASE_SECONDS] [ROUNDS]
#        (default 90 2000000 20 3)
# Env: COLLECTOR=binary under test (default: a Release build in build-bench);
#      BASE_COLLECTOR=another binary measured the same way in the same run
#      (e.g. one built from the previous release) for a before/after;
#      PARTS="wal retention" (default both).
source "$(dirname "$0")/common.sh"
WAL_SECONDS=${1:-90}
OLD_ROWS=${2:-2000000}
PHASE_SECONDS=${3:-20}
ROUNDS=${4:-3}
AGENTS=100
THREADS=16

build_collector
build_loadgen
BINARIES=("$COLLECTOR")
[ -n "${BASE_COLLECTOR:-}" ] && BINARIES=("$BASE_COLLECTOR" "$COLLECTOR")

metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
wal_bytes() { stat -c %s "$WORK/anycast.db-wal" 2>/dev/null || echo 0; }

PARTS=${PARTS:-wal retention}
write_inventory $AGENTS 10

# ---- 1. WAL size over a long ingest
[[ $PARTS == *wal* ]] && for bin in "${BINARIES[@]}"; do
	rm -f "$WORK"/anycast.db*
	COLLECTOR=$bin start_collector
	( while kill -0 "$CPID" 2>/dev/null; do wal_bytes; sleep 1; done ) >"$WORK/wal.samples" &
	SPID=$!
	"$WORK/loadgen" --url "$URL" --agents $AGENTS --threads $THREADS --batch 100 \
		--services 10 --seconds "$WAL_SECONDS" >"$WORK/loadgen.out"
	end_wal=$(wal_bytes)
	sleep 5
	idle_wal=$(wal_bytes)
	stored=$(awk '/^requests/ {print $8}' "$WORK/loadgen.out")
	rate=$(awk '/^rate/ {print $2}' "$WORK/loadgen.out")
	kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true
	max_wal=$(sort -n "$WORK/wal.samples" | tail -1)
	db_bytes=$(stat -c %s "$WORK/anycast.db")
	printf 'WAL %s: %s results stored in %ss (%s/s); WAL max %.1f MB, at end %.1f MB, 5 s idle %.1f MB; database %.1f MB; load %s\n' \
		"$bin" "$stored" "$WAL_SECONDS" "$rate" "$(echo "$max_wal / 1048576" | bc -l)" \
		"$(echo "$end_wal / 1048576" | bc -l)" "$(echo "$idle_wal / 1048576" | bc -l)" \
		"$(echo "$db_bytes / 1048576" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	stop_collector
done

# ---- 2. ingest with retention catching up vs without
# A database per binary (its own schema version and vacuum mode) holding
# OLD_ROWS results 40 days old, then copied fresh for every phase.
make_old_db() {
	local bin=$1 per_agent=$((OLD_ROWS / AGENTS)) now
	rm -f "$WORK"/anycast.db*
	COLLECTOR=$bin start_collector
	stop_collector
	now=$(($(date +%s) * 1000))
	sqlite3 "$WORK/anycast.db" >/dev/null <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $OLD_ROWS - 1)
INSERT INTO results (agent_id, seq, round, time_ms, service_id, address, family, target,
	instance, identity, identity_source, query, transport, outcome, rcode, rtt_ms)
SELECT (SELECT id FROM agents WHERE name = 'bench-' || (i / $per_agent + 1)),
	i % $per_agent + 1, (i % $per_agent) / 3,
	$now - 40 * 86400000 + (i % $per_agent) * 100,
	(SELECT id FROM services WHERE name = 'svc' || ((i / 3) % 10)),
	CASE i % 3 WHEN 0 THEN '198.18.255.53' WHEN 1 THEN '198.18.1.2' ELSE '198.18.2.2' END,
	4, i % 3 > 0, CASE WHEN i % 3 = 2 THEN 'site-b' ELSE 'site-a' END, 'site-a.lab', 'nsid',
	'nsid', 'udp', 'ok', 'NOERROR', 1.0 + (i % 50)
FROM n;
UPDATE agents SET last_seq = $per_agent;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
	mv "$WORK/anycast.db" "$WORK/old-$2.db"
}

# phase BIN DBNAME RETENTION: one ingest phase on a fresh copy; prints
# "rate cpu_us_per_result rows_deleted expired_rows_left". The collector
# hands retention its horizon 5 s after start: a warm-up ingest keeps it busy
# from the start, as in service, then the measured one follows at once.
phase() {
	local bin=$1 name=$2 retention=$3 cpu0 rate stored warm cpu left total
	rm -f "$WORK"/anycast.db*
	cp "$WORK/old-$name.db" "$WORK/anycast.db"
	sed -i '/^retention:/d' "$WORK/inv.yaml"
	echo "retention: $retention" >>"$WORK/inv.yaml"
	COLLECTOR=$bin start_collector
	"$WORK/loadgen" --url "$URL" --agents $AGENTS --threads $THREADS --batch 100 --services 10 \
		--seconds 7 --seq-base $((OLD_ROWS / AGENTS + 1000)) >"$WORK/warmup.out"
	cpu0=$(cpu_s)
	"$WORK/loadgen" --url "$URL" --agents $AGENTS --threads $THREADS --batch 100 --services 10 \
		--seconds "$PHASE_SECONDS" --seq-base $((OLD_ROWS / AGENTS + 1000000)) >"$WORK/loadgen.out"
	rate=$(awk '/^rate/ {print $2}' "$WORK/loadgen.out")
	stored=$(awk '/^requests/ {print $8}' "$WORK/loadgen.out")
	warm=$(awk '/^requests/ {print $8}' "$WORK/warmup.out")
	cpu=$(echo "($(cpu_s) - $cpu0) * 1000000 / $stored" | bc -l)
	stop_collector
	read -r total left < <(sqlite3 -separator ' ' "$WORK/anycast.db" "SELECT count(*),
		count(*) FILTER (WHERE time_ms < $(($(date +%s) * 1000)) - 30 * 86400000) FROM results")
	echo "$rate $(printf '%.1f' "$cpu") $((OLD_ROWS + warm + stored - total)) $left"
}

[[ $PARTS == *retention* ]] && for bin in "${BINARIES[@]}"; do
	tag=$(echo "$bin" | md5sum | cut -c1-8)
	make_old_db "$bin" "$tag"
	echo "retention $bin: $OLD_ROWS expired results; $ROUNDS rounds of ${PHASE_SECONDS}s phases"
	sum_with=0; sum_without=0
	for r in $(seq 1 "$ROUNDS"); do
		read -r rw cw dw lw < <(phase "$bin" "$tag" 30d)
		read -r ro co _ _ < <(phase "$bin" "$tag" 400d)
		echo "  round $r: catching up $rw/s ($cw us/result; $dw rows deleted in the run, $lw expired left);" \
			"nothing to delete $ro/s ($co us/result); ratio $(printf '%.3f' "$(echo "$rw / $ro" | bc -l)")"
		sum_with=$(echo "$sum_with + $rw" | bc -l); sum_without=$(echo "$sum_without + $ro" | bc -l)
	done
	echo "  total: ratio $(printf '%.3f' "$(echo "$sum_with / $sum_without" | bc -l)") (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
