/* agent/guard_reporter.c - guard actions to the collector (see
 * guard_reporter.h): agent/spool.c and agent/reporter.c with the guard's
 * path and record key. */
#include "agent/guard_reporter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/collector_set.h"
#include "agent/curl_dl.h"
#include "agent/reporter.h"
#include "agent/spool.h"
#include "agent/token_file.h"
#include "common/curl_uv.h"
#include "common/log.h"
#include "common/timefmt.h"

#define GUARD_SPOOL_MAX (16u << 20) /* a guard acts a few times a day */

struct guard_reporter {
	uv_loop_t *loop;
	struct guard_config cfg;
	struct collector_set collectors;
	struct spool *sp;
	struct curl_uv *cu;
	struct reporter *rep;
	char token[TOKEN_FILE_MAX];
	/* services whose last reported action was a withdrawal, kept in
	 * SPOOL/withdrawn (one service name a line) */
	char withdrawn[GUARD_MAX_SERVICES][RESULT_NAME_MAX];
	void (*close_cb)(void *);
	void *close_arg;
};

static void
add_status(void *arg, json_t *status)
{
	struct guard_reporter *gr = arg;

	json_object_set_new(status, "mode", json_string("guard"));
	json_object_set_new(status, "instance", json_string(gr->cfg.instance));
}

static void
on_wrong_agent(void *arg, const char *token_agent, const char *why)
{
	struct guard_reporter *gr = arg;

	/* Keep guarding: the routing matters more than the report. */
	log_warnx("the collector refuses the guard's reports (token in %s%s%s): %s; they stay "
		  "spooled",
		  gr->cfg.token_file, token_agent[0] ? " is agent " : "", token_agent, why);
}

static int
find_withdrawn(const struct guard_reporter *gr, const char *name)
{
	for (int i = 0; i < GUARD_MAX_SERVICES; i++)
		if (gr->withdrawn[i][0] && strcmp(gr->withdrawn[i], name) == 0)
			return i;
	return -1;
}

static void
load_withdrawn(struct guard_reporter *gr)
{
	char path[600], line[RESULT_NAME_MAX + 2];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/withdrawn", gr->cfg.spool);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (n < GUARD_MAX_SERVICES && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\n");

		if (len == 0 || len >= RESULT_NAME_MAX)
			continue; /* not a name we wrote */
		line[len] = '\0';
		if (find_withdrawn(gr, line) < 0)
			memcpy(gr->withdrawn[n++], line, len + 1);
	}
	fclose(f);
}

/* Rewrite SPOOL/withdrawn (a temporary file renamed over it). */
static void
save_withdrawn(const struct guard_reporter *gr)
{
	char path[600], tmp[610];
	FILE *f;

	snprintf(path, sizeof(path), "%s/withdrawn", gr->cfg.spool);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	for (int i = 0; i < GUARD_MAX_SERVICES; i++)
		if (gr->withdrawn[i][0])
			fprintf(f, "%s\n", gr->withdrawn[i]);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		log_warn("%s", path);
}

static void
note_action(struct guard_reporter *gr, const char *name, int withdraw)
{
	int i = find_withdrawn(gr, name);

	if (withdraw && i < 0) {
		for (i = 0; i < GUARD_MAX_SERVICES && gr->withdrawn[i][0]; i++)
			;
		if (i < GUARD_MAX_SERVICES)
			snprintf(gr->withdrawn[i], RESULT_NAME_MAX, "%s", name);
	} else if (!withdraw && i >= 0) {
		gr->withdrawn[i][0] = '\0';
	} else {
		return;
	}
	save_withdrawn(gr);
}

int
guard_reporter_withdrawn(const struct guard_reporter *gr, const struct guard_service *s)
{
	return find_withdrawn(gr, s->name) >= 0;
}

