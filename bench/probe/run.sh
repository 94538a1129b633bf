#!/bin/bash
# bench/probe/run.sh - probe benchmark on loopback:
#  1. probes/s of the agent's probe path on one core (bench_probe pinned to
#     CPU 0, the responder to CPU 1), reported per wall second and per CPU
#     second of the prober (the machine may be shared);
#  2. anycast-agent memory with 100 targets at a 1 s interval for DURATION s,
#     standalone (JSON lines to a file) and in central mode (reporting to a
#     collector on loopback that hands it the same 100 targets): VmRSS, VmHWM,
#     PSS and Private_Dirty, and the largest mappings by RSS;
#  3. the same responder probed by dnsperf and by prometheus-blackbox-exporter
#     (when installed), for comparison.
# Usage: bench/probe/run.sh   Env: ANYCAST_AGENT and ANYCAST_COLLECTOR
# (binaries; default: a release build in build-bench/), ANYCAST_AGENT_BEFORE
# (another agent binary measured in section 2 too, e.g. an older release),
#  4. system calls per probe of the probe path (strace -c), when installed;
#  5. answer-integrity checks against plain identity probes: probes per CPU
#     second of the probe path when every probe is a check ("lab.test SOA",
#     answer digested, with and without the RRs' text) and when none is,
#     alternating runs, 64 in flight.
# SECONDS_PROBE (5), DURATION (20), SECTIONS (default "1 2 3 4 5").
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
SECTIONS=${SECTIONS:-1 2 3 4 5}
PORT=$((20000 + RANDOM % 20000))
CPORT=$((PORT + 2))

cc -O2 -std=gnu17 -D_GNU_SOURCE -Wall -o "$T/responder" "$ROOT/bench/probe/responder.c"
cc -O2 -std=gnu17 -D_GNU_SOURCE -Wall -I"$ROOT" -o "$T/bench_probe" \
	"$ROOT/bench/probe/bench_probe.c" "$ROOT/agent/dns_wire.c" "$ROOT/agent/dns_answer.c" \
	"$ROOT/agent/udp_probe.c" "$ROOT/agent/rand_pool.c" \
	"$ROOT/common/log.c" "$ROOT/common/text.c" $(pkg-config --cflags --libs libuv ldns)

AGENT=${ANYCAST_AGENT:-}
COLLECTOR=${ANYCAST_COLLECTOR:-}
if [ -z "$AGENT" ] || [ -z "$COLLECTOR" ]; then
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DANYCAST_TESTS=OFF >/dev/null
	cmake --build "$ROOT/build-bench" --target anycast-agent anycast-collector -j2 >/dev/null
	AGENT=${AGENT:-$ROOT/build-bench/anycast-agent}
	COLLECTOR=${COLLECTOR:-$ROOT/build-bench/anycast-collector}
fi

taskset -c 1 "$T/responder" "$PORT" & PIDS+=($!)
sleep 0.3

echo "== machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
if [[ " $SECTIONS " == *" 1 "* ]]; then
echo "== 1. agent probe path, one core, ${SECONDS_PROBE} s per concurrency"
for c in 16 64 256; do
	printf 'concurrency %4d: ' "$c"
	taskset -c 0 "$T/bench_probe" 127.0.0.1 "$PORT" "$SECONDS_PROBE" "$c"
done
fi

if [[ " $SECTIONS " == *" 5 "* ]]; then
echo "== 5. checks vs identity probes, one core, 64 in flight, ${SECONDS_PROBE} s per run, alternating"
for i in 1 2 3; do
	printf 'identity %d: ' "$i"
	taskset -c 0 "$T/bench_probe" 127.0.0.1 "$PORT" "$SECONDS_PROBE" 64
	printf 'check    %d: ' "$i"
	taskset -c 0 "$T/bench_probe" 127.0.0.1 "$PORT" "$SECONDS_PROBE" 64 check
	printf 'notext   %d: ' "$i"
	taskset -c 0 "$T/bench_probe" 127.0.0.1 "$PORT" "$SECONDS_PROBE" 64 check-notext
done
fi

# mem_report LABEL PID: one line of memory figures, then the mappings with
# the largest RSS (kB) summed per file.
mem_report() {
	local st=/proc/$2/status
	printf '%-28s VmRSS %5s kB  VmHWM %5s kB  PSS %5s kB  Private_Dirty %5s kB  CPU %s s  threads %s\n' \
		"$1" "$(awk '/^VmRSS/ {print $2}' "$st")" "$(awk '/^VmHWM/ {print $2}' "$st")" \
		"$(awk '/^Pss:/ {print $2}' "/proc/$2/smaps_rollup")" \
		"$(awk '/^Private_Dirty:/ {print $2}' "/proc/$2/smaps_rollup")" \
		"$(awk '{print ($14 + $15) / 100}' "/proc/$2/stat")" "$(awk '/^Threads/ {print $2}' "$st")"
	awk '/^[0-9a-f]+-[0-9a-f]+ / { n = split($6, p, "/"); m = (NF >= 6 ? p[n] : "[anon]") }
	     /^Rss:/ { rss[m] += $2 }
	     END { for (m in rss) if (rss[m] > 0) print rss[m], m }' "/proc/$2/smaps" |
		sort -rn | head -12 | awk '{ printf "%s %s kB", (NR > 1 ? "," : "    largest:"), $2 " " $1 } END { print "" }'
}

