/* tests/collector/test_incident.c - the incident engine's grouping rules on a
 * fake clock: which events join which incident, the hold (a failover gap
 * pages no outage), branch isolation, updates, resolution and a restart. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident.h"

#define T0 1700000000000LL
#define HOLD 7000
#define MAX_TOLD 64

struct told {
	int64_t id;
	enum incident_kind kind;
	enum incident_change what;
	size_t n_agents;
	char summary[256];
	char first_to[RESULT_NAME_MAX];
	int64_t duration_ms;
};

struct world {
	struct told t[MAX_TOLD];
	int n;
	const char *dark[4];     /* dark agents */
	const char *failing[4];  /* agents failing every instance */
	int lit;
	int64_t next_event;
};

static void
on_change(void *ctx, const struct incident *inc, enum incident_change what)
{
	struct world *w = ctx;
	struct told *t;

	if (what == INCIDENT_CHANGED)
		return;
	cr_assert_lt(w->n, MAX_TOLD);
	t = &w->t[w->n++];
	t->id = inc->id;
	t->kind = inc->kind;
	t->what = what;
	t->n_agents = (size_t)incident_agent_count(inc);
	snprintf(t->summary, sizeof(t->summary), "%s", inc->summary);
	snprintf(t->first_to, sizeof(t->first_to), "%s", inc->n_agents ? inc->agents[0].to : "");
	t->duration_ms = inc->ended_ms - inc->started_ms;
}

static int
w_dark(void *ctx, const char *agent)
{
	struct world *w = ctx;

	for (int i = 0; i < 4 && w->dark[i]; i++)
		if (strcmp(w->dark[i], agent) == 0)
			return 1;
	return 0;
}

static int
w_lit(void *ctx)
{
	return ((struct world *)ctx)->lit;
}

static size_t
w_failing(void *ctx, const char *service, const char *instance, char (*names)[RESULT_NAME_MAX],
	  size_t max)
{
	struct world *w = ctx;
	size_t n = 0;

	(void)service;
	(void)instance;
	for (int i = 0; i < 4 && w->failing[i]; i++, n++)
		if (n < max)
			snprintf(names[n], RESULT_NAME_MAX, "%s", w->failing[i]);
	return n;
}

static struct incidents *
engine(struct world *w)
{
	struct incident_world iw = { w_dark, w_lit, w_failing, w };

	memset(w, 0, sizeof(*w));
	w->lit = 1;
	return incidents_new(HOLD, 1, &iw, on_change, w);
}

/* An event as catchment tracking raises it. type: outage, recovery, ... */
static struct event
ev(struct world *w, const char *type, int64_t t, const char *agent, const char *service,
   int family, const char *from, const char *to, const char *key_type, int resolves,
   const char *cause)
{
	struct event e;

	memset(&e, 0, sizeof(e));
	e.id = ++w->next_event;
	e.time_ms = t;
	snprintf(e.type, sizeof(e.type), "%s", type);
	snprintf(e.agent, sizeof(e.agent), "%s", agent);
	snprintf(e.service, sizeof(e.service), "%s", service);
	e.family = family;
	snprintf(e.from_instance, sizeof(e.from_instance), "%s", from);
	snprintf(e.to_instance, sizeof(e.to_instance), "%s", to);
	if (agent[0])
		snprintf(e.incident, sizeof(e.incident), "%s/%s/%s/%d", key_type, agent, service,
			 family);
	else
		snprintf(e.incident, sizeof(e.incident), "%s/%s/%s", key_type, service,
			 from[0] ? from : to);
	e.resolves = resolves;
	snprintf(e.detail, sizeof(e.detail), "{\"cause\":\"%s\",\"identity\":\"rogue.evil\"}", cause);
	return e;
}

static void
feed(struct incidents *e, struct event x, int64_t now)
{
	incidents_event(e, &x, now);
}

