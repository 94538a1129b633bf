# scripts/lab/truth.sh - expected catchment per branch under the active faults (sourced by lab.sh)
#
# A small model of what OSPF computes: shortest paths (Bellman-Ford) over the
# router/branch graph of topo.sh with the branch uplink costs the faults set,
# plus each live announcement's cost from its router (type-1 externals add
# their metric to the path cost). Equal minimum cost means ECMP. A simple site
# whose service or link is down still attracts traffic: nothing answers (null).
# An enhanced site withdraws its announcement instead, unless its health check
# is gone too (service-down-unguarded): then it blackholes like a simple site.
# An isolated branch reaches no anycast address at all (null).
#
# Active faults are lines in $LAB_DIR/faults: "service-down site-a",
# "service-down-unguarded site-b", "link-down site-b", "cost br1", "ecmp br2",
# "rogue", "isolate br3".

# truth computed once per wait (the faults do not change while lab.sh waits).
declare -A TRUTH_CACHE=()

# fault_active FAULT...: whether that exact line is in the faults file (no forks:
# the truth model asks this many times per branch).
fault_active() {
	local l
	[ -f "$LAB_DIR/faults" ] || return 1
	while IFS= read -r l; do
		[ "$l" = "$*" ] && return 0
	done <"$LAB_DIR/faults"
	return 1
}

# Directed edges "from to cost" between routing nodes (routers and branches).
truth_edges() {
	local a b net ca cb kind cost
	local -A primary=()
	while read -r a b net ca cb kind; do
		case $b in br*) [ -n "${primary[$b]:-}" ] || primary[$b]=$a ;; esac
	done <<<"$LINKS"
	while read -r a b net ca cb kind; do
		[ "$kind" = ptp ] || continue
		case "$a $b" in *site-* | *rogue*) continue ;; esac
		echo "$a $b $ca"
		cost=$cb
		if [ "${primary[$b]:-}" = "$a" ]; then
			fault_active "cost $b" && cost=$COST_FAULT
			fault_active "ecmp $b" && cost=$COST_ECMP
		fi
		echo "$b $a $cost"
	done <<<"$LINKS"
}

# truth_branch BRANCH: prints "site", "null" or "site-x site-y" (ECMP, sorted).
truth_branch() {
	local src=$1 edges n changed from to cost i
	local -A dist=()
	if fault_active "isolate $src"; then
		echo null
		return
	fi
	edges=$(truth_edges)
	dist[$src]=0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		changed=0
		while read -r from to cost; do
			[ -n "${dist[$from]:-}" ] || continue
			n=$((dist[$from] + cost))
			if [ -z "${dist[$to]:-}" ] || [ "$n" -lt "${dist[$to]}" ]; then
				dist[$to]=$n
				changed=1
			fi
		done <<<"$edges"
		[ $changed = 1 ] || break
	done

	local site router mode server stratum acost best="" winners="" d dead
	while read -r site router mode server stratum acost; do
		[ -n "$site" ] || continue
		if [ "$site" = rogue ]; then
			fault_active rogue || continue
		fi
		dead=0
		if fault_active "service-down $site" || fault_active "link-down $site"; then
			[ "$mode" = enhanced ] && continue # withdrawn
			dead=1                              # blackhole
		elif fault_active "service-down-unguarded $site"; then
			dead=1 # still announced, nothing answers: blackhole
		fi
		[ -n "${dist[$router]:-}" ] || continue
		d=$((dist[$router] + acost))
		[ $dead = 1 ] && site=null
		if [ -z "$best" ] || [ "$d" -lt "$best" ]; then
			best=$d
			winners=$site
		elif [ "$d" -eq "$best" ]; then
			winners="$winners $site"
		fi
	done <<<"$SITE_TABLE"
	[ -n "$winners" ] || winners=null
	# sorted, without duplicates (a handful of words: no sort(1) fork)
	local -a out=()
	local w j k
	for w in $winners; do
		for k in "${out[@]}"; do [ "$k" = "$w" ] && continue 2; done
		j=${#out[@]}
		while [ "$j" -gt 0 ] && [[ ${out[j - 1]} > $w ]]; do
			out[j]=${out[j - 1]}
			j=$((j - 1))
		done
		out[j]=$w
	done
	echo "${out[*]}"
}

# truth_of BRANCH: truth_branch, from the cache while lab.sh waits for it.
truth_of() {
	if [ -n "${TRUTH_CACHE[$1]:-}" ]; then
		echo "${TRUTH_CACHE[$1]}"
	else
		truth_branch "$1"
	fi
}

truth_cache_fill() {
	local br
	TRUTH_CACHE=()
	for br in $BRANCHES; do TRUTH_CACHE[$br]=$(truth_branch "$br"); done
}

truth_cache_clear() { TRUTH_CACHE=(); }

# truth_table: one "branch truth..." line per branch (for before/after messages).
truth_table() {
	local br
	for br in $BRANCHES; do echo "$br $(truth_branch "$br")"; done
}

# truth_changes BEFORE AFTER (two truth_table outputs): "br1 -> site-b, br4 -> null"
# for the branches whose truth differs; ECMP as "site-a+site-b".
truth_changes() {
	local br t out=""
	local -A was=()
	while read -r br t; do [ -n "$br" ] && was[$br]=$t; done <<<"$1"
	while read -r br t; do
		[ -n "$br" ] || continue
		[ "${was[$br]:-}" = "$t" ] && continue
		out="$out${out:+, }$br -> ${t// /+}"
	done <<<"$2"
	echo "${out:-unchanged}"
}

# JSON value for a truth: "site-a", null or ["site-a","site-b"].
truth_json_value() {
	set -- $1
	if [ $# -gt 1 ]; then
		local out="" s
		for s in "$@"; do out="$out${out:+,}\"$s\""; done
		echo "[$out]"
	elif [ "$1" = null ]; then
		echo null
	else
		echo "\"$1\""
	fi
}

# The whole truth as JSON: {"br1":{"dns":..,"ntp":..},...}
truth_json() {
	local br t v out=""
	for br in $BRANCHES; do
		t=$(truth_branch "$br")
		v=$(truth_json_value "$t")
		# DNS and NTP are announced and withdrawn together by every fault.
		out="$out${out:+,}\"$br\":{\"dns\":$v,\"ntp\":$v}"
	done
	echo "{$out}"
}
