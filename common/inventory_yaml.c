/* common/inventory_yaml.c - reads the YAML inventory with libyaml's document API:
 * value helpers and the top level. Every error names file, line and field. The
 * sections are in inventory_yaml_services.c and inventory_yaml_sections.c. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/inventory_check.h"
#include "common/inventory_yaml.h"
#include "common/timefmt.h"

#define INV_MAX_DEPTH 16 /* the inventory itself needs 5 */

yaml_node_t *inventory_yaml_node(struct inventory_yaml_ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

int inventory_yaml_bad(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                       const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%zu: %s: %s", c->fname, n ? n->start_mark.line + 1 : 0,
	         path, msg);
	return -1;
}

const char *inventory_yaml_kind(const yaml_node_t *n)
{
	return n->type == YAML_SEQUENCE_NODE  ? "a list"
	       : n->type == YAML_MAPPING_NODE ? "a mapping"
	                                      : "a value";
}

int inventory_yaml_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* A scalar copied into dst; over-long values are errors, never truncated. */
int inventory_yaml_scalar(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                          char *dst, size_t dstlen)
{
	if (n->type != YAML_SCALAR_NODE)
		return inventory_yaml_bad(c, n, path, "expected a string, got %s",
		                          inventory_yaml_kind(n));
	if (n->data.scalar.length >= dstlen)
		return inventory_yaml_bad(c, n, path, "too long (max %zu bytes)", dstlen - 1);
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length) != NULL)
		return inventory_yaml_bad(c, n, path, "contains a NUL byte");
	memcpy(dst, n->data.scalar.value, n->data.scalar.length + 1);
	return 0;
}

int inventory_yaml_integer(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                           long lo, long hi, int *out)
{
	char s[32], *end;
	long v;

	if (inventory_yaml_scalar(c, n, path, s, sizeof(s)) < 0)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0)
		return inventory_yaml_bad(c, n, path, "not an integer \"%s\"", s);
	if (v < lo || v > hi)
		return inventory_yaml_bad(c, n, path, "%ld out of range [%ld, %ld]", v, lo, hi);
	*out = (int)v;
	return 0;
}

int inventory_yaml_number(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                          double lo, double *out)
{
	char s[32], *end;
	double v;

	if (inventory_yaml_scalar(c, n, path, s, sizeof(s)) < 0)
		return -1;
	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || !isfinite(v))
		return inventory_yaml_bad(c, n, path, "not a number \"%s\"", s);
	if (v < lo)
		return inventory_yaml_bad(c, n, path, "must be >= %g", lo);
	*out = v;
	return 0;
}

int inventory_yaml_duration(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                            int64_t min_ms, int64_t *out)
{
	char s[32];

	if (inventory_yaml_scalar(c, n, path, s, sizeof(s)) < 0)
		return -1;
	if (duration_parse_ms(s, out) < 0)
		return inventory_yaml_bad(c, n, path, "bad duration \"%s\"", s);
	if (*out < min_ms)
		return inventory_yaml_bad(c, n, path, "must be at least %lldms", (long long)min_ms);
	return 0;
}

int inventory_yaml_sha256(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                          char out[65])
{
	if (inventory_yaml_scalar(c, n, path, out, 65) < 0)
		return -1;
	if (strlen(out) != 64 || strspn(out, "0123456789abcdefABCDEF") != 64)
		return inventory_yaml_bad(c, n, path, "expected 64 hex digits (a SHA-256)");
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return 0;
}

int inventory_yaml_name(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                        char *dst)
{
	const char *why;

	if (inventory_yaml_scalar(c, n, path, dst, RESULT_NAME_MAX) < 0)
		return -1;
	if ((why = inventory_check_name(dst)) != NULL)
		return inventory_yaml_bad(c, n, path, "%s", why);
	return 0;
}

