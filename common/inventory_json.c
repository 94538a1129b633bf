/* common/inventory_json.c - the inventory's services section as the JSON of
 * GET /api/v1/agent/config, and its validating reader on the agent side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"
#include "common/inventory_check.h"

static json_t *str_array(const char *first, size_t width, int n)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(first + (size_t)i * width));
	return a;
}

json_t *inventory_services_to_json(const struct inventory *inv)
{
	json_t *list = json_array();

	for (int i = 0; list && i < inv->n_services; i++) {
		const struct inv_service *s = &inv->services[i];
		json_t *insts = json_array(), *cks = json_array();
		for (int k = 0; cks && k < s->n_checks; k++) {
			const struct inv_check *ck = &s->checks[k];
			json_array_append_new(
			    cks, json_pack("{s:s, s:s, s:s, s:I}", "name", ck->name, "query_name",
			                   ck->query_name, "query_type", ck->query_type, "every_ms",
			                   (json_int_t)ck->every_ms));
		}
		for (int k = 0; insts && k < s->n_instances; k++) {
			const struct inv_instance *in = &s->instances[k];
			json_array_append_new(
			    insts, json_pack("{s:s, s:o, s:s}", "name", in->name, "management",
			                     str_array(in->management[0], RESULT_ADDR_MAX,
			                               in->n_management),
			                     "identity", in->identity));
		}
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:s, s:o, s:i, s:I, s:I, s:o, s:s, s:s, s:o, s:o}", "name", s->name,
		              "protocol", inventory_protocol_name(s->protocol), "address",
		              str_array(s->address[0], RESULT_ADDR_MAX, s->n_address), "port",
		              s->port, "interval_ms", (json_int_t)s->interval_ms, "timeout_ms",
		              (json_int_t)s->timeout_ms, "identify",
		              str_array(s->identify[0], sizeof(s->identify[0]), s->n_identify),
		              "query_name", s->query_name, "query_type", s->query_type, "checks",
		              cks, "instances", insts));
	}
	return json_pack("{s:o}", "services", list);
}

static int fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

/* Copies string member key of obj into dst. Absent or null gives "" unless
 * required. */
static int get_str(const json_t *obj, const char *key, const char *path, char *dst, size_t n,
                   int required, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	char p[128];

	inventory_path(p, sizeof(p), "%s.%s", path, key);
	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return required ? fail(err, errlen, p, "missing") : 0;
	if (!json_is_string(v))
		return fail(err, errlen, p, "must be a string");
	if (json_string_length(v) >= n || strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, errlen, p, "too long or contains NUL");
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_strs(const json_t *obj, const char *key, const char *path, int max, char *dst,
                    size_t width, int *n_out, char *err, size_t errlen)
{
	const json_t *a = json_object_get(obj, key);
	char p[128];
	size_t i;
	const json_t *v;

	inventory_path(p, sizeof(p), "%s.%s", path, key);
	*n_out = 0;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return fail(err, errlen, p, "must be a list");
	if (json_array_size(a) > (size_t)max)
		return fail(err, errlen, p, "too many entries");
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) >= width ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return fail(err, errlen, p, "entries must be short strings");
		memcpy(dst + i * width, json_string_value(v), json_string_length(v) + 1);
	}
	*n_out = (int)json_array_size(a);
	return 0;
}