static int
count(const struct world *w, enum incident_kind kind, enum incident_change what)
{
	int n = 0;

	for (int i = 0; i < w->n; i++)
		n += w->t[i].kind == kind && w->t[i].what == what;
	return n;
}

Test(incident, failover_gap_is_one_instance_down_without_outage_page)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "outage", t, "br2", "dns", 4, "site-b", "", "outage", 0, "no_answer"), t);
	feed(e, ev(&w, "instance_down", t + 500, "", "dns", 0, "site-b", "", "instance_down", 0,
		   "management_unreachable"), t + 500);
	feed(e, ev(&w, "recovery", t + 2000, "br2", "dns", 4, "site-b", "site-c", "outage", 1,
		   "answers_again"), t + 2000);
	feed(e, ev(&w, "catchment_change", t + 2000, "br2", "dns", 4, "site-b", "site-c",
		   "catchment_change", 0, "failover"), t + 2000);
	incidents_tick(e, t + 3000);
	cr_assert_eq(w.n, 0, "nothing is announced before the hold ends");
	incidents_tick(e, t + HOLD + 1);
	cr_assert_eq(w.n, 1, "one announcement, got %d", w.n);
	cr_assert_eq(w.t[0].kind, INCIDENT_INSTANCE_DOWN);
	cr_assert_eq(w.t[0].what, INCIDENT_OPENED);
	cr_assert_eq(w.t[0].n_agents, 1);
	cr_assert_str_eq(w.t[0].first_to, "site-c");
	cr_assert(strstr(w.t[0].summary, "site-b dns down") != NULL, "%s", w.t[0].summary);
	cr_assert(strstr(w.t[0].summary, "br2 failed over to site-c") != NULL, "%s",
		  w.t[0].summary);
	cr_assert_eq(incidents_count_open(e, INCIDENT_OUTAGE), 0);

	/* heal: the instance answers again, br2 comes home */
	feed(e, ev(&w, "instance_up", t + 60000, "", "dns", 0, "", "site-b", "instance_down", 1,
		   "management_answers"), t + 60000);
	cr_assert_eq(count(&w, INCIDENT_INSTANCE_DOWN, INCIDENT_RESOLVED_NOW), 0,
		     "br2 is not home yet");
	feed(e, ev(&w, "recovery", t + 62000, "br2", "dns", 4, "site-c", "site-b", "catchment_change",
		   1, "catchment_returned"), t + 62000);
	cr_assert_eq(count(&w, INCIDENT_INSTANCE_DOWN, INCIDENT_RESOLVED_NOW), 1);
	cr_assert_eq(w.t[w.n - 1].duration_ms, 62000);
	cr_assert_eq(w.n, 2, "one firing, one resolved");
	incidents_free(e);
}

Test(incident, blackhole_outages_belong_to_the_dead_instance_across_services)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "outage", t, "br1", "dns", 4, "site-a", "", "outage", 0, "no_answer"), t);
	feed(e, ev(&w, "outage", t + 100, "br4", "dns", 4, "site-a", "", "outage", 0, "no_answer"),
	     t + 100);
	feed(e, ev(&w, "outage", t + 200, "br1", "ntp", 4, "site-a", "", "outage", 0, "no_answer"),
	     t + 200);
	feed(e, ev(&w, "instance_down", t + 1000, "", "dns", 0, "site-a", "", "instance_down", 0,
		   "management_unreachable"), t + 1000);
	feed(e, ev(&w, "instance_down", t + 1100, "", "ntp", 0, "site-a", "", "instance_down", 0,
		   "management_unreachable"), t + 1100);
	incidents_tick(e, t + HOLD + 1000);
	cr_assert_eq(w.n, 1, "one incident, got %d", w.n);
	cr_assert_eq(w.t[0].kind, INCIDENT_INSTANCE_DOWN);
	cr_assert_eq(w.t[0].n_agents, 2);
	cr_assert(strstr(w.t[0].summary, "site-a dns, ntp down: br1, br4 get no answer") != NULL,
		  "%s", w.t[0].summary);
	incidents_free(e);
}

