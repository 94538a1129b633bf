# scripts/lab/verify.sh - observe which site answers each branch and compare with the truth (sourced by lab.sh)

# Site name for an identity string a DNS server gave.
identity_site() {
	case $1 in
	"") echo null ;;
	"$ROGUE_IDENTITY") echo rogue ;;
	*.lab) echo "${1%.lab}" ;;
	*) echo "unknown:$1" ;;
	esac
}

# Site name for an NTP stratum (each site runs chronyd with its own stratum).
stratum_site() {
	local s
	[ -n "$1" ] || { echo null; return; }
	s=$(echo "$SITE_TABLE" | awk -v st="$1" 'NF && $5 == st { print $1; exit }')
	echo "${s:-unknown:stratum-$1}"
}

# observe BRANCH dns|ntp ADDRESS: the site that answered, "null" or "unknown:..".
observe() {
	local br=$1 svc=$2 addr=$3 out
	if [ "$svc" = dns ]; then
		out=$(nsx "$br" dig +time=1 +tries=1 +short @"$addr" id.server CH TXT 2>/dev/null |
			grep -v '^;' | head -n1 | tr -d '"') || true
		identity_site "$out"
	else
		out=$(nsx "$br" perl "$LAB_HOME/ntpq.pl" "$addr" 1 2>/dev/null | cut -d' ' -f1) || true
		stratum_site "$out"
	fi
}

# check_probe BRANCH dns|ntp 4|6: prints a line when what answers disagrees
# with the truth; nothing when it matches. For ECMP every member must be seen
# among a dozen queries (each from a new source port) and nothing else.
check_probe() {
	local br=$1 svc=$2 fam=$3 want addr got seen="" i w
	want=$(truth_of "$br")
	case $svc$fam in
	dns4) addr=$ANY4_DNS ;; dns6) addr=$ANY6_DNS ;;
	ntp4) addr=$ANY4_NTP ;; ntp6) addr=$ANY6_NTP ;;
	esac
	if [ "$(echo "$want" | wc -w)" -eq 1 ]; then
		got=$(observe "$br" "$svc" "$addr")
		[ "$got" = "$want" ] || echo "$br $svc IPv$fam ($addr): expected $want, answered by $got"
		return
	fi
	for i in $(seq 12); do
		got=$(observe "$br" "$svc" "$addr")
		case " $seen " in *" $got "*) ;; *) seen="$seen $got" ;; esac
	done
	for w in $want; do
		case " $seen " in *" $w "*) ;; *)
			echo "$br $svc IPv$fam ($addr): expected ECMP over {$want}, never saw $w (saw:$seen)" ;;
		esac
	done
	for w in $seen; do
		case " $want " in *" $w "*) ;; *)
			echo "$br $svc IPv$fam ($addr): expected ECMP over {$want}, also saw $w" ;;
		esac
	done
}

# tcp_reach BRANCH ADDRESS...: one "address state" line each, from one process
# in the branch: "reachable" when a TCP connection to port 9 is accepted or
# refused (a RST came back), "prohibited" when a policy rule refuses it,
# "unreachable" otherwise. No ICMP involved (the kernel rate-limits that).
tcp_reach() {
	local br=$1
	shift
	# shellcheck disable=SC2016
	nsx "$br" bash -c 'for a; do
		if out=$(timeout 2 bash -c "exec 3<>/dev/tcp/$a/9" 2>&1); then echo "$a reachable"; continue; fi
		case $out in
		*"Connection refused"*) echo "$a reachable" ;;
		*"Permission denied"*) echo "$a prohibited" ;;
		*) echo "$a unreachable" ;;
		esac
	done' tcp_reach "$@"
}

# check_isolated BRANCH: an isolated branch (fault isolate) reaches no server's
# management address and still reaches the noc (IPv4 and IPv6).
check_isolated() {
	local br=$1 s a st mgmt=""
	for s in $SITES rogue; do mgmt="$mgmt $(site_mgmt4 "$s") $(site_mgmt6 "$s")"; done
	# shellcheck disable=SC2086
	tcp_reach "$br" $mgmt "$NOC4" "$NOC6" | while read -r a st; do
		case $a in
		"$NOC4" | "$NOC6") [ "$st" = reachable ] || echo "$br (isolated): noc $a $st" ;;
		*) [ "$st" != reachable ] || echo "$br (isolated): management address $a is reachable" ;;
		esac
	done
}

# check_all: every branch, service and family in parallel; prints mismatches.
check_all() {
	local br svc fam
	for br in $BRANCHES; do
		for svc in dns ntp; do
			for fam in 4 6; do
				check_probe "$br" $svc $fam >"$LAB_DIR/check.$br.$svc$fam" 2>&1 &
			done
		done
		if fault_active "isolate $br"; then
			check_isolated "$br" >"$LAB_DIR/check.$br.isolated" 2>&1 &
		fi
	done
	wait
	for br in $BRANCHES; do
		for svc in dns ntp; do
			for fam in 4 6; do
				cat "$LAB_DIR/check.$br.$svc$fam"
				rm -f "$LAB_DIR/check.$br.$svc$fam"
			done
		done
		if [ -f "$LAB_DIR/check.$br.isolated" ]; then
			cat "$LAB_DIR/check.$br.isolated"
			rm -f "$LAB_DIR/check.$br.isolated"
		fi
	done
}

