/* collector/store_query.c - read queries behind the JSON API: raw results,
 * events, agents, latest management state and rollups. Every query walks an
 * index and stops at its limit, so it may run on the loop thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/store.h"
#include "collector/store_int.h"
#include "collector/store_pg.h"

#define SQL_MAX 1024
#define BUDGET_OPS 20000 /* VM steps between clock reads */

static int
over_budget(void *arg)
{
	struct store *st = arg;

	return st->deadline_ns != 0 && time_mono_ns() > st->deadline_ns;
}

void
store_set_query_budget(struct store *st, int ms)
{
	if (st->pg != NULL) {
		store_pg_set_query_budget(st->pg, ms);
		return;
	}
	st->budget_ms = ms;
	sqlite3_progress_handler(st->db, ms > 0 ? BUDGET_OPS : 0, ms > 0 ? over_budget : NULL, st);
}

void
store_budget_start(struct store *st)
{
	st->deadline_ns = st->budget_ms > 0 ? time_mono_ns() + (int64_t)st->budget_ms * 1000000 : 0;
}

void
store_budget_end(struct store *st)
{
	if (st->deadline_ns != 0 && time_mono_ns() > st->deadline_ns)
		log_warnx("store: a read query ran out of its %d ms budget", st->budget_ms);
	st->deadline_ns = 0;
}

static const char *
col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	return v ? (const char *)v : "";
}

static json_t *
json_text_or_null(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	return json_string(col_text(s, col));
}

static json_t *
json_time_or_null(sqlite3_stmt *s, int col)
{
	char buf[40];

	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	return json_string(time_format_rfc3339(sqlite3_column_int64(s, col), buf, sizeof(buf)));
}

static json_t *
json_real_or_null(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	return json_real(sqlite3_column_double(s, col));
}

/* Prepare a read query and start its time budget (ended by finish()). */
sqlite3_stmt *
store_prepare_read(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	store_budget_start(st);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_warnx("store: query: %s", sqlite3_errmsg(st->db));
		st->deadline_ns = 0;
		return NULL;
	}
	return s;
}

static void
finish(struct store *st, sqlite3_stmt *s)
{
	sqlite3_finalize(s);
	store_budget_end(st);
}

/* Rebuild the record as ingested and encode it with the shared codec, so
 * exports look exactly like agent output (plus "agent"). */
/* Step s to the end, one JSON object per row from row(); finishes s.
 * Returns the array (caller owns), or NULL when a step failed. */
static json_t *
collect_rows(struct store *st, sqlite3_stmt *s, json_t *(*row)(sqlite3_stmt *))
{
	json_t *arr = json_array();
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, row(s));
	finish(st, s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static json_t *
result_row(sqlite3_stmt *s)
{
	struct result r;
	enum result_outcome o = RESULT_OK;

	memset(&r, 0, sizeof(r));
	snprintf(r.agent, sizeof(r.agent), "%s", col_text(s, 0));
	r.seq = (uint64_t)sqlite3_column_int64(s, 1);
	r.round = (uint64_t)sqlite3_column_int64(s, 2);
	r.time_ms = sqlite3_column_int64(s, 3);
	snprintf(r.service, sizeof(r.service), "%s", col_text(s, 4));
	snprintf(r.address, sizeof(r.address), "%s", col_text(s, 5));
	r.family = sqlite3_column_int(s, 6);
	r.target = sqlite3_column_int(s, 7) ? RESULT_TARGET_MANAGEMENT : RESULT_TARGET_ANYCAST;
	snprintf(r.instance, sizeof(r.instance), "%s", col_text(s, 8));
	snprintf(r.identity, sizeof(r.identity), "%s", col_text(s, 9));
	snprintf(r.identity_source, sizeof(r.identity_source), "%s", col_text(s, 10));
	snprintf(r.query, sizeof(r.query), "%s", col_text(s, 11));
	snprintf(r.transport, sizeof(r.transport), "%s", col_text(s, 12));
	result_outcome_parse(col_text(s, 13), &o);
	r.outcome = o;
	snprintf(r.rcode, sizeof(r.rcode), "%s", col_text(s, 14));
	r.rtt_ms = sqlite3_column_type(s, 15) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 15);
	if (sqlite3_column_type(s, 16) != SQLITE_NULL) {
		r.has_ntp = 1;
		r.stratum = sqlite3_column_int(s, 16);
		r.leap = sqlite3_column_int(s, 17);
		snprintf(r.refid, sizeof(r.refid), "%s", col_text(s, 18));
		r.reference_time_ms = sqlite3_column_int64(s, 19);
		r.offset_ms = sqlite3_column_double(s, 20);
		r.root_delay_ms = sqlite3_column_double(s, 21);
		r.root_dispersion_ms = sqlite3_column_double(s, 22);
		snprintf(r.kod, sizeof(r.kod), "%s", col_text(s, 23));
	}
	snprintf(r.check, sizeof(r.check), "%s", col_text(s, 24));
	if (r.check[0] && sqlite3_column_type(s, 25) != SQLITE_NULL) {
		r.has_serial = 1;
		r.serial = (uint32_t)sqlite3_column_int64(s, 25);
	}
	snprintf(r.digest, sizeof(r.digest), "%s", col_text(s, 26));
	snprintf(r.rrs, sizeof(r.rrs), "%s", col_text(s, 27));
	snprintf(r.reason, sizeof(r.reason), "%s", col_text(s, 28));
	return result_to_json(&r);
}

