#!/bin/bash
# tests/fault/test_collector_kill_under_ingest.sh - kill -9 the collector while
# batches stream in: every acknowledged batch survives, re-sends never duplicate.
#
# A generator (loadgen.py) POSTs NB (2,000) numbered batches of SIZE (25) results, each
# tried once. Meanwhile the collector is killed with SIGKILL KILLS times at
# random moments and restarted on the same database. Then every batch without
# a 200 answer is re-sent. Checks: every seq of a 200-acknowledged batch is
# stored; in the end seqs 1..NB*SIZE are each stored exactly once; the sum of
# "stored" and "duplicates" over all 200 answers is NB*SIZE (a batch stored
# just before a kill is reported as duplicates on its re-send, never stored twice).
TEST_NAME=collector_kill_under_ingest
. "$(dirname "$0")/lib.sh"
NB=${NB:-2000}
SIZE=${SIZE:-25}
KILLS=${KILLS:-4}
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" 1 5s 1s gen
DB=$TMP/collector.db

start_collector "$TMP/inv.yaml" "$port" "$DB"
: > "$TMP/ack.log"
python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" "$NB" "$SIZE" "$TMP/ack.log" &
GEN=$!
PIDS+=("$GEN")
killed=0
for k in $(seq "$KILLS"); do
	sleep "0.$((3 + RANDOM % 7))" # 0.3 .. 0.9 s
	kill -0 "$GEN" 2>/dev/null || break
	lines=$(wc -l < "$TMP/ack.log")
	kill -9 "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null || true
	killed=$((killed + 1))
	info "kill -9 #$k after $lines batches answered"
	sleep 0.3
	start_collector "$TMP/inv.yaml" "$port" "$DB"
done
wait "$GEN" || true
[ "$killed" -ge 3 ] && ok "collector killed with SIGKILL $killed times under ingest" ||
	fail "only $killed kills landed during ingest (generator too fast? raise NB)"

acked=$(awk '$2 == 200' "$TMP/ack.log" | wc -l)
refused=$(awk '$2 != 200' "$TMP/ack.log" | wc -l)
info "first pass: $acked batches acknowledged, $refused unanswered or refused"
awk '$2 == 200 { for (i = 1; i <= '"$SIZE"'; i++) print $1 * '"$SIZE"' + i }' "$TMP/ack.log" > "$TMP/acked.seqs"
if r=$(seq_report "$URL" gen --seqs "$TMP/acked.seqs"); then
	ok "every acknowledged result is stored after the kills ($r)"
else
	fail "acknowledged results lost or doubled: $r"
fi

r=$(python3 "$FAULT_DIR/loadgen.py" resend "$URL" "$TMP/gen.token" "$NB" "$SIZE" "$TMP/ack.log") ||
	fail "re-send did not complete"
info "re-send of unacknowledged batches: $r"
total=$((NB * SIZE))
if r2=$(seq_report "$URL" gen "$total"); then
	ok "after re-sending: all $total results stored exactly once ($r2)"
else
	fail "after re-sending: $r2"
fi
sum=$(awk '$2 == 200 { s += $3; d += $4 } END { print s + 0, d + 0 }' "$TMP/ack.log")
if [ "${sum% *}" -lt "$total" ] && [ $((${sum% *} + ${sum#* })) = "$total" ]; then
	ok "200 answers: ${sum% *} stored + ${sum#* } duplicates = $total (batches stored just before a kill came back as duplicates)"
elif [ "$sum" = "$total 0" ]; then
	ok "200 answers: $total stored, 0 duplicates (no kill landed between commit and answer)"
else
	fail "200 answers: stored+duplicates = $sum, expected $total"
fi
stop_pid "$COLLECTOR_PID"
st=$STOP_RC
[ "$st" = 0 ] && ok "collector stops cleanly on SIGTERM after the kills" || fail "collector exit $st on SIGTERM"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP/collector.log" && fail "sanitizer report in collector log"
finish