Test(incident, outage_with_no_dead_instance_is_an_outage)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "outage", t, "br3", "dns", 4, "site-c", "", "outage", 0, "no_answer"), t);
	incidents_tick(e, t + HOLD - 1);
	cr_assert_eq(w.n, 0);
	incidents_tick(e, t + HOLD);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.t[0].kind, INCIDENT_OUTAGE);
	feed(e, ev(&w, "recovery", t + 30000, "br3", "dns", 4, "site-c", "site-c", "outage", 1,
		   "answers_again"), t + 30000);
	cr_assert_eq(count(&w, INCIDENT_OUTAGE, INCIDENT_RESOLVED_NOW), 1);
	incidents_free(e);
}

Test(incident, a_blip_within_the_hold_pages_nothing)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "outage", t, "br3", "dns", 4, "site-c", "", "outage", 0, "no_answer"), t);
	feed(e, ev(&w, "recovery", t + 2000, "br3", "dns", 4, "site-c", "site-c", "outage", 1,
		   "answers_again"), t + 2000);
	incidents_tick(e, t + 3 * HOLD);
	cr_assert_eq(w.n, 0, "got %d announcements", w.n);
	incidents_free(e);
}

Test(incident, route_changes_of_one_branch_in_two_services_are_one_incident)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "catchment_change", t, "br1", "dns", 4, "site-a", "site-b",
		   "catchment_change", 0, "route_change"), t);
	feed(e, ev(&w, "catchment_change", t + 800, "br1", "ntp", 4, "site-a", "site-b",
		   "catchment_change", 0, "route_change"), t + 800);
	incidents_tick(e, t + HOLD + 1);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.t[0].kind, INCIDENT_ROUTE_CHANGE);
	feed(e, ev(&w, "recovery", t + 20000, "br1", "dns", 4, "site-b", "site-a", "catchment_change",
		   1, "catchment_returned"), t + 20000);
	cr_assert_eq(w.n, 1, "ntp is still away");
	feed(e, ev(&w, "recovery", t + 20500, "br1", "ntp", 4, "site-b", "site-a", "catchment_change",
		   1, "catchment_returned"), t + 20500);
	cr_assert_eq(count(&w, INCIDENT_ROUTE_CHANGE, INCIDENT_RESOLVED_NOW), 1);
	incidents_free(e);
}

Test(incident, hijack_is_announced_at_once_and_joined_by_every_agent)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "unknown_instance", t, "br3", "dns", 4, "site-c", "", "unknown_instance", 0,
		   "identity_not_configured"), t);
	cr_assert_eq(w.n, 1, "no hold for a hijack");
	cr_assert_eq(w.t[0].kind, INCIDENT_HIJACK);
	cr_assert(strstr(w.t[0].summary, "rogue.evil") != NULL, "%s", w.t[0].summary);
	feed(e, ev(&w, "unknown_instance", t + 100, "br2", "ntp", 4, "site-b", "", "unknown_instance",
		   0, "identity_not_configured"), t + 100);
	cr_assert_eq(count(&w, INCIDENT_HIJACK, INCIDENT_OPENED), 1);
	incidents_tick(e, t + 60000);
	cr_assert_eq(count(&w, INCIDENT_HIJACK, INCIDENT_UPDATED), 1, "the scope grew once");
	incidents_tick(e, t + 200000);
	cr_assert_eq(count(&w, INCIDENT_HIJACK, INCIDENT_UPDATED), 1, "and is told once");
	incidents_free(e);
}

