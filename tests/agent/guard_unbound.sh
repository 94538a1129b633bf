#!/bin/bash
# tests/agent/guard_unbound.sh - anycast-agent --guard against a real Unbound
# on loopback: a stopped server is withdrawn after fall rounds, a restarted one
# restored after rise rounds, a second withdrawal soon after is damped by the
# hold-down, and a wrong identity counts as a failure. The action is a command
# that appends to a file, so nothing on the host is touched.
# Usage: guard_unbound.sh PATH/TO/anycast-agent
set -euo pipefail
AGENT=$1
command -v unbound >/dev/null || { echo "unbound not installed"; exit 1; }
T=$(mktemp -d /tmp/guard-test.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
UPID= GPID=
cleanup() {
	[ -n "$GPID" ] && kill "$GPID" 2>/dev/null || true
	[ -n "$UPID" ] && kill "$UPID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- log"; cat "$T/err.log"; echo "--- actions"; cat "$T/actions" 2>/dev/null; exit 1; }

cat > "$T/unbound.conf" <<EOC
server:
  interface: 127.0.0.1@$PORT
  port: $PORT
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$T"
  pidfile: "$T/unbound.pid"
  use-syslog: no
  logfile: "$T/unbound.log"
  hide-identity: no
  identity: "b1"
  access-control: 127.0.0.0/8 allow
  do-ip6: no
remote-control:
  control-enable: no
EOC
start_unbound() { unbound -c "$T/unbound.conf" & UPID=$!; sleep 0.7; }
stop_unbound() { kill "$UPID"; wait "$UPID" || true; UPID=; }
wait_for() { # PATTERN FILE SECONDS
	for _ in $(seq $(($3 * 10))); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
cat > "$T/g.conf" <<EOC
interval 200ms
timeout 100ms
rise 2
fall 3
hold_down 3s
service dns-t
  anycast 127.0.0.1
  port $PORT
  identity b1
  action command
  withdraw /bin/sh -c "echo withdraw >> $T/actions"
  restore /bin/sh -c "echo restore >> $T/actions"
EOC
"$AGENT" --guard "$T/g.conf" --check-config >/dev/null || fail "config rejected"

start_unbound
"$AGENT" --guard "$T/g.conf" > "$T/out.json" 2> "$T/err.log" & GPID=$!
sleep 1.5
grep -q guard_withdraw "$T/out.json" && fail "withdrew a healthy service"

stop_unbound
wait_for guard_withdraw "$T/out.json" 3 || fail "no withdrawal after the server stopped"
grep -q '"reason":"3 failed probes: unreachable on 127.0.0.1"' "$T/out.json" || fail "reason"
[ "$(tail -1 "$T/actions")" = withdraw ] || fail "withdraw command not run"

start_unbound
wait_for guard_restore "$T/out.json" 3 || fail "no restore after the server came back"
[ "$(tail -1 "$T/actions")" = restore ] || fail "restore command not run"

# A second failure soon after: a flap, withdrawn with a 3 s hold-down, so
# the restore waits for it even though the server answers again at once.
stop_unbound
wait_for "hold-down 3000 ms" "$T/err.log" 3 || fail "the flap got no hold-down"
start_unbound
sleep 1.5
[ "$(grep -c guard_restore "$T/out.json")" = 1 ] || fail "restored during the hold-down"
wait_for "guard_restore.*guard_restore" <(tr -d '\n' < "$T/out.json") 1 || true
for _ in $(seq 40); do [ "$(grep -c guard_restore "$T/out.json")" = 2 ] && break; sleep 0.1; done
[ "$(grep -c guard_restore "$T/out.json")" = 2 ] || fail "no restore after the hold-down"
kill "$GPID"; wait "$GPID" || true; GPID=

# A server that answers with another identity is not ours: withdraw.
sed -i 's/identity b1/identity b9/' "$T/g.conf"
"$AGENT" --guard "$T/g.conf" > "$T/out2.json" 2>> "$T/err.log" & GPID=$!
wait_for guard_withdraw "$T/out2.json" 3 || fail "wrong identity not withdrawn"
grep -q 'identity \\"b1\\", not b9' "$T/out2.json" || fail "identity reason"
echo "guard_unbound: ok"
