/* tests/collector/test_catchment.c - catchment tracking and event
 * classification driven by synthetic rounds on a fake clock: every event
 * type, and the transitions between them. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment.h"

#define MAX_EV 128
#define T0 1700000000000LL /* fake clock origin, ms */

struct sink {
	struct event ev[MAX_EV];
	int n;
};

static void
record(void *ctx, const struct event *ev)
{
	struct sink *s = ctx;

	cr_assert_lt(s->n, MAX_EV, "too many events");
	s->ev[s->n++] = *ev;
}

/* Inventory: dns with site-a/site-b/site-c (identities s1/s2/s3.lab, site-c
 * learned), ntp with site-a/site-b. Thresholds zero = defaults. */
static struct inventory *
make_inv(void)
{
	static const char *names[] = { "site-a", "site-b", "site-c" };
	static const char *ids[] = { "s1.lab", "s2.lab", "" };
	struct inventory *inv = calloc(1, sizeof(*inv));
	struct inv_service *s;
	int i, k;

	inv->n_services = 2;
	inv->services = calloc(2, sizeof(*inv->services));
	for (k = 0; k < 2; k++) {
		s = &inv->services[k];
		snprintf(s->name, sizeof(s->name), "%s", k == 0 ? "dns" : "ntp");
		s->protocol = k == 0 ? INV_PROTO_DNS : INV_PROTO_NTP;
		s->n_address = 1;
		snprintf(s->address[0], sizeof(s->address[0]), "%s",
			 k == 0 ? "198.18.255.53" : "198.18.255.123");
		s->timeout_ms = 1000;
		s->interval_ms = 1000;
		s->n_instances = k == 0 ? 3 : 2;
		s->instances = calloc((size_t)s->n_instances, sizeof(*s->instances));
		for (i = 0; i < s->n_instances; i++) {
			snprintf(s->instances[i].name, RESULT_NAME_MAX, "%s", names[i]);
			s->instances[i].n_management = 1;
			snprintf(s->instances[i].management[0], RESULT_ADDR_MAX, "198.18.%d.2", i + 1);
			if (k == 0)
				snprintf(s->instances[i].identity, RESULT_IDENTITY_MAX, "%s", ids[i]);
		}
	}
	return inv;
}

static void
free_inv(struct inventory *inv)
{
	int k;

	for (k = 0; k < inv->n_services; k++)
		free(inv->services[k].instances);
	free(inv->services);
	free(inv);
}

struct round {
	struct result r[32];
	size_t n;
};

static struct result *
add(struct round *rd, const char *agent, const char *service, int family, enum result_target tg)
{
	struct result *r = &rd->r[rd->n++];

	memset(r, 0, sizeof(*r));
	snprintf(r->agent, sizeof(r->agent), "%s", agent);
	snprintf(r->service, sizeof(r->service), "%s", service);
	r->family = family;
	r->target = tg;
	r->rtt_ms = -1;
	snprintf(r->address, sizeof(r->address), "%s", family == 4 ? "198.18.255.53" : "2001:db8:ffff::53");
	return r;
}

/* Anycast answer from inst (rtt) or a timeout when inst is NULL. */
static void
anycast(struct round *rd, const char *agent, int family, const char *inst, double rtt)
{
	struct result *r = add(rd, agent, "dns", family, RESULT_TARGET_ANYCAST);

	snprintf(r->query, sizeof(r->query), "nsid");
	if (inst == NULL) {
		r->outcome = RESULT_TIMEOUT;
		return;
	}
	r->outcome = RESULT_OK;
	r->rtt_ms = rtt;
	snprintf(r->instance, sizeof(r->instance), "%s", inst);
	snprintf(r->identity, sizeof(r->identity), "%s.id", inst);
	snprintf(r->identity_source, sizeof(r->identity_source), "nsid");
}

static void
mgmt(struct round *rd, const char *agent, const char *inst, int ok, double rtt)
{
	struct result *r = add(rd, agent, "dns", 4, RESULT_TARGET_MANAGEMENT);

	snprintf(r->instance, sizeof(r->instance), "%s", inst);
	snprintf(r->address, sizeof(r->address), "198.18.%c.2", inst[5] - 'a' + '1');
	snprintf(r->query, sizeof(r->query), "nsid");
	r->outcome = ok ? RESULT_OK : RESULT_TIMEOUT;
	r->rtt_ms = ok ? rtt : -1;
}

/* Feed one round at time t (round number from t) and let it settle. */
static void
feed(struct catchment *c, struct round *rd, int64_t t, struct sink *s)
{
	size_t i;

	for (i = 0; i < rd->n; i++) {
		rd->r[i].round = (uint64_t)(t / 1000);
		rd->r[i].time_ms = t;
	}
	catchment_observe(c, rd->r, rd->n, t + 20, record, s);
	catchment_tick(c, t + 1600, record, s);
	rd->n = 0;
}

/* A whole dns round of one agent: anycast v4 answered by inst (NULL =
 * silence), management of site-a/site-b up unless listed in down. */
static void
dns_round(struct catchment *c, const char *agent, int64_t t, const char *inst, const char *down,
	  struct sink *s)
{
	struct round rd = { .n = 0 };

	anycast(&rd, agent, 4, inst, 10);
	mgmt(&rd, agent, "site-a", strstr(down, "site-a") == NULL, 9);
	mgmt(&rd, agent, "site-b", strstr(down, "site-b") == NULL, 12);
	feed(c, &rd, t, s);
}

static int
count(const struct sink *s, const char *type)
{
	int i, n = 0;

	for (i = 0; i < s->n; i++)
		n += strcmp(s->ev[i].type, type) == 0;
	return n;
}

