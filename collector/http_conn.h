/* collector/http_conn.h - internal to the HTTP server: connections, exchanges,
 * TLS and rate limiting shared by http_server.c, http_conn.c, http_parse.c,
 * http_exchange.c, http_tls.c and http_limits.c. Nothing outside collector/http_*.c and the
 * HTTP tests/fuzzer should include it.
 *
 * Ownership: the server owns its connections (a list); a connection owns the
 * exchanges in its queue. An exchange handed to the handler and not yet
 * answered when its connection goes away is "orphaned" (conn = NULL) and is
 * freed by http_exchange_respond(). */
#ifndef ANYCAST_HTTP_CONN_H
#define ANYCAST_HTTP_CONN_H

#include <http_parser.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "collector/http_server.h"

#define HTTP_MAX_PIPELINE 16             /* queued exchanges before reading pauses */
#define HTTP_MAX_WRITE_QUEUE (1u << 20)   /* unsent bytes before reading pauses */
#define HTTP_LINGER_MS 2000               /* read-and-discard after a final error answer */
#define HTTP_READ_CHUNK 65536
#define HTTP_BODY_BUDGET 4                /* bodies held server-wide, in max_body_bytes */
#define HTTP_SOURCE_KEY_LEN 16            /* an IPv6 address; IPv4 as ::ffff:a.b.c.d */

/* A growing byte buffer with a hard maximum. */
struct http_buf {
	char *data;
	size_t len, cap;
};

struct http_ratelimit;
struct http_sources;

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	bool listening;       /* listener handle initialised and open */
	bool closing;
	http_handler_fn handler;
	void *ctx;
	struct http_limits limits;
	SSL_CTX *tls;         /* NULL: plain HTTP */
	struct http_ratelimit *rate;
	struct http_sources *sources; /* connections per source; NULL: no per-source cap */
	struct http_conn *conns;  /* doubly linked */
	int nconns;
	size_t body_total;    /* request body bytes held by all connections */
	int port;
	struct http_server_stats stats;
	void (*close_cb)(void *arg);
	void *close_arg;
	time_t date_sec;
	char date[40];        /* cached RFC 7231 date for date_sec */
	char *readbuf;        /* HTTP_READ_CHUNK bytes shared by all reads */
};

enum http_conn_kind { HTTP_CONN_NULL, HTTP_CONN_TCP };

/* For the null transport: receives every byte the server would send. */
typedef void (*http_sink_fn)(void *arg, const char *data, size_t len);

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	enum http_conn_kind kind;
	uv_tcp_t tcp;
	uv_timer_t timer;
	int handles_open;         /* uv handles still to be closed */
	http_sink_fn sink;        /* null transport only */
	void *sink_arg;
	SSL *ssl;                 /* TLS only; owns its memory BIOs */
	BIO *rbio, *wbio;
	char peer[64];
	char rate_key[64];        /* peer, or its /64 for IPv6: one bucket per site */
	uint8_t source[HTTP_SOURCE_KEY_LEN]; /* binary form of the same, for the per-source cap */
	bool has_source;          /* source is set (TCP with a known peer) */
	bool source_counted;      /* counted in srv->sources until released */

	http_parser parser;
	struct http_exchange *cur;           /* request being received, also in queue */
	struct http_exchange *head, *tail;   /* exchanges in request order */
	int queued;
	int hdr_state;                       /* 0 none, 1 in field, 2 in value */
	struct http_buf stash;               /* input received but not parsed (paused) */
	struct http_buf url;                 /* raw request target of cur */
	struct http_buf out;                 /* plaintext waiting for http_conn_update */
	uint64_t deadline;                   /* when the timer fires, 0 = stopped */
	uint64_t requests_seen;

	uint64_t last_activity;   /* uv_now at last progress, for the idle timeout */
	uint64_t request_start;   /* uv_now when cur began */
	uint64_t created;
	int writes_pending;       /* uv_write requests in flight */
	size_t body_bytes;        /* request bodies held by queued exchanges */

	bool paused;              /* parser paused: pipeline full or output backlog */
	bool reading;             /* uv_read_start active */
	bool no_more;             /* stop parsing further requests */
	bool close_after;         /* close once the queue is flushed */
	bool closing;             /* handles are being closed */
	bool lingering;           /* final answer sent, discarding input until EOF */
	bool shut;                /* shutdown requested */
	bool in_feed, in_flush, flush_again;
	bool eof;                 /* the client closed its side */
};