Test(incident, a_cut_off_branch_is_one_branch_isolated_incident)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	w.dark[0] = "br4";
	w.failing[0] = "br4";
	feed(e, ev(&w, "outage", t, "br4", "dns", 4, "site-a", "", "outage", 0, "no_answer"), t);
	feed(e, ev(&w, "outage", t + 10, "br4", "dns", 6, "site-a", "", "outage", 0, "no_answer"),
	     t + 10);
	feed(e, ev(&w, "outage", t + 20, "br4", "ntp", 4, "site-a", "", "outage", 0, "no_answer"),
	     t + 20);
	feed(e, ev(&w, "instance_down", t + 500, "", "dns", 0, "site-a", "", "instance_down", 0,
		   "management_unreachable"), t + 500);
	feed(e, ev(&w, "instance_down", t + 500, "", "dns", 0, "site-b", "", "instance_down", 0,
		   "management_unreachable"), t + 500);
	feed(e, ev(&w, "instance_down", t + 600, "", "ntp", 0, "site-c", "", "instance_down", 0,
		   "management_unreachable"), t + 600);
	incidents_tick(e, t + HOLD + 700);
	cr_assert_eq(w.n, 1, "one incident, got %d: %s", w.n, w.n ? w.t[0].summary : "");
	cr_assert_eq(w.t[0].kind, INCIDENT_BRANCH_ISOLATED);
	cr_assert(strstr(w.t[0].summary, "br4") != NULL, "%s", w.t[0].summary);
	/* late arrivals join it */
	feed(e, ev(&w, "outage", t + HOLD + 800, "br4", "ntp", 6, "site-a", "", "outage", 0,
		   "no_answer"), t + HOLD + 800);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(incidents_count_open(e, INCIDENT_BRANCH_ISOLATED), 1);
	cr_assert_eq(incidents_count_open(e, INCIDENT_OUTAGE), 0);
	cr_assert_eq(incidents_count_open(e, INCIDENT_INSTANCE_DOWN), 0);
	incidents_free(e);
}

Test(incident, dark_branch_without_witness_is_not_isolation)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	w.dark[0] = "br4";
	w.lit = 0; /* nobody else answers either: the service, not the branch */
	feed(e, ev(&w, "outage", t, "br4", "dns", 4, "site-a", "", "outage", 0, "no_answer"), t);
	incidents_tick(e, t + HOLD);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.t[0].kind, INCIDENT_OUTAGE);
	incidents_free(e);
}

Test(incident, load_sharing_takes_the_route_change_that_started_it)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, ev(&w, "catchment_change", t, "br2", "dns", 4, "site-b", "site-c",
		   "catchment_change", 0, "route_change"), t);
	feed(e, ev(&w, "flapping", t + 1000, "br2", "ntp", 6, "site-c", "site-b", "flapping", 0,
		   "flapping"), t + 1000);
	feed(e, ev(&w, "split", t + 3000, "br2", "dns", 4, "site-c", "site-b", "split", 0,
		   "answers_alternate"), t + 3000);
	feed(e, ev(&w, "flapping", t + 3500, "br2", "ntp", 4, "site-c", "site-b", "flapping", 0,
		   "flapping"), t + 3500);
	feed(e, ev(&w, "flapping", t + 1000, "br2", "dns", 6, "site-c", "site-b", "flapping", 0,
		   "flapping"), t + 3600);
	incidents_tick(e, t + 2 * HOLD);
	cr_assert_eq(count(&w, INCIDENT_SPLIT, INCIDENT_OPENED), 1);
	cr_assert_eq(count(&w, INCIDENT_ROUTE_CHANGE, INCIDENT_OPENED), 0);
	cr_assert_eq(count(&w, INCIDENT_FLAPPING, INCIDENT_OPENED), 0, "flapping of a split branch");
	incidents_free(e);
}

struct dump {
	json_t **doc, **priv;
};

static void
grab(void *ctx, const struct incident *inc)
{
	struct dump *x = ctx;

	*x->doc = incident_to_json(inc);
	*x->priv = incident_members_json(inc);
}