static const struct event *
find(const struct sink *s, const char *type, int nth)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ev[i].type, type) == 0 && nth-- == 0)
			return &s->ev[i];
	cr_assert_fail("no %s event #%d among %d", type, nth, s->n);
	return NULL;
}

static json_t *
detail(const struct event *ev)
{
	json_error_t err;
	json_t *d = json_loads(ev->detail, 0, &err);

	cr_assert_not_null(d, "detail is not JSON: %s", ev->detail);
	return d;
}

static const char *
cause(const struct event *ev, char *buf, size_t len)
{
	json_t *d = detail(ev);

	snprintf(buf, len, "%s", json_string_value(json_object_get(d, "cause")));
	json_decref(d);
	return buf;
}

struct fixture {
	struct inventory *inv;
	struct catchment *c;
	struct sink s;
};

static void
setup(struct fixture *f, void (*tune)(struct inv_thresholds *))
{
	memset(f, 0, sizeof(*f));
	f->inv = make_inv();
	if (tune != NULL)
		tune(&f->inv->thresholds);
	f->c = catchment_new(f->inv);
	cr_assert_not_null(f->c);
}

static void
teardown(struct fixture *f)
{
	catchment_free(f->c);
	free_inv(f->inv);
}

TestSuite(catchment);

Test(catchment, first_answer_sets_catchment_without_event)
{
	struct fixture f;
	struct catchment_row *rows;
	size_t n;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	cr_assert_eq(f.s.n, 0);
	n = catchment_snapshot(f.c, &rows);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(rows[0].agent, "br1");
	cr_assert_str_eq(rows[0].instance, "site-a");
	cr_assert_str_eq(rows[0].status, "ok");
	cr_assert_eq(rows[0].family, 4);
	cr_assert_eq(rows[0].since_ms, T0);
	free(rows);
	teardown(&f);
}

Test(catchment, route_change_needs_two_rounds_then_returns)
{
	struct fixture f;
	const struct event *ev;
	char buf[64];

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 1000, "site-b", "", &f.s);
	cr_assert_eq(f.s.n, 0, "one round from a new instance is not a change");
	dns_round(f.c, "br1", T0 + 2000, "site-b", "", &f.s);
	cr_assert_eq(f.s.n, 1);
	ev = find(&f.s, "catchment_change", 0);
	cr_assert_str_eq(ev->from_instance, "site-a");
	cr_assert_str_eq(ev->to_instance, "site-b");
	cr_assert_str_eq(ev->agent, "br1");
	cr_assert_str_eq(ev->service, "dns");
	cr_assert_eq(ev->family, 4);
	cr_assert_eq(ev->resolves, 0);
	cr_assert_str_eq(ev->incident, "catchment_change/br1/dns/4");
	cr_assert_str_eq(cause(ev, buf, sizeof(buf)), "route_change");
	cr_assert_eq(ev->time_ms, T0 + 2000);

	dns_round(f.c, "br1", T0 + 3000, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 4000, "site-a", "", &f.s);
	cr_assert_eq(f.s.n, 2);
	ev = find(&f.s, "recovery", 0);
	cr_assert_eq(ev->resolves, 1);
	cr_assert_str_eq(ev->incident, "catchment_change/br1/dns/4");
	cr_assert_str_eq(ev->to_instance, "site-a");
	teardown(&f);
}

static void
hyst1(struct inv_thresholds *th)
{
	th->hysteresis = 1;
}

Test(catchment, hysteresis_one_changes_at_once)
{
	struct fixture f;

	setup(&f, hyst1);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 1000, "site-b", "", &f.s);
	cr_assert_eq(count(&f.s, "catchment_change"), 1);
	cr_assert_eq(find(&f.s, "catchment_change", 0)->time_ms, T0 + 1000);
	teardown(&f);
}

Test(catchment, interrupted_streak_is_no_change)
{
	struct fixture f;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 1000, "site-b", "", &f.s);
	dns_round(f.c, "br1", T0 + 2000, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 3000, "site-b", "", &f.s);
	dns_round(f.c, "br1", T0 + 4000, "site-a", "", &f.s);
	cr_assert_eq(count(&f.s, "catchment_change"), 0);
	teardown(&f);
}

Test(catchment, failover_then_recovery)
{
	struct fixture f;
	const struct event *ev;
	char buf[64];
	json_t *d;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 1000, "site-b", "site-a", &f.s);
	dns_round(f.c, "br1", T0 + 2000, "site-b", "site-a", &f.s);
	ev = find(&f.s, "catchment_change", 0);
	cr_assert_str_eq(cause(ev, buf, sizeof(buf)), "failover");
	d = detail(ev);
	cr_assert_gt(json_array_size(json_object_get(d, "evidence")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(d, "evidence"), 0), "outcome")),
			 "ok");
	json_decref(d);
	dns_round(f.c, "br1", T0 + 3000, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 4000, "site-a", "", &f.s);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "catchment_change/br1/dns/4");
	cr_assert_eq(ev->resolves, 1);
	cr_assert_eq(count(&f.s, "catchment_change"), 1);
	teardown(&f);
}