/* One request and its answer. Owned by its connection's queue, or by the
 * handler once orphaned (conn == NULL). */
struct http_exchange {
	struct http_conn *conn;   /* NULL once orphaned */
	struct http_exchange *next;
	struct http_request req;
	char peer[64];
	char *target;             /* decoded path, NUL, raw query, NUL */
	struct http_buf hdrs;     /* name NUL value NUL ... */
	int nhdrs;
	size_t hdr_bytes;         /* request line and headers as received */
	size_t counted;           /* body bytes counted in conn->body_bytes */
	size_t in_total;          /* body bytes counted in srv->body_total */
	struct http_buf body;
	struct http_buf out;      /* answer head (without Connection) then body */
	size_t out_head;          /* length of the head part of out */
	struct http_buf sbuf;     /* stream data waiting for its turn */
	int status;
	bool receiving, dispatched, responded, head_sent;
	bool keep_alive, is_head, discard_body, want_continue, must_close;
	bool streaming, chunked, stream_ended;
	void (*on_close)(void *arg);
	void *on_close_arg;
};

/* --- http_parse.c: request parsing ---------------------------------------- */

/* Set up the parser state of a new connection. */
void http_parse_conn_init(struct http_conn *c);
/* Parse len bytes of plaintext. Bytes that arrive while the connection is
 * paused are kept in c->stash (bounded: a few reads' worth). Returns 0, or
 * a negative errno when the connection must be closed at once. */
int http_parse_input(struct http_conn *c, const char *data, size_t len);

/* --- http_exchange.c: the queue of answers --------------------------------- */

/* A new exchange at the tail of c's queue; NULL when out of memory. */
struct http_exchange *http_exchange_append(struct http_conn *c);
/* Prepare ex's answer (head without the Connection line, then body) and
 * count it in the stats. Returns 0 or -ENOMEM. */
int http_exchange_build(struct http_exchange *ex, int status, const char *ctype,
			const char *extra, const char *body, size_t len);
/* Stop parsing c and answer the request in progress (or a placeholder when
 * the error came between requests) with a JSON error, then close. */
void http_exchange_fail(struct http_conn *c, int status, const char *msg);
/* Send "100 Continue" for ex now. */
void http_exchange_continue(struct http_conn *c, struct http_exchange *ex);
/* Send every answer that is ready, in request order; resumes parsing when
 * the pipeline has room again. Safe to call re-entrantly. */
void http_exchange_flush(struct http_conn *c);
/* The connection is going away: free queued exchanges, orphan the ones the
 * handler still holds, tell streaming handlers. */
void http_exchange_detach_all(struct http_conn *c);
/* Answer the request being received (if any) with a server error and stop
 * parsing; used for 408. Returns true when an answer was queued. */
bool http_exchange_fail_current(struct http_conn *c, int status, const char *msg);
/* The server is closing: drop the request being received, answer what the
 * handler still holds with "Connection: close", then close. */
void http_exchange_shutdown_conn(struct http_conn *c);

/* --- http_conn.c: transport, timers, lifecycle --------------------------- */

/* Accept a TCP client from the server's listener; NULL when it could not be
 * set up (the socket is then closed). */
struct http_conn *http_conn_accept(struct http_server *srv);
/* A connection without a socket: everything it would send goes to sink
 * (which may be NULL). Used by the fuzzer and unit tests. */
struct http_conn *http_conn_new_null(struct http_server *srv, const char *peer,
				     http_sink_fn sink, void *sink_arg);
/* Feed received plaintext bytes as the read callback does, then send the
 * answers that are ready. Returns 0 or a negative errno (the connection is
 * then being closed). */
int http_conn_feed(struct http_conn *c, const char *data, size_t len);
/* Queue bytes for the client; they leave (encrypted under TLS) at the next
 * http_conn_update(). data is copied. Returns 0 or a negative errno. */
int http_conn_send(struct http_conn *c, const char *data, size_t len);
/* Write bytes to the socket as they are (ciphertext under TLS). Takes
 * ownership of mem (malloc'd). Returns 0 or a negative errno. */
