/* collector/store_pg.c - PostgreSQL connection: URL check, connect, server
 * version check, migrations under schema_version (one transaction, advisory
 * lock), transactions and savepoints, reconnect with backoff, health write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/log.h"
#include "collector/store_pg.h"
#include "collector/store_pg_int.h"
#include "collector/store_pg_schema.h"

#define PG_MIN_SERVER 150000
/* pg_advisory_xact_lock key taken while migrating: "anycast" in ASCII. */
#define PG_MIGRATE_LOCK 0x616e7963617374LL
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000

int
store_pg_is_url(const char *s)
{
	return s != NULL &&
	       (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

void
store_pg_redact(const char *url, char *out, size_t outlen)
{
	const char *scheme = strstr(url, "://");
	const char *at, *colon;

	snprintf(out, outlen, "%s", url);
	if (scheme == NULL)
		return;
	scheme += 3;
	at = strchr(scheme, '@');
	colon = strchr(scheme, ':');
	if (at != NULL && colon != NULL && colon < at && (size_t)(colon - url) + 1 < outlen)
		snprintf(out + (colon - url), outlen - (size_t)(colon - url), ":***%s", at);
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
store_pg_set_err(struct store_pg *pg, const char *msg)
{
	size_t n = 0;

	if (msg == NULL || msg[0] == '\0')
		msg = "unknown PostgreSQL error";
	/* libpq messages end in a newline and may hold several lines. */
	for (const char *p = msg; *p != '\0' && n + 1 < sizeof(pg->err); p++) {
		if (*p == '\n') {
			if (p[1] == '\0')
				break;
			if (n + 3 >= sizeof(pg->err))
				break;
			pg->err[n++] = ';';
			pg->err[n++] = ' ';
		} else if (*p != '\r') {
			pg->err[n++] = *p == '\t' ? ' ' : *p;
		}
	}
	pg->err[n] = '\0';
}

static int
sqlstate_errno(const char *state)
{
	if (state == NULL)
		return -EIO;
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
		return -ENOTCONN;
	if (strncmp(state, "40", 2) == 0 || strcmp(state, "55P03") == 0)
		return -EBUSY;
	if (strcmp(state, "53100") == 0)
		return -ENOSPC;
	if (strcmp(state, "53200") == 0)
		return -ENOMEM;
	if (strcmp(state, "25006") == 0)
		return -EROFS;
	if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
		return -EINVAL;
	return -EIO;
}

int
store_pg_result(struct store_pg *pg, PGresult *res)
{
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN)
		return 0;
	store_pg_set_err(pg, res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		pg->in_tx = 0;
		return -ENOTCONN;
	}
	return res ? sqlstate_errno(PQresultErrorField(res, PG_DIAG_SQLSTATE)) : -EIO;
}

int
store_pg_exec(struct store_pg *pg, const char *sql)
{
	PGresult *res;
	int rc;

	if ((rc = store_pg_connected(pg)) != 0)
		return rc;
	res = PQexec(pg->conn, sql);
	rc = store_pg_result(pg, res);
	if (rc != 0)
		log_debug("store: %s: %s", sql, pg->err);
	PQclear(res);
	return rc;
}

static PGconn *
connect_checked(const char *url, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *perr = NULL;
	PGconn *conn;
	struct store_pg tmp = { 0 };

	/* A malformed URL: libpq's parser says why, without connecting. */
	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		store_pg_set_err(&tmp, perr ? perr : "out of memory");
		snprintf(err, errlen, "invalid PostgreSQL URL: %s", tmp.err);
		PQfreemem(perr);
		return NULL;
	}
	PQconninfoFree(opts);
	conn = PQconnectdb(url);
	if (conn == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		store_pg_set_err(&tmp, PQerrorMessage(conn));
		snprintf(err, errlen, "cannot connect: %s", tmp.err);
		PQfinish(conn);
		return NULL;
	}
	if (PQserverVersion(conn) < PG_MIN_SERVER) {
		snprintf(err, errlen, "PostgreSQL server version %d is older than 15 (needs %d or later)",
			 PQserverVersion(conn), PG_MIN_SERVER);
		PQfinish(conn);
		return NULL;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

int
store_pg_connected(struct store_pg *pg)
{
	char err[256];
	PGconn *conn;
	int64_t now;

	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	now = mono_ns();
	if (now < pg->retry_at_ns) {
		if (pg->err[0] == '\0')
			snprintf(pg->err, sizeof(pg->err), "PostgreSQL unreachable");
		return -ENOTCONN;
	}
	pg->in_tx = 0;
	if ((conn = connect_checked(pg->url, err, sizeof(err))) == NULL) {
		snprintf(pg->err, sizeof(pg->err), "%s", err);
		pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : PG_BACKOFF_MIN_MS;
		if (pg->backoff_ms > PG_BACKOFF_MAX_MS)
			pg->backoff_ms = PG_BACKOFF_MAX_MS;
		pg->retry_at_ns = now + (int64_t)pg->backoff_ms * 1000000;
		return -ENOTCONN;
	}
	if (pg->conn != NULL) {
		PQfinish(pg->conn);
		log_info("store: reconnected to PostgreSQL");
	}
	pg->conn = conn;
	pg->prepared = 0;
	if (pg->budget_ms > 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "SET statement_timeout = %d", pg->budget_ms);
		PQclear(PQexec(conn, sql));
	}
	pg->backoff_ms = 0;
	pg->retry_at_ns = 0;
	return 0;
}

int
store_pg_schema_latest(void)
{
	return (int)store_pg_schema_n_files;
}

static int
read_version(struct store_pg *pg)
{
	PGresult *res;
	int v = -1;

	if (store_pg_connected(pg) != 0)
		return -1;
	res = PQexec(pg->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (store_pg_result(pg, res) == 0 && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

int
store_pg_schema_version(struct store_pg *pg)
{
	return read_version(pg);
}

static int
migrate(struct store_pg *pg, char *err, size_t errlen)
{
	int want = store_pg_schema_latest();
	char sql[128];
	int have;

	/* DDL is transactional: every pending migration and its version row
	 * commit together or not at all. The advisory lock serialises two
	 * collectors starting at once on a new database. */
	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
		 (long long)PG_MIGRATE_LOCK);
	if (store_pg_exec(pg, sql) != 0)
		goto fail;
	pg->in_tx = 1;
	{
		PGresult *res = PQexec(pg->conn, "SELECT to_regclass('schema_version') IS NOT NULL");
		int exists = store_pg_result(pg, res) == 0 && PQntuples(res) == 1 &&
			     PQgetvalue(res, 0, 0)[0] == 't';

		PQclear(res);
		if (!exists && store_pg_exec(pg, "CREATE TABLE schema_version ("
						 " version int PRIMARY KEY,"
						 " applied_ms bigint NOT NULL)") != 0)
			goto fail;
	}
	if ((have = read_version(pg)) < 0)
		goto fail;
	if (have > want) {
		store_pg_exec(pg, "ROLLBACK");
		pg->in_tx = 0;
		snprintf(err, errlen, "database schema version %d is newer than this program's (%d)",
			 have, want);
		return -EINVAL;
	}
	for (int v = have; v < want; v++) {
		if (store_pg_exec(pg, store_pg_schema_files[v].sql) != 0) {
			snprintf(err, errlen, "migration postgres/%s: %s",
				 store_pg_schema_files[v].name, pg->err);
			store_pg_exec(pg, "ROLLBACK");
			pg->in_tx = 0;
			return -EIO;
		}
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_version (version, applied_ms) VALUES (%d,"
			 " (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
			 v + 1);
		if (store_pg_exec(pg, sql) != 0)
			goto fail;
		log_info("store: applied migration postgres/%s", store_pg_schema_files[v].name);
	}
	if (store_pg_exec(pg, "COMMIT") != 0)
		goto fail;
	pg->in_tx = 0;
	return 0;
fail:
	snprintf(err, errlen, "migration: %s", pg->err);
	store_pg_exec(pg, "ROLLBACK");
	pg->in_tx = 0;
	return -EIO;
}

struct store_pg *
store_pg_open(const char *url, const struct store_options *opt, char *err, size_t errlen)
{
	static const struct store_options defaults = { .sync = STORE_SYNC_FULL };
	struct store_pg *pg;
	int have;

	if (opt == NULL)
		opt = &defaults;
	if ((pg = calloc(1, sizeof(*pg))) == NULL || (pg->url = strdup(url)) == NULL) {
		if (pg != NULL)
			free(pg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pg->opt = *opt;
	if ((pg->conn = connect_checked(url, err, errlen)) == NULL)
		goto fail;
	/* FULL: a commit returns once the WAL is flushed on the server. */
	if (store_pg_exec(pg, opt->sync == STORE_SYNC_FULL ? "SET synchronous_commit = on"
							   : "SET synchronous_commit = off") != 0) {
		snprintf(err, errlen, "%s", pg->err);
		goto fail;
	}
	if (!opt->no_migrate && migrate(pg, err, errlen) != 0)
		goto fail;
	if (opt->no_migrate && (have = read_version(pg)) != store_pg_schema_latest()) {
		snprintf(err, errlen, "schema version %d, expected %d", have, store_pg_schema_latest());
		goto fail;
	}
	return pg;
fail:
	store_pg_close(pg);
	return NULL;
}

struct store_pg *
store_pg_reopen(struct store_pg *pg, char *err, size_t errlen)
{
	struct store_options so = pg->opt;

	so.no_migrate = 1;
	return store_pg_open(pg->url, &so, err, errlen);
}

void
store_pg_close(struct store_pg *pg)
{
	if (pg == NULL)
		return;
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	free(pg->url);
	free(pg);
}

const char *
store_pg_errmsg(struct store_pg *pg)
{
	return pg->err;
}

int
store_pg_begin(struct store_pg *pg)
{
	int rc = store_pg_exec(pg, "BEGIN");

	pg->in_tx = rc == 0;
	return rc;
}

int
store_pg_commit(struct store_pg *pg)
{
	int rc = store_pg_exec(pg, "COMMIT");

	if (rc != 0 && pg->conn != NULL && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		store_pg_exec(pg, "ROLLBACK");
	pg->in_tx = 0;
	return rc;
}

int
store_pg_rollback(struct store_pg *pg)
{
	int rc = store_pg_exec(pg, "ROLLBACK");

	pg->in_tx = 0;
	return rc;
}

int
store_pg_savepoint(struct store_pg *pg)
{
	return store_pg_exec(pg, "SAVEPOINT job");
}

int
store_pg_savepoint_release(struct store_pg *pg)
{
	return store_pg_exec(pg, "RELEASE job");
}

int
store_pg_savepoint_rollback(struct store_pg *pg)
{
	int rc = store_pg_exec(pg, "ROLLBACK TO job");

	if (rc == 0)
		rc = store_pg_exec(pg, "RELEASE job");
	return rc;
}

int
store_pg_check_writable(struct store_pg *pg, int probe_bytes)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO health (id, checked_ms, probe) VALUES (1,"
		 " (extract(epoch FROM clock_timestamp()) * 1000)::bigint, %s)"
		 " ON CONFLICT (id) DO UPDATE SET checked_ms = excluded.checked_ms,"
		 " probe = excluded.probe",
		 probe_bytes > 0 ? "decode(repeat('00', $1), 'hex')" : "NULL");
	if (probe_bytes > 0) {
		char n[16];
		const char *params[1] = { n };
		PGresult *res;
		int rc;

		if ((rc = store_pg_connected(pg)) != 0)
			return rc;
		snprintf(n, sizeof(n), "%d", probe_bytes);
		res = PQexecParams(pg->conn, sql, 1, NULL, params, NULL, NULL, 0);
		rc = store_pg_result(pg, res);
		PQclear(res);
		return rc;
	}
	return store_pg_exec(pg, sql);
}

PGresult *
store_pg_params(struct store_pg *pg, const char *sql, int n, const char *const *v, int *rcp)
{
	PGresult *res;
	int rc;

	if ((rc = store_pg_connected(pg)) == 0) {
		res = PQexecParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0);
		if ((rc = store_pg_result(pg, res)) == 0) {
			if (rcp != NULL)
				*rcp = 0;
			return res;
		}
		log_debug("store: %s: %s", sql, pg->err);
		PQclear(res);
	}
	if (rcp != NULL)
		*rcp = rc;
	return NULL;
}

const char *
store_pg_i64(char *buf, size_t len, int64_t v)
{
	snprintf(buf, len, "%lld", (long long)v);
	return buf;
}
