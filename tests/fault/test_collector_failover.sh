#!/bin/bash
# tests/fault/test_collector_failover.sh - an agent given two collectors
# (--collector A --collector B) keeps reporting when A dies under load.
#
# A and B are two real collectors with their own databases (sharing nothing);
# the agent probes local DNS responders every 500 ms and reports to A. A is
# killed with SIGKILL while results stream in; B takes the reports. The agent
# is then stopped (it drains), A restarted on its database to read it. Checks:
# one log line for the switch, naming why; the union of A's and B's seqs is
# exactly 1..N (N: the agent's last seq) with nothing stored twice in either;
# a seq stored by both can only be the batch in flight when A died (at most
# one batch, contiguous, ending at A's last seq): reported, and allowed.
TEST_NAME=collector_failover
. "$(dirname "$0")/lib.sh"
dport=$(free_port)
pa=$(free_port)
pb=$(free_port)
URL_A=http://127.0.0.1:$pa
URL_B=http://127.0.0.1:$pb
write_inventory "$TMP/inv.yaml" "$dport" 500ms 200ms br1
start_responders "$dport"
start_collector "$TMP/inv.yaml" "$pa" "$TMP/a.db"
PID_A=$COLLECTOR_PID
start_collector "$TMP/inv.yaml" "$pb" "$TMP/b.db"
PID_B=$COLLECTOR_PID
start_agent br1 "$URL_A" --collector "$URL_B" -v
AG=$AGENT_PID

# seqs URL FILE: the agent's stored seqs, one a line, ascending
seqs() {
	python3 - "$1" > "$2" <<'PY'
import json, sys, urllib.request
url, after = sys.argv[1], 0
while True:
    rows = json.load(urllib.request.urlopen(
        f"{url}/api/v1/results?agent=br1&after_seq={after}&limit=1000", timeout=30))["results"]
    if not rows:
        break
    for r in rows:
        print(r["seq"])
    if rows[-1]["seq"] <= after:
        break
    after = rows[-1]["seq"]
PY
}
wait_stored() { # URL MIN SECONDS
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		seqs "$1" "$TMP/probe.seqs" 2>/dev/null || : > "$TMP/probe.seqs"
		[ "$(wc -l < "$TMP/probe.seqs")" -ge "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

wait_stored "$URL_A" 100 30 && ok "A (preferred) takes the reports" || fail "A stored nothing"
[ -s "$TMP/b.db" ] && seqs "$URL_B" "$TMP/b0.seqs" && [ ! -s "$TMP/b0.seqs" ] &&
	ok "B gets nothing while A answers" || fail "B got results while A was up"
# Under load: a batch is likely in flight when A dies.
sleep "0.$((RANDOM % 10))"
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null || true
info "kill -9 A after $(wc -l < "$TMP/probe.seqs")+ results stored there"
wait_stored "$URL_B" 100 30 && ok "B takes the reports after A died" || fail "B stored nothing after the kill"
n_switch=$(grep -c "collector: switching from $URL_A to $URL_B: " "$TMP/agent-br1.log" || true)
[ "$n_switch" = 1 ] && ok "one log line for the switch: $(grep -o "switching from $URL_A.*" "$TMP/agent-br1.log")" ||
	fail "$n_switch switch lines in the agent log"
st=$(curl -fs -m 5 "$URL_B/api/v1/agents" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["agents"]:
    s = a.get("status") or {}
    print(s.get("collector", "-"))' 2>/dev/null || true)
[ "$st" = "$URL_B" ] && ok "the self-report names the collector in use ($st)" ||
	info "self-report collector as B shows it: ${st:-none}"

stop_pid "$AG"
[ "$STOP_RC" = 0 ] && ok "agent stops cleanly (drained to B)" || fail "agent exit $STOP_RC"
N=$(( $(agent_state br1 next_seq) - 1 ))
acked=$(agent_state br1 acked)
info "agent: last seq $N, acknowledged up to $acked"
start_collector "$TMP/inv.yaml" "$pa" "$TMP/a.db"
seqs "$URL_A" "$TMP/a.seqs"
seqs "$URL_B" "$TMP/b.seqs"
na=$(wc -l < "$TMP/a.seqs")
nb=$(wc -l < "$TMP/b.seqs")
info "A stored $na, B stored $nb"
[ "$(sort -n "$TMP/a.seqs" | uniq -d | wc -l)" = 0 ] && [ "$(sort -n "$TMP/b.seqs" | uniq -d | wc -l)" = 0 ] &&
	ok "no seq stored twice in one collector" || fail "duplicates inside one collector"
sort -nu "$TMP/a.seqs" "$TMP/b.seqs" > "$TMP/union.seqs"
if [ "$acked" = "$N" ] && cmp -s "$TMP/union.seqs" <(seq 1 "$N"); then
	ok "union of A and B is exactly 1..$N: nothing lost"
else
	fail "union of A and B is not 1..$N (acked $acked): $(comm -3 "$TMP/union.seqs" <(seq 1 "$N") | head -5 | tr '\n' ' ')"
fi
comm -12 <(sort "$TMP/a.seqs") <(sort "$TMP/b.seqs") | sort -n > "$TMP/both.seqs"
nboth=$(wc -l < "$TMP/both.seqs")
maxa=$(tail -1 "$TMP/a.seqs")
if [ "$nboth" = 0 ]; then
	ok "no seq stored by both (no batch was in flight when A died)"
else
	first=$(head -1 "$TMP/both.seqs")
	last=$(tail -1 "$TMP/both.seqs")
	if [ "$last" = "$maxa" ] && [ $((last - first + 1)) = "$nboth" ] && [ "$nboth" -le 500 ]; then
		ok "$nboth seqs ($first..$last) stored by both: the batch in flight when A died, re-sent to B (allowed)"
	else
		fail "$nboth seqs stored by both ($first..$last, A ends at $maxa): more than the batch in flight"
	fi
fi
stop_pid "$COLLECTOR_PID"
stop_pid "$PID_B"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP"/agent-br1.log "$TMP/collector.log" &&
	fail "sanitizer report"
finish
