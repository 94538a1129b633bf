#!/bin/bash
# tests/fault/test_agent_sighup.sh - the agent reloads its --config on SIGHUP
# without a restart (the new services are probed, seq keeps rising), keeps the
# running configuration when the new file is invalid, and --check-config
# refuses what the daemon would refuse.
TEST_NAME=agent_sighup
. "$(dirname "$0")/lib.sh"

port=$(free_port)
conf=$TMP/agent.yaml
write_conf() { # write_conf SERVICE_NAME
	cat > "$conf" <<EOT
services:
  - name: $1
    protocol: dns
    address: [127.0.0.1]
    port: $port
    interval: 500ms
    timeout: 200ms
    instances:
      - { name: one, management: 127.0.0.2 }
EOT
}
write_conf before

if "$AGENT" --config "$conf" --check-config >/dev/null; then ok "--check-config accepts a valid file"
else fail "--check-config refused a valid file"; fi
printf 'services: [\n' > "$TMP/bad.yaml"
if "$AGENT" --config "$TMP/bad.yaml" --check-config 2>/dev/null; then fail "--check-config accepted a broken file"
else ok "--check-config refuses a broken file"; fi
printf 'tok\n' > "$TMP/open.token"; chmod 644 "$TMP/open.token"
if "$AGENT" --collector http://127.0.0.1:1 --token-file "$TMP/open.token" --check-config 2>/dev/null; then
	fail "--check-config accepted a world-readable token file"
else ok "--check-config refuses a world-readable token file"; fi

"$AGENT" --config "$conf" > "$TMP/out.jsonl" 2> "$TMP/agent.log" &
pid=$!
PIDS+=("$pid")
sleep 1.5
write_conf after
kill -HUP "$pid"
sleep 1.5
cp "$TMP/bad.yaml" "$conf"
kill -HUP "$pid"
sleep 1.5
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] && ok "agent stopped cleanly on SIGTERM" || fail "agent exited $rc on SIGTERM"
kill -0 "$pid" 2>/dev/null && fail "agent still running"

python3 - "$TMP/out.jsonl" <<'PY' && ok "after SIGHUP the new service is probed; the broken file changed nothing; seq 1, 2, 3, ..." || fail "records after SIGHUP are wrong (see $TMP/out.jsonl)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
svcs = [r["service"] for r in recs]
seqs = [r["seq"] for r in recs]
first_after = svcs.index("after") if "after" in svcs else -1
ok = (svcs and svcs[0] == "before" and first_after > 0
      and all(s == "after" for s in svcs[first_after:])
      and svcs[first_after:].count("after") >= 4      # still probing after the broken reload
      and seqs == list(range(1, len(seqs) + 1)))
print("services:", {s: svcs.count(s) for s in set(svcs)}, "records:", len(recs))
sys.exit(0 if ok else 1)
PY
grep -q 'keeping the running configuration' "$TMP/agent.log" && ok "invalid reload logged and refused" ||
	fail "no log line for the refused reload"
finish
