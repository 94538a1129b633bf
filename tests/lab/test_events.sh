#!/bin/bash
# tests/lab/test_events.sh - end to end: for each lab fault the collector raises
# the right event type for exactly the affected agents (GET /api/v1/events),
# exactly one incident of the right kind opens for exactly those agents
# (GET /api/v1/incidents), the webhook gets exactly one firing notification
# for it, and heal resolves it with exactly one resolved notification and
# opens nothing new.
#
# Runs under tests/lab/run.sh (lab up, $LAB_DIR/lab.env exported, ANYCAST_BIN
# set) or alone: then it brings up its own lab with LAB_PREFIX=ev and tears it
# down at the end. The collector and a webhook receiver (python3) run in the
# noc namespace, one agent per branch namespace; every process has its own
# files under a temp dir and is stopped by PID.
# Env: ANYCAST_BIN (build dir with anycast-agent, anycast-collector),
#      EV_FAULTS (default: the service and link faults and a cost change), EV_KEEP=1 (keep the work dir),
#      BENCH_OUT (file: append one line
#      per affected agent: fault agent type convergence_ms alert_ms seen_ms, all
#      from the fault injection; convergence as lab.sh fault reports it, seen =
#      the first probe of that agent showing the change).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab/lab.sh
BIN=${ANYCAST_BIN:-$ROOT/build}
# the rest of the faults run in test_events_more.sh (each test file gets its own time budget)
FAULTS=${EV_FAULTS:-"service-down:site-a service-down:site-b link-down:site-b cost:br1"}
EVENT_WAIT=${EV_EVENT_WAIT:-40}
HOOK_PORT=9099

