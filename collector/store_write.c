/* collector/store_write.c - the writes: result batches (with latest state and
 * per-minute rollups), events, catchment snapshots, alert deliveries and
 * retention. Callers wrap them in transactions (collector/store_writer.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/log.h"
#include "collector/store.h"
#include "collector/store_int.h"
#include "collector/store_pg.h"

/* Distinct keys aggregated in memory per batch before touching the tables:
 * a batch of 100 results holds a few dozen (service, target, address). */
#define AGG_MAX 128

struct rollup_agg {
	int64_t minute_ms, service_id;
	int target;
	const char *address;
	int64_t count, ok_count, rtt_n;
	double rtt_min, rtt_sum, rtt_max;
};

struct latest_agg {
	int64_t service_id;
	const struct result *r; /* newest of its key */
};

int
store_step_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
		return store_rc_errno(rc) ? store_rc_errno(rc) : -EIO;
	}
	return 0;
}

static int
insert_one(struct store *st, sqlite3_stmt *s, int64_t aid, int64_t sid, const struct result *r)
{
	sqlite3_bind_int64(s, 1, aid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)r->round);
	sqlite3_bind_int64(s, 4, r->time_ms);
	sqlite3_bind_int64(s, 5, sid);
	sqlite3_bind_text(s, 6, r->address, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, r->family);
	sqlite3_bind_int(s, 8, (int)r->target);
	store_bind_text_or_null(s, 9, r->instance);
	store_bind_text_or_null(s, 10, r->identity);
	store_bind_text_or_null(s, 11, r->identity_source);
	store_bind_text_or_null(s, 12, r->query);
	store_bind_text_or_null(s, 13, r->transport);
	sqlite3_bind_text(s, 14, result_outcome_name(r->outcome), -1, SQLITE_STATIC);
	store_bind_text_or_null(s, 15, r->rcode);
	if (r->rtt_ms >= 0)
		sqlite3_bind_double(s, 16, r->rtt_ms);
	else
		sqlite3_bind_null(s, 16);
	if (r->has_ntp) {
		sqlite3_bind_int(s, 17, r->stratum);
		sqlite3_bind_int(s, 18, r->leap);
		store_bind_text_or_null(s, 19, r->refid);
		sqlite3_bind_int64(s, 20, r->reference_time_ms);
		sqlite3_bind_double(s, 21, r->offset_ms);
		sqlite3_bind_double(s, 22, r->root_delay_ms);
		sqlite3_bind_double(s, 23, r->root_dispersion_ms);
		store_bind_text_or_null(s, 24, r->kod);
	} else {
		for (int i = 17; i <= 24; i++)
			sqlite3_bind_null(s, i);
	}
	store_bind_text_or_null(s, 25, r->check);
	if (r->check[0] && r->has_serial)
		sqlite3_bind_int64(s, 26, (sqlite3_int64)r->serial);
	else
		sqlite3_bind_null(s, 26);
	store_bind_text_or_null(s, 27, r->check[0] ? r->digest : "");
	store_bind_text_or_null(s, 28, r->check[0] ? r->rrs : "");
	store_bind_text_or_null(s, 29, r->reason);
	return store_step_done(st, s);
}

static int
flush_latest(struct store *st, int64_t aid, struct latest_agg *l, size_t n)
{
	sqlite3_stmt *s;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct result *r = l[i].r;

		if ((s = store_stmt(st, STMT_UPSERT_LATEST)) == NULL)
			return -EIO;
		sqlite3_bind_int64(s, 1, aid);
		sqlite3_bind_int64(s, 2, l[i].service_id);
		sqlite3_bind_int(s, 3, (int)r->target);
		sqlite3_bind_text(s, 4, r->address, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)r->seq);
		sqlite3_bind_int64(s, 6, r->time_ms);
		store_bind_text_or_null(s, 7, r->instance);
		store_bind_text_or_null(s, 8, r->identity);
		sqlite3_bind_text(s, 9, result_outcome_name(r->outcome), -1, SQLITE_STATIC);
		store_bind_text_or_null(s, 10, r->rcode);
		if (r->rtt_ms >= 0)
			sqlite3_bind_double(s, 11, r->rtt_ms);
		if ((rc = store_step_done(st, s)) != 0)
			return rc;
	}
	return 0;
}

