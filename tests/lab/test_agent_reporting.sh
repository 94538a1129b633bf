#!/bin/bash
# tests/lab/test_agent_reporting.sh - the agent's reporting end to end on
# loopback, with the real collector and agent binaries:
#   1. the collector stops mid-run and comes back: every result arrives, once;
#   2. the agent is killed with -9 again and again (some kills land during a
#      POST): nothing lost, no duplicates, seqs contiguous across restarts;
#   3. the spool bound is reached while the collector is down: the oldest
#      results are dropped, counted, and the count reaches the collector;
#   4. HTTPS: the agent verifies the collector's certificate (--ca-file) and
#      refuses one it cannot verify.
# The agents probe addresses on 127.0.0.0/8 where nothing answers (every probe
# still yields one result). Every daemon has its own directory under a temp
# dir and is stopped by PID.
# Usage: tests/lab/test_agent_reporting.sh   (ANYCAST_BIN=build dir; or
#        AGENT_BIN=... COLLECTOR_BIN=... for other binaries)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${ANYCAST_BIN:-$ROOT/build-test}
AGENT=${AGENT_BIN:-$BIN/anycast-agent}
COLLECTOR=${COLLECTOR_BIN:-$BIN/anycast-collector}
TMP=$(mktemp -d /tmp/test_agent_reporting.XXXXXX)
PIDS=()
FAILS=0

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$FAILS" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$TMP"; else echo "logs kept in $TMP"; fi
}
trap cleanup EXIT

ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$port

# Inventory: 3 services x (4 anycast + 8 management addresses), every 500 ms.
{
	echo "services:"
	for s in 1 2 3; do
		cat <<EOF
  - name: svc$s
    protocol: dns
    address: [127.0.$s.1, 127.0.$s.2, 127.0.$s.3, 127.0.$s.4]
    port: $((15350 + s))
    interval: 500ms
    timeout: 200ms
    instances:
EOF
		for i in 1 2 3 4 5 6 7 8; do
			echo "      - { name: site-$i, management: 127.0.$s.$((10 + i)) }"
		done
	done
	echo "agents:"
	for a in restart kill9 limit tls; do
		tok=token-$a-$RANDOM$RANDOM
		printf '  %s \n\n' "$tok" > "$TMP/$a.token" # whitespace around it is stripped
		chmod 600 "$TMP/$a.token"
		echo "  - { name: $a, token_sha256: $(printf %s "$tok" | sha256sum | cut -d' ' -f1) }"
	done
} > "$TMP/collector.yaml"

COLLECTOR_PID=
start_collector() {
	"$COLLECTOR" --config "$TMP/collector.yaml" --listen "127.0.0.1:$port" --db "$TMP/collector.db" \
		>> "$TMP/collector.log" 2>&1 &
	COLLECTOR_PID=$!
	PIDS+=("$COLLECTOR_PID")
	for _ in $(seq 100); do
		curl -fs "$URL/healthz" > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "collector did not start"; exit 1
}
stop_collector() {
	kill -TERM "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" || true
}

AGENT_PID=
start_agent() { # name [extra flags]
	local name=$1
	shift
	"$AGENT" --collector "$URL" --name "$name" --token-file "$TMP/$name.token" \
		--spool "$TMP/spool-$name" "$@" >> "$TMP/agent-$name.log" 2>&1 &
	AGENT_PID=$!
	PIDS+=("$AGENT_PID")
}
stop_agent() { # waits for the clean stop and checks its exit code
	local rc=0
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "agent exit code $rc after SIGTERM"
}

last_seq() { # the agent's last seq, from its spool state
	awk '$1 == "next_seq" { print $2 - 1 }' "$TMP/spool-$1/state"
}
dropped() {
	awk '$1 == "dropped" { print $2 }' "$TMP/spool-$1/state"
}

# Every stored seq of an agent, paged through GET /api/v1/results: 1..last_seq
# each exactly once, except (with n_dropped) one contiguous run of n_dropped.
check_results() { # name last_seq [n_dropped]
	python3 - "$URL" "$@" <<'EOF'
import json, os, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=os.environ.get("TEST_CA"))
url, name, last = sys.argv[1], sys.argv[2], int(sys.argv[3])
ndrop = int(sys.argv[4]) if len(sys.argv) > 4 else 0
seqs, after = [], 0
while True:
    with urllib.request.urlopen(f"{url}/api/v1/results?agent={name}&after_seq={after}&limit=1000", context=ctx) as r:
        rows = json.load(r)["results"]
    if not rows:
        break
    seqs += [x["seq"] for x in rows]
    after = rows[-1]["seq"]
