# scripts/lab/truth.sh - expected catchment per branch under the active faults (sourced by lab.sh)
#
# A small model of what OSPF computes: shortest paths (Bellman-Ford) over the
# router/branch graph of topo.sh with the branch uplink costs the faults set,
# plus each live announcement's cost from its router (type-1 externals add
# their metric to the path cost). Equal minimum cost means ECMP. A simple site
# whose service or link is down still attracts traffic: nothing answers (null).
# An enhanced site withdraws its announcement instead.
#
# Active faults are lines in $LAB_DIR/faults: "service-down site-a",
# "link-down site-b", "cost br1", "ecmp br2", "rogue".

fault_active() {
	[ -f "$LAB_DIR/faults" ] && grep -qx "$*" "$LAB_DIR/faults"
}

# Directed edges "from to cost" between routing nodes (routers and branches).
truth_edges() {
	local a b net ca cb kind primary cost
	echo "$LINKS" | while read -r a b net ca cb kind; do
		[ "$kind" = ptp ] || continue
		case "$a $b" in *site-* | *rogue*) continue ;; esac
		echo "$a $b $ca"
		cost=$cb
		case $b in
		br*)
			primary=$(branch_uplinks "$b" | head -n1 | cut -d' ' -f1)
			if [ "$a" = "$primary" ]; then
				fault_active "cost $b" && cost=$COST_FAULT
				fault_active "ecmp $b" && cost=$COST_ECMP
			fi
			;;
		esac
		echo "$b $a $cost"
	done
}

# truth_branch BRANCH: prints "site", "null" or "site-x site-y" (ECMP, sorted).
truth_branch() {
	local src=$1 edges n changed from to cost i
	local -A dist=()
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
	echo "$winners" | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//'
	echo
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
