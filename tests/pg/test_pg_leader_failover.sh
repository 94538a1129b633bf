#!/bin/bash
# tests/pg/test_pg_leader_failover.sh - two collectors on one PostgreSQL; the
# leader is killed (SIGKILL) during an incident.
#
# Collectors A and B share a private PostgreSQL store; A starts first and
# leads. Three real agents probe local DNS responders every 500 ms: br1 and
# br3 report to A (B as their second collector), br2 to B (A second), so both
# ingest. A webhook receiver logs every alert. The anycast responder is
# stopped: an outage incident opens on the leader, its firing alert arrives.
# A is killed with SIGKILL: B must lead within 10 s (measured, printed), keep
# the incident open (same id, no second firing page) and, when the responder
# comes back, send exactly one resolved notification. Then the agents drain
# and stop: every agent's seqs are exactly 1..N in the store, none twice.
# Then A comes back as follower, a second outage opens on B, and B's lock
# session is terminated on the server while the responder comes back: B
# steps down at once, one collector leads again, and the second incident
# gets exactly one resolved notification.
# Without the leader gating, B would classify its agents too and page a
# second time: the checks on firing counts fail.
TEST_NAME=pg_leader_failover
# shellcheck source=../fault/lib.sh
. "$(dirname "$0")/../fault/lib.sh"
# shellcheck source=../lib/pg.sh
. "$FAULT_ROOT/tests/lib/pg.sh"
CLEANUP+=(pg_stop)
pg_start || { fail "cannot start PostgreSQL"; finish; }
pg_createdb store
DB=$(pg_url store)
dport=$(free_port)
pa=$(free_port)
pb=$(free_port)
rport=$(free_port)
URL_A=http://127.0.0.1:$pa
URL_B=http://127.0.0.1:$pb
INVENTORY_EXTRA="alerts:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$rport/hook
    events: [outage, recovery]"
write_inventory "$TMP/inv.yaml" "$dport" 500ms 200ms br1 br2 br3
start_responders "$dport"
python3 "$FAULT_DIR/receiver.py" ok "$rport" "$TMP/hook.log" &
PIDS+=("$!")
touch "$TMP/hook.log"