json_t *
store_query_results(struct store *st, const struct store_results_query *q)
{
	char sql[SQL_MAX];
	sqlite3_stmt *s;

	if (st->pg != NULL)
		return store_pg_query_results(st->pg, q);
	/* With an agent and a start time, (agent_id, time_ms) finds the rows
	 * and the few are sorted; otherwise (agent_id, seq) gives the order and
	 * the walk stops at the limit. */
	snprintf(sql, sizeof(sql),
		 "SELECT a.name, r.seq, r.round, r.time_ms, s.name, r.address, r.family, r.target,"
		 " r.instance, r.identity, r.identity_source, r.query, r.transport, r.outcome,"
		 " r.rcode, r.rtt_ms, r.stratum, r.leap, r.refid, r.reference_time_ms, r.offset_ms,"
		 " r.root_delay_ms, r.root_dispersion_ms, r.kod, r.check_name, r.serial, r.digest,"
		 " r.rrs, r.reason"
		 " FROM results r %s JOIN agents a ON a.id = r.agent_id"
		 " JOIN services s ON s.id = r.service_id"
		 " WHERE r.seq > ?1 AND r.time_ms >= ?2 AND r.time_ms <= ?3"
		 "%s%s ORDER BY %s LIMIT ?6",
		 q->agent && q->from_ms != INT64_MIN ? "INDEXED BY results_agent_time" : "",
		 q->agent ? " AND r.agent_id = (SELECT id FROM agents WHERE name = ?4)" : "",
		 q->service ? " AND r.service_id = (SELECT id FROM services WHERE name = ?5)" : "",
		 q->agent ? "r.seq" : "r.agent_id, r.seq");
	if ((s = store_prepare_read(st, sql)) == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)q->after_seq);
	sqlite3_bind_int64(s, 2, q->from_ms);
	sqlite3_bind_int64(s, 3, q->to_ms);
	if (q->agent)
		sqlite3_bind_text(s, 4, q->agent, -1, SQLITE_STATIC);
	if (q->service)
		sqlite3_bind_text(s, 5, q->service, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, q->limit);
	return collect_rows(st, s, result_row);
}

static json_t *
event_row(sqlite3_stmt *s)
{
	json_t *o = json_object(), *detail = NULL;

	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, 0)));
	json_object_set_new(o, "time", json_time_or_null(s, 1));
	json_object_set_new(o, "type", json_string(col_text(s, 2)));
	json_object_set_new(o, "agent", json_text_or_null(s, 3));
	json_object_set_new(o, "service", json_text_or_null(s, 4));
	json_object_set_new(o, "family", sqlite3_column_int(s, 5) ? json_integer(sqlite3_column_int(s, 5))
								  : json_null());
	json_object_set_new(o, "from_instance", json_text_or_null(s, 6));
	json_object_set_new(o, "to_instance", json_text_or_null(s, 7));
	json_object_set_new(o, "incident", sqlite3_column_type(s, 11) == SQLITE_NULL
						   ? json_null()
						   : json_integer(sqlite3_column_int64(s, 11)));
	json_object_set_new(o, "incident_key", json_text_or_null(s, 8));
	json_object_set_new(o, "resolves", json_boolean(sqlite3_column_int(s, 9)));
	if (sqlite3_column_type(s, 10) != SQLITE_NULL)
		detail = json_loads(col_text(s, 10), 0, NULL);
	json_object_set_new(o, "detail", detail ? detail : json_object());
	return o;
}

