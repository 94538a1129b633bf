#!/bin/bash
# tests/lab/test_path_probe.sh - the path probe (`anycast-agent --trace`) in the lab
#
# Runs the agent as user nobody with no capabilities (setpriv) in branch
# namespaces and traces, over IPv4 and IPv6, the DNS anycast address and an
# instance's management address. Each hop list must be the path the lab's
# kernels route: the expected path is walked hop by hop through the routing
# tables of the namespaces (`ip route get` in each node, the next node being
# the owner of the gateway address; an IPv6 link-local gateway stands for the
# global address on the same interface), since a Linux router answers from
# its address on the link facing the sender. Then:
#  - tracepath(8), the peer, sees the same hops;
#  - a router that stops sending time-exceeded (ICMP rate limit) gives `*`
#    for its hop while the trace still reaches the destination;
#  - a packet budget smaller than the path stops the trace with "budget";
#  - `fault cost br1` moves the path (and the catchment) to br1's backup
#    uplink: the new hop list is the new routing walk and differs from the
#    old one;
#  - `fault isolate br3` (policy rules: prohibit) ends a trace at once with
#    "send_error".
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || fatal "jq is needed"
command -v setpriv >/dev/null || fatal "setpriv (util-linux) is needed"
command -v tracepath >/dev/null || fatal "tracepath (iputils-tracepath) is needed"
BIN=${ANYCAST_BIN:?ANYCAST_BIN not set}/anycast-agent
[ -x "$BIN" ] || fatal "$BIN not built"

# The agent as nobody, no capabilities at all, no way to gain any.
UNPRIV=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all
	--bounding-set=-all --no-new-privs --)

# trace NODE ADDR [ARGS...] -> the JSON object (exit status in TRACE_RC)
trace() {
	local node=$1 addr=$2
	shift 2
	TRACE_RC=0
	TRACE_JSON=$(in_ns "$node" "${UNPRIV[@]}" "$BIN" --trace "$addr" --json "$@") ||
		TRACE_RC=$?
}
hops_of() { jq -r '[.hops[] | (.address // "*")] | join(" ")' <<<"$1"; }

# owner_of FAMILY ADDR -> "node iface" holding ADDR (first match)
owner_of() {
	local fam=$1 a=$2 n line
	for n in $LAB_NAMESPACES; do
		line=$(ip -n "$n" -o "-$fam" addr show 2>/dev/null | awk -v a="$a" '{split($4, p, "/"); if (p[1] == a) { print $2; exit }}')
		[ -n "$line" ] && { echo "${n#"$LAB_PREFIX"-} $line"; return 0; }
	done
	return 1
}

# walk FAMILY NODE DST -> the hop addresses the routing tables give
walk() {
	local fam=$1 node=$2 dst=$3 hops="" r gw owner iface g i
	for i in $(seq 1 16); do
		r=$(ip -n "$LAB_PREFIX-$node" "-$fam" route get "$dst" 2>/dev/null | head -n1)
		[ -n "$r" ] || { echo "$hops unroutable"; return; }
		gw=$(sed -n 's/.* via \([^ ]*\).*/\1/p' <<<"$r")
		if [ -z "$gw" ]; then # connected: the destination is next
			echo "${hops:+$hops }$dst"
			return
		fi
		read -r owner iface <<<"$(owner_of "$fam" "$gw")" || { echo "$hops no-owner($gw)"; return; }
		if ip -n "$LAB_PREFIX-$owner" "-$fam" route get "$dst" | grep -q '^local'; then
			echo "${hops:+$hops }$dst" # the owner holds dst: it answers itself
			return
		fi
		g=$gw
		if [[ $gw == fe80:* ]]; then
			g=$(ip -n "$LAB_PREFIX-$owner" -o -6 addr show dev "$iface" scope global |
				awk '{split($4, p, "/"); print p[1]; exit}')
		fi
		hops="${hops:+$hops }$g"
		node=$owner
	done
	echo "$hops loop"
}

check_trace() { # NODE FAMILY DST MSG -> checks; leaves the hops in GOT
	local node=$1 fam=$2 dst=$3 m=$4 want
	want=$(walk "$fam" "$node" "$dst")
	trace "$node" "$dst"
	GOT=$(hops_of "$TRACE_JSON")
	assert_eq 0 "$TRACE_RC" "$m: exit status"
	assert_eq reached "$(jq -r .status <<<"$TRACE_JSON")" "$m: status"
	assert_eq "$want" "$GOT" "$m: hops match the routing tables"
	assert_eq port_unreachable "$(jq -r '.hops[-1].kind' <<<"$TRACE_JSON")" "$m: last hop"
	assert_eq 0 "$(jq -r '[.hops[:-1][] | select(.kind != "time_exceeded")] | length' <<<"$TRACE_JSON")" \
		"$m: every hop before the last is a time-exceeded"
	say "$m: $GOT ($(jq -r .packets <<<"$TRACE_JSON") packets)"
}

# --- no privileges needed ------------------------------------------------------
assert_eq 0000000000000000 "$("${UNPRIV[@]}" awk '/^CapEff/ {print $2}' /proc/self/status)" \
	"the trace runs with no effective capability"

