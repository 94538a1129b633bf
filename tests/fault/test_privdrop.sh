#!/bin/bash
# tests/fault/test_privdrop.sh - a collector started as root with --user runs
# as that user once its port is bound and its database open: ingest, /healthz
# (a real write) and a SIGHUP reload still work, and nothing runs as root.
TEST_NAME=privdrop
. "$(dirname "$0")/lib.sh"

user=nobody
if [ "$(id -u)" != 0 ] || ! getent passwd "$user" >/dev/null; then
	echo "SKIP privdrop: needs root and a '$user' user"
	exit 0
fi
chmod 755 "$TMP"
port=$(free_port)
write_inventory "$TMP/inv.yaml" 53 1s 500ms br1
chmod 644 "$TMP/inv.yaml"
(cd "$TMP" && exec "$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$port" \
	--db "$TMP/c.db" --user "$user") >> "$TMP/collector.log" 2>&1 &
pid=$!
PIDS+=("$pid")
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break
	sleep 0.1
done

uid=$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$pid/status")
want=$(id -u "$user")
[ "$uid" = "$want$want$want$want" ] && ok "collector runs as $user (uid $want, real/effective/saved/fs)" ||
	fail "collector uids are $uid, want $want x4"
[ "$(stat -c %U "$TMP/c.db")" = "$user" ] && ok "database handed to $user" || fail "database owner $(stat -c %U "$TMP/c.db")"

body='{"results":[{"seq":1,"time":"2026-11-26T05:00:00.000Z","service":"dns","address":"127.0.0.1","family":4,"target":"anycast","instance":"site-a","identity":"s1.lab","identity_source":"nsid","outcome":"ok","rcode":"NOERROR","rtt_ms":1.5}]}'
ans=$(curl -s -H "Authorization: Bearer $(cat "$TMP/br1.token")" -d "$body" "http://127.0.0.1:$port/api/v1/results")
echo "$ans" | jq -e '.stored == 1 and .duplicates == 0 and .last_seq == 1' >/dev/null &&
	ok "ingest stores after the drop" || fail "ingest answered: $ans"
[ "$(http_code "http://127.0.0.1:$port/healthz")" = 200 ] && ok "/healthz writes after the drop" || fail "/healthz not 200"

kill -HUP "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null && ok "SIGHUP reload survived" || fail "collector died on SIGHUP"
grep -q 'running as user nobody' "$TMP/collector.log" && ok "drop logged" || fail "no log line for the drop"

if "$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$(free_port)" --db "$TMP/d.db" \
	--user no-such-user-here 2>> "$TMP/collector.log"; then
	fail "an unknown --user was accepted"
else
	ok "an unknown --user stops the start-up"
fi
stop_pid "$pid"
[ "$STOP_RC" = 0 ] && ok "stopped cleanly as $user" || fail "exit status $STOP_RC on SIGTERM"

# Whoever can write the database directory must not get another file written
# or handed over by root: a planted symbolic link in place of the database is
# refused before SQLite opens it.
mkdir -p "$TMP/other"
echo "root's file" > "$TMP/other/secret"
ln -s "$TMP/other/secret" "$TMP/e.db"
rc=0
(cd "$TMP" && exec timeout 10 "$COLLECTOR" --config "$TMP/inv.yaml" \
	--listen "127.0.0.1:$(free_port)" --db "$TMP/e.db" --user "$user") >> "$TMP/collector-link.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'e.db: is a symbolic link; refused with --user' "$TMP/collector-link.log" &&
	ok "a symbolic link in place of the database is refused (exit 1: $(grep -o 'e.db: is a symbolic link; refused' "$TMP/collector-link.log" | head -1))" ||
	fail "exit $rc; log: $(tail -2 "$TMP/collector-link.log")"
[ "$(stat -c %U "$TMP/other/secret")" = root ] && [ "$(cat "$TMP/other/secret")" = "root's file" ] &&
	ok "the link's target is untouched and still root's" ||
	fail "the link's target changed: owner $(stat -c %U "$TMP/other/secret"), $(head -c 40 "$TMP/other/secret" | od -c | head -1)"
finish
