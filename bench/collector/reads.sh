#!/bin/bash
# bench/collector/reads.sh - read API latency and collector memory with 1,000
# agents x 10 services and a large results table generated straight into
# SQLite, idle and while the load generator ingests.
# Usage: bench/collector/reads.sh [ROWS] [REQUESTS]   (default 1000000 200)
# Env: COLLECTOR=path to the binary (default: a Release build in build-bench).
source "$(dirname "$0")/common.sh"
ROWS=${1:-1000000}
REQS=${2:-200}
AGENTS=1000
SERVICES=10

build_collector
build_loadgen
write_inventory $AGENTS $SERVICES
start_collector         # creates the schema and the agent/service rows
stop_collector

now=$(($(date +%s) * 1000))
per_agent=$((ROWS / AGENTS))
t0=$(date +%s.%N)
sqlite3 "$WORK/anycast.db" <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
-- One agent after the other, seq ascending: 5 s apart, ending now.
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS - 1)
INSERT INTO results (agent_id, seq, round, time_ms, service_id, address, family, target,
	instance, identity, identity_source, query, transport, outcome, rcode, rtt_ms)
SELECT (SELECT id FROM agents WHERE name = 'bench-' || (i / $per_agent + 1)),
	i % $per_agent + 1, (i % $per_agent) / 3,
	$now - ($per_agent - i % $per_agent) * 5000,
	(SELECT id FROM services WHERE name = 'svc' || ((i / 3) % $SERVICES)),
	CASE i % 3 WHEN 0 THEN '198.18.255.53' WHEN 1 THEN '198.18.1.2' ELSE '198.18.2.2' END,
	4, i % 3 > 0, CASE WHEN i % 3 = 2 THEN 'site-b' ELSE 'site-a' END, 'site-a.lab', 'nsid',
	'nsid', 'udp', 'ok', 'NOERROR', 1.0 + (i % 50)
FROM n;
WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < $AGENTS),
	s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j < $SERVICES - 1)
INSERT INTO catchments SELECT 'bench-' || i, 'svc' || j, 4,
	CASE WHEN i % 2 THEN 'site-a' ELSE 'site-b' END,
	CASE WHEN i % 2 THEN 'site-a.lab' ELSE 'site-b.lab' END, 'ok',
	$now - 3600000, $now, 3.5, 0, 0 FROM a, s;
INSERT INTO latest SELECT a.id, s.id, 1, m.addr, 1, $now, m.inst, m.inst || '.lab', 'ok',
	'NOERROR', 1.5 FROM agents a, services s,
	(SELECT '198.18.1.2' AS addr, 'site-a' AS inst UNION ALL SELECT '198.18.2.2', 'site-b') m;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO events (id, time_ms, type, agent, service, family, from_instance, to_instance,
	incident, resolves, detail)
SELECT i, $now - (100000 - i) * 1000, CASE i % 3 WHEN 0 THEN 'outage' ELSE 'catchment_change' END,
	'bench-' || (i % $AGENTS + 1), 'svc' || (i % $SERVICES), 4, 'site-a', 'site-b',
	'x/' || i, 0, '{"cause":"route_change"}' FROM n;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
t1=$(date +%s.%N)
echo "generated $ROWS results, $((AGENTS * SERVICES)) catchments, 20000 latest, 100000 events" \
	"in $(echo "$t1 - $t0" | bc) s; database $(du -h "$WORK/anycast.db" | cut -f1)"

start_collector
echo "collector RSS after start: $(rss_kb) kB"

# latency NAME PATH: REQS sequential requests, p50/p95/max of curl's time_total.
latency() {
	local name=$1 path=$2
	for _ in $(seq 1 "$REQS"); do
		curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$URL$path"
	done | sort -n | awk -v name="$name" '{t[NR] = $1 * 1000; b = $2}
		END {printf "%-34s p50 %7.2f ms  p95 %7.2f ms  max %7.2f ms  %8d bytes\n", name,
			t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR], b}'
}

run_all() {
	latency "catchments (default limit 100)" "/api/v1/catchments"
	latency "catchments limit=1000" "/api/v1/catchments?limit=1000"
	latency "catchments limit=1000 offset=9000" "/api/v1/catchments?limit=1000&offset=9000"
	latency "events limit=100" "/api/v1/events"
	latency "events type=outage" "/api/v1/events?type=outage&limit=100"
	latency "results agent, last 30 min" \
		"/api/v1/results?agent=bench-500&limit=1000&from=$(date -u -d '-30 min' +%Y-%m-%dT%H:%M:%SZ)"
	latency "results agent, after_seq" "/api/v1/results?agent=bench-500&after_seq=$((per_agent / 2))&limit=1000"
	latency "agents" "/api/v1/agents?limit=1000"
	latency "instances" "/api/v1/instances"
	latency "healthz" "/healthz"
}

echo "--- idle"
run_all
REQS=$((REQS / 10 > 5 ? REQS / 10 : 5)) latency "metrics" "/metrics"
echo "collector RSS: $(rss_kb) kB (peak $(hwm_kb) kB)"

echo "--- while ingesting (loadgen: 64 agents' batches of 100, 16 threads)"
"$WORK/loadgen" --url "$URL" --agents 64 --threads 16 --batch 100 --services $SERVICES \
	--seconds 1000 --seq-base $((per_agent + 1000)) >"$WORK/loadgen.out" 2>&1 &
LPID=$!
sleep 1
run_all
kill -TERM "$LPID"; wait "$LPID" 2>/dev/null || true
echo "ingested meanwhile: $(curl -s "$URL/metrics" | grep 'anycast_ingest_results_total{outcome="stored"}')"
echo "collector RSS: $(rss_kb) kB (peak $(hwm_kb) kB); load average $(cut -d' ' -f1-3 /proc/loadavg)"
stop_collector