Test(catchment, outage_after_two_silent_rounds_and_recovery)
{
	struct fixture f;
	const struct event *ev;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 1000, NULL, "", &f.s);
	cr_assert_eq(f.s.n, 0);
	dns_round(f.c, "br1", T0 + 2000, NULL, "", &f.s);
	dns_round(f.c, "br1", T0 + 3000, NULL, "", &f.s);
	cr_assert_eq(count(&f.s, "outage"), 1, "one outage event, not one per round");
	ev = find(&f.s, "outage", 0);
	cr_assert_str_eq(ev->from_instance, "site-a");
	cr_assert_str_eq(ev->to_instance, "");
	cr_assert_str_eq(ev->incident, "outage/br1/dns/4");
	dns_round(f.c, "br1", T0 + 4000, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 5000, "site-a", "", &f.s);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "outage/br1/dns/4");
	cr_assert_eq(ev->resolves, 1);
	cr_assert_eq(count(&f.s, "catchment_change"), 0);
	teardown(&f);
}

Test(catchment, chaos_timeout_with_service_answer_is_no_outage)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct result *r;
	int k;

	setup(&f, NULL);
	for (k = 0; k < 5; k++) {
		anycast(&rd, "br1", 4, NULL, 0); /* id.server timed out */
		snprintf(rd.r[rd.n - 1].query, sizeof(rd.r[0].query), "id.server");
		r = add(&rd, "br1", "dns", 4, RESULT_TARGET_ANYCAST);
		snprintf(r->query, sizeof(r->query), "service");
		r->outcome = RESULT_OK; /* answered, no identity */
		r->rtt_ms = 5;
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(f.s.n, 0);
	teardown(&f);
}

Test(catchment, outage_during_failover)
{
	struct fixture f;
	const struct event *ev;
	char buf[64];
	int64_t t = T0;

	setup(&f, NULL);
	dns_round(f.c, "br1", t, "site-a", "", &f.s);
	for (t += 1000; t < T0 + 4000; t += 1000)
		dns_round(f.c, "br1", t, NULL, "site-a", &f.s);
	cr_assert_eq(count(&f.s, "outage"), 1);
	dns_round(f.c, "br1", t, "site-b", "site-a", &f.s);
	dns_round(f.c, "br1", t + 1000, "site-b", "site-a", &f.s);
	cr_assert_eq(count(&f.s, "recovery"), 1);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "outage/br1/dns/4");
	cr_assert_str_eq(ev->to_instance, "site-b");
	ev = find(&f.s, "catchment_change", 0);
	cr_assert_str_eq(ev->from_instance, "site-a");
	cr_assert_str_eq(ev->to_instance, "site-b");
	cr_assert_str_eq(cause(ev, buf, sizeof(buf)), "failover");
	teardown(&f);
}

Test(catchment, unknown_instance_at_once_then_gone)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct result *r;
	struct catchment_row *rows;
	const struct event *ev;
	json_t *d;
	int k;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	for (k = 1; k <= 3; k++) {
		r = add(&rd, "br1", "dns", 4, RESULT_TARGET_ANYCAST);
		r->outcome = RESULT_OK;
		r->rtt_ms = 3;
		snprintf(r->identity, sizeof(r->identity), "rogue.example");
		mgmt(&rd, "br1", "site-a", 1, 9);
		feed(f.c, &rd, T0 + k * 1000, &f.s);
		if (k == 1)
			cr_assert_eq(count(&f.s, "unknown_instance"), 1, "raised without hysteresis");
	}
	cr_assert_eq(count(&f.s, "unknown_instance"), 1);
	ev = find(&f.s, "unknown_instance", 0);
	cr_assert_str_eq(ev->from_instance, "site-a");
	cr_assert_str_eq(ev->incident, "unknown_instance/br1/dns/4");
	d = detail(ev);
	cr_assert_str_eq(json_string_value(json_object_get(d, "identity")), "rogue.example");
	json_decref(d);
	cr_assert_eq(catchment_snapshot(f.c, &rows), 1);
	cr_assert_str_eq(rows[0].status, "unknown_instance");
	cr_assert_str_eq(rows[0].instance, "");
	cr_assert_str_eq(rows[0].identity, "rogue.example");
	free(rows);
	dns_round(f.c, "br1", T0 + 4000, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 5000, "site-a", "", &f.s);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "unknown_instance/br1/dns/4");
	cr_assert_eq(ev->resolves, 1);
	cr_assert_eq(count(&f.s, "catchment_change"), 0);
	teardown(&f);
}

Test(catchment, configured_and_learned_identities_are_no_hijack)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct result *r;
	int k;

	setup(&f, hyst1);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	/* the agent left instance empty: identity s2.lab is configured for
	 * site-b; "c.learned" is what site-c's management address says */
	for (k = 1; k <= 2; k++) {
		r = add(&rd, "br1", "dns", 4, RESULT_TARGET_ANYCAST);
		r->outcome = RESULT_OK;
		snprintf(r->identity, sizeof(r->identity), "%s", k == 1 ? "s2.lab" : "c.learned");
		r = add(&rd, "br1", "dns", 4, RESULT_TARGET_MANAGEMENT);
		r->outcome = RESULT_OK;
		snprintf(r->instance, sizeof(r->instance), "site-c");
		snprintf(r->identity, sizeof(r->identity), "c.learned");
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(count(&f.s, "unknown_instance"), 0);
	cr_assert_eq(count(&f.s, "catchment_change"), 2);
	cr_assert_str_eq(find(&f.s, "catchment_change", 0)->to_instance, "site-b");
	cr_assert_str_eq(find(&f.s, "catchment_change", 1)->to_instance, "site-c");
	teardown(&f);
}

