/* tests/collector/test_sse.c - collector/sse.c seen from real clients: an
 * HTTP server on 127.0.0.1 in its own thread serves /stream through the SSE
 * module and makes it broadcast on /broadcast; clients read the stream over
 * plain sockets (HTTP/1.1, chunked, as browsers get it). */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "collector/http_server.h"
#include "collector/sse.h"

#define FIRST 1000 /* the id before the first message */

/* --- the server: the module on a loop thread ----------------------------- */

struct tsrv {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	struct http_server *srv;
	struct sse *sse;
	int port, closed, ready;
	int counter;
	struct http_exchange *held; /* /hold, answered by /release */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char err[256];
};

static long
query_num(const char *query, const char *name, long dflt)
{
	size_t n = strlen(name);

	for (const char *p = query; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
	return dflt;
}

static void
handler(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	struct tsrv *ts = ctx;
	char body[256], q[64];
	const char *last;
	int rc;

	if (strcmp(req->path, "/stream") == 0) {
		last = http_request_header(ex, "Last-Event-ID");
		if (last == NULL && strncmp(req->query, "last_event_id=", 14) == 0) {
			snprintf(q, sizeof(q), "%s", req->query + 14);
			last = q;
		}
		if ((rc = sse_add(ts->sse, ex, last)) != 0) {
			snprintf(body, sizeof(body), "%s", strerror(-rc));
			http_exchange_respond(ex, 503, "text/plain", NULL, body, strlen(body));
		}
		return;
	}
	if (strcmp(req->path, "/broadcast") == 0) {
		long n = query_num(req->query, "n", 1), size = query_num(req->query, "size", 0);
		char *pad = calloc(1, (size_t)size + 1);

		memset(pad, 'x', (size_t)size);
		for (long i = 0; i < n; i++) {
			json_t *d = json_pack("{s:i,s:s}", "n", ++ts->counter, "pad", pad);

			sse_broadcast(ts->sse, "tick", d);
			json_decref(d);
		}
		free(pad);
		http_exchange_respond(ex, 200, "text/plain", NULL, "ok", 2);
		return;
	}
	if (strcmp(req->path, "/hold") == 0) {
		ts->held = ex;
		return;
	}
	if (strcmp(req->path, "/release") == 0) {
		if (ts->held != NULL)
			http_exchange_respond(ts->held, 200, "text/plain", NULL, "", 0);
		ts->held = NULL;
		http_exchange_respond(ex, 200, "text/plain", NULL, "ok", 2);
		return;
	}
	if (strcmp(req->path, "/stats") == 0) {
		struct sse_stats st;

		sse_get_stats(ts->sse, &st);
		snprintf(body, sizeof(body), "clients=%d replayed=%llu resets=%llu lagging=%llu",
			 st.clients, (unsigned long long)st.replayed, (unsigned long long)st.resets,
			 (unsigned long long)st.lagging);
		http_exchange_respond(ex, 200, "text/plain", NULL, body, strlen(body));
		return;
	}
	http_exchange_respond(ex, 404, "text/plain", NULL, "", 0);
}

static void
server_closed(void *arg)
{
	((struct tsrv *)arg)->closed = 1;
}

static void
on_stop(uv_async_t *a)
{
	struct tsrv *ts = a->data;

	sse_end_all(ts->sse);
	http_server_close(ts->srv, server_closed, ts);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
server_thread(void *arg)
{
	struct tsrv *ts = arg;
	struct http_server_options opt = { .listen = "127.0.0.1:0" };

	opt.limits.max_conns_per_source = -1;
	uv_loop_init(&ts->loop);
	uv_async_init(&ts->loop, &ts->stop, on_stop);
	ts->stop.data = ts;
	ts->sse = sse_new(FIRST);
	ts->srv = http_server_new(&ts->loop, &opt, handler, ts, ts->err, sizeof(ts->err));
	pthread_mutex_lock(&ts->mu);
	ts->port = ts->srv != NULL ? http_server_port(ts->srv) : -1;
	ts->ready = 1;
	pthread_cond_signal(&ts->cv);
	pthread_mutex_unlock(&ts->mu);
	if (ts->srv == NULL)
		uv_close((uv_handle_t *)&ts->stop, NULL);
	uv_run(&ts->loop, UV_RUN_DEFAULT);
	sse_free(ts->sse);
	uv_loop_close(&ts->loop);
	return NULL;
}

static struct tsrv *
start(void)
{
	struct tsrv *ts = calloc(1, sizeof(*ts));

	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&ts->mu, NULL);
	pthread_cond_init(&ts->cv, NULL);
	pthread_create(&ts->thread, NULL, server_thread, ts);
	pthread_mutex_lock(&ts->mu);
	while (!ts->ready)
		pthread_cond_wait(&ts->cv, &ts->mu);
	pthread_mutex_unlock(&ts->mu);
	cr_assert_gt(ts->port, 0, "server did not start: %s", ts->err);
	cr_assert_not_null(ts->sse);
	return ts;
}

static void
stop(struct tsrv *ts)
{
	uv_async_send(&ts->stop);
	pthread_join(ts->thread, NULL);
	cr_assert(ts->closed, "close callback did not run");
	pthread_mutex_destroy(&ts->mu);
	pthread_cond_destroy(&ts->cv);
	free(ts);
}

/* --- clients ------------------------------------------------------------- */

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
dial(int port, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

static void
send_str(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		off += (size_t)n;
	}
}

/* A request on its own connection; returns the status and the body in out. */
static int
request(int port, const char *path, char *out, size_t outlen)
{
	char req[512], buf[8192];
	size_t len = 0;
	ssize_t n;
	int fd = dial(port, 0);
	char *body;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	send_str(fd, req);
	while ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	body = strstr(buf, "\r\n\r\n");
	snprintf(out, outlen, "%s", body != NULL ? body + 4 : "");
	return len > 12 ? atoi(buf + 9) : -1;
}

static void
broadcast(struct tsrv *ts, int n, int size)
{
	char path[64], out[64];

	snprintf(path, sizeof(path), "/broadcast?n=%d&size=%d", n, size);
	cr_assert_eq(request(ts->port, path, out, sizeof(out)), 200);
}

static void
wait_clients(struct tsrv *ts, int want)
{
	char out[256], key[32];
	double until = now_s() + 5;

	snprintf(key, sizeof(key), "clients=%d ", want);
	for (;;) {
		cr_assert_eq(request(ts->port, "/stats", out, sizeof(out)), 200);
		if (strncmp(out, key, strlen(key)) == 0)
			return;
		cr_assert_lt(now_s(), until, "want %s, have %s", key, out);
		usleep(10000);
	}
}

struct msg {
	long long id; /* -1: none */
	char event[32];
	int n;        /* data's "n", -1 when absent */
};

/* One stream: raw bytes as received, the de-chunked text, parsed messages. */
struct client {
	int fd;
	int status;
	char *raw, *text;
	size_t raw_len, raw_off, text_len, text_off, cap;
	int skip;      /* answers before the stream's (Content-Length: 0) */
	int ended;     /* the zero-length chunk came */
	struct msg *msgs;
	size_t n_msgs;
};

static void
parse_block(struct client *cl, char *block)
{
	struct msg m = { .id = -1, .n = -1 };
	int has = 0;

	for (char *line = strtok(block, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "id: ", 4) == 0) {
			m.id = atoll(line + 4);
		} else if (strncmp(line, "event: ", 7) == 0) {
			snprintf(m.event, sizeof(m.event), "%s", line + 7);
			has = 1;
		} else if (strncmp(line, "data: ", 6) == 0) {
			json_t *d = json_loads(line + 6, 0, NULL);

			cr_assert_not_null(d, "data is not JSON: %s", line);
			if (json_is_integer(json_object_get(d, "n")))
				m.n = (int)json_integer_value(json_object_get(d, "n"));
			json_decref(d);
		}
	}
	if (!has)
		return; /* retry or a comment (ping) */
	cl->msgs = realloc(cl->msgs, (cl->n_msgs + 1) * sizeof(*cl->msgs));
	cl->msgs[cl->n_msgs++] = m;
}

