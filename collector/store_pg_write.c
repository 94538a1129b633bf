/* collector/store_pg_write.c - PostgreSQL writes: a result batch in one
 * round trip (the rows travel as arrays and are unnested by one prepared
 * statement that inserts the new results, upserts latest state and
 * per-minute rollups from exactly the rows inserted, and returns their seq),
 * daily partitions created ahead of the batch's times, the agent row, and
 * the inventory mirror. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "collector/store_pg.h"
#include "collector/store_pg_int.h"

#define DAY_MS 86400000LL
#define PART_AHEAD_DAYS 3

/* A growing text buffer for array literals ("{1,2,NULL}"). */
struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void
sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->n + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
sb_put(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void
sb_sep(struct sbuf *b, size_t i)
{
	sb_put(b, i == 0 ? "{" : ",");
}

/* A quoted array element; "" and NULL become NULL. */
static void
sb_text(struct sbuf *b, size_t i, const char *v)
{
	sb_sep(b, i);
	if (v == NULL || v[0] == '\0') {
		sb_put(b, "NULL");
		return;
	}
	sb_put(b, "\"");
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			sb_put(b, "\\");
		sb_putn(b, p, 1);
	}
	sb_put(b, "\"");
}

/* An unquoted array element (a number), or NULL. */
static void
sb_bare(struct sbuf *b, size_t i, const char *v)
{
	sb_sep(b, i);
	sb_put(b, v != NULL ? v : "NULL");
}

static void
sb_i64(struct sbuf *b, size_t i, int64_t v, int is_null)
{
	char n[32];

	snprintf(n, sizeof(n), "%" PRId64, v);
	sb_bare(b, i, is_null ? NULL : n);
}

static void
sb_f64(struct sbuf *b, size_t i, double v, int is_null)
{
	char n[40];

	snprintf(n, sizeof(n), "%.17g", v);
	sb_bare(b, i, is_null ? NULL : n);
}

enum {
	COL_SEQ, COL_ROUND, COL_TIME, COL_SERVICE, COL_ADDRESS, COL_FAMILY, COL_TARGET,
	COL_INSTANCE, COL_IDENTITY, COL_IDSRC, COL_QUERY, COL_TRANSPORT, COL_OUTCOME, COL_RCODE,
	COL_RTT, COL_STRATUM, COL_LEAP, COL_REFID, COL_REFTIME, COL_OFFSET, COL_RDELAY,
	COL_RDISP, COL_KOD, COL_CHECK, COL_SERIAL, COL_DIGEST, COL_RRS, COL_REASON, COL_N
};

/* $1 agent id, $2 the outcome that counts as ok, $3.. the column arrays. */
static const char insert_batch_sql[] =
	"WITH u AS (SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[],"
	" $7::text[], $8::smallint[], $9::smallint[], $10::text[], $11::text[], $12::text[],"
	" $13::text[], $14::text[], $15::text[], $16::text[], $17::float8[], $18::smallint[],"
	" $19::smallint[], $20::text[], $21::bigint[], $22::float8[], $23::float8[],"
	" $24::float8[], $25::text[], $26::text[], $27::bigint[], $28::text[], $29::text[],"
	" $30::text[]) AS u(seq, round, time_ms, service, address, family,"
	" target, instance, identity, identity_source, query, transport, outcome, rcode, rtt_ms,"
	" stratum, leap, refid, reference_time_ms, offset_ms, root_delay_ms, root_dispersion_ms,"
	" kod, check_name, serial, digest, rrs, reason)),"
	" ins AS (INSERT INTO results (agent_id, seq, round, time_ms, service_id, address, family,"
	" target, instance, identity, identity_source, query, transport, outcome, rcode, rtt_ms,"
	" stratum, leap, refid, reference_time_ms, offset_ms, root_delay_ms, root_dispersion_ms,"
	" kod, check_name, serial, digest, rrs, reason) SELECT $1, u.seq, u.round, u.time_ms, s.id,"
	" u.address, u.family, u.target,"
	" u.instance, u.identity, u.identity_source, u.query, u.transport, u.outcome, u.rcode,"
	" u.rtt_ms, u.stratum, u.leap, u.refid, u.reference_time_ms, u.offset_ms,"
	" u.root_delay_ms, u.root_dispersion_ms, u.kod, u.check_name, u.serial, u.digest, u.rrs,"
	" u.reason FROM u JOIN services s ON s.name ="
	" u.service ON CONFLICT DO NOTHING RETURNING seq, time_ms, service_id, target, address,"
	" instance, identity, outcome, rcode, rtt_ms),"
	" lat AS (INSERT INTO latest AS l (agent_id, service_id, target, address, seq, time_ms,"
	" instance, identity, outcome, rcode, rtt_ms) SELECT DISTINCT ON (service_id, target,"
	" address) $1, service_id, target, address, seq, time_ms, instance, identity, outcome,"
	" rcode, rtt_ms FROM ins ORDER BY service_id, target, address, seq DESC"
	" ON CONFLICT (agent_id, service_id, target, address) DO UPDATE SET seq = excluded.seq,"
	" time_ms = excluded.time_ms, instance = excluded.instance, identity = excluded.identity,"
	" outcome = excluded.outcome, rcode = excluded.rcode, rtt_ms = excluded.rtt_ms"
	" WHERE excluded.seq > l.seq),"
	" rol AS (INSERT INTO rollups AS r (minute_ms, agent_id, service_id, target, address,"
	" count, ok_count, rtt_n, rtt_min, rtt_sum, rtt_max) SELECT time_ms - ((time_ms % 60000)"
	" + 60000) % 60000, $1, service_id, target, address, count(*),"
	" count(*) FILTER (WHERE outcome = $2), count(rtt_ms), min(rtt_ms), sum(rtt_ms),"
	" max(rtt_ms) FROM ins GROUP BY 1, 3, 4, 5"
	" ON CONFLICT (minute_ms, agent_id, service_id, target, address) DO UPDATE SET"
	" count = r.count + excluded.count, ok_count = r.ok_count + excluded.ok_count,"
	" rtt_n = r.rtt_n + excluded.rtt_n, rtt_min = least(r.rtt_min, excluded.rtt_min),"
	" rtt_sum = coalesce(r.rtt_sum, 0) + coalesce(excluded.rtt_sum, 0),"
	" rtt_max = greatest(r.rtt_max, excluded.rtt_max))"
	" SELECT seq FROM ins";