Test(incident, restored_incident_resolves_after_a_restart)
{
	struct world w;
	struct incidents *e = engine(&w), *e2;
	struct incident_world iw = { w_dark, w_lit, w_failing, &w };
	struct incident copy;
	json_t *doc = NULL, *priv = NULL;
	int64_t t = T0;

	feed(e, ev(&w, "outage", t, "br3", "dns", 4, "site-c", "", "outage", 0, "no_answer"), t);
	incidents_tick(e, t + HOLD);
	cr_assert_eq(w.n, 1);

	/* what the store keeps, read back by a new engine */
	struct dump d = { &doc, &priv };

	incidents_each_open(e, grab, &d);
	cr_assert_not_null(doc);
	cr_assert_eq(incident_from_json(&copy, doc, priv), 0);
	e2 = incidents_new(HOLD, 1, &iw, on_change, &w);
	cr_assert_eq(incidents_restore(e2, &copy), 0);
	incident_clear(&copy);
	feed(e2, ev(&w, "recovery", t + 40000, "br3", "dns", 4, "site-c", "site-c", "outage", 1,
		    "answers_again"), t + 40000);
	cr_assert_eq(count(&w, INCIDENT_OUTAGE, INCIDENT_RESOLVED_NOW), 1);
	cr_assert_eq(w.t[w.n - 1].id, w.t[0].id, "the same incident resolves");
	cr_assert_eq(w.t[w.n - 1].duration_ms, 40000);
	json_decref(doc);
	json_decref(priv);
	incidents_free(e);
	incidents_free(e2);
}

Test(incident, agent_silent_opens_at_once_and_resolves)
{
	struct world w;
	struct incidents *e = engine(&w);
	struct event x;

	memset(&x, 0, sizeof(x));
	x.id = 1;
	x.time_ms = T0;
	strcpy(x.type, "agent_silent");
	strcpy(x.agent, "br1");
	strcpy(x.incident, "agent_silent/br1");
	incidents_event(e, &x, T0);
	cr_assert_eq(count(&w, INCIDENT_AGENT_SILENT, INCIDENT_OPENED), 1);
	x.id = 2;
	x.time_ms = T0 + 5000;
	strcpy(x.type, "recovery");
	x.resolves = 1;
	incidents_event(e, &x, T0 + 5000);
	cr_assert_eq(count(&w, INCIDENT_AGENT_SILENT, INCIDENT_RESOLVED_NOW), 1);
	incidents_free(e);
}

/* A guard's report as collector/collector_guard.c raises it. */
static struct event
guard_ev(struct world *w, int withdraw, int64_t t, const char *instance, const char *reason)
{
	struct event e;

	memset(&e, 0, sizeof(e));
	e.id = ++w->next_event;
	e.time_ms = t;
	snprintf(e.type, sizeof(e.type), "%s", withdraw ? "guard_withdraw" : "guard_restore");
	snprintf(e.agent, sizeof(e.agent), "guard-b");
	snprintf(e.service, sizeof(e.service), "dns");
	snprintf(withdraw ? e.from_instance : e.to_instance, RESULT_NAME_MAX, "%s", instance);
	snprintf(e.incident, sizeof(e.incident), "withdrawn/dns/%s", instance);
	e.resolves = !withdraw;
	snprintf(e.detail, sizeof(e.detail), "{\"cause\":\"guard_withdrew\",\"reason\":\"%s\"}",
		 reason);
	return e;
}

