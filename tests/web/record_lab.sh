#!/bin/bash
# tests/web/record_lab.sh - records the result set the browser test replays, from the real lab
#
# Brings up the anycast lab (scripts/lab/lab.sh) under its own LAB_PREFIX, runs
# one standalone anycast-agent per branch (JSON lines on stdout, 2 s rounds),
# breaks the network in three phases, stops everything and writes
# tests/web/fixtures/{initial,move,hijack}.jsonl plus truth.json (what the
# lab's routing says each branch reaches at the end of each phase):
#   initial  healthy, then a black hole for the IPv4 NTP anycast address in
#            br2 (outage)
#   move     "fault cost br4": br4 is routed to another site while its old
#            one still answers (catchment change, route change)
#   hijack   "fault rogue": a rogue server announces the anycast addresses
# Needs root (network namespaces). Usage: ANYCAST_BIN=build-dir tests/web/record_lab.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. "$ROOT/scripts/lib/stop.sh" # stop_pids
OUT=$ROOT/tests/web/fixtures
export LAB_PREFIX=${LAB_PREFIX:-webrec}
export LAB_DIR=/tmp/anycast-lab-$LAB_PREFIX
LAB=$ROOT/scripts/lab/lab.sh
AGENT=${ANYCAST_BIN:-$ROOT/build-web}/anycast-agent
PHASE_S=${PHASE_S:-16}

work=$(mktemp -d /tmp/anycast-web-rec.XXXXXX)
pids=()
cleanup() {
	STOP_TENTHS=50 stop_pids "${pids[@]}"
	pids=()
	"$LAB" down >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$LAB" up
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"
sed 's/interval: 1s/interval: 2s/; s/identify: \[nsid, id.server, hostname.bind\]/identify: [nsid, id.server]/' \
	"$LAB_INVENTORY" > "$work/agent.yaml"

for br in $LAB_BRANCHES; do
	mkdir -p "$work/spool-$br"
	"$LAB" exec "$br" "$AGENT" --config "$work/agent.yaml" --spool "$work/spool-$br" \
		> "$work/$br.jsonl" 2> "$work/$br.log" &
	pids+=($!)
done

now_ms() { date +%s%3N; }
truth() { "$LAB" truth 2>/dev/null; }
{
	echo '{'
	sleep "$PHASE_S"
	"$LAB" exec br2 ip route replace blackhole "$LAB_ANYCAST_NTP4/32"
	sleep "$PHASE_S"
	echo "\"initial\": $(truth), \"initial_end_ms\": $(now_ms),"
	# the lab checks its truth after a fault; br2's NTP black hole (ours, not
	# the lab's) keeps that check from passing: give it a short time and go on
	LAB_TIMEOUT=8 "$LAB" fault cost br4 >&2 || true
	sleep "$PHASE_S"
	echo "\"move\": $(truth), \"move_end_ms\": $(now_ms),"
	LAB_TIMEOUT=8 "$LAB" fault rogue >&2 || true
	sleep "$PHASE_S"
	echo "\"hijack\": $(truth), \"black_hole\": \"br2 ntp IPv4 from the middle of initial on\""
	echo '}'
} > "$work/truth.json"

for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# Cut the recordings into phases at round boundaries and tag each record
# with its agent (the feeder uses it to pick the token; the collector ignores it).
node - "$work" "$OUT" $LAB_BRANCHES <<'JS'
const fs = require('fs'), path = require('path');
const [work, out, ...branches] = process.argv.slice(2);
const truth = JSON.parse(fs.readFileSync(path.join(work, 'truth.json'), 'utf8'));
const phases = { initial: [], move: [], hijack: [] };
for (const br of branches) {
	const recs = fs.readFileSync(path.join(work, `${br}.jsonl`), 'utf8').trim().split('\n')
		.filter(Boolean).map((l) => JSON.parse(l));
	const roundStart = new Map();
	for (const r of recs) if (!roundStart.has(r.round)) roundStart.set(r.round, Date.parse(r.time));
	for (const r of recs) {
		const t = roundStart.get(r.round);
		const ph = t < truth.initial_end_ms ? 'initial' : t < truth.move_end_ms ? 'move' : 'hijack';
		phases[ph].push(Object.assign({ agent: br }, r));
	}
}
fs.mkdirSync(out, { recursive: true });
for (const [name, recs] of Object.entries(phases)) {
	recs.sort((a, b) => a.time.localeCompare(b.time) || a.agent.localeCompare(b.agent) || a.seq - b.seq);
	fs.writeFileSync(path.join(out, `${name}.jsonl`), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
	console.log(`${name}.jsonl: ${recs.length} records`);
}
fs.writeFileSync(path.join(out, 'truth.json'), JSON.stringify(
	{ routing_truth: { initial: truth.initial, move: truth.move, hijack: truth.hijack }, black_hole: truth.black_hole },
	null, 1) + '\n');
fs.copyFileSync(path.join(work, 'agent.yaml'), path.join(out, 'inventory-services.yaml'));
JS
echo "recorded into $OUT"
