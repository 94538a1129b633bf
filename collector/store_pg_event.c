/* collector/store_pg_event.c - PostgreSQL writes other than results:
 * events, guard actions, alert deliveries, catchment snapshots, incidents, and retention
 * (whole daily results partitions dropped, the rest in chunks). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "collector/guard_report.h"
#include "collector/store_pg.h"
#include "collector/store_pg_int.h"

#define I64(b, v) store_pg_i64(b, sizeof(b), v)
#define TXT(v) ((v) != NULL && (v)[0] != '\0' ? (v) : NULL)

static int
run(struct store_pg *pg, const char *sql, int n, const char *const *v, size_t *changed)
{
	int rc;
	PGresult *res = store_pg_params(pg, sql, n, v, &rc);

	if (res != NULL && changed != NULL)
		*changed += strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

int
store_pg_insert_event(struct store_pg *pg, const struct event *ev)
{
	char id[24], t[24], fam[8], res[4];
	const char *v[11] = { I64(id, ev->id), I64(t, ev->time_ms), ev->type, TXT(ev->agent),
			      TXT(ev->service), I64(fam, ev->family), TXT(ev->from_instance),
			      TXT(ev->to_instance), TXT(ev->incident), I64(res, ev->resolves != 0),
			      TXT(ev->detail) };

	return run(pg,
		   "INSERT INTO events (id, time_ms, type, agent, service, family, from_instance,"
		   " to_instance, incident, resolves, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
		   " $9, $10, $11)",
		   11, v, NULL);
}

int64_t
store_pg_max_id(struct store_pg *pg, const char *table)
{
	char sql[96];
	int64_t id = -EIO;
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), 0) FROM %s", table);
	if ((res = store_pg_params(pg, sql, 0, NULL, NULL)) == NULL)
		return -EIO;
	if (PQntuples(res) == 1)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

int
store_pg_insert_delivery(struct store_pg *pg, int64_t time_ms, const char *route,
			 const struct event *ev, int attempt, int ok, const char *error)
{
	char t[24], eid[24], a[16], o[4];
	const char *v[7] = { I64(t, time_ms), route,
			     ev != NULL && ev->id > 0 ? I64(eid, ev->id) : NULL,
			     ev != NULL ? TXT(ev->incident) : NULL, I64(a, attempt), I64(o, ok != 0),
			     TXT(error) };

	return run(pg,
		   "INSERT INTO alert_deliveries (time_ms, route, event_id, incident, attempt, ok,"
		   " error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		   7, v, NULL);
}

int
store_pg_save_catchments(struct store_pg *pg, const struct catchment_row *rows, size_t n)
{
	int rc = run(pg, "DELETE FROM catchments", 0, NULL, NULL);

	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct catchment_row *c = &rows[i];
		char fam[8], since[24], seen[24], rtt[40], sub[4], flap[4], round[24];
		const char *v[13] = { c->agent, c->service, I64(fam, c->family), TXT(c->instance),
				      TXT(c->identity), c->status, I64(since, c->since_ms),
				      I64(seen, c->last_seen_ms), NULL, I64(sub, c->suboptimal),
				      I64(flap, c->flapping), TXT(c->home),
				      I64(round, c->last_round_ms) };

		if (c->rtt_ms >= 0) {
			snprintf(rtt, sizeof(rtt), "%.17g", c->rtt_ms);
			v[8] = rtt;
		}
		rc = run(pg,
			 "INSERT INTO catchments (agent, service, family, instance, identity, status,"
			 " since_ms, last_seen_ms, rtt_ms, suboptimal, flapping, home, last_round_ms)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
			 " ON CONFLICT (agent, service, family) DO UPDATE SET instance = excluded.instance,"
			 " identity = excluded.identity, status = excluded.status,"
			 " since_ms = excluded.since_ms, last_seen_ms = excluded.last_seen_ms,"
			 " rtt_ms = excluded.rtt_ms, suboptimal = excluded.suboptimal,"
			 " flapping = excluded.flapping, home = excluded.home,"
			 " last_round_ms = excluded.last_round_ms",
			 13, v, NULL);
	}
	return rc;
}

static void
copy_val(char *dst, size_t len, PGresult *res, int row, int col)
{
	snprintf(dst, len, "%s", PQgetvalue(res, row, col));
}

int
store_pg_load_catchments(struct store_pg *pg, struct catchment_row **rows, size_t *n)
{
	PGresult *res;
	struct catchment_row *v;
	int rc, nt;

	*rows = NULL;
	*n = 0;
	res = store_pg_params(pg,
			      "SELECT agent, service, family, instance, identity, status, since_ms,"
			      " last_seen_ms, rtt_ms, suboptimal, flapping, home,"
			      " coalesce(last_round_ms, 0) FROM catchments",
			      0, NULL, &rc);
	if (res == NULL)
		return rc;
	if ((nt = PQntuples(res)) == 0) {
		PQclear(res);
		return 0;
	}
	if ((v = calloc((size_t)nt, sizeof(*v))) == NULL) {
		PQclear(res);
		return -ENOMEM;
	}
	for (int i = 0; i < nt; i++) {
		struct catchment_row *c = &v[i];

		copy_val(c->agent, sizeof(c->agent), res, i, 0);
		copy_val(c->service, sizeof(c->service), res, i, 1);
		c->family = atoi(PQgetvalue(res, i, 2));
		copy_val(c->instance, sizeof(c->instance), res, i, 3);
		copy_val(c->identity, sizeof(c->identity), res, i, 4);
		copy_val(c->status, sizeof(c->status), res, i, 5);
		c->since_ms = strtoll(PQgetvalue(res, i, 6), NULL, 10);
		c->last_seen_ms = strtoll(PQgetvalue(res, i, 7), NULL, 10);
		c->rtt_ms = PQgetisnull(res, i, 8) ? -1 : strtod(PQgetvalue(res, i, 8), NULL);
		c->suboptimal = atoi(PQgetvalue(res, i, 9));
		c->flapping = atoi(PQgetvalue(res, i, 10));
		copy_val(c->home, sizeof(c->home), res, i, 11);
		c->last_round_ms = strtoll(PQgetvalue(res, i, 12), NULL, 10);
	}
	PQclear(res);
	*rows = v;
	*n = (size_t)nt;
	return 0;
}

int
store_pg_save_incident(struct store_pg *pg, const struct store_incident *in)
{
	char id[24], s[24], u[24], e[24];
	const char *v[8] = { I64(id, in->id), in->kind, in->state, I64(s, in->started_ms),
			     I64(u, in->updated_ms), in->ended_ms > 0 ? I64(e, in->ended_ms) : NULL,
			     in->doc, TXT(in->priv) };
	int rc;

	rc = run(pg,
		 "INSERT INTO incidents (id, kind, state, started_ms, updated_ms, ended_ms, doc,"
		 " private) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET"
		 " kind = excluded.kind, state = excluded.state, started_ms = excluded.started_ms,"
		 " updated_ms = excluded.updated_ms, ended_ms = excluded.ended_ms,"
		 " doc = excluded.doc, private = excluded.private",
		 8, v, NULL);
	for (size_t i = 0; i < in->n_events && rc == 0; i++) {
		char ev[24];
		const char *w[2] = { id, I64(ev, in->events[i]) };

		rc = run(pg, "UPDATE events SET incident_id = $1 WHERE id = $2", 2, w, NULL);
	}
	return rc;
}

int
store_pg_retention(struct store_pg *pg, int64_t raw_before_ms, int64_t rollup_before_ms,
		   int64_t events_before_ms, int chunk, size_t *deleted)
{
	static const char *const sql[4] = {
		"DELETE FROM rollups WHERE minute_ms < $1 AND minute_ms <="
		" (SELECT min(minute_ms) FROM rollups)",
		"DELETE FROM events WHERE id IN (SELECT id FROM events"
		" WHERE time_ms < $1 ORDER BY time_ms LIMIT $2)",
		"DELETE FROM alert_deliveries WHERE id IN (SELECT id FROM alert_deliveries"
		" WHERE time_ms < $1 ORDER BY id LIMIT $2)",
		"DELETE FROM incidents WHERE id IN (SELECT id FROM incidents"
		" WHERE state = 'resolved' AND ended_ms < $1 ORDER BY id LIMIT $2)",
	};
	char raw[24], roll[24], evb[24], ch[16];
	const char *v0[1] = { I64(raw, raw_before_ms) };
	PGresult *res;
	int rc;

	*deleted = 0;
	/* Raw results: whole days, a partition at a time, never row by row.
	 * A day is dropped once all of it is older than the retention. */
	if ((res = store_pg_params(pg, "SELECT anycast_results_drop_before($1)", 1, v0, &rc)) == NULL)
		return rc;
	*deleted += strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (*deleted > 0)
		pg->part_lo_ms = pg->part_hi_ms = 0; /* re-check on the next batch */
	I64(roll, rollup_before_ms);
	I64(evb, events_before_ms);
	I64(ch, chunk);
	for (int i = 0; i < 4; i++) {
		const char *v[2] = { i == 0 ? roll : evb, ch };

		if ((rc = run(pg, sql[i], i == 0 ? 1 : 2, v, deleted)) != 0)
			return rc;
	}
	return 0;
}

