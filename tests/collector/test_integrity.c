/* tests/collector/test_integrity.c - serial_lag, inconsistent_answer and
 * answer_mismatch from crafted check results on a fake clock, and how the
 * incident engine folds them. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "collector/incident.h"
#include "collector/integrity.h"

#define T0 1700000000000LL
#define LAG 60000
#define MAX_EV 32

static struct event evs[MAX_EV];
static int n_ev;

static void on_event(void *ctx, const struct event *ev)
{
	(void)ctx;
	cr_assert_lt(n_ev, MAX_EV);
	evs[n_ev++] = *ev;
}

static const char *digest_of(char c)
{
	static char d[4][65];
	static int k;
	char *p = d[k++ & 3];

	memset(p, c, 64);
	p[64] = '\0';
	return p;
}

/* A check record of agent in round for instance: on its management address
 * (anycast = 0) or through the anycast address, identified as instance. */
static struct result rec(const char *agent, uint64_t round, int64_t t, int anycast,
                         const char *instance, uint32_t serial, char digest)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	snprintf(r.agent, sizeof(r.agent), "%s", agent);
	snprintf(r.service, sizeof(r.service), "dns");
	snprintf(r.address, sizeof(r.address), "198.18.255.53");
	r.family = 4;
	r.target = anycast ? RESULT_TARGET_ANYCAST : RESULT_TARGET_MANAGEMENT;
	snprintf(r.instance, sizeof(r.instance), "%s", instance);
	snprintf(r.query, sizeof(r.query), "check");
	snprintf(r.check, sizeof(r.check), "soa");
	r.round = round;
	r.time_ms = t;
	r.outcome = RESULT_OK;
	r.has_serial = 1;
	r.serial = serial;
	snprintf(r.digest, sizeof(r.digest), "%s", digest_of(digest));
	return r;
}

/* One round of agent: site-a and site-b on their management addresses,
 * the anycast answer from served_by. */
static void round_of(struct integrity *g, const char *agent, uint64_t round, int64_t t,
                     uint32_t serial_a, char dig_a, uint32_t serial_b, char dig_b,
                     const char *served_by, char dig_any)
{
	struct result r[3];
	uint32_t s_any = strcmp(served_by, "site-a") == 0 ? serial_a : serial_b;

	r[0] = rec(agent, round, t, 0, "site-a", serial_a, dig_a);
	r[1] = rec(agent, round, t, 0, "site-b", serial_b, dig_b);
	r[2] = rec(agent, round, t, 1, served_by, s_any, dig_any);
	integrity_observe(g, r, 3, t, on_event, NULL);
}

static const struct event *find_ev(const char *type, int resolves)
{
	for (int i = 0; i < n_ev; i++)
		if (strcmp(evs[i].type, type) == 0 && evs[i].resolves == resolves)
			return &evs[i];
	return NULL;
}

static void reset(void)
{
	n_ev = 0;
	memset(evs, 0, sizeof(evs));
}

TestSuite(integrity, .init = reset);

