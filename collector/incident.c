/* collector/incident.c - the incident engine: which incident each event
 * joins, the hold that lets one cause's events gather before anything is
 * announced (so a failover gap pages no outage), branch isolation, updates
 * and resolution. The rules, in the order they are tried, are written down in
 * docs/INCIDENTS.md; the JSON form lives in incident_json.c, names and
 * one-line summaries in incident_summary.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident.h"
#include "collector/incident_impl.h"
#include "common/array_grow.h"

#define RECENT_MS (10 * 60 * 1000)     /* resolved incidents still take late events */
#define STRAGGLER_MS (60 * 1000)       /* instance back: agents not home by then are let go */
#define GROUP_MIN_MS (60 * 1000)       /* route changes and outages this close are one story */
#define UPDATE_MS (60 * 1000)
#define ACTIVE_MAX 4096
#define DARK_MAX 16

struct incidents {
	int64_t hold_ms, update_ms;
	int64_t next_id;
	struct incident_world w;
	incident_fn cb;
	void *ctx;
	struct incident **list; /* pending, open and recently resolved; oldest first */
	size_t n, cap;
};

static struct incident *split_of(struct incidents *e, const struct event *ev);
static void absorb_outages(struct incidents *e, struct incident *inc, const char *inst);
static struct incident *by_id(struct incidents *e, int64_t id);

/* ---- the engine ---- */

struct incidents *
incidents_new(int64_t hold_ms, int64_t next_id, const struct incident_world *w, incident_fn cb,
	      void *ctx)
{
	struct incidents *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->hold_ms = hold_ms;
	e->update_ms = UPDATE_MS;
	e->next_id = next_id > 0 ? next_id : 1;
	if (w != NULL)
		e->w = *w;
	e->cb = cb;
	e->ctx = ctx;
	return e;
}

void
incident_clear(struct incident *inc)
{
	free(inc->agents);
	free(inc->members);
	free(inc->events);
	inc->agents = NULL;
	inc->members = NULL;
	inc->events = NULL;
	inc->n_agents = inc->cap_agents = inc->n_members = inc->cap_members = 0;
	inc->n_events = inc->cap_events = 0;
}

static void
incident_free(struct incident *inc)
{
	if (inc == NULL)
		return;
	incident_clear(inc);
	free(inc);
}

void
incidents_free(struct incidents *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n; i++)
		incident_free(e->list[i]);
	free(e->list);
	free(e);
}

void
incidents_set_hold(struct incidents *e, int64_t hold_ms)
{
	e->hold_ms = hold_ms;
}

void
incidents_set_update_interval(struct incidents *e, int64_t ms)
{
	e->update_ms = ms;
}

static int
active(const struct incident *inc)
{
	return inc->state != INCIDENT_RESOLVED;
}

static void
tell(struct incidents *e, struct incident *inc, enum incident_change what)
{
	if (inc->state == INCIDENT_PENDING)
		return; /* nobody has heard of it yet */
	if (e->cb != NULL)
		e->cb(e->ctx, inc, what);
}

/* Remove list[i] (frees it). */
static void
drop_at(struct incidents *e, size_t i)
{
	incident_free(e->list[i]);
	memmove(&e->list[i], &e->list[i + 1], (e->n - i - 1) * sizeof(e->list[0]));
	e->n--;
}

static void
drop(struct incidents *e, struct incident *inc)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->list[i] == inc) {
			drop_at(e, i);
			return;
		}
	}
}

/* Forget resolved incidents past RECENT_MS; when full, the oldest resolved. */
static void
prune(struct incidents *e, int64_t now)
{
	size_t i = 0;

	while (i < e->n) {
		if (e->list[i]->state == INCIDENT_RESOLVED && now - e->list[i]->ended_ms > RECENT_MS)
			drop_at(e, i);
		else
			i++;
	}
	for (i = 0; e->n >= ACTIVE_MAX && i < e->n; i++) {
		if (e->list[i]->state == INCIDENT_RESOLVED) {
			drop_at(e, i);
			i--;
		}
	}
}