static const char agent_update_sql[] =
	"UPDATE agents SET first_seen_ms = coalesce(first_seen_ms, $2), last_seen_ms = $2,"
	" last_seq = greatest(last_seq, $3), version = coalesce($4, version),"
	" status = coalesce($5, status) WHERE id = $1 RETURNING last_seq";

/* Run a statement prepared once per connection (bit id of pg->prepared:
 * a new connection starts with none; preparing first keeps a failed lookup
 * from aborting the open transaction). */
static PGresult *
exec_prepared(struct store_pg *pg, int id, const char *name, const char *sql, int n,
	      const char *const *values)
{
	PGresult *res;

	if (!(pg->prepared & (1u << id))) {
		res = PQprepare(pg->conn, name, sql, n, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return res;
		PQclear(res);
		pg->prepared |= 1u << id;
	}
	return PQexecPrepared(pg->conn, name, n, values, NULL, NULL, 0);
}

enum { PREP_NAME_AGENTS, PREP_NAME_SERVICES, PREP_PARTITIONS, PREP_SERVICES, PREP_BATCH,
       PREP_AGENT_UPDATE };

static int
name_id(struct store_pg *pg, const char *table, const char *name, int64_t *id)
{
	char ins_name[32], ins_sql[160];
	const char *v[1] = { name };
	PGresult *res;
	int rc;

	snprintf(ins_name, sizeof(ins_name), "name_%s", table);
	/* The no-op update makes RETURNING answer for an existing row too. */
	snprintf(ins_sql, sizeof(ins_sql),
		 "INSERT INTO %s (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET"
		 " name = excluded.name RETURNING id",
		 table);
	res = exec_prepared(pg, strcmp(table, "agents") == 0 ? PREP_NAME_AGENTS : PREP_NAME_SERVICES, ins_name, ins_sql, 1, v);
	if ((rc = store_pg_result(pg, res)) == 0 && PQntuples(res) == 1)
		*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else if (rc == 0)
		rc = -EIO;
	PQclear(res);
	return rc;
}

int
store_pg_ensure_partitions(struct store_pg *pg, int64_t lo_ms, int64_t hi_ms)
{
	char a[32], b[16];
	const char *v[2] = { a, b };
	int64_t from = lo_ms - ((lo_ms % DAY_MS) + DAY_MS) % DAY_MS;
	int64_t days = (hi_ms - from) / DAY_MS + 1 + PART_AHEAD_DAYS;
	PGresult *res;
	int rc;

	if (pg->part_hi_ms != 0 && lo_ms >= pg->part_lo_ms && hi_ms < pg->part_hi_ms)
		return 0;
	if (days > 400)
		days = 400; /* a clock far off: the rows outside fail the batch */
	snprintf(a, sizeof(a), "%" PRId64, from);
	snprintf(b, sizeof(b), "%d", (int)days);
	res = exec_prepared(pg, PREP_PARTITIONS, "partitions", "SELECT anycast_results_partitions($1, $2)", 2, v);
	rc = store_pg_result(pg, res);
	PQclear(res);
	if (rc == 0 && (pg->part_hi_ms == 0 || from < pg->part_lo_ms || from + days * DAY_MS > pg->part_hi_ms)) {
		if (pg->part_hi_ms == 0 || from < pg->part_lo_ms)
			pg->part_lo_ms = from;
		if (from + days * DAY_MS > pg->part_hi_ms)
			pg->part_hi_ms = from + days * DAY_MS;
	}
	return rc;
}

static int
insert_batch(struct store_pg *pg, int64_t aid, const struct result *r, size_t n,
	     unsigned char *stored, struct store_ingest_out *out, uint64_t *max_seq)
{
	struct sbuf col[COL_N] = { 0 };
	const char *values[2 + COL_N];
	struct sbuf svc = { 0 };
	char aid_s[32];
	PGresult *res;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct result *x = &r[i];
		int ntp = x->has_ntp;

		sb_i64(&col[COL_SEQ], i, (int64_t)x->seq, 0);
		sb_i64(&col[COL_ROUND], i, (int64_t)x->round, 0);
		sb_i64(&col[COL_TIME], i, x->time_ms, 0);
		sb_text(&col[COL_SERVICE], i, x->service);
		sb_text(&col[COL_ADDRESS], i, x->address);
		sb_i64(&col[COL_FAMILY], i, x->family, 0);
		sb_i64(&col[COL_TARGET], i, (int64_t)x->target, 0);
		sb_text(&col[COL_INSTANCE], i, x->instance);
		sb_text(&col[COL_IDENTITY], i, x->identity);
		sb_text(&col[COL_IDSRC], i, x->identity_source);
		sb_text(&col[COL_QUERY], i, x->query);
		sb_text(&col[COL_TRANSPORT], i, x->transport);
		sb_text(&col[COL_OUTCOME], i, result_outcome_name(x->outcome));
		sb_text(&col[COL_RCODE], i, x->rcode);
		sb_f64(&col[COL_RTT], i, x->rtt_ms, x->rtt_ms < 0);
		sb_i64(&col[COL_STRATUM], i, x->stratum, !ntp);
		sb_i64(&col[COL_LEAP], i, x->leap, !ntp);
		sb_text(&col[COL_REFID], i, ntp ? x->refid : NULL);
		sb_i64(&col[COL_REFTIME], i, x->reference_time_ms, !ntp);
		sb_f64(&col[COL_OFFSET], i, x->offset_ms, !ntp);
		sb_f64(&col[COL_RDELAY], i, x->root_delay_ms, !ntp);
		sb_f64(&col[COL_RDISP], i, x->root_dispersion_ms, !ntp);
		sb_text(&col[COL_KOD], i, ntp ? x->kod : NULL);
		sb_text(&col[COL_CHECK], i, x->check);
		sb_i64(&col[COL_SERIAL], i, (int64_t)x->serial, !(x->check[0] && x->has_serial));
		sb_text(&col[COL_DIGEST], i, x->check[0] ? x->digest : NULL);
		sb_text(&col[COL_RRS], i, x->check[0] ? x->rrs : NULL);
		sb_text(&col[COL_REASON], i, x->reason);
		sb_text(&svc, i, x->service);
		stored[i] = 0;
	}
	for (int c = 0; c < COL_N; c++) {
		sb_put(&col[c], "}");
		if (col[c].oom)
			rc = -ENOMEM;
		values[2 + c] = col[c].p;
	}
	sb_put(&svc, "}");
	if (svc.oom)
		rc = -ENOMEM;
	if (rc == 0) {
		const char *sv[1] = { svc.p };

		res = exec_prepared(pg, PREP_SERVICES, "services", "INSERT INTO services (name) SELECT DISTINCT"
				    " unnest($1::text[]) ON CONFLICT (name) DO NOTHING", 1, sv);
		rc = store_pg_result(pg, res);
		PQclear(res);
	}
	if (rc == 0) {
		snprintf(aid_s, sizeof(aid_s), "%" PRId64, aid);
		values[0] = aid_s;
		values[1] = result_outcome_name(RESULT_OK);
		res = exec_prepared(pg, PREP_BATCH, "insert_batch", insert_batch_sql, 2 + COL_N, values);
		if ((rc = store_pg_result(pg, res)) == 0) {
			/* The rows come back as their seq: mark them by matching. */
			for (int k = 0; k < PQntuples(res); k++) {
				uint64_t seq = strtoull(PQgetvalue(res, k, 0), NULL, 10);

				for (size_t i = 0; i < n; i++) {
					if (r[i].seq == seq && !stored[i]) {
						stored[i] = 1;
						break;
					}
				}
				if (seq > *max_seq)
					*max_seq = seq;
			}
			for (size_t i = 0; i < n; i++) {
				if (stored[i])
					out->stored++;
				else
					out->duplicates++;
			}
		}
		PQclear(res);
	}
	for (int c = 0; c < COL_N; c++)
		free(col[c].p);
	free(svc.p);
	return rc;
}

