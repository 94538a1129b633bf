#!/bin/bash
# tests/lab/test_lab_smoke.sh - the lab answers as its truth says, before, during and after each fault
#
# Learns each instance's identity and NTP stratum through its management
# address, then from every branch over IPv4 and IPv6 asks id.server (DNS) and
# the stratum (NTP) via the anycast addresses and compares the answering site
# with `lab.sh truth`. Each fault must change what branches see in the way the
# fault implies (blackhole, failover, moved catchment, ECMP, hijack), and heal
# must restore the baseline.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || fatal "jq is needed"
SERVERS="$LAB_SITES rogue"
declare -A IDENT STRAT MGMT4 MGMT6

mgmt4() { local v="LAB_MGMT4_${1//-/_}"; [ "$1" = rogue ] && v=LAB_ROGUE_MGMT4; echo "${!v}"; }
mgmt6() { local v="LAB_MGMT6_${1//-/_}"; [ "$1" = rogue ] && v=LAB_ROGUE_MGMT6; echo "${!v}"; }

# --- identities through the management (unicast) addresses -------------------
for s in $SERVERS; do
	MGMT4[$s]=$(mgmt4 "$s")
	MGMT6[$s]=$(mgmt6 "$s")
	IDENT[$s]=$(dns_identity br1 "${MGMT4[$s]}")
	STRAT[$s]=$(ntp_stratum br1 "${MGMT4[$s]}")
	[ -n "${IDENT[$s]}" ] || fail "$s: no id.server answer from its management address ${MGMT4[$s]}"
	[ -n "${STRAT[$s]}" ] || fail "$s: no NTP answer from its management address ${MGMT4[$s]}"
	assert_eq "${IDENT[$s]}" "$(dns_identity br4 "${MGMT6[$s]}")" "$s: id.server via IPv6 management ${MGMT6[$s]}"
	hb=$(in_ns br1 dig +time=1 +tries=1 +short @"${MGMT4[$s]}" hostname.bind CH TXT | tr -d '"')
	assert_eq "${IDENT[$s]}" "$hb" "$s: hostname.bind"
	nsid=$(in_ns br1 dig +time=1 +tries=1 +nsid @"${MGMT4[$s]}" lab. SOA | sed -n 's/.*NSID: .*("\(.*\)").*/\1/p')
	assert_eq "${IDENT[$s]}" "$nsid" "$s: EDNS NSID"
	soa=$(in_ns br1 dig +time=1 +tries=1 +short @"${MGMT4[$s]}" lab. SOA | cut -d' ' -f1)
	assert_eq "ns.lab." "$soa" "$s: serves the lab. zone (SOA)"
	say "$s: identity ${IDENT[$s]}, NTP stratum ${STRAT[$s]}, management ${MGMT4[$s]} ${MGMT6[$s]}"
done
n_id=$(for s in $SERVERS; do echo "${IDENT[$s]}"; done | sort -u | grep -c .)
n_st=$(for s in $SERVERS; do echo "${STRAT[$s]}"; done | sort -u | grep -c .)
assert_eq "$(echo $SERVERS | wc -w)" "$n_id" "every server has its own DNS identity"
assert_eq "$(echo $SERVERS | wc -w)" "$n_st" "every server has its own NTP stratum"
[ "$TEST_FAILURES" = 0 ] || fatal "instances cannot be told apart; stopping"

site_by_ident() {
	local s
	[ -n "$1" ] || { echo null; return; }
	for s in $SERVERS; do [ "${IDENT[$s]}" = "$1" ] && { echo "$s"; return; }; done
	echo "unknown($1)"
}
site_by_stratum() {
	local s
	[ -n "$1" ] || { echo null; return; }
	for s in $SERVERS; do [ "${STRAT[$s]}" = "$1" ] && { echo "$s"; return; }; done
	echo "unknown(stratum $1)"
}

# observe_one BRANCH PROBE -> site answering (PROBE: dns4 dns6 ntp4 ntp6)
observe_one() {
	case $2 in
	dns4) site_by_ident "$(dns_identity "$1" "$LAB_ANYCAST_DNS4")" ;;
	dns6) site_by_ident "$(dns_identity "$1" "$LAB_ANYCAST_DNS6")" ;;
	ntp4) site_by_stratum "$(ntp_stratum "$1" "$LAB_ANYCAST_NTP4")" ;;
	ntp6) site_by_stratum "$(ntp_stratum "$1" "$LAB_ANYCAST_NTP6")" ;;
	esac
}

