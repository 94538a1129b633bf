/* common/inventory.c - inventory life cycle, lookups, token hashing, value checks,
 * and the services section as JSON for GET /api/v1/agent/config. The YAML reader
 * is in inventory_yaml.c. */
#include "common/inventory.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory_check.h"

static const char *const identify_methods[] = {"nsid", "id.server", "hostname.bind"};
static const char *const event_types[] = {"catchment_change", "outage",      "recovery",
                                          "instance_down",    "instance_up", "unknown_instance",
                                          "flapping",         "split",       "suboptimal",
                                          "agent_silent",     "guard_withdraw", "guard_restore",
                                          "serial_lag",       "inconsistent_answer", "answer_mismatch"};

/* Incident kinds (collector/incident.h); alert routes may list them. */
static const char *const incident_kinds[] = {
    "instance_down", "route_change",    "outage",       "hijack", "split",
    "flapping",      "suboptimal",      "branch_isolated", "agent_silent", "withdrawn",
    "serial_lag",    "inconsistent_answer", "answer_mismatch"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

int inventory_copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

const char *inventory_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return "empty name";
	if (n >= RESULT_NAME_MAX)
		return "name too long (max 63)";
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._:@-", *p))
			return "name may hold only letters, digits and . _ : @ -";
	return NULL;
}

const char *inventory_check_address(const char *addr)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (strlen(addr) >= RESULT_ADDR_MAX)
		return "address too long";
	if (inet_pton(AF_INET, addr, buf) == 1 || inet_pton(AF_INET6, addr, buf) == 1)
		return NULL;
	return "not an IPv4 or IPv6 address";
}

const char *inventory_check_identify(const char *method)
{
	for (size_t i = 0; i < NELEM(identify_methods); i++)
		if (strcmp(method, identify_methods[i]) == 0)
			return NULL;
	return "unknown method (nsid, id.server, hostname.bind)";
}

const char *inventory_check_query_name(const char *name)
{
	if (strlen(name) > 253)
		return "query name too long";
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-*", *p))
			return "query name may hold only letters, digits and . _ - *";
	return NULL;
}

