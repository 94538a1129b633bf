#!/bin/bash
# tests/lab/test_guard.sh - the guard on a server with a routing daemon: site-b's
# BIRD announces the DNS anycast addresses and its health check is stopped (a
# dead service there would be a blackhole for br2). anycast-agent --guard runs
# on site-b with the bird action and reports to the collector. Knot is
# stopped: the guard withdraws (BIRD protocols any_dns4/6 disabled), br2 fails
# over to site-a, the collector has the guard's guard_withdraw, br2's catchment
# change has cause "withdrawn", and exactly one incident opens, of kind
# withdrawn, with the guard's reason. Healed, the guard restores and the
# incident resolves. Prints the gap br2 saw (first probe after the stop to the
# first answer from site-a).
# Runs under tests/lab/run.sh (see its header for the environment).
. "$(dirname "$0")/lib.sh"

BIN=${ANYCAST_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build}
W=$TEST_TMP
api() { in_ns noc curl -sf --max-time 5 "$LAB_COLLECTOR_URL$1"; }
now_ms() { date +%s%3N; }

# ---- collector: the lab inventory, one agent per branch, guard-b on site-b ----
{
	sed 's/^\( *timeout:\) 1s$/\1 800ms/' "$LAB_INVENTORY"
	echo "agents:"
	for who in $LAB_BRANCHES guard-b; do
		mkdir -p "$W/$who.d/spool"
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/$who.d/token"
		chmod 600 "$W/$who.d/token"
		echo "  - name: $who"
		echo "    token_sha256: $(tr -d ' \n' <"$W/$who.d/token" | sha256sum | cut -d' ' -f1)"
		[ "$who" = guard-b ] && echo "    guard: site-b"
	done
	cat <<EOC
thresholds:
  hysteresis: 2
  outage_rounds: 2
  instance_down_agents: 1
  instance_down_rounds: 2
EOC
} >"$W/collector.yaml"
start_in_ns noc collector "$BIN/anycast-collector" --config "$W/collector.yaml" \
	--listen "$LAB_COLLECTOR_ADDR:8053" --db "$W/collector.db"
wait_for 15 "collector up" api /healthz || fatal "collector did not start: $(cat "$W/collector/log")"
for br in $LAB_BRANCHES; do
	start_in_ns "$br" "agent-$br" "$BIN/anycast-agent" --collector "$LAB_COLLECTOR_URL" \
		--name "$br" --token-file "$W/$br.d/token" --spool "$W/$br.d/spool"
done

home_of() { # home_of BRANCH: the instance serving its dns over IPv4
	api "/api/v1/catchments?agent=$1&service=dns" | python3 -c '
import json, sys
r = [c for c in json.load(sys.stdin)["catchments"] if c["family"] == 4]
print(r[0]["instance"] if r and r[0]["instance"] else "none")'
}
br2_at() { [ "$(home_of br2)" = "$1" ]; }
wait_for 60 "br2 served by site-b" br2_at site-b || fatal "no baseline"

# ---- site-b: its health check stopped, the guard in its place ----
kill -TERM -- "-$(cat "$LAB_DIR/site-b/health.pid")" 2>/dev/null || fatal "no health check on site-b"
cat >"$W/guard.conf" <<EOC
interval 1s
timeout 500ms
fall 3
rise 5
hold_down 0s
collector $LAB_COLLECTOR_URL
name guard-b
instance site-b
token_file $W/guard-b.d/token
spool $W/guard-b.d/spool
service dns4
  inventory_service dns
  anycast $LAB_ANYCAST_DNS4
  management $LAB_MGMT4_site_b
  identity site-b.lab
  action bird
  bird_socket $LAB_DIR/site-b/bird.ctl
  bird_protocol any_dns4
service dns6
  inventory_service dns
  anycast $LAB_ANYCAST_DNS6
  management $LAB_MGMT6_site_b
  identity site-b.lab
  action bird
  bird_socket $LAB_DIR/site-b/bird.ctl
  bird_protocol any_dns6
