/* collector/store_pg_read.c - PostgreSQL read queries behind the JSON API,
 * answering exactly like collector/store_query.c and the incident reads of
 * collector/store_incident.c. Each is one statement bounded by an index:
 * results by (agent_id, seq, time_ms) or (agent_id, time_ms) within the
 * partitions the time range selects (docs/SCALING.md shows the plans). The
 * read budget is the connection's statement_timeout. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/log.h"
#include "common/result.h"
#include "common/timefmt.h"
#include "collector/store_pg.h"
#include "collector/store_pg_int.h"

#define I64(b, v) store_pg_i64(b, sizeof(b), v)

void
store_pg_set_query_budget(struct store_pg *pg, int ms)
{
	char sql[64];

	pg->budget_ms = ms > 0 ? ms : 0;
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d", pg->budget_ms);
	if (store_pg_exec(pg, sql) != 0)
		log_warnx("store: %s", pg->err);
}

static const char *
val(PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col);
}

static json_t *
text_or_null(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(val(r, row, col));
}

static json_t *
time_or_null(PGresult *r, int row, int col)
{
	char buf[40];

	if (PQgetisnull(r, row, col))
		return json_null();
	return json_string(time_format_rfc3339(strtoll(val(r, row, col), NULL, 10), buf, sizeof(buf)));
}

static json_t *
real_or_null(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_real(strtod(val(r, row, col), NULL));
}

static json_t *
query_rows(struct store_pg *pg, const char *sql, int n, const char *const *v,
	   json_t *(*row)(PGresult *, int))
{
	PGresult *res = store_pg_params(pg, sql, n, v, NULL);
	json_t *arr;

	if (res == NULL) {
		log_warnx("store: query: %s", pg->err);
		return NULL;
	}
	arr = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(arr, row(res, i));
	PQclear(res);
	return arr;
}

/* Row i of a results query (the columns of RESULT_COLUMNS) into r. */
static void
row_result(PGresult *s, int i, struct result *out)
{
	struct result r;
	enum result_outcome o = RESULT_OK;

	memset(&r, 0, sizeof(r));
	snprintf(r.agent, sizeof(r.agent), "%s", val(s, i, 0));
	r.seq = strtoull(val(s, i, 1), NULL, 10);
	r.round = strtoull(val(s, i, 2), NULL, 10);
	r.time_ms = strtoll(val(s, i, 3), NULL, 10);
	snprintf(r.service, sizeof(r.service), "%s", val(s, i, 4));
	snprintf(r.address, sizeof(r.address), "%s", val(s, i, 5));
	r.family = atoi(val(s, i, 6));
	r.target = atoi(val(s, i, 7)) ? RESULT_TARGET_MANAGEMENT : RESULT_TARGET_ANYCAST;
	snprintf(r.instance, sizeof(r.instance), "%s", val(s, i, 8));
	snprintf(r.identity, sizeof(r.identity), "%s", val(s, i, 9));
	snprintf(r.identity_source, sizeof(r.identity_source), "%s", val(s, i, 10));
	snprintf(r.query, sizeof(r.query), "%s", val(s, i, 11));
	snprintf(r.transport, sizeof(r.transport), "%s", val(s, i, 12));
	result_outcome_parse(val(s, i, 13), &o);
	r.outcome = o;
	snprintf(r.rcode, sizeof(r.rcode), "%s", val(s, i, 14));
	r.rtt_ms = PQgetisnull(s, i, 15) ? -1 : strtod(val(s, i, 15), NULL);
	if (!PQgetisnull(s, i, 16)) {
		r.has_ntp = 1;
		r.stratum = atoi(val(s, i, 16));
		r.leap = atoi(val(s, i, 17));
		snprintf(r.refid, sizeof(r.refid), "%s", val(s, i, 18));
		r.reference_time_ms = strtoll(val(s, i, 19), NULL, 10);
		r.offset_ms = strtod(val(s, i, 20), NULL);
		r.root_delay_ms = strtod(val(s, i, 21), NULL);
		r.root_dispersion_ms = strtod(val(s, i, 22), NULL);
		snprintf(r.kod, sizeof(r.kod), "%s", val(s, i, 23));
	}
	snprintf(r.check, sizeof(r.check), "%s", val(s, i, 24));
	if (!PQgetisnull(s, i, 25)) {
		r.has_serial = 1;
		r.serial = (uint32_t)strtoul(val(s, i, 25), NULL, 10);
	}
	snprintf(r.digest, sizeof(r.digest), "%s", val(s, i, 26));
	snprintf(r.rrs, sizeof(r.rrs), "%s", val(s, i, 27));
	snprintf(r.reason, sizeof(r.reason), "%s", val(s, i, 28));
	*out = r;
}