static struct incident *
new_incident(struct incidents *e, enum incident_kind kind, const struct event *ev, int64_t now,
	     int64_t hold)
{
	struct incident *inc;

	prune(e, now);
	if (e->n >= ACTIVE_MAX ||
	    array_grow((void **)&e->list, &e->cap, e->n, sizeof(e->list[0]), ACTIVE_MAX) < 0)
		return NULL;
	if ((inc = calloc(1, sizeof(*inc))) == NULL)
		return NULL;
	inc->id = e->next_id++;
	inc->kind = kind;
	inc->state = INCIDENT_PENDING;
	inc->started_ms = inc->updated_ms = ev->time_ms;
	inc->publish_ms = now + hold;
	e->list[e->n++] = inc;
	return inc;
}

/* ---- finding the incident an event belongs to ---- */

static struct incident *
find_kind(struct incidents *e, enum incident_kind kind, const char *instance, int64_t t,
	  int64_t window)
{
	for (size_t i = e->n; i-- > 0;) {
		struct incident *inc = e->list[i];

		if (!active(inc) || inc->kind != kind)
			continue;
		if (instance != NULL && strcmp(inc->instance, instance) != 0)
			continue;
		if (window > 0 && inc->state != INCIDENT_PENDING &&
		    (t - inc->started_ms > window || inc->started_ms - t > window))
			continue;
		return inc;
	}
	return NULL;
}

static struct incident *
get_kind(struct incidents *e, enum incident_kind kind, const char *instance, const struct event *ev,
	 int64_t now, int64_t hold, int64_t window)
{
	struct incident *inc = find_kind(e, kind, instance, ev->time_ms, window);

	if (inc == NULL && (inc = new_incident(e, kind, ev, now, hold)) != NULL &&
	    instance != NULL)
		snprintf(inc->instance, sizeof(inc->instance), "%s", instance);
	return inc;
}

static struct incident *
isolated_incident_of(struct incidents *e, const char *agent)
{
	for (size_t i = e->n; i-- > 0;)
		if (active(e->list[i]) && e->list[i]->kind == INCIDENT_BRANCH_ISOLATED &&
		    incident_has_agent(e->list[i], agent))
			return e->list[i];
	return NULL;
}

static int64_t
group_window(const struct incidents *e)
{
	return 2 * e->hold_ms > GROUP_MIN_MS ? 2 * e->hold_ms : GROUP_MIN_MS;
}

/* Everything of src goes to dst; src is dropped. */
static void
merge_into(struct incidents *e, struct incident *src, struct incident *dst)
{
	size_t i;

	while (src->n_agents > 0)
		incident_move_entry(src, 0, dst);
	for (i = 0; i < src->n_members; i++)
		incident_add_member(dst, src->members[i].key, src->members[i].open);
	for (i = 0; i < src->n_events; i++)
		incident_add_event_ref(dst, src->events[i].id, src->events[i].agent);
	for (i = 0; i < (size_t)src->n_services; i++)
		incident_add_service(dst, src->services[i]);
	if (src->started_ms < dst->started_ms)
		dst->started_ms = src->started_ms;
	if (src->state == INCIDENT_PENDING && dst->state == INCIDENT_PENDING &&
	    src->publish_ms < dst->publish_ms)
		dst->publish_ms = src->publish_ms;
	drop(e, src);
}

static const char *
detail_cause(const struct event *ev, char *buf, size_t len)
{
	json_t *d = json_loads(ev->detail, 0, NULL);
	const char *s = d != NULL ? json_string_value(json_object_get(d, "cause")) : NULL;

	snprintf(buf, len, "%s", s != NULL ? s : "");
	json_decref(d);
	return buf;
}

static void
detail_identity(const struct event *ev, char *buf, size_t len)
{
	json_t *d = json_loads(ev->detail, 0, NULL);
	const char *s = d != NULL ? json_string_value(json_object_get(d, "identity")) : NULL;

	if (s != NULL)
		snprintf(buf, len, "%s", s);
	json_decref(d);
}

