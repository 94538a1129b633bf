#!/bin/bash
# tests/fault/test_corrupt_db.sh - the collector meets a damaged database file:
# it refuses to start with a one-line reason, or serves errors, never crashes.
#
# 1. The database file is not SQLite at all (random bytes): the collector must
#    exit non-zero (not by a signal) with a one-line reason naming the file.
#    --check-db on it: exit 1 naming "file is not a database".
# 2. A real database with 20,000 results gets 8 random 4 KB pages overwritten
#    with garbage (after a clean stop, so no WAL is left). --check-db finds
#    the damage (exit 1, one line per finding). The collector then either
#    refuses to start (one line, non-zero, no signal) or starts and answers
#    every request of a fixed list with an HTTP status (errors as JSON),
#    reports damaged pages as an error rather than a short 200 list when every
#    result is read back, stays up, and stops cleanly on SIGTERM. Once a read
#    met the damage: exactly one warning naming the database and SQLite's
#    "database disk image is malformed", anycast_store_corrupt_total > 0 in
#    /metrics, and /healthz 503 with "database damaged" in its JSON (until
#    restart). No sanitizer report.
# 3. Stopped with kill -9 right after ingest, the WAL is kept; the collector
#    restarts on it and serves the results (the normal crash path); after the
#    stop, --check-db finds the database intact (exit 0).
TEST_NAME=corrupt_db
. "$(dirname "$0")/lib.sh"
port=$(free_port)
URL=http://127.0.0.1:$port
write_inventory "$TMP/inv.yaml" 1 5s 1s gen

# 1. not a database
head -c 65536 /dev/urandom > "$TMP/garbage.db"
rc=0
timeout 30 "$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$port" --db "$TMP/garbage.db" \
	> "$TMP/garbage.log" 2>&1 || rc=$?
lines=$(grep -vc '^$' "$TMP/garbage.log" || true)
if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && grep -q "garbage.db" "$TMP/garbage.log"; then
	ok "random bytes as database: exit $rc with a reason ($(grep garbage.db "$TMP/garbage.log" | head -1 | cut -c1-140))"
else
	fail "random bytes as database: exit $rc, $lines log lines"; cat "$TMP/garbage.log"
fi
rc=0
out=$("$COLLECTOR" --db "$TMP/garbage.db" --check-db 2>&1) || rc=$?
if [ "$rc" = 1 ] && echo "$out" | grep -q "garbage.db: file is not a database"; then
	ok "--check-db on random bytes: exit 1 ($(echo "$out" | head -1 | cut -c1-100))"
else
	fail "--check-db on random bytes: exit $rc: $out"
fi

# 2. damaged pages
start_collector "$TMP/inv.yaml" "$port" "$TMP/c.db"
python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" 40 500 "$TMP/ack.log"
r=$(seq_report "$URL" gen 20000) || fail "ingest before damage: $r"
stop_pid "$COLLECTOR_PID"
[ ! -s "$TMP/c.db-wal" ] || info "WAL left after a clean stop: $(stat -c %s "$TMP/c.db-wal") bytes"
pages=$(($(stat -c %s "$TMP/c.db") / 4096))
python3 - "$TMP/c.db" "$pages" <<'PY'
import os, random, sys
path, pages = sys.argv[1], int(sys.argv[2])
random.seed(7)
with open(path, "r+b") as f:
    for p in random.sample(range(2, pages), min(8, pages - 2)):  # keep page 1 (header, schema root)
        f.seek(p * 4096)
        f.write(os.urandom(4096))
PY
info "8 of $pages pages overwritten"
rc=0
t0=$(date +%s%N)
"$COLLECTOR" --config "$TMP/inv.yaml" --db "$TMP/c.db" --check-db > "$TMP/check.out" 2> "$TMP/check.err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
nf=$(grep -c "^$TMP/c.db: " "$TMP/check.out" || true)
if [ "$rc" = 1 ] && [ "$nf" -gt 0 ]; then
	ok "--check-db on the damaged database: exit 1, $nf findings in $ms ms ($(head -1 "$TMP/check.out" | cut -c1-120))"
else
	fail "--check-db on the damaged database: exit $rc, $nf findings"; cat "$TMP/check.out" "$TMP/check.err"
fi
"$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$port" --db "$TMP/c.db" > "$TMP/damaged.log" 2>&1 &
CPID=$!
PIDS+=("$CPID")
up=0
for _ in $(seq 100); do
	kill -0 "$CPID" 2>/dev/null || break
	[ "$(http_code "$URL/healthz")" != 000 ] && { up=1; break; }
	sleep 0.1
done
if [ "$up" = 0 ]; then
	rc=0
	wait "$CPID" || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then
		ok "damaged database: refused at start, exit $rc ($(tail -1 "$TMP/damaged.log" | cut -c1-140))"
	else
		fail "damaged database: exit $rc (signal?)"; tail -20 "$TMP/damaged.log"
	fi
