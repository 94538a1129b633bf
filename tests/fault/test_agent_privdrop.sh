#!/bin/bash
# tests/fault/test_agent_privdrop.sh - an agent started as root with --user
# runs as that user once set up:
#   1. central mode over HTTPS, with a token and a CA file only root can read
#      and a spool root wrote before: runs as the user (uids and gids), keeps
#      probing and reporting, owns its spool, and did not hand over a planted
#      symbolic link's target or a second hard link; SIGHUP and SIGTERM work;
#   2. standalone: runs as the user, keeps probing, persists its seq in the
#      --spool directory it was given;
#   3. an unknown user is a usage error; a --spool that is a symbolic link is
#      refused.
TEST_NAME=agent_privdrop
. "$(dirname "$0")/lib.sh"

user=nobody
if [ "$(id -u)" != 0 ] || ! getent passwd "$user" >/dev/null; then
	echo "SKIP agent_privdrop: needs root and a '$user' user"
	exit 0
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
chmod 755 "$TMP" # the user must reach its spool inside
dport=$(free_port)
cport=$(free_port)
start_responders "$dport"
write_inventory "$TMP/inv.yaml" "$dport" 500ms 300ms br1

(
	cd "$TMP"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
	printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile san.ext -out server.pem
) > /dev/null 2>&1
(cd "$TMP" && exec "$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$cport" \
	--db "$TMP/c.db" --tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key") \
	>> "$TMP/collector.log" 2>&1 &
PIDS+=("$!")
URL=https://127.0.0.1:$cport
for _ in $(seq 150); do
	curl -fs --cacert "$TMP/ca.pem" -o /dev/null "$URL/healthz" && break
	sleep 0.1
done
chmod 600 "$TMP/ca.pem" "$TMP/br1.token" # root's alone

# ids PID: "Uid: r e s fs Gid: r e s fs Groups: ..." from /proc
ids() { awk '/^(Uid|Gid|Groups):/ { $1 = $1; printf "%s ", $0 }' "/proc/$1/status"; }
want_ids="Uid: $uid $uid $uid $uid Gid: $gid $gid $gid $gid Groups: $gid "
# wait_log FILE TEXT: up to 10 s
wait_log() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}
# stored_after SEQ: results of br1 the collector stored with a larger seq
stored_after() {
	curl -s --cacert "$TMP/ca.pem" "$URL/api/v1/results?agent=br1&after_seq=$1&limit=1000" |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["results"]))'
}

# 1. Central mode: first as root, which leaves root's files in the spool.
spool=$TMP/spool-br1
start_agent br1 "$URL" --ca-file "$TMP/ca.pem"
sleep 2
stop_pid "$AGENT_PID"
acked_root=$(agent_state br1 acked)
[ "${acked_root:-0}" -gt 0 ] && [ "$(stat -c %U "$spool/state")" = root ] &&
	ok "as root: $acked_root results reported, spool files owned by root" ||
	fail "the root run did not report (acked ${acked_root:-none})"
printf 'secret\n' > "$TMP/victim"
printf 'other\n' > "$TMP/victim2"
chmod 600 "$TMP/victim" "$TMP/victim2"
ln -s "$TMP/victim" "$spool/planted-link"
ln "$TMP/victim2" "$spool/planted-hardlink"

start_agent br1 "$URL" --ca-file "$TMP/ca.pem" --user "$user"
pid=$AGENT_PID
wait_log "$TMP/agent-br1.log" "running as user $user" && ok "drop logged" || fail "no log line for the drop"
got=$(ids "$pid")
[ "$got" = "$want_ids" ] && ok "central agent runs as $user: $got" || fail "central agent: $got, want $want_ids"
sleep 3
n=$(stored_after "$acked_root")
[ "$n" -ge 6 ] && ok "keeps probing and reporting over HTTPS as $user: $n more results stored" ||
	fail "only $n results stored after the drop (log: $TMP/agent-br1.log)"