log() { echo "test_events: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
now_ms() { date +%s%3N; }

for b in anycast-agent anycast-collector; do
	[ -x "$BIN/$b" ] || fail "$BIN/$b not built (set ANYCAST_BIN)"
done

own_lab=0
if [ -z "${LAB_DIR:-}" ] || [ ! -f "$LAB_DIR/lab.env" ]; then
	export LAB_PREFIX=${LAB_PREFIX:-ev}
	export LAB_DIR=/tmp/anycast-lab-$LAB_PREFIX
	log "bringing up lab $LAB_PREFIX"
	"$LAB" up
	own_lab=1
fi
set -a
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"
set +a

W=$(mktemp -d /tmp/ev-events.XXXXXX)
pids=()
cleanup() {
	local rc=$? p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$LAB" heal >/dev/null 2>&1 || true
	if [ $own_lab = 1 ]; then "$LAB" down || true; fi
	if [ $rc != 0 ] || [ -n "${EV_KEEP:-}" ]; then
		log "logs kept in $W"
	else
		rm -rf "$W"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

noc() { ip netns exec "$LAB_NS_noc" "$@"; }
api() { noc curl -sf --max-time 5 "$LAB_COLLECTOR_URL$1"; }

# ---- collector config: the lab inventory + agents, thresholds, webhook route ----
mkdir -p "$W/collector"
{
	# the inventory wants timeout < interval; the lab writes 1s and 1s
	sed 's/^\( *timeout:\) 1s$/\1 800ms/' "$LAB_INVENTORY"
	echo "agents:"
	for br in $LAB_BRANCHES; do
		mkdir -p "$W/$br/spool"
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/$br/token"
		chmod 600 "$W/$br/token"
		echo "  - name: $br"
		echo "    token_sha256: $(tr -d ' \n' <"$W/$br/token" | sha256sum | cut -d' ' -f1)"
	done
	cat <<EOF
alerts:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$HOOK_PORT/hook
thresholds:
  hysteresis: 2
  outage_rounds: 2
  instance_down_agents: 1
  instance_down_rounds: 2
  split_window: 10s
  split_min_switches: 3
  # several faults move the same branches within minutes here: that is the
  # test's schedule, not flapping
  flap_changes: 10
EOF
} >"$W/collector.yaml"

cat >"$W/receiver.py" <<'EOF'
# webhook receiver: one JSON line per POST {"t": arrival ms, "body": ...}
import http.server, json, sys, time
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {"raw": body.decode(errors="replace")}
        out.write(json.dumps({"t": int(time.time() * 1000), "body": doc}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
: >"$W/hooks.jsonl"
(exec ip netns exec "$LAB_NS_noc" python3 "$W/receiver.py" $HOOK_PORT "$W/hooks.jsonl") \
	2>"$W/receiver.log" &
pids+=($!)
echo $! >"$W/receiver.pid"

(cd "$W/collector" && exec ip netns exec "$LAB_NS_noc" "$BIN/anycast-collector" \
	--config "$W/collector.yaml" --listen "$LAB_COLLECTOR_ADDR:8053" \
	--db "$W/collector/anycast.db") 2>"$W/collector.log" &
pids+=($!)
echo $! >"$W/collector/pid"
for i in $(seq 50); do
	api /healthz >/dev/null 2>&1 && break
	sleep 0.2
done
api /healthz >/dev/null || fail "collector did not come up (see $W/collector.log)"

for br in $LAB_BRANCHES; do
	ns_var=LAB_NS_$br
	(cd "$W/$br" && exec ip netns exec "${!ns_var}" "$BIN/anycast-agent" \
		--collector "$LAB_COLLECTOR_URL" --name "$br" --token-file "$W/$br/token" \
		--spool "$W/$br/spool") 2>"$W/$br/agent.log" &
	pids+=($!)
	echo $! >"$W/$br/pid"
done

# ---- JSON logic in one python helper ----
cat >"$W/check.py" <<'EOF'
import json, sys
def want(before, after, fault):
    """expected per-agent event type (dns) for a truth change"""
    exp = {}
    for br, t in after.items():
        t0, t1 = before[br]["dns"], t["dns"]
        if t1 == t0:
            continue
        if t1 is None:
            exp[br] = "outage"
        elif isinstance(t1, list):
            exp[br] = "split"
        elif t1 == "rogue":
            exp[br] = "unknown_instance"
        else:
            exp[br] = "catchment_change"
    return exp
cmd = sys.argv[1]
if cmd == "expect":   # expect BEFORE AFTER FAULT -> "br1=outage br4=outage"
    e = want(json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4])
    print(" ".join("%s=%s" % kv for kv in sorted(e.items())))
elif cmd == "baseline":  # catchments match the truth (single instances)
    rows = json.loads(sys.argv[2])["catchments"]
    truth = json.loads(sys.argv[3])
    ok = all(any(r["agent"] == br and r["service"] == "dns" and r.get("instance") == t["dns"]
                 and r.get("family", 4) == 4 for r in rows) for br, t in truth.items())
    sys.exit(0 if ok else 1)
elif cmd == "events":  # events EVENTS_FILE EXPECT OPENING|RESOLVING -> missing/unexpected
    evs = [e for e in json.load(open(sys.argv[2]))["events"] if e.get("service") == "dns"]
    exp = dict(kv.split("=") for kv in sys.argv[3].split())
    per_agent = ("catchment_change", "outage", "unknown_instance", "split")
    problems = []
    if sys.argv[4] == "opening":
        for br, ty in exp.items():
            if not any(e["agent"] == br and e["type"] == ty for e in evs):
                problems.append("missing %s for %s" % (ty, br))
        for e in evs:
            if e["type"] in per_agent and e["agent"] not in exp:
                problems.append("unexpected %s for %s" % (e["type"], e["agent"]))
    else:
        for br, ty in exp.items():
            if not any(e["agent"] == br and e.get("resolves") and
                       (e.get("incident_key") or "").startswith(ty + "/") for e in evs):
                problems.append("no resolution of %s for %s" % (ty, br))
    print("; ".join(problems))
elif cmd == "cause":  # cause EVENTS_FILE AGENT -> cause of its catchment_change
    for e in json.load(open(sys.argv[2]))["events"]:
        if e["type"] == "catchment_change" and e["agent"] == sys.argv[3] and e["service"] == "dns":
            print(e["detail"].get("cause", ""))
            break
elif cmd == "observed":  # observed RESULTS_FILE OLD_INSTANCE -> ms of the first anycast
    # dns record that no longer shows OLD_INSTANCE answering (the change as
    # the probes saw it), or nothing
    import datetime
    old = sys.argv[3]
    for r in json.load(open(sys.argv[2]))["results"]:
        if r.get("target") != "anycast" or r.get("service") != "dns":
            continue
        if r.get("outcome") == "ok" and r.get("instance") == old:
            continue
        if r.get("outcome") == "ok" and not r.get("instance") and not r.get("identity"):
            continue  # answered without identification: no evidence either way
        t = datetime.datetime.strptime(r["time"].replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
        print(int(t.timestamp() * 1000))
        break
elif cmd == "away":  # away CATCHMENTS_JSON -> agents whose dns IPv4 row is marked away
    rows = json.loads(sys.argv[2])["catchments"]
    print(" ".join(sorted(r["agent"] for r in rows
                          if r["service"] == "dns" and r["family"] == 4 and r.get("away"))))
elif cmd == "kind":  # kind FAULT -> the incident kind a fault must open
    print({"service-down": "instance_down", "link-down": "instance_down",
           "service-down-unguarded": "instance_down", "cost": "route_change",
           "ecmp": "split", "rogue": "hijack", "isolate": "branch_isolated"}[sys.argv[2]])
elif cmd == "affected":  # affected BEFORE AFTER -> agents whose truth changed (any service)
    b, a = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    print(" ".join(sorted(br for br in a if a[br] != b[br])))
elif cmd == "incident":  # incident FILE SINCE_MS KIND "AGENTS" -> "ID|problems"
    since, kind, agents = int(sys.argv[3]), sys.argv[4], set(sys.argv[5].split())
    import datetime
    def ms(t):
        return int(datetime.datetime.strptime(t.replace("Z", "+0000"),
                   "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    incs = [i for i in json.load(open(sys.argv[2]))["incidents"]
            if ms(i["started"]) >= since - 2000 and i["kind"] != "agent_silent"]
    problems = []
    if len(incs) != 1:
        problems.append("%d incidents (%s), want one %s" % (
            len(incs), ", ".join("%s:%s" % (i["kind"], i["summary"]) for i in incs), kind))
    inc = [i for i in incs if i["kind"] == kind]
    if not inc:
        problems.append("no %s incident" % kind)
        print("0|" + "; ".join(problems))
        sys.exit(0)
    got = set(a["agent"] for a in inc[0]["agents"])
    if got != agents:
        problems.append("agents %s, want %s" % (sorted(got), sorted(agents)))
    print("%d|%s" % (inc[0]["id"], "; ".join(problems)))
elif cmd == "state":  # state INCIDENT_JSON -> state duration_s
    i = json.load(open(sys.argv[2]))["incident"]
    print(i["state"], i.get("duration_s"))
elif cmd == "notes":  # notes HOOKS_FILE ID -> "firing resolved updated" counts
    n = {"firing": 0, "resolved": 0, "updated": 0}
    for line in open(sys.argv[2]):
        b = json.loads(line)["body"]
        if b.get("incident_id") == int(sys.argv[3]) and b.get("status") in n:
            n[b["status"]] += 1
    print(n["firing"], n["resolved"], n["updated"])
elif cmd == "new":  # new FILE SINCE_MS -> incidents started since (not agent_silent)
    import datetime
    def ms(t):
        return int(datetime.datetime.strptime(t.replace("Z", "+0000"),
                   "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    print(" ".join("%s:%s" % (i["kind"], i["summary"]) for i in json.load(open(sys.argv[2]))["incidents"]
                   if ms(i["started"]) >= int(sys.argv[3]) and i["kind"] != "agent_silent"))
elif cmd == "hooks":  # hooks FILE SINCE_MS EXPECT STATUS -> missing + first arrival ms
    since, exp, status = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    exp = dict(kv.split("=") for kv in exp.split())
    got = {}
    for line in open(sys.argv[2]):
        h = json.loads(line)
        b = h["body"]
        if h["t"] < since or b.get("status") != status or b.get("service") != "dns":
            continue
        inc = b.get("incident") or ""
        for br, ty in exp.items():
            if b.get("agent") == br and inc.startswith(ty + "/"):
                got.setdefault(br, h["t"])
    missing = [br for br in exp if br not in got]
    print(" ".join(missing) + "|" + " ".join("%s=%d" % kv for kv in sorted(got.items())))
EOF
py() { python3 "$W/check.py" "$@"; }
evs=$W/events.json
fetch_events() { # the events since $1 into $evs
	api "/api/v1/events?since=$1&limit=1000" >"$evs.tmp" && mv "$evs.tmp" "$evs" ||
		echo '{"events":[]}' >"$evs"
}
rfc3339() { date -u -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ; }

# ---- baseline: every branch's dns catchment known and equal to the truth ----
truth=$("$LAB" truth)
ok=0
for i in $(seq 60); do
	if rows=$(api /api/v1/catchments) && py baseline "$rows" "$truth"; then
		ok=1
		break
	fi
	sleep 1
done
[ $ok = 1 ] || fail "catchments never matched the truth $truth: ${rows:-}"
log "baseline catchments match the truth"
sleep 3

failures=0
for spec in $FAULTS; do
	fault=${spec%%:*}
	arg=""
	[ "$spec" != "$fault" ] && arg=${spec#*:}
	before=$("$LAB" truth)
	t_fault=$(now_ms)
	conv_line=$("$LAB" fault "$fault" $arg 2>&1 | tee -a "$W/lab.log" | grep -o 'took effect in [0-9.]* s' || true)
	conv_ms=$(echo "$conv_line" | awk '{ printf "%d", $4 * 1000 }')
	after=$("$LAB" truth)
	expect=$(py expect "$before" "$after" "$fault")
	log "fault $fault $arg: converged in ${conv_ms:-?} ms; expect: ${expect:-nothing}"
	since=$(rfc3339 "$t_fault")

	problems="waiting"
	for i in $(seq "$EVENT_WAIT"); do
		fetch_events "$since"
		problems=$(py events "$evs" "$expect" opening)
		[ -z "$problems" ] && break
		sleep 1
	done
	sleep 3 # anything unexpected arriving late?
	fetch_events "$since"
	problems=$(py events "$evs" "$expect" opening)
	if [ -n "$problems" ]; then
		log "FAIL fault $fault $arg: $problems"
		failures=$((failures + 1))
	else
		log "ok: events for exactly the affected agents"
	fi
	for kv in $expect; do
		br=${kv%%=*}
		ty=${kv#*=}
		[ "$ty" = catchment_change ] || continue
		cause=$(py cause "$evs" "$br")
		case $fault in service-down | link-down) wantc=failover ;; *) wantc=route_change ;; esac
		if [ "$cause" != "$wantc" ]; then
			log "FAIL fault $fault $arg: $br cause '$cause', expected $wantc"
			failures=$((failures + 1))
		fi
	done
	# ---- the incident: exactly one, the right kind, exactly the affected agents ----
	kind=$(py kind "$fault")
	affected=$(py affected "$before" "$after")
	inc_id=0
	for i in $(seq "$EVENT_WAIT"); do
		api "/api/v1/incidents?limit=50" >"$W/incidents.json" || echo '{"incidents":[]}' >"$W/incidents.json"
		res=$(py incident "$W/incidents.json" "$t_fault" "$kind" "$affected")
		inc_id=${res%%|*}
		[ -z "${res#*|}" ] && break
		sleep 1
	done
	if [ -n "${res#*|}" ]; then
		log "FAIL fault $fault $arg: ${res#*|}"
		failures=$((failures + 1))
	else
		log "ok: one $kind incident ($inc_id) for $affected"
	fi
	# a branch served by another instance than its home is marked away
	want_away=$(for kv in $expect; do if [ "${kv#*=}" = catchment_change ]; then echo "${kv%%=*}"; fi; done | sort | xargs)
	if [ -n "$want_away" ]; then
		away=$(py away "$(api /api/v1/catchments)")
		if [ "$away" != "$want_away" ]; then
			log "FAIL fault $fault $arg: away marks on '$away', want '$want_away'"
			failures=$((failures + 1))
		else
			log "ok: away: $away"
		fi
	fi
	notes="0 0 0"
	for i in $(seq 10); do
		notes=$(py notes "$W/hooks.jsonl" "$inc_id")
		[ "${notes%% *}" != 0 ] && break
		sleep 1
	done
	if [ "${notes%% *}" != 1 ]; then
		log "FAIL fault $fault $arg: incident $inc_id: ${notes%% *} firing notifications, want 1"
		failures=$((failures + 1))
	fi
	if [ -n "${BENCH_OUT:-}" ] && [ "$inc_id" != 0 ]; then
		# first firing notification of the incident, and the first probe that saw the change
		t_alert=$(python3 -c "import json,sys
for l in open('$W/hooks.jsonl'):
    h = json.loads(l)
    if h['body'].get('incident_id') == $inc_id and h['body'].get('status') == 'firing':
        print(h['t']); break")
		for br in $affected; do
			oldi=$(echo "$before" | python3 -c "import json,sys; print(json.load(sys.stdin)['$br']['dns'])")
			api "/api/v1/results?agent=$br&service=dns&from=$(rfc3339 "$t_fault")&limit=1000" \
				>"$W/results.json" || echo '{"results":[]}' >"$W/results.json"
			seen=$(py observed "$W/results.json" "$oldi")
			echo "$fault${arg:+:$arg} $br $kind ${conv_ms:-0} $((${t_alert:-$t_fault} - t_fault)) $((${seen:-$t_fault} - t_fault))" >>"$BENCH_OUT"
		done
	fi

	t_heal=$(now_ms)
	"$LAB" heal 2>>"$W/lab.log"
	since=$(rfc3339 "$t_heal")
	for i in $(seq "$EVENT_WAIT"); do
		fetch_events "$since"
		problems=$(py events "$evs" "$expect" resolving)
		[ -z "$problems" ] && break
		sleep 1
	done
	if [ -n "$problems" ]; then
		log "FAIL heal after $fault $arg: $problems"
		failures=$((failures + 1))
	fi
	state="open"
	for i in $(seq 90); do
		if [ "$inc_id" != 0 ] && api "/api/v1/incidents/$inc_id" >"$W/incident.json"; then
			state=$(py state "$W/incident.json")
			[ "${state%% *}" = resolved ] && break
		fi
		sleep 1
	done
	if [ "${state%% *}" != resolved ]; then
		log "FAIL heal after $fault $arg: incident $inc_id is $state"
		failures=$((failures + 1))
	else
		for i in $(seq 10); do
			notes=$(py notes "$W/hooks.jsonl" "$inc_id")
			[ "$(echo "$notes" | cut -d' ' -f2)" != 0 ] && break
			sleep 1
		done
		if [ "$(echo "$notes" | cut -d' ' -f1-2)" != "1 1" ]; then
			log "FAIL heal after $fault $arg: incident $inc_id notifications (firing resolved updated): $notes"
			failures=$((failures + 1))
		else
			log "ok: incident $inc_id resolved after ${state#* } s; notifications (firing resolved updated): $notes"
		fi
	fi
	sleep 8 # let hysteresis and the hold settle before the next fault
	away=$(py away "$(api /api/v1/catchments)")
	if [ -n "$away" ]; then
		log "FAIL heal after $fault $arg: still marked away: $away"
		failures=$((failures + 1))
	fi
	api "/api/v1/incidents?limit=50" >"$W/incidents.json" || echo '{"incidents":[]}' >"$W/incidents.json"
	extra=$(py new "$W/incidents.json" "$t_heal")
	if [ -n "$extra" ]; then
		log "FAIL heal after $fault $arg opened incidents: $extra"
		failures=$((failures + 1))
	fi
done

[ $failures = 0 ] || fail "$failures check(s) failed"
log "PASS"