static json_t *
result_row(PGresult *s, int i)
{
	struct result r;

	row_result(s, i, &r);
	return result_to_json(&r);
}

#define RESULT_COLUMNS                                                                         \
	"a.name, r.seq, r.round, r.time_ms, s.name, r.address, r.family, r.target,"            \
	" r.instance, r.identity, r.identity_source, r.query, r.transport, r.outcome,"        \
	" r.rcode, r.rtt_ms, r.stratum, r.leap, r.refid, r.reference_time_ms, r.offset_ms,"   \
	" r.root_delay_ms, r.root_dispersion_ms, r.kod, r.check_name, r.serial, r.digest,"   \
	" r.rrs, r.reason"

/* Append s to b as an element of a PostgreSQL array literal. */
static int
array_text(char **b, size_t *len, size_t *cap, const char *s, int quote)
{
	size_t need = *len + 2 * strlen(s) + 4;

	if (need > *cap) {
		size_t ncap = need * 2;
		char *nb = realloc(*b, ncap);

		if (nb == NULL)
			return -ENOMEM;
		*b = nb;
		*cap = ncap;
	}
	if (*len > 1)
		(*b)[(*len)++] = ',';
	if (quote)
		(*b)[(*len)++] = '"';
	for (; *s != '\0'; s++) {
		if (quote && (*s == '"' || *s == '\\'))
			(*b)[(*len)++] = '\\';
		(*b)[(*len)++] = *s;
	}
	if (quote)
		(*b)[(*len)++] = '"';
	(*b)[*len] = '\0';
	return 0;
}

int
store_pg_each_result_after(struct store_pg *pg, const char *const *agents, const uint64_t *after,
			   size_t n, int limit, void (*fn)(void *ctx, const struct result *r),
			   void *ctx)
{
	char *names = NULL, *seqs = NULL, num[24], lim[16];
	size_t nl = 0, nc = 0, sl = 0, sc = 0;
	const char *v[3];
	PGresult *res = NULL;
	int rc = -ENOMEM;

	if (n == 0)
		return 0;
	if (array_text(&names, &nl, &nc, "{", 0) != 0 || array_text(&seqs, &sl, &sc, "{", 0) != 0)
		goto out;
	nl = sl = 1;
	for (size_t i = 0; i < n; i++) {
		if (array_text(&names, &nl, &nc, agents[i], 1) != 0 ||
		    array_text(&seqs, &sl, &sc, I64(num, (int64_t)after[i]), 0) != 0)
			goto out;
	}
	if (array_text(&names, &nl, &nc, "", 0) != 0 || array_text(&seqs, &sl, &sc, "", 0) != 0)
		goto out;
	names[nl - 1] = '}';
	seqs[sl - 1] = '}';
	v[0] = names;
	v[1] = seqs;
	v[2] = I64(lim, limit);
	/* agents.last_seq (written with the results) skips every agent with
	 * nothing new without touching results; for the others, the primary
	 * key walks each day's partition from the cursor and stops at the
	 * limit. */
	res = store_pg_params(pg,
			      "SELECT " RESULT_COLUMNS
			      " FROM unnest($1::text[], $2::bigint[]) AS c(name, after)"
			      " JOIN agents a ON a.name = c.name AND a.last_seq > c.after"
			      " CROSS JOIN LATERAL (SELECT * FROM results x WHERE x.agent_id = a.id"
			      " AND x.seq > c.after ORDER BY x.seq LIMIT $3::int) r"
			      " JOIN services s ON s.id = r.service_id ORDER BY a.name, r.seq",
			      3, v, &rc);
	if (res == NULL)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct result r;

		row_result(res, i, &r);
		fn(ctx, &r);
	}
	rc = 0;
