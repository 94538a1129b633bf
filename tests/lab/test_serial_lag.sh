#!/bin/bash
# tests/lab/test_serial_lag.sh - answer integrity in the lab: with an SOA
# check configured, the healthy lab (NSD, Knot and Unbound serving the same
# zone) raises no answer-integrity event; when site-a's zone serial is bumped
# (zone file rewritten, NSD reloaded with SIGHUP), serial_lag opens for
# site-b and site-c (the instances now behind) within the threshold plus a
# few rounds, naming the agents they serve, and resolves once site-a is back
# at the old serial. Then site-a serves other data (the SOA's RNAME) under the
# same serial: inconsistent_answer opens for site-a alone (site-b and site-c
# agree) and resolves on heal.
#
# Runs under tests/lab/run.sh (lab up, $LAB_DIR/lab.env exported, ANYCAST_BIN
# set) or alone: then it brings up its own lab (LAB_PREFIX, default sl) and
# tears it down at the end. The collector runs in the noc namespace, one agent
# per branch; every process has its files under a temp dir and is stopped by
# PID. Env: ANYCAST_BIN, SL_KEEP=1 (keep the work dir).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab/lab.sh
BIN=${ANYCAST_BIN:-$ROOT/build}
LAG_S=3
WAIT_S=20 # threshold + rounds + ingest, generously