Test(integrity, serial_lag_after_the_threshold_with_distance_and_agents)
{
	struct integrity *g = integrity_new(LAG);

	/* b1 is served by site-b (behind by 2), b2 by site-a */
	round_of(g, "b1", 1, T0, 12, 'a', 10, 'b', "site-b", 'b');
	round_of(g, "b2", 1, T0, 12, 'a', 10, 'b', "site-a", 'a');
	cr_assert_eq(n_ev, 0, "a lag shorter than the threshold says nothing");
	integrity_tick(g, T0 + LAG - 1, on_event, NULL);
	cr_assert_eq(n_ev, 0);
	round_of(g, "b1", 2, T0 + 30000, 12, 'a', 10, 'b', "site-b", 'b');
	integrity_tick(g, T0 + LAG, on_event, NULL);
	cr_assert_eq(n_ev, 1);
	const struct event *ev = &evs[0];
	cr_assert_str_eq(ev->type, "serial_lag");
	cr_assert_str_eq(ev->to_instance, "site-b");
	cr_assert_str_eq(ev->service, "dns");
	cr_assert_eq(ev->resolves, 0);
	json_t *d = json_loads(ev->detail, 0, NULL);
	cr_assert_not_null(d, "%s", ev->detail);
	cr_assert_str_eq(json_string_value(json_object_get(d, "instance")), "site-b");
	cr_assert_eq(json_integer_value(json_object_get(d, "serial")), 10);
	cr_assert_eq(json_integer_value(json_object_get(d, "highest")), 12);
	cr_assert_eq(json_integer_value(json_object_get(d, "behind")), 2);
	json_t *agents = json_object_get(d, "agents");
	cr_assert_eq(json_array_size(agents), 1, "%s", ev->detail);
	cr_assert_str_eq(json_string_value(json_array_get(agents, 0)), "b1");
	json_decref(d);
	/* still behind: raised once */
	integrity_tick(g, T0 + 2 * LAG, on_event, NULL);
	cr_assert_eq(n_ev, 1);
	/* it catches up: resolved */
	round_of(g, "b1", 3, T0 + 2 * LAG + 1, 12, 'a', 12, 'a', "site-b", 'a');
	ev = find_ev("recovery", 1);
	cr_assert_not_null(ev);
	cr_assert_str_eq(ev->incident, evs[0].incident);
	cr_assert_str_eq(ev->to_instance, "site-b");
	integrity_free(g);
}

Test(integrity, serial_wraps_by_rfc1982)
{
	struct integrity *g = integrity_new(1000);

	/* 4294967295 + 2 wraps to 1: the instance at 4294967295 is the one behind */
	round_of(g, "b1", 1, T0, 4294967295u, 'a', 1, 'b', "site-a", 'a');
	integrity_tick(g, T0 + 1000, on_event, NULL);
	cr_assert_eq(n_ev, 1);
	cr_assert_str_eq(evs[0].to_instance, "site-a");
	integrity_free(g);
}

Test(integrity, same_serial_different_data_is_inconsistent)
{
	struct integrity *g = integrity_new(LAG);
	struct result r = rec("b1", 1, T0, 0, "site-c", 12, 'a');

	/* site-a and site-c agree, site-b has other data under serial 12 */
	integrity_observe(g, &r, 1, T0, on_event, NULL);
	round_of(g, "b1", 1, T0, 12, 'a', 12, 'x', "site-a", 'a');
	const struct event *ev = find_ev("inconsistent_answer", 0);
	cr_assert_not_null(ev);
	cr_assert_str_eq(ev->to_instance, "site-b");
	cr_assert_null(find_ev("serial_lag", 0));
	cr_assert_eq(n_ev, 1, "only the odd one out");
	/* heal */
	round_of(g, "b1", 2, T0 + 1000, 12, 'a', 12, 'a', "site-a", 'a');
	ev = find_ev("recovery", 1);
	cr_assert_not_null(ev);
	cr_assert(strstr(ev->incident, "inconsistent_answer/") == ev->incident, "%s", ev->incident);
	integrity_free(g);
}

Test(integrity, different_serials_are_not_inconsistent)
{
	struct integrity *g = integrity_new(LAG);

	round_of(g, "b1", 1, T0, 12, 'a', 11, 'b', "site-a", 'a');
	cr_assert_null(find_ev("inconsistent_answer", 0));
	integrity_free(g);
}

Test(integrity, anycast_answer_not_the_instances_own_is_a_mismatch)
{
	struct integrity *g = integrity_new(LAG);

	/* b1's anycast answer says site-a, but differs from site-a's own */
	round_of(g, "b1", 1, T0, 12, 'a', 12, 'a', "site-a", 'e');
	const struct event *ev = find_ev("answer_mismatch", 0);
	cr_assert_not_null(ev);
	cr_assert_str_eq(ev->agent, "b1");
	cr_assert_str_eq(ev->to_instance, "site-a");
	json_t *d = json_loads(ev->detail, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(d, "anycast_digest")), digest_of('e'));
	cr_assert_str_eq(json_string_value(json_object_get(d, "management_digest")),
	                 digest_of('a'));
	json_decref(d);
	/* b2 gets the true answer: nothing for b2 */
	round_of(g, "b2", 1, T0, 12, 'a', 12, 'a', "site-a", 'a');
	cr_assert_eq(n_ev, 1);
	/* b1 again bad in the next round: still one event */
	round_of(g, "b1", 2, T0 + 1000, 12, 'a', 12, 'a', "site-a", 'e');
	cr_assert_eq(n_ev, 1);
	round_of(g, "b1", 3, T0 + 2000, 12, 'a', 12, 'a', "site-a", 'a');
	cr_assert_not_null(find_ev("recovery", 1));
	cr_assert_str_eq(find_ev("recovery", 1)->agent, "b1");
	integrity_free(g);
}

