#!/bin/bash
# bench/probe/trace.sh - cost of the path probe, in a running lab:
#  1. traces per CPU second and packets per trace of agent/path_probe.c on one
#     loop (bench_trace: TOTAL traces, 1 and 8 at a time) from br1 to site-b's
#     management address (3 hops) and to the DNS anycast address (2 hops);
#  2. process per trace, against the peer tracepath(8) in the same run:
#     `anycast-agent --trace` and `tracepath -n` N times each, alternating,
#     CPU seconds of the children (getrusage) and UDP datagrams sent (the
#     namespace's /proc/net/snmp) per trace.
# The lab's routers rate-limit ICMP (1 per second per peer after a burst of
# 6): for the run the routers on the path and the server get
# icmp_ratelimit=0, restored at exit.
# Usage: LAB_PREFIX=X bench/probe/trace.sh   Env: ANYCAST_AGENT (default: a
# release build in build-bench/), TOTAL (500), N (50).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${LAB_PREFIX:?set LAB_PREFIX to a running lab (scripts/lab/lab.sh up)}"
LAB_DIR=${LAB_DIR:-/tmp/anycast-lab-$LAB_PREFIX}
. "$LAB_DIR/lab.env"
TOTAL=${TOTAL:-500}
N=${N:-50}
T=$(mktemp -d /tmp/bench-trace.XXXXXX)
NODES="r1 r2 site-a site-b"
declare -A OLD
restore() {
	local n
	for n in $NODES; do
		[ -n "${OLD[$n]:-}" ] && ip netns exec "$LAB_PREFIX-$n" sysctl -qw net.ipv4.icmp_ratelimit="${OLD[$n]}" || true
	done
	rm -rf "$T"
}
trap restore EXIT
command -v tracepath >/dev/null || { echo "tracepath (iputils-tracepath) is needed" >&2; exit 1; }

cc -O2 -std=gnu17 -D_GNU_SOURCE -Wall -I"$ROOT" -o "$T/bench_trace" "$ROOT/bench/probe/bench_trace.c" \
	"$ROOT"/agent/path_{probe,trace,icmp}.c "$ROOT/agent/rand_pool.c" "$ROOT"/common/{log,text}.c \
	$(pkg-config --cflags --libs libuv)
AGENT=${ANYCAST_AGENT:-}
if [ -z "$AGENT" ]; then
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DANYCAST_TESTS=OFF >/dev/null
	cmake --build "$ROOT/build-bench" --target anycast-agent -j2 >/dev/null
	AGENT=$ROOT/build-bench/anycast-agent
fi
for n in $NODES; do
	OLD[$n]=$(ip netns exec "$LAB_PREFIX-$n" sysctl -n net.ipv4.icmp_ratelimit)
	ip netns exec "$LAB_PREFIX-$n" sysctl -qw net.ipv4.icmp_ratelimit=0
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## 1. one loop (bench_trace), from br1"
for dst in "$LAB_MGMT4_site_b" "$LAB_ANYCAST_DNS4"; do
	for c in 1 8; do
		out=$(ip netns exec "$LAB_PREFIX-br1" "$T/bench_trace" "$dst" "$TOTAL" "$c")
		awk -v d="$dst" -v c="$c" '{printf "%s, %d at a time: %d traces (%d reached), %.2f packets/trace, %.0f traces per CPU second, %.0f per wall second\n", d, c, $2, $4, $6/$2, $2/$8, $2/$10}' <<<"$out"
	done
done

echo "## 2. one process per trace, $N each, alternating (br1 -> $LAB_MGMT4_site_b)"
python3 - "$LAB_PREFIX-br1" "$AGENT" "$LAB_MGMT4_site_b" "$N" <<'PY'
import resource, subprocess, sys
ns, agent, dst, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def udp_out():
    lines = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], capture_output=True, text=True).stdout.splitlines()
    udp = [l.split() for l in lines if l.startswith("Udp:")]
    return int(udp[1][udp[0].index("OutDatagrams")])
cmds = {"anycast-agent --trace": [agent, "--trace", dst], "tracepath -n": ["tracepath", "-n", dst]}
cpu = {k: 0.0 for k in cmds}; pk = {k: 0 for k in cmds}
for i in range(n):
    for k, c in cmds.items():
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN); u0 = udp_out()
        subprocess.run(["ip", "netns", "exec", ns] + c, stdout=subprocess.DEVNULL, check=True)
        u1 = udp_out(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[k] += (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime); pk[k] += u1 - u0
for k in cmds:
    print(f"{k}: {cpu[k] / n * 1000:.2f} ms CPU per trace (with ip netns exec), {pk[k] / n:.2f} UDP datagrams per trace")
a, t = cpu["anycast-agent --trace"], cpu["tracepath -n"]
print(f"CPU ratio anycast-agent / tracepath: {a / t:.2f}")
PY
