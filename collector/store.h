/* collector/store.h - the store: schema migrations, the writes the writer
 * thread batches into transactions, and the read queries behind the JSON
 * API. Two backends behind this one interface: SQLite (a file path, the
 * default; collector/store.c and friends, the only includers of sqlite3.h)
 * and PostgreSQL (a postgresql:// URL; collector/store_pg*.c, the only
 * includers of libpq-fe.h). docs/SCALING.md says when to use which.
 *
 * A struct store is one database connection and must be used by one thread at
 * a time: the writer thread owns a read-write one (collector/store_writer.h),
 * the loop thread another one for reads. WAL mode lets both run at once. */
#ifndef ANYCAST_STORE_H
#define ANYCAST_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/inventory.h"
#include "common/result.h"
#include "collector/catchment.h"
#include "collector/event.h"

struct store;

/* Durability of commits: FULL fsyncs the WAL at every commit, so a result the
 * collector acknowledged survives a power cut; NORMAL only survives a process
 * crash (see bench/collector/RESULTS.md). */
enum store_sync { STORE_SYNC_FULL = 0, STORE_SYNC_NORMAL = 1 };

struct store_options {
	enum store_sync sync;
	int no_migrate; /* 1: do not apply migrations (reader connections) */
	int cache_kb;   /* SQLite page cache of this connection; 0 = 8192 */
};

/* Open or create the database at path, set WAL mode and apply pending
 * migrations. NULL with a one-line reason in err. Caller frees with store_close. */
struct store *store_open(const char *path, const struct store_options *opt, char *err,
			 size_t errlen);
void store_close(struct store *st);
/* Create the SQLite file at path with mode 0600 if it does not exist (an
 * existing file keeps its mode), so a database opened under any umask is
 * private; its -wal and -shm files take the same mode. 0 or -errno. */
int store_create_private(const char *path);
/* 1 when path names a PostgreSQL database (postgresql:// or postgres:// URL);
 * store_open then uses PostgreSQL 15 or later through libpq. */
int store_is_postgres(const char *path);
/* path as messages may show it: a URL's password replaced by "***". */
void store_display_name(const char *path, char *out, size_t outlen);
/* Another connection to the database st has open (same options, no
 * migration), for another thread. NULL with a reason in err. */
struct store *store_reopen(struct store *st, char *err, size_t errlen);

/* PRAGMA user_version of the open database; the version this program knows. */
int store_schema_version(struct store *st);
int store_schema_latest(void);
/* The latest version of st's backend (SQLite and PostgreSQL number their
 * migrations apart: schema/ and schema/postgres/). */
int store_schema_target(struct store *st);

/* The last SQLite error message of this connection (valid until the next call). */
const char *store_errmsg(struct store *st);

/* Transactions. store_begin takes the write lock at once (BEGIN IMMEDIATE).
 * Savepoints nest inside: the writer wraps each job in one so that a failing
 * job is undone alone while the others of the batch commit. 0 or -EIO/-EBUSY. */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);
int store_savepoint(struct store *st);
int store_savepoint_release(struct store *st);
int store_savepoint_rollback(struct store *st);

/* Mirror the inventory's agents, services and instances into their tables
 * (rows for names no longer configured are kept: results refer to them). */
int store_sync_inventory(struct store *st, const struct inventory *inv);

struct store_ingest_out {
	size_t stored, duplicates;
	uint64_t last_seq; /* highest seq stored for the agent, ever */
};

/* Insert one agent's batch (inside a transaction): results are inserted or
 * ignored by (agent, seq); latest state and per-minute rollups are updated for
 * the new ones; the agent's last_seen, last_seq, version and status are
 * updated. status_json (may be NULL) is the agent's self-report object text.
 * stored[i] is set to 1 for results that were new, 0 for duplicates. */
int store_insert_results(struct store *st, const char *agent, const struct result *r, size_t n,
			 const char *status_json, int64_t now_ms, unsigned char *stored,
			 struct store_ingest_out *out);

/* Insert a guard's actions (inside a transaction), ignoring those already
 * stored by (agent, seq); stored[i] = 1 for new ones (caller's array of n),
 * *last_seq = the highest seq stored for the agent, ever. 0 or -errno. */