log() { echo "test_serial_lag: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

for b in anycast-agent anycast-collector; do
	[ -x "$BIN/$b" ] || fail "$BIN/$b not built (set ANYCAST_BIN)"
done

own_lab=0
if [ -z "${LAB_DIR:-}" ] || [ ! -f "$LAB_DIR/lab.env" ]; then
	export LAB_PREFIX=${LAB_PREFIX:-sl}
	export LAB_DIR=/tmp/anycast-lab-$LAB_PREFIX
	log "bringing up lab $LAB_PREFIX"
	"$LAB" up
	own_lab=1
fi
set -a
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"
set +a

W=$(mktemp -d /tmp/sl-serial.XXXXXX)
ZONE=$LAB_DIR/site-a/lab.zone
NSD_PID=$LAB_DIR/site-a/dns.pid
cp "$ZONE" "$W/lab.zone.orig"
pids=()
restore_zone() {
	cp "$W/lab.zone.orig" "$ZONE"
	touch "$ZONE"
	kill -HUP "$(cat "$NSD_PID")" 2>/dev/null || true
}
cleanup() {
	local rc=$? p
	restore_zone || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ $own_lab = 1 ]; then "$LAB" down || true; fi
	if [ $rc != 0 ] || [ -n "${SL_KEEP:-}" ]; then
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
site_a_serial() {
	ip netns exec "$LAB_NS_noc" dig +time=1 +tries=1 +short @"$1" lab. SOA 2>/dev/null |
		awk '{ print $3 }'
}

# ---- the lab inventory with an SOA check, agents, a short threshold ----
mkdir -p "$W/collector"
{
	sed -e 's/^\( *timeout:\) 1s$/\1 800ms/' \
		-e '/^    query_type: SOA$/a\    checks:\n      - { name: soa, query: "lab. SOA", every: 1s }' \
		"$LAB_INVENTORY"
	echo "agents:"
	for br in $LAB_BRANCHES; do
		mkdir -p "$W/$br/spool"
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/$br/token"
		chmod 600 "$W/$br/token"
		echo "  - name: $br"
		echo "    token_sha256: $(tr -d ' \n' <"$W/$br/token" | sha256sum | cut -d' ' -f1)"
	done
	echo "thresholds:"
	echo "  serial_lag: ${LAG_S}s"
} >"$W/collector.yaml"
grep -q 'name: soa' "$W/collector.yaml" || fail "could not add the check to the inventory"

(cd "$W/collector" && exec ip netns exec "$LAB_NS_noc" "$BIN/anycast-collector" \
	--config "$W/collector.yaml" --listen "$LAB_COLLECTOR_ADDR:8053" \
	--db "$W/collector/anycast.db") 2>"$W/collector.log" &
pids+=($!)
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
done

cat >"$W/check.py" <<'EOF'
import json, sys
cmd = sys.argv[1]
if cmd == "checks":   # checks RESULTS -> "N_CHECK_RECORDS N_WITH_DIGEST DISTINCT_DIGESTS"
    rs = [r for r in json.load(open(sys.argv[2]))["results"] if r.get("check") == "soa"]
    ok = [r for r in rs if r.get("outcome") == "ok" and r.get("digest")]
    print(len(rs), len(ok), len(set(r["digest"] for r in ok)))
elif cmd == "integrity":  # integrity EVENTS -> the answer-integrity events "type:instance"
    kinds = ("serial_lag", "inconsistent_answer", "answer_mismatch")
    print(" ".join(sorted("%s:%s" % (e["type"], e["detail"].get("instance"))
                          for e in json.load(open(sys.argv[2]))["events"] if e["type"] in kinds)))
elif cmd == "lag":  # lag EVENTS -> "instance behind agents..." per serial_lag event, one a line
    for e in json.load(open(sys.argv[2]))["events"]:
        if e["type"] == "serial_lag":
            d = e["detail"]
            print(d.get("instance"), d.get("behind"), " ".join(sorted(d.get("agents", []))))
elif cmd == "served":  # served CATCHMENTS INSTANCE -> agents a dns row (v4 or v6) has there
    rows = json.load(open(sys.argv[2]))["catchments"]
    print(" ".join(sorted(set(r["agent"] for r in rows if r["service"] == "dns"
                              and r.get("instance") == sys.argv[3]))))
elif cmd == "incidents":  # incidents FILE KIND -> "instance:state" per incident of KIND
    print(" ".join(sorted("%s:%s" % (i.get("instance"), i["state"])
                          for i in json.load(open(sys.argv[2]))["incidents"]
                          if i["kind"] == sys.argv[3])))
EOF
py() { python3 "$W/check.py" "$@"; }

# ---- baseline: check records with digests from every instance, all equal, no event ----
ok=0
for i in $(seq 40); do
	api "/api/v1/results?limit=1000" >"$W/results.json" || true
	read -r n n_ok n_dig < <(py checks "$W/results.json" 2>/dev/null || echo "0 0 0")
	if [ "${n_ok:-0}" -ge 12 ]; then
		ok=1
		break
	fi
	sleep 1
done
[ $ok = 1 ] || fail "no check results with digests reached the collector ($n records, $n_ok ok)"
log "baseline: $n check records, $n_ok with a digest, $n_dig distinct digest(s)"
[ "$n_dig" = 1 ] || fail "NSD, Knot and Unbound serving one zone gave $n_dig digests"
sleep $((LAG_S + 2))
api "/api/v1/events?limit=1000" >"$W/events.json"
got=$(py integrity "$W/events.json")
[ -z "$got" ] || fail "healthy lab raised answer-integrity events: $got"
log "ok: healthy lab, no answer-integrity event"

# ---- fault: site-a's serial bumped ----
site_a_mgmt=$(awk '/name: site-a/ { getline; gsub(/[][,"]/, " "); print $2; exit }' "$LAB_INVENTORY")
[ "$(site_a_serial "$site_a_mgmt")" = 1 ] || fail "site-a does not serve serial 1 before the fault"
api /api/v1/catchments >"$W/catchments.json"
served_b=$(py served "$W/catchments.json" site-b)
served_c=$(py served "$W/catchments.json" site-c)
sed -i 's/ hostmaster\.lab\. 1 / hostmaster.lab. 2 /' "$ZONE"
touch "$ZONE"
kill -HUP "$(cat "$NSD_PID")"
t0=$(date +%s)
for i in $(seq 20); do
	[ "$(site_a_serial "$site_a_mgmt")" = 2 ] && break
	sleep 0.5
done
[ "$(site_a_serial "$site_a_mgmt")" = 2 ] || fail "NSD at site-a did not load serial 2"
log "site-a serves serial 2 (site-b serves: ${served_b:-nobody}; site-c: ${served_c:-nobody})"

lag=""
for i in $(seq $WAIT_S); do
	api "/api/v1/events?type=serial_lag&limit=1000" >"$W/events.json" || true
	lag=$(py lag "$W/events.json")
	if echo "$lag" | grep -q '^site-b ' && echo "$lag" | grep -q '^site-c '; then
		break
	fi
	sleep 1
done
took=$(($(date +%s) - t0))
echo "$lag" | grep -q '^site-b 1' || fail "no serial_lag (behind 1) for site-b after ${took}s: '$lag'"
echo "$lag" | grep -q '^site-c 1' || fail "no serial_lag (behind 1) for site-c after ${took}s: '$lag'"
echo "$lag" | grep -q '^site-a ' && fail "serial_lag for site-a, which is ahead: '$lag'"
log "ok: serial_lag for site-b and site-c after ${took}s (threshold ${LAG_S}s)"
# the agents named are those the lagging instance serves (as the catchments say)
for s in b c; do
	want_var=served_$s
	got_agents=$(echo "$lag" | awk -v s="site-$s" '$1 == s { $1 = ""; $2 = ""; sub(/^ +/, ""); print }')
	[ "$got_agents" = "${!want_var}" ] ||
		fail "serial_lag of site-$s names agents '$got_agents', catchments say '${!want_var}'"
done
log "ok: the events name the agents each instance serves"
api "/api/v1/incidents?state=open" >"$W/incidents.json"
incs=$(py incidents "$W/incidents.json" serial_lag)
[ "$incs" = "site-b:open site-c:open" ] || fail "open serial_lag incidents: '$incs'"
log "ok: one open serial_lag incident per lagging instance"

# ---- heal: site-a back at serial 1 ----
restore_zone
t0=$(date +%s)
incs=""
for i in $(seq $WAIT_S); do
	api "/api/v1/incidents?state=resolved" >"$W/incidents.json" || true
	incs=$(py incidents "$W/incidents.json" serial_lag)
	[ "$incs" = "site-b:resolved site-c:resolved" ] && break
	sleep 1
done
[ "$incs" = "site-b:resolved site-c:resolved" ] ||
	fail "serial_lag incidents not resolved $(($(date +%s) - t0))s after heal: '$incs'"
log "ok: resolved $(($(date +%s) - t0))s after heal"
api "/api/v1/events?limit=1000" >"$W/events.json"
others=$(py integrity "$W/events.json" | tr ' ' '\n' | grep -v '^serial_lag:' || true)
[ -z "$others" ] || fail "unexpected answer-integrity events: $others"

# ---- fault: site-a serves other data under the same serial ----
sed -i 's/ hostmaster\.lab\. 1 / other-hostmaster.lab. 1 /' "$ZONE"
touch "$ZONE"
kill -HUP "$(cat "$NSD_PID")"
t0=$(date +%s)
got=""
for i in $(seq $WAIT_S); do
	api "/api/v1/events?type=inconsistent_answer&limit=1000" >"$W/events.json" || true
	got=$(py integrity "$W/events.json")
	[ -n "$got" ] && break
	sleep 1
done
sleep 2
api "/api/v1/events?type=inconsistent_answer&limit=1000" >"$W/events.json"
got=$(py integrity "$W/events.json")
[ "$got" = "inconsistent_answer:site-a" ] ||
	fail "same serial, other data at site-a: inconsistent_answer events '$got', want site-a only"
log "ok: inconsistent_answer for site-a only after $(($(date +%s) - t0))s"
api "/api/v1/incidents?state=open" >"$W/incidents.json"
incs=$(py incidents "$W/incidents.json" inconsistent_answer)
[ "$incs" = "site-a:open" ] || fail "open inconsistent_answer incidents: '$incs'"
restore_zone
incs=""
for i in $(seq $WAIT_S); do
	api "/api/v1/incidents?state=resolved" >"$W/incidents.json" || true
	incs=$(py incidents "$W/incidents.json" inconsistent_answer)
	[ "$incs" = "site-a:resolved" ] && break
	sleep 1
done
[ "$incs" = "site-a:resolved" ] || fail "inconsistent_answer not resolved after heal: '$incs'"
log "ok: inconsistent_answer resolved after heal"
api "/api/v1/events?limit=1000" >"$W/events.json"
others=$(py integrity "$W/events.json" | tr ' ' '\n' |
	grep -v -e '^serial_lag:site-[bc]$' -e '^inconsistent_answer:site-a$' || true)
[ -z "$others" ] || fail "unexpected answer-integrity events: $others"
log "all ok"
