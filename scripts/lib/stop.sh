#!/bin/bash
# scripts/lib/stop.sh - stop processes by PID, never by name (sourced by the
# demo, the lab and the test stages).

# proc_running PID: alive and not a zombie. Daemons are reparented to PID 1,
# which here reaps them a second or two after they exit: kill -0 alone would
# keep every stop waiting for that.
proc_running() {
	local line
	kill -0 "$1" 2>/dev/null || return 1
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	line=${line##*) }
	[ "${line%% *}" != Z ]
}

# stop_pids [-SIGNAL] PID...: send SIGNAL (default TERM) to each, wait for
# each up to STOP_TENTHS tenths of a second (default 100), then SIGKILL it.
stop_pids() {
	local sig=TERM p i
	case "${1:-}" in -*) sig=${1#-}; shift ;; esac
	for p in "$@"; do kill -"$sig" "$p" 2>/dev/null || true; done
	for p in "$@"; do
		for ((i = 0; i < ${STOP_TENTHS:-100}; i++)); do
			proc_running "$p" || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
}