static int
flush_rollups(struct store *st, int64_t aid, struct rollup_agg *a, size_t n)
{
	sqlite3_stmt *s;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if ((s = store_stmt(st, STMT_UPSERT_ROLLUP)) == NULL)
			return -EIO;
		sqlite3_bind_int64(s, 1, a[i].minute_ms);
		sqlite3_bind_int64(s, 2, aid);
		sqlite3_bind_int64(s, 3, a[i].service_id);
		sqlite3_bind_int(s, 4, a[i].target);
		sqlite3_bind_text(s, 5, a[i].address, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, a[i].count);
		sqlite3_bind_int64(s, 7, a[i].ok_count);
		sqlite3_bind_int64(s, 8, a[i].rtt_n);
		if (a[i].rtt_n > 0) {
			sqlite3_bind_double(s, 9, a[i].rtt_min);
			sqlite3_bind_double(s, 10, a[i].rtt_sum);
			sqlite3_bind_double(s, 11, a[i].rtt_max);
		}
		if ((rc = store_step_done(st, s)) != 0)
			return rc;
	}
	return 0;
}

static void
agg_rollup(struct rollup_agg *a, size_t *n, int64_t sid, const struct result *r)
{
	int64_t minute = r->time_ms - (((r->time_ms % 60000) + 60000) % 60000);
	struct rollup_agg *x = NULL;

	for (size_t i = 0; i < *n; i++) {
		if (a[i].minute_ms == minute && a[i].service_id == sid &&
		    a[i].target == (int)r->target && strcmp(a[i].address, r->address) == 0) {
			x = &a[i];
			break;
		}
	}
	if (x == NULL) {
		x = &a[(*n)++];
		memset(x, 0, sizeof(*x));
		x->minute_ms = minute;
		x->service_id = sid;
		x->target = (int)r->target;
		x->address = r->address;
	}
	x->count++;
	x->ok_count += r->outcome == RESULT_OK;
	if (r->rtt_ms >= 0) {
		if (x->rtt_n == 0 || r->rtt_ms < x->rtt_min)
			x->rtt_min = r->rtt_ms;
		if (x->rtt_n == 0 || r->rtt_ms > x->rtt_max)
			x->rtt_max = r->rtt_ms;
		x->rtt_sum += r->rtt_ms;
		x->rtt_n++;
	}
}

static void
agg_latest(struct latest_agg *l, size_t *n, int64_t sid, const struct result *r)
{
	for (size_t i = 0; i < *n; i++) {
		if (l[i].service_id == sid && l[i].r->target == r->target &&
		    strcmp(l[i].r->address, r->address) == 0) {
			if (r->seq > l[i].r->seq)
				l[i].r = r;
			return;
		}
	}
	l[*n].service_id = sid;
	l[(*n)++].r = r;
}

static int
update_agent(struct store *st, int64_t aid, const char *status_json, int64_t now_ms,
	     uint64_t max_seq, uint64_t *last_seq)
{
	sqlite3_stmt *s;
	json_t *status = NULL;
	const char *version = NULL;
	int rc;

	if (status_json != NULL) {
		status = json_loads(status_json, 0, NULL);
		version = json_string_value(json_object_get(status, "version"));
	}
	if ((s = store_stmt(st, STMT_AGENT_UPDATE)) == NULL) {
		json_decref(status);
		return -EIO;
	}
	sqlite3_bind_int64(s, 1, aid);
	sqlite3_bind_int64(s, 2, now_ms);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)max_seq);
	store_bind_text_or_null(s, 4, version);
	store_bind_text_or_null(s, 5, status_json);
	rc = store_step_done(st, s);
	json_decref(status);
	if (rc != 0)
		return rc;
	if ((s = store_stmt(st, STMT_AGENT_LAST_SEQ)) == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, aid);
	if (sqlite3_step(s) == SQLITE_ROW)
		*last_seq = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int
store_insert_results(struct store *st, const char *agent, const struct result *r, size_t n,
		     const char *status_json, int64_t now_ms, unsigned char *stored,
		     struct store_ingest_out *out)
{
	struct rollup_agg ragg[AGG_MAX];
	struct latest_agg lagg[AGG_MAX];
	size_t nr = 0, nl = 0;
	uint64_t max_seq = 0;
	int64_t aid, sid = 0;
	const char *sname = NULL;
	sqlite3_stmt *s;
	int rc;

