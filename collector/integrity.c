/* collector/integrity.c - serial_lag, inconsistent_answer and answer_mismatch
 * from check results (see integrity.h). State per (service, check): each
 * instance's last management answer (serial, digest, when, since when it is
 * behind); per (agent, service, check): the round in progress (the anycast
 * answer and the management answers of that round) and whether a mismatch
 * is open; per (agent, service): the instance that served it last. Every
 * table has a maximum size; entries beyond it are not tracked. */
#include "collector/integrity.h"
#include "common/array_grow.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LAG_MS (5 * 60 * 1000)
#define STALE_MS (15 * 60 * 1000)  /* an instance answer older than this is not compared */
#define SERVING_MS (5 * 60 * 1000) /* "serves it now": an anycast answer this recent */
#define MAX_CHECKS 4096
#define MAX_INSTANCES 256
#define MAX_ROUND_ANSWERS 64
#define MAX_ANYCAST 8 /* anycast addresses of a service (v4 and v6) */
#define MAX_AGENT_KEYS 200000

struct inst {
	char name[RESULT_NAME_MAX];
	int has_serial;
	uint32_t serial;
	char digest[65];
	int64_t seen_ms;
	int64_t behind_since_ms; /* 0: not behind */
	int lag_open;
	int inconsistent_open;
};

struct check {
	char service[RESULT_NAME_MAX];
	char name[32];
	struct inst *inst;
	size_t n_inst, cap_inst;
};

struct answer {
	char instance[RESULT_NAME_MAX];
	char digest[65];
	char address[RESULT_ADDR_MAX];
};

/* One agent's view of one check: the round in progress. */
struct agent_check {
	char agent[RESULT_NAME_MAX];
	char service[RESULT_NAME_MAX];
	char check[32];
	uint64_t round;
	int n_any; /* anycast answers of the round (one per address) */
	struct answer any[MAX_ANYCAST];
	int judged[MAX_ANYCAST];
	int round_differs; /* an anycast answer of this round differed */
	int expected_any;  /* anycast answers of the last round */
	struct answer mgmt[MAX_ROUND_ANSWERS];
	int n_mgmt;
	int mismatch_open;
	char mismatch_instance[RESULT_NAME_MAX];
};

struct serving {
	char agent[RESULT_NAME_MAX];
	char service[RESULT_NAME_MAX];
	int family;
	char instance[RESULT_NAME_MAX];
	int64_t ms;
};

struct integrity {
	int64_t lag_ms;
	struct check *checks;
	size_t n_checks, cap_checks;
	struct agent_check *ac;
	size_t n_ac, cap_ac;
	struct serving *sv;
	size_t n_sv, cap_sv;
};

struct integrity *integrity_new(int64_t serial_lag_ms)
{
	struct integrity *g = calloc(1, sizeof(*g));

	if (g != NULL)
		integrity_set_threshold(g, serial_lag_ms);
	return g;
}

void integrity_set_threshold(struct integrity *g, int64_t serial_lag_ms)
{
	g->lag_ms = serial_lag_ms > 0 ? serial_lag_ms : DEFAULT_LAG_MS;
}

void integrity_free(struct integrity *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n_checks; i++)
		free(g->checks[i].inst);
	free(g->checks);
	free(g->ac);
	free(g->sv);
	free(g);
}