const char *inventory_check_query_type(const char *type)
{
	size_t n = strlen(type);

	if (n == 0 || n >= sizeof(((struct inv_service *)0)->query_type))
		return "bad query type";
	for (const char *p = type; *p; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
			return "query type must be an upper-case mnemonic (A, AAAA, SOA, ...)";
	return NULL;
}

const char *inventory_check_event(const char *event)
{
	for (size_t i = 0; i < NELEM(event_types); i++)
		if (strcmp(event, event_types[i]) == 0)
			return NULL;
	for (size_t i = 0; i < NELEM(incident_kinds); i++)
		if (strcmp(event, incident_kinds[i]) == 0)
			return NULL;
	return "unknown event type";
}

const char *inventory_check_kind(const char *kind)
{
	for (size_t i = 0; i < NELEM(incident_kinds); i++)
		if (strcmp(kind, incident_kinds[i]) == 0)
			return NULL;
	return "unknown incident kind";
}

int inventory_protocol_parse(const char *s, enum inv_protocol *p)
{
	if (strcmp(s, "dns") == 0)
		*p = INV_PROTO_DNS;
	else if (strcmp(s, "ntp") == 0)
		*p = INV_PROTO_NTP;
	else
		return -1;
	return 0;
}

const char *inventory_protocol_name(enum inv_protocol p)
{
	return p == INV_PROTO_NTP ? "ntp" : "dns";
}

void inventory_service_defaults(struct inv_service *s)
{
	s->port = s->protocol == INV_PROTO_NTP ? 123 : 53;
	s->interval_ms = INV_DEFAULT_INTERVAL_MS;
	s->timeout_ms = INV_DEFAULT_TIMEOUT_MS;
	s->n_identify = (int)NELEM(identify_methods);
	for (size_t i = 0; i < NELEM(identify_methods); i++)
		strcpy(s->identify[i], identify_methods[i]);
}

struct inventory *inventory_new_defaults(void)
{
	struct inventory *inv = calloc(1, sizeof(*inv));

	if (inv == NULL)
		return NULL;
	inv->retention_ms = INV_DEFAULT_RETENTION_MS;
	inv->rollup_retention_ms = inv->event_retention_ms = 400LL * 86400 * 1000;
	inv->thresholds = (struct inv_thresholds){
	    .hysteresis = 2,
	    .outage_rounds = 2,
	    .instance_down_agents = 1,
	    .instance_down_rounds = 2,
	    .flap_changes = 4,
	    .flap_window_ms = 10 * 60 * 1000,
	    .flap_stable_ms = 2 * 60 * 1000,
	    .split_window_ms = 30 * 1000,
	    .split_min_switches = 3,
	    .suboptimal_ms = 20,
	    .suboptimal_pct = 50,
	    .suboptimal_for_ms = 60 * 1000,
	    .incident_hold_ms = 0,
	    .agent_silent_intervals = 3,
	    .serial_lag_ms = 5 * 60 * 1000,
	};
	return inv;
}

void inventory_free(struct inventory *inv)
{
	if (inv == NULL)
		return;
	for (int i = 0; i < inv->n_services; i++)
		free(inv->services[i].instances);
	free(inv->services);
	hashmap_clear(&inv->agent_by_token);
	hashmap_clear(&inv->agent_by_name);
	free(inv->agents);
	free(inv->alerts);
	free(inv);
}

const struct inv_service *inventory_find_service(const struct inventory *inv, const char *name)
{
	for (int i = 0; i < inv->n_services; i++)
		if (strcmp(inv->services[i].name, name) == 0)
			return &inv->services[i];
	return NULL;
}

const struct inv_instance *inventory_instance_by_management(const struct inv_service *s,
                                                            const char *addr)
{
	unsigned char want[sizeof(struct in6_addr)], have[sizeof(struct in6_addr)];
	int af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	int parsed = inet_pton(af, addr, want) == 1;

	/* compare binary forms so "2001:db8::1" matches "2001:DB8:0::1" */
	for (int i = 0; i < s->n_instances; i++) {
		const struct inv_instance *in = &s->instances[i];
		for (int k = 0; k < in->n_management; k++) {
			if (strcmp(in->management[k], addr) == 0)
				return in;
			if (parsed && inet_pton(af, in->management[k], have) == 1 &&
			    memcmp(want, have, af == AF_INET ? 4 : 16) == 0)
				return in;
		}
	}
	return NULL;
}

const struct inv_instance *inventory_instance_by_identity(const struct inv_service *s,
                                                          const char *identity)
{
	if (identity[0] == '\0')
		return NULL;
	for (int i = 0; i < s->n_instances; i++)
		if (strcmp(s->instances[i].identity, identity) == 0)
			return &s->instances[i];
	return NULL;
}

const struct inv_agent *inventory_find_agent(const struct inventory *inv, const char *name)
{
	return hashmap_get(&inv->agent_by_name, name);
}

const struct inv_agent *inventory_find_agent_by_hash(const struct inventory *inv,
                                                     const char *token_sha256_hex)
{
	const struct inv_agent *a;
	char want[65];
	size_t n = strlen(token_sha256_hex);

	if (n != 64)
		return NULL;
	for (size_t i = 0; i < 64; i++)
		want[i] = (char)tolower((unsigned char)token_sha256_hex[i]);
	want[64] = '\0';
	if ((a = hashmap_get(&inv->agent_by_token, want)) == NULL)
		return NULL;
	/* The map's strcmp stops at the first differing byte; the final say
	 * belongs to a comparison that does not. */
	return CRYPTO_memcmp(a->token_sha256, want, 64) == 0 ? a : NULL;
}

void inventory_token_hash(const char *token, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	while (len > 0 && isspace((unsigned char)token[0]))
		token++, len--;
	while (len > 0 && isspace((unsigned char)token[len - 1]))
		len--;
	if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		/* never matches a configured hash: those are hex digits only */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

struct inventory *inventory_load(const char *path, char *err, size_t errlen)
{
	/* Refuse anything absurd before reading: a million agents (the most
	 * INV_MAX_AGENTS allows) take about 110 MB of YAML. */
	const long max = 256L * 1024 * 1024;
	FILE *f = fopen(path, "rb");
	struct inventory *inv = NULL;
	char *text = NULL;
	long n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %m", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "%s: cannot read: %m", path);
		goto out;
	}
	if (n > max) {
		snprintf(err, errlen, "%s: file too large (max %ld bytes)", path, max);
		goto out;
	}
	text = malloc((size_t)n + 1);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (fread(text, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errlen, "%s: cannot read: %m", path);
		goto out;
	}
	text[n] = '\0';
	inv = inventory_parse(text, (size_t)n, path, err, errlen);
	if (inv != NULL && inventory_copy(inv->path, sizeof(inv->path), path) < 0)
		inv->path[0] = '\0';
out:
	free(text);
	fclose(f);
	return inv;
}

void inventory_path(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

int inventory_check_rounds(const struct inv_service *s, const struct inv_check *ck)
{
	int64_t n;

	if (ck->every_ms <= 0 || s->interval_ms <= 0)
		return 10;
	n = (ck->every_ms + s->interval_ms - 1) / s->interval_ms;
	return n < 1 ? 1 : n > 1000000 ? 1000000 : (int)n;
}
