#!/bin/bash
# bench/collector/common.sh - helpers for the collector benchmarks: build the
# load generator, write an inventory with N agents x S services, start and
# stop a collector (own temp dir, port, pid) and wait for it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COLLECTOR=${COLLECTOR:-$ROOT/build-bench/anycast-collector}
WORK=$(mktemp -d /tmp/anycast-bench.XXXXXX)
CPID=""

cleanup() {
	if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
		kill -TERM "$CPID"; wait "$CPID" 2>/dev/null || true
	fi
	[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

build_collector() {
	if [ ! -x "$COLLECTOR" ]; then
		cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DANYCAST_TESTS=OFF >/dev/null
		cmake --build "$ROOT/build-bench" -j2 --target anycast-collector >/dev/null
	fi
}

build_loadgen() {
	cc -O2 -Wall -o "$WORK/loadgen" "$ROOT/bench/collector/loadgen.c" -lcurl -lpthread
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# write_inventory AGENTS SERVICES
write_inventory() {
	local agents=$1 services=$2 i
	{
		echo "services:"
		for ((i = 0; i < services; i++)); do
			cat <<EOT
  - name: svc$i
    protocol: dns
    address: [198.18.255.53]
    interval: 5s
    instances:
      - { name: site-a, management: 198.18.1.2, identity: site-a.lab }
      - { name: site-b, management: 198.18.2.2, identity: site-b.lab }
EOT
		done
		echo "agents:"
		for ((i = 1; i <= agents; i++)); do
			printf '  - { name: bench-%d, token_sha256: %s }\n' "$i" \
				"$(printf 'bench-token-%d' "$i" | sha256sum | cut -d' ' -f1)"
		done
	} > "$WORK/inv.yaml"
}

# start_collector EXTRA_FLAGS...: on $DB (default: an SQLite file in $WORK)
start_collector() {
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	"$COLLECTOR" --config "$WORK/inv.yaml" --listen "127.0.0.1:$PORT" --db "${DB:-$WORK/anycast.db}" \
		--web-dir "$ROOT/web" "$@" 2>>"$WORK/collector.log" &
	CPID=$!
	for _ in $(seq 1 200); do
		curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "collector did not start" >&2; cat "$WORK/collector.log" >&2; exit 1
}

stop_collector() {
	kill -TERM "$CPID"; wait "$CPID" || true; CPID=""
}

# CPU seconds (user+system) the collector used so far.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$CPID/stat"
}

rss_kb() {
	awk '/VmRSS/ {print $2}' "/proc/$CPID/status"
}

hwm_kb() {
	awk '/VmHWM/ {print $2}' "/proc/$CPID/status"
}
