#!/bin/bash
# tests/lib/pg.sh - a private PostgreSQL 15 server for tests (sourced).
# pg_start: initdb in a temp dir, listen only on a Unix socket in a temp dir
# (no TCP), run as the unprivileged user "postgres" from the Debian package
# when the test runs as root; exports PG_DIR, PG_SOCK, PG_PID, PG_URL_BASE
# (postgresql://anycast:PASSWORD@/?host=SOCKDIR, append a database name
# after the slash). Password authentication (scram-sha-256) for role anycast.
# pg_stop: stop by PID (fast shutdown), remove everything. pg_createdb NAME.
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/stop.sh" # stop_pids
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PASSWORD=${PG_PASSWORD:-anycast-test-pw}

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	PG_DIR=$(mktemp -d /tmp/anycast-pg.XXXXXX)
	chmod 755 "$PG_DIR"
	mkdir -p "$PG_DIR/data" "$PG_DIR/sock" "$PG_DIR/log"
	[ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR/data" "$PG_DIR/sock" "$PG_DIR/log"
	echo "$PG_PASSWORD" >"$PG_DIR/pw"
	chmod 644 "$PG_DIR/pw"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync \
		-E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		return 1
	}
	cat >>"$PG_DIR/data/postgresql.conf" <<EOC
listen_addresses = ''
unix_socket_directories = '$PG_DIR/sock'
fsync = ${PG_FSYNC:-on}
max_connections = 100
shared_buffers = 64MB
EOC
	# The superuser over peer-less trust on the socket; role anycast by password.
	cat >"$PG_DIR/data/pg_hba.conf" <<EOC
local all postgres trust
local all all scram-sha-256
EOC
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log/server.log" -w -t 60 start >/dev/null || {
		cat "$PG_DIR/log/server.log" >&2
		return 1
	}
	PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
	PG_SOCK=$PG_DIR/sock
	pg_psql -c "CREATE ROLE anycast LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" >/dev/null || return 1
	PG_URL_BASE="postgresql://anycast:$PG_PASSWORD@/"
	PG_URL_OPTS="?host=$PG_SOCK"
	export PG_DIR PG_SOCK PG_PID PG_URL_BASE PG_URL_OPTS
}

# pg_url DB: the URL of database DB.
pg_url() {
	echo "$PG_URL_BASE$1$PG_URL_OPTS"
}

# psql as the superuser on the private server (extra args passed on).
pg_psql() {
	pg_as psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -U postgres -d "${PG_DB:-postgres}" "$@"
}

pg_createdb() {
	pg_psql -c "CREATE DATABASE \"$1\" OWNER anycast" >/dev/null
}

# pg_pause / pg_resume: stop the server (fast) and start it again on the same data.
pg_pause() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}
pg_resume() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log/server.log" -w -t 60 start >/dev/null &&
		PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	if [ -n "${PG_PID:-}" ] && kill -0 "$PG_PID" 2>/dev/null; then
		stop_pids -INT "$PG_PID" # a fast shutdown
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}