int
store_pg_insert_results(struct store_pg *pg, const char *agent, const struct result *r, size_t n,
			const char *status_json, int64_t now_ms, unsigned char *stored,
			struct store_ingest_out *out)
{
	char a[32], t[32], s[32];
	const char *v[5] = { a, t, s, NULL, status_json };
	json_t *status = NULL;
	uint64_t max_seq = 0;
	int64_t aid, lo = INT64_MAX, hi = INT64_MIN;
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_pg_connected(pg)) != 0)
		return rc;
	if ((rc = name_id(pg, "agents", agent, &aid)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (r[i].time_ms < lo)
			lo = r[i].time_ms;
		if (r[i].time_ms > hi)
			hi = r[i].time_ms;
	}
	if (n > 0 && ((rc = store_pg_ensure_partitions(pg, lo, hi)) != 0 ||
		      (rc = insert_batch(pg, aid, r, n, stored, out, &max_seq)) != 0))
		return rc;
	if (status_json != NULL) {
		status = json_loads(status_json, 0, NULL);
		v[3] = json_string_value(json_object_get(status, "version"));
	}
	snprintf(a, sizeof(a), "%" PRId64, aid);
	snprintf(t, sizeof(t), "%" PRId64, now_ms);
	snprintf(s, sizeof(s), "%" PRIu64, max_seq);
	res = exec_prepared(pg, PREP_AGENT_UPDATE, "agent_update", agent_update_sql, 5, v);
	if ((rc = store_pg_result(pg, res)) == 0 && PQntuples(res) == 1)
		out->last_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	json_decref(status);
	return rc;
}

