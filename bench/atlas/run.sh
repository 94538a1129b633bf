#!/bin/bash
# bench/atlas/run.sh - "anycast-collector atlas import" of RESULTS RIPE Atlas
# DNS results from PROBES probes (bench/atlas/gen.py) into a fresh database,
# then the same file again (every result a duplicate), beside a baseline
# measured in the same run: Python's json module (C) parsing the same lines.
# Usage: bench/atlas/run.sh [PROBES] [RESULTS]   (default 3000 1000000)
# Binary: a Release build in build-bench/ (built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
PROBES=${1:-3000}
RESULTS=${2:-1000000}
B=${BUILD_BENCH:-$PWD/build-bench}
if [ ! -x "$B/anycast-collector" ]; then
	cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DANYCAST_TESTS=OFF >/dev/null
	cmake --build "$B" -j2 --target anycast-collector >/dev/null
fi
T=$(mktemp -d /tmp/atlas-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
cat >"$T/inv.yaml" <<'YAML'
services:
  - name: dns
    protocol: dns
    address: [198.18.255.53]
    interval: 4m
    instances:
      - { name: site-a, management: 198.18.1.2, identity: nsd-nsid }
      - { name: site-b, management: 198.18.2.2, identity: knot-nsid }
YAML
python3 bench/atlas/gen.py "$PROBES" "$RESULTS" >"$T/day.jsonl"
echo "file: $(du -m "$T/day.jsonl" | cut -f1) MB, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
now() { date +%s.%N; }
t0=$(now)
python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$T/day.jsonl"
t1=$(now)
"$B/anycast-collector" atlas import --config "$T/inv.yaml" --db "$T/a.db" "$T/day.jsonl" 2>/dev/null
t2=$(now)
"$B/anycast-collector" atlas import --config "$T/inv.yaml" --db "$T/a.db" "$T/day.jsonl" 2>/dev/null
t3=$(now)
awk -v n="$RESULTS" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
	printf "baseline python json.loads: %.1f s, %.0f results/s\n", b - a, n / (b - a)
	printf "import (new):       %.1f s, %.0f results/s, %.2f x baseline time\n", c - b, n / (c - b), (c - b) / (b - a)
	printf "import (repeated):  %.1f s, %.0f results/s, %.2f x baseline time\n", d - c, n / (d - c), (d - c) / (b - a)
}'
