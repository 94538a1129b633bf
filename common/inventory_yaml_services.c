/* common/inventory_yaml_services.c - the inventory's "services:" section: each
 * service, its anycast addresses, probe timing, identification methods and
 * instances, validated with file:line:field errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory_check.h"
#include "common/inventory_yaml.h"

struct svc_arg {
	struct inv_service *s;
	yaml_node_t *protocol, *port, *timeout, *identify, *instances, *checks;
};

static int instance_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                         const char *path, void *arg)
{
	struct inv_instance *in = arg;

	if (strcmp(key, "name") == 0)
		return inventory_yaml_name(c, v, path, in->name);
	if (strcmp(key, "management") == 0)
		return inventory_yaml_address_list(c, v, path, in->management, &in->n_management);
	if (strcmp(key, "identity") == 0)
		return inventory_yaml_is_null(v)
		           ? 0
		           : inventory_yaml_scalar(c, v, path, in->identity, sizeof(in->identity));
	return 1;
}

/* Whether instance o already has addr (compared as addresses, not text). */
static int uses_address(const struct inv_instance *o, const char *addr)
{
	struct inv_service one = {.n_instances = 1, .instances = (struct inv_instance *)o};

	return inventory_instance_by_management(&one, addr) != NULL;
}

static int instances(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                     struct inv_service *s)
{
	char sub[INV_PATH_MAX];

	void *list;
	int count = inventory_yaml_list(c, n, path, INV_MAX_INSTANCES, "instances",
	                                sizeof(*s->instances), &list);

	if (count < 0)
		return -1;
	s->instances = list;
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, n->data.sequence.items.start[i]);
		struct inv_instance *in = &s->instances[i];
		inventory_path(sub, sizeof(sub), "%s[%d]", path, i);
		if (item == NULL || inventory_yaml_each_pair(c, item, sub, instance_pair, in) < 0)
			return -1;
		s->n_instances = i + 1;
		if (in->name[0] == '\0')
			return inventory_yaml_bad(c, item, sub, "missing name");
		for (int j = 0; j < i; j++) {
			const struct inv_instance *o = &s->instances[j];
			if (strcmp(o->name, in->name) == 0)
				return inventory_yaml_bad(
				    c, item, sub, "duplicate instance name \"%s\"", in->name);
			if (in->identity[0] && strcmp(o->identity, in->identity) == 0)
				return inventory_yaml_bad(c, item, sub,
				                          "identity \"%s\" already used by %s",
				                          in->identity, o->name);
			for (int k = 0; k < in->n_management; k++)
				if (uses_address(o, in->management[k]))
					return inventory_yaml_bad(
					    c, item, sub,
					    "management address %s already used by %s",
					    in->management[k], o->name);
		}
	}
	return 0;
}

static int query_spec(struct inventory_yaml_ctx *c, yaml_node_t *v, const char *path,
                      struct inv_service *s)
{
	char q[300], *sp;

	if (inventory_yaml_scalar(c, v, path, q, sizeof(q)) < 0)
		return -1;
	sp = strchr(q, ' ');
	if (sp) {
		*sp++ = '\0';
		while (*sp == ' ')
			sp++;
	}
	if (inventory_copy(s->query_name, sizeof(s->query_name), q) < 0 ||
	    inventory_check_query_name(q) != NULL || q[0] == '\0')
		return inventory_yaml_bad(c, v, path,
		                          "expected \"NAME [TYPE]\", e.g. \"example.lab SOA\"");
	if (sp && *sp) {
		if (inventory_check_query_type(sp) != NULL ||
		    inventory_copy(s->query_type, sizeof(s->query_type), sp) < 0)
			return inventory_yaml_bad(c, v, path, "bad query type \"%s\"", sp);
	}
	return 0;
}

/* "NAME TYPE" (both required) into name/type buffers of a check. */
static int check_query(struct inventory_yaml_ctx *c, yaml_node_t *v, const char *path,
                       struct inv_check *ck)
{
	char q[300], *sp;
	const char *why;