struct guard_action;
int store_insert_guard_actions(struct store *st, const char *agent, const struct guard_action *g,
			       size_t n, int64_t now_ms, unsigned char *stored, uint64_t *last_seq);
/* The latest stored guard action of every (service, instance), oldest
 * first: fn(ctx, agent, action) for each (valid during the call). 0 or -errno. */
int store_each_guard_latest(struct store *st,
			    void (*fn)(void *ctx, const char *agent, const struct guard_action *g),
			    void *ctx);

/* Insert an event with the id the caller assigned (ev->id > 0). */
int store_insert_event(struct store *st, const struct event *ev);
/* Highest event id stored, 0 when none, negative on error. */
int64_t store_max_event_id(struct store *st);

/* Replace the stored catchment snapshot with rows. */
int store_save_catchments(struct store *st, const struct catchment_row *rows, size_t n);
/* The stored snapshot: *rows malloc'd (caller frees), *n rows. */
int store_load_catchments(struct store *st, struct catchment_row **rows, size_t *n);

/* One alert delivery attempt. */
int store_insert_delivery(struct store *st, int64_t time_ms, const char *route,
			  const struct event *ev, int attempt, int ok, const char *error);

/* One bounded step of retention: delete at most chunk rows from each of
 * results (older than raw_before_ms), rollups (older than rollup_before_ms),
 * events, alert deliveries and resolved incidents (older than
 * events_before_ms), oldest first. *deleted counts rows; fewer than chunk
 * means nothing older is left. The writer paces the steps
 * (collector/store_writer.h). */
int store_retention(struct store *st, int64_t raw_before_ms, int64_t rollup_before_ms,
		    int64_t events_before_ms, int chunk, size_t *deleted);

/* Stop (0) or set the WAL auto-checkpoint threshold in pages on this
 * connection. The writer sets 0 and lets a checkpointer thread run
 * store_checkpoint, so commits only append to the WAL. */
int store_set_autocheckpoint(struct store *st, int pages);
/* A passive checkpoint (never blocks the writer). *wal_pages and *done get
 * the WAL size and pages copied back (either may be NULL). 0 or negative. */
int store_checkpoint(struct store *st, int *wal_pages, int *done);

/* Bound this connection's WAL file (SQLite; a no-op on PostgreSQL): sets
 * journal_size_limit to limit_bytes and the auto-checkpoint threshold to as
 * many pages, so under continuous writes the WAL file stays near
 * limit_bytes (docs/STORAGE.md). 0 or negative. */
int store_bound_wal(struct store *st, int64_t limit_bytes);
/* A TRUNCATE checkpoint: copies the whole WAL back and cuts the file to zero
 * bytes. Waits at most wait_ms for readers; -EBUSY when one (or another
 * checkpoint) is in the way: try again later; -EOPNOTSUPP on PostgreSQL.
 * Outside any transaction. */
int store_checkpoint_truncate(struct store *st, int wait_ms);
/* PRAGMA auto_vacuum: 0 none, 1 full, 2 incremental (new databases get 2);
 * -1 on PostgreSQL or error. */
int store_auto_vacuum(struct store *st);
/* With auto_vacuum = incremental, give back free pages beyond keep_pages,
 * at most max_pages of them (the file shrinks); *freed counts them. A no-op
 * otherwise. Inside or outside a transaction. 0 or negative. */
int store_vacuum_step(struct store *st, int keep_pages, int max_pages, int *freed);
/* Convert the database at path to auto_vacuum = incremental (VACUUM: rewrites
 * the whole file, needs as much free space again, and the write lock for the
 * duration: run it with the collector stopped). 0, or negative with err. */
int store_convert_incremental(const char *path, char *err, size_t errlen);

/* Commit a one-row write now (outside any transaction): 0 when the
 * database is writable, negative otherwise. probe_bytes > 0 adds a blob of
 * that size to the write, to prove room for a batch after a failed commit. */
int store_check_writable(struct store *st, int probe_bytes);

/* Online backup of the database at src into the new file dst (SQLite backup
 * API: safe while a collector is writing). 0, or negative with err set. */
int store_backup(const char *src, const char *dst, char *err, size_t errlen);

