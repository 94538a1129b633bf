#!/bin/bash
# scripts/lab/healthcheck.sh - withdraw an enhanced site's anycast routes while its service is dead
# Usage (inside the server's namespace): healthcheck.sh NODE_DIR
# Every 0.5 s: DNS is healthy when the server answers id.server on 127.0.0.1;
# NTP is healthy when the chronyd of the pid file is alive. The BIRD static
# protocols any_dns4/6 and any_ntp4/6 are enabled or disabled to match.
dir=$1
sock=$dir/bird.ctl
dns_state=unknown
ntp_state=unknown

set_protocols() { # set_protocols enable|disable dns|ntp
	birdc -s "$sock" "$1" "any_${2}4" >/dev/null 2>&1 &&
		birdc -s "$sock" "$1" "any_${2}6" >/dev/null 2>&1
}

while :; do
	if dig +time=1 +tries=1 +short @127.0.0.1 id.server CH TXT 2>/dev/null | grep -q '^"'; then
		want=enable
	else
		want=disable
	fi
	if [ "$want" != "$dns_state" ] && set_protocols "$want" dns; then
		dns_state=$want
	fi
	if [ -f "$dir/chrony.pid" ] && kill -0 "$(cat "$dir/chrony.pid")" 2>/dev/null; then
		want=enable
	else
		want=disable
	fi
	if [ "$want" != "$ntp_state" ] && set_protocols "$want" ntp; then
		ntp_state=$want
	fi
	sleep 0.5
done
