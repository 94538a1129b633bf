/* collector/api_int.h - helpers shared by collector/api*.c: answers, query
 * strings and authentication. Not for use outside the API files. */
#ifndef ANYCAST_API_INT_H
#define ANYCAST_API_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "collector/collector.h"
#include "collector/http_server.h"

#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 1000
/* Results waiting for the writer beyond which ingest answers 503. */
#define API_BACKLOG_MAX 200000

/* Answer with body (reference stolen; NULL sends {}), counting the status. */
void api_json(struct collector *c, struct http_exchange *ex, int status, json_t *body,
	      const char *extra_headers);
/* Answer {"error": msg} with status. */
void api_error(struct collector *c, struct http_exchange *ex, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Any answer, counting the status. */
void api_respond(struct collector *c, struct http_exchange *ex, int status, const char *ctype,
		 const char *extra_headers, const char *body, size_t len);
/* The same with a malloc'd body the answer takes over (freed in all cases). */
void api_respond_take(struct collector *c, struct http_exchange *ex, int status, const char *ctype,
		      const char *extra_headers, char *body, size_t len);

/* The body gzip-compressed (malloc'd, *out_len set) when the request asks
 * for gzip and the body is worth it; NULL to send it as it is
 * (collector/api_gzip.c). */
char *api_gzip(const struct http_exchange *ex, const char *body, size_t len, size_t *out_len);

/* The URL-decoded value of name in a query string into out. Returns 1 when
 * present, 0 when absent, -1 when malformed or too long. */
int api_query_get(const char *query, const char *name, char *out, size_t outlen);

/* ?name= URL-decoded into out; *val = out, or NULL when absent or empty.
 * Returns 0, or -1 after answering 400. */
int api_param(struct collector *c, struct http_exchange *ex, const struct http_request *req,
	      const char *name, char *out, size_t outlen, const char **val);
/* ?name= as an integer in [min, max] (*v kept when absent) / as an RFC 3339
 * time in ms. 0, or -1 after answering 400. */
int api_param_int(struct collector *c, struct http_exchange *ex, const struct http_request *req,
		  const char *name, int64_t min, int64_t max, int64_t *v);
int api_param_time(struct collector *c, struct http_exchange *ex, const struct http_request *req,
		   const char *name, int64_t *ms);
/* ?limit= (default API_LIMIT_DEFAULT, 1..API_LIMIT_MAX). 0, or -1 after 400. */
int api_param_limit(struct collector *c, struct http_exchange *ex, const struct http_request *req,
		    int *limit);

/* Agent for the request's "Authorization: Bearer" token (constant-time
 * comparison of SHA-256 hashes), or NULL. */
const struct inv_agent *api_auth_agent(struct collector *c, struct http_exchange *ex);
/* 1 when the read API may be used (no read token configured, or the request
 * carries it as a Bearer token or ?token=), else 0. */
int api_auth_read(struct collector *c, struct http_exchange *ex, const struct http_request *req);
/* api_auth_read, and with no read token a Host the collector serves
 * (api_host_served); otherwise answers 401 or 403 itself and returns 0. */
int api_read_allowed(struct collector *c, struct http_exchange *ex, const struct http_request *req);

/* Learn the names served (api_host.c): this machine's name and the host of
 * external_url (may be NULL). */
void api_host_init(struct collector *c, const char *external_url);
/* Whether a request naming host (its Host header value, NULL when absent)
 * is addressed to this collector: an IP literal, localhost, this machine's
 * name or the --external-url host. */
int api_host_served(const struct collector *c, const char *host);

/* Handlers (api_ingest.c, api_read.c). */
void api_post_results(struct collector *c, struct http_exchange *ex,
		      const struct http_request *req, const char *url_agent);
void api_agent_config(struct collector *c, struct http_exchange *ex,
		      const struct http_request *req, const char *url_agent);
/* POST /api/v1/atlas/results (api_atlas.c). */
void api_post_atlas(struct collector *c, struct http_exchange *ex, const struct http_request *req);
/* POST /api/v1/guard (api_guard.c). */
void api_post_guard(struct collector *c, struct http_exchange *ex, const struct http_request *req);
/* 1 when the agent the request names (url_agent, ?agent= or X-Anycast-Agent)
 * is a's or none is named; else answers 403 and returns 0 (api_ingest.c). */
int api_agent_name_ok(struct collector *c, struct http_exchange *ex,
		      const struct http_request *req, const char *url_agent,
		      const struct inv_agent *a);
void api_get_catchments(struct collector *c, struct http_exchange *ex,
			const struct http_request *req);
void api_get_events(struct collector *c, struct http_exchange *ex, const struct http_request *req);
void api_get_instances(struct collector *c, struct http_exchange *ex,
		       const struct http_request *req);
void api_get_agents(struct collector *c, struct http_exchange *ex, const struct http_request *req);
void api_get_agent(struct collector *c, struct http_exchange *ex, const char *name);
void api_get_results(struct collector *c, struct http_exchange *ex, const struct http_request *req);
void api_get_rollups(struct collector *c, struct http_exchange *ex, const struct http_request *req);
void api_get_incidents(struct collector *c, struct http_exchange *ex,
		       const struct http_request *req);
void api_get_incident(struct collector *c, struct http_exchange *ex, const char *id);
void api_get_stream(struct collector *c, struct http_exchange *ex, const struct http_request *req);
void api_get_metrics(struct collector *c, struct http_exchange *ex);
void api_get_healthz(struct collector *c, struct http_exchange *ex);
void api_static(struct collector *c, struct http_exchange *ex, const struct http_request *req);

/* JSON of one catchment row, as the API and the event stream serve it. */
json_t *api_catchment_json(struct collector *c, const struct catchment_row *r, int64_t now_ms);
/* JSON of one event, as /api/v1/events serves it. */
json_t *api_event_json(const struct event *ev);

#endif
