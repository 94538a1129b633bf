/* collector/collector_incidents.c - the collector's side of incidents: the
 * engine wired to catchment state, each incident change stored, pushed on
 * the event stream and handed to the alerter; open incidents restored and
 * their alerts re-sent after a restart and on SIGHUP; agents that stop
 * reporting raise agent_silent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/api_int.h"
#include "collector/collector.h"

#define CONVERGENCE_MS 5000 /* routing convergence measured in the lab (bench/alert) */

/* ---- the world the engine asks about ---- */

static int
world_dark(void *ctx, const char *agent)
{
	struct collector *c = ctx;

	return catchment_agent_dark(c->catchment, agent);
}

static int
world_lit(void *ctx)
{
	struct collector *c = ctx;

	return (int)catchment_agents_lit(c->catchment);
}

static size_t
world_failing(void *ctx, const char *service, const char *instance, char (*names)[RESULT_NAME_MAX],
	      size_t max)
{
	struct collector *c = ctx;

	return catchment_failing_agents(c->catchment, service, instance, names, max);
}

int64_t
collector_incident_hold_ms(const struct inventory *inv)
{
	int64_t fastest = 0;

	if (inv->thresholds.incident_hold_ms > 0)
		return inv->thresholds.incident_hold_ms;
	for (int i = 0; i < inv->n_services; i++)
		if (fastest == 0 || inv->services[i].interval_ms < fastest)
			fastest = inv->services[i].interval_ms;
	return 2 * (fastest > 0 ? fastest : 5000) + CONVERGENCE_MS;
}

int64_t
collector_agent_silent_after_ms(const struct inventory *inv)
{
	int64_t m = 10000;
	int n = inv->thresholds.agent_silent_intervals > 0 ? inv->thresholds.agent_silent_intervals
							   : 3;

	for (int i = 0; i < inv->n_services; i++)
		if (inv->services[i].interval_ms + inv->services[i].timeout_ms > m)
			m = inv->services[i].interval_ms + inv->services[i].timeout_ms;
	return n * m + 5000;
}

/* ---- alerts ---- */

/* The incident as the alerter's event: type = kind, key "kind/id". */
static void
alert_event(const struct incident *inc, struct event *ev)
{
	json_t *doc = incident_to_json(inc), *agents;
	char *txt;

	memset(ev, 0, sizeof(*ev));
	ev->id = inc->id;
	ev->incident_id = inc->id;
	ev->time_ms = inc->state == INCIDENT_RESOLVED ? inc->ended_ms : inc->started_ms;
	ev->started_ms = inc->started_ms;
	snprintf(ev->type, sizeof(ev->type), "%s", incident_kind_name(inc->kind));
	snprintf(ev->service, sizeof(ev->service), "%s", inc->service);
	snprintf(ev->from_instance, sizeof(ev->from_instance), "%s",
		 inc->instance[0] ? inc->instance : inc->n_agents > 0 ? inc->agents[0].from : "");
	if (inc->n_agents > 0)
		snprintf(ev->to_instance, sizeof(ev->to_instance), "%s", inc->agents[0].to);
	if (incident_agent_count(inc) == 1)
		snprintf(ev->agent, sizeof(ev->agent), "%s", inc->agents[0].agent);
	snprintf(ev->incident, sizeof(ev->incident), "%s/%" PRId64, ev->type, inc->id);
	ev->resolves = inc->state == INCIDENT_RESOLVED;
	snprintf(ev->summary, sizeof(ev->summary), "%s", inc->summary);
	/* The detail is the incident itself; long agent lists are cut to fit. */
	json_object_del(doc, "events");
	agents = json_object_get(doc, "agents");
	while ((txt = json_dumps(doc, JSON_COMPACT)) != NULL && strlen(txt) >= sizeof(ev->detail) &&
	       json_array_size(agents) > 0) {
		free(txt);
		json_array_remove(agents, json_array_size(agents) - 1);
		json_object_set_new(doc, "agents_truncated", json_true());
	}
	if (txt != NULL && strlen(txt) < sizeof(ev->detail))
		memcpy(ev->detail, txt, strlen(txt) + 1);
	free(txt);
	json_decref(doc);
}

