#!/bin/bash
# tests/pg/test_bad_input.sh - a collector given a bad PostgreSQL database
# stops at start with one line saying why, exits non-zero, and writes
# nothing: a malformed URL, a wrong password, an unknown database, a database
# at a newer schema version than the program; and once the database is
# unreachable, /healthz and ingest answer 503 until it is back.
TEST_NAME=pg_bad_input
# shellcheck source=../fault/lib.sh
. "$(dirname "$0")/../fault/lib.sh"
# shellcheck source=../lib/pg.sh
. "$FAULT_ROOT/tests/lib/pg.sh"
CLEANUP+=(pg_stop)
pg_start || { fail "cannot start PostgreSQL"; finish; }
pg_createdb good
pg_createdb newer
write_inventory "$TMP/inv.yaml" 5399 1s 500ms a1

# refuse URL EXPECT: the collector exits 1 at once with one warn line that
# contains EXPECT and not the password.
refuse() {
	local url=$1 expect=$2 port rc out
	port=$(free_port)
	rc=0
	timeout 20 "$COLLECTOR" --config "$TMP/inv.yaml" --listen "127.0.0.1:$port" --db "$url" \
		>"$TMP/refuse.log" 2>&1 || rc=$?
	out=$(grep -v '\[info\]' "$TMP/refuse.log")
	if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
		printf '%s' "$out" | grep -q -- "$expect" &&
		! printf '%s' "$out" | grep -q "$PG_PASSWORD"; then
		ok "refused ($expect): $out"
	else
		fail "expected exit 1 and one line with '$expect', got rc=$rc: $out"
	fi
}

refuse "postgresql://anycast@/good?host=$PG_SOCK&bogus_option=1" "invalid PostgreSQL URL"
refuse "postgresql://anycast:%zz@[::1/good" "invalid PostgreSQL URL"
refuse "postgresql://anycast:wrong-password@/good?host=$PG_SOCK" "password authentication failed"
refuse "postgresql://anycast:$PG_PASSWORD@/nosuchdb?host=$PG_SOCK" "does not exist"
PG_DB=newer pg_psql -c "CREATE TABLE schema_version (version int PRIMARY KEY, applied_ms bigint NOT NULL);
	INSERT INTO schema_version VALUES (999, 0); ALTER TABLE schema_version OWNER TO anycast"
refuse "$(pg_url newer)" "newer than this program"
n=$(PG_DB=newer pg_psql -A -t -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$n" = 1 ] && ok "newer database: nothing written (only schema_version)" ||
	fail "newer database: $n tables after the refused start"
n=$(PG_DB=good pg_psql -A -t -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$n" = 0 ] && ok "refused starts created nothing in the good database" ||
	fail "good database has $n tables after refused starts"

# A good start, then the server goes away: healthz and ingest 503.
port=$(free_port)
start_collector "$TMP/inv.yaml" "$port" "$(pg_url good)"
tok=$(cat "$TMP/a1.token")
body='{"results":[{"seq":1,"round":1,"time":"2026-01-01T00:00:00Z","service":"dns","address":"127.0.0.1","family":4,"target":"anycast","outcome":"timeout"}]}'
code=$(http_code "http://127.0.0.1:$port/api/v1/results" -X POST -H "Authorization: Bearer $tok" \
	-H 'Content-Type: application/json' --data "$body")
[ "$code" = 200 ] && ok "ingest 200 with the database up" || fail "ingest with the database up: $code"
pg_pause
sleep 1
code=$(http_code "http://127.0.0.1:$port/healthz")
for _ in $(seq 50); do
	[ "$code" = 503 ] && break
	sleep 0.2
	code=$(http_code "http://127.0.0.1:$port/healthz")
done
[ "$code" = 503 ] && ok "healthz 503 while PostgreSQL is down" || fail "healthz while down: $code"
body2=${body//\"seq\":1/\"seq\":2}
code=$(http_code "http://127.0.0.1:$port/api/v1/results" -X POST -H "Authorization: Bearer $tok" \
	-H 'Content-Type: application/json' --data "$body2")
[ "$code" = 503 ] && ok "ingest 503 while PostgreSQL is down" || fail "ingest while down: $code"
pg_resume
code=000
for _ in $(seq 100); do
	code=$(http_code "http://127.0.0.1:$port/healthz")
	[ "$code" = 200 ] && break
	sleep 0.2
done
[ "$code" = 200 ] && ok "healthz 200 again after PostgreSQL is back" || fail "healthz after restart: $code"
code=$(http_code "http://127.0.0.1:$port/api/v1/results" -X POST -H "Authorization: Bearer $tok" \
	-H 'Content-Type: application/json' --data "$body2")
[ "$code" = 200 ] && ok "ingest 200 after reconnect" || fail "ingest after restart: $code"
n=$(PG_DB=good pg_psql -A -t -c "SELECT count(*) FROM results")
[ "$n" = 2 ] && ok "2 results stored, no duplicate" || fail "results stored: $n"
stop_pid "$COLLECTOR_PID"
finish
