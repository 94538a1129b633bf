#!/bin/bash
# tests/fault/test_conn_per_source.sh - one address holding many connections
# does not lock other sources (or the agents) out of the collector.
#
# 0. Control, the per-source cap off (--max-conns-per-source 0, the behaviour
#    before the cap existed): 1,030 idle connections from 127.0.0.2 fill the
#    server-wide table (1,024), and a request from 127.0.0.3 is refused.
#    This shows that the checks below would see the problem.
# 1. Default cap (64): hold_conns.py tries to hold HOG (default 1,030)
#    connections from 127.0.0.2, half idle, half slow: for HOLD (default 20)
#    seconds re-opening each one the server closes a second later (a client
#    that retries), then for FLOOD (default 12) seconds at once (a connect
#    flood). Meanwhile a real agent reports from 127.0.0.1 (central mode,
#    local DNS responders), a generator POSTs a batch every 0.2 s,
#    /api/v1/catchments is polled from 127.0.0.1 and /healthz from 127.0.0.3,
#    and /metrics is read for the number of open connections. Checks, beside
#    either hog: every poll, health check and POST answered 200; the collector
#    never held more than 64 connections for the hog (open connections <= 64
#    + the few of the others); the agent's results kept growing. Beside the
#    retrying hog p95 stays under 1 s and close to the baseline; beside the
#    flood (which keeps every core busy) under 1 s. Then: the agent's results
#    all stored once; the refusals counted in /metrics
#    (anycast_http_rejected_total{reason="source_limit"}); connection 65 of one
#    source gets a complete 503 JSON answer and is closed, while a connection
#    from another source beside a full one is served.
TEST_NAME=conn_per_source
. "$(dirname "$0")/lib.sh"
HOG=${HOG:-1030}
HOLD=${HOLD:-20}
FLOOD=${FLOOD:-12}
CAP=64
ulimit -n 8192
dport=$(free_port)
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" "$dport" 500ms 200ms branch gen
start_responders "$dport"

