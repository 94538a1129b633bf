/* collector/api_read.c - the dashboard side of the API: catchments (from
 * memory), events, results, rollups, agents and instances (from the read
 * connection), the event stream, metrics and health. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/api_int.h"
#include "common/inventory_check.h"

static json_t *
str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *
time_json(int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return json_null();
	return json_string(time_format_rfc3339(ms, buf, sizeof(buf)));
}

json_t *
api_catchment_json(struct collector *c, const struct catchment_row *r, int64_t now)
{
	json_t *o = json_object();
	int silent = collector_agent_row_silent(c, r->agent, r->last_round_ms, now);

	json_object_set_new(o, "agent", json_string(r->agent));
	json_object_set_new(o, "service", json_string(r->service));
	json_object_set_new(o, "family", json_integer(r->family));
	json_object_set_new(o, "instance", str_or_null(r->instance));
	json_object_set_new(o, "identity", str_or_null(r->identity));
	json_object_set_new(o, "status", json_string(r->status));
	json_object_set_new(o, "since", time_json(r->since_ms));
	json_object_set_new(o, "last_seen", time_json(r->last_seen_ms));
	json_object_set_new(o, "rtt_ms", r->rtt_ms >= 0 ? json_real(r->rtt_ms) : json_null());
	json_object_set_new(o, "suboptimal", json_boolean(r->suboptimal));
	json_object_set_new(o, "flapping", json_boolean(r->flapping));
	json_object_set_new(o, "home", str_or_null(r->home));
	json_object_set_new(o, "away", json_boolean(r->away));
	json_object_set_new(o, "agent_state", json_string(silent ? "silent" : "reporting"));
	json_object_set_new(o, "last_report",
			    r->last_round_ms > 0 ? time_json(r->last_round_ms) : json_null());
	if (r->n_split > 0) {
		json_t *sp = json_array();

		for (int i = 0; i < r->n_split; i++)
			json_array_append_new(sp, json_pack("{s:s,s:f}", "instance",
							    r->split[i].instance, "share",
							    r->split[i].share));
		json_object_set_new(o, "split_instances", sp);
	}
	return o;
}

json_t *
api_event_json(const struct event *ev)
{
	json_t *o = json_object(), *detail = NULL;

	json_object_set_new(o, "id", json_integer(ev->id));
	json_object_set_new(o, "time", time_json(ev->time_ms));
	json_object_set_new(o, "type", json_string(ev->type));
	json_object_set_new(o, "agent", str_or_null(ev->agent));
	json_object_set_new(o, "service", str_or_null(ev->service));
	json_object_set_new(o, "family", ev->family ? json_integer(ev->family) : json_null());
	json_object_set_new(o, "from_instance", str_or_null(ev->from_instance));
	json_object_set_new(o, "to_instance", str_or_null(ev->to_instance));
	json_object_set_new(o, "incident", ev->incident_id > 0 ? json_integer(ev->incident_id)
							      : json_null());
	json_object_set_new(o, "incident_key", str_or_null(ev->incident));
	json_object_set_new(o, "resolves", json_boolean(ev->resolves));
	if (ev->detail[0])
		detail = json_loads(ev->detail, 0, NULL);
	json_object_set_new(o, "detail", detail ? detail : json_object());
	return o;
}

int
api_param(struct collector *c, struct http_exchange *ex, const struct http_request *req,
      const char *name, char *out, size_t outlen, const char **val)
{
	int r = api_query_get(req->query, name, out, outlen);

	*val = NULL;
	if (r < 0) {
		api_error(c, ex, 400, "%s: malformed or too long", name);
		return -1;
	}
	if (r == 1 && out[0] != '\0')
		*val = out;
	return 0;
}

int
api_param_int(struct collector *c, struct http_exchange *ex, const struct http_request *req,
	  const char *name, int64_t min, int64_t max, int64_t *v)
{
	char buf[32], *end;
	const char *s;
	long long x;

	if (api_param(c, ex, req, name, buf, sizeof(buf), &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max) {
		api_error(c, ex, 400, "%s: must be an integer from %" PRId64 " to %" PRId64, name,
			  min, max);
		return -1;
	}
	*v = x;
	return 0;
}

int
api_param_time(struct collector *c, struct http_exchange *ex, const struct http_request *req,
	   const char *name, int64_t *ms)
{
	char buf[64];
	const char *s;

	if (api_param(c, ex, req, name, buf, sizeof(buf), &s) != 0)
		return -1;
	if (s != NULL && time_parse_rfc3339(s, ms) != 0) {
		api_error(c, ex, 400, "%s: not an RFC 3339 time", name);
		return -1;
	}
	return 0;
}

int
api_param_limit(struct collector *c, struct http_exchange *ex, const struct http_request *req,
	    int *limit)
{
	int64_t v = API_LIMIT_DEFAULT;

	if (api_param_int(c, ex, req, "limit", 1, API_LIMIT_MAX, &v) != 0)
		return -1;
	*limit = (int)v;
	return 0;
}

static void
answer_list(struct collector *c, struct http_exchange *ex, const char *key, json_t *arr)
{
	if (arr == NULL) {
		api_error(c, ex, 503, "database query failed or took too long");
		return;
	}
	api_json(c, ex, 200, json_pack("{s:o}", key, arr), NULL);
}

/* A list with "next": the before_id cursor of the next page when this one
 * is full (lists newest first by integer id). */