Test(catchment, ntp_unknown_outcome_is_no_hijack_nor_outage)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct result *r;
	int k;

	setup(&f, NULL);
	for (k = 0; k < 4; k++) {
		r = add(&rd, "br1", "ntp", 4, RESULT_TARGET_ANYCAST);
		r->outcome = k % 2 ? RESULT_UNKNOWN : RESULT_AMBIGUOUS;
		r->rtt_ms = 2;
		snprintf(r->identity, sizeof(r->identity), "2/192.0.2.1/123456");
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(f.s.n, 0);
	teardown(&f);
}

static void
split_tune(struct inv_thresholds *th)
{
	th->split_window_ms = 10000;
	th->split_min_switches = 3;
}

Test(catchment, split_then_single_instance)
{
	struct fixture f;
	const struct event *ev;
	struct catchment_row *rows;
	json_t *d;
	int64_t t;
	int k;

	setup(&f, split_tune);
	for (k = 0; k < 8; k++)
		dns_round(f.c, "br1", T0 + k * 1000, k % 2 ? "site-b" : "site-a", "", &f.s);
	cr_assert_eq(count(&f.s, "split"), 1);
	cr_assert_eq(count(&f.s, "catchment_change"), 0);
	ev = find(&f.s, "split", 0);
	cr_assert_str_eq(ev->incident, "split/br1/dns/4");
	d = detail(ev);
	cr_assert_eq(json_array_size(json_object_get(d, "instances")), 2);
	json_decref(d);
	cr_assert_eq(catchment_snapshot(f.c, &rows), 1);
	cr_assert_str_eq(rows[0].status, "split");
	free(rows);
	/* only site-b from now on: split ends after the window, then the
	 * catchment change that was held is reported once */
	for (t = T0 + 8000; t < T0 + 8000 + 9000; t += 1000)
		dns_round(f.c, "br1", t, "site-b", "", &f.s);
	cr_assert_eq(count(&f.s, "recovery"), 0, "still inside the window");
	dns_round(f.c, "br1", t, "site-b", "", &f.s);
	dns_round(f.c, "br1", t + 1000, "site-b", "", &f.s);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "split/br1/dns/4");
	cr_assert_eq(ev->resolves, 1);
	cr_assert_eq(count(&f.s, "catchment_change"), 1);
	cr_assert_str_eq(find(&f.s, "catchment_change", 0)->to_instance, "site-b");
	teardown(&f);
}

Test(catchment, two_instances_in_one_round_is_split)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	int k;

	setup(&f, split_tune);
	for (k = 0; k < 4; k++) {
		anycast(&rd, "br1", 4, "site-a", 10);
		anycast(&rd, "br1", 4, "site-b", 11);
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(count(&f.s, "split"), 1);
	cr_assert_eq(f.s.n, 1);
	teardown(&f);
}

static void
flap_tune(struct inv_thresholds *th)
{
	th->hysteresis = 1;
	th->flap_changes = 4;
	th->flap_window_ms = 60000;
	th->flap_stable_ms = 20000;
	th->split_window_ms = 1000; /* answers 5 s apart are no split */
}

Test(catchment, flapping_holds_changes_then_stable)
{
	struct fixture f;
	const struct event *ev;
	int64_t t = T0;
	int k;

	setup(&f, flap_tune);
	dns_round(f.c, "br1", t, "site-a", "", &f.s);
	for (k = 1; k <= 8; k++)
		dns_round(f.c, "br1", t += 5000, k % 2 ? "site-b" : "site-a", "", &f.s);
	/* changes 1..3: change, return, change; 4th: flapping; 5..8 held */
	cr_assert_eq(count(&f.s, "flapping"), 1);
	cr_assert_eq(count(&f.s, "catchment_change"), 2);
	cr_assert_eq(count(&f.s, "recovery"), 1);
	ev = find(&f.s, "flapping", 0);
	cr_assert_str_eq(ev->incident, "flapping/br1/dns/4");
	/* last answer site-a == home; stable for flap_stable ends it */
	for (k = 0; k < 25; k++)
		dns_round(f.c, "br1", t += 1000, "site-a", "", &f.s);
	cr_assert_eq(count(&f.s, "recovery"), 3, "flapping resolved and catchment back home");
	ev = find(&f.s, "recovery", 1);
	cr_assert_str_eq(ev->incident, "flapping/br1/dns/4");
	cr_assert_eq(ev->resolves, 1);
	ev = find(&f.s, "recovery", 2);
	cr_assert_str_eq(ev->incident, "catchment_change/br1/dns/4");
	cr_assert_eq(count(&f.s, "flapping"), 1);
	teardown(&f);
}

static void
split_flap_tune(struct inv_thresholds *th)
{
	th->hysteresis = 1;
	th->flap_changes = 4;
	th->split_window_ms = 10000;
}

Test(catchment, alternation_is_one_split_not_also_flapping)
{
	struct fixture f;
	int k;

	setup(&f, split_flap_tune);
	for (k = 0; k < 12; k++)
		dns_round(f.c, "br1", T0 + k * 1000, k % 2 ? "site-b" : "site-a", "", &f.s);
	cr_assert_eq(count(&f.s, "split"), 1);
	cr_assert_eq(count(&f.s, "flapping"), 0);
	teardown(&f);
}

static void
k2(struct inv_thresholds *th)
{
	th->instance_down_agents = 2;
	th->instance_down_rounds = 2;
}