Test(integrity, each_anycast_address_is_compared)
{
	struct integrity *g = integrity_new(LAG);
	struct result r[4];

	/* the IPv4 anycast answer is site-a's own, the IPv6 one is not */
	r[0] = rec("b1", 1, T0, 1, "site-a", 12, 'a');
	r[1] = rec("b1", 1, T0, 1, "site-a", 12, 'e');
	snprintf(r[1].address, sizeof(r[1].address), "2001:db8:ffff::53");
	r[1].family = 6;
	r[2] = rec("b1", 1, T0, 0, "site-a", 12, 'a');
	r[3] = rec("b1", 1, T0, 0, "site-b", 12, 'a');
	integrity_observe(g, r, 4, T0, on_event, NULL);
	const struct event *ev = find_ev("answer_mismatch", 0);
	cr_assert_not_null(ev);
	cr_assert(strstr(ev->detail, "2001:db8:ffff::53") != NULL, "%s", ev->detail);
	cr_assert_eq(n_ev, 1);
	/* next round: v4 still fine, v6 still bad: no resolution in between */
	r[0].round = r[1].round = r[2].round = r[3].round = 2;
	integrity_observe(g, r, 4, T0 + 1000, on_event, NULL);
	cr_assert_eq(n_ev, 1, "a good answer of one address does not end the other's mismatch");
	/* both right again */
	r[1] = rec("b1", 3, T0 + 2000, 1, "site-a", 12, 'a');
	snprintf(r[1].address, sizeof(r[1].address), "2001:db8:ffff::53");
	r[0].round = r[2].round = r[3].round = 3;
	integrity_observe(g, r, 4, T0 + 2000, on_event, NULL);
	cr_assert_eq(n_ev, 2);
	cr_assert(evs[1].resolves);
	integrity_free(g);
}

Test(integrity, mismatch_needs_both_answers_of_the_same_round)
{
	struct integrity *g = integrity_new(LAG);
	struct result any = rec("b1", 2, T0, 1, "site-a", 12, 'e');
	struct result own_old = rec("b1", 1, T0 - 1000, 0, "site-a", 12, 'a');

	integrity_observe(g, &own_old, 1, T0, on_event, NULL);
	integrity_observe(g, &any, 1, T0, on_event, NULL);
	cr_assert_null(find_ev("answer_mismatch", 0), "an earlier round's own answer is no proof");
	struct result own = rec("b1", 2, T0, 0, "site-a", 12, 'a');
	integrity_observe(g, &own, 1, T0, on_event, NULL);
	cr_assert_not_null(find_ev("answer_mismatch", 0), "records of a round may come apart");
	integrity_free(g);
}

Test(integrity, records_without_a_digest_are_ignored)
{
	struct integrity *g = integrity_new(1000);
	struct result r[2];

	r[0] = rec("b1", 1, T0, 0, "site-a", 12, 'a');
	r[1] = rec("b1", 1, T0, 0, "site-b", 10, 'b');
	r[1].outcome = RESULT_MALFORMED;
	integrity_observe(g, r, 2, T0, on_event, NULL);
	integrity_tick(g, T0 + 5000, on_event, NULL);
	cr_assert_eq(n_ev, 0);
	integrity_free(g);
}

