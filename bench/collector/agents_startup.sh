#!/bin/bash
# bench/collector/agents_startup.sh - start-up time and memory of a collector
# whose inventory lists N agents (10 services of 2 instances each), for each N
# given: seconds from exec to the first /healthz 200, RSS then, and the
# seconds a SIGHUP reload of the same inventory takes; each against the
# smallest N of the run (ratios, same run).
# Usage: bench/collector/agents_startup.sh [N...]   (default 1000 10000 100000)
source "$(dirname "$0")/common.sh"
[ $# -gt 0 ] || set -- 1000 10000 100000
build_collector

# write_big_inventory N: hashes by Python, not 100,000 sha256sum processes
write_big_inventory() {
	python3 - "$1" "$WORK/inv.yaml" <<'PY'
import hashlib, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("services:\n")
    for i in range(10):
        f.write(f"  - name: svc{i}\n    protocol: dns\n    address: [198.18.255.53]\n"
                "    instances:\n"
                "      - { name: site-a, management: 198.18.1.2, identity: site-a.lab }\n"
                "      - { name: site-b, management: 198.18.2.2, identity: site-b.lab }\n")
    f.write("agents:\n")
    for i in range(1, n + 1):
        h = hashlib.sha256(f"bench-token-{i}".encode()).hexdigest()
        f.write(f"  - {{ name: bench-{i}, token_sha256: {h} }}\n")
PY
}

now() { date +%s.%N; }
printf '%-8s %10s %10s %10s %14s\n' agents "start s" "RSS MB" "reload s" "KB RSS/agent"
base_rss=""
for n in "$@"; do
	rm -f "$WORK"/anycast.db*
	write_big_inventory "$n"
	t0=$(now)
	start_collector
	t1=$(now)
	rss=$(rss_kb)
	lines=$(wc -l < "$WORK/collector.log")
	t2=$(now)
	kill -HUP "$CPID"
	until tail -n +"$((lines + 1))" "$WORK/collector.log" | grep -q "reloaded "; do
		sleep 0.02
	done
	t3=$(now)
	stop_collector
	[ -n "$base_rss" ] || { base_rss=$rss base_n=$n; }
	awk -v n="$n" -v t0="$t0" -v t1="$t1" -v r="$rss" -v t2="$t2" -v t3="$t3" -v br="$base_rss" \
		-v bn="$base_n" 'BEGIN {
		per = n > bn ? (r - br) / (n - bn) : 0
		printf "%-8d %10.2f %10.1f %10.2f %14.2f\n", n, t1 - t0, r / 1024, t3 - t2, per }'
done