[ "$(stat -c %U "$spool")" = "$user" ] && [ "$(stat -c %U "$spool/state")" = "$user" ] &&
	[ -z "$(find "$spool" -maxdepth 1 -type f -links 1 ! -user "$user")" ] &&
	ok "the spool directory and its files belong to $user" ||
	fail "spool ownership: $(ls -ln "$spool" | tr '\n' ' ')"
[ "$(stat -c %U "$TMP/victim")" = root ] && [ "$(stat -c %U "$TMP/victim2")" = root ] &&
	[ "$(stat -c %U "$TMP/ca.pem")" = root ] &&
	ok "a planted symbolic link's target, a second hard link and the CA file stay root's" ||
	fail "handed over: $(stat -c '%n %U' "$TMP/victim" "$TMP/victim2" "$TMP/ca.pem" | tr '\n' ' ')"
kill -HUP "$pid"
sleep 1
kill -0 "$pid" 2>/dev/null && grep -q "fetching the configuration from the collector now" "$TMP/agent-br1.log" &&
	ok "SIGHUP fetches the configuration as $user" || fail "SIGHUP as $user"
stop_pid "$pid"
[ "$STOP_RC" = 0 ] && ok "central agent stopped cleanly as $user" || fail "central agent exit status $STOP_RC"

# 2. Standalone, with the seq state in a directory root creates.
conf=$TMP/agent.yaml
cat > "$conf" <<EOT
services:
  - name: dns
    protocol: dns
    address: [127.0.0.1]
    port: $dport
    interval: 500ms
    timeout: 300ms
    instances:
      - { name: site-a, management: 127.0.0.2, identity: s1.lab }
EOT
chmod 600 "$conf"
"$AGENT" --config "$conf" --spool "$TMP/seqdir" --user "$user" > "$TMP/out.jsonl" 2> "$TMP/standalone.log" &
pid=$!
PIDS+=("$pid")
wait_log "$TMP/standalone.log" "running as user $user" || true
got=$(ids "$pid")
[ "$got" = "$want_ids" ] && ok "standalone agent runs as $user" || fail "standalone agent: $got, want $want_ids"
sleep 2.5
stop_pid "$pid"
[ "$STOP_RC" = 0 ] && ok "standalone agent stopped cleanly as $user" || fail "standalone exit status $STOP_RC"
python3 - "$TMP/out.jsonl" <<'PY' && ok "standalone keeps probing as $user" || fail "standalone records (see $TMP/out.jsonl)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
anycast_ok = [r for r in recs if r["target"] == "anycast" and r["instance"] == "site-a"]
print("     records:", len(recs), "anycast identified:", len(anycast_ok))
sys.exit(0 if len(recs) >= 6 and anycast_ok and [r["seq"] for r in recs] == list(range(1, len(recs) + 1)) else 1)
PY
[ "$(stat -c %U "$TMP/seqdir/seq" 2>/dev/null)" = "$user" ] && ! grep -q "cannot persist seq" "$TMP/standalone.log" &&
	ok "the seq is persisted by $user in its directory" || fail "seq not persisted as $user (log: $TMP/standalone.log)"

# 3. Refusals.
rc=0
"$AGENT" --config "$conf" --once --user no-such-user-here > /dev/null 2>> "$TMP/standalone.log" || rc=$?
[ "$rc" = 2 ] && ok "an unknown --user is a usage error (exit 2)" || fail "unknown --user: exit $rc"
ln -s "$TMP/seqdir" "$TMP/seqlink"
rc=0
"$AGENT" --config "$conf" --spool "$TMP/seqlink" --user "$user" > /dev/null 2> "$TMP/link.log" || rc=$?
[ "$rc" = 1 ] && grep -q "symbolic link, refused" "$TMP/link.log" &&
	ok "a --spool that is a symbolic link is not handed over (exit 1)" ||
	fail "symbolic link --spool: exit $rc, $(head -c 300 "$TMP/link.log")"
finish