# start_named NAME PORT: a collector on the shared store, log $TMP/NAME.log
start_named() {
	(cd "$TMP" && exec "$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$2" --db "$DB") \
		>>"$TMP/$1.log" 2>&1 &
	COLLECTOR_PID=$!
	PIDS+=("$COLLECTOR_PID")
	for _ in $(seq 150); do
		curl -fs -o /dev/null "http://127.0.0.1:$2/healthz" && return 0
		sleep 0.1
	done
	fail "collector $1 did not start"
	tail -5 "$TMP/$1.log"
	exit 1
}
role() { curl -fs -m 5 "$1/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("role"))' 2>/dev/null || echo none; }
gauge() { curl -fs -m 5 "$1/metrics" | awk '$1 == "anycast_collector_leader" { print $2 }'; }
# notes STATUS: alert notifications with that status, as "incident_id" lines
notes() {
	python3 - "$TMP/hook.log" "$1" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    try:
        b = json.loads(l)
    except ValueError:
        continue  # blank, or a line still being written
    if b.get("status") == sys.argv[2]:
        print(b.get("incident_id"))
PY
}
open_outage() { # URL: the id of the open outage incident, or nothing
	curl -fs -m 5 "$1/api/v1/incidents?state=open" | python3 -c '
import json, sys
print(" ".join(str(i["id"]) for i in json.load(sys.stdin)["incidents"] if i["kind"] == "outage"))' 2>/dev/null || true
}

start_named a "$pa"
PID_A=$COLLECTOR_PID
start_named b "$pb"
PID_B=$COLLECTOR_PID
ra=$(role "$URL_A")
rb=$(role "$URL_B")
[ "$ra" = leader ] && [ "$rb" = follower ] && [ "$(gauge "$URL_A")" = 1 ] && [ "$(gauge "$URL_B")" = 0 ] &&
	ok "A leads, B follows (/healthz role, anycast_collector_leader gauge)" ||
	fail "roles at start: A $ra ($(gauge "$URL_A")), B $rb ($(gauge "$URL_B"))"
start_agent br1 "$URL_A" --collector "$URL_B"
AGENTS=("$AGENT_PID")
start_agent br2 "$URL_B" --collector "$URL_A"
AGENTS+=("$AGENT_PID")
start_agent br3 "$URL_A" --collector "$URL_B"
AGENTS+=("$AGENT_PID")

# The leader classifies br2, whose results only B stores (read from the store).
rows() { curl -fs -m 5 "$1/api/v1/catchments" | python3 -c '
import json, sys
print(" ".join(sorted(r["agent"] + ":" + r["status"] for r in json.load(sys.stdin)["catchments"])))' 2>/dev/null || true; }
for _ in $(seq 100); do [ "$(rows "$URL_A")" = "br1:ok br2:ok br3:ok" ] && break; sleep 0.2; done
[ "$(rows "$URL_A")" = "br1:ok br2:ok br3:ok" ] &&
	ok "the leader classifies every agent, br2's results stored by B included" ||
	fail "catchments on A: $(rows "$URL_A")"
for _ in $(seq 50); do [ "$(rows "$URL_B")" = "br1:ok br2:ok br3:ok" ] && break; sleep 0.2; done
[ "$(rows "$URL_B")" = "br1:ok br2:ok br3:ok" ] && ok "the follower serves the leader's catchment rows" ||
	fail "catchments on B: $(rows "$URL_B")"

kill "${RESP[1]}"
info "anycast responder stopped"
for _ in $(seq 300); do [ -n "$(notes firing)" ] && break; sleep 0.1; done
inc=$(open_outage "$URL_A")
firing=$(notes firing | wc -l)
[ -n "$inc" ] && [ "$firing" = 1 ] && [ "$(notes firing)" = "$inc" ] &&
	ok "outage incident $inc opened on the leader, one firing alert" ||
	fail "incident '$inc', $firing firing alerts ($(notes firing | tr '\n' ' '))"
sleep 2 # the leader's catchment snapshot (saved every 2 s) shows the outage

t0=$(date +%s.%N)
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null || true
info "kill -9 A (the leader)"
for _ in $(seq 200); do [ "$(role "$URL_B")" = leader ] && break; sleep 0.05; done
t1=$(date +%s.%N)
took=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
if [ "$(role "$URL_B")" = leader ] && python3 -c "import sys; sys.exit(0 if $took <= 10 else 1)"; then
	ok "B leads $took s after the leader was killed (limit 10 s)"
else
	fail "B's role $(role "$URL_B") $took s after the kill"
fi
info "takeover time: $took s"
sleep 6 # the agents switch to B; B classifies their still failing rounds
inc_b=$(open_outage "$URL_B")
[ "$inc_b" = "$inc" ] && ok "incident $inc still open under the new leader" ||
	fail "open outage incidents under B: '$inc_b' (was $inc)"
firing=$(notes firing | wc -l)
[ "$firing" = 1 ] && ok "no second firing page after the takeover" || fail "$firing firing alerts after the takeover"

start_responder 1 "$dport"
info "anycast responder back"
for _ in $(seq 600); do [ -n "$(notes resolved)" ] && break; sleep 0.1; done
sleep 5 # a late duplicate would show up now
resolved=$(notes resolved | tr '\n' ' ')
firing=$(notes firing | wc -l)
[ "$resolved" = "$inc " ] && [ "$firing" = 1 ] &&
	ok "exactly one resolved notification, for incident $inc (one firing in all)" ||
	fail "resolved notifications: '$resolved', firing $firing"
[ -z "$(open_outage "$URL_B")" ] && ok "no outage incident left open" || fail "still open: $(open_outage "$URL_B")"

# Phase 2: the leader loses its lock connection (the server ends that
# session) while an incident is open, and the fault ends during the handover.
start_named a "$pa"
PID_A=$COLLECTOR_PID
[ "$(role "$URL_A")" = follower ] && [ "$(role "$URL_B")" = leader ] &&
	ok "A restarted as follower, B still leads" || fail "roles: A $(role "$URL_A"), B $(role "$URL_B")"
kill "${RESP[1]}"
info "anycast responder stopped again"
for _ in $(seq 300); do [ "$(notes firing | wc -l)" -ge 2 ] && break; sleep 0.1; done
inc2=$(open_outage "$URL_B")
[ -n "$inc2" ] && [ "$inc2" != "$inc" ] && [ "$(notes firing | tail -1)" = "$inc2" ] &&
	ok "outage incident $inc2 opened on B, its firing alert arrived" ||
	fail "second incident '$inc2', firing: $(notes firing | tr '\n' ' ')"
sleep 2
n_down=$(grep -c "stepping down" "$TMP/b.log" || true)
killed=$(pg_psql -A -t -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE application_name = 'anycast-collector leader lock' AND pid IN
	(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)")
start_responder 1 "$dport"
info "the leader's lock session terminated ($killed); anycast responder back at once"
for _ in $(seq 100); do [ "$(grep -c "stepping down" "$TMP/b.log" || true)" -gt "$n_down" ] && break; sleep 0.05; done
[ "$killed" = 1 ] && [ "$(grep -c "stepping down" "$TMP/b.log" || true)" -gt "$n_down" ] &&
	ok "B stepped down when its lock connection was lost" || fail "B did not step down (terminated: $killed)"
for _ in $(seq 200); do
	ra=$(role "$URL_A"); rb=$(role "$URL_B")
	[ "$ra$rb" = leaderfollower ] || [ "$ra$rb" = followerleader ] && break
	sleep 0.05
done
[ "$ra$rb" = leaderfollower ] || [ "$ra$rb" = followerleader ] &&
	ok "one leader again (A $ra, B $rb)" || fail "roles after the lock loss: A $ra, B $rb"
for _ in $(seq 600); do [ "$(notes resolved | wc -l)" -ge 2 ] && break; sleep 0.1; done
sleep 5
resolved=$(notes resolved | tr '\n' ' ')
firing=$(notes firing | tr '\n' ' ')
[ "$resolved" = "$inc $inc2 " ] && [ "$firing" = "$inc $inc2 " ] &&
	ok "the fault that ended during the handover was resolved once (firing: $firing; resolved: $resolved)" ||
	fail "after the lock loss: firing '$firing', resolved '$resolved'"
stop_pid "$PID_A"
[ "$STOP_RC" = 0 ] && ok "A stops cleanly" || fail "A exit $STOP_RC"

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
	if [ "$N" -gt 0 ] && [ "$acked" = "$N" ] && [ "$n" = "$N" ] && [ "$distinct" = "$N" ] && [ "$lo" = 1 ] && [ "$hi" = "$N" ]; then
		ok "$a: seqs 1..$N contiguous in the store, no duplicates"
	else
		fail "$a: last seq $N, acked $acked; stored $n ($distinct distinct, $lo..$hi)"
	fi
done
stop_pid "$PID_B"
[ "$STOP_RC" = 0 ] && ok "B stops cleanly" || fail "B exit $STOP_RC"
grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$TMP"/agent-br*.log "$TMP/a.log" "$TMP/b.log" &&
	fail "sanitizer report"
finish