absent = sorted(set(range(1, last + 1)) - set(seqs))
gap = set()
if ndrop and absent and absent[-1] - absent[0] + 1 == ndrop == len(absent):
    gap = set(absent)  # the dropped run: contiguous, the right size
    print(f"  dropped run: {absent[0]}..{absent[-1]}")
want = set(range(1, last + 1)) - gap
dups = len(seqs) - len(set(seqs))
missing = sorted(want - set(seqs))
extra = sorted(set(seqs) - want)
print(f"{name}: {len(seqs)} stored, last seq {last}, {len(gap)} dropped, "
      f"{len(missing)} missing, {dups} duplicates, {len(extra)} unexpected")
if missing: print("  missing:", missing[:20])
if extra: print("  unexpected:", extra[:20])
sys.exit(1 if missing or dups or extra or last == 0 or len(gap) != ndrop else 0)
EOF
}

start_collector

# 0. A token file others can read is refused at start, with a one-line reason.
cp "$TMP/restart.token" "$TMP/open.token"
chmod 644 "$TMP/open.token"
rc=0
timeout 10 "$AGENT" --collector "$URL" --name restart --token-file "$TMP/open.token" \
	--spool "$TMP/spool-open" > "$TMP/agent-open.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "group- or world-accessible" "$TMP/agent-open.log"; then
	ok "a group/world-readable token file is refused (exit $rc)"
else
	fail "token file with mode 644: exit $rc"
fi

# 1. Collector stopped mid-run, then restarted.
start_agent restart
sleep 4
stop_collector
sleep 6
start_collector
sleep 5
stop_agent
n=$(last_seq restart)
if check_results restart "$n"; then ok "collector restart: all $n results stored once"; else fail "collector restart"; fi
grep -q "unreachable" "$TMP/agent-restart.log" && grep -q "reachable again" "$TMP/agent-restart.log" &&
	ok "agent logged the outage and the recovery" || fail "agent did not log unreachable / reachable again"

# 2. kill -9 during sends, restarts from the same spool.
for i in 1 2 3 4 5 6; do
	start_agent kill9
	sleep "1.$((RANDOM % 9))"
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
done
start_agent kill9
sleep 3
stop_agent
n=$(last_seq kill9)
if check_results kill9 "$n"; then ok "kill -9 x6: all $n results stored once, seqs contiguous"; else fail "kill -9"; fi

# 3. Spool bound reached while the collector is down.
start_agent limit --spool-max 262144
sleep 3 # configuration fetched and cached, first results delivered
stop_collector
for _ in $(seq 60); do
	grep -q "spool full" "$TMP/agent-limit.log" && break
	sleep 1
done
sleep 2
start_collector
sleep 5
stop_agent
n=$(last_seq limit)
d=$(dropped limit)
if [ "${d:-0}" -gt 0 ] && check_results limit "$n" "$d"; then
	ok "spool bound: the $d oldest unsent results dropped, the other $((n - d)) stored once"
else
	fail "spool bound (dropped=${d:-none})"
fi
reported=$(curl -fs "$URL/api/v1/agents" | python3 -c 'import json,sys; print(next(a.get("status",{}).get("dropped") for a in json.load(sys.stdin)["agents"] if a["name"]=="limit"))')
[ "$reported" = "$d" ] && ok "the collector knows: status.dropped = $reported" ||
	fail "status.dropped reported as $reported, spool says $d"

stop_collector

# 4. HTTPS with a test CA.
(
	cd "$TMP"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
	printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile san.ext -out server.pem
) > /dev/null 2>&1
"$COLLECTOR" --config "$TMP/collector.yaml" --listen "127.0.0.1:$port" --db "$TMP/collector.db" \
	--tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key" >> "$TMP/collector.log" 2>&1 &
COLLECTOR_PID=$!
PIDS+=("$COLLECTOR_PID")
URL=https://127.0.0.1:$port
export TEST_CA=$TMP/ca.pem
for _ in $(seq 100); do
	curl -fs --cacert "$TMP/ca.pem" "$URL/healthz" > /dev/null 2>&1 && break
	sleep 0.1
done
start_agent tls # no --ca-file: the system CAs do not know ours
sleep 3
if grep -q "certificate" "$TMP/agent-tls.log" && ! grep -qE "collector \S+ reachable" "$TMP/agent-tls.log"; then
	ok "https: an unverifiable collector certificate is refused"
else
	fail "https without --ca-file was not refused"
fi
stop_agent
rm -rf "$TMP/spool-tls"
start_agent tls --ca-file "$TMP/ca.pem"
sleep 4
stop_agent
n=$(last_seq tls)
if check_results tls "$n"; then ok "https with --ca-file: all $n results stored once"; else fail "https with --ca-file"; fi
stop_collector

[ "$FAILS" -eq 0 ] && echo "all agent reporting tests passed" || { echo "$FAILS failed"; exit 1; }