static int get_int(const json_t *obj, const char *key, const char *path, json_int_t lo,
                   json_int_t hi, int64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	char p[128];

	inventory_path(p, sizeof(p), "%s.%s", path, key);
	if (v == NULL || !json_is_integer(v))
		return fail(err, errlen, p, "must be an integer");
	if (json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fail(err, errlen, p, "out of range");
	*out = json_integer_value(v);
	return 0;
}

static int check_addrs(char a[INV_MAX_ADDRS][RESULT_ADDR_MAX], int n, const char *path,
                       const char *key, char *err, size_t errlen)
{
	char p[128];

	inventory_path(p, sizeof(p), "%s.%s", path, key);
	for (int i = 0; i < n; i++)
		if (inventory_check_address(a[i]) != NULL)
			return fail(err, errlen, p, "not an IPv4 or IPv6 address");
	return 0;
}

static int instance_from_json(const json_t *o, const char *path, struct inv_instance *in, char *err,
                              size_t errlen)
{
	char p[128];

	if (!json_is_object(o))
		return fail(err, errlen, path, "must be an object");
	if (get_str(o, "name", path, in->name, sizeof(in->name), 1, err, errlen) < 0 ||
	    get_strs(o, "management", path, INV_MAX_ADDRS, in->management[0], RESULT_ADDR_MAX,
	             &in->n_management, err, errlen) < 0 ||
	    check_addrs(in->management, in->n_management, path, "management", err, errlen) < 0 ||
	    get_str(o, "identity", path, in->identity, sizeof(in->identity), 0, err, errlen) < 0)
		return -1;
	inventory_path(p, sizeof(p), "%s.name", path);
	if (inventory_check_name(in->name) != NULL)
		return fail(err, errlen, p, inventory_check_name(in->name));
	return 0;
}

static int checks_from_json(const json_t *o, const char *path, struct inv_service *s, char *err,
                            size_t errlen)
{
	const json_t *list = json_object_get(o, "checks");
	char p[128];

	inventory_path(p, sizeof(p), "%s.checks", path);
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return fail(err, errlen, p, "must be a list");
	if (json_array_size(list) > INV_MAX_CHECKS)
		return fail(err, errlen, p, "too many checks");
	if (json_array_size(list) > 0 && s->protocol != INV_PROTO_DNS)
		return fail(err, errlen, p, "checks are for dns services only");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		struct inv_check *ck = &s->checks[i];
		int64_t every;

		inventory_path(p, sizeof(p), "%s.checks[%zu]", path, i);
		if (!json_is_object(e))
			return fail(err, errlen, p, "must be an object");
		if (get_str(e, "name", p, ck->name, sizeof(ck->name), 1, err, errlen) < 0 ||
		    get_str(e, "query_name", p, ck->query_name, sizeof(ck->query_name), 1, err,
		            errlen) < 0 ||
		    get_str(e, "query_type", p, ck->query_type, sizeof(ck->query_type), 1, err,
		            errlen) < 0)
			return -1;
		if (inventory_check_name(ck->name) != NULL)
			return fail(err, errlen, p, inventory_check_name(ck->name));
		if (ck->query_name[0] == '\0' || inventory_check_query_name(ck->query_name))
			return fail(err, errlen, p, "bad query_name");
		if (inventory_check_query_type(ck->query_type) != NULL)
			return fail(err, errlen, p, inventory_check_query_type(ck->query_type));
		if (json_object_get(e, "every_ms") != NULL &&
		    json_integer_value(json_object_get(e, "every_ms")) == 0 &&
		    json_is_integer(json_object_get(e, "every_ms")))
			every = 0;
		else if (get_int(e, "every_ms", p, INV_MIN_INTERVAL_MS, INV_MAX_INTERVAL_MS,
		                 &every, err, errlen) < 0)
			return -1;
		ck->every_ms = every;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->checks[j].name, ck->name) == 0)
				return fail(err, errlen, p, "duplicate check name");
		s->n_checks = (int)i + 1;
	}
	return 0;
}

