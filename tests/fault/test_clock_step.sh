#!/bin/bash
# tests/fault/test_clock_step.sh - the agent's wall clock steps forwards and
# backwards: probing, numbering and the collector's view stay sane.
#
# libfaketime (LD_PRELOAD, offset re-read from a file every second) shifts the
# agents' CLOCK_REALTIME only (the monotonic clock is real, as with a real
# clock step) through: +0, +1 h, -1 h (a 2 h step back), -1 h 30 s, +0, each
# PHASE seconds. A standalone agent (JSON lines) and a central-mode agent
# reporting to an unshifted collector both probe three local DNS responders
# that always answer. Checks: the shift reached the agents (record times span
# over an hour); every rtt_ms is set, >= 0 and below the timeout; every probe
# is ok (no timeout invented by a step); seq goes up by exactly 1 each record;
# rounds keep their 500 ms pace (no burst or stall); the collector stores every
# central result once and raises no event (nothing real happened).
TEST_NAME=clock_step
. "$(dirname "$0")/lib.sh"
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2> /dev/null | head -1 || true)
[ -n "$FT" ] || { echo "SKIP $TEST_NAME: libfaketime not installed (Debian package faketime)"; exit 0; }
PHASE=${PHASE:-6}
dport=$(free_port)
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" "$dport" 500ms 500ms branch
sed -n '/^services:/,/^agents:/p' "$TMP/inv.yaml" | sed '$d' > "$TMP/agent.yaml"
start_responders "$dport"
start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"

echo "+0" > "$TMP/offset"
FTENV=(env LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$TMP/offset" FAKETIME_CACHE_DURATION=1
	FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")
AGENT_WRAP=("${FTENV[@]}")
start_agent branch "$URL"
CENTRAL=$AGENT_PID
(cd "$TMP" && exec "${FTENV[@]}" "$AGENT" --config "$TMP/agent.yaml" --spool "$TMP/spool-standalone") \
	> "$TMP/standalone.jsonl" 2> "$TMP/agent-standalone.log" &
STANDALONE=$!
PIDS+=("$STANDALONE")
t0=$(date +%s.%N)
for off in +0 +3600 -3600 -3630 +0; do
	echo "$off" > "$TMP/offset"
	info "agent clock offset $off s"
	sleep "$PHASE"
done
stop_pid "$STANDALONE"
[ "$STOP_RC" = 0 ] || fail "standalone agent exit $STOP_RC"
elapsed=$(python3 -c "import time; print(time.time() - $t0)")
sleep 1
stop_pid "$CENTRAL"
[ "$STOP_RC" = 0 ] || fail "central agent exit $STOP_RC"

r=$(python3 - "$TMP/standalone.jsonl" "$elapsed" 500 <<'PY'
import json, sys
from datetime import datetime
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
elapsed, timeout = float(sys.argv[2]), float(sys.argv[3])
seqs = [r["seq"] for r in recs]
steps_bad = sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1)
rtts = [r["rtt_ms"] for r in recs]
bad_rtt = sum(1 for x in rtts if x is None or x < 0 or x >= timeout)
not_ok = sum(1 for r in recs if r["outcome"] != "ok")
times = [datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in recs]
back = sum(1 for a, b in zip(times, times[1:]) if b < a - 1)
rounds = len({r["round"] for r in recs})
print(f"records={len(recs)} seq_first={seqs[0] if seqs else 0} seq_not_plus1={steps_bad} "
      f"rtt_bad={bad_rtt} rtt_max={max(x for x in rtts if x is not None) if rtts else 0:.1f} not_ok={not_ok} "
      f"time_span_s={max(times) - min(times):.0f} time_steps_back={back} rounds={rounds} "
      f"rounds_expected={elapsed / 0.5:.0f}")
ok = (recs and steps_bad == 0 and bad_rtt == 0 and not_ok == 0 and max(times) - min(times) > 3600
      and 0.6 * elapsed / 0.5 <= rounds <= 1.3 * elapsed / 0.5 + 2)
sys.exit(0 if ok else 1)
PY
) && ok "standalone agent across clock steps: $r" || fail "standalone agent across clock steps: $r"

last=$(($(agent_state branch next_seq) - 1))
if r=$(seq_report "$URL" branch "$last"); then
	ok "central agent across clock steps: all $last results stored once ($r)"
else
	fail "central agent results across clock steps: $r"
fi
ev=$(curl -fs "$URL/api/v1/events?limit=1000" | python3 -c 'import json,sys
e = json.load(sys.stdin)["events"]
print(len(e), " ".join(sorted({x["type"] for x in e})))')
[ "${ev%% *}" = 0 ] && ok "collector raised no event from the clock steps" ||
	fail "collector raised events with every responder up: $ev"
st=$(curl -fs "$URL/api/v1/catchments" | python3 -c 'import json,sys
print(" ".join("%s/%s=%s:%s" % (c["agent"], c["service"], c["status"], c["instance"])
               for c in json.load(sys.stdin)["catchments"]))')
[ "$st" = "branch/dns=ok:site-a" ] && ok "catchment after the steps: $st" || fail "catchment after the steps: $st"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP"/*.log && fail "sanitizer report"
finish
