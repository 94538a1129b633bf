#!/bin/bash
# tests/fault/test_wrong_agent_token.sh - an agent started with another
# branch's token, against the real collector: it does not report as that
# branch. "two" runs with "one"'s token: it logs one line and exits 78 at once;
# its spool is kept, the collector stores nothing for either agent from it;
# "one" with its own token is not disturbed. Local DNS responders only.
TEST_NAME=wrong_agent_token
. "$(dirname "$0")/lib.sh"
dport=$(free_port)
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" "$dport" 500ms 500ms one two
start_responders "$dport"
start_collector "$TMP/inv.yaml" "$port" "$TMP/collector.db"

start_agent one "$URL"
ONE=$AGENT_PID
cp "$TMP/one.token" "$TMP/two.token" # the mix-up
rc=0
timeout 20 "$AGENT" --collector "$URL" --name two --token-file "$TMP/two.token" \
	--spool "$TMP/spool-two" > "$TMP/agent-two.log" 2>&1 || rc=$?
want="the token in $TMP/two.token belongs to agent \"one\", not \"two\"; refusing to run"
[ "$rc" = 78 ] && ok "exit 78" || fail "exit $rc (log: $TMP/agent-two.log)"
n=$(grep -cF "$want" "$TMP/agent-two.log" || true)
w=$(grep -c "\[warn\]" "$TMP/agent-two.log" || true)
[ "$n" = 1 ] && [ "$w" = 1 ] && ok "one line: $want" ||
	{ fail "$n matching lines, $w warnings"; grep "\[warn\]" "$TMP/agent-two.log" | head -5; }
[ -d "$TMP/spool-two" ] && ok "spool kept" || fail "spool-two is gone"
c403=$(curl -fs "$URL/metrics" | awk '/^anycast_http_responses_total\{code="403"\}/ { print $2 }')
[ "${c403:-0}" -ge 1 ] && [ "${c403:-0}" -le 2 ] && ok "collector answered 403 $c403 time(s), no retries" ||
	fail "collector answered 403 ${c403:-0} times"

sleep 2
stop_pid "$ONE"
[ "$STOP_RC" = 0 ] || fail "agent one exit $STOP_RC"
two=$(curl -fs "$URL/api/v1/results?agent=two&limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))')
[ "$two" = 0 ] && ok "nothing stored for two" || fail "$two results stored for two"
last=$(($(agent_state one next_seq) - 1))
if r=$(seq_report "$URL" one "$last"); then
	ok "agent one: all $last results stored once, none from two ($r)"
else
	fail "agent one: $r"
fi
finish
