/* collector/api_ingest.c - the agent side of the API: POST /api/v1/results
 * (validated on the loop, committed by the writer thread, answered after the
 * commit) and GET /api/v1/agent/config (with a strong ETag); both refuse a
 * token used under another agent's name (403). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/sha.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/api_int.h"

/* Results may be at most this far ahead of the collector's clock: a day, far
 * beyond any clock error an agent survives (tests/fault/test_clock_step.sh
 * steps one by an hour), well short of a year-9999 time. */
#define INGEST_MAX_AHEAD_MS (24LL * 3600 * 1000)

/* Longest agent self-report kept (bytes of JSON). */
#define STATUS_MAX 8192

/* Parsing and validating a batch is the costliest part of ingest: it runs
 * on libuv's thread pool so the loop keeps answering while it happens. */
struct ingest_ctx {
	struct collector *c;
	struct http_exchange *ex;
	uv_work_t work;          /* work.data = this */
	struct store_job *job;
	const char *body;        /* the request's, valid until we respond */
	size_t body_len;
	char peer[64];
	int rc;
	size_t dropped; /* records of services or addresses not in the inventory */
	char msg[512];
};

static void
ingest_done(void *arg, struct store_job *job)
{
	struct ingest_ctx *ic = arg;
	struct collector *c = ic->c;

	if (job->rc != 0) {
		metrics_count_ingest(c->metrics, 0, 0, job->n_results);
		api_error(c, ic->ex, 503, "database unavailable, retry later");
	} else {
		metrics_count_ingest(c->metrics, job->out.stored, job->out.duplicates, 0);
		/* time_ms: our clock as the answer is made, for the agent's
		 * NTP-style offset estimate (Date has only 1 s resolution). */
		api_json(c, ic->ex, 200,
			 json_pack("{s:I,s:I,s:I,s:I,s:I}", "stored", (json_int_t)job->out.stored,
				   "duplicates", (json_int_t)job->out.duplicates, "dropped",
				   (json_int_t)ic->dropped, "last_seq",
				   (json_int_t)job->out.last_seq, "time_ms",
				   (json_int_t)time_now_ms()),
			 NULL);
		/* After the answer: catchment tracking must never delay the agent. */
		collector_results_stored(c, job->results, job->stored, job->n_results);
	}
	free(ic);
	store_job_free(job);
}

/* Agent named in the URL (path or ?agent=) or in X-Anycast-Agent (the
 * agent's --name) must be the token's: an agent started with another
 * branch's token is refused instead of reporting as that branch. */
int
api_agent_name_ok(struct collector *c, struct http_exchange *ex, const struct http_request *req,
	     const char *url_agent, const struct inv_agent *a)
{
	const char *claimed = http_request_header(ex, "X-Anycast-Agent");
	char q[RESULT_NAME_MAX * 3];
	int r;

	if (claimed != NULL && claimed[0] != '\0' && strcmp(claimed, a->name) != 0) {
		api_error(c, ex, 403, "token belongs to agent \"%s\", not \"%.*s\"", a->name,
			  RESULT_NAME_MAX, claimed);
		return 0;
	}
	if (url_agent != NULL && strcmp(url_agent, a->name) != 0) {
		api_error(c, ex, 403, "token belongs to agent %s, not %s", a->name, url_agent);
		return 0;
	}
	r = api_query_get(req->query, "agent", q, sizeof(q));
	if (r < 0 || (r == 1 && strcmp(q, a->name) != 0)) {
		api_error(c, ex, 403, "token belongs to agent %s", a->name);
		return 0;
	}
	return 1;
}

