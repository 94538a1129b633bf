/* collector/http_server.h - HTTP/1.1 server on a libuv loop (http-parser),
 * with keep-alive, pipelining (answers in request order), limits, timeouts,
 * optional TLS (OpenSSL memory BIOs) and graceful shutdown. It knows nothing
 * of the API: every complete request goes to one handler. */
#ifndef ANYCAST_HTTP_SERVER_H
#define ANYCAST_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_server;
struct http_exchange; /* one request and its pending answer */

struct http_request {
	const char *method;   /* "GET", "POST", ... */
	const char *path;     /* decoded path without query, e.g. "/api/v1/results" */
	const char *query;    /* raw query string after '?', "" when none */
	const char *body;     /* NUL-terminated copy, body_len bytes */
	size_t body_len;
	const char *peer;     /* client IP as text */
};

struct http_limits {
	size_t max_header_bytes;   /* default 16 KiB -> 431 */
	int max_headers;           /* default 64 -> 431 */
	size_t max_body_bytes;     /* default 16 MiB -> 413 answered before closing */
	int max_connections;       /* default 1024; beyond: accept, answer 503 and close */
	int max_conns_per_source;  /* default 64 per IPv4 address or IPv6 /64; beyond:
				    * accept, answer 503 and close; < 0: no per-source cap */
	int64_t idle_timeout_ms;   /* default 60 s between requests */
	int64_t request_timeout_ms;/* default 10 s to receive one whole request (slow clients) */
	double rate_per_client;    /* requests/s per client IP, 0 = unlimited -> 429 */
	double rate_burst;         /* token bucket size */
};

struct http_server_options {
	const char *listen;        /* "127.0.0.1:8053", "[::1]:8053", "0.0.0.0:443" */
	const char *tls_cert;      /* PEM paths; NULL = plain HTTP */
	const char *tls_key;
	struct http_limits limits; /* zero fields take defaults */
};

/* Called once per complete request, on the loop thread. The handler must
 * eventually answer with http_exchange_respond(), now or later (e.g. after a
 * database write). The request strings are valid until it responds. */
typedef void (*http_handler_fn)(void *ctx, struct http_exchange *ex, const struct http_request *req);

/* Returns NULL with a reason in err (bad address, bind failure, bad cert).
 * After a bind/listen failure the loop must run once more to release the
 * listener handle. Like any libuv stream user, the program must ignore
 * SIGPIPE (a client that resets its connection would otherwise kill it). */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_options *opt,
				    http_handler_fn handler, void *ctx, char *err, size_t errlen);
/* Stop accepting, finish in-flight exchanges, close everything; cb runs when
 * all handles are closed and the server memory is freed. */
void http_server_close(struct http_server *srv, void (*cb)(void *arg), void *arg);

/* Header lookup, case-insensitive; NULL when absent. */
const char *http_request_header(const struct http_exchange *ex, const char *name);
/* How many times the request carries header name (case-insensitive). */
int http_request_header_count(const struct http_exchange *ex, const char *name);

/* Answer. extra_headers is "Name: value\r\n..." or NULL. body is copied.
 * Safe to call after the client went away (the answer is dropped). Must be
 * called exactly once per exchange; the exchange is freed afterwards. */
void http_exchange_respond(struct http_exchange *ex, int status, const char *content_type,
			   const char *extra_headers, const char *body, size_t body_len);
/* The same, taking a malloc'd body instead of copying it (large answers are
 * then held once, not twice, until written). body is freed in all cases. */
void http_exchange_respond_take(struct http_exchange *ex, int status, const char *content_type,
				const char *extra_headers, char *body, size_t body_len);

/* Streaming answers (Server-Sent Events): start sends the headers; the
 * exchange then lives until the client closes or http_exchange_stream_end.
 * HTTP/1.1 clients get chunked encoding (the connection stays usable after
 * stream_end); HTTP/1.0 clients get the stream until the connection closes.
 * stream_write returns 0, -ENOBUFS when the client does not keep up (the
 * data is dropped), or -ENOTCONN when the client is gone. If the client
 * goes away: with an on_close callback set, the callback runs and the
 * exchange is freed (do not use it afterwards); without one, the exchange
 * stays until http_exchange_stream_end. */
void http_exchange_stream_start(struct http_exchange *ex, const char *content_type);
int http_exchange_stream_write(struct http_exchange *ex, const char *data, size_t len);
void http_exchange_stream_end(struct http_exchange *ex);
/* Called when a streaming client goes away; set before stream_start. */
void http_exchange_on_close(struct http_exchange *ex, void (*cb)(void *arg), void *arg);

/* requests: complete requests parsed (rate-limited ones included);
 * responses_4xx/5xx: answers by status, the server's own included;
 * rejected_limit: 413, 431, 429 and 503 (over max_connections: plain HTTP
 * clients get a 503, TLS clients a close; a request whose body would take
 * the bodies held server-wide past 4 x max_body_bytes: 503 with
 * Retry-After, then close); timeouts: 408 for requests not
 * received within request_timeout_ms (body included), and connections
 * closed before sending anything; rejected_source: connections refused
 * because their source already held max_conns_per_source (a 503 like the
 * server-wide cap's, not counted in rejected_limit); connections: open now. */
struct http_server_stats {
	uint64_t requests, responses_4xx, responses_5xx, rejected_limit, timeouts;
	uint64_t rejected_source;
	int connections;
};
void http_server_get_stats(const struct http_server *srv, struct http_server_stats *st);

/* The TCP port the server listens on (useful with "127.0.0.1:0"). */
int http_server_port(const struct http_server *srv);
/* Parse "IPv4:port", "[IPv6]:port" ("localhost" and "*" accepted as hosts).
 * Returns 0 or -EINVAL. */
int http_server_parse_address(const char *text, struct sockaddr_storage *ss);

#endif