	if (st->pg != NULL)
		return store_pg_insert_results(st->pg, agent, r, n, status_json, now_ms, stored,
					       out);
	memset(out, 0, sizeof(*out));
	if ((rc = store_agent_id(st, agent, &aid)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (sname == NULL || strcmp(sname, r[i].service) != 0) {
			if ((rc = store_service_id(st, r[i].service, &sid)) != 0)
				return rc;
			sname = r[i].service;
		}
		if ((s = store_stmt(st, STMT_INSERT_RESULT)) == NULL)
			return -EIO;
		if ((rc = insert_one(st, s, aid, sid, &r[i])) != 0)
			return rc;
		stored[i] = sqlite3_changes(st->db) > 0;
		if (!stored[i]) {
			out->duplicates++;
			continue;
		}
		out->stored++;
		if (r[i].seq > max_seq)
			max_seq = r[i].seq;
		if (nr == AGG_MAX) {
			if ((rc = flush_rollups(st, aid, ragg, nr)) != 0)
				return rc;
			nr = 0;
		}
		agg_rollup(ragg, &nr, sid, &r[i]);
		if (nl == AGG_MAX) {
			if ((rc = flush_latest(st, aid, lagg, nl)) != 0)
				return rc;
			nl = 0;
		}
		agg_latest(lagg, &nl, sid, &r[i]);
	}
	if ((rc = flush_rollups(st, aid, ragg, nr)) != 0 ||
	    (rc = flush_latest(st, aid, lagg, nl)) != 0)
		return rc;
	return update_agent(st, aid, status_json, now_ms, max_seq, &out->last_seq);
}

int
store_insert_event(struct store *st, const struct event *ev)
{
	sqlite3_stmt *s;

	if (st->pg != NULL)
		return store_pg_insert_event(st->pg, ev);
	s = store_stmt(st, STMT_INSERT_EVENT);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, ev->id);
	sqlite3_bind_int64(s, 2, ev->time_ms);
	sqlite3_bind_text(s, 3, ev->type, -1, SQLITE_STATIC);
	store_bind_text_or_null(s, 4, ev->agent);
	store_bind_text_or_null(s, 5, ev->service);
	sqlite3_bind_int(s, 6, ev->family);
	store_bind_text_or_null(s, 7, ev->from_instance);
	store_bind_text_or_null(s, 8, ev->to_instance);
	store_bind_text_or_null(s, 9, ev->incident);
	sqlite3_bind_int(s, 10, ev->resolves != 0);
	store_bind_text_or_null(s, 11, ev->detail);
	return store_step_done(st, s);
}

int64_t
store_max_id(struct store *st, const char *table)
{
	char sql[96];
	sqlite3_stmt *s;
	int64_t id = -EIO;

	snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), 0) FROM %s", table);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

int64_t
store_max_event_id(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_max_id(st->pg, "events");
	return store_max_id(st, "events");
}

int
store_save_catchments(struct store *st, const struct catchment_row *rows, size_t n)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (st->pg != NULL)
		return store_pg_save_catchments(st->pg, rows, n);
	if ((rc = store_exec(st, "DELETE FROM catchments")) != 0)
		return rc;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO catchments (agent, service, family, instance,"
			       " identity, status, since_ms, last_seen_ms, rtt_ms, suboptimal, flapping,"
			       " home, last_round_ms)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct catchment_row *c = &rows[i];

		sqlite3_bind_text(s, 1, c->agent, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, c->service, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, c->family);
		store_bind_text_or_null(s, 4, c->instance);
		store_bind_text_or_null(s, 5, c->identity);
		sqlite3_bind_text(s, 6, c->status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, c->since_ms);
		sqlite3_bind_int64(s, 8, c->last_seen_ms);
		if (c->rtt_ms >= 0)
			sqlite3_bind_double(s, 9, c->rtt_ms);
		else
			sqlite3_bind_null(s, 9);
		sqlite3_bind_int(s, 10, c->suboptimal);
		sqlite3_bind_int(s, 11, c->flapping);
		store_bind_text_or_null(s, 12, c->home);
		sqlite3_bind_int64(s, 13, c->last_round_ms);
		rc = store_step_done(st, s);
	}
	sqlite3_finalize(s);
	return rc;
}

static void
copy_col(char *dst, size_t len, sqlite3_stmt *s, int col)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	snprintf(dst, len, "%s", v ? (const char *)v : "");
}

int
store_load_catchments(struct store *st, struct catchment_row **rows, size_t *n)
{
	sqlite3_stmt *s;
	struct catchment_row *v = NULL;
	size_t cap = 0;
	int rc;

	if (st->pg != NULL)
		return store_pg_load_catchments(st->pg, rows, n);
	*rows = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT agent, service, family, instance, identity, status, since_ms,"
			       " last_seen_ms, rtt_ms, suboptimal, flapping, home, last_round_ms"
			       " FROM catchments",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct catchment_row *nv = realloc(v, ncap * sizeof(*nv));

			if (nv == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		struct catchment_row *c = &v[(*n)++];

		memset(c, 0, sizeof(*c));
		copy_col(c->agent, sizeof(c->agent), s, 0);
		copy_col(c->service, sizeof(c->service), s, 1);
		c->family = sqlite3_column_int(s, 2);
		copy_col(c->instance, sizeof(c->instance), s, 3);
		copy_col(c->identity, sizeof(c->identity), s, 4);
		copy_col(c->status, sizeof(c->status), s, 5);
		c->since_ms = sqlite3_column_int64(s, 6);
		c->last_seen_ms = sqlite3_column_int64(s, 7);
		c->rtt_ms = sqlite3_column_type(s, 8) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 8);
		c->suboptimal = sqlite3_column_int(s, 9);
		c->flapping = sqlite3_column_int(s, 10);
		copy_col(c->home, sizeof(c->home), s, 11);
		c->last_round_ms = sqlite3_column_int64(s, 12);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		*n = 0;
		return store_rc_errno(rc) ? store_rc_errno(rc) : -EIO;
	}
	*rows = v;
	return 0;
}

