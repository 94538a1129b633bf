# scripts/lab/daemons.sh - start and stop the lab's daemons by pid file (sourced by lab.sh)
#
# Every daemon writes its pid file into $LAB_DIR/<node>/: bird.pid, dns.pid,
# chrony.pid, health.pid. Stopping is always by those pids, never by name.

. "$LAB_HOME/../lib/stop.sh" # proc_running, stop_pids

pid_alive() { # pid_alive PIDFILE
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	proc_running "$pid"
}

# stop_pidfile PIDFILE [group]: SIGTERM (to the group too), wait up to 3 s, then SIGKILL.
stop_pidfile() {
	local f=$1 pid
	pid_alive "$f" || { rm -f "$f"; return 0; }
	pid=$(cat "$f")
	if [ "${2:-}" = group ]; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
	STOP_TENTHS=30 stop_pids "$pid"
	rm -f "$f"
}

wait_pidfile() { # wait_pidfile PIDFILE: wait up to 5 s for a daemon to write its pid file
	local i
	for i in $(seq 50); do
		pid_alive "$1" && return 0
		sleep 0.1
	done
	msg "no live pid in $1"
	return 1
}

start_bird() {
	local n=$1 dir=$LAB_DIR/$1
	gen_bird "$n"
	nsx "$n" bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid"
}

bird_reconfigure() {
	local dir=$LAB_DIR/$1
	gen_bird "$1"
	nsx "$1" birdc -s "$dir/bird.ctl" configure >/dev/null
}

start_dns() {
	local s=$1 dir=$LAB_DIR/$1
	pid_alive "$dir/dns.pid" && return 0
	gen_dns "$s"
	nsx "$s" $(dns_cmd "$s") >"$dir/dns.out" 2>&1 || {
		msg "DNS server of $s failed to start:"
		cat "$dir/dns.out" "$dir/dns.log" >&2 2>/dev/null || true
		return 1
	}
	wait_pidfile "$dir/dns.pid"
}

start_chrony() {
	local s=$1 dir=$LAB_DIR/$1
	pid_alive "$dir/chrony.pid" && return 0
	gen_chrony "$s"
	nsx "$s" chronyd -x -u root -f "$dir/chrony.conf" >"$dir/chrony.out" 2>&1 || {
		msg "chronyd of $s failed to start:"
		cat "$dir/chrony.out" >&2
		return 1
	}
	wait_pidfile "$dir/chrony.pid"
}

start_health() {
	local s=$1 dir=$LAB_DIR/$1
	pid_alive "$dir/health.pid" && return 0
	ip netns exec "$(ns_name "$s")" setsid bash "$LAB_HOME/healthcheck.sh" "$dir" \
		</dev/null >/dev/null 2>&1 &
	echo $! >"$dir/health.pid"
	disown $! # stopped by pid file; no job notices
}

start_services() {
	start_dns "$1"
	start_chrony "$1"
}

stop_services() {
	stop_pidfile "$LAB_DIR/$1/dns.pid"
	stop_pidfile "$LAB_DIR/$1/chrony.pid"
}

start_all_daemons() {
	local n s
	for n in $ALL_NODES; do
		node_runs_bird "$n" && start_bird "$n"
	done
	for s in $SITES rogue; do
		start_services "$s"
	done
	for s in $SITES; do
		[ "$(site_field "$s" 3)" = enhanced ] && start_health "$s"
	done
	for n in $ALL_NODES; do
		node_runs_bird "$n" && { wait_pidfile "$LAB_DIR/$n/bird.pid" || return 1; }
	done
	return 0
}

stop_all_daemons() {
	local f pid pids="" i left
	[ -d "$LAB_DIR" ] || return 0
	# Health checks first, so none re-enables an announcement while we stop.
	for f in "$LAB_DIR"/*/health.pid; do
		pid_alive "$f" && kill -KILL -- "-$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	# Then everything at once: SIGTERM, up to 3 s of grace, SIGKILL.
	for f in "$LAB_DIR"/*/*.pid; do
		pid_alive "$f" || continue
		pid=$(cat "$f")
		pids="$pids $pid"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for i in $(seq 30); do
		left=""
		for pid in $pids; do proc_running "$pid" && left="$left $pid"; done
		pids=$left
		[ -z "$pids" ] && break
		sleep 0.1
	done
	for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
	rm -f "$LAB_DIR"/*/*.pid
	return 0
}

rogue_announce() { # rogue_announce enable|disable
	local p
	for p in any_dns4 any_ntp4 any_dns6 any_ntp6; do
		nsx rogue birdc -s "$LAB_DIR/rogue/bird.ctl" "$1" "$p" >/dev/null
	done
}
