#!/bin/bash
# scripts/lab/measure.sh - how long each fault (and its heal) takes to show at an affected branch
#
# With a lab up (same LAB_PREFIX), for each fault: a branch asks id.server via
# the IPv4 DNS anycast address every 100 ms (each probe stamped with its send
# time); the fault is injected with lab.sh; the result is the time from the
# injection to the first probe answered differently (or not at all). The same
# for heal, back to the original answer. Prints one line per fault.
# Usage: LAB_PREFIX=xx scripts/lab/measure.sh ["fault args:branch" ...]
set -u
LAB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$LAB_HOME/topo.sh"
LAB=$LAB_HOME/lab.sh

specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=("service-down site-a:br1" "service-down site-b:br2"
	"link-down site-a:br1" "link-down site-c:br3" "cost br1:br1" "ecmp br2:br2" "rogue:br3")
[ -f "$LAB_DIR/lab.env" ] || { echo "measure: no lab $LAB_PREFIX is up" >&2; exit 1; }

now_ms() { date +%s%3N; }
ask() { # ask BRANCH: the id.server answer or "-"
	local a
	a=$(ip netns exec "$(ns_name "$1")" dig +time=1 +tries=1 +short @"$ANY4_DNS" id.server CH TXT 2>/dev/null |
		grep '^"' | head -n1 | tr -d '"')
	echo "${a:--}"
}
prober() { # prober BRANCH LOG: "send_ms answer" lines until killed
	while :; do
		echo "$(now_ms) $(ask "$1")"
		sleep 0.1
	done >"$2"
}
# first_change LOG T0 BEFORE: ms from T0 to the first probe sent after T0 whose answer != BEFORE
first_change() {
	awk -v t0="$2" -v b="$3" '$1 >= t0 && $2 != b { print $1 - t0; found = 1; exit }
		END { if (!found) print "never" }' "$1"
}
# first_in LOG T0 "A B..": ms from T0 to the first probe after T0 answered by one of A B..
first_in() {
	awk -v t0="$2" -v set=" $3 " '$1 >= t0 && index(set, " " $2 " ") { print $1 - t0; found = 1; exit }
		END { if (!found) print "never" }' "$1"
}
# first_back LOG T0 BEFORE: ms from T0 to the first probe after T0 answered BEFORE again
first_back() {
	awk -v t0="$2" -v b="$3" '$1 >= t0 && $2 == b { print $1 - t0; found = 1; exit }
		END { if (!found) print "never" }' "$1"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for spec in "${specs[@]}"; do
	fault=${spec%:*}
	br=${spec##*:}
	before=$(ask "$br")
	prober "$br" "$log" &
	pid=$!
	sleep 0.5
	t0=$(now_ms)
	$LAB fault $fault >/dev/null 2>&1 || echo "measure: lab.sh fault $fault did not converge" >&2
	# The answers the truth now expects at this branch ("-" = none).
	want=$($LAB truth | sed 's/.*"'"$br"'":{"dns":\([^}]*\),"ntp".*/\1/' | tr -d '[]"' | tr ',' ' ')
	want=$(for w in $want; do case $w in null) echo - ;; rogue) echo "$ROGUE_IDENTITY" ;; *) echo "$w.lab" ;; esac; done | tr '\n' ' ')
	[ "$before" != - ] && want=$(for w in $want; do [ "$w" != "$before" ] && echo "$w"; done | tr '\n' ' ')
	sleep 1
	t1=$(now_ms)
	$LAB heal >/dev/null 2>&1 || echo "measure: lab.sh heal did not converge" >&2
	sleep 1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	printf '%-20s %-4s %-11s -> changed after %5s ms, %-11s after %5s ms; heal: back after %5s ms\n' \
		"$fault" "$br" "$before" "$(first_change "$log" "$t0" "$before")" "$(echo $want | tr ' ' ',')" \
		"$(first_in "$log" "$t0" "$want")" "$(first_back "$log" "$t1" "$before")"
done