static struct incident *
on_instance_down(struct incidents *e, const struct event *ev, int64_t now)
{
	const char *inst = ev->from_instance;
	char names[DARK_MAX][RESULT_NAME_MAX];
	struct incident *inc, *iso = NULL;
	size_t n = 0, i;

	/* Seen failing only from branches already known to be cut off. */
	if (e->w.failing_agents != NULL)
		n = e->w.failing_agents(e->w.ctx, ev->service, inst, names, DARK_MAX);
	for (i = 0; i < n && i < DARK_MAX; i++) {
		struct incident *x = isolated_incident_of(e, names[i]);

		if (x == NULL) {
			iso = NULL;
			break;
		}
		iso = x;
	}
	if (n > 0 && n <= DARK_MAX && iso != NULL) {
		incident_add_member(iso, ev->incident, 1);
		incident_touch(iso, ev);
		return iso;
	}
	/* Its guard withdrew it: the management address failing is the same death. */
	if ((inc = find_kind(e, INCIDENT_WITHDRAWN, inst, ev->time_ms, 0)) == NULL &&
	    (inc = get_kind(e, INCIDENT_INSTANCE_DOWN, inst, ev, now, e->hold_ms, 0)) == NULL)
		return NULL;
	incident_add_member(inc, ev->incident, 1);
	inc->instance_up_ms = 0;
	incident_touch(inc, ev);
	absorb_outages(e, inc, inst);
	return inc;
}

/* Pending outages of branches that inst served are inc's. */
static void
absorb_outages(struct incidents *e, struct incident *inc, const char *inst)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		struct incident *o = e->list[i];

		if (o == inc || o->kind != INCIDENT_OUTAGE || o->state != INCIDENT_PENDING)
			continue;
		for (size_t k = 0; k < o->n_agents;) {
			if (strcmp(o->agents[k].from, inst) == 0)
				incident_move_entry(o, k, inc);
			else
				k++;
		}
		if (o->n_agents == 0) {
			merge_into(e, o, inc);
			i = (size_t)-1; /* the list moved: start over */
		}
	}
}

/* A guard withdrew its instance (guard_withdraw): the incident of that
 * instance's death, named by the guard's reason. A pending instance_down of
 * the same instance is the same death, now explained. */
static struct incident *
on_withdraw(struct incidents *e, const struct event *ev, int64_t now)
{
	const char *inst = ev->from_instance;
	struct incident *inc = find_kind(e, INCIDENT_WITHDRAWN, inst, ev->time_ms, 0);
	json_t *d;

	if (inc == NULL && (inc = find_kind(e, INCIDENT_INSTANCE_DOWN, inst, ev->time_ms, 0)) != NULL &&
	    inc->state == INCIDENT_PENDING)
		inc->kind = INCIDENT_WITHDRAWN;
	else if (inc == NULL || inc->kind != INCIDENT_WITHDRAWN)
		inc = get_kind(e, INCIDENT_WITHDRAWN, inst, ev, now, e->hold_ms, 0);
	if (inc == NULL)
		return NULL;
	if ((d = json_loads(ev->detail, 0, NULL)) != NULL &&
	    json_is_string(json_object_get(d, "reason")))
		snprintf(inc->reason, sizeof(inc->reason), "%s",
			 json_string_value(json_object_get(d, "reason")));
	json_decref(d);
	incident_add_member(inc, ev->incident, 1);
	inc->instance_up_ms = 0;
	incident_touch(inc, ev);
	absorb_outages(e, inc, inst);
	return inc;
}