static void
answer_list_next(struct collector *c, struct http_exchange *ex, const char *key, json_t *arr,
		 int limit)
{
	json_t *body;
	size_t n;

	if (arr == NULL) {
		api_error(c, ex, 503, "database query failed or took too long");
		return;
	}
	n = json_array_size(arr);
	body = json_pack("{s:o}", key, arr);
	if (n > 0 && n == (size_t)limit) {
		char next[64];

		snprintf(next, sizeof(next), "before_id=%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(json_array_get(arr, n - 1), "id")));
		json_object_set_new(body, "next", json_string(next));
	}
	api_json(c, ex, 200, body, NULL);
}

void
api_get_catchments(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char abuf[RESULT_NAME_MAX * 3], sbuf[RESULT_NAME_MAX * 3];
	const char *agent, *service;
	const struct catchment_row *rows = NULL;
	int64_t offset = 0, now;
	size_t n, total = 0;
	int limit;
	json_t *arr;

	if (api_param(c, ex, req, "agent", abuf, sizeof(abuf), &agent) != 0 ||
	    api_param(c, ex, req, "service", sbuf, sizeof(sbuf), &service) != 0 ||
	    api_param_limit(c, ex, req, &limit) != 0 ||
	    api_param_int(c, ex, req, "offset", 0, INT32_MAX, &offset) != 0)
		return;
	n = collector_catchments(c, &rows);
	now = time_now_ms();
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if ((agent && strcmp(agent, rows[i].agent) != 0) ||
		    (service && strcmp(service, rows[i].service) != 0))
			continue;
		if (total++ < (size_t)offset || json_array_size(arr) >= (size_t)limit)
			continue;
		json_array_append_new(arr, api_catchment_json(c, &rows[i], now));
	}
	api_json(c, ex, 200, json_pack("{s:o,s:I}", "catchments", arr, "total", (json_int_t)total),
		 NULL);
}

void
api_get_events(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char tbuf[64], sbuf[RESULT_NAME_MAX * 3], abuf[RESULT_NAME_MAX * 3];
	struct store_events_query q = { .since_ms = INT64_MIN };

	if (api_param_time(c, ex, req, "since", &q.since_ms) != 0 ||
	    api_param(c, ex, req, "type", tbuf, sizeof(tbuf), &q.type) != 0 ||
	    api_param(c, ex, req, "service", sbuf, sizeof(sbuf), &q.service) != 0 ||
	    api_param(c, ex, req, "agent", abuf, sizeof(abuf), &q.agent) != 0 ||
	    api_param_int(c, ex, req, "before_id", 0, INT64_MAX, &q.before_id) != 0 ||
	    api_param_limit(c, ex, req, &q.limit) != 0)
		return;
	if (q.type != NULL && inventory_check_event(q.type) != NULL &&
	    strcmp(q.type, "recovery") != 0) {
		api_error(c, ex, 400, "type: unknown event type \"%s\"", q.type);
		return;
	}
	answer_list_next(c, ex, "events", store_query_events(c->reader, &q), q.limit);
}

