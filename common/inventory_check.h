/* common/inventory_check.h - value checks and defaults shared by the inventory's
 * YAML reader (inventory_yaml.c) and its JSON reader (inventory.c). Internal to
 * common/: other layers use common/inventory.h. */
#ifndef ANYCAST_INVENTORY_CHECK_H
#define ANYCAST_INVENTORY_CHECK_H

#include <stddef.h>

#include "common/inventory.h"

/* Upper bounds on list sizes, so a hostile or broken file cannot make us
 * allocate without limit. */
#define INV_MAX_SERVICES 256
#define INV_MAX_INSTANCES 256
#define INV_MAX_AGENTS 1000000 /* a sanity limit: memory is the real bound */
#define INV_MAX_ALERTS 64
#define INV_MIN_INTERVAL_MS 500
#define INV_MAX_INTERVAL_MS (86400LL * 1000)
#define INV_DEFAULT_INTERVAL_MS 5000
#define INV_DEFAULT_TIMEOUT_MS 1000
#define INV_DEFAULT_RETENTION_MS (30LL * 86400 * 1000)

/* Each returns NULL when the value is acceptable, or a short reason (a static
 * string: do not free). */
const char *inventory_check_name(const char *name);       /* [A-Za-z0-9._:@-], 1..63 */
const char *inventory_check_address(const char *addr);    /* IPv4 or IPv6 literal */
const char *inventory_check_identify(const char *method); /* nsid | id.server | hostname.bind */
const char *inventory_check_query_name(const char *name);
const char *inventory_check_query_type(const char *type); /* A, AAAA, SOA, TYPE65, ... */
const char *inventory_check_event(const char *event);     /* event types and incident kinds */
const char *inventory_check_kind(const char *kind);       /* incident kinds */

/* Field path for error messages ("services[2].timeout"): like snprintf, but
 * a path longer than n is cut short on purpose (messages stay bounded). */
void inventory_path(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses "dns"/"ntp". 0 or -1. */
int inventory_protocol_parse(const char *s, enum inv_protocol *p);
const char *inventory_protocol_name(enum inv_protocol p);

/* Fills the defaults of a service whose protocol is already set (port,
 * interval, timeout, identify). */
void inventory_service_defaults(struct inv_service *s);
/* A new zeroed inventory with default retention and thresholds, or NULL;
 * caller frees with inventory_free. */
struct inventory *inventory_new_defaults(void);

/* Copies src into dst (size n) when it fits. 0, or -1 when too long. */
int inventory_copy(char *dst, size_t n, const char *src);

#endif
