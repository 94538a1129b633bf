#!/bin/bash
# tests/web/run.sh - the web stage: starts the real collector on 127.0.0.1 with
# a temporary database and a test inventory, then drives Debian's chromium
# (playwright-core, no downloaded browser) through the dashboard while feeding
# recorded results over the ingest API. Screenshots go to tests/web/artifacts/.
# Env: ANYCAST_BIN (build dir; built into build-web when unset),
#      MOCK=1 (use tests/web/mock_api.mjs instead of the collector: dashboard work only).
# tests/web/mock_api.mjs also runs next to the real collector (MOCK_URL): the
# tests of what this collector does not serve yet (incidents, split shares)
# run against it, and say so.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. "$ROOT/scripts/lib/stop.sh" # stop_pids
HERE=$ROOT/tests/web

if [ -z "${ANYCAST_BIN:-}" ]; then
	ANYCAST_BIN=$ROOT/build-web
	cmake -S . -B "$ANYCAST_BIN" -DANYCAST_WERROR=ON -DANYCAST_SANITIZE=ON >/dev/null
	cmake --build "$ANYCAST_BIN" -j"$(nproc)" --target anycast-collector >/dev/null
fi
export ANYCAST_BIN

web/build.sh
if [ ! -d "$HERE/node_modules/playwright-core" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules" ]; then
	(cd "$HERE" && { npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
		npm install --no-audit --no-fund --loglevel=error >/dev/null; })
fi
[ -x /usr/bin/chromium ] || { echo "tests/web: /usr/bin/chromium missing (scripts/install-deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/anycast-web.XXXXXX)
pids=()
cleanup() {
	STOP_TENTHS=50 stop_pids "${pids[@]}"
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
hex_token() {
	head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'
}
mkdir -p "$tmp/tokens"

# The lab's services and instances, as the agents that recorded the fixtures
# probed them (tests/web/record_lab.sh), and one token per branch.
inv=$tmp/inventory.yaml
{ cat "$HERE/fixtures/inventory-services.yaml"; echo "agents:"; } > "$inv"
# br5 and br6 get made-up rounds: a long outage, and an agent that stops reporting.
for a in br1 br2 br3 br4 br5 br6; do
	tok=$(hex_token)
	printf '%s\n' "$tok" > "$tmp/tokens/$a.token"
	printf '  - name: %s\n    token_sha256: %s\n' "$a" "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >> "$inv"
done
# guard-b: the guard on site-b's server (its withdrawals show on the instances page).
tok=$(hex_token)
printf '%s\n' "$tok" > "$tmp/tokens/guard-b.token"
printf '  - name: guard-b\n    token_sha256: %s\n    guard: site-b\n' \
	"$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >> "$inv"
# A second collector whose read API wants a token (the file has whitespace around it on purpose).
read_tok=$(hex_token)
printf '  %s  \n' "$read_tok" > "$tmp/read.token"
{ echo "read_token_sha256: $(printf '%s' "$read_tok" | sha256sum | cut -d' ' -f1)"; cat "$inv"; } > "$tmp/secure.yaml"

# start NAME INVENTORY PORT: one collector in its own working directory, up when /healthz answers
start() {
	mkdir -p "$tmp/$1"
	if [ "${MOCK:-0}" = 1 ]; then
		TOKENS_DIR=$tmp/tokens node "$HERE/mock_api.mjs" "$3" --empty > "$tmp/$1/collector.log" 2>&1 &
	else
		(cd "$tmp/$1" && exec "$ANYCAST_BIN/anycast-collector" --config "$2" --listen "127.0.0.1:$3" \
			--db "$tmp/$1/web.db" --web-dir "$ROOT/web") 2> "$tmp/$1/collector.log" &
	fi
	pids+=($!)
	local up=0
	for _ in $(seq 100); do
		if curl -fs "http://127.0.0.1:$3/healthz" >/dev/null 2>&1; then up=1; break; fi
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$up" != 1 ]; then
		echo "tests/web: the $1 collector did not come up on 127.0.0.1:$3; its log:" >&2
		cat "$tmp/$1/collector.log" >&2
		exit 1
	fi
}
port=$(free_port)
start main "$inv" "$port"
secure_url=""
mock_url=http://127.0.0.1:$port
if [ "${MOCK:-0}" != 1 ]; then
	sport=$(free_port)
	start secure "$tmp/secure.yaml" "$sport"
	secure_url=http://127.0.0.1:$sport
	mport=$(free_port)
	MOCK=1 start mock "$inv" "$mport"
	mock_url=http://127.0.0.1:$mport
fi

mkdir -p "$HERE/artifacts"
# Node >= 20.14 can end the run without waiting for idle keep-alive sockets
force_exit=""
node --help 2>/dev/null | grep -q -- --test-force-exit && force_exit=--test-force-exit
rc=0
BASE_URL="http://127.0.0.1:$port" TOKENS_DIR="$tmp/tokens" ARTIFACTS="$HERE/artifacts" \
	SECURE_URL="$secure_url" READ_TOKEN_FILE="$tmp/read.token" MOCK_URL="$mock_url" \
	node --test $force_exit --test-reporter=spec "$HERE/dashboard.test.mjs" || rc=$?
log=$tmp/main/collector.log
cp "$log" "$HERE/artifacts/collector.log" 2>/dev/null || true
if [ "$rc" != 0 ]; then
	echo "--- collector log (first sanitizer report, or the last 40 lines; all in tests/web/artifacts/collector.log)" >&2
	if grep -q "ERROR: AddressSanitizer\|runtime error:" "$log"; then
		grep -m1 -A40 "ERROR: AddressSanitizer\|runtime error:" "$log" >&2
	else
		tail -n 40 "$log" >&2
	fi
fi
exit "$rc"