# --- baseline: anycast and management, IPv4 and IPv6, from every branch ---------
for b in $LAB_BRANCHES; do
	check_trace "$b" 4 "$LAB_ANYCAST_DNS4" "$b -> anycast $LAB_ANYCAST_DNS4"
	check_trace "$b" 6 "$LAB_ANYCAST_DNS6" "$b -> anycast $LAB_ANYCAST_DNS6"
done
check_trace br1 4 "$LAB_MGMT4_site_b" "br1 -> site-b management"
assert_eq 3 "$(wc -w <<<"$GOT")" "br1 -> site-b management: r1, r2, site-b"
check_trace br1 6 "$LAB_MGMT6_site_b" "br1 -> site-b management (IPv6)"
assert_eq 3 "$(wc -w <<<"$GOT")" "br1 -> site-b management (IPv6): r1, r2, site-b"
# The peer: tracepath(8) (also unprivileged) sees the same hops.
for dst in "$LAB_MGMT4_site_b" "$LAB_MGMT6_site_b" "$LAB_ANYCAST_DNS4"; do
	peer=$(in_ns br1 "${UNPRIV[@]}" tracepath -n "$dst" | awk '$1 ~ /^[0-9]+:$/ && !seen[$1]++ {print $2}' | paste -sd' ')
	trace br1 "$dst"
	assert_eq "$peer" "$(hops_of "$TRACE_JSON")" "br1 -> $dst: the same hops as tracepath"
done
BASE_ANY=$(walk 4 br1 "$LAB_ANYCAST_DNS4")
BASE_MGMT=$(walk 4 br1 "$LAB_MGMT4_site_b")

# --- a router that does not answer: its hop is *, the trace goes on -------------
first=$(cut -d' ' -f1 <<<"$BASE_MGMT")
read -r r1 _ <<<"$(owner_of 4 "$first")"
old_rl=$(in_ns "$r1" sysctl -n net.ipv4.icmp_ratelimit)
restore_rl() { in_ns "$r1" sysctl -qw net.ipv4.icmp_ratelimit="$old_rl" || true; lib_cleanup; }
trap restore_rl EXIT
# A rate-limit interval past the kernel's 60 s token cap: no time-exceeded at all.
in_ns "$r1" sysctl -qw net.ipv4.icmp_ratelimit=100000000
trace br1 "$LAB_MGMT4_site_b"
assert_eq 0 "$TRACE_RC" "silent $r1: still reached"
assert_eq "* $(cut -d' ' -f2- <<<"$BASE_MGMT")" "$(hops_of "$TRACE_JSON")" "silent $r1: its hop is *"
assert_eq 3 "$(jq -r '.hops[0].probes' <<<"$TRACE_JSON")" "silent $r1: its hop was asked 3 times"
say "silent $r1: $(hops_of "$TRACE_JSON")"
in_ns "$r1" sysctl -qw net.ipv4.icmp_ratelimit="$old_rl"

# --- the packet budget -----------------------------------------------------------
trace br1 "$LAB_MGMT4_site_b" --packets 2
assert_eq 1 "$TRACE_RC" "budget 2 on a 3-hop path: not reached"
assert_eq budget "$(jq -r .status <<<"$TRACE_JSON")" "budget 2: status"
assert_eq 2 "$(jq -r .packets <<<"$TRACE_JSON")" "budget 2: packets sent"

# --- text output -------------------------------------------------------------------
text=$(in_ns br1 "$BIN" --trace "$LAB_ANYCAST_DNS4")
assert_match "^trace to $LAB_ANYCAST_DNS4 port 33434: reached" "$text" "text output: first line"
assert_match " 2  $LAB_ANYCAST_DNS4 .* reached" "$text" "text output: the destination line"

# --- a route change changes the path ----------------------------------------------
lab fault cost br1 >/dev/null 2>&1 || fatal "fault cost br1 failed"
check_trace br1 4 "$LAB_ANYCAST_DNS4" "after cost br1: br1 -> anycast"
assert_ne "$BASE_ANY" "$GOT" "after cost br1: the anycast path moved"
check_trace br1 6 "$LAB_ANYCAST_DNS6" "after cost br1: br1 -> anycast (IPv6)"
check_trace br1 4 "$LAB_MGMT4_site_b" "after cost br1: br1 -> site-b management"
assert_ne "$BASE_MGMT" "$GOT" "after cost br1: the management path moved"
lab heal >/dev/null 2>&1 || fatal "heal failed"
check_trace br1 4 "$LAB_ANYCAST_DNS4" "healed: br1 -> anycast"
assert_eq "$BASE_ANY" "$GOT" "healed: the anycast path is back"

# --- no route at all: an error at once, not a hang ----------------------------------
lab fault isolate br3 >/dev/null 2>&1 || fatal "fault isolate br3 failed"
trace br3 "$LAB_ANYCAST_DNS4"
assert_eq 1 "$TRACE_RC" "isolated br3: not reached"
assert_eq send_error "$(jq -r .status <<<"$TRACE_JSON")" "isolated br3: status"
say "isolated br3: $(jq -c '{status, error, packets}' <<<"$TRACE_JSON")"

test_done
