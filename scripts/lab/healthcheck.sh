#!/bin/bash
# scripts/lab/healthcheck.sh - withdraw an enhanced site's anycast routes while its service is dead
# Usage (inside the server's namespace): healthcheck.sh NODE_DIR
# Every 0.5 s: DNS is healthy when the server answers id.server on 127.0.0.1;
# NTP is healthy when the chronyd of the pid file is alive. The BIRD static
# protocols any_dns4/6 and any_ntp4/6 are enabled at the first healthy check
# and disabled after two failed checks in a row (one slow answer on a busy
# machine must not move catchments).
dir=$1
sock=$dir/bird.ctl
dns_state=unknown ntp_state=unknown
dns_fails=0 ntp_fails=0

# alive PID: running and not a zombie (PID 1 reaps exited daemons late here).
alive() {
	local line
	kill -0 "$1" 2>/dev/null && read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	line=${line##*) }
	[ "${line%% *}" != Z ]
}

set_protocols() { # set_protocols enable|disable dns|ntp
	birdc -s "$sock" "$1" "any_${2}4" >/dev/null 2>&1 &&
		birdc -s "$sock" "$1" "any_${2}6" >/dev/null 2>&1
}

while :; do
	if dig +time=1 +tries=1 +short @127.0.0.1 id.server CH TXT 2>/dev/null | grep -q '^"'; then
		dns_fails=0 want=enable
	else
		dns_fails=$((dns_fails + 1)) want=disable
		[ $dns_fails -ge 2 ] || want=$dns_state
	fi
	if [ "$want" != "$dns_state" ] && [ "$want" != unknown ] && set_protocols "$want" dns; then
		dns_state=$want
	fi
	if [ -f "$dir/chrony.pid" ] && alive "$(cat "$dir/chrony.pid")"; then
		ntp_fails=0 want=enable
	else
		ntp_fails=$((ntp_fails + 1)) want=disable
		[ $ntp_fails -ge 2 ] || want=$ntp_state
	fi
	if [ "$want" != "$ntp_state" ] && [ "$want" != unknown ] && set_protocols "$want" ntp; then
		ntp_state=$want
	fi
	sleep 0.5
done