Test(catchment, instance_down_needs_two_agents_with_k2)
{
	struct fixture f;
	const struct event *ev;
	int k;

	setup(&f, k2);
	for (k = 0; k < 4; k++)
		dns_round(f.c, "br1", T0 + k * 1000, "site-b", "site-a", &f.s);
	cr_assert_eq(count(&f.s, "instance_down"), 0, "one agent is not enough with K=2");
	dns_round(f.c, "br2", T0 + 4000, "site-b", "site-a", &f.s);
	cr_assert_eq(count(&f.s, "instance_down"), 0, "one failed round is not enough");
	dns_round(f.c, "br2", T0 + 5000, "site-b", "site-a", &f.s);
	cr_assert_eq(count(&f.s, "instance_down"), 1);
	ev = find(&f.s, "instance_down", 0);
	cr_assert_str_eq(ev->agent, "");
	cr_assert_str_eq(ev->from_instance, "site-a");
	cr_assert_eq(ev->family, 0);
	cr_assert_str_eq(ev->incident, "instance_down/dns/site-a");
	dns_round(f.c, "br1", T0 + 6000, "site-b", "site-a", &f.s);
	cr_assert_eq(count(&f.s, "instance_down"), 1, "no repeat while down");
	dns_round(f.c, "br2", T0 + 7000, "site-b", "", &f.s);
	cr_assert_eq(count(&f.s, "instance_up"), 1);
	ev = find(&f.s, "instance_up", 0);
	cr_assert_str_eq(ev->incident, "instance_down/dns/site-a");
	cr_assert_str_eq(ev->to_instance, "site-a");
	cr_assert_eq(ev->resolves, 1);
	cr_assert_eq(count(&f.s, "instance_down"), 1);
	teardown(&f);
}

Test(catchment, instance_down_with_k1_from_one_agent)
{
	struct fixture f;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-b", "site-a", &f.s);
	dns_round(f.c, "br1", T0 + 1000, "site-b", "site-a", &f.s);
	cr_assert_eq(count(&f.s, "instance_down"), 1);
	teardown(&f);
}

static void
sub_tune(struct inv_thresholds *th)
{
	th->suboptimal_ms = 20;
	th->suboptimal_pct = 50;
	th->suboptimal_for_ms = 10000;
}

/* anycast answered by site-b at rtt, management site-a 10 ms, site-b rtt */
static void
slow_round(struct catchment *c, int64_t t, double rtt, struct sink *s)
{
	struct round rd = { .n = 0 };

	anycast(&rd, "br1", 4, "site-b", rtt);
	mgmt(&rd, "br1", "site-a", 1, 10);
	mgmt(&rd, "br1", "site-b", 1, rtt);
	feed(c, &rd, t, s);
}

Test(catchment, suboptimal_brief_is_ignored)
{
	struct fixture f;
	int k;

	setup(&f, sub_tune);
	for (k = 0; k < 5; k++)
		slow_round(f.c, T0 + k * 1000, 80, &f.s);
	for (k = 5; k < 10; k++)
		slow_round(f.c, T0 + k * 1000, 12, &f.s);
	for (k = 10; k < 18; k++)
		slow_round(f.c, T0 + k * 1000, 80, &f.s);
	cr_assert_eq(f.s.n, 0);
	teardown(&f);
}

Test(catchment, suboptimal_sustained_then_normal)
{
	struct fixture f;
	const struct event *ev;
	json_t *d;
	int k;

	setup(&f, sub_tune);
	for (k = 0; k <= 12; k++)
		slow_round(f.c, T0 + k * 1000, 80, &f.s);
	cr_assert_eq(count(&f.s, "suboptimal"), 1);
	ev = find(&f.s, "suboptimal", 0);
	cr_assert_eq(ev->time_ms, T0 + 10000);
	cr_assert_str_eq(ev->from_instance, "site-b");
	cr_assert_str_eq(ev->to_instance, "site-a");
	d = detail(ev);
	cr_assert_float_eq(json_real_value(json_object_get(d, "anycast_rtt_ms")), 80, 0.01);
	cr_assert_float_eq(json_real_value(json_object_get(d, "best_management_rtt_ms")), 10, 0.01);
	json_decref(d);
	/* 25 ms vs 10 ms: 15 ms slower, below the 20 ms bar */
	slow_round(f.c, T0 + 13000, 25, &f.s);
	slow_round(f.c, T0 + 14000, 25, &f.s);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "suboptimal/br1/dns/4");
	teardown(&f);
}

Test(catchment, families_are_tracked_apart)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct catchment_row *rows;
	size_t n, i;
	int k;

	setup(&f, NULL);
	for (k = 0; k < 3; k++) {
		anycast(&rd, "br1", 4, k == 0 ? "site-a" : NULL, 5);
		anycast(&rd, "br1", 6, "site-a", 5);
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(f.s.n, 1);
	cr_assert_str_eq(f.s.ev[0].type, "outage");
	cr_assert_eq(f.s.ev[0].family, 4);
	n = catchment_snapshot(f.c, &rows);
	cr_assert_eq(n, 2);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(rows[i].status, rows[i].family == 4 ? "outage" : "ok");
	free(rows);
	teardown(&f);
}

Test(catchment, round_split_across_batches_is_evaluated_whole)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	int k;

	setup(&f, NULL);
	for (k = 0; k < 4; k++) {
		/* a batch cut inside the round: the answer first, the CHAOS
		 * timeout in the next batch sent right after */
		anycast(&rd, "br1", 4, "site-a", 5);
		rd.r[0].round = (uint64_t)k;
		rd.r[0].time_ms = T0 + k * 1000;
		catchment_observe(f.c, rd.r, 1, T0 + k * 1000 + 1000, record, &f.s);
		catchment_tick(f.c, T0 + k * 1000 + 1100, record, &f.s);
		rd.n = 0;
		anycast(&rd, "br1", 4, NULL, 0);
		rd.r[0].round = (uint64_t)k;
		rd.r[0].time_ms = T0 + k * 1000;
		catchment_observe(f.c, rd.r, 1, T0 + k * 1000 + 1150, record, &f.s);
		rd.n = 0;
	}
	catchment_tick(f.c, T0 + 10000, record, &f.s);
	cr_assert_eq(f.s.n, 0);
	teardown(&f);
}

