/* collector/store_incident.c - incidents in the store: save (insert or
 * replace, and mark their events), the open ones for a restart, and the
 * reads behind GET /api/v1/incidents. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_int.h"
#include "collector/store_pg.h"
#include "common/log.h"

int
store_save_incident(struct store *st, const struct store_incident *in)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (st->pg != NULL)
		return store_pg_save_incident(st->pg, in);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO incidents (id, kind, state, started_ms,"
			       " updated_ms, ended_ms, doc, private) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(s, 1, in->id);
	sqlite3_bind_text(s, 2, in->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, in->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, in->started_ms);
	sqlite3_bind_int64(s, 5, in->updated_ms);
	if (in->ended_ms > 0)
		sqlite3_bind_int64(s, 6, in->ended_ms);
	else
		sqlite3_bind_null(s, 6);
	sqlite3_bind_text(s, 7, in->doc, -1, SQLITE_STATIC);
	store_bind_text_or_null(s, 8, in->priv != NULL ? in->priv : "");
	rc = store_step_done(st, s);
	sqlite3_finalize(s);
	if (rc != 0 || in->n_events == 0)
		return rc;
	if (sqlite3_prepare_v2(st->db, "UPDATE events SET incident_id = ?1 WHERE id = ?2", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	for (size_t i = 0; i < in->n_events && rc == 0; i++) {
		sqlite3_bind_int64(s, 1, in->id);
		sqlite3_bind_int64(s, 2, in->events[i]);
		rc = store_step_done(st, s);
	}
	sqlite3_finalize(s);
	return rc;
}

int64_t
store_max_incident_id(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_max_id(st->pg, "incidents");
	return store_max_id(st, "incidents");
}

int
store_each_open_incident(struct store *st, void (*fn)(void *ctx, const char *doc, const char *priv),
			 void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	if (st->pg != NULL)
		return store_pg_each_open_incident(st->pg, fn, ctx);
	if (sqlite3_prepare_v2(st->db,
			       "SELECT doc, private FROM incidents WHERE state = 'open' ORDER BY id",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *doc = sqlite3_column_text(s, 0), *p = sqlite3_column_text(s, 1);

		fn(ctx, doc ? (const char *)doc : "", p ? (const char *)p : "");
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static json_t *
doc_of(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	json_t *o = t != NULL ? json_loads((const char *)t, 0, NULL) : NULL;

	return o != NULL ? o : json_object();
}

json_t *
store_query_incidents(struct store *st, const struct store_incidents_query *q)
{
	char sql[512];
	sqlite3_stmt *s;
	json_t *arr;
	int rc;

	if (st->pg != NULL)
		return store_pg_query_incidents(st->pg, q);
	snprintf(sql, sizeof(sql),
		 "SELECT doc FROM incidents WHERE id < ?1%s%s ORDER BY id DESC LIMIT ?4",
		 q->state != NULL ? " AND state = ?2" : "",
		 q->since_ms != INT64_MIN ? " AND (ended_ms IS NULL OR ended_ms >= ?3)" : "");
	if ((s = store_prepare_read(st, sql)) == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, q->before_id > 0 ? q->before_id : INT64_MAX);
	if (q->state != NULL)
		sqlite3_bind_text(s, 2, q->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, q->since_ms);
	sqlite3_bind_int(s, 4, q->limit);
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, doc_of(s, 0));
	sqlite3_finalize(s);
	store_budget_end(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *
store_get_incident(struct store *st, int64_t id)
{
	sqlite3_stmt *s;
	json_t *o = NULL;
	int rc;

	if (st->pg != NULL)
		return store_pg_get_incident(st->pg, id);
	if ((s = store_prepare_read(st, "SELECT doc FROM incidents WHERE id = ?1")) == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		o = doc_of(s, 0);
	sqlite3_finalize(s);
	store_budget_end(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return NULL;
	return o != NULL ? o : json_null();
}
