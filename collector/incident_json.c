/* collector/incident_json.c - an incident as the API, the event stream, the
 * store and the alert channels show it, and back from the stored form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident.h"
#include "common/timefmt.h"

static json_t *
time_or_null(int64_t ms)
{
	char t[32];

	return ms > 0 ? json_string(time_format_rfc3339(ms, t, sizeof(t))) : json_null();
}

static json_t *
str_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
agent_json(const struct incident_agent *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "agent", json_string(a->agent));
	json_object_set_new(o, "service", str_or_null(a->service));
	json_object_set_new(o, "family", a->family != 0 ? json_integer(a->family) : json_null());
	json_object_set_new(o, "from_instance", str_or_null(a->from));
	json_object_set_new(o, "to_instance", str_or_null(a->to));
	json_object_set_new(o, "started", time_or_null(a->started_ms));
	json_object_set_new(o, "ended", time_or_null(a->ended_ms));
	return o;
}

json_t *
incident_to_json(const struct incident *inc)
{
	json_t *o = json_object(), *agents = json_array(), *events = json_array(), *svcs = json_array();
	size_t i;

	json_object_set_new(o, "id", json_integer(inc->id));
	json_object_set_new(o, "kind", json_string(incident_kind_name(inc->kind)));
	json_object_set_new(o, "state", json_string(incident_state_name(inc->state)));
	json_object_set_new(o, "severity", json_string(incident_severity(inc->kind)));
	json_object_set_new(o, "service", str_or_null(inc->service));
	for (i = 0; i < (size_t)inc->n_services; i++)
		json_array_append_new(svcs, json_string(inc->services[i]));
	json_object_set_new(o, "services", svcs);
	json_object_set_new(o, "instance", str_or_null(inc->instance));
	if (inc->identity[0] != '\0')
		json_object_set_new(o, "identity", json_string(inc->identity));
	if (inc->reason[0] != '\0')
		json_object_set_new(o, "reason", json_string(inc->reason));
	for (i = 0; i < inc->n_agents; i++)
		json_array_append_new(agents, agent_json(&inc->agents[i]));
	json_object_set_new(o, "agents", agents);
	json_object_set_new(o, "agent_count", json_integer(incident_agent_count(inc)));
	json_object_set_new(o, "started", time_or_null(inc->started_ms));
	json_object_set_new(o, "updated", time_or_null(inc->updated_ms));
	json_object_set_new(o, "ended", time_or_null(inc->state == INCIDENT_RESOLVED ? inc->ended_ms : 0));
	json_object_set_new(o, "duration_s",
			    inc->state == INCIDENT_RESOLVED
				    ? json_real((double)(inc->ended_ms - inc->started_ms) / 1000.0)
				    : json_null());
	json_object_set_new(o, "summary", json_string(inc->summary));
	for (i = 0; i < inc->n_events; i++)
		json_array_append_new(events, json_integer(inc->events[i].id));
	json_object_set_new(o, "events", events);
	return o;
}

/* Private state kept beside the document: members, event agents, times
 * the API does not show. */
json_t *
incident_members_json(const struct incident *inc)
{
	json_t *o = json_object(), *m = json_array(), *ev = json_array();
	size_t i;

	for (i = 0; i < inc->n_members; i++)
		json_array_append_new(m, json_pack("[s,b]", inc->members[i].key,
						   inc->members[i].open));
	for (i = 0; i < inc->n_events; i++)
		json_array_append_new(ev, json_pack("[I,s]", (json_int_t)inc->events[i].id,
						    inc->events[i].agent));
	json_object_set_new(o, "members", m);
	json_object_set_new(o, "events", ev);
	json_object_set_new(o, "started_ms", json_integer(inc->started_ms));
	json_object_set_new(o, "updated_ms", json_integer(inc->updated_ms));
	json_object_set_new(o, "ended_ms", json_integer(inc->ended_ms));
	json_object_set_new(o, "instance_up_ms", json_integer(inc->instance_up_ms));
	return o;
}

static int64_t
ms_of(const json_t *v)
{
	int64_t ms = 0;

	if (json_is_string(v) && time_parse_rfc3339(json_string_value(v), &ms) == 0)
		return ms;
	return 0;
}