struct guard_reporter *
guard_reporter_new(uv_loop_t *loop, const struct guard_config *cfg)
{
	struct guard_reporter *gr = calloc(1, sizeof(*gr));
	struct reporter_options ro = { 0 };
	char err[512];

	if (gr == NULL)
		fatalx("out of memory");
	gr->loop = loop;
	gr->cfg = *cfg;
	collector_set_init(&gr->collectors, 0);
	if (collector_set_add(&gr->collectors, gr->cfg.collector, err, sizeof(err)) < 0)
		fatalx("collector: %s", err);
	token_file_read(gr->cfg.token_file, gr->token, sizeof(gr->token));
	if ((gr->sp = spool_open(gr->cfg.spool, GUARD_SPOOL_MAX)) == NULL)
		fatal("cannot use the spool directory %s", gr->cfg.spool);
	load_withdrawn(gr);
	if (curl_dl_load(err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (gr->cu = curl_uv_new(loop, 2)) == NULL)
		fatalx("cannot set up libcurl");
	ro.http = (struct reporter_http){ .base_url = collector_set_url(&gr->collectors, 0),
					  .collectors = &gr->collectors,
					  .token = gr->token,
					  .agent_name = gr->cfg.agent_name,
					  .ca_file = gr->cfg.ca_file[0] ? gr->cfg.ca_file : NULL };
	ro.name = gr->cfg.agent_name;
	ro.path = "/api/v1/guard";
	ro.items_key = "actions";
	ro.batch_delay_ms = 1; /* an action goes out at once */
	ro.status_fn = add_status;
	ro.status_arg = gr;
	ro.wrong_agent = on_wrong_agent;
	ro.wrong_agent_arg = gr;
	if ((gr->rep = reporter_new(loop, gr->cu, gr->sp, &ro)) == NULL)
		fatalx("cannot set up the reporter");
	log_info("guard %s (instance %s) reports to %s", gr->cfg.agent_name, gr->cfg.instance,
		 gr->cfg.collector);
	reporter_kick(gr->rep); /* actions left from the last run */
	return gr;
}

int
guard_reporter_action(struct guard_reporter *gr, const struct guard_service *s, int withdraw,
		      int applied, const char *reason, int64_t time_ms)
{
	uint64_t seq = spool_next_seq(gr->sp);
	char t[40];
	json_t *o;
	char *line;
	int rc;

	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "seq", (json_int_t)seq, "time",
		      time_format_rfc3339(time_ms, t, sizeof(t)), "service", s->report_as,
		      "instance", gr->cfg.instance, "action", withdraw ? "withdraw" : "restore",
		      "method", guard_action_name(s->action), "address", s->anycast, "applied",
		      applied);
	if (o != NULL && reason != NULL && reason[0])
		json_object_set_new(o, "reason", json_string(reason));
	line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (line == NULL) {
		log_warnx("%s: report lost: out of memory", s->name);
		return -ENOMEM;
	}
	rc = spool_append(gr->sp, seq, line, strlen(line));
	free(line);
	/* Durable before it counts: a crash right after a withdrawal still
	 * tells the collector at the next start. */
	if (rc == 0)
		rc = spool_sync(gr->sp);
	if (rc < 0) {
		log_warnx("%s: cannot spool the report: %s", s->name, strerror(-rc));
		return rc;
	}
	note_action(gr, s->name, withdraw);
	reporter_kick(gr->rep);
	return 0;
}

static void
on_reporter_closed(void *arg)
{
	struct guard_reporter *gr = arg;
	void (*cb)(void *) = gr->close_cb;
	void *cb_arg = gr->close_arg;

	spool_close(gr->sp);
	curl_global_cleanup();
	free(gr);
	if (cb != NULL)
		cb(cb_arg);
}

static void
on_cu_closed(void *arg)
{
	struct guard_reporter *gr = arg;

	reporter_close(gr->rep, on_reporter_closed, gr);
}

static void
on_drained(void *arg)
{
	struct guard_reporter *gr = arg;
	struct spool_stats ss;

	spool_get_stats(gr->sp, &ss);
	if (ss.depth > 0)
		log_info("%" PRIu64 " guard report(s) stay spooled for the next start", ss.depth);
	curl_uv_close(gr->cu, on_cu_closed, gr);
}

void
guard_reporter_close(struct guard_reporter *gr, int64_t timeout_ms, void (*cb)(void *arg),
		     void *arg)
{
	gr->close_cb = cb;
	gr->close_arg = arg;
	spool_flush(gr->sp);
	reporter_drain(gr->rep, timeout_ms, on_drained, gr);
}
