/* collector/store_pg.h - the PostgreSQL backend of collector/store.h. The
 * public store functions hand off here when the store was opened from a
 * postgresql:// URL; struct store_pg is opaque outside collector/store_pg*.c,
 * the only files that include libpq-fe.h. */
#ifndef ANYCAST_STORE_PG_H
#define ANYCAST_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"

struct store_pg;

/* 1 when s names a PostgreSQL database ("postgresql://" or "postgres://"). */
int store_pg_is_url(const char *s);
/* Copy url into out with any password replaced by "***" (for messages). */
void store_pg_redact(const char *url, char *out, size_t outlen);

/* Connect, refuse a server older than PostgreSQL 15, and (unless
 * opt->no_migrate) apply pending migrations in one transaction under an
 * advisory lock; a database at a newer version than this program is refused
 * before anything is written. NULL with a one-line reason in err. */
struct store_pg *store_pg_open(const char *url, const struct store_options *opt, char *err,
			       size_t errlen);
void store_pg_close(struct store_pg *pg);
/* Same database, same options, no migration. */
struct store_pg *store_pg_reopen(struct store_pg *pg, char *err, size_t errlen);

const char *store_pg_errmsg(struct store_pg *pg);
int store_pg_schema_version(struct store_pg *pg);
int store_pg_schema_latest(void);

int store_pg_begin(struct store_pg *pg);
int store_pg_commit(struct store_pg *pg);
int store_pg_rollback(struct store_pg *pg);
int store_pg_savepoint(struct store_pg *pg);
int store_pg_savepoint_release(struct store_pg *pg);
int store_pg_savepoint_rollback(struct store_pg *pg);
/* A committed one-row write to the health table: 0 when the database takes
 * writes now; reconnects (with backoff) when the connection was lost. */
int store_pg_check_writable(struct store_pg *pg, int probe_bytes);

/* Writes (collector/store_pg_write.c): as their store.h counterparts. */
int store_pg_sync_inventory(struct store_pg *pg, const struct inventory *inv);
int store_pg_insert_results(struct store_pg *pg, const char *agent, const struct result *r, size_t n,
			    const char *status_json, int64_t now_ms, unsigned char *stored,
			    struct store_ingest_out *out);
int store_pg_insert_event(struct store_pg *pg, const struct event *ev);
int store_pg_insert_guard_actions(struct store_pg *pg, const char *agent,
				  const struct guard_action *g, size_t n, int64_t now_ms,
				  unsigned char *stored, uint64_t *last_seq);
int store_pg_each_guard_latest(struct store_pg *pg,
			       void (*fn)(void *ctx, const char *agent, const struct guard_action *g),
			       void *ctx);
int64_t store_pg_max_id(struct store_pg *pg, const char *table);
int store_pg_save_catchments(struct store_pg *pg, const struct catchment_row *rows, size_t n);
int store_pg_load_catchments(struct store_pg *pg, struct catchment_row **rows, size_t *n);
int store_pg_insert_delivery(struct store_pg *pg, int64_t time_ms, const char *route,
			     const struct event *ev, int attempt, int ok, const char *error);
/* Raw results: drops every daily partition wholly older than raw_before_ms
 * (*deleted counts partitions for them); the rest in chunks of rows. */
int store_pg_retention(struct store_pg *pg, int64_t raw_before_ms, int64_t rollup_before_ms,
		       int64_t events_before_ms, int chunk, size_t *deleted);
int store_pg_save_incident(struct store_pg *pg, const struct store_incident *in);

/* Reads (collector/store_pg_read.c). */
void store_pg_set_query_budget(struct store_pg *pg, int ms);
json_t *store_pg_query_results(struct store_pg *pg, const struct store_results_query *q);
int store_pg_each_result_after(struct store_pg *pg, const char *const *agents, const uint64_t *after,
			       size_t n, int limit, void (*fn)(void *ctx, const struct result *r),
			       void *ctx);
json_t *store_pg_query_events(struct store_pg *pg, const struct store_events_query *q);
json_t *store_pg_query_agents(struct store_pg *pg);
json_t *store_pg_query_management(struct store_pg *pg);
int store_pg_each_management(struct store_pg *pg,
			     void (*fn)(void *ctx, const struct store_mgmt_row *row), void *ctx);
json_t *store_pg_query_rollups(struct store_pg *pg, const char *agent, const char *service,
			       int64_t from_ms, int64_t to_ms, int limit);
int store_pg_each_open_incident(struct store_pg *pg,
				void (*fn)(void *ctx, const char *doc, const char *priv), void *ctx);
json_t *store_pg_query_incidents(struct store_pg *pg, const struct store_incidents_query *q);
json_t *store_pg_get_incident(struct store_pg *pg, int64_t id);

#endif
