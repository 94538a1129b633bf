#!/bin/bash
# scripts/demo.sh - the main job: installs what is missing, builds, brings up
# the anycast lab, starts the collector and one agent per branch, prints the
# dashboard URL and runs until Ctrl-C; then tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/install-deps.sh

BUILD=${BUILD:-$ROOT/build-demo}
RUN=${DEMO_DIR:-/tmp/anycast-demo}
rm -rf "$RUN" && mkdir -p "$RUN"
echo "demo: building (log: $RUN/build.log)"
if ! { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DANYCAST_TESTS=OFF &&
	cmake --build "$BUILD" -j"$(nproc)" && { [ ! -x web/build.sh ] || web/build.sh; }; } > "$RUN/build.log" 2>&1; then
	tail -n 30 "$RUN/build.log" >&2
	echo "demo: build failed" >&2
	exit 1
fi

export LAB_PREFIX=${LAB_PREFIX:-demo}
export LAB_DIR=${LAB_DIR:-/tmp/anycast-lab-$LAB_PREFIX}
export LAB_HOST_LINK=1
LAB=scripts/lab/lab.sh
pids=()

cleanup() {
	trap - EXIT INT TERM
	echo
	echo "demo: stopping agents and collector, tearing down the lab..."
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	"$LAB" down || true
	echo "demo: done, nothing left behind."
}
trap cleanup EXIT INT TERM

"$LAB" up
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"
# Inventory = the lab's services and instances + one token per branch.
inv=$RUN/inventory.yaml
grep -v '^listen:\|^db:' "$LAB_DIR/inventory.yaml" > "$inv"
{
	echo "agents:"
	for br in $LAB_BRANCHES; do
		tok=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
		umask 077
		printf '%s\n' "$tok" > "$RUN/$br.token"
		echo "  - name: $br"
		echo "    token_sha256: $(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)"
	done
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

cat <<MSG

  Dashboard:  http://198.18.251.2:8053/
  Terminal:   $BUILD/anycast-collector status --url http://198.18.251.2:8053
  Logs:       $RUN/*.log

  Try a fault in another terminal, then watch the matrix and the timeline:
    LAB_PREFIX=$LAB_PREFIX $LAB fault service-down site-a
    LAB_PREFIX=$LAB_PREFIX $LAB fault rogue
    LAB_PREFIX=$LAB_PREFIX $LAB heal

  Ctrl-C stops everything and removes the lab.
MSG

while true; do
	for pid in "${pids[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "demo: a process exited unexpectedly (pid $pid); see $RUN/*.log" >&2
			exit 1
		fi
	done
	sleep 2
done