static struct incident *
on_outage(struct incidents *e, const struct event *ev, int64_t now)
{
	struct incident *inc = NULL;

	if (ev->from_instance[0] != '\0' &&
	    (inc = find_kind(e, INCIDENT_WITHDRAWN, ev->from_instance, ev->time_ms, 0)) == NULL)
		inc = find_kind(e, INCIDENT_INSTANCE_DOWN, ev->from_instance, ev->time_ms, 0);
	if (inc == NULL)
		inc = isolated_incident_of(e, ev->agent);
	if (inc == NULL &&
	    (inc = get_kind(e, INCIDENT_OUTAGE, NULL, ev, now, e->hold_ms, group_window(e))) == NULL)
		return NULL;
	incident_add_agent(inc, ev, ev->from_instance, "");
	incident_add_member(inc, ev->incident, 1);
	incident_touch(inc, ev);
	return inc;
}

/* An incident where this agent just came out of an outage (the gap of a
 * failover): its entry is open, or ended within the hold. */
static struct incident *
gap_of(struct incidents *e, const struct event *ev, size_t *ai)
{
	char key[INCIDENT_KEY_MAX];

	snprintf(key, sizeof(key), "outage/%s/%s/%d", ev->agent, ev->service, ev->family);
	for (size_t i = e->n; i-- > 0;) {
		struct incident *inc = e->list[i];
		struct incident_agent *a;

		if (!active(inc) || incident_find_member(inc, key) == NULL)
			continue;
		a = incident_find_agent(inc, ev->agent, ev->service, ev->family);
		if (a == NULL)
			continue;
		if (a->ended_ms != 0 && ev->time_ms - a->ended_ms > e->hold_ms &&
		    inc->state != INCIDENT_PENDING)
			continue;
		*ai = (size_t)(a - inc->agents);
		return inc;
	}
	return NULL;
}

/* An incident that moved this agent to the instance it now leaves. */
static struct incident *
moved_by(struct incidents *e, const struct event *ev)
{
	for (size_t i = e->n; i-- > 0;) {
		struct incident *inc = e->list[i];
		struct incident_agent *a;

		if (!active(inc) || (inc->kind != INCIDENT_INSTANCE_DOWN &&
				     inc->kind != INCIDENT_ROUTE_CHANGE &&
				     inc->kind != INCIDENT_BRANCH_ISOLATED &&
				     inc->kind != INCIDENT_WITHDRAWN))
			continue;
		a = incident_find_agent(inc, ev->agent, ev->service, ev->family);
		if (a != NULL && a->ended_ms == 0 && strcmp(a->to, ev->from_instance) == 0)
			return inc;
	}
	return NULL;
}

static struct incident *
cause_of_change(struct incidents *e, const struct event *ev, int64_t now)
{
	char cause[32];
	struct incident *inc;

	detail_cause(ev, cause, sizeof(cause));
	if (strcmp(cause, "withdrawn") == 0 ||
	    (strcmp(cause, "failover") == 0 &&
	     find_kind(e, INCIDENT_WITHDRAWN, ev->from_instance, ev->time_ms, 0) != NULL))
		return get_kind(e, INCIDENT_WITHDRAWN, ev->from_instance, ev, now, e->hold_ms, 0);
	if (strcmp(cause, "failover") == 0)
		return get_kind(e, INCIDENT_INSTANCE_DOWN, ev->from_instance, ev, now, e->hold_ms, 0);
	if ((inc = moved_by(e, ev)) != NULL || (inc = split_of(e, ev)) != NULL)
		return inc;
	return get_kind(e, INCIDENT_ROUTE_CHANGE, NULL, ev, now, e->hold_ms, group_window(e));
}

