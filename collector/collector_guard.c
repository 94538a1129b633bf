/* collector/collector_guard.c - what the collector does with a guard's
 * stored action: the catchment tracker learns that the instance is withdrawn
 * (or back), and a guard_withdraw / guard_restore event opens or closes the
 * instance's "withdrawn/SERVICE/INSTANCE" incident key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "collector/catchment.h"
#include "collector/collector.h"
#include "collector/guard_report.h"
#include "collector/store.h"
#include "common/log.h"

void
collector_guard_action(struct collector *c, const char *agent, const struct guard_action *g)
{
	struct event ev;
	json_t *d;
	char *txt;

	catchment_guard(c->catchment, g->service, g->instance, g->withdraw, g->time_ms, g->reason);
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.type, sizeof(ev.type), "%s", guard_action_event_type(g));
	ev.time_ms = g->time_ms;
	snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
	snprintf(ev.service, sizeof(ev.service), "%s", g->service);
	snprintf(g->withdraw ? ev.from_instance : ev.to_instance, RESULT_NAME_MAX, "%s", g->instance);
	snprintf(ev.incident, sizeof(ev.incident), "withdrawn/%s/%s", g->service, g->instance);
	ev.resolves = !g->withdraw;
	d = json_pack("{ss ss sb sI}", "cause", g->withdraw ? "guard_withdrew" : "guard_restored",
		      "instance", g->instance, "applied", g->applied, "seq", (json_int_t)g->seq);
	if (d != NULL && g->reason[0])
		json_object_set_new(d, "reason", json_string(g->reason));
	if (d != NULL && g->method[0])
		json_object_set_new(d, "method", json_string(g->method));
	if (d != NULL && g->address[0])
		json_object_set_new(d, "address", json_string(g->address));
	txt = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
	snprintf(ev.detail, sizeof(ev.detail), "%s", txt != NULL ? txt : "{}");
	free(txt);
	json_decref(d);
	log_info("guard %s: %s %s %s%s%s", agent, g->withdraw ? "withdrew" : "restored", g->service,
		 g->instance, g->reason[0] ? ": " : "", g->reason);
	collector_raise_event(c, &ev);
}

static void
seed_one(void *ctx, const char *agent, const struct guard_action *g)
{
	struct collector *c = ctx;

	(void)agent;
	catchment_guard(c->catchment, g->service, g->instance, g->withdraw, g->time_ms, g->reason);
	if (g->withdraw)
		log_info("%s %s stands withdrawn by its guard %s: %s", g->service, g->instance, agent,
			 g->reason);
}

void
collector_guard_restore(struct collector *c, struct store *st)
{
	if (store_each_guard_latest(st, seed_one, c) != 0)
		log_warnx("cannot read the guards' last actions: %s", store_errmsg(st));
}
