/* collector/api_incidents.c - GET /api/v1/incidents (newest first, by state
 * and time, paged with before_id) and GET /api/v1/incidents/ID (one incident
 * with the timeline of its events). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/api_int.h"

void
api_get_incidents(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char sbuf[16];
	struct store_incidents_query q = { .since_ms = INT64_MIN };
	json_t *arr, *body;
	size_t n;

	if (api_param(c, ex, req, "state", sbuf, sizeof(sbuf), &q.state) != 0 ||
	    api_param_time(c, ex, req, "since", &q.since_ms) != 0 ||
	    api_param_int(c, ex, req, "before_id", 0, INT64_MAX, &q.before_id) != 0 ||
	    api_param_limit(c, ex, req, &q.limit) != 0)
		return;
	if (q.state != NULL && strcmp(q.state, "open") != 0 && strcmp(q.state, "resolved") != 0) {
		api_error(c, ex, 400, "state: must be open or resolved");
		return;
	}
	if ((arr = store_query_incidents(c->reader, &q)) == NULL) {
		api_error(c, ex, 503, "database query failed or took too long");
		return;
	}
	body = json_pack("{s:o}", "incidents", arr);
	n = json_array_size(arr);
	if (n == (size_t)q.limit && n > 0) {
		json_int_t last = json_integer_value(json_object_get(json_array_get(arr, n - 1), "id"));
		char next[64];

		snprintf(next, sizeof(next), "before_id=%" JSON_INTEGER_FORMAT, last);
		json_object_set_new(body, "next", json_string(next));
	}
	api_json(c, ex, 200, body, NULL);
}

void
api_get_incident(struct collector *c, struct http_exchange *ex, const char *id_txt)
{
	struct store_events_query q = { .since_ms = INT64_MIN, .limit = 1000 };
	json_t *inc, *timeline;
	char *end;
	long long id;

	errno = 0;
	id = strtoll(id_txt, &end, 10);
	if (errno != 0 || end == id_txt || *end != '\0' || id <= 0) {
		api_error(c, ex, 400, "incident id must be a positive integer");
		return;
	}
	if ((inc = store_get_incident(c->reader, id)) == NULL) {
		api_error(c, ex, 503, "database query failed or took too long");
		return;
	}
	if (json_is_null(inc)) {
		json_decref(inc);
		api_error(c, ex, 404, "no incident %lld", id);
		return;
	}
	q.incident_id = id;
	if ((timeline = store_query_events(c->reader, &q)) == NULL) {
		json_decref(inc);
		api_error(c, ex, 503, "database query failed or took too long");
		return;
	}
	json_object_set_new(inc, "timeline", timeline);
	api_json(c, ex, 200, json_pack("{s:o}", "incident", inc), NULL);
}
