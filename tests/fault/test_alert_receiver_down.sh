#!/bin/bash
# tests/fault/test_alert_receiver_down.sh - the alert webhook is stuck, then
# down, while incidents happen: each alert arrives once when it comes back,
# and ingest does not slow down meanwhile.
#
# A real agent (central mode) probes three local DNS responders; a generator
# posts a batch of 20 results every 0.1 s and records each POST's latency.
# The webhook receiver first accepts and never answers (DOWN/2 s), then is
# gone (connection refused, DOWN/2 s). Meanwhile responders are killed and
# restarted: instance_down, outage, instance_up, recovery. Then the receiver
# comes back. Checks: every routed incident opened or resolved while it was
# down reaches it (one firing, one resolved notification), none twice; ingest p95 latency while it was down stays close to the
# latency while it was up, and no POST took a second or more.
TEST_NAME=alert_receiver_down
. "$(dirname "$0")/lib.sh"
DOWN=${DOWN:-30}
dport=$(free_port)
port=$(free_port)
rport=$(free_port)
URL=http://127.0.0.1:$port
INVENTORY_EXTRA="alerts:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$rport/hook
    events: [outage, recovery, instance_down, instance_up]"
write_inventory "$TMP/inv.yaml" "$dport" 500ms 200ms branch gen
start_responders "$dport"
python3 "$FAULT_DIR/receiver.py" ok "$rport" "$TMP/hook.log" &
RECV=$!
PIDS+=("$RECV")
start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"
start_agent branch "$URL"
python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" 100000 20 "$TMP/ack.log" --pace 0.1 &
GEN=$!
PIDS+=("$GEN")
sleep 8
t_down=$(date +%s.%N)
kill "$RECV"; wait "$RECV" 2>/dev/null || true
python3 "$FAULT_DIR/receiver.py" hang "$rport" &
RECV=$!
PIDS+=("$RECV")
info "receiver hangs (accepts, never answers)"
half=$((DOWN / 2))
sleep 2;            kill "${RESP[3]}"; info "site-b management responder stopped"
sleep $((half - 6)); kill "${RESP[1]}"; info "anycast responder stopped"
sleep 4
kill "$RECV"; wait "$RECV" 2>/dev/null || true
info "receiver gone (connection refused)"
sleep 2;            start_responder 3 "$dport"; info "site-b management responder back"
sleep $((half - 8)); start_responder 1 "$dport"; info "anycast responder back"
sleep 6
t_up=$(date +%s.%N)
python3 "$FAULT_DIR/receiver.py" ok "$rport" "$TMP/hook.log" &
RECV=$!
PIDS+=("$RECV")
info "receiver back after $(python3 -c "print(round($t_up - $t_down))") s"

python3 - "$URL" "$TMP/hook.log" "$t_down" "$t_up" > "$TMP/check.out" <<'PY' &
# Alerts follow incidents: every incident the route selects reaches the
# receiver once firing and, once resolved, once resolved, however long the
# receiver was away.
import json, sys, time, urllib.request
url, hook, t_down, t_up = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
kinds = {"outage", "instance_down", "branch_isolated"}  # route events: outage, instance_down
def state():
    with urllib.request.urlopen(url + "/api/v1/incidents?limit=1000") as r:
        incs = {i["id"]: i for i in json.load(r)["incidents"] if i["kind"] in kinds}
    notes = {}
    for l in open(hook):
        if not l.strip():
            continue
        b = json.loads(l)
        notes.setdefault((b.get("incident_id"), b.get("status")), []).append(b)
    return incs, notes
def complete(incs, notes):
    return all(len(notes.get((i, "firing"), [])) >= 1 and
               (inc["state"] != "resolved" or len(notes.get((i, "resolved"), [])) >= 1)
               for i, inc in incs.items())
deadline = time.time() + 90
while True:
    incs, notes = state()
    if (incs and complete(incs, notes)) or time.time() > deadline:
        break
    time.sleep(1)
time.sleep(3)  # a late duplicate would show up now
incs, notes = state()
dups = sorted(k for k, v in notes.items() if len(v) > 1 and k[1] in ("firing", "resolved"))
missing = sorted(i for i, inc in incs.items() if not notes.get((i, "firing")) or
                 (inc["state"] == "resolved" and not notes.get((i, "resolved"))))
got_kinds = sorted({inc["kind"] for inc in incs.values()})
resolved = sum(1 for inc in incs.values() if inc["state"] == "resolved")
print(f"incidents={len(incs)} kinds={','.join(got_kinds)} resolved={resolved} "
      f"notifications={sum(len(v) for v in notes.values())} duplicates={len(dups)} "
      f"missing={len(missing)} delivered_after_return_s={round(time.time() - t_up)}")
sys.exit(0 if incs and not dups and not missing and resolved >= 1 and
         "instance_down" in got_kinds else 1)
PY
CHK=$!
sleep 12 # ingest latency with the receiver back
kill "$GEN" 2>/dev/null || true
if wait "$CHK"; then
	ok "every routed incident reached the receiver exactly once (firing, resolved) after it came back ($(cat "$TMP/check.out"))"
else
	fail "alert delivery after the receiver came back: $(cat "$TMP/check.out")"
fi
lat=$(python3 - "$TMP/ack.log" "$t_down" "$t_up" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
t_down, t_up = float(sys.argv[2]), float(sys.argv[3])
def stats(sel):
    v = sorted(float(r[4]) for r in sel)
    if not v: return (0, 0, 0, 0)
    return (len(v), v[len(v) // 2], v[int(len(v) * 0.95)], v[-1])
up = stats([r for r in rows if r[1] == "200" and (float(r[5]) < t_down or float(r[5]) > t_up)])
down = stats([r for r in rows if r[1] == "200" and t_down <= float(r[5]) <= t_up])
bad = sum(1 for r in rows if r[1] != "200")
print(f"{up[0]} {up[1]:.1f} {up[2]:.1f} {up[3]:.1f} {down[0]} {down[1]:.1f} {down[2]:.1f} {down[3]:.1f} {bad}")
PY
)
read -r nu mu pu xu nd md pd xd nbad <<< "$lat"
info "ingest latency, receiver up:   $nu POSTs, median $mu ms, p95 $pu ms, max $xu ms"
info "ingest latency, receiver down: $nd POSTs, median $md ms, p95 $pd ms, max $xd ms"
[ "$nbad" = 0 ] && ok "all $((nu + nd)) ingest POSTs answered 200" || fail "$nbad ingest POSTs not answered 200"
if python3 -c "import sys; sys.exit(0 if $nd > 50 and $pd <= 3 * $pu + 50 and $xd < 1000 else 1)"; then
	ok "ingest not slowed by the dead receiver (p95 $pd ms down vs $pu ms up, max $xd ms)"
else
	fail "ingest slowed while the receiver was down (p95 $pd ms vs $pu ms, max $xd ms, $nd POSTs)"
fi
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP/collector.log" && fail "sanitizer report"
finish