static struct incident *
on_change(struct incidents *e, const struct event *ev, int64_t now)
{
	struct incident *g, *inc;
	struct incident_agent *a;
	size_t ai = 0;
	char from[RESULT_NAME_MAX];

	snprintf(from, sizeof(from), "%s", ev->from_instance);
	if ((g = gap_of(e, ev, &ai)) != NULL) {
		snprintf(from, sizeof(from), "%s", g->agents[ai].from);
		if (g->kind == INCIDENT_OUTAGE && g->state == INCIDENT_PENDING) {
			/* A failover gap, not an outage: the entry goes to the cause. */
			if ((inc = cause_of_change(e, ev, now)) == NULL || inc == g)
				inc = g;
			else
				incident_move_entry(g, ai, inc);
			if (g != inc && g->n_agents == 0)
				merge_into(e, g, inc);
		} else {
			inc = g;
		}
	} else if ((inc = cause_of_change(e, ev, now)) == NULL) {
		return NULL;
	}
	if ((a = incident_add_agent(inc, ev, from[0] ? from : ev->from_instance, ev->to_instance)) != NULL &&
	    a->from[0] == '\0')
		snprintf(a->from, sizeof(a->from), "%s", ev->from_instance);
	incident_add_member(inc, ev->incident, 1);
	incident_touch(inc, ev);
	return inc;
}

/* Load sharing starts with what looks like a route change: a pending
 * route_change entry of the same agent, service and family belongs to the
 * split. */
static void
absorb_moves(struct incidents *e, struct incident *split, const struct event *ev)
{
	for (size_t i = 0; i < e->n; i++) {
		struct incident *rc = e->list[i];
		size_t k;

		if (rc == split || rc->state != INCIDENT_PENDING ||
		    (rc->kind != INCIDENT_ROUTE_CHANGE && rc->kind != INCIDENT_FLAPPING))
			continue;
		for (k = 0; k < rc->n_agents;) {
			if (strcmp(rc->agents[k].agent, ev->agent) == 0)
				incident_move_entry(rc, k, split);
			else
				k++;
		}
		if (rc->n_agents == 0) {
			merge_into(e, rc, split);
			i = (size_t)-1;
		}
	}
}

/* The active split incident this agent is in (any of its streams: load
 * sharing moves every service of a branch). */
static struct incident *
split_of(struct incidents *e, const struct event *ev)
{
	for (size_t i = e->n; i-- > 0;) {
		struct incident *inc = e->list[i];

		if (!active(inc) || inc->kind != INCIDENT_SPLIT)
			continue;
		for (size_t k = 0; k < inc->n_agents; k++)
			if (strcmp(inc->agents[k].agent, ev->agent) == 0 && inc->agents[k].ended_ms == 0)
				return inc;
	}
	return NULL;
}

/* Per-agent kinds announced at once: hijack, split, suboptimal, agent_silent;
 * flapping after the hold. */
static struct incident *
on_window_kind(struct incidents *e, enum incident_kind kind, const struct event *ev, int64_t now)
{
	struct incident *inc = NULL;

	/* Flapping is held: a split that follows it is the same load sharing. */
	if (kind == INCIDENT_FLAPPING && (inc = split_of(e, ev)) == NULL)
		inc = get_kind(e, kind, NULL, ev, now, e->hold_ms, 0);
	else if (kind != INCIDENT_FLAPPING)
		inc = get_kind(e, kind, NULL, ev, now, 0, 0);

	if (inc == NULL)
		return NULL;
	if (kind == INCIDENT_HIJACK && inc->identity[0] == '\0')
		detail_identity(ev, inc->identity, sizeof(inc->identity));
	incident_add_agent(inc, ev, ev->from_instance, ev->to_instance);
	if (kind == INCIDENT_SPLIT)
		absorb_moves(e, inc, ev);
	incident_add_member(inc, ev->incident, 1);
	incident_touch(inc, ev);
	return inc;
}

/* ---- closing ---- */

static void
resolve(struct incidents *e, struct incident *inc, int64_t t, int64_t now)
{
	if (inc->state == INCIDENT_PENDING) {
		drop(e, inc); /* came and went within the hold: nothing to tell */
		return;
	}
	incident_end_entries(inc, t);
	inc->state = INCIDENT_RESOLVED;
	inc->ended_ms = t > inc->started_ms ? t : inc->started_ms;
	if (t > inc->updated_ms)
		inc->updated_ms = t;
	inc->notified_ms = now;
	incident_summarize(inc);
	tell(e, inc, INCIDENT_RESOLVED_NOW);
}

