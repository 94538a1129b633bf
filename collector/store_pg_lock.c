/* collector/store_pg_lock.c - the leader's advisory lock on a PostgreSQL
 * connection of its own: connect with short timeouts, take the lock without
 * waiting, prove the session alive while it is held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "collector/store_lock.h"

/* Short enough that a leader cut off from the server notices within a few
 * seconds; the server-side keepalives let the server end a dead leader's
 * session (and release its lock) as fast, on TCP connections. */
#define LOCK_CONNECT_TIMEOUT_S "3"
#define LOCK_TCP_USER_TIMEOUT_MS "3000"

struct store_lock {
	char *url;
	PGconn *conn;
	int held;
};

struct store_lock *
store_lock_new(const char *url)
{
	struct store_lock *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->url = strdup(url)) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

static void
drop(struct store_lock *l)
{
	if (l->conn != NULL)
		PQfinish(l->conn);
	l->conn = NULL;
	l->held = 0;
}

void
store_lock_free(struct store_lock *l)
{
	if (l == NULL)
		return;
	drop(l);
	free(l->url);
	free(l);
}

/* libpq's message on one line. */
static void
set_err(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, errlen, "%s: %s", what, msg != NULL && msg[0] ? msg : "unknown error");
	for (n = 0; err[n] != '\0'; n++)
		if (err[n] == '\n' || err[n] == '\r')
			err[n] = err[n + 1] != '\0' ? ' ' : '\0';
}

static int
connect_lock(struct store_lock *l, char *err, size_t errlen)
{
	const char *keys[] = { "dbname", "connect_timeout", "tcp_user_timeout", "keepalives",
			       "keepalives_idle", "keepalives_interval", "keepalives_count",
			       "application_name", NULL };
	const char *vals[] = { l->url, LOCK_CONNECT_TIMEOUT_S, LOCK_TCP_USER_TIMEOUT_MS, "1", "2",
			       "1", "2", "anycast-collector leader lock", NULL };
	PGresult *res;

	/* expand_dbname: the URL's own settings, then ours for what it leaves. */
	l->conn = PQconnectdbParams(keys, vals, 1);
	if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK) {
		set_err(err, errlen, "leader lock: cannot connect",
			l->conn != NULL ? PQerrorMessage(l->conn) : "out of memory");
		drop(l);
		return -ENOTCONN;
	}
	/* The server notices a vanished leader on TCP within ~4 s (ignored on
	 * Unix sockets, where the session ends with the process at once). */
	res = PQexec(l->conn, "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1;"
			      " SET tcp_keepalives_count = 2");
	PQclear(res);
	return 0;
}

int
store_lock_poll(struct store_lock *l, char *err, size_t errlen)
{
	char sql[96];
	PGresult *res;
	int rc;

	if (l->conn != NULL && PQstatus(l->conn) != CONNECTION_OK)
		drop(l);
	if (l->conn == NULL && connect_lock(l, err, errlen) != 0)
		return -ENOTCONN;
	if (l->held)
		snprintf(sql, sizeof(sql), "SELECT true");
	else
		snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)",
			 (long long)STORE_LOCK_LEADER_KEY);
	res = PQexec(l->conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		set_err(err, errlen, "leader lock", PQerrorMessage(l->conn));
		PQclear(res);
		/* Whatever failed, the session can no longer prove it holds the
		 * lock: drop it (releasing the lock if the server still has it). */
		drop(l);
		return -ENOTCONN;
	}
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	l->held = rc;
	return rc;
}
