/* collector/guard_report.c - validation of guard reports (see guard_report.h). */
#include "collector/guard_report.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timefmt.h"

#define MAX_AHEAD_MS (24LL * 3600 * 1000)
#define SEQ_MAX ((json_int_t)1 << 53)

static int bad(char *msg, size_t len, size_t i, const char *field, const char *why)
{
	snprintf(msg, len, "actions[%zu]: %s: %s", i, field, why);
	return -1;
}

/* A string field into dst: required ones must be present and non-empty. */
static int get_str(const json_t *o, const char *key, char *dst, size_t dlen, int required,
		   size_t i, char *msg, size_t mlen)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return required ? bad(msg, mlen, i, key, "missing") : 0;
	if (!json_is_string(v))
		return bad(msg, mlen, i, key, "must be a string");
	n = json_string_length(v);
	if (n >= dlen)
		return bad(msg, mlen, i, key, "too long");
	if (memchr(json_string_value(v), '\0', n) != NULL)
		return bad(msg, mlen, i, key, "contains NUL");
	if (required && n == 0)
		return bad(msg, mlen, i, key, "empty");
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

static int known_instance(const struct inventory *inv, const char *service, const char *instance)
{
	const struct inv_service *s = inventory_find_service(inv, service);

	for (int k = 0; s != NULL && k < s->n_instances; k++)
		if (strcmp(s->instances[k].name, instance) == 0)
			return 1;
	return 0;
}

static int parse_one(const json_t *o, size_t i, const struct inventory *inv,
		     const struct inv_agent *a, int64_t now_ms, struct guard_action *g, char *msg,
		     size_t mlen)
{
	const json_t *v;
	char kind[16], when[64];
	unsigned char buf[16];

	memset(g, 0, sizeof(*g));
	if (!json_is_object(o)) {
		snprintf(msg, mlen, "actions[%zu]: must be an object", i);
		return -1;
	}
	v = json_object_get(o, "seq");
	if (v == NULL)
		return bad(msg, mlen, i, "seq", "missing");
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SEQ_MAX)
		return bad(msg, mlen, i, "seq", "must be an integer from 1 to 2^53");
	g->seq = (uint64_t)json_integer_value(v);
	if (get_str(o, "time", when, sizeof(when), 1, i, msg, mlen) < 0)
		return -1;
	if (time_parse_rfc3339(when, &g->time_ms) < 0)
		return bad(msg, mlen, i, "time", "not an RFC 3339 time");
	if (g->time_ms > now_ms + MAX_AHEAD_MS)
		return bad(msg, mlen, i, "time", "more than 24 h ahead of the collector's clock");
	if (get_str(o, "action", kind, sizeof(kind), 1, i, msg, mlen) < 0)
		return -1;
	if (strcmp(kind, "withdraw") == 0)
		g->withdraw = 1;
	else if (strcmp(kind, "restore") != 0)
		return bad(msg, mlen, i, "action", "must be \"withdraw\" or \"restore\"");
	if (get_str(o, "service", g->service, sizeof(g->service), 1, i, msg, mlen) < 0 ||
	    get_str(o, "instance", g->instance, sizeof(g->instance), 1, i, msg, mlen) < 0)
		return -1;
	if (inventory_find_service(inv, g->service) == NULL)
		return bad(msg, mlen, i, "service", "not a service of the inventory");
	if (strcmp(g->instance, a->guard) != 0) {
		snprintf(msg, mlen, "actions[%zu]: instance: agent %s guards %s, not %s", i, a->name,
			 a->guard, g->instance);
		return -1;
	}
	if (!known_instance(inv, g->service, g->instance))
		return bad(msg, mlen, i, "instance", "not an instance of that service");
	if (get_str(o, "reason", g->reason, sizeof(g->reason), g->withdraw, i, msg, mlen) < 0)
		return -1;
	text_neutralise(g->reason, '?');
	if (get_str(o, "address", g->address, sizeof(g->address), 0, i, msg, mlen) < 0)
		return -1;
	if (g->address[0] && inet_pton(AF_INET, g->address, buf) != 1 &&
	    inet_pton(AF_INET6, g->address, buf) != 1)
		return bad(msg, mlen, i, "address", "not an IPv4 or IPv6 address");
	if (get_str(o, "method", g->method, sizeof(g->method), 0, i, msg, mlen) < 0)
		return -1;
	if (g->method[0] && strcmp(g->method, "bird") && strcmp(g->method, "address") &&
	    strcmp(g->method, "command"))
		return bad(msg, mlen, i, "method", "must be bird, address or command");
	v = json_object_get(o, "applied");
	if (v != NULL && !json_is_boolean(v) && !json_is_null(v))
		return bad(msg, mlen, i, "applied", "must be true or false");
	g->applied = v == NULL || !json_is_false(v);
	return 0;
}

int guard_report_parse(const char *body, size_t len, const struct inventory *inv,
		       const struct inv_agent *a, int64_t now_ms, struct guard_action **out,
		       size_t *n, char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *root, *arr, *status;
	struct guard_action *list = NULL;
	size_t count = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (a->guard[0] == '\0') {
		snprintf(msg, msglen, "agent %s is not a guard (no \"guard:\" in its inventory entry)",
			 a->name);
		return -1;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(msg, msglen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(msg, msglen, "body must be a JSON object");
		goto out;
	}
	arr = json_object_get(root, "actions");
	if (!json_is_array(arr)) {
		snprintf(msg, msglen, "actions: must be an array");
		goto out;
	}
	status = json_object_get(root, "status");
	if (status != NULL && !json_is_object(status) && !json_is_null(status)) {
		snprintf(msg, msglen, "status: must be an object");
		goto out;
	}
	count = json_array_size(arr);
	if (count > GUARD_REPORT_MAX_ACTIONS) {
		snprintf(msg, msglen, "actions: more than %d in one report", GUARD_REPORT_MAX_ACTIONS);
		goto out;
	}
	if (count > 0 && (list = calloc(count, sizeof(*list))) == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (parse_one(json_array_get(arr, i), i, inv, a, now_ms, &list[i], msg, msglen) < 0)
			goto out;
		if (i > 0 && list[i].seq <= list[i - 1].seq) {
			snprintf(msg, msglen, "actions[%zu]: seq: must be larger than the one before", i);
			goto out;
		}
	}
	*out = list;
	*n = count;
	list = NULL;
	rc = 0;
out:
	free(list);
	json_decref(root);
	return rc;
}

const char *guard_action_event_type(const struct guard_action *g)
{
	return g->withdraw ? "guard_withdraw" : "guard_restore";
}