	if (inventory_yaml_scalar(c, v, path, q, sizeof(q)) < 0)
		return -1;
	sp = strchr(q, ' ');
	if (sp == NULL)
		return inventory_yaml_bad(c, v, path,
		                          "expected \"NAME TYPE\", e.g. \"example.lab SOA\"");
	*sp++ = '\0';
	while (*sp == ' ')
		sp++;
	if (q[0] == '\0' || *sp == '\0')
		return inventory_yaml_bad(c, v, path,
		                          "expected \"NAME TYPE\", e.g. \"example.lab SOA\"");
	if ((why = inventory_check_query_name(q)) != NULL ||
	    inventory_copy(ck->query_name, sizeof(ck->query_name), q) < 0)
		return inventory_yaml_bad(c, v, path, "bad name \"%s\": %s", q,
		                          why ? why : "too long");
	if ((why = inventory_check_query_type(sp)) != NULL ||
	    inventory_copy(ck->query_type, sizeof(ck->query_type), sp) < 0)
		return inventory_yaml_bad(c, v, path, "bad type \"%s\": %s", sp,
		                          why ? why : "too long");
	return 0;
}

static int check_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                      const char *path, void *arg)
{
	struct inv_check *ck = arg;
	const char *why;

	if (strcmp(key, "name") == 0) {
		if (inventory_yaml_scalar(c, v, path, ck->name, sizeof(ck->name)) < 0)
			return -1;
		if ((why = inventory_check_name(ck->name)) != NULL)
			return inventory_yaml_bad(c, v, path, "%s", why);
		return 0;
	}
	if (strcmp(key, "query") == 0)
		return check_query(c, v, path, ck);
	if (strcmp(key, "every") == 0) {
		if (inventory_yaml_duration(c, v, path, INV_MIN_INTERVAL_MS, &ck->every_ms) < 0)
			return -1;
		if (ck->every_ms > INV_MAX_INTERVAL_MS)
			return inventory_yaml_bad(c, v, path, "must be at most 1d");
		return 0;
	}
	return 1;
}

static int checks(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                  struct inv_service *s)
{
	char sub[INV_PATH_MAX];

	if (s->protocol != INV_PROTO_DNS)
		return inventory_yaml_bad(c, n, path, "checks are for dns services only");
	if (n->type != YAML_SEQUENCE_NODE)
		return inventory_yaml_bad(c, n, path, "expected a list, got %s",
		                          inventory_yaml_kind(n));
	int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > INV_MAX_CHECKS)
		return inventory_yaml_bad(c, n, path, "at most %d checks", INV_MAX_CHECKS);
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, n->data.sequence.items.start[i]);
		struct inv_check *ck = &s->checks[i];

		inventory_path(sub, sizeof(sub), "%s[%d]", path, i);
		memset(ck, 0, sizeof(*ck));
		if (item == NULL || inventory_yaml_each_pair(c, item, sub, check_pair, ck) < 0)
			return -1;
		if (ck->name[0] == '\0')
			return inventory_yaml_bad(c, item, sub, "missing name");
		if (ck->query_name[0] == '\0')
			return inventory_yaml_bad(c, item, sub, "missing query (\"NAME TYPE\")");
		for (int j = 0; j < i; j++)
			if (strcmp(s->checks[j].name, ck->name) == 0)
				return inventory_yaml_bad(c, item, sub,
				                          "duplicate check name \"%s\"", ck->name);
		s->n_checks = i + 1;
	}
	return 0;
}