else
	codes=()
	for p in /healthz /api/v1/catchments /api/v1/events /api/v1/instances /api/v1/agents \
		"/api/v1/results?agent=gen&limit=1000" "/api/v1/results?agent=gen&after_seq=15000&limit=1000" /metrics; do
		codes+=("$(http_code "$URL$p")")
	done
	python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" 42 500 "$TMP/ack2.log" --first 40
	codes+=($(awk '{ print $2 }' "$TMP/ack2.log"))
	info "answers on the damaged database: ${codes[*]}"
	# Page through all 20,000 stored results: a damaged page must surface as
	# an error answer, never as a 200 list that silently lacks rows.
	r=$(python3 "$FAULT_DIR/results.py" "$URL" gen 20000 2>&1 | tail -1 || true)
	info "reading every result back: $r"
	met=0
	case "$r" in
	*"HTTP Error 5"*) met=1; ok "damaged pages surface as an HTTP error on the read that meets them (${r##*: })" ;;
	stored=20000*duplicates=0*missing=0) ok "all 20,000 results read back intact (damage outside the results)" ;;
	*) fail "reading the damaged database: $r" ;;
	esac
	# Once SQLite reported the damage: said once in the log, counted, and
	# /healthz tells the load balancer.
	nw=$(grep -c "store: $TMP/c.db: database disk image is malformed" "$TMP/damaged.log" || true)
	m=$(curl -s -m 10 "$URL/metrics" | awk '$1 == "anycast_store_corrupt_total" { print $2 }')
	h=$(curl -s -m 10 -w ' %{http_code}' "$URL/healthz" || true)
	info "after the reads: $nw warning line(s); anycast_store_corrupt_total ${m:-missing}; /healthz: $h"
	if [ "$met" = 1 ] || [ "${m:-0}" -gt 0 ]; then
		[ "$nw" = 1 ] && ok "damage logged once: $(grep -m1 "database disk image is malformed" "$TMP/damaged.log" | cut -c1-200)" ||
			fail "damage logged $nw times (want exactly 1)"
		[ "${m:-0}" -gt 0 ] && ok "damage counted in /metrics: anycast_store_corrupt_total $m" ||
			fail "anycast_store_corrupt_total ${m:-missing} after a read met the damage"
		case "$h" in
		*'"database damaged: database disk image is malformed'*" 503") ok "/healthz answers 503 with the reason: $h" ;;
		*) fail "/healthz after the damage was met: $h" ;;
		esac
	else
		[ "$nw" = 0 ] && [ "${m:-1}" = 0 ] && [ "${h##* }" = 200 ] &&
			ok "damage never met by a read: no warning, counter 0, /healthz 200" ||
			fail "damage not met, yet: $nw warnings, counter ${m:-missing}, /healthz $h"
	fi
	if ! printf '%s\n' "${codes[@]}" | grep -qx 000 && kill -0 "$CPID" 2>/dev/null; then
		ok "damaged database: collector stays up and answers every request with a status (${#codes[@]} requests)"
	else
		fail "damaged database: a request got no answer or the collector died (${codes[*]})"
		tail -20 "$TMP/damaged.log"
	fi
	stop_pid "$CPID"
	[ "$STOP_RC" = 0 ] && ok "damaged database: clean stop on SIGTERM" || fail "damaged database: exit $STOP_RC on SIGTERM"
fi

# 3. kill -9 leaves the WAL; restart recovers from it
rm -f "$TMP"/w.db*
start_collector "$TMP/inv.yaml" "$port" "$TMP/w.db"
python3 "$FAULT_DIR/loadgen.py" send "$URL" "$TMP/gen.token" 10 500 "$TMP/ack3.log"
kill -9 "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null || true
wal=$(stat -c %s "$TMP/w.db-wal" 2>/dev/null || echo 0)
start_collector "$TMP/inv.yaml" "$port" "$TMP/w.db"
acked=$(awk '$2 == 200' "$TMP/ack3.log" | wc -l)
if r=$(seq_report "$URL" gen $((acked * 500))); then
	ok "kill -9 with a $wal-byte WAL: restart serves all $((acked * 500)) acknowledged results ($r)"
else
	fail "after kill -9 with the WAL: $r"
fi
stop_pid "$COLLECTOR_PID"
rc=0
out=$("$COLLECTOR" --config "$TMP/inv.yaml" --db "$TMP/w.db" --check-db 2>&1) || rc=$?
[ "$rc" = 0 ] && ok "--check-db after the restart: $out" || fail "--check-db on the recovered database: exit $rc: $out"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP"/*.log && fail "sanitizer report"
finish