json_t *
store_query_events(struct store *st, const struct store_events_query *q)
{
	char sql[SQL_MAX];
	sqlite3_stmt *s;

	if (st->pg != NULL)
		return store_pg_query_events(st->pg, q);
	snprintf(sql, sizeof(sql),
		 "SELECT id, time_ms, type, agent, service, family, from_instance, to_instance,"
		 " incident, resolves, detail, incident_id FROM events WHERE time_ms >= ?1"
		 " AND id < ?2%s%s%s%s%s ORDER BY id %s LIMIT ?6",
		 /* the smallest id at or after since (time index) bounds the walk */
		 q->since_ms != INT64_MIN ? " AND id >= coalesce((SELECT min(id) FROM events"
					    " WHERE time_ms >= ?1), 0)" : "",
		 q->type ? " AND type = ?3" : "", q->service ? " AND service = ?4" : "",
		 q->agent ? " AND agent = ?5" : "",
		 q->incident_id > 0 ? " AND incident_id = ?7" : "", q->incident_id > 0 ? "ASC" : "DESC");
	if ((s = store_prepare_read(st, sql)) == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, q->since_ms);
	sqlite3_bind_int64(s, 2, q->before_id > 0 ? q->before_id : INT64_MAX);
	if (q->type)
		sqlite3_bind_text(s, 3, q->type, -1, SQLITE_STATIC);
	if (q->service)
		sqlite3_bind_text(s, 4, q->service, -1, SQLITE_STATIC);
	if (q->agent)
		sqlite3_bind_text(s, 5, q->agent, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, q->limit);
	if (q->incident_id > 0)
		sqlite3_bind_int64(s, 7, q->incident_id);
	return collect_rows(st, s, event_row);
}