Test(catchment, last_round_is_evaluated_after_a_quiet_moment)
{
	struct fixture f;
	struct round rd = { .n = 0 };

	setup(&f, hyst1);
	anycast(&rd, "br1", 4, "site-a", 5);
	feed(f.c, &rd, T0, &f.s);
	anycast(&rd, "br1", 4, "site-b", 5);
	rd.r[0].round = 2;
	rd.r[0].time_ms = T0 + 1000;
	catchment_observe(f.c, rd.r, 1, T0 + 1500, record, &f.s);
	catchment_tick(f.c, T0 + 1600, record, &f.s);
	cr_assert_eq(f.s.n, 0, "more records of that round may still come");
	catchment_tick(f.c, T0 + 1800, record, &f.s);
	cr_assert_eq(f.s.n, 1);
	cr_assert_str_eq(f.s.ev[0].type, "catchment_change");
	teardown(&f);
}

Test(catchment, round_with_every_address_is_evaluated_at_once)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	int k;

	setup(&f, hyst1);
	for (k = 0; k < 2; k++) {
		anycast(&rd, "br1", 4, k == 0 ? "site-a" : "site-b", 5);
		mgmt(&rd, "br1", "site-a", 1, 9);
		mgmt(&rd, "br1", "site-b", 1, 9);
		if (k == 1)
			rd.n--; /* site-b's management record still missing */
		mgmt(&rd, "br1", "site-c", 1, 9);
		for (size_t i = 0; i < rd.n; i++) {
			rd.r[i].round = (uint64_t)k + 1;
			rd.r[i].time_ms = T0 + k * 1000;
		}
		catchment_observe(f.c, rd.r, rd.n, T0 + k * 1000 + 10, record, &f.s);
		rd.n = 0;
	}
	cr_assert_eq(f.s.n, 0, "round 2 lacks an address: it waits");
	mgmt(&rd, "br1", "site-b", 1, 9);
	rd.r[0].round = 2;
	rd.r[0].time_ms = T0 + 1000;
	catchment_observe(f.c, rd.r, 1, T0 + 1020, record, &f.s);
	cr_assert_eq(f.s.n, 1, "complete now, evaluated without waiting for a tick");
	cr_assert_str_eq(f.s.ev[0].type, "catchment_change");
	teardown(&f);
}

Test(catchment, newer_round_completes_the_previous_one)
{
	struct fixture f;
	struct result r[2];
	struct round rd = { .n = 0 };

	setup(&f, hyst1);
	anycast(&rd, "br1", 4, "site-a", 5);
	anycast(&rd, "br1", 4, "site-b", 5);
	r[0] = rd.r[0];
	r[1] = rd.r[1];
	r[0].round = 1;
	r[1].round = 2;
	r[0].time_ms = T0;
	r[1].time_ms = T0 + 1000;
	catchment_observe(f.c, &r[0], 1, T0 + 100, record, &f.s);
	catchment_observe(f.c, &r[1], 1, T0 + 110, record, &f.s);
	cr_assert_eq(f.s.n, 0, "round 2 is still open");
	catchment_tick(f.c, T0 + 400, record, &f.s);
	cr_assert_eq(f.s.n, 1);
	teardown(&f);
}

Test(catchment, backlog_of_many_rounds_in_one_batch)
{
	struct fixture f;
	struct result r[40];
	struct round rd = { .n = 0 };
	int k;

	setup(&f, NULL);
	for (k = 0; k < 20; k++) {
		anycast(&rd, "br1", 4, k < 10 ? "site-a" : "site-b", 5);
		r[k] = rd.r[0];
		r[k].round = (uint64_t)k + 1;
		r[k].time_ms = T0 + k * 1000;
		rd.n = 0;
	}
	catchment_observe(f.c, r, 20, T0 + 60000, record, &f.s);
	catchment_tick(f.c, T0 + 62000, record, &f.s);
	cr_assert_eq(f.s.n, 1);
	cr_assert_eq(f.s.ev[0].time_ms, T0 + 11000, "event time is the round's time");
	teardown(&f);
}

Test(catchment, restore_keeps_open_outage)
{
	struct fixture f;
	struct catchment_row row;

	setup(&f, NULL);
	memset(&row, 0, sizeof(row));
	snprintf(row.agent, sizeof(row.agent), "br1");
	snprintf(row.service, sizeof(row.service), "dns");
	row.family = 4;
	snprintf(row.status, sizeof(row.status), "outage");
	row.rtt_ms = -1;
	catchment_restore(f.c, &row, 1);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 1000, "site-a", "", &f.s);
	cr_assert_eq(f.s.n, 1);
	cr_assert_str_eq(f.s.ev[0].type, "recovery");
	cr_assert_str_eq(f.s.ev[0].incident, "outage/br1/dns/4");
	teardown(&f);
}

