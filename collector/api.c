/* collector/api.c - request routing, JSON answers, query strings,
 * authentication and the static dashboard files. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "collector/api.h"
#include "collector/api_int.h"

#define STATIC_MAX_BYTES (32u << 20)

/* The answer, gzip-compressed when the client asked for it and it pays:
 * extra headers gain Content-Encoding and Vary. Takes body when take. */
static void
respond(struct collector *c, struct http_exchange *ex, int status, const char *ctype,
	const char *extra_headers, char *body, size_t len, int take)
{
	char hdr[1024];
	size_t zlen = 0;
	char *z = status == 200 ? api_gzip(ex, body, len, &zlen) : NULL;

	metrics_count_http(c->metrics, status);
	if (z != NULL && strlen(extra_headers ? extra_headers : "") < sizeof(hdr) - 64) {
		snprintf(hdr, sizeof(hdr), "%sContent-Encoding: gzip\r\nVary: Accept-Encoding\r\n",
			 extra_headers ? extra_headers : "");
		if (take)
			free(body);
		http_exchange_respond_take(ex, status, ctype, hdr, z, zlen);
		return;
	}
	free(z);
	if (take)
		http_exchange_respond_take(ex, status, ctype, extra_headers, body, len);
	else
		http_exchange_respond(ex, status, ctype, extra_headers, body, len);
}

void
api_respond(struct collector *c, struct http_exchange *ex, int status, const char *ctype,
	    const char *extra_headers, const char *body, size_t len)
{
	respond(c, ex, status, ctype, extra_headers, (char *)(uintptr_t)body, len, 0);
}

void
api_respond_take(struct collector *c, struct http_exchange *ex, int status, const char *ctype,
		 const char *extra_headers, char *body, size_t len)
{
	respond(c, ex, status, ctype, extra_headers, body, len, 1);
}

void
api_json(struct collector *c, struct http_exchange *ex, int status, json_t *body,
	 const char *extra_headers)
{
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (txt == NULL) {
		static const char empty[] = "{}";

		api_respond(c, ex, status, "application/json", extra_headers, empty,
			    sizeof(empty) - 1);
		return;
	}
	api_respond_take(c, ex, status, "application/json", extra_headers, txt, strlen(txt));
}

