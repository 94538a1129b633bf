#!/bin/bash
# tests/lab/test_agent_identify.sh - end to end: from every branch of the lab,
# `anycast-agent --config inventory.yaml --once --json` names the instance the
# lab's routing truth says answers, for DNS and NTP over IPv4 and IPv6; after
# each fault (service-down, link-down, cost, rogue, ecmp) the next rounds
# report the new truth: another instance, an outage, an unknown identity, or
# alternating instances under ECMP.
#
# Runs under tests/lab/run.sh (lab up, $LAB_DIR/lab.env exported, ANYCAST_BIN
# set) or alone: then it brings up its own lab with LAB_PREFIX=ag and tears it
# down at the end. Agents run in the branch namespaces, one at a time, in a
# temp dir, with --once (they exit by themselves).
# Env: ANYCAST_BIN (build dir with anycast-agent),
#      AG_FAULTS (default "service-down:site-a link-down:site-b cost:br1 rogue ecmp:br2").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab/lab.sh
BIN=${ANYCAST_BIN:-$ROOT/build}
FAULTS=${AG_FAULTS:-"service-down:site-a link-down:site-b cost:br1 rogue ecmp:br2"}

log() { echo "test_agent_identify: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[ -x "$BIN/anycast-agent" ] || fail "$BIN/anycast-agent not built (set ANYCAST_BIN)"

own_lab=0
if [ -z "${LAB_DIR:-}" ] || [ ! -f "$LAB_DIR/lab.env" ]; then
	export LAB_PREFIX=${LAB_PREFIX:-ag}
	export LAB_DIR=/tmp/anycast-lab-$LAB_PREFIX
	log "bringing up lab $LAB_PREFIX"
	"$LAB" up
	own_lab=1
fi
set -a
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"
set +a

W=$(mktemp -d /tmp/ag-identify.XXXXXX)
cont_pid=""
cleanup() {
	local rc=$?
	if [ -n "$cont_pid" ]; then
		kill "$cont_pid" 2>/dev/null || true
		wait "$cont_pid" 2>/dev/null || true
	fi
	"$LAB" heal >/dev/null 2>&1 || true
	if [ $own_lab = 1 ]; then "$LAB" down || true; fi
	if [ $rc != 0 ]; then log "records kept in $W"; else rm -rf "$W"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check.py TRUTH_JSON BRANCH FILE...: the records of one or more --once runs
# of one branch against that branch's truth. Prints what it saw; exit 1 on a
# mismatch. ECMP truths (a list) need every listed site seen, none other.
cat >"$W/check.py" <<'EOF'
import json, sys
truth = json.loads(sys.argv[1])[sys.argv[2]]
runs = []
for path in sys.argv[3:]:
    runs.append([json.loads(l) for l in open(path) if l.strip()])
bad = []
for svc in ("dns", "ntp"):
    want = truth[svc]
    for fam in (4, 6):
        recs = [r for run in runs for r in run
                if r["service"] == svc and r["family"] == fam and r["target"] == "anycast"]
        if not recs:
            bad.append("%s/v%d: no anycast record" % (svc, fam)); continue
        answered = [r for r in recs if r["outcome"] in ("ok", "rcode", "ambiguous", "unknown")]
        seen = sorted({r["instance"] or "-" for r in answered})
        desc = "%s/v%d want %s saw %s (%s)" % (svc, fam, json.dumps(want), seen,
                ",".join(sorted({r["outcome"] for r in recs})))
        print("  " + desc)
        if want is None:
            if answered:
                bad.append(desc + ": something answered during an outage")
        elif want == "rogue":
            # An identity no configured instance has.
            if not answered or any(r["instance"] for r in answered):
                bad.append(desc + ": rogue answer attributed to an instance")
            elif svc == "dns" and not all(r["identity"] == "rogue.evil" for r in answered):
                bad.append(desc + ": rogue identity not reported")
            elif svc == "ntp" and not all(r["outcome"] == "unknown" for r in answered):
                bad.append(desc + ": rogue NTP server not 'unknown'")
        elif isinstance(want, list):
            if set(seen) != set(want):
                bad.append(desc + ": ECMP should show exactly the listed instances")
        else:
            # NTP may say "ambiguous" (a clock update between the unicast
            # queries, or a round cut short by SIGTERM): not wrong, just not
            # sure. Everything identified must be the truth.
            ok = [r for r in answered if r["outcome"] == "ok"]
            odd = [r for r in answered if r["outcome"] != "ok" and
                   not (svc == "ntp" and r["outcome"] == "ambiguous")]
            if not ok or odd or any(r["instance"] != want for r in ok):
                bad.append(desc)
for b in bad:
    print("MISMATCH " + b)
sys.exit(1 if bad else 0)
EOF

# The agent's config: the lab inventory, with the probe timeout below the
# interval (the inventory loader insists on timeout < interval).
sed 's/^\( *timeout:\) 1s$/\1 900ms/' "$LAB_INVENTORY" >"$W/agent.yaml"

# run_agent BRANCH OUT: one --once --json round in the branch namespace.
# Returns the agent's exit code (1 = an anycast address answered nothing).
run_agent() {
	local br=$1 out=$2 ns_var=LAB_NS_$1 rc=0
	mkdir -p "$W/$br"
	(cd "$W/$br" && exec ip netns exec "${!ns_var}" "$BIN/anycast-agent" \
		--config "$W/agent.yaml" --once --json) >"$out" 2>>"$W/$br/agent.log" || rc=$?
	return $rc
}

# check_all LABEL [RUNS]: every branch against the current truth.
check_all() {
	local label=$1 runs=${2:-1} truth br i rc want_rc files ok=1
	truth=$("$LAB" truth)
	log "$label: truth $truth"
	for br in $LAB_BRANCHES; do
		files=()
		want_rc=0
		jq -e --arg b "$br" '.[$b] | (.dns == null or .ntp == null)' <<<"$truth" >/dev/null &&
			want_rc=1
		for i in $(seq 1 "$runs"); do
			rc=0
			run_agent "$br" "$W/$br.$label.$i.jsonl" || rc=$?
			[ "$rc" = "$want_rc" ] || { log "$br: exit code $rc, want $want_rc"; ok=0; }
			files+=("$W/$br.$label.$i.jsonl")
			# ECMP: stop as soon as every listed instance showed up.
			if [ "$runs" -gt 1 ] && python3 "$W/check.py" "$truth" "$br" "${files[@]}" \
				>/dev/null 2>&1; then
				break
			fi
		done
		log "$br ($label, ${#files[@]} round(s)):"
		python3 "$W/check.py" "$truth" "$br" "${files[@]}" >&2 || ok=0
	done
	[ $ok = 1 ] || fail "$label: identification differs from the truth"
}

# A long-running agent in br1 (JSON lines, 1 s rounds) sees every fault come
# and go: its records inside each window must match that window's truth.
now_ms() { date +%s%3N; }
mkdir -p "$W/cont"
(cd "$W/cont" && exec ip netns exec "$LAB_NS_br1" "$BIN/anycast-agent" --config "$W/agent.yaml" \
	--spool "$W/cont/spool") >"$W/cont/br1.jsonl" 2>"$W/cont/agent.log" &
cont_pid=$!
: >"$W/windows"
window_open() { win_t0=$(now_ms); win_truth=$("$LAB" truth); }
# A window holds at least WINDOW_MIN_MS: slice.py skips its first 1.5 s (the
# round in flight when the fault took effect), so it must outlast that by a
# few 1 s rounds however fast the one-shot checks inside it ran.
WINDOW_MIN_MS=${WINDOW_MIN_MS:-4500}
window_close() {
	local left=$((win_t0 + WINDOW_MIN_MS - $(now_ms)))
	[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	echo "$1 $win_t0 $(now_ms) $win_truth" >>"$W/windows"
}

# slice.py SRC T0 T1 OUT: records sent from one round after T0 up to T1 (ms).
cat >"$W/slice.py" <<'EOF'
import json, sys, datetime
src, t0, t1, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def ms(t):
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
with open(out, "w") as f:
    for l in open(src):
        if t0 + 1500 <= ms(json.loads(l)["time"]) <= t1:
            f.write(l)
EOF

window_open
check_all healthy
window_close healthy
for f in $FAULTS; do
	name=${f%%:*}
	arg=""
	[ "$name" != "$f" ] && arg=${f#*:}
	log "fault $name $arg"
	# shellcheck disable=SC2086
	"$LAB" fault "$name" $arg
	window_open
	if [ "$name" = ecmp ]; then
		# Each query leaves from a new random port: with L4 hashing the
		# rounds alternate between the equal-cost instances.
		check_all "$name" 12
	else
		check_all "$name"
	fi
	window_close "$name"
	"$LAB" heal
done
window_open
check_all healed
sleep 2
window_close healed

# The continuous agent: SIGTERM must stop it cleanly; then each window.
kill -TERM "$cont_pid"
rc=0
wait "$cont_pid" || rc=$?
cont_pid=""
[ $rc = 0 ] || fail "continuous agent exited with $rc on SIGTERM"
ok=1
while read -r label t0 t1 truth; do
	python3 "$W/slice.py" "$W/cont/br1.jsonl" "$t0" "$t1" "$W/cont/$label.jsonl"
	log "continuous br1, $label: $(grep -c . "$W/cont/$label.jsonl") records"
	python3 "$W/check.py" "$truth" br1 "$W/cont/$label.jsonl" >&2 || ok=0
done <"$W/windows"
python3 -c 'import json, sys
s = [json.loads(l)["seq"] for l in open(sys.argv[1])]
sys.exit(0 if s == list(range(1, len(s) + 1)) else 1)' "$W/cont/br1.jsonl" ||
	{ log "continuous agent: seq is not 1, 2, 3, ..."; ok=0; }
[ $ok = 1 ] || fail "the continuous agent's records differ from the truth"
log "PASS"