/* ---- incidents (collector/store_incident.c) ---- */
struct store_incident {
	int64_t id;
	const char *kind, *state;  /* "open" | "resolved" */
	int64_t started_ms, updated_ms, ended_ms;
	const char *doc;           /* JSON text of the API's object */
	const char *priv;          /* JSON text: the collector's state to resume it; may be NULL */
	const int64_t *events;     /* ids of its events: their incident_id is set */
	size_t n_events;
};
/* Insert or replace the incident (inside a transaction). */
int store_save_incident(struct store *st, const struct store_incident *in);
int64_t store_max_incident_id(struct store *st);
/* fn once per open incident, oldest first (strings valid during the call). */
int store_each_open_incident(struct store *st, void (*fn)(void *ctx, const char *doc, const char *priv),
			     void *ctx);
struct store_incidents_query {
	const char *state;   /* NULL = any */
	int64_t since_ms;    /* INT64_MIN = all; else still open or ended since */
	int64_t before_id;   /* 0 = newest */
	int limit;
};
/* Array of incident objects, newest first. NULL on error. */
json_t *store_query_incidents(struct store *st, const struct store_incidents_query *q);
/* The incident object, json_null() when there is none, NULL on error. */
json_t *store_get_incident(struct store *st, int64_t id);

/* ---- reads (collector/store_query.c); answers are new references ---- */

/* Abort any read query of this connection that runs longer than ms (0 = no
 * limit): the reader runs on the loop thread and must not stall it. Such a
 * query then fails like any other (NULL / negative). */
void store_set_query_budget(struct store *st, int ms);

struct store_results_query {
	const char *agent;   /* NULL = any */
	const char *service; /* NULL = any */
	int64_t from_ms;     /* INT64_MIN = open */
	int64_t to_ms;       /* INT64_MAX = open */
	uint64_t after_seq;  /* exclusive; 0 = from the start */
	int limit;
};
/* Array of result records (with "agent"): for one agent in ascending seq;
 * without an agent, by agent then seq (the order of the (agent, seq) index,
 * so the walk stops at the limit). NULL on error. */
json_t *store_query_results(struct store *st, const struct store_results_query *q);

/* Results stored by any collector sharing the database, for the leader's
 * classification (PostgreSQL; SQLite answers -ENOTSUP: one collector, which
 * sees every result it stores). For each agents[i], those with seq >
 * after[i], at most limit of them, in ascending seq: fn runs once per
 * result, agent after agent (r valid during the call). 0 or negative. */
int store_each_result_after(struct store *st, const char *const *agents, const uint64_t *after,
			    size_t n, int limit, void (*fn)(void *ctx, const struct result *r),
			    void *ctx);

struct store_events_query {
	int64_t since_ms;    /* INT64_MIN = all */
	const char *type;    /* NULL = any */
	const char *service;
	const char *agent;
	int64_t before_id;   /* 0 = newest; else only ids below (paging) */
	int limit;
	int64_t incident_id; /* > 0: only that incident's events, oldest first */
};
/* Array of events, newest first. NULL on error. */
json_t *store_query_events(struct store *st, const struct store_events_query *q);

/* Array of agents known to the database: name, first_seen, last_seen,
 * last_seq, version, status (object). NULL on error. */
json_t *store_query_agents(struct store *st);

/* Array of the latest management-target results: agent, service, address,
 * instance, time, outcome, rcode, rtt_ms. NULL on error. */
json_t *store_query_management(struct store *st);

/* The same rows without building JSON: fn runs once per row; the strings
 * are valid during the call only ("" for NULL; rtt_ms < 0 for none). */
struct store_mgmt_row {
	const char *agent, *service, *address, *instance, *outcome, *rcode, *identity;
	int64_t time_ms;
	double rtt_ms;
};
int store_each_management(struct store *st,
			  void (*fn)(void *ctx, const struct store_mgmt_row *row), void *ctx);

/* Per-minute rollups for charts: array of {minute, agent, service, target,
 * address, count, ok, rtt_min, rtt_avg, rtt_max}. NULL on error. */
json_t *store_query_rollups(struct store *st, const char *agent, const char *service,
			    int64_t from_ms, int64_t to_ms, int limit);

#endif
