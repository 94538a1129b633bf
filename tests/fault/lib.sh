# tests/fault/lib.sh - helpers shared by the fault-injection tests (sourced, not run)
#
# Each test sources this file after setting TEST_NAME. It gets: a private temp
# dir $TMP, the binaries $AGENT and $COLLECTOR (from ANYCAST_BIN), ok/fail/skip
# reporting, daemons started in the background and stopped by PID at exit, and
# helpers to write an inventory, start a collector and count stored results.
# Everything a test starts is recorded in PIDS and killed by the EXIT trap;
# extra cleanup goes into the CLEANUP array (commands run before the temp dir
# is removed). $TMP is kept when a check failed or KEEP is set.
set -euo pipefail
FAULT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAULT_DIR=$FAULT_ROOT/tests/fault
BIN=${ANYCAST_BIN:-$FAULT_ROOT/build-test}
AGENT=${AGENT_BIN:-$BIN/anycast-agent}
COLLECTOR=${COLLECTOR_BIN:-$BIN/anycast-collector}
TMP=$(mktemp -d "/tmp/fault-${TEST_NAME:-test}.XXXXXX")
PIDS=()
CLEANUP=()
FAILS=0

fault_cleanup() {
	local p c
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for c in "${CLEANUP[@]}"; do eval "$c" || true; done
	if [ "$FAILS" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$TMP"; else echo "files kept in $TMP"; fi
}
trap fault_cleanup EXIT
trap 'exit 130' INT TERM HUP

ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
info() { echo "     $*"; }
finish() { # the test's exit status
	if [ "$FAILS" -eq 0 ]; then echo "PASS $TEST_NAME"; exit 0; fi
	echo "FAIL $TEST_NAME ($FAILS failed checks)"; exit 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_token NAME: writes $TMP/NAME.token (mode 0600) and prints its SHA-256
make_token() {
	local tok=token-$1-$RANDOM$RANDOM$RANDOM
	printf '%s\n' "$tok" > "$TMP/$1.token"
	chmod 600 "$TMP/$1.token"
	printf %s "$tok" | sha256sum | cut -d' ' -f1
}

# write_inventory FILE PORT INTERVAL TIMEOUT AGENT...: one DNS service whose
# anycast and management addresses are on 127.0.0.0/8 at PORT; agents get tokens
write_inventory() {
	local file=$1 port=$2 interval=$3 timeout=$4 a
	shift 4
	{
		cat <<EOT
services:
  - name: dns
    protocol: dns
    address: [127.0.0.1]
    port: $port
    interval: $interval
    timeout: $timeout
    identify: [nsid, id.server]
    instances:
      - { name: site-a, management: 127.0.0.2, identity: s1.lab }
      - { name: site-b, management: 127.0.0.3, identity: s2.lab }
agents:
EOT
		for a in "$@"; do
			echo "  - { name: $a, token_sha256: $(make_token "$a") }"
		done
		if [ -n "${INVENTORY_EXTRA:-}" ]; then printf "%s\n" "$INVENTORY_EXTRA"; fi
	} > "$file"
}

# start_collector CONFIG PORT DB [wrapper...]: starts it in the background
# (COLLECTOR_PID), waits up to WAIT_S (default 15) seconds for /healthz;
# COLLECTOR_FLAGS (array) adds flags
COLLECTOR_PID=
COLLECTOR_FLAGS=()
start_collector() {
	local cfg=$1 port=$2 db=$3 i
	shift 3
	(cd "$TMP" && exec "$@" "$COLLECTOR" --config "$cfg" --listen "127.0.0.1:$port" --db "$db" \
		"${COLLECTOR_FLAGS[@]}") \
		>> "$TMP/collector.log" 2>&1 &
	COLLECTOR_PID=$!
	PIDS+=("$COLLECTOR_PID")
	for i in $(seq $((${WAIT_S:-15} * 10))); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
		kill -0 "$COLLECTOR_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "collector did not start (log: $TMP/collector.log)"
	tail -5 "$TMP/collector.log"
	exit 1
}

# stop_pid PID: SIGTERM, wait; its exit status in STOP_RC (not in a subshell:
# only this shell can wait for its children)
STOP_RC=0
stop_pid() {
	STOP_RC=0
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || STOP_RC=$?
}

# seq_report URL AGENT [LAST]: pages GET /api/v1/results; prints
# "stored distinct duplicates max missing_in_1..LAST"; exit 0
seq_report() {
	python3 "$FAULT_DIR/results.py" "$@"
}

# start_agent NAME URL [flags...]: a central-mode agent with $TMP/NAME.token and
# spool $TMP/spool-NAME (AGENT_PID); AGENT_WRAP (array) may prefix a wrapper
AGENT_PID=
AGENT_WRAP=()
start_agent() {
	local name=$1 url=$2
	shift 2
	"${AGENT_WRAP[@]}" "$AGENT" --collector "$url" --name "$name" --token-file "$TMP/$name.token" \
		--spool "$TMP/spool-$name" "$@" >> "$TMP/agent-$name.log" 2>&1 &
	AGENT_PID=$!
	PIDS+=("$AGENT_PID")
}
# agent_state NAME KEY: a value from the spool's state file (next_seq, acked, dropped)
agent_state() {
	awk -v k="$2" '$1 == k { print $2 }' "$TMP/spool-$1/state"
}
# http_code URL [curl args]: the status code (000 when no answer)
http_code() {
	local u=$1
	shift
	curl -s -o /dev/null -m 10 -w '%{http_code}' "$@" "$u" || true
}

# start_responders PORT: dns_responder.py on 127.0.0.1 (s1.lab, the anycast
# address of write_inventory), 127.0.0.2 (s1.lab) and 127.0.0.3 (s2.lab);
# waits until all three are bound; RESP[a] is the PID of the one on 127.0.0.a
# (start_responder A PORT restarts one)
RESP=()
start_responder() {
	local id=s1.lab
	[ "$1" = 3 ] && id=s2.lab
	python3 "$FAULT_DIR/dns_responder.py" "127.0.0.$1" "$2" "$id" 2>> "$TMP/responder.log" &
	RESP[$1]=$!
	PIDS+=("$!")
}
start_responders() {
	local port=$1 a
	for a in 1 2 3; do start_responder "$a" "$port"; done
	for _ in $(seq 100); do
		[ "$(ss -Huln "sport = :$port" | wc -l)" -ge 3 ] && return 0
		sleep 0.1
	done
	fail "DNS responders did not bind port $port"
	exit 1
}