out:
	PQclear(res);
	free(names);
	free(seqs);
	return rc;
}

json_t *
store_pg_query_results(struct store_pg *pg, const struct store_results_query *q)
{
	char sql[1400], after[24], from[24], to[24], lim[16];
	const char *v[6] = { I64(after, (int64_t)q->after_seq), I64(from, q->from_ms),
			     I64(to, q->to_ms), q->agent, q->service, I64(lim, q->limit) };

	/* The time bounds prune partitions; within each, the primary key
	 * (agent_id, seq, time_ms) gives the order and the limit stops the
	 * walk (a merge append across partitions). */
	snprintf(sql, sizeof(sql),
		 "SELECT " RESULT_COLUMNS
		 " FROM results r JOIN agents a ON a.id = r.agent_id"
		 " JOIN services s ON s.id = r.service_id"
		 " WHERE r.seq > $1::bigint AND r.time_ms >= $2::bigint AND r.time_ms <= $3::bigint"
		 " AND ($4::text IS NULL OR r.agent_id = (SELECT id FROM agents WHERE name = $4))"
		 " AND ($5::text IS NULL OR r.service_id = (SELECT id FROM services WHERE name = $5))"
		 " ORDER BY r.agent_id, r.seq LIMIT $6::int");
	return query_rows(pg, sql, 6, v, result_row);
}

static json_t *
event_row(PGresult *s, int i)
{
	json_t *o = json_object(), *detail = NULL;
	int fam = atoi(val(s, i, 5));

	json_object_set_new(o, "id", json_integer(strtoll(val(s, i, 0), NULL, 10)));
	json_object_set_new(o, "time", time_or_null(s, i, 1));
	json_object_set_new(o, "type", json_string(val(s, i, 2)));
	json_object_set_new(o, "agent", text_or_null(s, i, 3));
	json_object_set_new(o, "service", text_or_null(s, i, 4));
	json_object_set_new(o, "family", fam ? json_integer(fam) : json_null());
	json_object_set_new(o, "from_instance", text_or_null(s, i, 6));
	json_object_set_new(o, "to_instance", text_or_null(s, i, 7));
	json_object_set_new(o, "incident", PQgetisnull(s, i, 11)
						   ? json_null()
						   : json_integer(strtoll(val(s, i, 11), NULL, 10)));
	json_object_set_new(o, "incident_key", text_or_null(s, i, 8));
	json_object_set_new(o, "resolves", json_boolean(atoi(val(s, i, 9))));
	if (!PQgetisnull(s, i, 10))
		detail = json_loads(val(s, i, 10), 0, NULL);
	json_object_set_new(o, "detail", detail ? detail : json_object());
	return o;
}

json_t *
store_pg_query_events(struct store_pg *pg, const struct store_events_query *q)
{
	char sql[1024], since[24], before[24], lim[16], inc[24];
	const char *v[7] = { I64(since, q->since_ms),
			     I64(before, q->before_id > 0 ? q->before_id : INT64_MAX), q->type,
			     q->service, q->agent, I64(lim, q->limit), I64(inc, q->incident_id) };

	snprintf(sql, sizeof(sql),
		 "SELECT id, time_ms, type, agent, service, family, from_instance, to_instance,"
		 " incident, resolves, detail, incident_id FROM events WHERE time_ms >= $1::bigint"
		 " AND id < $2::bigint%s AND ($3::text IS NULL OR type = $3)"
		 " AND ($4::text IS NULL OR service = $4) AND ($5::text IS NULL OR agent = $5)"
		 " AND ($7::bigint <= 0 OR incident_id = $7) ORDER BY id %s LIMIT $6::int",
		 q->since_ms != INT64_MIN ? " AND id >= coalesce((SELECT min(id) FROM events"
					    " WHERE time_ms >= $1::bigint), 0)" : "",
		 q->incident_id > 0 ? "ASC" : "DESC");
	return query_rows(pg, sql, 7, v, event_row);
}