int
store_insert_delivery(struct store *st, int64_t time_ms, const char *route,
		      const struct event *ev, int attempt, int ok, const char *error)
{
	sqlite3_stmt *s;

	if (st->pg != NULL)
		return store_pg_insert_delivery(st->pg, time_ms, route, ev, attempt, ok, error);
	s = store_stmt(st, STMT_INSERT_DELIVERY);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, time_ms);
	sqlite3_bind_text(s, 2, route, -1, SQLITE_STATIC);
	if (ev != NULL && ev->id > 0)
		sqlite3_bind_int64(s, 3, ev->id);
	store_bind_text_or_null(s, 4, ev ? ev->incident : NULL);
	sqlite3_bind_int(s, 5, attempt);
	sqlite3_bind_int(s, 6, ok != 0);
	store_bind_text_or_null(s, 7, error);
	return store_step_done(st, s);
}

int
store_retention(struct store *st, int64_t raw_before_ms, int64_t rollup_before_ms,
		int64_t events_before_ms, int chunk, size_t *deleted)
{
	sqlite3_stmt *agents = NULL, *del = NULL, *roll = NULL;
	int rc = -EIO;

	if (st->pg != NULL)
		return store_pg_retention(st->pg, raw_before_ms, rollup_before_ms, events_before_ms,
					  chunk, deleted);
	*deleted = 0;
	/* Per agent, so each chunk walks the (agent_id, time_ms) index. */
	if (sqlite3_prepare_v2(st->db, "SELECT id FROM agents", -1, &agents, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "DELETE FROM results WHERE id IN (SELECT id FROM results"
			       " WHERE agent_id = ?1 AND time_ms < ?2 LIMIT ?3)",
			       -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "DELETE FROM rollups WHERE (minute_ms, agent_id, service_id, target,"
			       " address) IN (SELECT minute_ms, agent_id, service_id, target, address"
			       " FROM rollups WHERE minute_ms < ?1 ORDER BY minute_ms LIMIT ?2)",
			       -1, &roll, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(agents) == SQLITE_ROW && (int)*deleted < chunk) {
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, sqlite3_column_int64(agents, 0));
		sqlite3_bind_int64(del, 2, raw_before_ms);
		sqlite3_bind_int(del, 3, chunk - (int)*deleted);
		if (sqlite3_step(del) != SQLITE_DONE)
			goto out;
		*deleted += (size_t)sqlite3_changes(st->db);
	}
	sqlite3_bind_int64(roll, 1, rollup_before_ms);
	sqlite3_bind_int(roll, 2, chunk);
	if (sqlite3_step(roll) != SQLITE_DONE)
		goto out;
	*deleted += (size_t)sqlite3_changes(st->db);
	/* Events, resolved incidents and the alert log: retention.events, a
	 * chunk at a time (open incidents stay, however old). */
	for (int i = 0; i < 3; i++) {
		static const char *const sql[3] = {
			"DELETE FROM events WHERE id IN (SELECT id FROM events"
			" WHERE time_ms < ?1 ORDER BY time_ms LIMIT ?2)",
			"DELETE FROM alert_deliveries WHERE id IN (SELECT id FROM alert_deliveries"
			" WHERE time_ms < ?1 ORDER BY id LIMIT ?2)",
			"DELETE FROM incidents WHERE id IN (SELECT id FROM incidents"
			" WHERE state = 'resolved' AND ended_ms < ?1 ORDER BY id LIMIT ?2)",
		};
		sqlite3_stmt *s = NULL;

		if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK)
			goto out;
		sqlite3_bind_int64(s, 1, events_before_ms);
		sqlite3_bind_int(s, 2, chunk);
		if (sqlite3_step(s) != SQLITE_DONE) {
			sqlite3_finalize(s);
			goto out;
		}
		*deleted += (size_t)sqlite3_changes(st->db);
		sqlite3_finalize(s);
	}
	rc = 0;
out:
	if (rc != 0)
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
	sqlite3_finalize(agents);
	sqlite3_finalize(del);
	sqlite3_finalize(roll);
	return rc;
}
