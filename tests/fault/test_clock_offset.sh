#!/bin/bash
# tests/fault/test_clock_offset.sh - the agent's clock offset against the
# collector's, end to end: an agent with a right clock never warns; one whose
# wall clock libfaketime puts 5 s ahead (monotonic clock real) warns once,
# after 3 reports, and both report their estimate (from the ingest answer's
# time_ms, not the 1 s Date header) in the self-report the collector keeps.
# Three local DNS responders answer the probes; the collector is not shifted.
TEST_NAME=clock_offset
. "$(dirname "$0")/lib.sh"
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2> /dev/null | head -1 || true)
[ -n "$FT" ] || { echo "SKIP $TEST_NAME: libfaketime not installed (Debian package faketime)"; exit 0; }
RUN_S=${RUN_S:-8}
dport=$(free_port)
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" "$dport" 500ms 500ms right ahead
start_responders "$dport"
start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"

start_agent right "$URL"
AGENT_WRAP=(env LD_PRELOAD="$FT" FAKETIME="+5s" FAKETIME_DONT_FAKE_MONOTONIC=1
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")
start_agent ahead "$URL"
AHEAD=$AGENT_PID
AGENT_WRAP=()
sleep "$RUN_S"

# The self-reports the collector holds: clock_offset_ms is the agent's clock
# minus the collector's.
if r=$(curl -fs "$URL/api/v1/agents" | python3 -c '
import json, sys
a = {x["name"]: x.get("status") or {} for x in json.load(sys.stdin)["agents"]}
r, h = a["right"], a["ahead"]
ro, rb = r.get("clock_offset_ms"), r.get("clock_offset_bound_ms")
ho, hb = h.get("clock_offset_ms"), h.get("clock_offset_bound_ms")
print(f"right {ro} +- {rb} ms, ahead {ho} +- {hb} ms")
# Each estimate must hold the truth (0 and +5000 ms) within its bound
# (half a loopback round trip; 1 ms of rounding allowed).
ok = (None not in (ro, rb, ho, hb) and abs(ro) <= rb + 1 and abs(ho - 5000) <= hb + 1
      and rb < 500 and hb < 500)
sys.exit(0 if ok else 1)'); then
	ok "offsets in the self-reports: $r"
else
	fail "offsets in the self-reports: $r"
fi

n=$(grep -c "clock:" "$TMP/agent-right.log" || true)
[ "$n" = 0 ] && ok "right clock: no clock line" ||
	{ fail "right clock: $n clock lines"; grep "clock:" "$TMP/agent-right.log" | head -3; }
n=$(grep -c "clock: this host.s clock is [45]\.[0-9]* s ahead of the collector.s (+-0\.[0-9]* s, 3 reports in a row)" \
	"$TMP/agent-ahead.log" || true)
m=$(grep -c "clock:" "$TMP/agent-ahead.log" || true)
[ "$n" = 1 ] && [ "$m" = 1 ] && ok "5 s ahead: one warning after 3 reports" ||
	{ fail "5 s ahead: $n warnings, $m clock lines"; grep "clock:" "$TMP/agent-ahead.log" | head -3; }
posts=$(grep -c . "$TMP/agent-ahead.log" || true)
info "ahead agent log: $posts lines"

stop_pid "$AHEAD"
[ "$STOP_RC" = 0 ] || fail "ahead agent exit $STOP_RC"
finish