/* Move whole chunks from raw to text, whole blocks from text to msgs. */
static void
digest(struct client *cl)
{
	char *p, *end;

	for (;;) {
		size_t avail = cl->raw_len - cl->raw_off, size;

		p = cl->raw + cl->raw_off;
		if ((end = memmem(p, avail, "\r\n", 2)) == NULL)
			break;
		size = strtoul(p, NULL, 16);
		if (avail < (size_t)(end - p) + 2 + size + 2)
			break;
		if (size == 0) {
			cl->ended = 1;
			cl->raw_off = cl->raw_len;
			break;
		}
		memcpy(cl->text + cl->text_len, end + 2, size);
		cl->text_len += size;
		cl->raw_off += (size_t)(end - p) + 2 + size + 2;
	}
	cl->text[cl->text_len] = '\0';
	while ((end = strstr(cl->text + cl->text_off, "\n\n")) != NULL) {
		char *block = strndup(cl->text + cl->text_off, (size_t)(end - cl->text) - cl->text_off);

		parse_block(cl, block);
		free(block);
		cl->text_off = (size_t)(end - cl->text) + 2;
	}
}

/* Reads until the client has want messages, the stream ended, or timeout_s
 * passed. Returns the number of messages. */
static size_t
client_read(struct client *cl, size_t want, double timeout_s)
{
	double until = now_s() + timeout_s;
	struct pollfd p = { .fd = cl->fd, .events = POLLIN };

	while (cl->n_msgs < want && !cl->ended && now_s() < until) {
		ssize_t n;

		if (poll(&p, 1, 20) != 1)
			continue;
		if (cl->raw_len == cl->cap)
			break;
		n = recv(cl->fd, cl->raw + cl->raw_len, cl->cap - cl->raw_len, 0);
		if (n <= 0)
			break;
		cl->raw_len += (size_t)n;
		while (cl->status == 0) {
			char *head = cl->raw + cl->raw_off;
			char *h = memmem(head, cl->raw_len - cl->raw_off, "\r\n\r\n", 4);

			if (h == NULL)
				break;
			cl->raw_off = (size_t)(h - cl->raw) + 4;
			if (cl->skip > 0) {
				cl->skip--;
				continue;
			}
			cl->status = atoi(head + 9);
			cr_assert_eq(cl->status, 200, "%.*s", (int)(h - head), head);
			cr_assert(memmem(head, (size_t)(h - head), "text/event-stream", 17));
		}
		if (cl->status != 0)
			digest(cl);
	}
	return cl->n_msgs;
}