json_t *
store_query_agents(struct store *st)
{
	sqlite3_stmt *s;
	json_t *arr;
	int rc;

	if (st->pg != NULL)
		return store_pg_query_agents(st->pg);
	s = store_prepare_read(st, "SELECT name, first_seen_ms, last_seen_ms, last_seq, version, status"
			" FROM agents ORDER BY name");
	if (s == NULL)
		return NULL;
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object(), *status = NULL;

		json_object_set_new(o, "name", json_string(col_text(s, 0)));
		json_object_set_new(o, "first_seen", json_time_or_null(s, 1));
		json_object_set_new(o, "last_seen", json_time_or_null(s, 2));
		json_object_set_new(o, "last_seen_ms", sqlite3_column_type(s, 2) == SQLITE_NULL
							       ? json_null()
							       : json_integer(sqlite3_column_int64(s, 2)));
		json_object_set_new(o, "last_seq", json_integer(sqlite3_column_int64(s, 3)));
		json_object_set_new(o, "version", json_text_or_null(s, 4));
		if (sqlite3_column_type(s, 5) != SQLITE_NULL)
			status = json_loads(col_text(s, 5), 0, NULL);
		json_object_set_new(o, "status", status ? status : json_object());
		json_array_append_new(arr, o);
	}
	finish(st, s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *
store_query_management(struct store *st)
{
	sqlite3_stmt *s;
	json_t *arr;
	int rc;

	if (st->pg != NULL)
		return store_pg_query_management(st->pg);
	s = store_prepare_read(st, "SELECT a.name, s.name, l.address, l.instance, l.time_ms, l.outcome,"
			" l.rcode, l.rtt_ms, l.identity FROM latest l"
			" JOIN agents a ON a.id = l.agent_id JOIN services s ON s.id = l.service_id"
			" WHERE l.target = 1 ORDER BY s.name, l.instance, a.name");
	if (s == NULL)
		return NULL;
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();

		json_object_set_new(o, "agent", json_string(col_text(s, 0)));
		json_object_set_new(o, "service", json_string(col_text(s, 1)));
		json_object_set_new(o, "address", json_string(col_text(s, 2)));
		json_object_set_new(o, "instance", json_text_or_null(s, 3));
		json_object_set_new(o, "time", json_time_or_null(s, 4));
		json_object_set_new(o, "outcome", json_string(col_text(s, 5)));
		json_object_set_new(o, "rcode", json_text_or_null(s, 6));
		json_object_set_new(o, "rtt_ms", json_real_or_null(s, 7));
		json_object_set_new(o, "identity", json_text_or_null(s, 8));
		json_array_append_new(arr, o);
	}
	finish(st, s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

int
store_each_result_after(struct store *st, const char *const *agents, const uint64_t *after,
			size_t n, int limit, void (*fn)(void *ctx, const struct result *r), void *ctx)
{
	if (st->pg != NULL)
		return store_pg_each_result_after(st->pg, agents, after, n, limit, fn, ctx);
	return -ENOTSUP;
}

int
store_each_management(struct store *st, void (*fn)(void *ctx, const struct store_mgmt_row *row),
		      void *ctx)
{
	sqlite3_stmt *s;
	struct store_mgmt_row r;
	int rc;

	if (st->pg != NULL)
		return store_pg_each_management(st->pg, fn, ctx);
	s = store_prepare_read(st, "SELECT a.name, s.name, l.address, l.instance, l.time_ms, l.outcome,"
			" l.rcode, l.rtt_ms, l.identity FROM latest l"
			" JOIN agents a ON a.id = l.agent_id JOIN services s ON s.id = l.service_id"
			" WHERE l.target = 1");
	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.agent = col_text(s, 0);
		r.service = col_text(s, 1);
		r.address = col_text(s, 2);
		r.instance = col_text(s, 3);
		r.time_ms = sqlite3_column_int64(s, 4);
		r.outcome = col_text(s, 5);
		r.rcode = col_text(s, 6);
		r.rtt_ms = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 7);
		r.identity = col_text(s, 8);
		fn(ctx, &r);
	}
	finish(st, s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

json_t *
store_query_rollups(struct store *st, const char *agent, const char *service, int64_t from_ms,
		    int64_t to_ms, int limit)
{
	char sql[SQL_MAX];
	sqlite3_stmt *s;
	json_t *arr;
	int rc;

	if (st->pg != NULL)
		return store_pg_query_rollups(st->pg, agent, service, from_ms, to_ms, limit);
	snprintf(sql, sizeof(sql),
		 "SELECT r.minute_ms, a.name, s.name, r.target, r.address, r.count, r.ok_count,"
		 " r.rtt_n, r.rtt_min, r.rtt_sum, r.rtt_max FROM rollups r"
		 " JOIN agents a ON a.id = r.agent_id JOIN services s ON s.id = r.service_id"
		 " WHERE r.minute_ms >= ?1 AND r.minute_ms <= ?2%s%s"
		 " ORDER BY r.minute_ms, a.name, s.name LIMIT ?5",
		 agent ? " AND a.name = ?3" : "", service ? " AND s.name = ?4" : "");
	if ((s = store_prepare_read(st, sql)) == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, from_ms);
	sqlite3_bind_int64(s, 2, to_ms);
	if (agent)
		sqlite3_bind_text(s, 3, agent, -1, SQLITE_STATIC);
	if (service)
		sqlite3_bind_text(s, 4, service, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, limit);
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();
		int64_t n = sqlite3_column_int64(s, 7);

		json_object_set_new(o, "minute", json_time_or_null(s, 0));
		json_object_set_new(o, "agent", json_string(col_text(s, 1)));
		json_object_set_new(o, "service", json_string(col_text(s, 2)));
		json_object_set_new(o, "target", json_string(sqlite3_column_int(s, 3) ? "management"
										       : "anycast"));
		json_object_set_new(o, "address", json_string(col_text(s, 4)));
		json_object_set_new(o, "count", json_integer(sqlite3_column_int64(s, 5)));
		json_object_set_new(o, "ok", json_integer(sqlite3_column_int64(s, 6)));
		json_object_set_new(o, "rtt_min", json_real_or_null(s, 8));
		json_object_set_new(o, "rtt_avg",
				    n > 0 ? json_real(sqlite3_column_double(s, 9) / (double)n)
					  : json_null());
		json_object_set_new(o, "rtt_max", json_real_or_null(s, 10));
		json_array_append_new(arr, o);
	}
	finish(st, s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}
