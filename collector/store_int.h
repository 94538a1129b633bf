/* collector/store_int.h - internals shared by collector/store*.c: the
 * connection, its prepared statements and the name -> id caches. Not for use
 * outside the store. */
#ifndef ANYCAST_STORE_INT_H
#define ANYCAST_STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "collector/store.h"

enum store_stmt_id {
	STMT_INSERT_RESULT,
	STMT_UPSERT_LATEST,
	STMT_UPSERT_ROLLUP,
	STMT_AGENT_UPDATE,
	STMT_AGENT_LAST_SEQ,
	STMT_INSERT_EVENT,
	STMT_INSERT_DELIVERY,
	STMT_NAME_INSERT_AGENT,
	STMT_NAME_SELECT_AGENT,
	STMT_NAME_INSERT_SERVICE,
	STMT_NAME_SELECT_SERVICE,
	STMT_COUNT
};

struct store_name_id {
	char *name; /* owned */
	int64_t id;
};

struct store_name_cache {
	struct store_name_id *v; /* owned */
	size_t n, cap;
};

struct store {
	sqlite3 *db;            /* NULL for a PostgreSQL store */
	struct store_pg *pg;    /* non-NULL: every call hands off to store_pg*.c */
	sqlite3_stmt *stmt[STMT_COUNT];
	struct store_name_cache agents, services;
	enum store_sync sync;
	int budget_ms;          /* read queries: 0 = unlimited */
	int64_t deadline_ns;    /* CLOCK_MONOTONIC, while a budgeted query runs */
	char err[256];
};

/* The prepared statement id (prepared on first use), or NULL. */
sqlite3_stmt *store_stmt(struct store *st, enum store_stmt_id id);
/* Run SQL without results. 0 or -EIO. */
int store_exec(struct store *st, const char *sql);
/* The id of an agent / service name, creating the row if needed. 0 or -EIO. */
int store_agent_id(struct store *st, const char *name, int64_t *id);
int store_service_id(struct store *st, const char *name, int64_t *id);
/* Bind text, or NULL for an empty string. */
int store_bind_text_or_null(sqlite3_stmt *s, int i, const char *v);
/* Start / end the time budget around one read query. */
void store_budget_start(struct store *st);
void store_budget_end(struct store *st);
/* Step a write statement to its end and reset it: 0, or a negative errno
 * with the message in st->err (store_write.c). */
int store_step_done(struct store *st, sqlite3_stmt *s);
/* Prepare a read query and start its time budget; the caller finalizes it
 * and calls store_budget_end (store_query.c). NULL on error (logged). */
sqlite3_stmt *store_prepare_read(struct store *st, const char *sql);
/* Highest id in table (a constant name), 0 when empty, -EIO on error. */
int64_t store_max_id(struct store *st, const char *table);
/* Map an SQLite result code to a negative errno. */
int store_rc_errno(int rc);

#endif
