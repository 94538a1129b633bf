/* collector/incident_entries.c - one incident's contents: its services, the
 * agents' entries (agent, service, family, from, to, start, end), the member
 * keys that keep it open, the events it holds, and moving an entry from one
 * incident to another. No engine state: collector/incident.c decides which
 * incident an event joins. */
#include <stdio.h>
#include <string.h>

#include "collector/incident_impl.h"
#include "common/array_grow.h"

void
incident_add_service(struct incident *inc, const char *service)
{
	int i;

	if (service[0] == '\0')
		return;
	for (i = 0; i < inc->n_services; i++)
		if (strcmp(inc->services[i], service) == 0)
			return;
	if (inc->n_services == 0)
		snprintf(inc->service, sizeof(inc->service), "%s", service);
	if (inc->n_services < 4)
		snprintf(inc->services[inc->n_services++], RESULT_NAME_MAX, "%s", service);
}

struct incident_member *
incident_find_member(const struct incident *inc, const char *key)
{
	for (size_t i = 0; i < inc->n_members; i++)
		if (strcmp(inc->members[i].key, key) == 0)
			return &inc->members[i];
	return NULL;
}

void
incident_add_member(struct incident *inc, const char *key, int open)
{
	struct incident_member *m = incident_find_member(inc, key);

	if (key[0] == '\0')
		return;
	if (m == NULL) {
		if (array_grow((void **)&inc->members, &inc->cap_members, inc->n_members,
			 sizeof(*inc->members), 4096) < 0)
			return;
		m = &inc->members[inc->n_members++];
		snprintf(m->key, sizeof(m->key), "%s", key);
	}
	m->open = open;
}

struct incident_agent *
incident_find_agent(const struct incident *inc, const char *agent, const char *service, int family)
{
	for (size_t i = inc->n_agents; i-- > 0;) {
		struct incident_agent *a = &inc->agents[i];

		if (strcmp(a->agent, agent) == 0 && strcmp(a->service, service) == 0 &&
		    a->family == family)
			return a;
	}
	return NULL;
}

int
incident_has_agent(const struct incident *inc, const char *agent)
{
	for (size_t i = 0; i < inc->n_agents; i++)
		if (strcmp(inc->agents[i].agent, agent) == 0)
			return 1;
	return 0;
}

void
incident_set_to(const struct incident *inc, struct incident_agent *a, const char *to)
{
	/* Coming back to the instance the incident is about ends a failover:
	 * the entry keeps where the agent failed over to, so the story told
	 * at the end is still "br2 failed over to site-c". */
	if (a->to[0] != '\0' && inc->instance[0] != '\0' && strcmp(to, inc->instance) == 0 &&
	    (inc->kind == INCIDENT_INSTANCE_DOWN || inc->kind == INCIDENT_WITHDRAWN))
		return;
	snprintf(a->to, sizeof(a->to), "%s", to);
}

struct incident_agent *
incident_add_agent(struct incident *inc, const struct event *ev, const char *from, const char *to)
{
	struct incident_agent *a = incident_find_agent(inc, ev->agent, ev->service, ev->family);

	if (ev->agent[0] == '\0')
		return NULL;
	if (a == NULL) {
		if (!incident_has_agent(inc, ev->agent))
			inc->grew = 1;
		if (array_grow((void **)&inc->agents, &inc->cap_agents, inc->n_agents,
			 sizeof(*inc->agents), 4096) < 0)
			return NULL;
		a = &inc->agents[inc->n_agents++];
		memset(a, 0, sizeof(*a));
		snprintf(a->agent, sizeof(a->agent), "%s", ev->agent);
		snprintf(a->service, sizeof(a->service), "%s", ev->service);
		a->family = ev->family;
		snprintf(a->from, sizeof(a->from), "%s", from);
		a->started_ms = ev->time_ms;
	}
	incident_set_to(inc, a, to);
	a->ended_ms = 0;
	return a;
}

void
incident_add_event_ref(struct incident *inc, int64_t id, const char *agent)
{
	if (id <= 0 || array_grow((void **)&inc->events, &inc->cap_events, inc->n_events,
			    sizeof(*inc->events), INCIDENT_EVENTS_MAX) < 0)
		return;
	inc->events[inc->n_events].id = id;
	snprintf(inc->events[inc->n_events].agent, RESULT_NAME_MAX, "%s", agent);
	inc->n_events++;
}

void
incident_touch(struct incident *inc, const struct event *ev)
{
	incident_add_service(inc, ev->service);
	if (ev->time_ms < inc->started_ms)
		inc->started_ms = ev->time_ms;
	if (ev->time_ms > inc->updated_ms)
		inc->updated_ms = ev->time_ms;
	incident_add_event_ref(inc, ev->id, ev->agent);
}

int
incident_member_of_entry(const struct incident_member *m, const struct incident_agent *a)
{
	char tail[3 * RESULT_NAME_MAX + 8];
	const char *slash = strchr(m->key, '/');

	snprintf(tail, sizeof(tail), "/%s/%s/%d", a->agent, a->service, a->family);
	return slash != NULL && strcmp(slash, tail) == 0;
}

void
incident_move_entry(struct incident *src, size_t ai, struct incident *dst)
{
	struct incident_agent a = src->agents[ai];
	struct incident_agent *na;
	struct event ev;
	size_t i, j;

	/* the hold counts from the first event of the story */
	if (src->state == INCIDENT_PENDING && dst->state == INCIDENT_PENDING &&
	    src->publish_ms < dst->publish_ms)
		dst->publish_ms = src->publish_ms;
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.agent, sizeof(ev.agent), "%s", a.agent);
	snprintf(ev.service, sizeof(ev.service), "%s", a.service);
	ev.family = a.family;
	ev.time_ms = a.started_ms;
	if ((na = incident_add_agent(dst, &ev, a.from, a.to)) != NULL) {
		na->started_ms = a.started_ms < na->started_ms ? a.started_ms : na->started_ms;
		na->ended_ms = a.ended_ms;
	}
	incident_touch(dst, &ev);
	for (i = 0, j = 0; i < src->n_members; i++) {
		if (incident_member_of_entry(&src->members[i], &a))
			incident_add_member(dst, src->members[i].key, src->members[i].open);
		else
			src->members[j++] = src->members[i];
	}
	src->n_members = j;
	memmove(&src->agents[ai], &src->agents[ai + 1], (src->n_agents - ai - 1) * sizeof(a));
	src->n_agents--;
	if (incident_has_agent(src, a.agent))
		return; /* its events may be about its other entries too */
	for (i = 0, j = 0; i < src->n_events; i++) {
		if (strcmp(src->events[i].agent, a.agent) == 0)
			incident_add_event_ref(dst, src->events[i].id, src->events[i].agent);
		else
			src->events[j++] = src->events[i];
	}
	src->n_events = j;
}

int
incident_entry_open(const struct incident *inc, const struct incident_agent *a)
{
	for (size_t i = 0; i < inc->n_members; i++)
		if (inc->members[i].open && incident_member_of_entry(&inc->members[i], a))
			return 1;
	return 0;
}

void
incident_end_entries(struct incident *inc, int64_t t)
{
	for (size_t i = 0; i < inc->n_agents; i++)
		if (inc->agents[i].ended_ms == 0)
			inc->agents[i].ended_ms = t;
}