int inventory_yaml_each_pair(struct inventory_yaml_ctx *c, yaml_node_t *map, const char *path,
                             inventory_yaml_pair_fn fn, void *arg)
{
	char sub[INV_PATH_MAX + 64];

	if (map->type != YAML_MAPPING_NODE)
		return inventory_yaml_bad(c, map, path, "expected a mapping, got %s",
		                          inventory_yaml_kind(map));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = inventory_yaml_node(c, p->key),
		            *v = inventory_yaml_node(c, p->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return inventory_yaml_bad(c, k ? k : map, path[0] ? path : "(top)",
			                          "keys must be plain strings");
		const char *key = (const char *)k->data.scalar.value;
		if (path[0])
			snprintf(sub, sizeof(sub), "%s.%.40s", path, key);
		else
			snprintf(sub, sizeof(sub), "%.40s", key);
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = inventory_yaml_node(c, q->key);
			if (k2 && k2->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)k2->data.scalar.value, key) == 0)
				return inventory_yaml_bad(c, k, sub, "duplicate key");
		}
		int rc = fn(c, key, v, sub, arg);
		if (rc == 1)
			return inventory_yaml_bad(c, k, sub, "unknown key");
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* A list of strings (a single string counts as a one-element list) into
 * n_out entries of dst, each of size width. */
int inventory_yaml_list(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path, int max,
                        const char *what, size_t elem_size, void **out)
{
	int count;

	if (n->type != YAML_SEQUENCE_NODE)
		return inventory_yaml_bad(c, n, path, "expected a list, got %s",
		                          inventory_yaml_kind(n));
	count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > max)
		return inventory_yaml_bad(c, n, path, "too many %s (max %d)", what, max);
	if ((*out = calloc((size_t)count + 1, elem_size)) == NULL)
		return inventory_yaml_bad(c, n, path, "out of memory");
	return count;
}

int inventory_yaml_string_list(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                               int max, char *dst, size_t width, int *n_out)
{
	char sub[INV_PATH_MAX + 16];

	*n_out = 0;
	if (n->type == YAML_SCALAR_NODE) {
		if (inventory_yaml_scalar(c, n, path, dst, width) < 0)
			return -1;
		*n_out = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return inventory_yaml_bad(c, n, path, "expected a string or a list, got %s",
		                          inventory_yaml_kind(n));
	int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > max)
		return inventory_yaml_bad(c, n, path, "too many entries (max %d)", max);
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, n->data.sequence.items.start[i]);
		snprintf(sub, sizeof(sub), "%s[%d]", path, i);
		if (item == NULL ||
		    inventory_yaml_scalar(c, item, sub, dst + (size_t)i * width, width) < 0)
			return -1;
		for (int j = 0; j < i; j++)
			if (strcmp(dst + (size_t)j * width, dst + (size_t)i * width) == 0)
				return inventory_yaml_bad(c, item, sub, "duplicate \"%s\"",
				                          dst + (size_t)i * width);
	}
	*n_out = count;
	return 0;
}

int inventory_yaml_address_list(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                                char dst[INV_MAX_ADDRS][RESULT_ADDR_MAX], int *n_out)
{
	const char *why;

	if (inventory_yaml_string_list(c, n, path, INV_MAX_ADDRS, dst[0], RESULT_ADDR_MAX, n_out) <
	    0)
		return -1;
	if (*n_out == 0)
		return inventory_yaml_bad(c, n, path, "empty list");
	for (int i = 0; i < *n_out; i++) {
		if ((why = inventory_check_address(dst[i])) != NULL) {
			yaml_node_t *item =
			    n->type == YAML_SEQUENCE_NODE
			        ? inventory_yaml_node(c, n->data.sequence.items.start[i])
			        : n;
			return inventory_yaml_bad(c, item, path, "\"%s\": %s", dst[i], why);
		}
	}
	return 0;
}

/* ---- top level ---- */

