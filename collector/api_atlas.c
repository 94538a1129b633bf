/* collector/api_atlas.c - POST /api/v1/atlas/results: RIPE Atlas result files
 * (a JSON array or one result per line) sent by "anycast-collector atlas
 * import --url" with the token of an agent marked "atlas: true". Parsed on
 * libuv's thread pool against a copy of the inventory's services (a reload
 * may replace the inventory meanwhile), stored by the writer in one job,
 * answered after the commit; the stored records then feed catchment
 * tracking like an agent's (docs/ATLAS.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/api_int.h"
#include "collector/atlas_import.h"

#define SKIPS_LISTED 100 /* skipped results named in the answer */

struct atlas_ctx {
	struct collector *c;
	struct http_exchange *ex;
	uv_work_t work;            /* work.data = this */
	struct inventory *inv;     /* owned: the services, copied on the loop */
	const char *body;          /* the request's, valid until we respond */
	size_t body_len;
	struct store_job *job;     /* the records, for the writer */
	size_t cap;
	struct atlas_import_stats stats;
	json_t *skips;             /* [{"index", "reason"}] */
	int rc;
};

/* Thread pool: records collected into the job. */
static int
on_records(void *arg, const struct result *r, size_t n)
{
	struct atlas_ctx *ac = arg;
	struct store_job *job = ac->job;

	if (job->n_results + n > ac->cap) {
		size_t cap = (job->n_results + n) * 2;
		struct result *p = realloc(job->results, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		job->results = p;
		ac->cap = cap;
	}
	memcpy(job->results + job->n_results, r, n * sizeof(*r));
	job->n_results += n;
	return 0;
}

static void
on_skip(void *arg, const char *file, size_t index, const char *why)
{
	struct atlas_ctx *ac = arg;

	(void)file;
	if (json_array_size(ac->skips) < SKIPS_LISTED)
		json_array_append_new(ac->skips, json_pack("{s:I,s:s}", "index", (json_int_t)index,
							   "reason", why));
}

static void
parse_work(uv_work_t *w)
{
	struct atlas_ctx *ac = w->data;
	struct atlas_import im;

	if ((ac->rc = atlas_import_init(&im, ac->inv, on_records, on_skip, ac)) != 0)
		return;
	ac->rc = atlas_import_text(&im, "body", ac->body, ac->body_len);
	if (ac->rc == 0)
		ac->rc = atlas_import_flush(&im);
	ac->stats = im.stats;
	atlas_import_free(&im);
}

static void
ctx_free(struct atlas_ctx *ac)
{
	if (ac->job != NULL)
		store_job_free(ac->job);
	inventory_free(ac->inv);
	json_decref(ac->skips);
	free(ac);
}

static json_t *
reasons_json(const struct atlas_import_stats *st)
{
	json_t *a = json_array();

	for (size_t k = 0; k < st->n_reasons; k++)
		json_array_append_new(a, json_pack("{s:I,s:s}", "count",
						   (json_int_t)st->reasons[k].count, "reason",
						   st->reasons[k].reason));
	return a;
}

static void
stored_done(void *arg, struct store_job *job)
{
	struct atlas_ctx *ac = arg;
	struct collector *c = ac->c;

	ac->job = NULL; /* ours again below */
	if (job->rc != 0) {
		api_error(c, ac->ex, 503, "database unavailable, retry later");
	} else {
		metrics_count_ingest(c->metrics, job->out.stored, job->out.duplicates, 0);
		api_json(c, ac->ex, 200,
			 json_pack("{s:I,s:I,s:I,s:I,s:I,s:o,s:O}", "results",
				   (json_int_t)ac->stats.results, "records",
				   (json_int_t)ac->stats.records, "stored",
				   (json_int_t)job->out.stored, "duplicates",
				   (json_int_t)job->out.duplicates, "skipped",
				   (json_int_t)ac->stats.skipped, "reasons", reasons_json(&ac->stats),
				   "skips", ac->skips),
			 NULL);
		/* After the answer: vantage points' catchments, as for agents. */
		collector_results_stored(c, job->results, job->stored, job->n_results);
	}
	store_job_free(job);
	ctx_free(ac);
}

static void
parse_done(uv_work_t *w, int status)
{
	struct atlas_ctx *ac = w->data;
	struct collector *c = ac->c;
	struct store_job *job = ac->job;

	if (status != 0 || ac->rc != 0) {
		api_error(c, ac->ex, status != 0 ? 503 : 400, "%s",
			  status != 0 ? "shutting down" : "cannot parse the results (out of memory)");
		ctx_free(ac);
		return;
	}
	job->now_ms = time_now_ms();
	job->done = stored_done;
	job->arg = ac;
	ac->job = NULL; /* the writer's until stored_done */
	store_writer_submit(c->writer, job);
}

/* The inventory's services, deep-copied through their JSON form (what the
 * parser reads of it); NULL when memory is short. */
static struct inventory *
services_copy(const struct inventory *inv)
{
	json_t *j = inventory_services_to_json(inv);
	char err[256];
	struct inventory *copy = j ? inventory_services_from_json(j, err, sizeof(err)) : NULL;

	json_decref(j);
	return copy;
}

void
api_post_atlas(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	const struct inv_agent *a = api_auth_agent(c, ex);
	struct atlas_ctx *ac;

	if (a == NULL) {
		api_error(c, ex, 401, "missing or unknown agent token");
		return;
	}
	if (!a->atlas) {
		api_error(c, ex, 403,
			  "agent %s may not send Atlas results (set atlas: true on it in the inventory)",
			  a->name);
		return;
	}
	if (store_writer_backlog(c->writer) > API_BACKLOG_MAX) {
		api_error(c, ex, 503, "ingest backlog full, retry later");
		return;
	}
	if ((ac = calloc(1, sizeof(*ac))) == NULL || (ac->job = store_job_new(STORE_JOB_ATLAS)) == NULL ||
	    (ac->inv = services_copy(c->inv)) == NULL || (ac->skips = json_array()) == NULL) {
		if (ac != NULL)
			ctx_free(ac);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	ac->c = c;
	ac->ex = ex;
	ac->body = req->body;
	ac->body_len = req->body_len;
	ac->work.data = ac;
	log_debug("Atlas results from %s: %zu bytes", a->name, req->body_len);
	if (uv_queue_work(c->loop, &ac->work, parse_work, parse_done) != 0) {
		ctx_free(ac);
		api_error(c, ex, 503, "cannot queue the results");
	}
}