static int service_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                        const char *path, void *arg)
{
	struct svc_arg *a = arg;
	struct inv_service *s = a->s;
	const char *why;

	if (strcmp(key, "name") == 0)
		return inventory_yaml_name(c, v, path, s->name);
	if (strcmp(key, "protocol") == 0) {
		char p[8];
		a->protocol = v;
		if (inventory_yaml_scalar(c, v, path, p, sizeof(p)) < 0 ||
		    inventory_protocol_parse(p, &s->protocol) < 0)
			return inventory_yaml_bad(c, v, path, "expected dns or ntp");
		return 0;
	}
	if (strcmp(key, "address") == 0)
		return inventory_yaml_address_list(c, v, path, s->address, &s->n_address);
	if (strcmp(key, "port") == 0)
		return a->port = v, inventory_yaml_integer(c, v, path, 1, 65535, &s->port);
	if (strcmp(key, "interval") == 0) {
		if (inventory_yaml_duration(c, v, path, INV_MIN_INTERVAL_MS, &s->interval_ms) < 0)
			return -1;
		if (s->interval_ms > INV_MAX_INTERVAL_MS)
			return inventory_yaml_bad(c, v, path, "must be at most 1d");
		return 0;
	}
	if (strcmp(key, "timeout") == 0)
		return a->timeout = v, inventory_yaml_duration(c, v, path, 1, &s->timeout_ms);
	if (strcmp(key, "identify") == 0) {
		a->identify = v;
		if (inventory_yaml_string_list(c, v, path, INV_MAX_IDENTIFY, s->identify[0],
		                               sizeof(s->identify[0]), &s->n_identify) < 0)
			return -1;
		if (s->n_identify == 0)
			return inventory_yaml_bad(c, v, path, "empty list");
		for (int i = 0; i < s->n_identify; i++)
			if ((why = inventory_check_identify(s->identify[i])) != NULL)
				return inventory_yaml_bad(c, v, path, "\"%s\": %s", s->identify[i],
				                          why);
		return 0;
	}
	if (strcmp(key, "query") == 0)
		return query_spec(c, v, path, s);
	if (strcmp(key, "query_name") == 0) {
		if (inventory_yaml_scalar(c, v, path, s->query_name, sizeof(s->query_name)) < 0)
			return -1;
		if ((why = inventory_check_query_name(s->query_name)) != NULL)
			return inventory_yaml_bad(c, v, path, "%s", why);
		return 0;
	}
	if (strcmp(key, "query_type") == 0) {
		if (inventory_yaml_scalar(c, v, path, s->query_type, sizeof(s->query_type)) < 0)
			return -1;
		if ((why = inventory_check_query_type(s->query_type)) != NULL)
			return inventory_yaml_bad(c, v, path, "%s", why);
		return 0;
	}
	if (strcmp(key, "checks") == 0) {
		a->checks = v; /* after the loop: needs the protocol */
		return 0;
	}
	if (strcmp(key, "instances") == 0) {
		a->instances = v;
		return 0; /* after the loop: needs nothing else, but keeps errors in order */
	}
	return 1;
}

static int service(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                   struct inv_service *s)
{
	struct svc_arg a = {.s = s};
	char sub[INV_PATH_MAX];

	/* defaults depend on the protocol: find it first */
	s->protocol = INV_PROTO_DNS;
	inventory_service_defaults(s);
	s->timeout_ms = -1;
	s->port = 0;
	if (inventory_yaml_each_pair(c, n, path, service_pair, &a) < 0)
		return -1;
	if (s->name[0] == '\0')
		return inventory_yaml_bad(c, n, path, "missing name");
	if (a.protocol == NULL)
		return inventory_yaml_bad(c, n, path, "missing protocol (dns or ntp)");
	if (s->n_address == 0)
		return inventory_yaml_bad(c, n, path, "missing address");
	if (s->port == 0)
		s->port = s->protocol == INV_PROTO_NTP ? 123 : 53;
	if (s->timeout_ms < 0) {
		/* the default must fit inside a short interval */
		s->timeout_ms = INV_DEFAULT_TIMEOUT_MS;
		if (s->timeout_ms > s->interval_ms)
			s->timeout_ms = s->interval_ms / 2;
	} else if (s->timeout_ms > s->interval_ms) {
		/* equal is allowed: a probe may wait until the next round starts */
		inventory_path(sub, sizeof(sub), "%s.timeout", path);
		return inventory_yaml_bad(c, a.timeout, sub, "must not exceed interval (%lldms)",
		                          (long long)s->interval_ms);
	}
	if (s->query_type[0] && s->query_name[0] == '\0')
		return inventory_yaml_bad(c, n, path, "query_type without query_name");
	if (s->query_name[0] && s->query_type[0] == '\0')
		strcpy(s->query_type, "SOA");
	if (a.checks) {
		inventory_path(sub, sizeof(sub), "%s.checks", path);
		if (checks(c, a.checks, sub, s) < 0)
			return -1;
	}
	if (a.instances) {
		inventory_path(sub, sizeof(sub), "%s.instances", path);
		if (instances(c, a.instances, sub, s) < 0)
			return -1;
	}
	return 0;
}

int inventory_yaml_services(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path)
{
	struct inventory *inv = c->inv;
	char sub[INV_PATH_MAX];

	void *list;
	int count = inventory_yaml_list(c, n, path, INV_MAX_SERVICES, "services",
	                                sizeof(*inv->services), &list);

	if (count < 0)
		return -1;
	inv->services = list;
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, n->data.sequence.items.start[i]);
		inventory_path(sub, sizeof(sub), "%s[%d]", path, i);
		inv->n_services = i + 1;
		if (item == NULL || service(c, item, sub, &inv->services[i]) < 0)
			return -1;
		for (int j = 0; j < i; j++)
			if (strcmp(inv->services[j].name, inv->services[i].name) == 0)
				return inventory_yaml_bad(c, item, sub,
				                          "duplicate service name \"%s\"",
				                          inv->services[i].name);
	}
	return 0;
}