EOC
"$BIN/anycast-agent" --guard "$W/guard.conf" --check-config >/dev/null || fatal "guard config refused"
start_in_ns site-b guard "$BIN/anycast-agent" --guard "$W/guard.conf" -v
# The guard stands in for the health check: with its pid in health.pid,
# "lab heal" starts no second controller of the same BIRD protocols (the two
# toggling them against each other flap the route: a split). Once the guard
# is stopped the pid is dead, and the next heal starts the health check again.
cp "$TEST_TMP/guard/pid" "$LAB_DIR/site-b/health.pid"
sleep 3
assert_true "the guard withdrew a healthy service" sh -c "! grep -q guard_withdraw '$W/guard/log'"

# ---- the service dies ----
T0=$(now_ms)
say "stopping knot on site-b"
kill -TERM "$(cat "$LAB_DIR/site-b/dns.pid")"
events() { api "/api/v1/events?type=$1&limit=1000"; }
has_event() { events "$1" | grep -q "\"$2\""; }
wait_for 30 "guard_withdraw for site-b" has_event guard_withdraw site-b
wait_for 40 "br2 failed over to site-a" br2_at site-a
events guard_withdraw | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"]
assert e and all(x["agent"] == "guard-b" and x["from_instance"] == "site-b" for x in e), e
assert all(x["detail"]["reason"].startswith("3 failed probes: ") for x in e), e
' || fail "guard_withdraw events: $(events guard_withdraw)"
cause=$(events catchment_change | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e["agent"] == "br2" and e["service"] == "dns" and e["family"] == 4:
        print(e["detail"].get("cause")); break')
assert_eq withdrawn "$cause" "cause of br2's catchment change"

incidents() { api "/api/v1/incidents?limit=100"; }
open_withdrawn() { incidents | python3 -c '
import json, sys
i = [x for x in json.load(sys.stdin)["incidents"] if x["kind"] == "withdrawn" and x["state"] == "open"]
sys.exit(0 if i else 1)'; }
wait_for 30 "an open withdrawn incident" open_withdrawn
incidents | python3 -c '
import json, sys
inc = json.load(sys.stdin)["incidents"]
assert [x["kind"] for x in inc] == ["withdrawn"], [(x["kind"], x["summary"]) for x in inc]
x = inc[0]
assert x["instance"] == "site-b", x
assert x["reason"].startswith("3 failed probes: "), x
assert "withdrawn by its guard" in x["summary"] and "br2 failed over to site-a" in x["summary"], x
print("incident:", x["summary"])
' || fail "incidents: $(incidents)"
api "/api/v1/results?agent=br2&service=dns&limit=1000&from=$(date -u -d @$((T0 / 1000)) +%Y-%m-%dT%H:%M:%SZ)" |
	python3 -c '
import json, sys, datetime
t0 = int(sys.argv[1])
def ms(s): return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
r = [x for x in json.load(sys.stdin)["results"] if x["target"] == "anycast" and x["family"] == 4 and ms(x["time"]) >= t0]
a = [ms(x["time"]) for x in r if x.get("instance") == "site-a" and x["outcome"] == "ok"]
lost = [ms(x["time"]) for x in r if x["outcome"] != "ok"]
print("br2 gap: first failed probe %+d ms after the stop, first site-a answer %+d ms (the guard: fall 3 x 1 s + OSPF)" %
      ((lost[0] - t0) if lost else 0, (a[0] - t0) if a else -1))
' "$T0" || true

# ---- healed: knot back, the guard restores, the incident resolves ----
lab heal >/dev/null 2>&1 || fail "heal"
wait_for 30 "guard_restore for site-b" has_event guard_restore site-b
resolved() { incidents | python3 -c '
import json, sys
i = json.load(sys.stdin)["incidents"]
sys.exit(0 if len(i) == 1 and i[0]["state"] == "resolved" else 1)'; }
wait_for 60 "the withdrawn incident resolved, and no other" resolved || say "incidents: $(incidents)"
stop_daemon guard
test_done
