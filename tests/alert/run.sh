#!/bin/bash
# tests/alert/run.sh - the alert stage: a real Alertmanager (Debian's
# prometheus-alertmanager) on 127.0.0.1 and the collector routing incidents to
# it, across a SIGHUP and a collector restart.
#
# One agent's rounds (tests/alert/feed.py) find it at home (site-a), then make
# a hijack incident open: the anycast address answers with an identity no
# instance has, the management addresses answer. Checks: the
# collector has one open hijack incident; Alertmanager lists an active
# AnycastHijack alert labelled with the incident's id and linking to it; it
# stays active after a SIGHUP; the collector is restarted on the same database
# (SIGTERM, started again) while the hijack goes on, and 30 s later (more than
# twice Alertmanager's resolve_timeout of 12 s) the incident is still open
# with the same id, the alert still active, and the webhook receiver behind
# Alertmanager got no "resolved" notification. Then the anycast address
# answers with site-a's identity again: the incident is resolved, the alert
# leaves Alertmanager's active ones and the receiver gets exactly one
# "resolved" notification. Last, a second collector routes the same hijack,
# its identity Slack markup with CR/LF and a "." line in it, to a Slack
# webhook and to e-mail through an SMTP server that reads like an
# LF-tolerant relay (smtp_sink.py): the Slack text carries no markup, the
# mail only CRLF line ends and no smuggled command.
#
# Everything listens on loopback, in a private temp dir; every daemon is
# stopped by its PID. Env: ANYCAST_BIN (build dir; built into build-alert
# when unset), ALERTMANAGER (the binary, default prometheus-alertmanager),
# KEEP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. "$ROOT/scripts/lib/stop.sh" # stop_pids
HERE=$ROOT/tests/alert
RESOLVE_TIMEOUT_S=12
RESEND=3s

if [ -z "${ANYCAST_BIN:-}" ]; then
	ANYCAST_BIN=$ROOT/build-alert
	cmake -S . -B "$ANYCAST_BIN" -DANYCAST_WERROR=ON -DANYCAST_SANITIZE=ON >/dev/null
	cmake --build "$ANYCAST_BIN" -j"$(nproc)" --target anycast-collector >/dev/null
fi
COLLECTOR=$ANYCAST_BIN/anycast-collector
AM=${ALERTMANAGER:-prometheus-alertmanager}
if ! command -v "$AM" >/dev/null 2>&1; then
	echo "tests/alert: $AM missing (scripts/install-deps.sh installs prometheus-alertmanager)" >&2
	exit 1