# observe_set BRANCH PROBE N -> sorted distinct sites over N queries (new source port each)
observe_set() {
	local i
	for i in $(seq "$3"); do observe_one "$1" "$2"; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# observe_all FILE TRUTH: "branch probe site(s)" lines for every branch and
# probe, all in parallel. Where the truth is ECMP, the set seen over 16
# queries is recorded.
observe_all() {
	local out=$1 truth=$2 br p want n
	for br in $LAB_BRANCHES; do
		for p in dns4 dns6 ntp4 ntp6; do
			want=$(echo "$truth" | jq -r ".\"$br\".${p%?} | if type == \"array\" then sort | join(\" \") else (. // \"null\") end")
			n=1
			[ "$(echo "$want" | wc -w)" -gt 1 ] && n=16
			echo "$br $p $(observe_set "$br" "$p" $n)" >"$TEST_TMP/obs.$br.$p" &
		done
	done
	wait
	for br in $LAB_BRANCHES; do
		for p in dns4 dns6 ntp4 ntp6; do cat "$TEST_TMP/obs.$br.$p"; done
	done >"$out"
}

# expected_all TRUTH -> the same "branch probe site(s)" lines from lab.sh truth
expected_all() {
	local br p
	for br in $LAB_BRANCHES; do
		for p in dns4 dns6 ntp4 ntp6; do
			echo "$br $p $(echo "$1" | jq -r ".\"$br\".${p%?} | if type == \"array\" then sort | join(\" \") else (. // \"null\") end")"
		done
	done
}

# check_truth LABEL: what branches see equals lab.sh truth (polls up to 20 s).
# Leaves the observation in $TEST_TMP/seen.
check_truth() {
	local label=$1 truth deadline
	truth=$(lab truth)
	echo "$truth" | jq -e . >/dev/null || { fail "$label: lab.sh truth is not JSON: $truth"; return; }
	expected_all "$truth" >"$TEST_TMP/want"
	deadline=$(($(date +%s) + 20))
	while :; do
		observe_all "$TEST_TMP/seen" "$truth"
		cmp -s "$TEST_TMP/want" "$TEST_TMP/seen" && break
		[ "$(date +%s)" -ge "$deadline" ] && break
		sleep 1
	done
	TEST_CHECKS=$((TEST_CHECKS + 1))
	if ! cmp -s "$TEST_TMP/want" "$TEST_TMP/seen"; then
		fail "$label: branches do not see what lab.sh truth predicts (branch probe: truth | seen):"
		paste -d'|' "$TEST_TMP/want" "$TEST_TMP/seen" |
			awk -F'|' '$1 != $2 { n = split($1, w, " "); t = $1; sub(/^[^ ]+ [^ ]+ /, "", t)
				s = $2; sub(/^[^ ]+ [^ ]+ /, "", s); print "    " w[1] " " w[2] ": truth " t " | seen " s }'
	else
		say "$label: all $(wc -l <"$TEST_TMP/seen") probes match the truth"
	fi
}

seen() { awk -v b="$1" -v p="$2" '$1 == b && $2 == p { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' "$TEST_TMP/seen"; }

# --- baseline ------------------------------------------------------------------
check_truth baseline
cp "$TEST_TMP/seen" "$TEST_TMP/baseline"
base() { awk -v b="$1" '$1 == b && $2 == "dns4" { print $3 }' "$TEST_TMP/baseline"; }
sites_seen=$(awk '{ print $3 }' "$TEST_TMP/baseline" | sort -u | grep -c site-)
[ "$sites_seen" -ge 2 ] || fail "baseline: branches should land in at least two catchments, saw $sites_seen"
# The noc must be reachable from every branch (agents report there).
# A stand-in for the collector: answers any HTTP request with 200 (IPv4 and IPv6).
start_in_ns noc web perl -MIO::Socket::IP -e '
	my $s = IO::Socket::IP->new(LocalHost => "::", LocalPort => 8053, Listen => 16,
		ReuseAddr => 1, V6Only => 0) or die "listen: $!\n";
	while (my $c = $s->accept) {
		while (defined(my $l = <$c>)) { last if $l =~ /^\r?$/ }
		print $c "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
		close $c;
	}'