Test(catchment, restore_keeps_open_unknown_identity_at_home)
{
	struct fixture f;
	struct catchment_row row;
	struct round rd = { .n = 0 };
	struct result *r;
	const struct event *ev;
	int k;

	setup(&f, NULL);
	memset(&row, 0, sizeof(row));
	snprintf(row.agent, sizeof(row.agent), "br1");
	snprintf(row.service, sizeof(row.service), "dns");
	row.family = 4;
	snprintf(row.status, sizeof(row.status), "unknown_instance");
	snprintf(row.identity, sizeof(row.identity), "rogue.example");
	snprintf(row.home, sizeof(row.home), "site-a");
	row.rtt_ms = 3;
	catchment_restore(f.c, &row, 1);
	for (k = 0; k < 3; k++) {
		r = add(&rd, "br1", "dns", 4, RESULT_TARGET_ANYCAST);
		r->outcome = RESULT_OK;
		r->rtt_ms = 3;
		snprintf(r->identity, sizeof(r->identity), "rogue.example");
		mgmt(&rd, "br1", "site-a", 1, 9);
		mgmt(&rd, "br1", "site-b", 1, 12);
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(f.s.n, 0, "the hijack goes on: nothing new (got %d events, first %s)", f.s.n,
		     f.s.n > 0 ? f.s.ev[0].type : "-");
	dns_round(f.c, "br1", T0 + 3000, "site-a", "", &f.s);
	dns_round(f.c, "br1", T0 + 4000, "site-a", "", &f.s);
	cr_assert_eq(f.s.n, 1);
	ev = find(&f.s, "recovery", 0);
	cr_assert_str_eq(ev->incident, "unknown_instance/br1/dns/4");
	cr_assert_eq(count(&f.s, "catchment_change"), 0);
	teardown(&f);
}

Test(catchment, unknown_service_and_agentless_records_are_ignored)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct catchment_row *rows;
	int k;

	setup(&f, NULL);
	for (k = 0; k < 3; k++) {
		anycast(&rd, "br1", 4, NULL, 0);
		snprintf(rd.r[0].service, sizeof(rd.r[0].service), "nope");
		anycast(&rd, "", 4, NULL, 0);
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	cr_assert_eq(f.s.n, 0);
	cr_assert_eq(catchment_snapshot(f.c, &rows), 0);
	cr_assert_not_null(rows, "an empty snapshot is still an array (qsort-safe)");
	free(rows);
	teardown(&f);
}

Test(catchment, reload_keeps_state_of_services_that_remain)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct catchment_row *rows;
	struct inventory *inv2;
	struct result *r;
	size_t n;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	r = add(&rd, "br1", "ntp", 4, RESULT_TARGET_ANYCAST);
	r->outcome = RESULT_OK;
	snprintf(r->instance, sizeof(r->instance), "site-b");
	feed(f.c, &rd, T0, &f.s);
	cr_assert_eq(catchment_snapshot(f.c, &rows), 2);
	free(rows);

	inv2 = make_inv();
	inv2->n_services = 1; /* ntp removed */
	catchment_set_inventory(f.c, inv2);
	n = catchment_snapshot(f.c, &rows);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(rows[0].service, "dns");
	cr_assert_str_eq(rows[0].instance, "site-a");
	free(rows);
	/* the catchment is remembered: one round from site-b is no change yet */
	dns_round(f.c, "br1", T0 + 1000, "site-b", "", &f.s);
	cr_assert_eq(f.s.n, 0);
	dns_round(f.c, "br1", T0 + 2000, "site-b", "", &f.s);
	cr_assert_eq(count(&f.s, "catchment_change"), 1);
	inv2->n_services = 2;
	free_inv(inv2);
	teardown(&f);
}

/* One ntp round: site-a's management fingerprint, the anycast reply's. */
static void
ntp_round(struct catchment *c, int64_t t, enum result_outcome o, const char *any_id,
	  struct sink *s)
{
	struct round rd = { .n = 0 };
	struct result *r;

	r = add(&rd, "br1", "ntp", 4, RESULT_TARGET_MANAGEMENT);
	r->outcome = RESULT_OK;
	snprintf(r->instance, sizeof(r->instance), "site-a");
	snprintf(r->identity, sizeof(r->identity), "s3/127.127.1.1/%llx", (unsigned long long)t);
	r = add(&rd, "br1", "ntp", 4, RESULT_TARGET_ANYCAST);
	r->outcome = o;
	r->rtt_ms = 1;
	snprintf(r->identity, sizeof(r->identity), "%s", any_id);
	if (o == RESULT_OK)
		snprintf(r->instance, sizeof(r->instance), "site-a");
	feed(c, &rd, t, s);
}

Test(catchment, ntp_fingerprint_of_a_known_instance_is_no_hijack)
{
	struct fixture f;
	int k;

	setup(&f, NULL);
	ntp_round(f.c, T0, RESULT_OK, "s3/127.127.1.1/1", &f.s);
	/* reference time moved between the probes: same stratum and refid */
	for (k = 1; k <= 3; k++)
		ntp_round(f.c, T0 + k * 1000, RESULT_UNKNOWN, "s3/127.127.1.1/ffff", &f.s);
	cr_assert_eq(f.s.n, 0);
	teardown(&f);
}

Test(catchment, ntp_foreign_fingerprint_is_unknown_instance)
{
	struct fixture f;
	const struct event *ev;
	json_t *d;

	setup(&f, NULL);
	ntp_round(f.c, T0, RESULT_OK, "s3/127.127.1.1/1", &f.s);
	ntp_round(f.c, T0 + 1000, RESULT_UNKNOWN, "s9/127.127.1.1/abc", &f.s);
	cr_assert_eq(count(&f.s, "unknown_instance"), 1);
	ev = find(&f.s, "unknown_instance", 0);
	cr_assert_str_eq(ev->service, "ntp");
	cr_assert_str_eq(ev->from_instance, "site-a");
	d = detail(ev);
	cr_assert_str_eq(json_string_value(json_object_get(d, "identity")), "s9/127.127.1.1/abc");
	json_decref(d);
	ntp_round(f.c, T0 + 2000, RESULT_OK, "s3/127.127.1.1/2", &f.s);
	ntp_round(f.c, T0 + 3000, RESULT_OK, "s3/127.127.1.1/3", &f.s);
	cr_assert_str_eq(find(&f.s, "recovery", 0)->incident, "unknown_instance/br1/ntp/4");
	teardown(&f);
}