void
api_get_results(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char sbuf[RESULT_NAME_MAX * 3], abuf[RESULT_NAME_MAX * 3];
	struct store_results_query q = { .from_ms = INT64_MIN, .to_ms = INT64_MAX };
	int64_t after = 0;

	if (api_param(c, ex, req, "agent", abuf, sizeof(abuf), &q.agent) != 0 ||
	    api_param(c, ex, req, "service", sbuf, sizeof(sbuf), &q.service) != 0 ||
	    api_param_time(c, ex, req, "from", &q.from_ms) != 0 ||
	    api_param_time(c, ex, req, "to", &q.to_ms) != 0 ||
	    api_param_int(c, ex, req, "after_seq", 0, INT64_MAX, &after) != 0 ||
	    api_param_limit(c, ex, req, &q.limit) != 0)
		return;
	q.after_seq = (uint64_t)after;
	answer_list(c, ex, "results", store_query_results(c->reader, &q));
}

void
api_get_rollups(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char sbuf[RESULT_NAME_MAX * 3], abuf[RESULT_NAME_MAX * 3];
	const char *agent, *service;
	int64_t from = INT64_MIN, to = INT64_MAX;
	int limit;

	if (api_param(c, ex, req, "agent", abuf, sizeof(abuf), &agent) != 0 ||
	    api_param(c, ex, req, "service", sbuf, sizeof(sbuf), &service) != 0 ||
	    api_param_time(c, ex, req, "from", &from) != 0 || api_param_time(c, ex, req, "to", &to) != 0 ||
	    api_param_limit(c, ex, req, &limit) != 0)
		return;
	answer_list(c, ex, "rollups",
		    store_query_rollups(c->reader, agent, service, from, to, limit));
}