Test(incident, a_guard_withdrawal_explains_the_death_and_the_failover)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	/* DNS dies on site-b: br2 gets no answer, the management address
	 * fails, its guard withdraws it, br2 fails over to site-c. */
	feed(e, ev(&w, "outage", t, "br2", "dns", 4, "site-b", "", "outage", 0, "no_answer"), t);
	feed(e, ev(&w, "instance_down", t + 500, "", "dns", 0, "site-b", "", "instance_down", 0,
		   "management_unreachable"), t + 500);
	feed(e, guard_ev(&w, 1, t + 1000, "site-b", "3 failed probes: timeout on 198.18.255.53"),
	     t + 1000);
	feed(e, ev(&w, "recovery", t + 3000, "br2", "dns", 4, "site-b", "site-c", "outage", 1,
		   "answers_again"), t + 3000);
	feed(e, ev(&w, "catchment_change", t + 3000, "br2", "dns", 4, "site-b", "site-c",
		   "catchment_change", 0, "withdrawn"), t + 3000);
	incidents_tick(e, t + HOLD + 1);
	cr_assert_eq(w.n, 1, "one announcement, got %d", w.n);
	cr_assert_eq(w.t[0].kind, INCIDENT_WITHDRAWN);
	cr_assert_str_eq(w.t[0].summary,
			 "site-b dns withdrawn by its guard: 3 failed probes: timeout on "
			 "198.18.255.53; br2 failed over to site-c");
	cr_assert_eq(incidents_count_open(e, INCIDENT_INSTANCE_DOWN), 0);
	cr_assert_eq(incidents_count_open(e, INCIDENT_OUTAGE), 0);
	cr_assert_eq(incidents_count_open(e, INCIDENT_WITHDRAWN), 1);

	/* Restored, the management address answers, br2 comes home. */
	feed(e, guard_ev(&w, 0, t + 30000, "site-b", ""), t + 30000);
	feed(e, ev(&w, "instance_up", t + 30500, "", "dns", 0, "", "site-b", "instance_down", 1,
		   "management_answers"), t + 30500);
	cr_assert_eq(count(&w, INCIDENT_WITHDRAWN, INCIDENT_RESOLVED_NOW), 0, "br2 not home yet");
	feed(e, ev(&w, "recovery", t + 33000, "br2", "dns", 4, "site-c", "site-b", "catchment_change",
		   1, "catchment_returned"), t + 33000);
	cr_assert_eq(count(&w, INCIDENT_WITHDRAWN, INCIDENT_RESOLVED_NOW), 1);
	cr_assert_eq(w.t[w.n - 1].duration_ms, 33000);
	/* the story told at the end is the failover, not the way home */
	cr_assert(strstr(w.t[w.n - 1].summary, "br2 failed over to site-c") != NULL, "%s",
		  w.t[w.n - 1].summary);
	cr_assert_eq(w.n, 2, "one firing, one resolved");
	incidents_free(e);
}

Test(incident, a_failover_from_a_withdrawn_instance_joins_its_withdrawal)
{
	struct world w;
	struct incidents *e = engine(&w);
	int64_t t = T0;

	feed(e, guard_ev(&w, 1, t, "site-a", "rcode SERVFAIL, not NOERROR on 198.18.1.2"), t);
	feed(e, ev(&w, "catchment_change", t + 2000, "br1", "dns", 4, "site-a", "site-b",
		   "catchment_change", 0, "failover"), t + 2000);
	feed(e, ev(&w, "instance_down", t + 2500, "", "dns", 0, "site-a", "", "instance_down", 0,
		   "management_unreachable"), t + 2500);
	incidents_tick(e, t + HOLD + 1);
	cr_assert_eq(w.n, 1, "one announcement, got %d", w.n);
	cr_assert_eq(w.t[0].kind, INCIDENT_WITHDRAWN);
	cr_assert_eq(w.t[0].n_agents, 1);
	cr_assert_eq(incidents_count_open(e, INCIDENT_INSTANCE_DOWN), 0);
	/* Without a guard report the same failover is an instance_down. */
	feed(e, ev(&w, "catchment_change", t + 2000, "br4", "dns", 4, "site-c", "site-b",
		   "catchment_change", 0, "failover"), t + 2000);
	incidents_tick(e, t + 3 * HOLD);
	cr_assert_eq(incidents_count_open(e, INCIDENT_INSTANCE_DOWN), 1);
	incidents_free(e);
}
