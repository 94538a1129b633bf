#!/bin/sh
# bench/http/run.sh - build the minimal server with -O2 (no sanitizers) and
# measure keep-alive GET and POST requests/s with wrk, plain and over TLS.
# Usage: bench/http/run.sh [seconds] [connections]
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${1:-10}
CONNS=${2:-50}
PORT=${PORT:-18099}
TMP=$(mktemp -d /tmp/bench-http.XXXXXX)
PID=""
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null || { echo "wrk missing: scripts/install-deps.sh" >&2; exit 1; }
gcc -std=gnu17 -O2 -D_GNU_SOURCE -DNDEBUG -I"$ROOT" "$ROOT"/collector/http_*.c "$ROOT"/common/log.c \
	"$ROOT"/bench/http/bench_server.c -o "$TMP/bench_server" -luv -lhttp_parser -lssl -lcrypto -lm
gcc -std=gnu17 -O2 "$ROOT"/bench/http/baseline_server.c -o "$TMP/baseline" -luv -lhttp_parser
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/key.pem" \
	-out "$TMP/cert.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null

# CPU time (user + system ticks) the server has used so far: divided by the
# requests served it gives a cost per request that does not depend on how
# busy the machine is, unlike requests/s.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

run() { # name scheme extra-wrk-args...
	name=$1; scheme=$2; shift 2
	t0=$(cpu_ticks)
	wrk -t1 -c"$CONNS" -d"${DUR}s" "$@" "$scheme://127.0.0.1:$PORT/api/v1/bench" >"$TMP/wrk.out"
	t1=$(cpu_ticks)
	awk -v name="$name" -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
		/ requests in / {n = $1} /^Requests\/sec/ {r = $2} /^ +99%/ {l = ", p99 " $2}
		END {printf "%-10s %10s req/s, %5.1f us CPU/request%s\n", name, r,
			n ? ticks / hz * 1e6 / n : 0, l}' "$TMP/wrk.out"
}

start() { # binary args...
	"$@" 2>"$TMP/server.log" &
	PID=$!
	sleep 0.3
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

echo "wrk -t1 -c$CONNS -d${DUR}s, single-threaded servers, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
start "$TMP/baseline" "$PORT"
run base-GET http
run base-POST http -s "$ROOT/bench/http/post.lua"
stop
start "$TMP/bench_server" "127.0.0.1:$PORT"
run GET http
run POST http -s "$ROOT/bench/http/post.lua"
stop
# The same GET run while 500 clients dribble requests one byte every 0.5 s
# (request_timeout_ms is 10 s by default: they are cut off, the rest served).
start "$TMP/bench_server" "127.0.0.1:$PORT"
python3 "$ROOT/bench/http/slowloris.py" "$PORT" 500 $((DUR + 12)) &
SLOW=$!
sleep 1
run GET+slow http --latency
wait "$SLOW"
stop
start "$TMP/bench_server" "127.0.0.1:$PORT" "$TMP/cert.pem" "$TMP/key.pem"
run GET-TLS https
run POST-TLS https -s "$ROOT/bench/http/post.lua"
stop