/* A rogue server giving a new identity every round, and an agent naming a
 * new instance every round: the state keeps only the strings its streams
 * still refer to, so memory stays flat however long this goes on. */
Test(catchment, strings_from_the_network_are_not_kept_forever)
{
	struct fixture f;
	struct round rd = { .n = 0 };
	struct result *r;
	size_t base;
	int k;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	base = catchment_strings(f.c);
	for (k = 1; k <= 2000; k++) {
		r = add(&rd, "br1", "dns", 4, RESULT_TARGET_ANYCAST);
		r->outcome = RESULT_OK;
		r->rtt_ms = 3;
		if (k % 2)
			snprintf(r->identity, sizeof(r->identity), "rogue-%d.example", k);
		else
			snprintf(r->instance, sizeof(r->instance), "made-up-%d", k);
		mgmt(&rd, "br1", "site-a", 1, 9);
		feed(f.c, &rd, T0 + k * 1000, &f.s);
	}
	/* the history (32 answers), candidate, identities: well under 2,000 */
	cr_assert_lt(catchment_strings(f.c), base + 40, "%zu strings kept (%zu at start)",
		     catchment_strings(f.c), base);
	cr_assert_geq(count(&f.s, "unknown_instance"), 1);
	teardown(&f);
}

/* The signature follows what a dashboard shows: a new instance changes it,
 * a new RTT or last-seen time alone does not. */
Test(catchment, signature_changes_with_the_rows_not_with_rtt)
{
	struct fixture f;
	uint64_t s0, s1;
	size_t n;

	f.s.n = 0;
	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	s0 = catchment_signature(f.c, &n);
	cr_assert_eq(n, 1);
	dns_round(f.c, "br1", T0 + 1000, "site-a", "", &f.s);
	cr_assert_eq(catchment_signature(f.c, NULL), s0, "a round like the last changes nothing");
	dns_round(f.c, "br2", T0 + 1000, "site-b", "", &f.s);
	s1 = catchment_signature(f.c, &n);
	cr_assert_eq(n, 2);
	cr_assert_neq(s1, s0);
	dns_round(f.c, "br1", T0 + 2000, "site-b", "", &f.s);
	dns_round(f.c, "br1", T0 + 3000, "site-b", "", &f.s);
	cr_assert_eq(count(&f.s, "catchment_change"), 1);
	cr_assert_neq(catchment_signature(f.c, NULL), s1, "br1 moved to site-b");
	teardown(&f);
}

Test(catchment, a_move_away_from_a_withdrawn_instance_is_withdrawn)
{
	struct fixture f;
	const struct event *ev;
	char buf[64], reason[256];
	int64_t since = 0;
	json_t *d;

	setup(&f, NULL);
	dns_round(f.c, "br1", T0, "site-a", "", &f.s);
	cr_assert_eq(catchment_guard_withdrawn(f.c, "dns", "site-a", NULL, NULL, 0), 0);
	catchment_guard(f.c, "dns", "site-a", 1, T0 + 500, "3 failed probes: timeout on 198.18.1.2");
	catchment_guard(f.c, "dns", "site-z", 1, T0 + 500, "not an instance: ignored");
	cr_assert_eq(catchment_guard_withdrawn(f.c, "dns", "site-z", NULL, NULL, 0), 0);
	cr_assert_eq(catchment_guard_withdrawn(f.c, "ntp", "site-a", NULL, NULL, 0), 0,
		     "withdrawn per service");
	cr_assert_eq(catchment_guard_withdrawn(f.c, "dns", "site-a", &since, reason, sizeof(reason)),
		     1);
	cr_assert_eq(since, T0 + 500);
	cr_assert_str_eq(reason, "3 failed probes: timeout on 198.18.1.2");
	/* site-a's management address still answers: without the guard's
	 * word this would be a route change. */
	dns_round(f.c, "br1", T0 + 1000, "site-b", "", &f.s);
	dns_round(f.c, "br1", T0 + 2000, "site-b", "", &f.s);
	ev = find(&f.s, "catchment_change", 0);
	cr_assert_str_eq(cause(ev, buf, sizeof(buf)), "withdrawn");
	d = detail(ev);
	cr_assert_str_eq(json_string_value(json_object_get(d, "guard_reason")),
			 "3 failed probes: timeout on 198.18.1.2");
	cr_assert(json_is_string(json_object_get(d, "withdrawn_at")));
	json_decref(d);

	/* Restored: a later move away from site-a is a route change again. */
	catchment_guard(f.c, "dns", "site-a", 0, T0 + 3000, NULL);
	cr_assert_eq(catchment_guard_withdrawn(f.c, "dns", "site-a", NULL, NULL, 0), 0);
	dns_round(f.c, "br2", T0 + 3000, "site-a", "", &f.s);
	dns_round(f.c, "br2", T0 + 4000, "site-b", "", &f.s);
	dns_round(f.c, "br2", T0 + 5000, "site-b", "", &f.s);
	cr_assert_eq(count(&f.s, "catchment_change"), 2);
	cr_assert_str_eq(cause(find(&f.s, "catchment_change", 1), buf, sizeof(buf)), "route_change");
	teardown(&f);
}