static int service_from_json(const json_t *o, const char *path, struct inv_service *s, char *err,
                             size_t errlen)
{
	char proto[8], p[128];
	int64_t v;
	const json_t *insts;

	if (!json_is_object(o))
		return fail(err, errlen, path, "must be an object");
	if (get_str(o, "name", path, s->name, sizeof(s->name), 1, err, errlen) < 0 ||
	    get_str(o, "protocol", path, proto, sizeof(proto), 1, err, errlen) < 0)
		return -1;
	inventory_path(p, sizeof(p), "%s.name", path);
	if (inventory_check_name(s->name) != NULL)
		return fail(err, errlen, p, inventory_check_name(s->name));
	inventory_path(p, sizeof(p), "%s.protocol", path);
	if (inventory_protocol_parse(proto, &s->protocol) < 0)
		return fail(err, errlen, p, "must be dns or ntp");
	if (get_strs(o, "address", path, INV_MAX_ADDRS, s->address[0], RESULT_ADDR_MAX,
	             &s->n_address, err, errlen) < 0 ||
	    check_addrs(s->address, s->n_address, path, "address", err, errlen) < 0)
		return -1;
	inventory_path(p, sizeof(p), "%s.address", path);
	if (s->n_address == 0)
		return fail(err, errlen, p, "missing");
	if (get_int(o, "port", path, 1, 65535, &v, err, errlen) < 0)
		return -1;
	s->port = (int)v;
	if (get_int(o, "interval_ms", path, INV_MIN_INTERVAL_MS, INV_MAX_INTERVAL_MS,
	            &s->interval_ms, err, errlen) < 0 ||
	    get_int(o, "timeout_ms", path, 1, s->interval_ms, &s->timeout_ms, err, errlen) < 0)
		return -1;
	if (get_strs(o, "identify", path, INV_MAX_IDENTIFY, s->identify[0], sizeof(s->identify[0]),
	             &s->n_identify, err, errlen) < 0)
		return -1;
	inventory_path(p, sizeof(p), "%s.identify", path);
	for (int i = 0; i < s->n_identify; i++)
		if (inventory_check_identify(s->identify[i]) != NULL)
			return fail(err, errlen, p, inventory_check_identify(s->identify[i]));
	if (get_str(o, "query_name", path, s->query_name, sizeof(s->query_name), 0, err, errlen) <
	        0 ||
	    get_str(o, "query_type", path, s->query_type, sizeof(s->query_type), 0, err, errlen) <
	        0)
		return -1;
	inventory_path(p, sizeof(p), "%s.query_name", path);
	if (inventory_check_query_name(s->query_name) != NULL)
		return fail(err, errlen, p, inventory_check_query_name(s->query_name));
	inventory_path(p, sizeof(p), "%s.query_type", path);
	if (s->query_type[0] && inventory_check_query_type(s->query_type) != NULL)
		return fail(err, errlen, p, inventory_check_query_type(s->query_type));
	if (checks_from_json(o, path, s, err, errlen) < 0)
		return -1;

	insts = json_object_get(o, "instances");
	inventory_path(p, sizeof(p), "%s.instances", path);
	if (insts != NULL && !json_is_null(insts) && !json_is_array(insts))
		return fail(err, errlen, p, "must be a list");
	size_t n = json_array_size(insts); /* 0 for NULL and non-arrays */
	if (n > INV_MAX_INSTANCES)
		return fail(err, errlen, p, "too many instances");
	s->instances = calloc(n + 1, sizeof(*s->instances));
	if (s->instances == NULL)
		return fail(err, errlen, p, "out of memory");
	for (size_t i = 0; i < n; i++) {
		inventory_path(p, sizeof(p), "%s.instances[%zu]", path, i);
		if (instance_from_json(json_array_get(insts, i), p, &s->instances[i], err, errlen) <
		    0)
			return -1;
		s->n_instances = (int)i + 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->instances[j].name, s->instances[i].name) == 0)
				return fail(err, errlen, p, "duplicate instance name");
	}
	return 0;
}

struct inventory *inventory_services_from_json(const json_t *obj, char *err, size_t errlen)
{
	struct inventory *inv = NULL;
	const json_t *list = json_object_get(obj, "services");
	char path[64], fallback[8];

	if (err == NULL || errlen == 0)
		err = fallback, errlen = sizeof(fallback);
	if (!json_is_object(obj) || !json_is_array(list)) {
		fail(err, errlen, "services", "missing or not a list");
		return NULL;
	}
	size_t n = json_array_size(list);
	if (n > INV_MAX_SERVICES) {
		fail(err, errlen, "services", "too many services");
		return NULL;
	}
	if ((inv = inventory_new_defaults()) == NULL ||
	    (inv->services = calloc(n + 1, sizeof(*inv->services))) == NULL) {
		fail(err, errlen, "services", "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "services[%zu]", i);
		inv->n_services = (int)i + 1;
		if (service_from_json(json_array_get(list, i), path, &inv->services[i], err,
		                      errlen) < 0)
			goto bad;
		for (size_t j = 0; j < i; j++)
			if (strcmp(inv->services[j].name, inv->services[i].name) == 0) {
				fail(err, errlen, path, "duplicate service name");
				goto bad;
			}
	}
	return inv;
bad:
	inventory_free(inv);
	return NULL;
}
