#!/bin/bash
# tests/fault/test_agent_silent.sh - an agent that stops reporting raises
# agent_silent: an event, an incident, one firing webhook; its cells say
# "silent" (agent_state) instead of keeping their last state; when it reports
# again the incident resolves with one resolved webhook.
#
# A real agent (central mode) probes local DNS responders; it is frozen with
# SIGSTOP (silent, nothing lost) and thawed with SIGCONT. Threshold:
# agent_silent_intervals 1 -> 1 x max(10 s, interval + timeout) + 5 s = 15 s.
TEST_NAME=agent_silent
. "$(dirname "$0")/lib.sh"
dport=$(free_port)
port=$(free_port)
rport=$(free_port)
URL=http://127.0.0.1:$port
INVENTORY_EXTRA="alerts:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$rport/hook
    kinds: [agent_silent]
thresholds:
  agent_silent_intervals: 1"
write_inventory "$TMP/inv.yaml" "$dport" 500ms 200ms branch
start_responders "$dport"
python3 "$FAULT_DIR/receiver.py" ok "$rport" "$TMP/hook.log" &
PIDS+=("$!")
start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"
start_agent branch "$URL"
AG=$AGENT_PID

# jq-free checks in one helper
check() { python3 - "$@" <<'PY'
import json, sys, urllib.request
url, what = sys.argv[1], sys.argv[2]
get = lambda p: json.load(urllib.request.urlopen(url + p, timeout=5))
if what == "open":      # the open agent_silent incident's agents, or nothing
    incs = [i for i in get("/api/v1/incidents?state=open")["incidents"] if i["kind"] == "agent_silent"]
    print(" ".join(a["agent"] for i in incs for a in i["agents"]))
elif what == "state":   # agent_state of the agent's rows
    print(" ".join(sorted(set(r["agent_state"] for r in get("/api/v1/catchments")["catchments"]))))
elif what == "resolved":
    incs = [i for i in get("/api/v1/incidents?state=resolved")["incidents"] if i["kind"] == "agent_silent"]
    print(len(incs))
elif what == "hooks":   # firing resolved counts of agent_silent notifications
    n = {"firing": 0, "resolved": 0}
    for line in open(sys.argv[3]):
        b = json.loads(line)
        if b.get("kind") == "agent_silent" and b.get("status") in n:
            n[b["status"]] += 1
    print(n["firing"], n["resolved"])
PY
}

for _ in $(seq 100); do
	[ "$(check "$URL" state)" = reporting ] && break
	sleep 0.2
done
[ "$(check "$URL" state)" = reporting ] && ok "agent reports, rows say reporting" ||
	fail "rows never said reporting: $(check "$URL" state)"
sleep 3
[ -z "$(check "$URL" open)" ] && ok "no agent_silent while it reports" || fail "agent_silent while reporting"

kill -STOP "$AG"
t0=$(date +%s)
info "agent frozen (SIGSTOP)"
got=""
for _ in $(seq 40); do
	got=$(check "$URL" open)
	[ -n "$got" ] && break
	sleep 1
done
dt=$(($(date +%s) - t0))
if [ "$got" = branch ] && [ "$dt" -ge 10 ] && [ "$dt" -le 25 ]; then
	ok "agent_silent incident for branch after $dt s"
else
	fail "agent_silent incident: '$got' after $dt s (want branch after ~15 s)"
fi
[ "$(check "$URL" state)" = silent ] && ok "rows say silent" || fail "rows say: $(check "$URL" state)"
for _ in $(seq 10); do [ "$(check "$URL" hooks "$TMP/hook.log")" = "1 0" ] && break; sleep 0.5; done
[ "$(check "$URL" hooks "$TMP/hook.log")" = "1 0" ] && ok "one firing webhook" ||
	fail "webhooks (firing resolved): $(check "$URL" hooks "$TMP/hook.log")"

kill -CONT "$AG"
info "agent thawed (SIGCONT)"
for _ in $(seq 30); do
	[ "$(check "$URL" resolved)" = 1 ] && break
	sleep 0.5
done
[ "$(check "$URL" resolved)" = 1 ] && [ -z "$(check "$URL" open)" ] &&
	ok "incident resolved when the agent reports again" || fail "incident not resolved"
for _ in $(seq 10); do [ "$(check "$URL" hooks "$TMP/hook.log")" = "1 1" ] && break; sleep 0.5; done
[ "$(check "$URL" hooks "$TMP/hook.log")" = "1 1" ] && ok "one resolved webhook" ||
	fail "webhooks (firing resolved): $(check "$URL" hooks "$TMP/hook.log")"
[ "$(check "$URL" state)" = reporting ] && ok "rows say reporting again" ||
	fail "rows say: $(check "$URL" state)"
finish