static int
exec_params(struct store_pg *pg, const char *sql, int n, const char *const *v)
{
	PGresult *res;
	int rc;

	if ((rc = store_pg_connected(pg)) != 0)
		return rc;
	res = PQexecParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0);
	rc = store_pg_result(pg, res);
	PQclear(res);
	return rc;
}

static int
sync_service(struct store_pg *pg, const struct inv_service *s)
{
	json_t *js = json_object(), *addrs = json_array();
	char *txt;
	int64_t sid;
	char sid_s[32];
	int rc;

	if ((rc = name_id(pg, "services", s->name, &sid)) != 0) {
		json_decref(js);
		json_decref(addrs);
		return rc;
	}
	json_object_set_new(js, "port", json_integer(s->port));
	json_object_set_new(js, "interval_ms", json_integer(s->interval_ms));
	json_object_set_new(js, "timeout_ms", json_integer(s->timeout_ms));
	for (int i = 0; i < s->n_address; i++)
		json_array_append_new(addrs, json_string(s->address[i]));
	json_object_set_new(js, "address", addrs);
	txt = json_dumps(js, JSON_COMPACT);
	json_decref(js);
	snprintf(sid_s, sizeof(sid_s), "%" PRId64, sid);
	{
		const char *v[3] = { sid_s, s->protocol == INV_PROTO_NTP ? "ntp" : "dns", txt };

		rc = exec_params(pg, "UPDATE services SET protocol = $2, config = $3 WHERE id = $1", 3,
				 v);
	}
	free(txt);
	for (int i = 0; i < s->n_instances && rc == 0; i++) {
		const struct inv_instance *in = &s->instances[i];
		json_t *m = json_array();

		for (int k = 0; k < in->n_management; k++)
			json_array_append_new(m, json_string(in->management[k]));
		txt = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		{
			const char *v[4] = { sid_s, in->name, txt,
					     in->identity[0] != '\0' ? in->identity : NULL };

			rc = exec_params(pg,
					 "INSERT INTO instances (service_id, name, management, identity)"
					 " VALUES ($1, $2, $3, $4) ON CONFLICT (service_id, name) DO UPDATE"
					 " SET management = excluded.management,"
					 " identity = excluded.identity",
					 4, v);
		}
		free(txt);
	}
	return rc;
}

int
store_pg_sync_inventory(struct store_pg *pg, const struct inventory *inv)
{
	int64_t aid;
	char aid_s[32];
	int rc;

	for (int i = 0; i < inv->n_services; i++)
		if ((rc = sync_service(pg, &inv->services[i])) != 0)
			return rc;
	for (int i = 0; i < inv->n_agents; i++) {
		if ((rc = name_id(pg, "agents", inv->agents[i].name, &aid)) != 0)
			return rc;
		snprintf(aid_s, sizeof(aid_s), "%" PRId64, aid);
		const char *v[2] = { aid_s, inv->agents[i].token_sha256 };

		if ((rc = exec_params(pg, "UPDATE agents SET token_sha256 = $2 WHERE id = $1", 2, v)) !=
		    0)
			return rc;
	}
	return 0;
}