/* Agents go stale after missing three rounds of the slowest service. */
static int64_t
stale_after_ms(const struct inventory *inv)
{
	int64_t m = 10000;

	for (int i = 0; i < inv->n_services; i++)
		if (inv->services[i].interval_ms + inv->services[i].timeout_ms > m)
			m = inv->services[i].interval_ms + inv->services[i].timeout_ms;
	return 3 * m + 5000;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Agents known to the database or the inventory, with "configured" and
 * "state"; only one when only != NULL. NULL when the query failed. */
static json_t *
agents_view(struct collector *c, const char *only, int limit)
{
	json_t *rows = store_query_agents(c->reader), *out, *row;
	int64_t now = time_now_ms(), stale = stale_after_ms(c->inv);
	const char **names;
	size_t i, n = (size_t)c->inv->n_agents;

	if (rows == NULL || (names = calloc(n + 1, sizeof(*names))) == NULL) {
		json_decref(rows);
		return NULL;
	}
	for (i = 0; i < n; i++)
		names[i] = c->inv->agents[i].name;
	qsort(names, n, sizeof(*names), name_cmp);
	out = json_array();
	json_array_foreach (rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *seen = json_object_get(row, "last_seen_ms");
		const char *state = "never";
		int configured;

		if (name == NULL || (only != NULL && strcmp(name, only) != 0))
			continue;
		configured = bsearch(&name, names, n, sizeof(*names), name_cmp) != NULL;
		if (json_is_integer(seen))
			state = now - json_integer_value(seen) <= stale ? "ok" : "stale";
		if (collector_agent_is_silent(c, name))
			state = "silent";
		if (!configured && !json_is_integer(seen))
			continue;
		json_object_del(row, "last_seen_ms");
		json_object_set_new(row, "configured", json_boolean(configured));
		json_object_set_new(row, "state", json_string(state));
		if (json_array_size(out) < (size_t)limit)
			json_array_append(out, row);
	}
	free(names);
	json_decref(rows);
	return out;
}

void
api_get_agents(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	json_t *out;
	int limit;

	if (api_param_limit(c, ex, req, &limit) != 0)
		return;
	if ((out = agents_view(c, NULL, limit)) == NULL) {
		api_error(c, ex, 503, "database query failed");
		return;
	}
	api_json(c, ex, 200, json_pack("{s:o}", "agents", out), NULL);
}

void
api_get_agent(struct collector *c, struct http_exchange *ex, const char *name)
{
	json_t *out = agents_view(c, name, 1);

	if (out == NULL) {
		api_error(c, ex, 503, "database query failed");
		return;
	}
	if (json_array_size(out) == 0)
		api_error(c, ex, 404, "no agent %s", name);
	else
		api_json(c, ex, 200, json_incref(json_array_get(out, 0)), NULL);
	json_decref(out);
}

/* Clients resuming after a disconnect name the last id they saw: browsers
 * send the Last-Event-ID header when they reconnect by themselves, which
 * wins over a ?last_event_id= in the URL they opened first. */
void
api_get_stream(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	const char *last = http_request_header(ex, "Last-Event-ID");
	char q[32];
	int rc;

	if (last == NULL && api_query_get(req->query, "last_event_id", q, sizeof(q)) > 0)
		last = q;
	if ((rc = sse_add(c->sse, ex, last)) != 0) {
		api_error(c, ex, 503, rc == -EBUSY ? "too many stream clients" : "no stream: %s",
			  strerror(-rc));
		return;
	}
	metrics_count_http(c->metrics, 200);
}

/* anycast_incidents_open{kind} after the rest: one line per kind. */
static int
append_incident_metrics(struct collector *c, char **txt, size_t *len)
{
	size_t cap = *len + 160 + INCIDENT_N_KINDS * 64, n = *len;
	char *p = realloc(*txt, cap);

	if (p == NULL)
		return -1;
	*txt = p;
	n += (size_t)snprintf(p + n, cap - n,
			      "# HELP anycast_incidents_open Incidents open now, by kind.\n"
			      "# TYPE anycast_incidents_open gauge\n");
	for (int k = 0; k < INCIDENT_N_KINDS && n < cap; k++)
		n += (size_t)snprintf(p + n, cap - n, "anycast_incidents_open{kind=\"%s\"} %zu\n",
				      incident_kind_name((enum incident_kind)k),
				      c->incidents != NULL
					      ? incidents_count_open(c->incidents, (enum incident_kind)k)
					      : 0);
	*len = n < cap ? n : cap - 1;
	return 0;
}

void
api_get_metrics(struct collector *c, struct http_exchange *ex)
{
	struct http_server_stats hs;
	struct alerter_stats as;
	struct store_writer_stats ws;
	struct metrics_process ps;
	struct sse_stats ss;
	struct metrics_role role = { c->is_leader, c->role_changes, c->feed_results };
	struct metrics_inputs in = { .start_ms = c->start_ms, .stream = &ss, .role = &role };
	char *txt;
	size_t len;

	in.n_rows = collector_catchments(c, &in.rows);
	if (c->server != NULL) {
		http_server_get_stats(c->server, &hs);
		in.http = &hs;
	}
	if (c->alerter != NULL) {
		alerter_get_stats(c->alerter, &as);
		in.alerts = &as;
	}
	store_writer_get_stats(c->writer, &ws);
	in.writer = &ws;
	if (c->watch != NULL) {
		in.store_watched = 1;
		in.store_corrupt = store_watch_damaged(c->watch, NULL, 0);
	}
	in.writer_backlog = store_writer_backlog(c->writer);
	if (metrics_process_read(&ps) == 0)
		in.process = &ps;
	sse_get_stats(c->sse, &ss);
	txt = metrics_render(c->metrics, &in, &len);
	if (txt == NULL || append_incident_metrics(c, &txt, &len) != 0) {
		free(txt);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	api_respond_take(c, ex, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, txt, len);
}

struct health_ctx {
	struct collector *c;
	struct http_exchange *ex;
};

static void
health_done(void *arg, struct store_job *job)
{
	struct health_ctx *h = arg;

	if (job->rc == 0)
		api_json(h->c, h->ex, 200,
			 json_pack("{s:s,s:s}", "status", "ok", "role",
				   h->c->is_leader ? "leader" : "follower"),
			 NULL);
	else
		api_error(h->c, h->ex, 503, "database not writable: %s", strerror(-job->rc));
	free(h);
	store_job_free(job);
}

void
api_get_healthz(struct collector *c, struct http_exchange *ex)
{
	struct store_job *job;
	struct health_ctx *h;
	char reason[64];
	uint64_t n;

	/* Damage does not heal: once SQLite reported it, the database has to
	 * be checked or restored, whatever the next write does. */
	if (c->watch != NULL && (n = store_watch_damaged(c->watch, reason, sizeof(reason))) > 0) {
		api_error(c, ex, 503,
			  "database damaged: %s (%" PRIu64 " reports since start; see the log, stop"
			  " the collector and run anycast-collector --check-db)",
			  reason, n);
		return;
	}
	job = store_job_new(STORE_JOB_WRITABLE);
	h = calloc(1, sizeof(*h));
	if (job == NULL || h == NULL) {
		free(h);
		store_job_free(job);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	h->c = c;
	h->ex = ex;
	job->done = health_done;
	job->arg = h;
	store_writer_submit(c->writer, job);
}
