#!/bin/bash
# tests/pg/test_pg_outage.sh - PostgreSQL stopped for 30 s under load.
#
# Three real agents probe local DNS responders every 500 ms and report to one
# collector on a private PostgreSQL. The server is stopped (fast shutdown) for
# 30 s: ingest answers 503, the agents keep their results in their spools;
# after the restart the collector reconnects and the spools drain. Then the
# agents are stopped (they drain) and the store is read with psql: every
# agent's seqs are exactly 1..N (its last seq), none stored twice.
TEST_NAME=pg_outage
# shellcheck source=../fault/lib.sh
. "$(dirname "$0")/../fault/lib.sh"
# shellcheck source=../lib/pg.sh
. "$FAULT_ROOT/tests/lib/pg.sh"
CLEANUP+=(pg_stop)
pg_start || { fail "cannot start PostgreSQL"; finish; }
pg_createdb store
dport=$(free_port)
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" "$dport" 500ms 200ms br1 br2 br3
start_responders "$dport"
start_collector "$TMP/inv.yaml" "$port" "$(pg_url store)"
AGENTS=()
for a in br1 br2 br3; do
	start_agent "$a" "$URL" -v
	AGENTS+=("$AGENT_PID")
done
count() { PG_DB=store pg_psql -A -t -c "SELECT count(*) FROM results" 2>/dev/null || echo 0; }
for _ in $(seq 100); do [ "$(count)" -ge 50 ] && break; sleep 0.2; done
before=$(count)
[ "$before" -ge 50 ] && ok "results stream in ($before)" || fail "only $before results before the outage"
pg_pause
info "PostgreSQL stopped for 30 s"
sleep 2
code=$(http_code "$URL/healthz")
[ "$code" = 503 ] && ok "healthz 503 while PostgreSQL is down" || fail "healthz while down: $code"
sleep 28
n503=$(cat "$TMP"/agent-br*.log | grep -c "503" || true)
[ "$n503" -gt 0 ] && ok "agents were answered 503 and kept their results ($n503 log lines)" ||
	fail "no agent saw a 503 during the outage"
info "agent log lines naming 503: $n503"
pg_resume
info "PostgreSQL restarted"
for _ in $(seq 150); do [ "$(http_code "$URL/healthz")" = 200 ] && break; sleep 0.2; done
[ "$(http_code "$URL/healthz")" = 200 ] && ok "healthz 200 after the restart" || fail "healthz after restart"
sleep 5
for p in "${AGENTS[@]}"; do
	stop_pid "$p"
	[ "$STOP_RC" = 0 ] || fail "agent exit $STOP_RC"
done
for a in br1 br2 br3; do
	N=$(( $(agent_state "$a" next_seq) - 1 ))
	acked=$(agent_state "$a" acked)
	r=$(PG_DB=store pg_psql -A -t -F ' ' -c "SELECT count(*), count(DISTINCT r.seq), coalesce(min(r.seq), 0),
		coalesce(max(r.seq), 0) FROM results r JOIN agents g ON g.id = r.agent_id WHERE g.name = '$a'")
	read -r n distinct lo hi <<<"$r"
	if [ "$acked" = "$N" ] && [ "$n" = "$N" ] && [ "$distinct" = "$N" ] && [ "$lo" = 1 ] && [ "$hi" = "$N" ]; then
		ok "$a: seqs 1..$N contiguous in the store, no duplicates"
	else
		fail "$a: last seq $N, acked $acked; stored $n ($distinct distinct, $lo..$hi)"
	fi
done
stop_pid "$COLLECTOR_PID"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP"/agent-br*.log "$TMP/collector.log" &&
	fail "sanitizer report"
finish