/* Resolve inc when nothing of it is open any more, or when only agents that
 * did not come home are left STRAGGLER_MS after the instance came back. */
static void
check_resolved(struct incidents *e, struct incident *inc, int64_t t, int64_t now)
{
	size_t i;
	int only_moves = 1, open = 0;

	for (i = 0; i < inc->n_members; i++) {
		if (!inc->members[i].open)
			continue;
		open = 1;
		if (strncmp(inc->members[i].key, "catchment_change/", 17) != 0)
			only_moves = 0;
	}
	if (!open) {
		resolve(e, inc, t, now);
		return;
	}
	if ((inc->kind == INCIDENT_INSTANCE_DOWN || inc->kind == INCIDENT_WITHDRAWN) && only_moves &&
	    inc->instance_up_ms > 0 &&
	    now - inc->instance_up_ms >= STRAGGLER_MS)
		resolve(e, inc, now, now);
}

static struct incident *
by_id(struct incidents *e, int64_t id)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->list[i]->id == id)
			return e->list[i];
	return NULL;
}

static struct incident *
on_resolution(struct incidents *e, const struct event *ev, int64_t now)
{
	struct incident *hit = NULL;

	for (size_t i = e->n; i-- > 0;) {
		struct incident *inc = e->list[i];
		struct incident_member *m = incident_find_member(inc, ev->incident);
		struct incident_agent *a;

		if (m == NULL || (!active(inc) && hit != NULL))
			continue;
		if (!active(inc)) {
			hit = inc; /* a late closing event of a resolved incident */
			continue;
		}
		m->open = 0;
		if (strncmp(m->key, "instance_down/", 14) == 0 ||
		    strncmp(m->key, "withdrawn/", 10) == 0)
			inc->instance_up_ms = now;
		a = incident_find_agent(inc, ev->agent, ev->service, ev->family);
		if (a != NULL && !incident_entry_open(inc, a)) {
			a->ended_ms = ev->time_ms;
			if (ev->to_instance[0] != '\0')
				incident_set_to(inc, a, ev->to_instance);
		}
		int64_t id = inc->id;

		incident_touch(inc, ev);
		incident_summarize(inc);
		check_resolved(e, inc, ev->time_ms, now);
		/* inc may be gone (a pending one is dropped) */
		if ((inc = by_id(e, id)) != NULL && inc->state == INCIDENT_OPEN)
			tell(e, inc, INCIDENT_CHANGED);
		return inc;
	}
	if (hit != NULL) {
		incident_touch(hit, ev);
		tell(e, hit, INCIDENT_CHANGED);
	}
	return hit;
}

/* ---- announcing ---- */

/* The agents behind inc: its entries', and for an instance_down those that
 * see the instance fail. 1 when every one of them is dark (and somebody
 * else is not): the branch is cut off, not the service. */
static int
all_dark(struct incidents *e, const struct incident *inc, char *first, size_t len)
{
	char names[DARK_MAX][RESULT_NAME_MAX];
	size_t n, i;
	int any = 0;

	if (e->w.agent_dark == NULL || e->w.agents_lit == NULL || e->w.agents_lit(e->w.ctx) < 1)
		return 0;
	for (i = 0; i < inc->n_agents; i++) {
		if (!e->w.agent_dark(e->w.ctx, inc->agents[i].agent))
			return 0;
		if (!any)
			snprintf(first, len, "%s", inc->agents[i].agent);
		any = 1;
	}
	if (inc->kind == INCIDENT_INSTANCE_DOWN && e->w.failing_agents != NULL) {
		for (int s = 0; s < inc->n_services; s++) {
			n = e->w.failing_agents(e->w.ctx, inc->services[s], inc->instance, names,
						DARK_MAX);
			if (n > DARK_MAX)
				return 0;
			for (i = 0; i < n; i++) {
				if (!e->w.agent_dark(e->w.ctx, names[i]))
					return 0;
				if (!any)
					snprintf(first, len, "%s", names[i]);
				any = 1;
			}
		}
	}
	return any;
}

