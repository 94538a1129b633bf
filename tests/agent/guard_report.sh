#!/bin/bash
# tests/agent/guard_report.sh - the guard's reports reach the collector: a
# guard on loopback watches a real Unbound and reports to a real
# anycast-collector that is not running yet. The withdrawal made while the
# collector is away waits in the guard's spool and arrives once it starts
# (one guard_withdraw event with the guard's reason, site-b shown withdrawn);
# the restore follows; a restarted guard sends nothing twice; a guard stopped
# while withdrawn reports the restore when it starts and announces again.
# Usage: guard_report.sh PATH/TO/anycast-agent PATH/TO/anycast-collector
set -euo pipefail
AGENT=$1 COLLECTOR=$2
command -v unbound >/dev/null || { echo "unbound not installed"; exit 1; }
T=$(mktemp -d /tmp/guard-report.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
CPORT=$((40000 + RANDOM % 20000))
UPID= GPID= CPID=
cleanup() {
	for p in $GPID $CPID $UPID; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in err.log collector.log; do echo "--- $f"; cat "$T/$f" 2>/dev/null || true; done
	exit 1
}

cat > "$T/unbound.conf" <<EOC
server:
  interface: 127.0.0.1@$PORT
  port: $PORT
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$T"
  pidfile: "$T/unbound.pid"
  use-syslog: no
  logfile: "$T/unbound.log"
  hide-identity: no
  identity: "b1"
  access-control: 127.0.0.0/8 allow
  do-ip6: no
remote-control:
  control-enable: no
EOC
start_unbound() { unbound -c "$T/unbound.conf" & UPID=$!; sleep 0.7; }
stop_unbound() { kill "$UPID"; wait "$UPID" || true; UPID=; }
start_guard() { "$AGENT" --guard "$T/g.conf" >> "$T/out.json" 2>> "$T/err.log" & GPID=$!; }
start_collector() {
	"$COLLECTOR" --config "$T/inv.yaml" --db "$T/c.db" --listen "127.0.0.1:$CPORT" -v \
		2>> "$T/collector.log" & CPID=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$CPORT/healthz" >/dev/null && return; sleep 0.1; done
	fail "collector did not start"
}
events() { curl -sf "http://127.0.0.1:$CPORT/api/v1/events?type=$1"; }
count_events() { events "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))'; }
wait_events() { # TYPE N SECONDS
	for _ in $(seq $(($3 * 10))); do [ "$(count_events "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

printf 'guard-secret\n' > "$T/token"; chmod 600 "$T/token"
cat > "$T/inv.yaml" <<EOC
services:
  - name: dns
    protocol: dns
    address: [198.18.255.53]
    instances:
      - { name: site-a, management: 198.18.1.2 }
      - { name: site-b, management: 198.18.2.2 }
agents:
  - { name: guard-b, token_file: token, guard: site-b }
EOC
cat > "$T/g.conf" <<EOC
interval 200ms
timeout 100ms
rise 2
fall 3
hold_down 0s
collector http://127.0.0.1:$CPORT
name guard-b
instance site-b
token_file $T/token
spool $T/spool
service dns-t
  inventory_service dns
  anycast 127.0.0.1
  port $PORT
  identity b1
  action command
  withdraw /bin/true
  restore /bin/true
EOC
"$AGENT" --guard "$T/g.conf" --check-config >/dev/null || fail "config rejected"

start_unbound
start_guard
sleep 1
stop_unbound
for _ in $(seq 30); do grep -q guard_withdraw "$T/out.json" && break; sleep 0.1; done
grep -q guard_withdraw "$T/out.json" || fail "no withdrawal"
sleep 1 # the reporter finds nobody there and backs off
start_collector
wait_events guard_withdraw 1 20 || fail "the withdrawal made while the collector was away never arrived"
events guard_withdraw | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"][0]
assert e["agent"] == "guard-b" and e["from_instance"] == "site-b", e
assert e["detail"]["reason"] == "3 failed probes: unreachable on 127.0.0.1", e
assert e["detail"]["method"] == "command" and e["detail"]["address"] == "127.0.0.1", e
' || fail "the guard_withdraw event"
curl -sf "http://127.0.0.1:$CPORT/api/v1/instances?instance=site-b" | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"][0]
assert i["withdrawn"]["reason"].startswith("3 failed probes"), i
' || fail "site-b not shown withdrawn"

start_unbound
wait_events guard_restore 1 10 || fail "no restore reported"
curl -sf "http://127.0.0.1:$CPORT/api/v1/instances?instance=site-b" | grep -q '"withdrawn":null' ||
	fail "site-b still shown withdrawn"

# Restarted, the guard has nothing left to send: still one of each.
kill "$GPID"; wait "$GPID" || true; GPID=
start_guard
sleep 2
[ "$(count_events guard_withdraw)" = 1 ] && [ "$(count_events guard_restore)" = 1 ] ||
	fail "reports sent twice"

# Stopped while withdrawn, started again with the service back: the guard
# announces it at start and tells the collector (once).
stop_unbound
wait_events guard_withdraw 2 10 || fail "second withdrawal not reported"
kill "$GPID"; wait "$GPID" || true; GPID=
start_unbound
start_guard
wait_events guard_restore 2 10 || fail "the restore at start was not reported"
kill "$GPID"; wait "$GPID" || true; GPID=
start_guard
sleep 2
[ "$(count_events guard_restore)" = 2 ] || fail "a restore reported at every start"
kill "$GPID"; wait "$GPID" || true; GPID=
echo "guard_report: ok"