int http_conn_write_raw(struct http_conn *c, char *mem, size_t len);
/* Bytes not yet handed to the kernel: corked output plus libuv's write queue. */
size_t http_conn_backlog(const struct http_conn *c);
/* Re-evaluate reading, timers and whether the connection is done. */
void http_conn_update(struct http_conn *c);
/* Close now: the queue is detached at once, memory is released when the
 * uv handles are closed (for the null transport: by http_conn_free). */
void http_conn_close(struct http_conn *c);
/* Close and free a null-transport connection. */
void http_conn_free(struct http_conn *c);

/* --- http_server.c -------------------------------------------------------- */

/* A server without a listener, for the fuzzer and unit tests; free its null
 * connections (http_conn_free), then http_server_close (the callback, if
 * any, runs at once). NULL when out of memory. */
struct http_server *http_server_new_detached(uv_loop_t *loop, const struct http_limits *lim,
					     http_handler_fn handler, void *ctx);
/* RFC 7231 date of now, cached per second; valid until the next call. */
const char *http_server_date(struct http_server *srv);
/* A connection finished closing: unlink it and, when the server is closing
 * and this was the last one, finish the server. */
void http_server_conn_gone(struct http_server *srv, struct http_conn *c);

/* --- http_tls.c ----------------------------------------------------------- */

/* Load cert and key; NULL with a reason in err. Caller owns the context. */
SSL_CTX *http_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen);
/* Set up c->ssl with memory BIOs. Returns 0 or -ENOMEM. */
int http_tls_conn_init(struct http_conn *c, SSL_CTX *ctx);
/* Received ciphertext: decrypt and feed the plaintext. Returns 0 or a
 * negative errno when the connection must close. */
int http_tls_input(struct http_conn *c, const char *data, size_t len);
/* Drain decrypted data kept while paused. Returns 0 or a negative errno. */
int http_tls_pump(struct http_conn *c);
/* Encrypt plaintext for the client. Returns 0 or a negative errno. */
int http_tls_send(struct http_conn *c, const char *data, size_t len);
/* Queue a close_notify alert. */
void http_tls_shutdown(struct http_conn *c);
/* Move ciphertext waiting in the write BIO to the socket. */
int http_tls_flush(struct http_conn *c);

/* --- http_limits.c -------------------------------------------------------- */

/* Fill zero fields of lim with the defaults documented in http_server.h. */
void http_limits_defaults(struct http_limits *lim);
/* A per-client token bucket table with a fixed number of slots; NULL on
 * allocation failure. Clients beyond the table share evicted slots, so
 * memory stays bounded whatever the number of addresses. */
struct http_ratelimit *http_limits_rate_new(double rate, double burst);
void http_limits_rate_free(struct http_ratelimit *rl);
/* Take one token for client at now_ms. Returns 0 when allowed, else the
 * number of whole seconds (>= 1) after which a token will be available. */
int http_limits_rate_take(struct http_ratelimit *rl, const char *client, uint64_t now_ms);

/* The per-source key of a peer address: an IPv4 address (also when it
 * arrives IPv4-mapped on an IPv6 socket) or the /64 of an IPv6 address.
 * Returns 0 or -EAFNOSUPPORT. */
int http_limits_source_key(const struct sockaddr *sa, uint8_t key[HTTP_SOURCE_KEY_LEN]);
/* A table of open connections per source for a server that holds at most
 * max_connections at once (memory: a few slots per connection, fixed);
 * NULL on allocation failure. */
struct http_sources *http_limits_sources_new(int max_connections);
void http_limits_sources_free(struct http_sources *s);
/* Count one more connection from key unless it already has max. Returns
 * the new count, -EBUSY when key is at max (nothing counted), or -ENOSPC
 * when more sources are counted than the table was sized for. */
int http_limits_source_add(struct http_sources *s, const uint8_t key[HTTP_SOURCE_KEY_LEN], int max);
/* One connection from key is gone. */
void http_limits_source_remove(struct http_sources *s, const uint8_t key[HTTP_SOURCE_KEY_LEN]);
/* Connections counted for key now. */
int http_limits_source_count(struct http_sources *s, const uint8_t key[HTTP_SOURCE_KEY_LEN]);

/* Append to b, never past max bytes in total. Returns 0, -E2BIG or -ENOMEM. */
int http_limits_buf_append(struct http_buf *b, const char *data, size_t len, size_t max);
void http_limits_buf_free(struct http_buf *b);

#endif