/* extra: "Last-Event-ID: N" or NULL; query: "" or "last_event_id=N";
 * rcvbuf: the socket's receive buffer (0: the default); cap: bytes kept. */
static struct client *
client_open_x(struct tsrv *ts, const char *extra, const char *query, int rcvbuf, size_t cap)
{
	struct client *cl = calloc(1, sizeof(*cl));
	char req[512];

	cl->cap = cap;
	cl->raw = malloc(cl->cap + 1);
	cl->text = malloc(cl->cap + 1);
	cl->fd = dial(ts->port, rcvbuf);
	snprintf(req, sizeof(req), "GET /stream%s%s HTTP/1.1\r\nHost: t\r\n%s%s\r\n",
		 query[0] ? "?" : "", query, extra ? extra : "", extra ? "\r\n" : "");
	send_str(cl->fd, req);
	return cl;
}

/* The stream pipelined behind /hold: its data waits in the server. */
static struct client *
client_open_held(struct tsrv *ts)
{
	struct client *cl = calloc(1, sizeof(*cl));

	cl->cap = 8u << 20;
	cl->raw = malloc(cl->cap + 1);
	cl->text = malloc(cl->cap + 1);
	cl->skip = 1;
	cl->fd = dial(ts->port, 0);
	send_str(cl->fd, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\nGET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	return cl;
}

static struct client *
client_open(struct tsrv *ts, const char *extra, const char *query)
{
	return client_open_x(ts, extra, query, 0, 1u << 20);
}

static void
client_close(struct client *cl)
{
	close(cl->fd);
	free(cl->raw);
	free(cl->text);
	free(cl->msgs);
	free(cl);
}

/* Messages from index from on are ids first..last, data n = id - FIRST. */
static void
assert_run(const struct client *cl, size_t from, long long first, long long last)
{
	cr_assert_eq(cl->n_msgs - from, (size_t)(last - first + 1), "%zu messages, want %lld..%lld",
		     cl->n_msgs - from, first, last);
	for (size_t i = from; i < cl->n_msgs; i++) {
		const struct msg *m = &cl->msgs[i];
		long long want = first + (long long)(i - from);

		cr_assert_eq(m->id, want, "message %zu: id %lld, want %lld", i, m->id, want);
		cr_assert_str_eq(m->event, "tick");
		cr_assert_eq(m->n, (int)(want - FIRST));
	}
}

/* --- the cases ----------------------------------------------------------- */

TestSuite(sse, .timeout = 60);

Test(sse, messages_carry_ids_and_a_reconnect_gets_exactly_the_missed_ones)
{
	struct tsrv *ts = start();
	struct client *a = client_open(ts, NULL, ""), *b, *c;

	/* A new client: retry, then a hello carrying the current id. */
	cr_assert_eq(client_read(a, 1, 5), 1);
	cr_assert(strncmp(a->text, "retry: 3000\n\n", 13) == 0, "%s", a->text);
	cr_assert_str_eq(a->msgs[0].event, "hello");
	cr_assert_eq(a->msgs[0].id, FIRST);
	broadcast(ts, 3, 0);
	cr_assert_eq(client_read(a, 4, 5), 4);
	assert_run(a, 1, FIRST + 1, FIRST + 3);
	cr_assert(strstr(a->text, "id: 1001\nevent: tick\ndata: {") != NULL, "%s", a->text);
	client_close(a);
	wait_clients(ts, 0);

	broadcast(ts, 4, 0); /* 1004..1007 while nobody listens */
	b = client_open(ts, "Last-Event-ID: 1003", "");
	cr_assert_eq(client_read(b, 5, 5), 5);
	cr_assert_str_eq(b->msgs[0].event, "hello");
	cr_assert_eq(b->msgs[0].id, -1, "a resumed hello must not move the client's id");
	assert_run(b, 1, FIRST + 4, FIRST + 7);
	/* Nothing more, until the next broadcast, which comes live. */
	cr_assert_eq(client_read(b, 6, 0.3), 5);
	broadcast(ts, 1, 0);
	cr_assert_eq(client_read(b, 6, 5), 6);
	assert_run(b, 1, FIRST + 4, FIRST + 8);

	/* The query parameter does the same (EventSource's first connection). */
	c = client_open(ts, NULL, "last_event_id=1005");
	cr_assert_eq(client_read(c, 4, 5), 4);
	assert_run(c, 1, FIRST + 6, FIRST + 8);
	/* Up to date: only the hello. */
	client_close(c);
	c = client_open(ts, "Last-Event-ID: 1008", "");
	cr_assert_eq(client_read(c, 2, 0.3), 1);
	client_close(c);
	client_close(b);
	stop(ts);
}

Test(sse, an_id_older_than_the_ring_or_unknown_gets_a_reset)
{
	struct tsrv *ts = start();
	long long last = FIRST + SSE_RING_MAX + 10, oldest = last - SSE_RING_MAX + 1;
	const char *bad[] = { "Last-Event-ID: 1001", "Last-Event-ID: 99999999999",
			      "Last-Event-ID: 12ab", "Last-Event-ID: -5" };
	char hdr[64], out[256];
	struct client *cl;

	broadcast(ts, SSE_RING_MAX + 10, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl = client_open(ts, bad[i], "");
		cr_assert_eq(client_read(cl, 3, 0.5), 2, "%s", bad[i]);
		cr_assert_str_eq(cl->msgs[1].event, "reset", "%s", bad[i]);
		cr_assert_eq(cl->msgs[1].id, last, "a reset carries the current id");
		client_close(cl);
	}
	/* Just inside the ring: all of it, in order. */
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %lld", oldest - 1);
	cl = client_open(ts, hdr, "");
	cr_assert_eq(client_read(cl, SSE_RING_MAX + 1, 10), SSE_RING_MAX + 1);
	assert_run(cl, 1, oldest, last);
	client_close(cl);
	/* One older: a reset. */
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %lld", oldest - 2);
	cl = client_open(ts, hdr, "");
	cr_assert_eq(client_read(cl, 3, 0.5), 2);
	cr_assert_str_eq(cl->msgs[1].event, "reset");
	client_close(cl);
	cr_assert_eq(request(ts->port, "/stats", out, sizeof(out)), 200);
	cr_assert(strstr(out, "resets=5 ") != NULL, "%s", out);
	stop(ts);
}

Test(sse, a_client_that_does_not_read_loses_nothing)
{
	struct tsrv *ts = start();
	struct client *a = client_open_x(ts, NULL, "", 4096, 8u << 20), *b;
	const int n = 120, size = 24 << 10;
	long long seen;
	char hdr[64], out[256];

	cr_assert_eq(client_read(a, 1, 5), 1);
	/* 2.9 MB the client does not read: past the kernel's and the server's
	 * buffers the stream is ended, not thinned out. */
	broadcast(ts, n, size);
	cr_assert_eq(request(ts->port, "/stats", out, sizeof(out)), 200);
	client_read(a, (size_t)n + 1, 3);
	cr_assert_gt(a->n_msgs, 1);
	assert_run(a, 1, FIRST + 1, a->msgs[a->n_msgs - 1].id);
	seen = a->msgs[a->n_msgs - 1].id;
	cr_log_info("read %lld of %d messages before the stream %s", seen - FIRST, n,
		    a->ended ? "ended" : "stalled");
	if (seen < FIRST + n) {
		cr_assert(a->ended, "the stream stopped at %lld without ending", seen);
		cr_assert(strstr(out, "lagging=1") != NULL, "%s", out);
	}
	client_close(a);
	/* Reconnecting with the last id read brings exactly the rest. */
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %lld", seen);
	b = client_open(ts, hdr, "");
	cr_assert_eq(client_read(b, (size_t)(FIRST + n - seen) + 1, 10),
		     (size_t)(FIRST + n - seen) + 1);
	if (seen < FIRST + n)
		assert_run(b, 1, seen + 1, FIRST + n);
	client_close(b);
	stop(ts);
}

Test(sse, a_client_that_falls_behind_is_ended_and_catches_up)
{
	struct tsrv *ts = start();
	struct client *a = client_open_held(ts), *b;
	const int n = 120, size = 24 << 10;
	char hdr[64], out[256];
	long long seen;

	/* Everything for this stream waits behind the held answer, up to
	 * the server's per-stream buffer: then the stream is ended. */
	wait_clients(ts, 1);
	broadcast(ts, n, size);
	cr_assert_eq(request(ts->port, "/stats", out, sizeof(out)), 200);
	cr_assert(strstr(out, "clients=0 ") != NULL && strstr(out, "lagging=1") != NULL, "%s", out);
	cr_assert_eq(request(ts->port, "/release", out, sizeof(out)), 200);
	client_read(a, (size_t)n + 1, 5);
	cr_assert(a->ended, "stream not ended after %zu messages", a->n_msgs);
	cr_assert_gt(a->n_msgs, 2);
	seen = a->msgs[a->n_msgs - 1].id;
	cr_assert_lt(seen, FIRST + n);
	assert_run(a, 1, FIRST + 1, seen);
	client_close(a);
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %lld", seen);
	b = client_open_x(ts, hdr, "", 0, 8u << 20);
	cr_assert_eq(client_read(b, (size_t)(FIRST + n - seen) + 1, 10),
		     (size_t)(FIRST + n - seen) + 1);
	assert_run(b, 1, seen + 1, FIRST + n);
	client_close(b);
	stop(ts);
}

Test(sse, clients_are_capped_and_streams_end_at_shutdown)
{
	struct tsrv *ts = start();
	struct client *cl[SSE_MAX_CLIENTS];
	char buf[4096];
	size_t len = 0;
	ssize_t k;
	int fd;

	for (int i = 0; i < SSE_MAX_CLIENTS; i++) {
		cl[i] = client_open_x(ts, NULL, "", 0, 4096);
	}
	for (int i = 0; i < SSE_MAX_CLIENTS; i++)
		cr_assert_eq(client_read(cl[i], 1, 5), 1, "client %d", i);
	fd = dial(ts->port, 0);
	send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	while (strstr(buf, "\r\n\r\n") == NULL && (k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0) {
		len += (size_t)k;
		buf[len] = '\0';
	}
	cr_assert(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
	close(fd);
	/* A graceful stop ends every stream with the last chunk. */
	uv_async_send(&ts->stop);
	for (int i = 0; i < SSE_MAX_CLIENTS; i++) {
		client_read(cl[i], 2, 5);
		cr_assert(cl[i]->ended, "client %d: stream not ended", i);
		client_close(cl[i]);
	}
	pthread_join(ts->thread, NULL);
	cr_assert(ts->closed);
	pthread_mutex_destroy(&ts->mu);
	pthread_cond_destroy(&ts->cv);
	free(ts);
}