Test(integrity, restored_open_lag_resolves_when_seen_healed)
{
	struct integrity *g = integrity_new(LAG);

	integrity_restore_open(g, "serial_lag/dns/soa/site-b", "site-b");
	integrity_restore_open(g, "answer_mismatch/b1/dns/soa", "site-a");
	integrity_restore_open(g, "outage/b1/dns/4", "");      /* not ours: ignored */
	integrity_restore_open(g, "serial_lag/dns", "site-b"); /* cut short: ignored */
	/* a record of another instance alone settles nothing about site-b */
	struct result only_a = rec("b2", 1, T0, 0, "site-a", 12, 'a');
	integrity_observe(g, &only_a, 1, T0, on_event, NULL);
	cr_assert_eq(n_ev, 0, "site-b not seen yet: its incident stays open");
	round_of(g, "b1", 1, T0, 12, 'a', 12, 'a', "site-a", 'a');
	cr_assert_eq(n_ev, 2);
	const struct event *lag = NULL, *mm = NULL;
	for (int i = 0; i < n_ev; i++) {
		cr_assert(evs[i].resolves);
		if (strcmp(evs[i].incident, "serial_lag/dns/soa/site-b") == 0)
			lag = &evs[i];
		if (strcmp(evs[i].incident, "answer_mismatch/b1/dns/soa") == 0)
			mm = &evs[i];
	}
	cr_assert_not_null(lag);
	cr_assert_not_null(mm);
	cr_assert_str_eq(mm->to_instance, "site-a");
	integrity_free(g);
}

Test(integrity, lag_of_an_instance_that_stops_answering_ends)
{
	struct integrity *g = integrity_new(1000);

	round_of(g, "b1", 1, T0, 12, 'a', 10, 'b', "site-a", 'a');
	integrity_tick(g, T0 + 1000, on_event, NULL);
	cr_assert_not_null(find_ev("serial_lag", 0));
	integrity_tick(g, T0 + 14 * 60000, on_event, NULL);
	cr_assert_null(find_ev("recovery", 1), "still within the 15 minutes");
	integrity_tick(g, T0 + 16 * 60000, on_event, NULL);
	const struct event *ev = find_ev("recovery", 1);
	cr_assert_not_null(ev);
	cr_assert(strstr(ev->detail, "\"no_answers\"") != NULL, "%s", ev->detail);
	integrity_free(g);
}

/* ---- folding into incidents ---- */

static int n_told;
static struct incident told[8];

static void on_change(void *ctx, const struct incident *inc, enum incident_change what)
{
	(void)ctx;
	if (what == INCIDENT_CHANGED || n_told >= 8)
		return;
	told[n_told].kind = inc->kind;
	told[n_told].state = inc->state;
	told[n_told].n_agents = inc->n_agents;
	snprintf(told[n_told].instance, sizeof(told[n_told].instance), "%s", inc->instance);
	snprintf(told[n_told].summary, sizeof(told[n_told].summary), "%s", inc->summary);
	n_told++;
}

Test(integrity, serial_lag_becomes_an_incident_naming_instance_and_agents)
{
	struct integrity *g = integrity_new(1000);
	struct incidents *e = incidents_new(5000, 1, NULL, on_change, NULL);

	cr_assert_not_null(e);
	n_told = 0;
	round_of(g, "b1", 1, T0, 12, 'a', 10, 'b', "site-b", 'b');
	round_of(g, "b2", 1, T0, 12, 'a', 10, 'b', "site-b", 'b');
	integrity_tick(g, T0 + 1000, on_event, NULL);
	cr_assert_eq(n_ev, 1);
	evs[0].id = 1;
	incidents_event(e, &evs[0], T0 + 1000);
	cr_assert_eq(n_told, 1, "announced at once");
	cr_assert_eq(told[0].kind, INCIDENT_SERIAL_LAG);
	cr_assert_str_eq(told[0].instance, "site-b");
	cr_assert_eq(told[0].n_agents, 2, "the agents it serves are the affected ones");
	cr_assert(strstr(told[0].summary, "site-b") != NULL, "%s", told[0].summary);
	cr_assert_str_eq(incident_kind_name(INCIDENT_SERIAL_LAG), "serial_lag");
	round_of(g, "b1", 2, T0 + 2000, 12, 'a', 12, 'a', "site-b", 'a');
	const struct event *rv = find_ev("recovery", 1);
	cr_assert_not_null(rv);
	struct event r2 = *rv;
	r2.id = 2;
	incidents_event(e, &r2, T0 + 2000);
	cr_assert_eq(n_told, 2);
	cr_assert_eq(told[1].state, INCIDENT_RESOLVED);
	incidents_free(e);
	integrity_free(g);
}
