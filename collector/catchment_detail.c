/* collector/catchment_detail.c - fill an event: incident key and the detail
 * JSON (cause, figures, and the evidence: the round's records behind it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"
#include "common/timefmt.h"

#define EVIDENCE_MAX 8

void
catchment_detail_event(struct event *ev, const char *type, int64_t time_ms, const char *agent,
		       const char *service, int family, const char *from, const char *to,
		       const char *incident_type, int resolves)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ms = time_ms;
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	snprintf(ev->agent, sizeof(ev->agent), "%s", agent);
	snprintf(ev->service, sizeof(ev->service), "%s", service);
	ev->family = family;
	snprintf(ev->from_instance, sizeof(ev->from_instance), "%s", from);
	snprintf(ev->to_instance, sizeof(ev->to_instance), "%s", to);
	/* per agent: type/agent/service/family; per instance: type/service/instance */
	if (agent[0] != '\0')
		snprintf(ev->incident, sizeof(ev->incident), "%s/%s/%s/%d", incident_type, agent,
			 service, family);
	else
		snprintf(ev->incident, sizeof(ev->incident), "%s/%s/%s", incident_type, service,
			 from[0] != '\0' ? from : to);
	ev->resolves = resolves;
}

static json_t *
str_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
record_json(const struct result *r)
{
	char t[32];
	json_t *o = json_object();

	time_format_rfc3339(r->time_ms, t, sizeof(t));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "target", json_string(r->target == RESULT_TARGET_ANYCAST ?
							     "anycast" : "management"));
	json_object_set_new(o, "address", json_string(r->address));
	json_object_set_new(o, "query", str_or_null(r->query));
	json_object_set_new(o, "outcome", json_string(result_outcome_name(r->outcome)));
	json_object_set_new(o, "instance", str_or_null(r->instance));
	json_object_set_new(o, "identity", str_or_null(r->identity));
	json_object_set_new(o, "rtt_ms", r->rtt_ms >= 0 ? json_real(r->rtt_ms) : json_null());
	return o;
}

static int
relevant(const struct event *ev, const struct result *r)
{
	if (r->target == RESULT_TARGET_ANYCAST)
		return ev->family != 0 && r->family == ev->family;
	return r->instance[0] != '\0' &&
	       (strcmp(r->instance, ev->from_instance) == 0 || strcmp(r->instance, ev->to_instance) == 0);
}

void
catchment_detail_write(struct event *ev, const char *cause, json_t *extra, const struct result *r,
		       size_t n)
{
	json_t *d = json_object(), *evid = json_array();
	size_t i, limit;
	char *text = NULL;

	json_object_set_new(d, "cause", json_string(cause));
	if (extra != NULL)
		json_object_update(d, extra);
	json_object_set_new(d, "incident", json_string(ev->incident));
	json_object_set_new(d, "resolves", json_boolean(ev->resolves));
	for (i = 0; i < n && json_array_size(evid) < EVIDENCE_MAX; i++)
		if (relevant(ev, &r[i]))
			json_array_append_new(evid, record_json(&r[i]));
	json_object_set_new(d, "evidence", evid);
	/* Shrink the evidence until the text fits the event's fixed buffer. */
	for (limit = json_array_size(evid);; limit--) {
		while (json_array_size(evid) > limit)
			json_array_remove(evid, json_array_size(evid) - 1);
		free(text);
		text = json_dumps(d, JSON_COMPACT);
		if (text != NULL && strlen(text) < sizeof(ev->detail))
			break;
		if (limit == 0)
			break;
	}
	if (text != NULL && strlen(text) < sizeof(ev->detail))
		memcpy(ev->detail, text, strlen(text) + 1);
	else
		snprintf(ev->detail, sizeof(ev->detail), "{\"cause\":\"%s\"}", cause);
	free(text);
	json_decref(d);
}