wait_for 10 "test web server in the noc" in_ns noc bash -c "exec 3<>/dev/tcp/$LAB_COLLECTOR_ADDR/8053"
for br in $LAB_BRANCHES; do
	for a in "$LAB_COLLECTOR_ADDR" "[$LAB_COLLECTOR_ADDR6]"; do
		code=$(in_ns "$br" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$a:8053/" || true)
		assert_eq 200 "$code" "$br reaches the noc at http://$a:8053/"
	done
done
stop_daemon web

# run_fault "FAULT ARGS": inject, compare with the truth, leave the observation in seen.
run_fault() {
	local t0=$(date +%s%N)
	lab fault $1 >"$TEST_TMP/fault.log" 2>&1 || { fail "lab.sh fault $1 failed:"; sed 's/^/    /' "$TEST_TMP/fault.log"; }
	say "fault $1: lab.sh returned after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	check_truth "fault $1"
}
heal_and_check() {
	lab heal >"$TEST_TMP/heal.log" 2>&1 || { fail "lab.sh heal after $1 failed:"; sed 's/^/    /' "$TEST_TMP/heal.log"; }
	check_truth "heal after $1"
	TEST_CHECKS=$((TEST_CHECKS + 1))
	cmp -s "$TEST_TMP/baseline" "$TEST_TMP/seen" || fail "heal after $1: catchments differ from the baseline"
}
mgmt_answers() { [ -n "$(dns_identity "$2" "${MGMT4[$1]}")" ]; }

# Branches whose baseline catchment is SITE.
branches_of() { local br; for br in $LAB_BRANCHES; do [ "$(base "$br")" = "$1" ] && echo "$br"; done; }

# --- service-down and link-down: blackhole (simple) vs failover (enhanced) -----
simple=${LAB_SIMPLE_SITES%% *}
enhanced1=${LAB_ENHANCED_SITES%% *}
enhanced2=${LAB_ENHANCED_SITES##* }
for fs in "service-down $simple" "link-down $simple" "service-down $enhanced1" "link-down $enhanced2"; do
	site=${fs#* }
	run_fault "$fs"
	victims=$(branches_of "$site")
	[ -n "$victims" ] || fail "$fs: no branch had $site as its catchment, nothing to test"
	for br in $victims; do
		got=$(seen "$br" dns4)
		if [ "$site" = "$simple" ]; then
			assert_eq null "$got" "$fs (simple: the dead instance keeps its route = blackhole) $br"
		else
			assert_match '^site-' "$got" "$fs (enhanced: route withdrawn) $br must fail over"
			assert_ne "$site" "$got" "$fs: $br answered by the failed site"
		fi
	done
	TEST_CHECKS=$((TEST_CHECKS + 1))
	mgmt_answers "$site" br1 && fail "$fs: its management address still answers DNS"
	heal_and_check "$fs"
done

# --- cost: catchment moves with no failure ---------------------------------------
br=$(echo $LAB_BRANCHES | awk '{ print $1 }')
run_fault "cost $br"
assert_match '^site-' "$(seen "$br" dns4)" "cost $br: $br answered by a site"
assert_ne "$(base "$br")" "$(seen "$br" dns4)" "cost $br: $br's catchment must move"
for s in $LAB_SITES; do assert_true "cost $br: $s management still answers" mgmt_answers "$s" "$br"; done
heal_and_check "cost $br"

# --- ecmp: two sites equal cost, per-flow hashing shows both --------------------
br=$(echo $LAB_BRANCHES | awk '{ print $2 }')
run_fault "ecmp $br"
for p in dns4 dns6 ntp4; do
	n=$(seen "$br" "$p" | wc -w)
	TEST_CHECKS=$((TEST_CHECKS + 1))
	[ "$n" -ge 2 ] || fail "ecmp $br: $p should reach two sites over 16 queries, saw '$(seen "$br" "$p")'"
done
heal_and_check "ecmp $br"

# --- rogue: an unknown identity captures at least one branch ----------------------
run_fault rogue
hijacked=$(awk '$2 == "dns4" && $3 == "rogue"' "$TEST_TMP/seen" | wc -l)
TEST_CHECKS=$((TEST_CHECKS + 1))
[ "$hijacked" -ge 1 ] || fail "rogue: no branch is answered by the rogue (${IDENT[rogue]})"
case " $(for s in $LAB_SITES; do echo -n "${IDENT[$s]} "; done)" in
*" ${IDENT[rogue]} "*) fail "rogue: its identity ${IDENT[rogue]} is one of the real instances'" ;;
esac
heal_and_check rogue

test_done