/* Parse and validate the whole body into job; on error fill msg. */
static int
parse_body(const char *body, size_t body_len, const char *agent, struct store_job *job,
	   char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *root, *arr, *status;
	char why[256];
	int rc = -1;

	root = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(msg, msglen, "invalid JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(msg, msglen, "body must be a JSON object");
		goto out;
	}
	arr = json_object_get(root, "results");
	if (!json_is_array(arr)) {
		snprintf(msg, msglen, "results: must be an array");
		goto out;
	}
	status = json_object_get(root, "status");
	if (status != NULL && !json_is_object(status) && !json_is_null(status)) {
		snprintf(msg, msglen, "status: must be an object");
		goto out;
	}
	job->n_results = json_array_size(arr);
	if (job->n_results > 0) {
		job->results = malloc(job->n_results * sizeof(*job->results));
		job->stored = calloc(job->n_results, 1);
		if (job->results == NULL || job->stored == NULL) {
			snprintf(msg, msglen, "out of memory");
			goto out;
		}
	}
	int64_t latest_ok = time_now_ms() + INGEST_MAX_AHEAD_MS;
	for (size_t i = 0; i < job->n_results; i++) {
		if (result_from_json(json_array_get(arr, i), &job->results[i], why, sizeof(why)) !=
		    0) {
			snprintf(msg, msglen, "results[%zu]: %s", i, why);
			goto out;
		}
		/* A time far ahead would pin "last result" metrics and defeat
		 * staleness alerts; the agent drops the one record (it halves
		 * a refused batch), counted as rejected. */
		if (job->results[i].time_ms > latest_ok) {
			snprintf(msg, msglen,
				 "results[%zu]: time is more than %d h ahead of the collector's clock", i,
				 (int)(INGEST_MAX_AHEAD_MS / 3600000));
			goto out;
		}
		snprintf(job->results[i].agent, sizeof(job->results[i].agent), "%s", agent);
	}
	if (json_is_object(status)) {
		char *txt = json_dumps(status, JSON_COMPACT);

		/* An oversized self-report is dropped, not an error: results matter. */
		if (txt != NULL && strlen(txt) <= STATUS_MAX)
			job->status_json = txt;
		else
			free(txt);
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* An agent's "instance" claim stands only when it names a configured
 * instance of that service; otherwise it is dropped and the collector
 * identifies the answer by its identity, as for any other record (an agent
 * must not invent instances that become catchments, alerts and log text). */
static void
distrust_instances(const struct inventory *inv, struct result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct inv_service *s;
		int k, known = 0;

		if (r[i].instance[0] == '\0')
			continue;
		if ((s = inventory_find_service(inv, r[i].service)) != NULL)
			for (k = 0; k < s->n_instances && !known; k++)
				known = strcmp(s->instances[k].name, r[i].instance) == 0;
		if (!known)
			r[i].instance[0] = '\0';
	}
}

/* Two address strings name the same address (the agent may write IPv6 in
 * another form than the inventory). */
static int
same_address(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	/* Per record on the loop thread: equal text (what agents send, the
	 * inventory's own strings) needs no parsing; only IPv6 has other forms. */
	if (strcmp(a, b) == 0)
		return 1;
	if (strchr(a, ':') == NULL || strchr(b, ':') == NULL)
		return 0;
	return inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1 &&
	       memcmp(x, y, 16) == 0;
}

/* Is r about a configured service, at one of its anycast addresses or an
 * instance's management address? */
static int
configured(const struct inventory *inv, const struct result *r)
{
	const struct inv_service *s = inventory_find_service(inv, r->service);
	int i, k;

	if (s == NULL)
		return 0;
	if (r->target == RESULT_TARGET_ANYCAST) {
		for (i = 0; i < s->n_address; i++)
			if (same_address(s->address[i], r->address))
				return 1;
		return 0;
	}
	for (i = 0; i < s->n_instances; i++)
		for (k = 0; k < s->instances[i].n_management; k++)
			if (same_address(s->instances[i].management[k], r->address))
				return 1;
	return 0;
}

/* Drop the records of services or addresses the inventory does not have,
 * keeping the others in order: made-up names must not become rows, series
 * and catchments (one agent could flood the collector with them). Returns
 * how many were dropped. */
static size_t
drop_unconfigured(const struct inventory *inv, struct store_job *job)
{
	size_t kept = 0, n = job->n_results;

	for (size_t i = 0; i < n; i++) {
		if (!configured(inv, &job->results[i]))
			continue;
		if (kept != i)
			job->results[kept] = job->results[i];
		kept++;
	}
	job->n_results = kept;
	return n - kept;
}

/* Thread pool: no loop state touched here. */
static void
parse_work(uv_work_t *w)
{
	struct ingest_ctx *ic = w->data;

	ic->rc = parse_body(ic->body, ic->body_len, ic->job->agent, ic->job, ic->msg,
			    sizeof(ic->msg));
}

static void
parse_done(uv_work_t *w, int status)
{
	struct ingest_ctx *ic = w->data;
	struct collector *c = ic->c;

	if (status != 0 || ic->rc != 0) {
		log_debug("ingest from %s (%s): %s", ic->job->agent, ic->peer,
			  status ? "cancelled" : ic->msg);
		metrics_count_ingest(c->metrics, 0, 0, ic->job->n_results);
		if (status != 0)
			api_error(c, ic->ex, 503, "shutting down");
		else
			api_error(c, ic->ex, 400, "%s", ic->msg);
		store_job_free(ic->job);
		free(ic);
		return;
	}
	ic->dropped = drop_unconfigured(c->inv, ic->job);
	if (ic->dropped > 0) {
		log_debug("ingest from %s: %zu records of services or addresses not in the inventory dropped",
			  ic->job->agent, ic->dropped);
		metrics_count_unconfigured(c->metrics, ic->dropped);
	}
	distrust_instances(c->inv, ic->job->results, ic->job->n_results);
	ic->job->done = ingest_done;
	ic->job->arg = ic;
	store_writer_submit(c->writer, ic->job);
}

void
api_post_results(struct collector *c, struct http_exchange *ex, const struct http_request *req,
		 const char *url_agent)
{
	const struct inv_agent *a = api_auth_agent(c, ex);
	struct store_job *job = NULL;
	struct ingest_ctx *ic = NULL;

	if (a == NULL) {
		api_error(c, ex, 401, "missing or unknown agent token");
		return;
	}
	if (!api_agent_name_ok(c, ex, req, url_agent, a))
		return;
	metrics_agent_report(c->metrics, a->name, time_now_ms());
	collector_agent_reported(c, a->name, time_now_ms());
	if (store_writer_backlog(c->writer) > API_BACKLOG_MAX) {
		api_error(c, ex, 503, "ingest backlog full, retry later");
		return;
	}
	if ((job = store_job_new(STORE_JOB_INGEST)) == NULL ||
	    (ic = calloc(1, sizeof(*ic))) == NULL) {
		store_job_free(job);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	snprintf(job->agent, sizeof(job->agent), "%s", a->name);
	snprintf(ic->peer, sizeof(ic->peer), "%s", req->peer ? req->peer : "");
	ic->c = c;
	ic->ex = ex;
	ic->job = job;
	ic->body = req->body;
	ic->body_len = req->body_len;
	ic->work.data = ic;
	if (uv_queue_work(c->loop, &ic->work, parse_work, parse_done) != 0) {
		store_job_free(job);
		free(ic);
		api_error(c, ex, 503, "cannot queue the batch");
	}
}

/* Does an If-None-Match header name etag ("*" or a list, W/ ignored for
 * the weak comparison RFC 9110 prescribes for GET)? */
static int
etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, elen) == 0 &&
		    (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

void
api_agent_config(struct collector *c, struct http_exchange *ex, const struct http_request *req,
		 const char *url_agent)
{
	const struct inv_agent *a = api_auth_agent(c, ex);
	unsigned char md[SHA256_DIGEST_LENGTH];
	char etag[2 * 20 + 3], hdr[128];
	const char *inm;
	json_t *body;
	char *txt;

	if (a == NULL) {
		api_error(c, ex, 401, "missing or unknown agent token");
		return;
	}
	if (!api_agent_name_ok(c, ex, req, url_agent, a))
		return;
	body = inventory_services_to_json(c->inv);
	if (body == NULL) {
		api_error(c, ex, 503, "out of memory");
		return;
	}
	json_object_set_new(body, "agent", json_string(a->name));
	txt = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	if (txt == NULL) {
		api_error(c, ex, 503, "out of memory");
		return;
	}
	/* Strong validator: the same bytes always give the same tag. */
	SHA256((const unsigned char *)txt, strlen(txt), md);
	etag[0] = '"';
	for (int i = 0; i < 20; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
	snprintf(etag + 41, 2, "\"");
	snprintf(hdr, sizeof(hdr), "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
	inm = http_request_header(ex, "If-None-Match");
	if (inm != NULL && etag_matches(inm, etag))
		api_respond(c, ex, 304, NULL, hdr, NULL, 0);
	else
		api_respond(c, ex, 200, "application/json", hdr, txt, strlen(txt));
	free(txt);
}