metric() { # name{labels} -> value
	curl -s -m 10 "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}
last_seq() {
	curl -s -m 10 "$URL/api/v1/agents" |
		python3 -c 'import json, sys; print(next((a["last_seq"] for a in json.load(sys.stdin)["agents"] if a["name"] == "branch"), 0))'
}
busy_ok() { # busy_check output, expected error -> 0 when a complete 503 JSON answer with it
	echo "$1" | grep -q "status=503" && echo "$1" | grep -q "json=yes" &&
		echo "$1" | grep -q "\"error\":\"$2\"" &&
		[ "$(echo "$1" | sed -n 's/.*content_length=\([0-9-]*\).*/\1/p')" = \
			"$(echo "$1" | sed -n 's/.*body_bytes=\([0-9]*\).*/\1/p')" ]
}

# 0. control: no per-source cap
COLLECTOR_FLAGS=(--max-conns-per-source 0)
start_collector "$TMP/inv.yaml" "$port" "$TMP/control.db"
r=$(python3 "$FAULT_DIR/busy_check.py" "$port" 1030 --src 127.0.0.2 --probe-src 127.0.0.3 2>&1 || true)
info "control, 1,030 connections from 127.0.0.2, then 127.0.0.3: $r"
if busy_ok "$r" "too many connections"; then
	ok "control: without the per-source cap one source's 1,030 connections lock another source out"
else
	fail "control: expected 127.0.0.3 to be refused without the per-source cap: $r"
fi
stop_pid "$COLLECTOR_PID"

# 1. the default per-source cap
COLLECTOR_FLAGS=()
start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"
start_agent branch "$URL"
AG=$AGENT_PID

GEN_B=0
watch() { # seconds label: polls from .1, health checks from .3, generator POSTs, open connections
	local end=$(($(date +%s) + $1))
	python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" $((GEN_B + $1 * 5)) 20 "$TMP/ack-$2.log" \
		--pace 0.2 --first "$GEN_B" > /dev/null &
	local g=$!
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' "$URL/api/v1/catchments" >> "$TMP/poll-$2.log" || true
		curl -s -o /dev/null -m 10 --interface 127.0.0.3 -w '%{http_code} %{time_total}\n' "$URL/healthz" >> "$TMP/health-$2.log" || true
		metric anycast_http_connections >> "$TMP/conns-$2.log"
		sleep 0.2
	done
	wait "$g" || true
	GEN_B=$((GEN_B + $1 * 5))
}
summary() { # label -> "n non200 median_ms p95_ms max_ms" over polls, health checks and POSTs
	python3 - "$TMP/poll-$1.log" "$TMP/health-$1.log" "$TMP/ack-$1.log" <<'PY'
import sys
p = [l.split() for l in open(sys.argv[1])] + [l.split() for l in open(sys.argv[2])]
a = [l.split() for l in open(sys.argv[3])]
v = sorted([float(x[1]) * 1000 for x in p if x[0] == "200"] + [float(x[4]) for x in a if x[1] == "200"])
bad = sum(1 for x in p if x[0] != "200") + sum(1 for x in a if x[1] != "200")
print(len(p) + len(a), bad, f"{v[len(v) // 2]:.1f}", f"{v[int(len(v) * .95)]:.1f}", f"{v[-1]:.1f}")
PY
}
sleep 2
watch 6 base
read -r nb bb mb pb xb <<< "$(summary base)"
info "baseline: $nb requests, $bb not 200, median $mb ms, p95 $pb ms, max $xb ms"

# hog LABEL SECONDS REOPEN_DELAY: hold_conns.py from 127.0.0.2 while watching;
# sets nl bl ml pl xl (summary), cmax (most open connections), refused, seq0, seq1
hog() {
	seq0=$(last_seq)
	python3 "$FAULT_DIR/hold_conns.py" "$port" "$HOG" "$2" --src 127.0.0.2 --reopen-delay "$3" \
		> "$TMP/hold-$1.out" &
	local h=$!
	PIDS+=("$h")
	sleep 2
	watch $(($2 - 4)) "$1"
	seq1=$(last_seq)
	wait "$h" || true
	read -r nl bl ml pl xl <<< "$(summary "$1")"
	cmax=$(sort -n "$TMP/conns-$1.log" | tail -1)
	refused=$(sed -n 's/.*answered_503=\([0-9]*\).*/\1/p' "$TMP/hold-$1.out")
	info "hog from 127.0.0.2: $(cat "$TMP/hold-$1.out")"
	info "beside it: $nl requests, $bl not 200, median $ml ms, p95 $pl ms, max $xl ms; open connections at most $cmax"
}
# checks LABEL: what must hold beside either hog
checks() {
	[ "${refused:-0}" -gt 0 ] && ok "$1: the hog's connections beyond $CAP were answered 503 and closed ($refused times)" ||
		fail "$1: the hog was never refused"
	# The hog's 64, plus the agent, the poller, the generator and the metrics read.
	[ "${cmax:-9999}" -le $((CAP + 10)) ] && ok "$1: the collector held at most $cmax connections (cap $CAP for the hog)" ||
		fail "$1: the collector held $cmax connections with a per-source cap of $CAP"
	[ "$bl" = 0 ] && ok "$1: 127.0.0.1 (polls, POSTs) and 127.0.0.3 (/healthz) beside the hog: all $nl answered 200" ||
		fail "$1: beside the hog: $bl of $nl requests not 200"
	[ "$seq1" -gt $((seq0 + 10)) ] && ok "$1: the agent kept reporting during the hog: last_seq $seq0 -> $seq1" ||
		fail "$1: the agent's last_seq went from $seq0 to $seq1 during the hog"
}

# A client that retries each refused connection a second later: ~1,000 connects/s.
hog retry "$HOLD" 1
checks retrying
python3 -c "import sys; sys.exit(0 if $pl < 1000 and $pl <= 5 * $pb + 100 else 1)" &&
	ok "retrying: latency beside the hog: p95 $pl ms (baseline $pb ms)" ||
	fail "retrying: latency beside the hog: p95 $pl ms vs baseline $pb ms"
# One that re-opens at once: a connect flood (every core of this machine busy).
# The cap still holds; the flood itself costs the others latency.
hog flood "$FLOOD" 0
checks flood
python3 -c "import sys; sys.exit(0 if $pl < 1000 else 1)" && ok "flood: p95 $pl ms beside it (under 1 s)" ||
	fail "flood: p95 $pl ms beside it"
m=$(metric 'anycast_http_rejected_total{reason="source_limit"}')
[ "${m:-0}" -gt 0 ] && ok "refusals counted in /metrics: anycast_http_rejected_total{reason=\"source_limit\"} $m" ||
	fail "no source_limit refusals in /metrics (${m:-missing})"

# Connection 65 of one source, then one from another source.
r=$(python3 "$FAULT_DIR/busy_check.py" "$port" "$CAP" --src 127.0.0.2 --probe-src 127.0.0.2 2>&1 || true)
info "connection $((CAP + 1)) from 127.0.0.2: $r"
busy_ok "$r" "too many connections from this address" &&
	ok "connection $((CAP + 1)) from one source gets a complete 503 JSON answer" ||
	fail "connection $((CAP + 1)) from one source: $r"
r=$(python3 "$FAULT_DIR/busy_check.py" "$port" "$CAP" --src 127.0.0.2 --probe-src 127.0.0.3 2>&1 || true)
info "beside $CAP from 127.0.0.2, one from 127.0.0.3: $r"
echo "$r" | grep -q "status=200" && ok "another source beside a full one is served" || fail "another source beside a full one: $r"

stop_pid "$AG"
last=$(($(agent_state branch next_seq) - 1))
if r=$(seq_report "$URL" branch "$last"); then ok "agent: all $last results stored once ($r)"; else fail "agent results: $r"; fi
grep -q "HTTP 503\|unreachable" "$TMP/agent-branch.log" &&
	info "agent saw errors at times: $(grep -c "HTTP 503\|unreachable" "$TMP/agent-branch.log")x"
stop_pid "$COLLECTOR_PID"
[ "$STOP_RC" = 0 ] && ok "clean stop on SIGTERM" || fail "exit $STOP_RC on SIGTERM"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP/collector.log" && fail "sanitizer report"
finish