int
store_pg_insert_guard_actions(struct store_pg *pg, const char *agent, const struct guard_action *g,
			      size_t n, int64_t now_ms, unsigned char *stored, uint64_t *last_seq)
{
	char seq[24], t[24], now[24], ap[4];
	const char *a1[1] = { agent };
	PGresult *res;
	int rc;

	for (size_t i = 0; i < n; i++) {
		size_t changed = 0;
		const char *v[11] = { agent, I64(seq, (int64_t)g[i].seq), I64(t, g[i].time_ms),
				      I64(now, now_ms), g[i].service, g[i].instance,
				      g[i].withdraw ? "withdraw" : "restore", I64(ap, g[i].applied != 0),
				      TXT(g[i].method), TXT(g[i].address), TXT(g[i].reason) };

		rc = run(pg,
			 "INSERT INTO guard_actions (agent, seq, time_ms, received_ms, service, instance,"
			 " action, applied, method, address, reason) VALUES ($1, $2, $3, $4, $5, $6, $7,"
			 " $8, $9, $10, $11) ON CONFLICT (agent, seq) DO NOTHING",
			 11, v, &changed);
		if (rc != 0)
			return rc;
		stored[i] = changed > 0;
	}
	res = store_pg_params(pg, "SELECT coalesce(max(seq), 0) FROM guard_actions WHERE agent = $1",
			      1, a1, &rc);
	if (res == NULL)
		return rc;
	*last_seq = PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return 0;
}