static json_t *
agent_row(PGresult *s, int i)
{
	json_t *o = json_object(), *status = NULL;

	json_object_set_new(o, "name", json_string(val(s, i, 0)));
	json_object_set_new(o, "first_seen", time_or_null(s, i, 1));
	json_object_set_new(o, "last_seen", time_or_null(s, i, 2));
	json_object_set_new(o, "last_seen_ms", PQgetisnull(s, i, 2)
						       ? json_null()
						       : json_integer(strtoll(val(s, i, 2), NULL, 10)));
	json_object_set_new(o, "last_seq", json_integer(strtoll(val(s, i, 3), NULL, 10)));
	json_object_set_new(o, "version", text_or_null(s, i, 4));
	if (!PQgetisnull(s, i, 5))
		status = json_loads(val(s, i, 5), 0, NULL);
	json_object_set_new(o, "status", status ? status : json_object());
	return o;
}

json_t *
store_pg_query_agents(struct store_pg *pg)
{
	return query_rows(pg,
			  "SELECT name, first_seen_ms, last_seen_ms, last_seq, version, status"
			  " FROM agents ORDER BY name COLLATE \"C\"",
			  0, NULL, agent_row);
}

static json_t *
mgmt_row(PGresult *s, int i)
{
	json_t *o = json_object();

	json_object_set_new(o, "agent", json_string(val(s, i, 0)));
	json_object_set_new(o, "service", json_string(val(s, i, 1)));
	json_object_set_new(o, "address", json_string(val(s, i, 2)));
	json_object_set_new(o, "instance", text_or_null(s, i, 3));
	json_object_set_new(o, "time", time_or_null(s, i, 4));
	json_object_set_new(o, "outcome", json_string(val(s, i, 5)));
	json_object_set_new(o, "rcode", text_or_null(s, i, 6));
	json_object_set_new(o, "rtt_ms", real_or_null(s, i, 7));
	json_object_set_new(o, "identity", text_or_null(s, i, 8));
	return o;
}

#define MGMT_SQL                                                                                   \
	"SELECT a.name, s.name, l.address, l.instance, l.time_ms, l.outcome, l.rcode, l.rtt_ms,"  \
	" l.identity FROM latest l JOIN agents a ON a.id = l.agent_id"                             \
	" JOIN services s ON s.id = l.service_id WHERE l.target = 1"

json_t *
store_pg_query_management(struct store_pg *pg)
{
	return query_rows(pg,
			  MGMT_SQL " ORDER BY s.name COLLATE \"C\", l.instance COLLATE \"C\""
				   " NULLS FIRST, a.name COLLATE \"C\"",
			  0, NULL, mgmt_row);
}

int
store_pg_each_management(struct store_pg *pg,
			 void (*fn)(void *ctx, const struct store_mgmt_row *row), void *ctx)
{
	PGresult *res;
	struct store_mgmt_row r;
	int rc;

	if ((res = store_pg_params(pg, MGMT_SQL, 0, NULL, &rc)) == NULL)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		r.agent = val(res, i, 0);
		r.service = val(res, i, 1);
		r.address = val(res, i, 2);
		r.instance = val(res, i, 3);
		r.time_ms = strtoll(val(res, i, 4), NULL, 10);
		r.outcome = val(res, i, 5);
		r.rcode = val(res, i, 6);
		r.rtt_ms = PQgetisnull(res, i, 7) ? -1 : strtod(val(res, i, 7), NULL);
		r.identity = val(res, i, 8);
		fn(ctx, &r);
	}
	PQclear(res);
	return 0;
}