/* retention: {results: 30d, rollups: 400d, events: 400d} */
static int retention_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                          const char *path, void *arg)
{
	struct inventory *inv = arg;

	if (strcmp(key, "results") == 0)
		return inventory_yaml_duration(c, v, path, 1, &inv->retention_ms);
	if (strcmp(key, "rollups") == 0)
		return inventory_yaml_duration(c, v, path, 1, &inv->rollup_retention_ms);
	if (strcmp(key, "events") == 0)
		return inventory_yaml_duration(c, v, path, 1, &inv->event_retention_ms);
	return 1;
}

/* "host:port" / "[v6]:port" with a port of 1-65535 (the address itself is
 * checked when the collector binds it). */
static int listen_port_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return 0;
	if (s[0] == '[' && colon[-1] != ']')
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 1 && port <= 65535;
}

/* collector: [URL, URL, ...] (the agent's collectors in order of
 * preference), kept comma-separated in dst like --collector A,B. */
static int collector_list(struct inventory_yaml_ctx *c, yaml_node_t *v, const char *path,
                          char *dst, size_t dstlen)
{
	int count = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	size_t used = 0;
	char one[512];

	if (count == 0)
		return inventory_yaml_bad(c, v, path, "empty list");
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, v->data.sequence.items.start[i]);
		if (!item || inventory_yaml_scalar(c, item, path, one, sizeof(one)) < 0)
			return -1;
		if (one[0] == '\0' || strchr(one, ','))
			return inventory_yaml_bad(c, item, path, "an empty URL or one with a comma");
		size_t l = strlen(one);
		if (used + l + 2 > dstlen)
			return inventory_yaml_bad(c, item, path, "too many collectors (max %zu bytes)",
			                          dstlen - 1);
		if (used)
			dst[used++] = ',';
		memcpy(dst + used, one, l + 1);
		used += l;
	}
	return 0;
}

static int top_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v, const char *path,
                    void *arg)
{
	struct inventory *inv = c->inv;
	int pass = *(int *)arg;

	/* alerts refer to services: read them in a second pass */
	if (strcmp(key, "alerts") == 0)
		return pass == 2 ? inventory_yaml_alerts(c, v, path) : 0;
	if (pass == 2)
		return 0;
	if (strcmp(key, "services") == 0) {
		if (inventory_yaml_services(c, v, path) < 0)
			return -1;
		if (inv->n_services == 0)
			return inventory_yaml_bad(c, v, path, "no services: at least one is needed");
		return 0;
	}
	if (strcmp(key, "agents") == 0)
		return inventory_yaml_agents(c, v, path);
	if (strcmp(key, "thresholds") == 0)
		return inventory_yaml_thresholds(c, v, path);
	if (strcmp(key, "retention") == 0) {
		if (v->type == YAML_MAPPING_NODE)
			return inventory_yaml_each_pair(c, v, path, retention_pair, inv);
		return inventory_yaml_duration(c, v, path, 1, &inv->retention_ms);
	}
	if (strcmp(key, "read_token_sha256") == 0)
		return inventory_yaml_sha256(c, v, path, inv->read_token_sha256);
	if (strcmp(key, "name") == 0)
		return inventory_yaml_name(c, v, path, inv->name);
	if (strcmp(key, "collector") == 0 && v->type == YAML_SEQUENCE_NODE)
		return collector_list(c, v, path, inv->collector, sizeof(inv->collector));
	static const struct {
		const char *key;
		size_t off, size;
	} strings[] = {
	    {"listen", offsetof(struct inventory, listen), sizeof(inv->listen)},
	    {"db", offsetof(struct inventory, db), sizeof(inv->db)},
	    {"tls_cert", offsetof(struct inventory, tls_cert), sizeof(inv->tls_cert)},
	    {"tls_key", offsetof(struct inventory, tls_key), sizeof(inv->tls_key)},
	    {"collector", offsetof(struct inventory, collector), sizeof(inv->collector)},
	    {"token_file", offsetof(struct inventory, token_file), sizeof(inv->token_file)},
	    {"spool", offsetof(struct inventory, spool), sizeof(inv->spool)},
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		if (strcmp(key, strings[i].key) != 0)
			continue;
		char *dst = (char *)inv + strings[i].off;
		if (inventory_yaml_scalar(c, v, path, dst, strings[i].size) < 0)
			return -1;
		if (dst[0] == '\0')
			return inventory_yaml_bad(c, v, path, "empty value");
		if (strcmp(key, "listen") == 0 && !listen_port_ok(dst))
			return inventory_yaml_bad(c, v, path,
			                          "\"%s\": want IPv4:PORT or [IPv6]:PORT, port 1-65535",
			                          dst);
		return 0;
	}
	return 1;
}