int
store_pg_each_guard_latest(struct store_pg *pg,
			   void (*fn)(void *ctx, const char *agent, const struct guard_action *g),
			   void *ctx)
{
	struct guard_action g;
	PGresult *res;
	int rc;

	res = store_pg_params(pg,
			      "SELECT DISTINCT ON (service, instance) agent, seq, time_ms, service,"
			      " instance, action, applied, coalesce(method, ''), coalesce(address, ''),"
			      " coalesce(reason, '') FROM guard_actions"
			      " ORDER BY service, instance, time_ms DESC, seq DESC",
			      0, NULL, &rc);
	if (res == NULL)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		memset(&g, 0, sizeof(g));
		g.seq = strtoull(PQgetvalue(res, i, 1), NULL, 10);
		g.time_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		snprintf(g.service, sizeof(g.service), "%s", PQgetvalue(res, i, 3));
		snprintf(g.instance, sizeof(g.instance), "%s", PQgetvalue(res, i, 4));
		g.withdraw = strcmp(PQgetvalue(res, i, 5), "withdraw") == 0;
		g.applied = atoi(PQgetvalue(res, i, 6));
		snprintf(g.method, sizeof(g.method), "%s", PQgetvalue(res, i, 7));
		snprintf(g.address, sizeof(g.address), "%s", PQgetvalue(res, i, 8));
		snprintf(g.reason, sizeof(g.reason), "%s", PQgetvalue(res, i, 9));
		fn(ctx, PQgetvalue(res, i, 0), &g);
	}
	PQclear(res);
	return 0;
}