static json_t *
rollup_row(PGresult *s, int i)
{
	json_t *o = json_object();
	int64_t n = strtoll(val(s, i, 7), NULL, 10);

	json_object_set_new(o, "minute", time_or_null(s, i, 0));
	json_object_set_new(o, "agent", json_string(val(s, i, 1)));
	json_object_set_new(o, "service", json_string(val(s, i, 2)));
	json_object_set_new(o, "target", json_string(atoi(val(s, i, 3)) ? "management" : "anycast"));
	json_object_set_new(o, "address", json_string(val(s, i, 4)));
	json_object_set_new(o, "count", json_integer(strtoll(val(s, i, 5), NULL, 10)));
	json_object_set_new(o, "ok", json_integer(strtoll(val(s, i, 6), NULL, 10)));
	json_object_set_new(o, "rtt_min", real_or_null(s, i, 8));
	json_object_set_new(o, "rtt_avg",
			    n > 0 ? json_real(strtod(val(s, i, 9), NULL) / (double)n) : json_null());
	json_object_set_new(o, "rtt_max", real_or_null(s, i, 10));
	return o;
}

json_t *
store_pg_query_rollups(struct store_pg *pg, const char *agent, const char *service,
		       int64_t from_ms, int64_t to_ms, int limit)
{
	char from[24], to[24], lim[16];
	const char *v[5] = { I64(from, from_ms), I64(to, to_ms), agent, service, I64(lim, limit) };

	return query_rows(pg,
			  "SELECT r.minute_ms, a.name, s.name, r.target, r.address, r.count,"
			  " r.ok_count, r.rtt_n, r.rtt_min, r.rtt_sum, r.rtt_max FROM rollups r"
			  " JOIN agents a ON a.id = r.agent_id JOIN services s ON s.id = r.service_id"
			  " WHERE r.minute_ms >= $1::bigint AND r.minute_ms <= $2::bigint"
			  " AND ($3::text IS NULL OR a.name = $3) AND ($4::text IS NULL OR s.name = $4)"
			  " ORDER BY r.minute_ms, a.name COLLATE \"C\", s.name COLLATE \"C\""
			  " LIMIT $5::int",
			  5, v, rollup_row);
}

/* ---- incidents ---- */

static json_t *
doc_row(PGresult *s, int i)
{
	json_t *o = json_loads(val(s, i, 0), 0, NULL);

	return o != NULL ? o : json_object();
}

int
store_pg_each_open_incident(struct store_pg *pg,
			    void (*fn)(void *ctx, const char *doc, const char *priv), void *ctx)
{
	PGresult *res;
	int rc;

	res = store_pg_params(pg, "SELECT doc, private FROM incidents WHERE state = 'open'"
				  " ORDER BY id", 0, NULL, &rc);
	if (res == NULL)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		fn(ctx, val(res, i, 0), val(res, i, 1));
	PQclear(res);
	return 0;
}

json_t *
store_pg_query_incidents(struct store_pg *pg, const struct store_incidents_query *q)
{
	char before[24], since[24], lim[16];
	const char *v[4] = { I64(before, q->before_id > 0 ? q->before_id : INT64_MAX), q->state,
			     q->since_ms != INT64_MIN ? I64(since, q->since_ms) : NULL,
			     I64(lim, q->limit) };

	return query_rows(pg,
			  "SELECT doc FROM incidents WHERE id < $1::bigint"
			  " AND ($2::text IS NULL OR state = $2)"
			  " AND ($3::bigint IS NULL OR ended_ms IS NULL OR ended_ms >= $3)"
			  " ORDER BY id DESC LIMIT $4::int",
			  4, v, doc_row);
}

json_t *
store_pg_get_incident(struct store_pg *pg, int64_t id)
{
	char ids[24];
	const char *v[1] = { I64(ids, id) };
	PGresult *res = store_pg_params(pg, "SELECT doc FROM incidents WHERE id = $1", 1, v, NULL);
	json_t *o;

	if (res == NULL)
		return NULL;
	o = PQntuples(res) == 1 ? doc_row(res, 0) : json_null();
	PQclear(res);
	return o;
}
