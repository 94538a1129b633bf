#!/bin/bash
# bench/probe/run.sh - probe benchmark on loopback:
#  1. probes/s of the agent's probe path on one core (bench_probe pinned to
#     CPU 0, the responder to CPU 1), reported per wall second and per CPU
#     second of the prober (the machine may be shared);
#  2. anycast-agent RSS with 100 targets at a 1 s interval for DURATION s;
#  3. the same responder probed by dnsperf and by prometheus-blackbox-exporter
#     (when installed), for comparison.
# Usage: bench/probe/run.sh   Env: ANYCAST_AGENT (agent binary; default: a
# release build in build-bench/), SECONDS_PROBE (5), DURATION (20).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/bench-probe.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
SECONDS_PROBE=${SECONDS_PROBE:-5}
DURATION=${DURATION:-20}
PORT=$((20000 + RANDOM % 20000))

cc -O2 -std=gnu17 -D_GNU_SOURCE -Wall -o "$T/responder" "$ROOT/bench/probe/responder.c"
cc -O2 -std=gnu17 -D_GNU_SOURCE -Wall -I"$ROOT" -o "$T/bench_probe" \
	"$ROOT/bench/probe/bench_probe.c" "$ROOT/agent/dns_wire.c" "$ROOT/agent/udp_probe.c" \
	"$ROOT/common/log.c" $(pkg-config --cflags --libs libuv ldns)

AGENT=${ANYCAST_AGENT:-}
if [ -z "$AGENT" ]; then
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DANYCAST_TESTS=OFF >/dev/null
	cmake --build "$ROOT/build-bench" --target anycast-agent -j2 >/dev/null
	AGENT=$ROOT/build-bench/anycast-agent
fi

taskset -c 1 "$T/responder" "$PORT" & PIDS+=($!)
sleep 0.3

echo "== machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "== 1. agent probe path, one core, 64 in flight, ${SECONDS_PROBE} s"
for c in 16 64 256; do
	printf 'concurrency %4d: ' "$c"
	taskset -c 0 "$T/bench_probe" 127.0.0.1 "$PORT" "$SECONDS_PROBE" "$c"
done

echo "== 2. anycast-agent RSS: 100 targets (4 anycast + 24 instances x 4 management), 1 s, ${DURATION} s"
{
	echo "services:"
	echo "  - name: dns"
	echo "    protocol: dns"
	echo "    address: [127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4]"
	echo "    port: $PORT"
	echo "    interval: 1s"
	echo "    timeout: 500ms"
	echo "    instances:"
	for i in $(seq 1 24); do
		echo "      - name: site-$i"
		echo "        management: [127.0.$i.1, 127.0.$i.2, 127.0.$i.3, 127.0.$i.4]"
	done
} >"$T/agent.yaml"
taskset -c 0 "$AGENT" --config "$T/agent.yaml" >"$T/agent.out" 2>"$T/agent.err" & apid=$!
PIDS+=($apid)
sleep "$DURATION"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$apid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$apid/status")
cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$apid/stat")
kill "$apid"
wait "$apid" 2>/dev/null || true
lines=$(wc -l <"$T/agent.out")
okl=$(grep -c '"outcome":"ok"' "$T/agent.out" || true)
echo "agent: VmRSS ${rss} kB, VmHWM ${hwm} kB, CPU ${cpu} s in ${DURATION} s, records $lines (ok $okl)"

echo "== 3. comparison against the same responder"
if command -v dnsperf >/dev/null; then
	printf 'id.server TXT\nlab. SOA\n' >"$T/queries"
	taskset -c 0 dnsperf -s 127.0.0.1 -p "$PORT" -d "$T/queries" -l "$SECONDS_PROBE" -c 1 -T 1 \
		-q 256 2>&1 | grep -E "Queries (sent|completed)|Queries per second" | sed 's/^ */dnsperf: /'
else
	echo "dnsperf: not installed"
fi
if command -v prometheus-blackbox-exporter >/dev/null && command -v wrk >/dev/null; then
	BPORT=$((PORT + 1))
	cat >"$T/blackbox.yml" <<EOF
modules:
  dns_bench:
    prober: dns
    timeout: 1s
    dns:
      transport_protocol: udp
      preferred_ip_protocol: ip4
      query_name: "id.server"
      query_type: "TXT"
EOF
	taskset -c 0 prometheus-blackbox-exporter --config.file="$T/blackbox.yml" \
		--web.listen-address="127.0.0.1:$BPORT" >"$T/bb.log" 2>&1 & bpid=$!
	PIDS+=($bpid)
	sleep 1
	taskset -c 1 wrk -t1 -c16 -d"${SECONDS_PROBE}s" \
		"http://127.0.0.1:$BPORT/probe?module=dns_bench&target=127.0.0.1:$PORT" |
		grep -E "Requests/sec|requests in" | sed 's/^ */blackbox: /'
	echo "blackbox: VmHWM $(awk '/VmHWM/ {print $2}' "/proc/$bpid/status") kB"
	curl -s "http://127.0.0.1:$BPORT/probe?module=dns_bench&target=127.0.0.1:$PORT" |
		grep -E '^probe_success' | sed 's/^/blackbox: /'
else
	echo "blackbox exporter: not installed"
fi
