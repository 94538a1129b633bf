# scripts/lab/topo.sh - the lab topology as data, plus address helpers (sourced by lab.sh)
#
# Everything that describes the network lives here: nodes, links, costs, which
# site runs which DNS server and how it is announced. lab.sh builds from it and
# truth.sh computes the expected catchments from the same tables, so the two
# cannot drift apart.

LAB_PREFIX=${LAB_PREFIX:-acl}
LAB_DIR=${LAB_DIR:-/tmp/anycast-lab-$LAB_PREFIX}

ROUTERS="r1 r2 r3"
SITES="site-a site-b site-c"
BRANCHES="br1 br2 br3 br4"
ALL_NODES="$ROUTERS $SITES rogue $BRANCHES noc"

ANY4_DNS=198.18.255.53
ANY6_DNS=2001:db8:ffff::53
ANY4_NTP=198.18.255.123
ANY6_NTP=2001:db8:ffff::123
NOC4=198.18.250.10
NOC6=2001:db8:250::10
HOST4_ROOT=198.18.251.1
HOST4_NOC=198.18.251.2

# Link table: "node_a node_b net cost_a cost_b kind".
# net N gives 198.18.N.0/24 and 2001:db8:N::/64; node_a gets .1/::1, node_b .2/::2
# (the noc gets .10/::10). cost_a is node_a's OSPF interface cost towards node_b.
# kind: ptp = OSPF point-to-point on both ends; simple = OSPF stub on node_a only
# (the server runs no routing); stub = OSPF stub on node_a only (noc).
# Branch links: the first one listed for a branch is its primary uplink.
LINKS="
r1 site-a 1 10 - simple
r2 site-b 2 10 10 ptp
r3 site-c 3 10 10 ptp
r3 rogue 4 1 10 ptp
r1 r2 11 10 10 ptp
r2 r3 12 15 15 ptp
r1 r3 13 20 20 ptp
r1 br1 21 10 10 ptp
r2 br1 31 50 50 ptp
r2 br2 22 10 10 ptp
r3 br2 32 50 50 ptp
r3 br3 23 10 10 ptp
r1 br3 33 50 50 ptp
r1 br4 24 10 10 ptp
r3 br4 34 50 50 ptp
r2 noc 250 10 - stub
"

# Branch uplink costs (branch side) under the cost and ecmp faults.
COST_FAULT=100
COST_ECMP=50

# Per site: "site router mode dns_server stratum announce_cost".
# mode simple: static routes on the first-hop router, redistributed into OSPF
#   (a dead service keeps attracting traffic). mode enhanced: BIRD on the
#   server announces the anycast addresses while a health check passes.
# announce_cost is the OSPF distance from the site's router to the anycast
#   address (interface or stub cost 10 + type-1 external metric 10).
SITE_TABLE="
site-a r1 simple nsd 3 20
site-b r2 enhanced knot 4 20
site-c r3 enhanced unbound 5 20
rogue r3 enhanced nsd 9 2
"
ROGUE_IDENTITY=rogue.evil

# Router ids (last octet of 198.18.0.X).
node_id() {
	case $1 in
	r1) echo 1 ;; r2) echo 2 ;; r3) echo 3 ;;
	site-a) echo 11 ;; site-b) echo 12 ;; site-c) echo 13 ;; rogue) echo 14 ;;
	br1) echo 21 ;; br2) echo 22 ;; br3) echo 23 ;; br4) echo 24 ;;
	noc) echo 30 ;;
	*) return 1 ;;
	esac
}

ns_name() { echo "$LAB_PREFIX-$1"; }

# site_field SITE N: field N (1-based) of SITE_TABLE for SITE.
site_field() {
	echo "$SITE_TABLE" | awk -v s="$1" -v n="$2" '$1 == s { print $n }'
}

site_identity() {
	if [ "$1" = rogue ]; then echo "$ROGUE_IDENTITY"; else echo "$1.lab"; fi
}

# The link line (net number) joining two nodes, or nothing.
link_net() {
	echo "$LINKS" | awk -v a="$1" -v b="$2" \
		'($1 == a && $2 == b) || ($1 == b && $2 == a) { print $3 }'
}

# Host part of NODE on the link NET: 1 for node_a, 2 for node_b, 10 for the noc.
link_host() {
	local node=$1 net=$2
	if [ "$node" = noc ]; then echo 10; return; fi
	echo "$LINKS" | awk -v n="$node" -v net="$net" \
		'$3 == net { if ($1 == n) print 1; else if ($2 == n) print 2 }'
}

addr4() { echo "198.18.$2.$(link_host "$1" "$2")"; }
addr6() { echo "2001:db8:$2::$(link_host "$1" "$2")"; }

# Management (unicast) address of a server: its uplink address.
site_mgmt4() { local r; r=$(site_field "$1" 2); addr4 "$1" "$(link_net "$r" "$1")"; }
site_mgmt6() { local r; r=$(site_field "$1" 2); addr6 "$1" "$(link_net "$r" "$1")"; }

# Uplinks of a branch, primary first: "router net" lines.
branch_uplinks() {
	echo "$LINKS" | awk -v b="$1" '$2 == b { print $1, $3 }'
}