fi
command -v jq >/dev/null 2>&1 || { echo "tests/alert: jq missing (scripts/install-deps.sh)" >&2; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

tmp=$(mktemp -d /tmp/anycast-alert.XXXXXX)
pids=()
FAILS=0
cleanup() {
	STOP_TENTHS=50 stop_pids "${pids[@]}"
	wait 2>/dev/null || true
	if [ "$FAILS" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; else echo "files kept in $tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
info() { echo "     $*"; }
die() { # a check the rest depends on failed: show the logs and stop
	fail "$*"
	echo "--- collector log (last 30 lines)"; tail -n 30 "$tmp/collector.log" || true
	echo "--- alertmanager log (last 10 lines)"; tail -n 10 "$tmp/am/am.log" || true
	exit 1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_for SECONDS CMD...: runs CMD every 0.5 s until it succeeds; 1 when it never did
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.5
	done
}
up() { curl -fs -o /dev/null -m 2 "$1"; }
# What the collector, Alertmanager and the receiver say, with curl and jq (a python3
# start takes seconds on a busy machine).
# open_incidents: one "ID KIND" line per open incident
open_incidents() { curl -fs -m 5 "$URL/api/v1/incidents?state=open" | jq -r '.incidents[] | "\(.id) \(.kind)"'; }
# am_line: Alertmanager's alert (GET /api/v2/alerts lists the ones not yet resolved) labelled
# incident=$ID: "STATE ALERTNAME KIND SEVERITY ENDS_IN_S GENERATOR_URL"; nothing when there is none
am_line() {
	curl -fs -m 5 "$AMURL/api/v2/alerts" | jq -r --arg id "$ID" '.[] | select(.labels.incident == $id) |
		"\(.status.state) \(.labels.alertname) \(.labels.kind) \(.labels.severity) " +
		"\((.endsAt | sub("\\.[0-9]+"; "") | fromdateiso8601) - now | floor) \(.generatorURL)"' | head -n1
}
# hook_counts: the notifications Alertmanager sent the receiver for $ID: "firing=N resolved=N"
hook_counts() {
	jq -rs --arg id "$ID" '[.[].alerts[] | select(.labels.incident == $id) | .status] |
		"firing=\(map(select(. == "firing")) | length) resolved=\(map(select(. == "resolved")) | length)"' \
		"$tmp/hook.log"
}

port=$(free_port)
amport=$(free_port)
rport=$(free_port)
URL=http://127.0.0.1:$port
AMURL=http://127.0.0.1:$amport

# --- the webhook receiver behind Alertmanager, and Alertmanager ---------------------
python3 "$ROOT/tests/fault/receiver.py" ok "$rport" "$tmp/hook.log" &
pids+=($!)
mkdir -p "$tmp/am/data"
cat > "$tmp/am/alertmanager.yml" <<EOT
global:
  resolve_timeout: ${RESOLVE_TIMEOUT_S}s
route:
  receiver: test
  group_by: [alertname, incident]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: http://127.0.0.1:$rport/hook
        send_resolved: true
EOT
"$AM" --config.file="$tmp/am/alertmanager.yml" --storage.path="$tmp/am/data" \
	--web.listen-address="127.0.0.1:$amport" --cluster.listen-address="" \
	> "$tmp/am/am.log" 2>&1 &
pids+=($!)
wait_for 20 up "$AMURL/-/ready" || die "Alertmanager did not come up on $AMURL"
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for 10 listening "$rport" || die "the webhook receiver did not listen on 127.0.0.1:$rport"

# --- the collector -------------------------------------------------------------------
tok=token-br1-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$tok" > "$tmp/br1.token"
chmod 600 "$tmp/br1.token"
cat > "$tmp/inventory.yaml" <<EOT
services:
  - name: dns
    protocol: dns
    address: [127.0.0.1]
    port: 53
    interval: 1s
    timeout: 500ms
    identify: [nsid]
    instances:
      - { name: site-a, management: 127.0.0.2, identity: s1.lab }
      - { name: site-b, management: 127.0.0.3, identity: s2.lab }
agents:
  - { name: br1, token_sha256: $(printf %s "$tok" | sha256sum | cut -d' ' -f1), home: site-a }
alerts:
  - name: am
    type: alertmanager
    url: http://127.0.0.1:$amport
EOT
CPID=
start_collector() {
	(cd "$tmp" && exec "$COLLECTOR" --config "$tmp/inventory.yaml" --listen "127.0.0.1:$port" \
		--db "$tmp/anycast.db" --alertmanager-resend "$RESEND") >> "$tmp/collector.log" 2>&1 &
	CPID=$!
	pids+=("$CPID")
	wait_for 30 up "$URL/healthz" || die "collector did not start on $URL"
}
# stop_collector: SIGTERM, wait for the PID to exit; its status in STOP_RC
STOP_RC=0
stop_collector() {
	STOP_RC=0
	kill -TERM "$CPID" 2>/dev/null || true
	wait "$CPID" 2>/dev/null || STOP_RC=$?
	local p keep=()
	for p in "${pids[@]}"; do [ "$p" = "$CPID" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}
start_collector
info "collector on $URL, Alertmanager on $AMURL, receiver on 127.0.0.1:$rport"

# --- a hijack opens an incident, Alertmanager has its alert -----------------------------
echo home > "$tmp/mode"
python3 "$HERE/feed.py" "$URL" "$tmp/br1.token" "$tmp/mode" "$tmp/feed.log" &
pids+=($!)
at_home() { [ "$(curl -fs -m 5 "$URL/api/v1/catchments" | jq -c '[.catchments[] | [.instance, .status]]')" = '[["site-a","ok"]]' ]; }
wait_for 15 at_home || die "br1 is not at site-a after 15 s of rounds"
echo hijack > "$tmp/mode"
t0=$SECONDS
any_open() { [ -n "$(open_incidents 2>/dev/null)" ]; }
wait_for 15 any_open || die "no open incident after 15 s of hijacked rounds"
open=$(open_incidents)
if [ "$(echo "$open" | wc -l)" = 1 ] && [ "$(echo "$open" | cut -d' ' -f2)" = hijack ]; then
	ok "one open hijack incident after $((SECONDS - t0)) s ($open)"
else
	fail "open incidents are not one hijack: $(echo "$open" | tr '\n' ';')"
fi
ID=$(echo "$open" | head -n1 | cut -d' ' -f1)

am_active() { set -- $(am_line); [ "${1:-}" = active ]; }
t1=$SECONDS
wait_for 10 am_active || die "Alertmanager has no active alert for incident $ID after 10 s"
read -r state name kind sev ends gen <<< "$(am_line)"
ok "Alertmanager lists the alert $((SECONDS - t1)) s after the incident opened ($state, ends in $ends s)"
[ "$name" = AnycastHijack ] && ok "alertname $name" || fail "alertname is $name, not AnycastHijack"
[ "$kind" = hijack ] && [ "$sev" = critical ] && ok "labels kind=$kind severity=$sev" ||
	fail "labels kind=$kind severity=$sev (want hijack, critical)"
case "$gen" in
*"#/incident/$ID") ok "generatorURL $gen" ;;
*) fail "generatorURL $gen does not end in #/incident/$ID" ;;
esac
wait_for 5 grep -q '"firing"' "$tmp/hook.log" || true
info "receiver: $(hook_counts)"

# --- SIGHUP: the alert stays active ------------------------------------------------------
kill -HUP "$CPID"
wait_for 10 grep -q "reloaded" "$tmp/collector.log" || fail "no reload logged after SIGHUP"
sleep $((RESOLVE_TIMEOUT_S / 2))
if am_active && kill -0 "$CPID" 2>/dev/null; then
	ok "alert still active $((RESOLVE_TIMEOUT_S / 2)) s after SIGHUP ($(am_line | cut -d' ' -f1,5) s left)"
else
	fail "after SIGHUP: Alertmanager says '$(am_line)', collector alive: $(kill -0 "$CPID" 2>/dev/null && echo yes || echo no)"
fi

# --- restart on the same database while the hijack goes on -------------------------------
stop_collector
[ "$STOP_RC" = 0 ] && ok "collector exited 0 on SIGTERM" || fail "collector exited $STOP_RC on SIGTERM"
start_collector
t2=$SECONDS
grep -q "restored 1 open incident" "$tmp/collector.log" && info "collector restarted, restored 1 open incident" ||
	info "collector restarted (no 'restored 1 open incident' in its log)"
WAIT=$((RESOLVE_TIMEOUT_S * 2 + 6))
sleep "$WAIT"
open=$(open_incidents)
[ "$open" = "$ID hijack" ] && ok "$((SECONDS - t2)) s after the restart incident $ID is still the one open hijack" ||
	fail "open incidents $((SECONDS - t2)) s after the restart: '$(echo "$open" | tr '\n' ';')' (want '$ID hijack')"
line=$(am_line)
[ "${line%% *}" = active ] && ok "Alertmanager still lists the alert as active ($(echo "$line" | cut -d' ' -f5) s left)" ||
	fail "Alertmanager no longer lists incident $ID as active (got '$line')"
hook=$(hook_counts)
case "$hook" in
*"resolved=0"*) ok "no resolved notification reached the receiver ($hook)" ;;
*) fail "the receiver got a resolved notification for the open incident $ID ($hook)" ;;
esac