void
api_error(struct collector *c, struct http_exchange *ex, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	const char *hdr = NULL;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status == 401)
		hdr = "WWW-Authenticate: Bearer\r\n";
	else if (status == 503 || status == 429)
		hdr = "Retry-After: 1\r\n";
	api_json(c, ex, status, json_pack("{s:s}", "error", msg), hdr);
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int
api_query_get(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t seglen = end ? (size_t)(end - p) : strlen(p);

		if (seglen >= nlen && strncmp(p, name, nlen) == 0 &&
		    (seglen == nlen || p[nlen] == '=')) {
			size_t o = 0;

			for (size_t i = nlen + (seglen > nlen); i < seglen; i++) {
				int ch = (unsigned char)p[i];

				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%') {
					int hi, lo;

					if (i + 2 >= seglen)
						return -1;
					hi = hexval((unsigned char)p[i + 1]);
					lo = hexval((unsigned char)p[i + 2]);
					if (hi < 0 || lo < 0)
						return -1;
					ch = hi * 16 + lo;
					i += 2;
				}
				if (ch == 0 || o + 1 >= outlen)
					return -1;
				out[o++] = (char)ch;
			}
			out[o] = '\0';
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* The token of "Authorization: Bearer TOKEN" hashed, or -1. */
static int
bearer_hash(struct http_exchange *ex, char hash[65])
{
	const char *h = http_request_header(ex, "Authorization");

	if (h == NULL)
		return -1;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return -1;
	h += 7;
	if (strlen(h) > 4096)
		return -1;
	inventory_token_hash(h, strlen(h), hash);
	return 0;
}

const struct inv_agent *
api_auth_agent(struct collector *c, struct http_exchange *ex)
{
	char hash[65];

	if (bearer_hash(ex, hash) != 0)
		return NULL;
	/* One index lookup by the token's SHA-256, then a constant-time
	 * comparison of that one candidate (docs/SECURITY.md). */
	return inventory_find_agent_by_hash(c->inv, hash);
}

int
api_auth_read(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char hash[65], tok[512];
	const char *want = c->inv->read_token_sha256;

	if (want[0] == '\0')
		return 1;
	if (strlen(want) != 64)
		return 0;
	if (bearer_hash(ex, hash) == 0 && CRYPTO_memcmp(want, hash, 64) == 0)
		return 1;
	/* EventSource cannot send headers: accept ?token= too. */
	if (api_query_get(req->query, "token", tok, sizeof(tok)) == 1) {
		inventory_token_hash(tok, strlen(tok), hash);
		return CRYPTO_memcmp(want, hash, 64) == 0;
	}
	return 0;
}

int
api_read_allowed(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	const char *host;

	if (!api_auth_read(c, ex, req)) {
		api_error(c, ex, 401, "read token required");
		return 0;
	}
	host = http_request_header(ex, "Host");
	if (c->inv->read_token_sha256[0] == '\0' && !api_host_served(c, host)) {
		api_error(c, ex, 403,
			  "Host \"%.*s\" is not served here: reach the API by address, localhost or "
			  "the --external-url host, or set read_token_sha256",
			  RESULT_NAME_MAX, host);
		return 0;
	}
	return 1;
}

static const char *
content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".map", "application/json" },
		{ ".woff2", "font/woff2" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

void
api_static(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char full[PATH_MAX + 600], real[PATH_MAX];
	const char *path = req->path;
	struct stat sb;
	char *body = NULL;
	int fd = -1;
	size_t wlen = strlen(c->web_dir);

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		api_error(c, ex, 405, "method not allowed");
		return;
	}
	/* Refuse anything that could climb out of the web directory before
	 * touching the file system; realpath below catches symlinks. */
	if (c->web_dir[0] == '\0' || path[0] != '/' || strstr(path, "..") != NULL ||
	    strstr(path, "/.") != NULL || strchr(path, '\\') != NULL || strlen(path) > 512) {
		api_error(c, ex, 404, "not found");
		return;
	}
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	snprintf(full, sizeof(full), "%s%s", c->web_dir, path);
	if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
		strncat(full, "/index.html", sizeof(full) - strlen(full) - 1);
	if (realpath(full, real) == NULL || strncmp(real, c->web_dir, wlen) != 0 ||
	    real[wlen] != '/' || (fd = open(real, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > STATIC_MAX_BYTES) {
		if (fd >= 0)
			close(fd);
		api_error(c, ex, 404, "not found");
		return;
	}
	if ((body = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	size_t got = 0;

	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, body + got, (size_t)sb.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	/* The dashboard loads only its own files: no inline script, no frame
	 * around it, no guessing of content types. */
	api_respond(c, ex, 200, content_type(real),
		    "Cache-Control: no-cache\r\n"
		    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
		    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'\r\n"
		    "X-Content-Type-Options: nosniff\r\n"
		    "X-Frame-Options: DENY\r\n"
		    "Referrer-Policy: no-referrer\r\n",
		    body, got);
	free(body);
}

/* "/api/v1/agents/NAME/SUFFIX": copies NAME and returns SUFFIX, or NULL. */
static const char *
agent_path(const char *path, char *name, size_t namelen)
{
	static const char prefix[] = "/api/v1/agents/";
	const char *p, *slash;

	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	p = path + sizeof(prefix) - 1;
	slash = strchr(p, '/');
	if (slash == NULL) {
		if ((size_t)snprintf(name, namelen, "%s", p) >= namelen)
			return NULL;
		return "";
	}
	if ((size_t)(slash - p) >= namelen || slash == p)
		return NULL;
	memcpy(name, p, (size_t)(slash - p));
	name[slash - p] = '\0';
	return slash + 1;
}

static int
method_is(struct collector *c, struct http_exchange *ex, const struct http_request *req,
	  const char *want)
{
	char hdr[64];

	if (strcmp(req->method, want) == 0)
		return 1;
	if (strcmp(want, "GET") == 0 && strcmp(req->method, "HEAD") == 0)
		return 1;
	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", want);
	api_json(c, ex, 405, json_pack("{s:s}", "error", "method not allowed"), hdr);
	return 0;
}

static void
route_read(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	const char *p = req->path;

	if (!method_is(c, ex, req, "GET"))
		return;
	if (!api_read_allowed(c, ex, req))
		return;
	if (strcmp(p, "/api/v1/catchments") == 0)
		api_get_catchments(c, ex, req);
	else if (strcmp(p, "/api/v1/events") == 0)
		api_get_events(c, ex, req);
	else if (strcmp(p, "/api/v1/instances") == 0)
		api_get_instances(c, ex, req);
	else if (strcmp(p, "/api/v1/agents") == 0)
		api_get_agents(c, ex, req);
	else if (strcmp(p, "/api/v1/results") == 0)
		api_get_results(c, ex, req);
	else if (strcmp(p, "/api/v1/rollups") == 0)
		api_get_rollups(c, ex, req);
	else if (strcmp(p, "/api/v1/stream") == 0)
		api_get_stream(c, ex, req);
	else if (strcmp(p, "/api/v1/incidents") == 0)
		api_get_incidents(c, ex, req);
	else if (strncmp(p, "/api/v1/incidents/", 18) == 0)
		api_get_incident(c, ex, p + 18);
	else
		api_error(c, ex, 404, "no such endpoint: %s", p);
}

void
api_handle(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	struct collector *c = ctx;
	const char *p = req->path, *suffix;
	char name[RESULT_NAME_MAX];

	if (c->stopping) {
		api_error(c, ex, 503, "shutting down");
		return;
	}
	if (strcmp(p, "/api/v1/results") == 0 && strcmp(req->method, "POST") == 0) {
		api_post_results(c, ex, req, NULL);
	} else if (strcmp(p, "/api/v1/atlas/results") == 0) {
		if (method_is(c, ex, req, "POST"))
			api_post_atlas(c, ex, req);
	} else if (strcmp(p, "/api/v1/guard") == 0) {
		if (method_is(c, ex, req, "POST"))
			api_post_guard(c, ex, req);
	} else if (strcmp(p, "/api/v1/agent/config") == 0) {
		if (method_is(c, ex, req, "GET"))
			api_agent_config(c, ex, req, NULL);
	} else if ((suffix = agent_path(p, name, sizeof(name))) != NULL &&
		   strcmp(suffix, "results") == 0 && strcmp(req->method, "POST") == 0) {
		api_post_results(c, ex, req, name);
	} else if (suffix != NULL && strcmp(suffix, "config") == 0) {
		if (method_is(c, ex, req, "GET"))
			api_agent_config(c, ex, req, name);
	} else if (suffix != NULL && suffix[0] == '\0') {
		if (method_is(c, ex, req, "GET") && api_read_allowed(c, ex, req))
			api_get_agent(c, ex, name);
	} else if (strcmp(p, "/metrics") == 0) {
		/* with a read token, Prometheus sends it (authorization: credentials) */
		if (method_is(c, ex, req, "GET")) {
			if (api_read_allowed(c, ex, req))
				api_get_metrics(c, ex);
		}
	} else if (strcmp(p, "/healthz") == 0) {
		if (method_is(c, ex, req, "GET"))
			api_get_healthz(c, ex);
	} else if (strncmp(p, "/api/", 5) == 0) {
		route_read(c, ex, req);
	} else {
		api_static(c, ex, req);
	}
}