static void syntax_error(const yaml_parser_t *p, const char *fname, char *err, size_t errlen)
{
	const char *what = p->error == YAML_MEMORY_ERROR ? "out of memory"
	                   : p->problem                  ? p->problem
	                                                 : "syntax error";

	if (p->context)
		snprintf(err, errlen, "%s:%zu: syntax error: %s %s (line %zu)", fname,
		         p->problem_mark.line + 1, p->context, what, p->context_mark.line + 1);
	else
		snprintf(err, errlen, "%s:%zu: syntax error: %s", fname, p->problem_mark.line + 1,
		         what);
}

/* libyaml's scanner costs O(depth) per token, so deeply nested input takes
 * minutes to load: stream the events first and stop at a depth no inventory
 * needs. Syntax errors found on the way are reported here. */
static int check_depth(const char *text, size_t len, const char *fname, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, rc = 0, done = 0;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(&parser, fname, err, errlen);
			rc = -1;
			break;
		}
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
			if (++depth > INV_MAX_DEPTH) {
				snprintf(err, errlen, "%s:%zu: nesting deeper than %d levels",
				         fname, ev.start_mark.line + 1, INV_MAX_DEPTH);
				rc = -1;
				done = 1;
			}
		} else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		           ev.type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (ev.type == YAML_STREAM_END_EVENT) {
			done = 1;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

struct inventory *inventory_parse(const char *text, size_t len, const char *fname, char *err,
                                  size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	struct inventory *inv = NULL;
	struct inventory_yaml_ctx c = {
	    .doc = &doc, .fname = fname ? fname : "inventory", .err = err, .errlen = errlen};
	int have_doc = 0, ok = 0;
	char fallback[8];

	if (err == NULL || errlen == 0)
		c.err = fallback, c.errlen = sizeof(fallback);
	if (text == NULL || check_depth(text, len, c.fname, c.err, c.errlen) < 0)
		return NULL;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(c.err, c.errlen, "%s: out of memory", c.fname);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&parser, c.fname, c.err, c.errlen);
		goto out;
	}
	have_doc = 1;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		snprintf(c.err, c.errlen, "%s:1: empty document", c.fname);
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(&parser, c.fname, c.err, c.errlen);
		goto out;
	}
	int more = yaml_document_get_root_node(&extra) != NULL;
	size_t extra_line = more ? yaml_document_get_root_node(&extra)->start_mark.line + 1 : 0;
	yaml_document_delete(&extra);
	if (more) {
		snprintf(c.err, c.errlen, "%s:%zu: more than one YAML document", c.fname,
		         extra_line);
		goto out;
	}
	if ((inv = c.inv = inventory_new_defaults()) == NULL) {
		snprintf(c.err, c.errlen, "%s: out of memory", c.fname);
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		inventory_yaml_bad(&c, root, "(top)", "expected a mapping, got %s",
		                   inventory_yaml_kind(root));
		goto out;
	}
	for (int pass = 1; pass <= 2; pass++)
		if (inventory_yaml_each_pair(&c, root, "", top_pair, &pass) < 0)
			goto out;
	ok = 1;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!ok) {
		inventory_free(inv);
		return NULL;
	}
	return inv;
}