if [[ " $SECTIONS " == *" 2 "* ]]; then
echo "== 2. anycast-agent memory: 100 targets (4 anycast + 24 instances x 4 management), 1 s, ${DURATION} s"
services() {
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
}
services >"$T/agent.yaml"
{
	services
	echo "agents:"
	for name in agent before; do # one per binary: each run starts from seq 1
		token=$name-$RANDOM$RANDOM$RANDOM
		(umask 077 && printf '%s\n' "$token" >"$T/$name.token")
		echo "  - { name: $name, token_sha256: $(printf %s "$token" | sha256sum | cut -d' ' -f1) }"
	done
} >"$T/inventory.yaml"
taskset -c 1 "$COLLECTOR" --config "$T/inventory.yaml" --listen "127.0.0.1:$CPORT" \
	--db "$T/collector.db" >"$T/collector.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$CPORT/healthz" && break
	sleep 0.1
done

# agent_mem LABEL BINARY: standalone, then central mode as agent LABEL,
# DURATION s each.
agent_mem() {
	local label=$1 bin=$2 apid lines okl
	taskset -c 0 "$bin" --config "$T/agent.yaml" >"$T/agent.out" 2>"$T/agent.err" & apid=$!
	PIDS+=($apid)
	sleep "$DURATION"
	mem_report "$label standalone" "$apid"
	kill "$apid"
	wait "$apid" 2>/dev/null || true
	lines=$(wc -l <"$T/agent.out")
	okl=$(grep -c '"outcome":"ok"' "$T/agent.out" || true)
	echo "    records $lines (ok $okl)"

	rm -rf "$T/spool"
	taskset -c 0 "$bin" --collector "http://127.0.0.1:$CPORT" --name "$label" \
		--token-file "$T/$label.token" --spool "$T/spool" >/dev/null 2>"$T/central.err" & apid=$!
	PIDS+=($apid)
	sleep "$DURATION"
	mem_report "$label central" "$apid"
	kill "$apid"
	wait "$apid" 2>/dev/null || true
	echo "    records acknowledged by the collector: $(awk '$1 == "acked" {print $2}' "$T/spool/state")"
}
agent_mem "agent" "$AGENT"
if [ -n "${ANYCAST_AGENT_BEFORE:-}" ]; then
	agent_mem "before" "$ANYCAST_AGENT_BEFORE"
fi
fi

if [[ " $SECTIONS " == *" 4 "* ]] && command -v strace >/dev/null; then
echo "== 4. system calls per probe (strace -c, 2 s, 16 in flight)"
taskset -c 0 strace -c -f -o "$T/strace.txt" "$T/bench_probe" 127.0.0.1 "$PORT" 2 16 >"$T/strace.run"
probes=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "probes") print $(i + 1) }' "$T/strace.run")
awk -v n="$probes" 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" && $4 >= n / 100 {
		printf "%s %.2f, ", $NF, $4 / n }
     $NF == "total" { printf "\nprobes %d, system calls per probe %.1f (process start included)\n", n, $4 / n }' \
	"$T/strace.txt"
fi

if [[ " $SECTIONS " == *" 3 "* ]]; then
echo "== 3. comparison against the same responder"
if command -v dnsperf >/dev/null; then
	printf 'id.server TXT\nlab. SOA\n' >"$T/queries"
	# CPU seconds of dnsperf from the shell's `times` (children user, sys).
	bash -c 'taskset -c 0 dnsperf "$@" >'"$T/dnsperf.out"' 2>&1; times' _ -s 127.0.0.1 -p "$PORT" \
		-d "$T/queries" -l "$SECONDS_PROBE" -c 1 -T 1 -q 256 >"$T/dnsperf.times"
	grep -E "Queries (sent|completed)|Queries per second" "$T/dnsperf.out" | sed 's/^ */dnsperf: /'
	awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' \
		"$T/dnsperf.times" >"$T/dnsperf.cpu"
	awk -v cpu="$(cat "$T/dnsperf.cpu")" '/Queries completed/ { printf "dnsperf: cpu %.2f s, %.0f per CPU second\n", cpu, $3 / cpu }' \
		"$T/dnsperf.out"
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
fi
