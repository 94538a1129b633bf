/* common/inventory_yaml.h - helpers of the YAML inventory reader, shared by
 * inventory_yaml.c (helpers, top level), inventory_yaml_services.c (services
 * and instances) and inventory_yaml_sections.c (agents, alerts, thresholds).
 * Internal to common/.
 * Every function returning int gives 0, or -1 with "FILE:LINE: PATH: reason"
 * already written to the context's err buffer. Nodes belong to the document. */
#ifndef ANYCAST_INVENTORY_YAML_H
#define ANYCAST_INVENTORY_YAML_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/inventory.h"

#define INV_PATH_MAX 96 /* "services[12].instances[3].management" */

struct inventory_yaml_ctx {
	yaml_document_t *doc;
	const char *fname; /* for messages; also the base of relative token files */
	char *err;
	size_t errlen;
	struct inventory *inv; /* being filled */
};

yaml_node_t *inventory_yaml_node(struct inventory_yaml_ctx *c, int id);
int inventory_yaml_bad(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "a list", "a mapping", "a value": for "expected X, got Y" messages. */
const char *inventory_yaml_kind(const yaml_node_t *n);
/* 1 for a plain ~, null or empty scalar. */
int inventory_yaml_is_null(const yaml_node_t *n);
/* Scalar copied into dst (size dstlen); too long is an error, never truncated. */
int inventory_yaml_scalar(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                          char *dst, size_t dstlen);
int inventory_yaml_integer(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                           long lo, long hi, int *out);
int inventory_yaml_number(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                          double lo, double *out);
int inventory_yaml_duration(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                            int64_t min_ms, int64_t *out);
/* A service, instance, agent or alert name (inventory_check_name) into a
 * RESULT_NAME_MAX buffer. */
int inventory_yaml_name(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                        char *dst);

/* Calls fn for each key of a mapping with path extended by ".key"; rejects
 * non-mappings, non-scalar and duplicate keys. fn returns 0, -1 (error set),
 * or 1 for an unknown key (reported here). */
typedef int (*inventory_yaml_pair_fn)(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                                      const char *path, void *arg);
int inventory_yaml_each_pair(struct inventory_yaml_ctx *c, yaml_node_t *map, const char *path,
                             inventory_yaml_pair_fn fn, void *arg);
/* A string or a list of at most max distinct strings into dst, an array of
 * entries of width bytes; *n_out entries filled. */
/* A sequence of at most max entries ("what" names them in errors): sets *out
 * to a zeroed array of count + 1 elements of elem_size bytes (caller owns)
 * and returns count, or -1 with the error reported. */
int inventory_yaml_list(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path, int max,
                        const char *what, size_t elem_size, void **out);
int inventory_yaml_string_list(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                               int max, char *dst, size_t width, int *n_out);
/* Same for 1..INV_MAX_ADDRS IPv4/IPv6 addresses. */
int inventory_yaml_address_list(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                                char dst[INV_MAX_ADDRS][RESULT_ADDR_MAX], int *n_out);

/* 64 hex digits into out, lowercased. */
int inventory_yaml_sha256(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                          char out[65]);

/* The "services:" list into c->inv->services (inventory_yaml_services.c). */
int inventory_yaml_services(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path);
/* The other sections (inventory_yaml_sections.c). Alerts name services, so
 * they must be read after "services:". */
int inventory_yaml_agents(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path);
int inventory_yaml_alerts(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path);
int inventory_yaml_thresholds(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path);

#endif