/* RFC 1982 serial number arithmetic: a is behind b. */
static int serial_behind(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static struct check *find_check(struct integrity *g, const char *service, const char *name,
                                int create)
{
	struct check *c;

	for (size_t i = 0; i < g->n_checks; i++)
		if (strcmp(g->checks[i].service, service) == 0 &&
		    strcmp(g->checks[i].name, name) == 0)
			return &g->checks[i];
	if (!create ||
	    array_grow((void **)&g->checks, &g->cap_checks, g->n_checks, sizeof(*c), MAX_CHECKS) < 0)
		return NULL;
	c = &g->checks[g->n_checks++];
	memset(c, 0, sizeof(*c));
	snprintf(c->service, sizeof(c->service), "%s", service);
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

static struct inst *find_inst(struct check *c, const char *name, int create)
{
	struct inst *in;

	for (size_t i = 0; i < c->n_inst; i++)
		if (strcmp(c->inst[i].name, name) == 0)
			return &c->inst[i];
	if (!create ||
	    array_grow((void **)&c->inst, &c->cap_inst, c->n_inst, sizeof(*in), MAX_INSTANCES) < 0)
		return NULL;
	in = &c->inst[c->n_inst++];
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", name);
	return in;
}

static struct agent_check *find_ac(struct integrity *g, const struct result *r)
{
	struct agent_check *a;

	for (size_t i = 0; i < g->n_ac; i++)
		if (strcmp(g->ac[i].agent, r->agent) == 0 &&
		    strcmp(g->ac[i].service, r->service) == 0 &&
		    strcmp(g->ac[i].check, r->check) == 0)
			return &g->ac[i];
	if (array_grow((void **)&g->ac, &g->cap_ac, g->n_ac, sizeof(*a), MAX_AGENT_KEYS) < 0)
		return NULL;
	a = &g->ac[g->n_ac++];
	memset(a, 0, sizeof(*a));
	snprintf(a->agent, sizeof(a->agent), "%s", r->agent);
	snprintf(a->service, sizeof(a->service), "%s", r->service);
	snprintf(a->check, sizeof(a->check), "%s", r->check);
	return a;
}

static void note_serving(struct integrity *g, const struct result *r)
{
	struct serving *s = NULL;

	for (size_t i = 0; i < g->n_sv && s == NULL; i++)
		if (strcmp(g->sv[i].agent, r->agent) == 0 &&
		    strcmp(g->sv[i].service, r->service) == 0 && g->sv[i].family == r->family)
			s = &g->sv[i];
	if (s == NULL) {
		if (array_grow((void **)&g->sv, &g->cap_sv, g->n_sv, sizeof(*s), MAX_AGENT_KEYS) < 0)
			return;
		s = &g->sv[g->n_sv++];
		snprintf(s->agent, sizeof(s->agent), "%s", r->agent);
		snprintf(s->service, sizeof(s->service), "%s", r->service);
		s->family = r->family;
		s->ms = 0;
	}
	if (r->time_ms >= s->ms) {
		snprintf(s->instance, sizeof(s->instance), "%s", r->instance);
		s->ms = r->time_ms;
	}
}

static int has_string(const json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
			return 1;
	return 0;
}

/* The agents the instance of service served recently (over either
 * family), as a JSON array. */
static json_t *serving_agents(const struct integrity *g, const char *service, const char *instance,
                              int64_t now)
{
	json_t *a = json_array();

	for (size_t i = 0; i < g->n_sv; i++)
		if (strcmp(g->sv[i].service, service) == 0 &&
		    strcmp(g->sv[i].instance, instance) == 0 && now - g->sv[i].ms <= SERVING_MS &&
		    !has_string(a, g->sv[i].agent))
			json_array_append_new(a, json_string(g->sv[i].agent));
	return a;
}

static void emit(catchment_event_fn cb, void *ctx, const char *type, const char *agent,
                 const char *service, const char *instance, const char *key, int resolves,
                 json_t *detail, int64_t now)
{
	struct event ev;
	char *text;

	memset(&ev, 0, sizeof(ev));
	ev.time_ms = now;
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
	snprintf(ev.service, sizeof(ev.service), "%s", service);
	snprintf(ev.to_instance, sizeof(ev.to_instance), "%s", instance);
	snprintf(ev.incident, sizeof(ev.incident), "%s", key);
	ev.resolves = resolves;
	json_object_set_new(detail, "instance", json_string(instance));
	text = json_dumps(detail, JSON_COMPACT);
	/* a detail that does not fit loses its agent list, never its validity */
	if (text != NULL && strlen(text) >= sizeof(ev.detail)) {
		free(text);
		json_object_set_new(detail, "agents", json_array());
		json_object_set_new(detail, "agents_truncated", json_true());
		text = json_dumps(detail, JSON_COMPACT);
	}
	snprintf(ev.detail, sizeof(ev.detail), "%s", text != NULL ? text : "{}");
	free(text);
	json_decref(detail);
	cb(ctx, &ev);
}

/* The highest fresh serial of c; 0 when no instance has one. */
static int highest_serial(const struct check *c, int64_t now, uint32_t *hi, const char **who)
{
	int any = 0;

	for (size_t i = 0; i < c->n_inst; i++) {
		const struct inst *in = &c->inst[i];

		if (!in->has_serial || now - in->seen_ms > STALE_MS)
			continue;
		if (!any || serial_behind(*hi, in->serial)) {
			*hi = in->serial;
			*who = in->name;
			any = 1;
		}
	}
	return any;
}

static void judge_lag(struct integrity *g, struct check *c, int64_t now, catchment_event_fn cb,
                      void *ctx)
{
	uint32_t hi = 0;
	const char *who = "";
	char key[160];
	int any = highest_serial(c, now, &hi, &who);

	for (size_t i = 0; i < c->n_inst; i++) {
		struct inst *in = &c->inst[i];
		int fresh = in->seen_ms > 0 && now - in->seen_ms <= STALE_MS;
		int behind = any && in->has_serial && fresh && serial_behind(in->serial, hi);

		snprintf(key, sizeof(key), "serial_lag/%.40s/%.31s/%.40s", c->service, c->name,
		         in->name);
		if (!behind) {
			in->behind_since_ms = 0;
			/* Ends when the instance gives the highest serial, or stops
			 * answering (it serves nothing old then); an instance not
			 * seen since a restart keeps its incident until it answers. */
			if (in->lag_open && in->seen_ms > 0) {
				in->lag_open = 0;
				emit(cb, ctx, "recovery", "", c->service, in->name, key, 1,
				     json_pack("{s:s,s:s,s:s,s:I}", "cause",
				               fresh ? "serial_caught_up" : "no_answers",
				               "resolved", "serial_lag", "check", c->name, "serial",
				               (json_int_t)in->serial),
				     now);
			}
			continue;
		}
		if (in->behind_since_ms == 0)
			in->behind_since_ms = in->seen_ms < now ? in->seen_ms : now;
		if (in->lag_open || now - in->behind_since_ms < g->lag_ms)
			continue;
		in->lag_open = 1;
		emit(cb, ctx, "serial_lag", "", c->service, in->name, key, 0,
		     json_pack("{s:s,s:I,s:I,s:I,s:s,s:I,s:o}", "check", c->name, "serial",
		               (json_int_t)in->serial, "highest", (json_int_t)hi, "behind",
		               (json_int_t)(uint32_t)(hi - in->serial), "highest_instance", who,
		               "behind_ms", (json_int_t)(now - in->behind_since_ms), "agents",
		               serving_agents(g, c->service, in->name, now)),
		     now);
	}
}

/* The serial instance in last gave for any check of service: checks that
 * ask no SOA are compared under the serial of the service's SOA check. */
static int serial_of(const struct integrity *g, const struct check *c, const struct inst *in,
                     uint32_t *serial)
{
	if (in->has_serial) {
		*serial = in->serial;
		return 1;
	}
	for (size_t i = 0; i < g->n_checks; i++) {
		const struct check *o = &g->checks[i];

		if (o == c || strcmp(o->service, c->service) != 0)
			continue;
		for (size_t k = 0; k < o->n_inst; k++)
			if (strcmp(o->inst[k].name, in->name) == 0 && o->inst[k].has_serial) {
				*serial = o->inst[k].serial;
				return 1;
			}
	}
	return 0;
}

/* Whether o is fresh, has a digest and the serial s. */
static int peer(const struct integrity *g, const struct check *c, const struct inst *o, uint32_t s,
                int64_t now)
{
	uint32_t s2;

	return o->digest[0] != '\0' && now - o->seen_ms <= STALE_MS && serial_of(g, c, o, &s2) &&
	       s2 == s;
}

/* How many peers of serial s give digest. */
static int votes(const struct integrity *g, const struct check *c, uint32_t s, const char *digest,
                 int64_t now)
{
	int n = 0;

	for (size_t m = 0; m < c->n_inst; m++)
		n += peer(g, c, &c->inst[m], s, now) && strcmp(c->inst[m].digest, digest) == 0;
	return n;
}

/* Instances with the same serial must give the same digest; an instance
 * whose digest has no more votes than some other digest of that serial is
 * inconsistent (so on a tie every instance of that serial is). */
static void judge_consistency(struct integrity *g, struct check *c, int64_t now,
                              catchment_event_fn cb, void *ctx)
{
	char key[160];

	for (size_t i = 0; i < c->n_inst; i++) {
		struct inst *in = &c->inst[i];
		uint32_t s;
		int same, other = 0, peers = 0, bad;

		snprintf(key, sizeof(key), "inconsistent_answer/%.40s/%.31s/%.40s", c->service,
		         c->name, in->name);
		if (in->inconsistent_open && in->seen_ms > 0 && now - in->seen_ms > STALE_MS) {
			in->inconsistent_open = 0; /* stopped answering */
			emit(cb, ctx, "recovery", "", c->service, in->name, key, 1,
			     json_pack("{s:s,s:s,s:s}", "cause", "no_answers", "resolved",
			               "inconsistent_answer", "check", c->name),
			     now);
		}
		if (in->digest[0] == '\0' || now - in->seen_ms > STALE_MS ||
		    !serial_of(g, c, in, &s))
			continue;
		same = votes(g, c, s, in->digest, now);
		for (size_t k = 0; k < c->n_inst; k++) {
			const struct inst *o = &c->inst[k];

			if (!peer(g, c, o, s, now))
				continue;
			peers++;
			if (strcmp(o->digest, in->digest) != 0) {
				int v = votes(g, c, s, o->digest, now);

				if (v > other)
					other = v;
			}
		}
		bad = other > 0 && other >= same;
		if (bad && !in->inconsistent_open) {
			in->inconsistent_open = 1;
			emit(cb, ctx, "inconsistent_answer", "", c->service, in->name, key, 0,
			     json_pack("{s:s,s:I,s:s,s:i,s:i,s:o}", "check", c->name, "serial",
			               (json_int_t)s, "digest", in->digest, "same", same, "of",
			               peers, "agents",
			               serving_agents(g, c->service, in->name, now)),
			     now);
		} else if (!bad && in->inconsistent_open) {
			in->inconsistent_open = 0;
			emit(cb, ctx, "recovery", "", c->service, in->name, key, 1,
			     json_pack("{s:s,s:s,s:s}", "cause", "answers_agree", "resolved",
			               "inconsistent_answer", "check", c->name),
			     now);
		}
	}
}

/* The anycast answer of the round against the identified instance's own
 * management answer of the same round, once both are in. */
static void judge_round(struct agent_check *a, int64_t now, catchment_event_fn cb, void *ctx)
{
	char key[160];

	snprintf(key, sizeof(key), "answer_mismatch/%.40s/%.40s/%.31s", a->agent, a->service,
	         a->check);
	for (int k = 0; k < a->n_any; k++) {
		const struct answer *any = &a->any[k], *own = NULL;
		int differ;

		if (a->judged[k])
			continue;
		for (int i = 0; i < a->n_mgmt && own == NULL; i++)
			if (strcmp(a->mgmt[i].instance, any->instance) == 0)
				own = &a->mgmt[i];
		if (own == NULL)
			continue; /* its own answer may still come */
		a->judged[k] = 1;
		differ = strcmp(own->digest, any->digest) != 0;
		a->round_differs |= differ;
		if (differ && !a->mismatch_open) {
			a->mismatch_open = 1;
			snprintf(a->mismatch_instance, sizeof(a->mismatch_instance), "%s",
			         own->instance);
			emit(cb, ctx, "answer_mismatch", a->agent, a->service, own->instance, key,
			     0,
			     json_pack("{s:s,s:s,s:s,s:s,s:I}", "check", a->check, "address",
			               any->address, "anycast_digest", any->digest,
			               "management_digest", own->digest, "round",
			               (json_int_t)a->round),
			     now);
		}
	}
	/* Ends when every anycast answer of a round (as many as the last
	 * round had) is the instance's own. */
	int judged = 0;

	for (int k = 0; k < a->n_any; k++)
		judged += a->judged[k];
	if (a->mismatch_open && !a->round_differs && judged > 0 && judged >= a->expected_any) {
		a->mismatch_open = 0;
		emit(cb, ctx, "recovery", a->agent, a->service, a->mismatch_instance, key, 1,
		     json_pack("{s:s,s:s,s:s}", "cause", "answers_agree", "resolved",
		               "answer_mismatch", "check", a->check),
		     now);
	}
}

static void observe_check(struct integrity *g, const struct result *r, int64_t now,
                          catchment_event_fn cb, void *ctx)
{
	struct agent_check *a;
	struct answer *ans;

	if (r->outcome != RESULT_OK || r->digest[0] == '\0' || r->instance[0] == '\0')
		return;
	if (r->target == RESULT_TARGET_MANAGEMENT) {
		struct check *c = find_check(g, r->service, r->check, 1);
		struct inst *in = c != NULL ? find_inst(c, r->instance, 1) : NULL;

		if (in != NULL && r->time_ms >= in->seen_ms) {
			in->has_serial = r->has_serial;
			in->serial = r->serial;
			snprintf(in->digest, sizeof(in->digest), "%s", r->digest);
			in->seen_ms = r->time_ms;
		}
	}
	if ((a = find_ac(g, r)) == NULL)
		return;
	if (r->round != a->round) {
		if (r->round < a->round)
			return; /* a late record of an earlier round */
		a->round = r->round;
		if (a->n_any > 0)
			a->expected_any = a->n_any;
		a->n_any = a->n_mgmt = a->round_differs = 0;
		memset(a->judged, 0, sizeof(a->judged));
	}
	if (r->target == RESULT_TARGET_ANYCAST && a->n_any < MAX_ANYCAST) {
		ans = &a->any[a->n_any++];
	} else if (r->target == RESULT_TARGET_ANYCAST) {
		return;
	} else if (a->n_mgmt < MAX_ROUND_ANSWERS) {
		ans = &a->mgmt[a->n_mgmt++];
	} else {
		return;
	}
	snprintf(ans->instance, sizeof(ans->instance), "%s", r->instance);
	snprintf(ans->digest, sizeof(ans->digest), "%s", r->digest);
	snprintf(ans->address, sizeof(ans->address), "%s", r->address);
	judge_round(a, now, cb, ctx);
}

void integrity_observe(struct integrity *g, const struct result *r, size_t n, int64_t now_ms,
                       catchment_event_fn cb, void *ctx)
{
	int any_check = 0;

	for (size_t i = 0; i < n; i++) {
		if (r[i].target == RESULT_TARGET_ANYCAST && r[i].outcome == RESULT_OK &&
		    r[i].instance[0] != '\0')
			note_serving(g, &r[i]);
		if (r[i].check[0] != '\0') {
			observe_check(g, &r[i], now_ms, cb, ctx);
			any_check = 1;
		}
	}
	if (any_check)
		for (size_t i = 0; i < g->n_checks; i++) {
			judge_consistency(g, &g->checks[i], now_ms, cb, ctx);
			judge_lag(g, &g->checks[i], now_ms, cb, ctx);
		}
}

void integrity_tick(struct integrity *g, int64_t now_ms, catchment_event_fn cb, void *ctx)
{
	for (size_t i = 0; i < g->n_checks; i++) {
		judge_lag(g, &g->checks[i], now_ms, cb, ctx);
		judge_consistency(g, &g->checks[i], now_ms, cb, ctx);
	}
}

/* Splits "a/b/c/d" after prefix into n parts of at most 63 bytes. */
static int split_key(const char *key, const char *prefix, char parts[][RESULT_NAME_MAX], int n)
{
	const char *p = key + strlen(prefix);

	if (strncmp(key, prefix, strlen(prefix)) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *e = i < n - 1 ? strchr(p, '/') : p + strlen(p);
		size_t len = e != NULL ? (size_t)(e - p) : 0;

		if (e == NULL || len == 0 || len >= RESULT_NAME_MAX)
			return -1;
		memcpy(parts[i], p, len);
		parts[i][len] = '\0';
		p = e + 1;
	}
	return 0;
}

void integrity_restore_open(struct integrity *g, const char *key, const char *instance)
{
	char part[3][RESULT_NAME_MAX];
	struct check *c;
	struct inst *in;

	if (split_key(key, "serial_lag/", part, 3) == 0 ||
	    split_key(key, "inconsistent_answer/", part, 3) == 0) {
		if (strlen(part[1]) >= sizeof(c->name) ||
		    (c = find_check(g, part[0], part[1], 1)) == NULL ||
		    (in = find_inst(c, part[2], 1)) == NULL)
			return;
		if (key[0] == 's')
			in->lag_open = 1;
		else
			in->inconsistent_open = 1;
	} else if (split_key(key, "answer_mismatch/", part, 3) == 0) {
		struct result r;
		struct agent_check *a;

		memset(&r, 0, sizeof(r));
		if (strlen(part[2]) >= sizeof(r.check))
			return;
		snprintf(r.agent, sizeof(r.agent), "%s", part[0]);
		snprintf(r.service, sizeof(r.service), "%s", part[1]);
		memcpy(r.check, part[2], strlen(part[2]) + 1);
		if ((a = find_ac(g, &r)) == NULL)
			return;
		a->mismatch_open = 1;
		snprintf(a->mismatch_instance, sizeof(a->mismatch_instance), "%s", instance);
	}
}

int integrity_instance_state(const struct integrity *g, const char *service, const char *check,
                             const char *instance, int *has_serial, uint32_t *serial,
                             char digest[65], int64_t *seen_ms, int64_t *behind_since_ms)
{
	struct check *c = find_check((struct integrity *)g, service, check, 0);
	struct inst *in = c != NULL ? find_inst(c, instance, 0) : NULL;

	if (in == NULL)
		return 0;
	*has_serial = in->has_serial;
	*serial = in->serial;
	snprintf(digest, 65, "%s", in->digest);
	*seen_ms = in->seen_ms;
	*behind_since_ms = in->behind_since_ms;
	return 1;
}
