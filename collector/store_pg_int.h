/* collector/store_pg_int.h - internals shared by collector/store_pg*.c: the
 * libpq connection, its reconnect state and helpers. Not for use outside
 * the PostgreSQL store. */
#ifndef ANYCAST_STORE_PG_INT_H
#define ANYCAST_STORE_PG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "collector/store_pg.h"

struct store_pg {
	PGconn *conn;
	char *url;              /* owned: as given (with any password) */
	struct store_options opt;
	int in_tx;              /* a transaction is open on conn */
	int64_t retry_at_ns;    /* CLOCK_MONOTONIC: no reconnect before this */
	int backoff_ms;         /* next reconnect delay */
	unsigned prepared;      /* statements prepared on conn (store_pg_write.c) */
	int64_t part_lo_ms, part_hi_ms; /* results partitions known to exist */
	int budget_ms;          /* statement_timeout of reads; 0 none */
	char err[256];
};

/* Run SQL without parameters (may hold several statements). 0, or a negative
 * errno with a one-line message in pg->err; -ENOTCONN when the connection is
 * down (it is then reset on the next store_pg_connected). */
int store_pg_exec(struct store_pg *pg, const char *sql);
/* Check the result of a command: 0 when its status is ok (or tuples),
 * else the errno as store_pg_exec. Does not clear res. */
int store_pg_result(struct store_pg *pg, PGresult *res);
/* 0 when the connection is up, reconnecting (with backoff) when it was
 * lost; -ENOTCONN while the server cannot be reached. */
int store_pg_connected(struct store_pg *pg);
/* Create the daily results partitions covering [lo_ms, hi_ms] and
 * PART_AHEAD days after, unless known to exist. */
int store_pg_ensure_partitions(struct store_pg *pg, int64_t lo_ms, int64_t hi_ms);
/* Run sql with text parameters (NULL = SQL NULL). The result (caller
 * PQclears it) when it succeeded, else NULL with the reason in pg->err and
 * the errno in *rc (rc may be NULL). */
PGresult *store_pg_params(struct store_pg *pg, const char *sql, int n, const char *const *v,
			  int *rc);
/* Format v into buf (a decimal) and return buf. */
const char *store_pg_i64(char *buf, size_t len, int64_t v);
/* Copy libpq's message into pg->err on one line. */
void store_pg_set_err(struct store_pg *pg, const char *msg);

#endif