static void
copy_str(char *dst, size_t len, const json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int
agents_from_json(struct incident *inc, const json_t *arr)
{
	size_t i, n = json_array_size(arr);

	if (n == 0)
		return 0;
	if ((inc->agents = calloc(n, sizeof(*inc->agents))) == NULL)
		return -1;
	inc->cap_agents = n;
	for (i = 0; i < n; i++) {
		const json_t *a = json_array_get(arr, i);
		struct incident_agent *d = &inc->agents[inc->n_agents];

		if (!json_is_object(a))
			continue;
		copy_str(d->agent, sizeof(d->agent), json_object_get(a, "agent"));
		copy_str(d->service, sizeof(d->service), json_object_get(a, "service"));
		d->family = (int)json_integer_value(json_object_get(a, "family"));
		copy_str(d->from, sizeof(d->from), json_object_get(a, "from_instance"));
		copy_str(d->to, sizeof(d->to), json_object_get(a, "to_instance"));
		d->started_ms = ms_of(json_object_get(a, "started"));
		d->ended_ms = ms_of(json_object_get(a, "ended"));
		inc->n_agents++;
	}
	return 0;
}

static int
private_from_json(struct incident *inc, const json_t *p)
{
	const json_t *m = json_object_get(p, "members"), *ev = json_object_get(p, "events");
	size_t i, n;

	if ((n = json_array_size(m)) > 0) {
		if ((inc->members = calloc(n, sizeof(*inc->members))) == NULL)
			return -1;
		inc->cap_members = n;
		for (i = 0; i < n; i++) {
			const json_t *x = json_array_get(m, i);

			copy_str(inc->members[inc->n_members].key, INCIDENT_KEY_MAX,
				 json_array_get(x, 0));
			inc->members[inc->n_members].open = json_is_true(json_array_get(x, 1));
			inc->n_members++;
		}
	}
	if ((n = json_array_size(ev)) > INCIDENT_EVENTS_MAX)
		n = INCIDENT_EVENTS_MAX;
	if (n > 0) {
		if ((inc->events = calloc(n, sizeof(*inc->events))) == NULL)
			return -1;
		inc->cap_events = n;
		for (i = 0; i < n; i++) {
			const json_t *x = json_array_get(ev, i);

			inc->events[i].id = json_integer_value(json_array_get(x, 0));
			copy_str(inc->events[i].agent, RESULT_NAME_MAX, json_array_get(x, 1));
		}
		inc->n_events = n;
	}
	inc->started_ms = json_integer_value(json_object_get(p, "started_ms"));
	inc->updated_ms = json_integer_value(json_object_get(p, "updated_ms"));
	inc->ended_ms = json_integer_value(json_object_get(p, "ended_ms"));
	inc->instance_up_ms = json_integer_value(json_object_get(p, "instance_up_ms"));
	return 0;
}

int
incident_from_json(struct incident *inc, const json_t *doc, const json_t *priv)
{
	const json_t *svcs = json_object_get(doc, "services");
	const char *state = json_string_value(json_object_get(doc, "state"));

	memset(inc, 0, sizeof(*inc));
	if (!json_is_object(doc) || !json_is_integer(json_object_get(doc, "id")) ||
	    !json_is_string(json_object_get(doc, "kind")) ||
	    incident_kind_parse(json_string_value(json_object_get(doc, "kind")), &inc->kind) < 0)
		return -1;
	inc->id = json_integer_value(json_object_get(doc, "id"));
	inc->state = state != NULL && strcmp(state, "open") == 0 ? INCIDENT_OPEN : INCIDENT_RESOLVED;
	copy_str(inc->service, sizeof(inc->service), json_object_get(doc, "service"));
	for (size_t i = 0; i < json_array_size(svcs) && inc->n_services < 4; i++)
		copy_str(inc->services[inc->n_services++], RESULT_NAME_MAX, json_array_get(svcs, i));
	copy_str(inc->instance, sizeof(inc->instance), json_object_get(doc, "instance"));
	copy_str(inc->identity, sizeof(inc->identity), json_object_get(doc, "identity"));
	copy_str(inc->reason, sizeof(inc->reason), json_object_get(doc, "reason"));
	copy_str(inc->summary, sizeof(inc->summary), json_object_get(doc, "summary"));
	if (agents_from_json(inc, json_object_get(doc, "agents")) < 0 ||
	    (priv != NULL && private_from_json(inc, priv) < 0)) {
		incident_clear(inc);
		return -1;
	}
	if (inc->started_ms == 0)
		inc->started_ms = ms_of(json_object_get(doc, "started"));
	return 0;
}
