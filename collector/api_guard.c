/* collector/api_guard.c - POST /api/v1/guard: a guard's withdrawals and
 * restorations (collector/guard_report.c validates them), committed by the
 * writer thread by (agent, seq) and answered after the commit like results;
 * the new ones then reach the catchment tracker and the incident engine
 * (collector/collector_guard.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/api_int.h"
#include "collector/guard_report.h"
#include "common/log.h"
#include "common/timefmt.h"

/* Guard reports are a few actions: a body this large is not one. */
#define GUARD_BODY_MAX (256 * 1024)

struct guard_ctx {
	struct collector *c;
	struct http_exchange *ex;
};

static void
guard_done(void *arg, struct store_job *job)
{
	struct guard_ctx *gc = arg;
	struct collector *c = gc->c;
	size_t stored = 0;

	if (job->rc != 0) {
		api_error(c, gc->ex, 503, "database unavailable, retry later");
	} else {
		for (size_t i = 0; i < job->n_guard; i++)
			stored += job->stored[i] != 0;
		api_json(c, gc->ex, 200,
			 json_pack("{s:I,s:I,s:I,s:I}", "stored", (json_int_t)stored, "duplicates",
				   (json_int_t)(job->n_guard - stored), "last_seq",
				   (json_int_t)job->out.last_seq, "time_ms", (json_int_t)time_now_ms()),
			 NULL);
		for (size_t i = 0; i < job->n_guard; i++)
			if (job->stored[i])
				collector_guard_action(c, job->agent, &job->guard[i]);
	}
	free(gc);
	store_job_free(job);
}

void
api_post_guard(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	const struct inv_agent *a = api_auth_agent(c, ex);
	struct store_job *job = NULL;
	struct guard_ctx *gc = NULL;
	char msg[512];

	if (a == NULL) {
		api_error(c, ex, 401, "missing or unknown agent token");
		return;
	}
	if (!api_agent_name_ok(c, ex, req, NULL, a))
		return;
	if (a->guard[0] == '\0') {
		api_error(c, ex, 403, "agent %s is not a guard (no \"guard:\" in its inventory entry)",
			  a->name);
		return;
	}
	/* Not collector_agent_reported(): a guard speaks when it acts (and a
	 * heartbeat a minute), so the probe agents' silence rule is not its. */
	metrics_agent_report(c->metrics, a->name, time_now_ms());
	if (req->body_len > GUARD_BODY_MAX) {
		api_error(c, ex, 413, "a guard report is at most %d bytes", GUARD_BODY_MAX);
		return;
	}
	if ((job = store_job_new(STORE_JOB_GUARD)) == NULL ||
	    (gc = calloc(1, sizeof(*gc))) == NULL) {
		store_job_free(job);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	/* Small bodies: parsed on the loop. */
	if (guard_report_parse(req->body, req->body_len, c->inv, a, time_now_ms(), &job->guard,
			       &job->n_guard, msg, sizeof(msg)) != 0) {
		log_debug("guard report from %s: %s", a->name, msg);
		api_error(c, ex, 400, "%s", msg);
		store_job_free(job);
		free(gc);
		return;
	}
	snprintf(job->agent, sizeof(job->agent), "%s", a->name);
	gc->c = c;
	gc->ex = ex;
	job->done = guard_done;
	job->arg = gc;
	store_writer_submit(c->writer, job);
}
