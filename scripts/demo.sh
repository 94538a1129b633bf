#!/bin/bash
# scripts/demo.sh - the main job: installs what is missing, builds, brings up
# the anycast lab, starts the collector, a small alert receiver that prints
# every alert in this terminal, and one agent per branch; prints the dashboard
# URL and runs until Ctrl-C; then tears everything down and removes what it
# created under /tmp (its own directory and the lab's), also after SIGTERM or
# an error.
# Env: LAB_PREFIX (default demo), DEMO_DIR (default: a new /tmp/anycast-demo.XXXXXX),
#      BUILD (default build-demo in the repository), DEMO_ALERT_PORT (default 9099).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/scripts/lib/stop.sh" # stop_pids

export LAB_PREFIX=${LAB_PREFIX:-demo}
export LAB_DIR=${LAB_DIR:-/tmp/anycast-lab-$LAB_PREFIX}
export LAB_HOST_LINK=1
LAB=scripts/lab/lab.sh
BUILD=${BUILD:-$ROOT/build-demo}
ALERT_PORT=${DEMO_ALERT_PORT:-9099}
RUN="" made_run=0 lab_ours=0 done_cleanup=0 sleeper=""
pids=()

cleanup() {
	[ "$done_cleanup" = 0 ] || return 0
	done_cleanup=1
	trap '' INT TERM HUP
	echo
	echo "demo: stopping agents, collector and alert receiver, tearing down the lab..."
	local pid
	[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
	STOP_TENTHS=50 stop_pids "${pids[@]}"
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$lab_ours" = 1 ]; then
		"$LAB" down || true
		rm -rf "$LAB_DIR"
	fi
	[ "$made_run" = 1 ] && [ -n "$RUN" ] && rm -rf "$RUN"
	echo "demo: done, nothing left behind."
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

./scripts/install-deps.sh
[ -x /usr/bin/python3 ] || { echo "demo: /usr/bin/python3 is missing (apt-get install python3)" >&2; exit 1; }

if [ -n "${DEMO_DIR:-}" ]; then
	RUN=$DEMO_DIR
	[ -d "$RUN" ] || { mkdir -p "$RUN"; made_run=1; }
else
	RUN=$(mktemp -d /tmp/anycast-demo.XXXXXX)
	made_run=1
fi

echo "demo: building (log: $RUN/build.log)"
if ! { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DANYCAST_TESTS=OFF &&
	cmake --build "$BUILD" -j"$(nproc)" && { [ ! -x web/build.sh ] || web/build.sh; }; } > "$RUN/build.log" 2>&1; then
	tail -n 30 "$RUN/build.log" >&2
	echo "demo: build failed" >&2
	exit 1
fi

# Another demo (or a lab of the same prefix) is running: leave it alone.
if ip netns list 2>/dev/null | grep -q "^$LAB_PREFIX-" || [ -e "$LAB_DIR" ]; then
	echo "demo: a lab with prefix '$LAB_PREFIX' is already up (another demo?)." >&2
	echo "demo: stop it first (LAB_PREFIX=$LAB_PREFIX $LAB down) or run with another LAB_PREFIX." >&2
	exit 1
fi
lab_ours=1
"$LAB" up
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"

# The alert receiver: prints each webhook the collector sends as one line.
cat > "$RUN/alert-receiver.py" <<'PY'
"""Demo alert receiver: one line per webhook POST on stdout."""
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def line(body):
    try:
        p = json.loads(body)
    except ValueError:
        return "?", body.decode("utf-8", "replace")[:300]
    if not isinstance(p, dict):
        return "?", json.dumps(p, separators=(",", ":"))
    status = str(p.get("status") or "?").upper()
    summary = p.get("summary")
    if isinstance(summary, str) and summary:
        # the collector starts its summaries with "[FIRING] ": the status is shown already
        text = re.sub(r"^\[[A-Z]+\]\s*", "", summary)
    else:
        text = json.dumps(p, separators=(",", ":"))
    d = p.get("duration_s")
    if (status == "RESOLVED" and isinstance(d, (int, float)) and not isinstance(d, bool)
            and "resolved after" not in text):
        text += " (after %s s)" % (round(d) if d >= 10 else round(d, 1))
    return status, text


OUT = threading.Lock()  # one whole line at a time: requests are served in threads


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        self.send_response(204)
        self.end_headers()
        status, text = line(body)
        with OUT:
            sys.stdout.write("%s ALERT %-9s %s\n" % (time.strftime("%H:%M:%S"), status, text))
            sys.stdout.flush()

    def log_message(self, *args):
        pass


signal.signal(signal.SIGINT, signal.SIG_IGN)  # the demo stops us with SIGTERM
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
"$LAB" exec noc /usr/bin/python3 "$RUN/alert-receiver.py" "$ALERT_PORT" 2> "$RUN/alert-receiver.log" &
pids+=($!)
for _ in $(seq 50); do
	"$LAB" exec noc bash -c "exec 3<>/dev/tcp/127.0.0.1/$ALERT_PORT" 2>/dev/null && break
	sleep 0.1
done

# Inventory = the lab's services and instances + one token per branch + the receiver.
inv=$RUN/inventory.yaml
grep -v '^listen:\|^db:' "$LAB_DIR/inventory.yaml" > "$inv"
{
	echo "agents:"
	for br in $LAB_BRANCHES; do
		tok=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
		(umask 077 && printf '%s\n' "$tok" > "$RUN/$br.token")
		echo "  - name: $br"
		echo "    token_sha256: $(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)"
	done
	echo "alerts:"
	echo "  - name: terminal"
	echo "    type: webhook"
	echo "    url: http://127.0.0.1:$ALERT_PORT/alert"
} >> "$inv"

"$LAB" exec noc "$BUILD/anycast-collector" --config "$inv" --listen 0.0.0.0:8053 \
	--db "$RUN/anycast.db" --web-dir "$ROOT/web" 2> "$RUN/collector.log" &
pids+=($!)

for _ in $(seq 50); do
	"$LAB" exec noc curl -fs "http://$LAB_COLLECTOR_ADDR:8053/healthz" >/dev/null 2>&1 && break
	sleep 0.2
done

for br in $LAB_BRANCHES; do
	mkdir -p "$RUN/spool-$br"
	"$LAB" exec "$br" "$BUILD/anycast-agent" --collector "http://$LAB_COLLECTOR_ADDR:8053" \
		--name "$br" --token-file "$RUN/$br.token" --spool "$RUN/spool-$br" \
		2> "$RUN/agent-$br.log" &
	pids+=($!)
done

url=${LAB_HOST_URL:-http://198.18.251.2:8053/}
hostport=${url#http://}
hostport=${hostport%/}
cat <<MSG

  Dashboard:  $url
              from another machine: ssh -L 8053:$hostport root@$(hostname)
              then open http://127.0.0.1:8053/
  Terminal:   $BUILD/anycast-collector status --url ${url%/}
  Logs:       $RUN/*.log
  Alerts:     every alert the collector sends is printed here as one line:
              "ALERT FIRING ..." and, when it is over, "ALERT RESOLVED ..."

  Try a fault in another terminal, then watch the matrix, the timeline and the alerts:
    LAB_PREFIX=$LAB_PREFIX $LAB fault service-down site-a
    LAB_PREFIX=$LAB_PREFIX $LAB fault service-down-unguarded site-b
    LAB_PREFIX=$LAB_PREFIX $LAB fault isolate br3
    LAB_PREFIX=$LAB_PREFIX $LAB fault rogue
    LAB_PREFIX=$LAB_PREFIX $LAB heal

  Ctrl-C stops everything and removes the lab.

MSG

while true; do
	for pid in "${pids[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "demo: a process exited unexpectedly (pid $pid); its log:" >&2
			tail -n 20 "$RUN"/*.log >&2 || true
			exit 1
		fi
	done
	sleep 2 &
	sleeper=$!
	wait "$sleeper" || true
	sleeper=""
done