# --- the hijack ends: resolved once ---------------------------------------------------------
echo home > "$tmp/mode"
t3=$SECONDS
resolved() { [ "$(curl -fs -m 5 "$URL/api/v1/incidents/$ID" | jq -r .incident.state)" = resolved ]; }
wait_for 20 resolved || die "incident $ID not resolved 20 s after the anycast address answers as site-a"
ok "incident $ID resolved $((SECONDS - t3)) s after site-a answers again"
am_gone() { [ -z "$(am_line)" ]; }
wait_for 10 am_gone && ok "the alert left Alertmanager's active alerts" ||
	fail "Alertmanager still lists incident $ID: $(am_line)"
one_resolved() { hook_counts | grep -q "resolved=1"; }
wait_for 10 one_resolved || true
sleep 3 # a second resolved notification would show up now
hook=$(hook_counts)
case "$hook" in
*"resolved=1"*) ok "exactly one resolved notification ($hook)" ;;
*) fail "want exactly one resolved notification for incident $ID, got $hook" ;;
esac

stop_collector
[ "$STOP_RC" = 0 ] || fail "collector exited $STOP_RC on SIGTERM"

# --- a rogue server's identity reaches Slack and e-mail harmless --------------------------
# The same hijack, its identity Slack markup plus CR/LF and a "." line meant
# to end the mail's DATA; routes: a Slack webhook (the receiver) and e-mail
# through an SMTP server that reads as an LF-tolerant relay would.
sport=$(free_port)
kport=$(free_port)
python3 "$HERE/smtp_sink.py" "$sport" "$tmp/smtp" &
pids+=($!)
python3 "$ROOT/tests/fault/receiver.py" ok "$kport" "$tmp/slack.log" &
pids+=($!)
wait_for 10 listening "$sport" || die "the SMTP sink did not listen on 127.0.0.1:$sport"
wait_for 10 listening "$kport" || die "the Slack receiver did not listen on 127.0.0.1:$kport"
sed -e '/^alerts:/,$d' "$tmp/inventory.yaml" > "$tmp/inventory2.yaml"
cat >> "$tmp/inventory2.yaml" <<EOT
alerts:
  - { name: chat, type: slack, url: "http://127.0.0.1:$kport/slack" }
  - { name: mail, type: email, url: "smtp://127.0.0.1:$sport", mail_from: monitor@example.net,
      mail_to: noc@example.net }
