#!/bin/bash
# tests/fault/test_valgrind.sh - collector and agents under valgrind memcheck:
# no invalid access, no definite leak, through ingest, the read API and SIGTERM.
#
# Builds the daemons without sanitizers (valgrind and ASan do not mix) in
# $VALGRIND_BUILD (default $ANYCAST_BIN/valgrind), then runs under
# valgrind --leak-check=full --error-exitcode=99: the collector; an agent in
# central mode reporting to it; a standalone agent (JSON lines) probing local
# DNS responders. For DURATION seconds (default 20) a generator posts batches,
# bad requests are sent (no token, bad JSON, unknown path, too large) and every
# read endpoint is polled. Then each daemon gets SIGTERM. Checks: each exits 0
# (valgrind exits 99 on an error), its log says "ERROR SUMMARY: 0 errors" and
# "definitely lost" is 0 (or all heap blocks were freed).
TEST_NAME=valgrind
. "$(dirname "$0")/lib.sh"
command -v valgrind > /dev/null || { echo "SKIP $TEST_NAME: valgrind not installed"; exit 0; }
VB=${VALGRIND_BUILD:-$BIN/valgrind}
DURATION=${DURATION:-20}
if true; then # incremental: quick when up to date
	cmake -S "$FAULT_ROOT" -B "$VB" -DANYCAST_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug > "$TMP/vg-cmake.log" 2>&1 &&
		cmake --build "$VB" -j"$(nproc)" --target anycast-collector anycast-agent > "$TMP/vg-build.log" 2>&1 ||
		{ fail "build without sanitizers failed (see $TMP/vg-build.log)"; tail -20 "$TMP/vg-build.log"; exit 1; }
fi
COLLECTOR=$VB/anycast-collector
AGENT=$VB/anycast-agent
VG=(valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
	--error-exitcode=99 --num-callers=30)
# ASan options from scripts/test.sh mean nothing here
unset ASAN_OPTIONS UBSAN_OPTIONS

dport=$(free_port)
port=$(free_port)
URL=http://127.0.0.1:$port
start_responders "$dport"
write_inventory "$TMP/inv.yaml" "$dport" 500ms 300ms central gen
sed -n '/^services:/,/^agents:/p' "$TMP/inv.yaml" | sed '$d' > "$TMP/agent.yaml"

WAIT_S=90 start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db" "${VG[@]}" --log-file="$TMP/vg-collector.log"
AGENT_WRAP=("${VG[@]}" --log-file="$TMP/vg-agent-central.log")
start_agent central "$URL"
CENTRAL=$AGENT_PID
(cd "$TMP" && exec "${VG[@]}" --log-file="$TMP/vg-agent-standalone.log" "$AGENT" --config "$TMP/agent.yaml" \
	--spool "$TMP/spool-standalone") > "$TMP/standalone.jsonl" 2> "$TMP/agent-standalone.log" &
STANDALONE=$!
PIDS+=("$STANDALONE")

python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" 100000 20 "$TMP/ack.log" --pace 0.2 &
GEN=$!
PIDS+=("$GEN")
end=$(($(date +%s) + DURATION))
reads=0
bad=()
tok=$(cat "$TMP/central.token")
head -c 17000000 /dev/zero | tr '\0' 'x' > "$TMP/big.json"
while [ "$(date +%s)" -lt "$end" ]; do
	for p in /api/v1/catchments /api/v1/events /api/v1/instances /api/v1/agents \
		"/api/v1/results?agent=central&limit=50" "/api/v1/results?agent=gen&after_seq=10&limit=1000" \
		/metrics /healthz / "/api/v1/events?type=outage&since=2020-01-01T00:00:00Z"; do
		c=$(http_code "$URL$p")
		reads=$((reads + 1))
		[ "$c" = 200 ] || bad+=("$p:$c")
	done
	http_code "$URL/api/v1/agent/config" -H "Authorization: Bearer $tok" > /dev/null
	http_code "$URL/api/v1/results" -X POST -d '{"results":[' -H "Authorization: Bearer $tok" > "$TMP/c400"
	http_code "$URL/api/v1/results" -X POST -d '{"results":[]}' > "$TMP/c401"
	http_code "$URL/nope" > "$TMP/c404"
	sleep 0.5
done
c413=$(http_code "$URL/api/v1/results" -X POST --data-binary @"$TMP/big.json" -H "Authorization: Bearer $tok")
info "error answers: bad JSON $(cat "$TMP/c400"), no token $(cat "$TMP/c401"), unknown path $(cat "$TMP/c404"), 17 MB body $c413"
[ ${#bad[@]} -eq 0 ] && ok "$reads read requests under valgrind answered 200" ||
	fail "read requests not 200: ${bad[*]:0:10}"
kill "$GEN" 2>/dev/null || true
acked=$(awk '$2 == 200' "$TMP/ack.log" | wc -l)
[ "$acked" -gt 10 ] && ok "$acked ingest batches answered 200 under valgrind" || fail "only $acked ingest batches acknowledged"
lines=$(wc -l < "$TMP/standalone.jsonl")
okres=$(grep -c '"outcome":"ok"' "$TMP/standalone.jsonl" || true)
[ "$okres" -gt 0 ] && ok "standalone agent wrote $lines results ($okres ok) under valgrind" ||
	fail "standalone agent wrote $lines results, none ok"

check_vg() { # name pid log
	stop_pid "$2"
	local lost inuse
	lost=$(grep -o 'definitely lost: [0-9,]* bytes' "$3" | head -1 || true)
	inuse=$(grep -o 'in use at exit: [0-9,]* bytes in [0-9,]* blocks' "$3" | head -1 || true)
	if [ "$STOP_RC" = 0 ] && grep -q 'ERROR SUMMARY: 0 errors' "$3" &&
		! grep -q 'definitely lost: [1-9]' "$3"; then
		ok "$1: exit 0 after SIGTERM, ERROR SUMMARY: 0 errors, ${lost:-definitely lost: 0 (no leak)}; ${inuse:-in use at exit: ?}"
	else
		fail "$1: exit $STOP_RC (99 = valgrind error); see $3"
		head -60 "$3"
	fi
}
check_vg "central agent" "$CENTRAL" "$TMP/vg-agent-central.log"
check_vg "standalone agent" "$STANDALONE" "$TMP/vg-agent-standalone.log"
sleep 1
check_vg collector "$COLLECTOR_PID" "$TMP/vg-collector.log"
n=$(($(agent_state central next_seq) - 1))
WAIT_S=90 start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"
if r=$(seq_report "$URL" central "$n"); then ok "central agent's $n results all stored once ($r)"; else fail "central agent results: $r"; fi
finish