/* A pending outage or instance_down seen only by dark branches becomes (or
 * joins) that branch's branch_isolated incident. Returns the incident to
 * announce (inc itself when nothing moved). */
static struct incident *
isolate(struct incidents *e, struct incident *inc, int64_t now)
{
	char agent[RESULT_NAME_MAX] = "";
	struct incident *iso;
	struct event ev;

	if ((inc->kind != INCIDENT_OUTAGE && inc->kind != INCIDENT_INSTANCE_DOWN) ||
	    !all_dark(e, inc, agent, sizeof(agent)))
		return inc;
	if ((iso = isolated_incident_of(e, agent)) == NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.time_ms = inc->started_ms;
		if ((iso = new_incident(e, INCIDENT_BRANCH_ISOLATED, &ev, now, 0)) == NULL)
			return inc;
	}
	if (inc->n_agents == 0) {
		/* an instance_down without entries: give the branch one */
		memset(&ev, 0, sizeof(ev));
		snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
		snprintf(ev.service, sizeof(ev.service), "%s", inc->service);
		ev.time_ms = inc->started_ms;
		incident_add_agent(iso, &ev, inc->instance, "");
	}
	merge_into(e, inc, iso);
	return iso;
}

static void
announce(struct incidents *e, struct incident *inc, int64_t now)
{
	inc->state = INCIDENT_OPEN;
	inc->notified_ms = now;
	inc->grew = 0;
	incident_summarize(inc);
	tell(e, inc, INCIDENT_OPENED);
}

/* Answer-integrity kinds, one incident per (kind, instance), announced at
 * once. The agents that instance serves (detail.agents) become its
 * entries: they are the ones getting the bad data. */
static struct incident *
on_integrity(struct incidents *e, enum incident_kind kind, const struct event *ev, int64_t now)
{
	struct incident *inc = get_kind(e, kind, ev->to_instance, ev, now, 0, 0);
	json_t *d, *agents;
	size_t i;

	if (inc == NULL)
		return NULL;
	incident_add_agent(inc, ev, "", ev->to_instance);
	d = json_loads(ev->detail, 0, NULL);
	agents = json_object_get(d, "agents");
	for (i = 0; i < json_array_size(agents); i++) {
		const char *name = json_string_value(json_array_get(agents, i));
		struct event one = *ev;

		if (name == NULL)
			continue;
		snprintf(one.agent, sizeof(one.agent), "%s", name);
		incident_add_agent(inc, &one, "", ev->to_instance);
	}
	json_decref(d);
	incident_add_member(inc, ev->incident, 1);
	incident_touch(inc, ev);
	return inc;
}

int64_t
incidents_event(struct incidents *e, const struct event *ev, int64_t now)
{
	struct incident *inc = NULL;
	int was_open;

	if (ev->resolves)
		inc = on_resolution(e, ev, now);
	else if (strcmp(ev->type, "catchment_change") == 0)
		inc = on_change(e, ev, now);
	else if (strcmp(ev->type, "outage") == 0)
		inc = on_outage(e, ev, now);
	else if (strcmp(ev->type, "instance_down") == 0)
		inc = on_instance_down(e, ev, now);
	else if (strcmp(ev->type, "guard_withdraw") == 0)
		inc = on_withdraw(e, ev, now);
	else if (strcmp(ev->type, "unknown_instance") == 0)
		inc = on_window_kind(e, INCIDENT_HIJACK, ev, now);
	else if (strcmp(ev->type, "split") == 0)
		inc = on_window_kind(e, INCIDENT_SPLIT, ev, now);
	else if (strcmp(ev->type, "flapping") == 0)
		inc = on_window_kind(e, INCIDENT_FLAPPING, ev, now);
	else if (strcmp(ev->type, "suboptimal") == 0)
		inc = on_window_kind(e, INCIDENT_SUBOPTIMAL, ev, now);
	else if (strcmp(ev->type, "agent_silent") == 0)
		inc = on_window_kind(e, INCIDENT_AGENT_SILENT, ev, now);
	else if (strcmp(ev->type, "serial_lag") == 0)
		inc = on_integrity(e, INCIDENT_SERIAL_LAG, ev, now);
	else if (strcmp(ev->type, "inconsistent_answer") == 0)
		inc = on_integrity(e, INCIDENT_INCONSISTENT_ANSWER, ev, now);
	else if (strcmp(ev->type, "answer_mismatch") == 0)
		inc = on_integrity(e, INCIDENT_ANSWER_MISMATCH, ev, now);
	if (inc == NULL || ev->resolves)
		return inc != NULL && inc->state != INCIDENT_PENDING ? inc->id : 0;
	was_open = inc->state == INCIDENT_OPEN;
	incident_summarize(inc);
	if (inc->state == INCIDENT_PENDING && inc->publish_ms <= now)
		announce(e, inc, now);
	else if (was_open)
		tell(e, inc, INCIDENT_CHANGED);
	return inc->state != INCIDENT_PENDING ? inc->id : 0;
}