# routes_ready: every branch has routes to the anycast addresses and the noc
# (cheap to poll; DNS probes that time out cost a second each). An isolated
# branch is refused the anycast addresses by policy: only its noc route counts.
routes_ready() {
	local br a any4 any6
	for br in $BRANCHES; do
		any4="$ANY4_DNS $ANY4_NTP" any6="$ANY6_DNS $ANY6_NTP"
		fault_active "isolate $br" && any4="" any6=""
		for a in $any4 $NOC4; do
			nsx "$br" ip -4 route get "$a" >/dev/null 2>&1 || return 1
		done
		for a in $any6 $NOC6; do
			nsx "$br" ip -6 route get "$a" >/dev/null 2>&1 || return 1
		done
	done
}

# wait_converged LABEL: poll until every branch reaches its truth (LAB_TIMEOUT).
# While it waits it prints a line on stderr every WAIT_PROGRESS_MS (2 s): the
# time so far, the round of checks and what the last round still found wrong.
WAIT_PROGRESS_MS=${WAIT_PROGRESS_MS:-2000}
wait_converged() {
	local label=$1 deadline out="" t0 last now round=0 cpid state
	local -a lines
	t0=$(now_ms)
	last=$t0
	deadline=$(($(date +%s) + LAB_TIMEOUT))
	truth_cache_fill
	while ! routes_ready && [ "$(date +%s)" -lt "$deadline" ]; do
		now=$(now_ms)
		if [ $((now - last)) -ge "$WAIT_PROGRESS_MS" ]; then
			msg "  $(ms_to_s1 $((now - t0))) s: waiting for every branch to have routes to the anycast addresses and the noc"
			last=$now
		fi
		sleep 0.2
	done
	while :; do
		round=$((round + 1))
		# A round takes 1 s (timeouts) to several seconds on a loaded machine:
		# run it in the background and report while it runs.
		check_all >"$LAB_DIR/check.out" 2>&1 &
		cpid=$!
		while proc_running "$cpid"; do
			sleep 0.2
			now=$(now_ms)
			[ $((now - last)) -ge "$WAIT_PROGRESS_MS" ] || continue
			if [ -n "$out" ]; then
				mapfile -t lines <<<"$out"
				state="round $round; the last one found ${#lines[@]} check(s) not at the truth, e.g. ${lines[0]}"
			else
				state="round $round of checks from every branch"
			fi
			msg "  $(ms_to_s1 $((now - t0))) s: $state"
			last=$now
		done
		wait "$cpid" || true
		out=$(cat "$LAB_DIR/check.out")
		rm -f "$LAB_DIR/check.out"
		if [ -z "$out" ]; then
			truth_cache_clear
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			msg "$label: not converged after ${LAB_TIMEOUT}s:"
			echo "$out" >&2
			truth_cache_clear
			return 1
		fi
		sleep 0.5
	done
}

lab_status() {
	local br svc fam addr
	[ -f "$LAB_DIR/lab.env" ] || die "no lab $LAB_PREFIX is up"
	echo "active faults: $(tr '\n' ',' <"$LAB_DIR/faults" | sed 's/,$//')"
	printf '%-5s %-14s %-14s %-10s %-10s %s\n' branch dns4 dns6 ntp4 ntp6 truth
	for br in $BRANCHES; do
		local cols=()
		for svc in dns ntp; do
			for fam in 4 6; do
				if [ $svc = dns ]; then
					[ $fam = 4 ] && addr=$ANY4_DNS || addr=$ANY6_DNS
					cols+=("$(nsx "$br" dig +time=1 +tries=1 +short @"$addr" id.server CH TXT 2>/dev/null |
						grep -v '^;' | head -n1 | tr -d '"' || true)")
				else
					[ $fam = 4 ] && addr=$ANY4_NTP || addr=$ANY6_NTP
					cols+=("$(observe "$br" ntp "$addr")")
				fi
			done
		done
		printf '%-5s %-14s %-14s %-10s %-10s %s\n' "$br" "${cols[0]:--}" "${cols[1]:--}" \
			"${cols[2]}" "${cols[3]}" "$(truth_branch "$br")$(fault_active "isolate $br" && echo ' (isolated)')"
	done
	# Each instance through its management address, seen from the first branch
	# that is not isolated.
	local s m id br1=${BRANCHES%% *}
	for br in $BRANCHES; do
		fault_active "isolate $br" || { br1=$br; break; }
	done
	for s in $SITES; do
		m=$(site_mgmt4 "$s")
		id=$(nsx "$br1" dig +time=1 +tries=1 +short @"$m" id.server CH TXT 2>/dev/null |
			grep '^"' | head -n1 | tr -d '"' || true)
		printf 'management %-7s %-15s dns %-12s ntp %-8s (from %s)\n' "$s" "$m" "${id:-none}" \
			"$(observe "$br1" ntp "$m")" "$br1"
	done
}