static void
save(struct collector *c, const struct incident *inc)
{
	struct store_job *job = store_job_new(STORE_JOB_INCIDENT);
	json_t *doc = incident_to_json(inc), *priv = incident_members_json(inc);

	if (job == NULL)
		goto out;
	job->incident_doc = json_dumps(doc, JSON_COMPACT);
	job->incident_priv = json_dumps(priv, JSON_COMPACT);
	if (job->incident_doc == NULL ||
	    (inc->n_events > 0 &&
	     (job->incident_events = malloc(inc->n_events * sizeof(int64_t))) == NULL)) {
		log_warnx("incident %" PRId64 " not stored: out of memory", inc->id);
		store_job_free(job);
		goto out;
	}
	for (size_t i = 0; i < inc->n_events; i++)
		job->incident_events[i] = inc->events[i].id;
	job->incident = (struct store_incident){
		.id = inc->id,
		.kind = incident_kind_name(inc->kind),
		.state = inc->state == INCIDENT_RESOLVED ? "resolved" : "open",
		.started_ms = inc->started_ms,
		.updated_ms = inc->updated_ms,
		.ended_ms = inc->state == INCIDENT_RESOLVED ? inc->ended_ms : 0,
		.doc = job->incident_doc,
		.priv = job->incident_priv,
		.events = job->incident_events,
		.n_events = inc->n_events,
	};
	store_writer_submit(c->writer, job);
out:
	json_decref(doc);
	json_decref(priv);
}

static void
on_incident(void *ctx, const struct incident *inc, enum incident_change what)
{
	struct collector *c = ctx;
	struct event ev;
	json_t *js;

	save(c, inc);
	js = incident_to_json(inc);
	collector_broadcast(c, "incident", js);
	json_decref(js);
	if (what == INCIDENT_CHANGED)
		return;
	log_info("incident %" PRId64 " %s: %s", inc->id,
		 what == INCIDENT_OPENED ? "opened" : what == INCIDENT_UPDATED ? "updated" : "resolved",
		 inc->summary);
	if (c->alerter == NULL)
		return;
	alert_event(inc, &ev);
	if (what == INCIDENT_UPDATED)
		alerter_update(c->alerter, &ev);
	else
		alerter_dispatch(c->alerter, &ev);
}

/* ---- start-up, reload ---- */

struct restore_ctx {
	struct collector *c;
	size_t n, bad;
};

static void
restore_one(void *ctx, const char *doc_txt, const char *priv_txt)
{
	struct restore_ctx *r = ctx;
	json_t *doc = json_loads(doc_txt, 0, NULL), *priv = json_loads(priv_txt, 0, NULL);
	struct incident inc;

	if (doc == NULL || incident_from_json(&inc, doc, priv) != 0) {
		r->bad++;
	} else {
		if (inc.state == INCIDENT_OPEN && incidents_restore(r->c->incidents, &inc) == 0) {
			r->n++;
			/* answer integrity resolves what it sees end */
			for (size_t i = 0; r->c->integrity != NULL && i < inc.n_members; i++)
				if (inc.members[i].open)
					integrity_restore_open(r->c->integrity, inc.members[i].key,
							       inc.instance);
		}
		incident_clear(&inc);
	}
	json_decref(doc);
	json_decref(priv);
}

int
collector_incidents_start(struct collector *c, struct store *st)
{
	struct incident_world w = { world_dark, world_lit, world_failing, c };
	struct restore_ctx r = { c, 0, 0 };
	int64_t maxid = store_max_incident_id(st);

	if (maxid < 0)
		return -1;
	c->incidents = incidents_new(collector_incident_hold_ms(c->inv), maxid + 1, &w, on_incident, c);
	if (c->incidents == NULL)
		return -1;
	if (store_each_open_incident(st, restore_one, &r) != 0)
		return -1;
	if (r.n > 0 || r.bad > 0)
		log_info("restored %zu open incidents%s", r.n, r.bad ? " (some unreadable)" : "");
	return 0;
}

static void
resend_one(void *ctx, const struct incident *inc)
{
	struct collector *c = ctx;
	struct event ev;

	alert_event(inc, &ev);
	alerter_restore(c->alerter, &ev);
}