void
incidents_tick(struct incidents *e, int64_t now)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		struct incident *inc = e->list[i];
		size_t n_before = e->n;

		if (inc->state == INCIDENT_PENDING && inc->publish_ms <= now) {
			inc = isolate(e, inc, now);
			if (e->n != n_before) {
				i = (size_t)-1; /* the list moved: look again */
				if (inc->state == INCIDENT_PENDING)
					announce(e, inc, now);
				else
					tell(e, inc, INCIDENT_CHANGED);
				continue;
			}
			announce(e, inc, now);
		} else if (inc->state == INCIDENT_OPEN) {
			check_resolved(e, inc, now, now);
			if (i < e->n && e->list[i] == inc && inc->state == INCIDENT_OPEN &&
			    inc->grew && now - inc->notified_ms >= e->update_ms) {
				inc->grew = 0;
				inc->notified_ms = now;
				incident_summarize(inc);
				tell(e, inc, INCIDENT_UPDATED);
			}
		}
	}
	prune(e, now);
}

static int
copy_array(void **dst, size_t *cap, const void *src, size_t n, size_t size)
{
	*dst = NULL;
	*cap = 0;
	if (n == 0)
		return 0;
	if ((*dst = malloc(n * size)) == NULL)
		return -1;
	memcpy(*dst, src, n * size);
	*cap = n;
	return 0;
}

int
incidents_restore(struct incidents *e, const struct incident *src)
{
	struct incident *inc;

	if (src->state != INCIDENT_OPEN || e->n >= ACTIVE_MAX ||
	    array_grow((void **)&e->list, &e->cap, e->n, sizeof(e->list[0]), ACTIVE_MAX) < 0)
		return -1;
	if ((inc = malloc(sizeof(*inc))) == NULL)
		return -ENOMEM;
	*inc = *src;
	if (copy_array((void **)&inc->agents, &inc->cap_agents, src->agents, src->n_agents,
		       sizeof(*src->agents)) < 0 ||
	    copy_array((void **)&inc->members, &inc->cap_members, src->members, src->n_members,
		       sizeof(*src->members)) < 0 ||
	    copy_array((void **)&inc->events, &inc->cap_events, src->events, src->n_events,
		       sizeof(*src->events)) < 0) {
		incident_free(inc);
		return -ENOMEM;
	}
	if (inc->id >= e->next_id)
		e->next_id = inc->id + 1;
	e->list[e->n++] = inc;
	return 0;
}

void
incidents_each_open(struct incidents *e, void (*fn)(void *ctx, const struct incident *inc),
		    void *ctx)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->list[i]->state == INCIDENT_OPEN)
			fn(ctx, e->list[i]);
}

size_t
incidents_count_open(const struct incidents *e, enum incident_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++)
		n += e->list[i]->state == INCIDENT_OPEN && e->list[i]->kind == kind;
	return n;
}