EOT
echo home > "$tmp/mode"
(cd "$tmp" && exec "$COLLECTOR" --config "$tmp/inventory2.yaml" --listen "127.0.0.1:$port" \
	--db "$tmp/hostile.db") >> "$tmp/collector.log" 2>&1 &
CPID=$!
pids+=("$CPID")
wait_for 30 up "$URL/healthz" || die "collector (hostile names) did not start on $URL"
wait_for 30 at_home || die "br1 not at home on the second collector"
echo hostile > "$tmp/mode"
slack_sent() { grep -q '"text"' "$tmp/slack.log" 2>/dev/null; }
mail_sent() { grep -q '^=====END' "$tmp/smtp.data" 2>/dev/null; }
wait_for 30 slack_sent || fail "no Slack message for the hijack"
wait_for 30 mail_sent || fail "no e-mail for the hijack"
if slack_sent; then
	text=$(head -1 "$tmp/slack.log" | jq -r .text)
	case "$text" in
	*"<"* | *">"*) fail "Slack text carries markup: $text" ;;
	*"&lt;!channel&gt;"*) ok "Slack: the identity arrives escaped, no mention, no link" ;;
	*) fail "Slack text does not show the identity: $text" ;;
	esac
fi
if mail_sent; then
	mails=$(grep -ci '^MAIL FROM' "$tmp/smtp.cmds")
	msgs=$(grep -c '^=====END' "$tmp/smtp.data")
	if grep -qi 'evil@example.net' "$tmp/smtp.cmds"; then
		fail "an SMTP command came from the identity: $(grep -i 'evil@' "$tmp/smtp.cmds" | head -1)"
	elif [ "$mails" != "$msgs" ]; then
		fail "$mails MAIL FROM commands for $msgs messages"
	else
		ok "e-mail: $msgs message(s), each its own MAIL FROM, no command smuggled in"
	fi
	if python3 - "$tmp/smtp.data" <<'PY'; then ok "e-mail: only CRLF line ends"; else fail "e-mail: a bare CR or LF reached the relay"; fi
import sys
raw = open(sys.argv[1], "rb").read().replace(b"=====END\n", b"")
sys.exit(0 if raw.count(b"\n") == raw.count(b"\r\n") and raw.count(b"\r") == raw.count(b"\r\n") else 1)
PY
fi
stop_collector
[ "$STOP_RC" = 0 ] || fail "collector (hostile names) exited $STOP_RC on SIGTERM"

if grep -qE "ERROR: AddressSanitizer|runtime error:" "$tmp/collector.log"; then
	fail "sanitizer report in the collector log"
	grep -m1 -A30 -E "ERROR: AddressSanitizer|runtime error:" "$tmp/collector.log"
fi
if [ "$FAILS" -eq 0 ]; then
	echo "PASS alert ($SECONDS s)"
	exit 0
fi
echo "FAIL alert ($FAILS failed checks)"
exit 1