void
collector_incidents_resend(struct collector *c)
{
	if (c->alerter != NULL && c->incidents != NULL)
		incidents_each_open(c->incidents, resend_one, c);
}

void
collector_incidents_reload(struct collector *c)
{
	if (c->incidents == NULL)
		return;
	incidents_set_hold(c->incidents, collector_incident_hold_ms(c->inv));
	collector_incidents_resend(c);
}

/* ---- agents that stop reporting ---- */

/* The agent's entry, created at its first report (NULL out of memory). */
static struct agent_watch *
watch_of(struct collector *c, const char *agent)
{
	struct agent_watch *w = hashmap_get(&c->agents_seen, agent);

	if (w != NULL)
		return w;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	snprintf(w->name, sizeof(w->name), "%s", agent);
	if (hashmap_put(&c->agents_seen, w->name, w) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

static void
silent_event(struct collector *c, struct agent_watch *w, int64_t now, int back)
{
	struct event ev;
	char t[32];

	memset(&ev, 0, sizeof(ev));
	ev.time_ms = back ? now : w->last_ms;
	snprintf(ev.type, sizeof(ev.type), "%s", back ? "recovery" : "agent_silent");
	snprintf(ev.agent, sizeof(ev.agent), "%s", w->name);
	snprintf(ev.incident, sizeof(ev.incident), "agent_silent/%s", w->name);
	ev.resolves = back;
	snprintf(ev.detail, sizeof(ev.detail),
		 back ? "{\"cause\":\"reports_again\",\"resolved\":\"agent_silent\",\"last_report\":\"%s\"}"
		      : "{\"cause\":\"no_reports\",\"last_report\":\"%s\",\"silent_after_ms\":%" PRId64 "}",
		 time_format_rfc3339(w->last_ms, t, sizeof(t)), collector_agent_silent_after_ms(c->inv));
	collector_raise_event(c, &ev);
}

void
collector_agent_reported(struct collector *c, const char *agent, int64_t now)
{
	struct agent_watch *w = watch_of(c, agent);

	if (w == NULL)
		return;
	w->last_ms = now;
	if (w->silent) {
		w->silent = 0;
		silent_event(c, w, now, 1);
	}
}

struct silence_ctx {
	struct collector *c;
	int64_t now, after;
};

static int
check_silence(void *ctx, const char *key, void *val)
{
	struct silence_ctx *x = ctx;
	struct agent_watch *w = val;

	(void)key;
	if (w->silent || w->last_ms == 0 || x->now - w->last_ms < x->after)
		return 0;
	/* Only agents of the inventory page: a removed one is forgotten. */
	if (inventory_find_agent(x->c->inv, w->name) == NULL)
		return 0;
	w->silent = 1;
	silent_event(x->c, w, x->now, 0);
	return 0;
}

void
collector_watch_silence(struct collector *c, int64_t now)
{
	struct silence_ctx x = { c, now, collector_agent_silent_after_ms(c->inv) };

	hashmap_foreach(&c->agents_seen, check_silence, &x);
}

static int
free_watch(void *ctx, const char *key, void *val)
{
	(void)ctx;
	(void)key;
	free(val);
	return 1;
}

void
collector_watch_free(struct collector *c)
{
	hashmap_foreach(&c->agents_seen, free_watch, NULL);
	hashmap_clear(&c->agents_seen);
}

/* Silence is judged by when reports arrive (an agent replaying its spool
 * sends old rounds and is not silent). An agent that has not reported since
 * the collector started is silent once the collector has waited long
 * enough and its last round is older than that. */
int
collector_agent_row_silent(const struct collector *c, const char *agent, int64_t last_round_ms,
			   int64_t now)
{
	int64_t after = collector_agent_silent_after_ms(c->inv);
	const struct agent_watch *w = hashmap_get(&c->agents_seen, agent);

	if (w != NULL)
		return w->silent;
	return now - c->start_ms > after && last_round_ms > 0 && now - last_round_ms > after;
}

int
collector_agent_is_silent(const struct collector *c, const char *agent)
{
	const struct agent_watch *w = hashmap_get(&c->agents_seen, agent);

	return w != NULL && w->silent;
}
