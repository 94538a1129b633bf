/* tests/collector/test_http_server.c - the HTTP server seen from real clients (sockets, libcurl, TLS). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "collector/http_conn.h"
#include "collector/http_server.h"

/* --- a server in its own thread, with a trivial handler ------------------ */

struct tsrv {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	struct http_server *srv;
	struct http_server_options opt;
	int port;
	int closed;
	struct http_server_stats final;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;
	int slow_started; /* /slow requests handed to the handler */
	char err[256];
};

struct deferred {
	uv_timer_t timer;
	struct http_exchange *ex;
	int n;
	char body[512];
};

static void
deferred_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
deferred_fire(uv_timer_t *t)
{
	struct deferred *d = t->data;

	http_exchange_respond(d->ex, 200, "text/plain", NULL, d->body, strlen(d->body));
	uv_close((uv_handle_t *)t, deferred_closed);
}

static void
stream_tick(uv_timer_t *t)
{
	struct deferred *d = t->data;
	char ev[64];
	int n;

	n = snprintf(ev, sizeof(ev), "data: %d\n\n", d->n);
	http_exchange_stream_write(d->ex, ev, (size_t)n);
	if (++d->n == 3) {
		http_exchange_stream_end(d->ex);
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, deferred_closed);
	}
}

static void
handler(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	struct tsrv *ts = ctx;
	struct deferred *d;
	char *body;
	const char *v;
	int ms;

	if (strcmp(req->path, "/slow") == 0) {
		d = calloc(1, sizeof(*d));
		d->ex = ex;
		ms = atoi(req->query + 3); /* "ms=N&id=..." */
		snprintf(d->body, sizeof(d->body), "slow %s", req->query);
		__atomic_add_fetch(&ts->slow_started, 1, __ATOMIC_SEQ_CST);
		uv_timer_init(&ts->loop, &d->timer);
		d->timer.data = d;
		uv_timer_start(&d->timer, deferred_fire, (uint64_t)ms, 0);
		return;
	}
	if (strcmp(req->path, "/stream") == 0) {
		d = calloc(1, sizeof(*d));
		d->ex = ex;
		http_exchange_stream_start(ex, "text/event-stream");
		uv_timer_init(&ts->loop, &d->timer);
		d->timer.data = d;
		uv_timer_start(&d->timer, stream_tick, 20, 20);
		return;
	}
	if (strcmp(req->path, "/big") == 0) { /* 4 MB: more than the socket buffers */
		body = malloc(4 << 20);
		memset(body, 'b', 4 << 20);
		http_exchange_respond(ex, 200, "text/plain", NULL, body, 4 << 20);
		free(body);
		return;
	}
	if (strcmp(req->path, "/peer") == 0) {
		http_exchange_respond(ex, 200, "text/plain", NULL, req->peer, strlen(req->peer));
		return;
	}
	if (strcmp(req->path, "/header") == 0) {
		v = http_request_header(ex, req->query);
		http_exchange_respond(ex, v ? 200 : 404, "text/plain", NULL, v ? v : "", v ? strlen(v) : 0);
		return;
	}
	if (asprintf(&body, "%s %s ?%s %zu:%s", req->method, req->path, req->query, req->body_len,
		     req->body) < 0)
		abort();
	/* Handed over, not copied: every other test answer takes this path
	 * (pipelined, HEAD, keep-alive), /slow and /big the copying one. */
	http_exchange_respond_take(ex, 200, "text/plain", "X-Test: yes\r\n", body, strlen(body));
}

static void
server_closed(void *arg)
{
	struct tsrv *ts = arg;

	ts->closed = 1;
}

static void
on_stop(uv_async_t *a)
{
	struct tsrv *ts = a->data;

	http_server_get_stats(ts->srv, &ts->final);
	http_server_close(ts->srv, server_closed, ts);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
server_thread(void *arg)
{
	struct tsrv *ts = arg;

	uv_loop_init(&ts->loop);
	uv_async_init(&ts->loop, &ts->stop, on_stop);
	ts->stop.data = ts;
	ts->srv = http_server_new(&ts->loop, &ts->opt, handler, ts, ts->err, sizeof(ts->err));
	pthread_mutex_lock(&ts->mu);
	ts->port = ts->srv != NULL ? http_server_port(ts->srv) : -1;
	ts->ready = 1;
	pthread_cond_signal(&ts->cv);
	pthread_mutex_unlock(&ts->mu);
	if (ts->srv == NULL)
		uv_close((uv_handle_t *)&ts->stop, NULL);
	uv_run(&ts->loop, UV_RUN_DEFAULT);
	uv_loop_close(&ts->loop);
	return NULL;
}

static struct tsrv *
start_at(const char *listen, const struct http_limits *lim, const char *cert, const char *key)
{
	struct tsrv *ts = calloc(1, sizeof(*ts));

	signal(SIGPIPE, SIG_IGN); /* as the daemons do: clients here hang up early */
	ts->opt.listen = listen;
	ts->opt.tls_cert = cert;
	ts->opt.tls_key = key;
	if (lim != NULL)
		ts->opt.limits = *lim;
	pthread_mutex_init(&ts->mu, NULL);
	pthread_cond_init(&ts->cv, NULL);
	pthread_create(&ts->thread, NULL, server_thread, ts);
	pthread_mutex_lock(&ts->mu);
	while (!ts->ready)
		pthread_cond_wait(&ts->cv, &ts->mu);
	pthread_mutex_unlock(&ts->mu);
	cr_assert_gt(ts->port, 0, "server did not start: %s", ts->err);
	return ts;
}

static struct tsrv *
start(const struct http_limits *lim, const char *cert, const char *key)
{
	return start_at("127.0.0.1:0", lim, cert, key);
}

/* Close gracefully and wait; returns the stats seen just before closing. */
static struct http_server_stats
stop(struct tsrv *ts)
{
	struct http_server_stats st;

	uv_async_send(&ts->stop);
	pthread_join(ts->thread, NULL);
	cr_assert(ts->closed, "close callback did not run");
	st = ts->final;
	pthread_mutex_destroy(&ts->mu);
	pthread_cond_destroy(&ts->cv);
	free(ts);
	return st;
}

/* --- clients ------------------------------------------------------------ */

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Connect to 127.0.0.1:port from the loopback address src (127.0.0.x,
 * another source as far as the server is concerned), or from any when NULL. */
static int
dial_from(int port, const char *src)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	if (src != NULL) {
		cr_assert_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
		cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0, "bind %s: %s", src,
			     strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

static int
dial(int port)
{
	return dial_from(port, NULL);
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

struct resp {
	int status;
	char head[4096];
	char body[8192];
	size_t body_len;
};

/* Read one whole answer (Content-Length framed) from fd, keeping leftovers
 * in buf/len for the next call. Returns 0, or -1 on EOF/timeout first. */
static int
read_resp_x(int fd, char *buf, size_t *len, size_t cap, struct resp *r, int is_head)
{
	char *end, *cl;
	size_t hlen, blen;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	for (;;) {
		buf[*len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			hlen = (size_t)(end - buf) + 4;
			cl = strcasestr(buf, "\r\nContent-Length: ");
			blen = cl != NULL && cl < end ? strtoul(cl + 18, NULL, 10) : 0;
			if (strncmp(buf, "HTTP/1.1 100 ", 13) == 0) {
				memmove(buf, buf + hlen, *len - hlen);
				*len -= hlen;
				continue;
			}
			if (is_head)
				blen = 0;
			if (*len >= hlen + blen && hlen < sizeof(r->head)) {
				memcpy(r->head, buf, hlen);
				r->status = atoi(buf + 9);
				r->body_len = blen < sizeof(r->body) - 1 ? blen : sizeof(r->body) - 1;
				memcpy(r->body, buf + hlen, r->body_len);
				memmove(buf, buf + hlen + blen, *len - hlen - blen);
				*len -= hlen + blen;
				return 0;
			}
		}
		if (*len + 1 >= cap)
			return -1;
		n = recv(fd, buf + *len, cap - *len - 1, 0);
		if (n <= 0)
			return -1;
		*len += (size_t)n;
	}
}

static int
read_resp(int fd, char *buf, size_t *len, size_t cap, struct resp *r)
{
	return read_resp_x(fd, buf, len, cap, r, 0);
}

/* One request on a fresh connection. */
static struct resp
request_once(int port, const char *raw)
{
	static __thread char buf[65536];
	size_t len = 0;
	struct resp r;
	int fd = dial(port);

	send_str(fd, raw);
	if (read_resp(fd, buf, &len, sizeof(buf), &r) != 0)
		r.status = -1;
	close(fd);
	return r;
}

/* True when the server closes fd (EOF or reset) within timeout_ms. */
static int
closed_within(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char junk[4096];
	double until = now_s() + timeout_ms / 1000.0;

	while (now_s() < until) {
		if (poll(&p, 1, 50) == 1) {
			ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return 1;
		}
	}
	return 0;
}

/* --- the cases ------------------------------------------------------------ */

TestSuite(http_server, .timeout = 60);

Test(http_server, keep_alive_reuses_one_connection)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	char buf[65536];
	size_t len = 0;
	struct resp r;
	int fd = dial(ts->port);

	send_str(fd, "GET /echo/a%20b?x=%41&y HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_eq(r.status, 200);
	/* %XX decoded in the path only; the query stays raw */
	cr_assert_str_eq(r.body, "GET /echo/a b ?x=%41&y 0:");
	cr_assert(strstr(r.head, "\r\nConnection: keep-alive\r\n") != NULL, "%s", r.head);
	cr_assert(strstr(r.head, "\r\nDate: ") != NULL && strstr(r.head, " GMT\r\n") != NULL);
	cr_assert(strstr(r.head, "\r\nX-Test: yes\r\n") != NULL);
	send_str(fd, "POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0, "second request on same socket");
	cr_assert_str_eq(r.body, "POST /second ? 5:hello");
	send_str(fd, "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert(strstr(r.head, "\r\nConnection: close\r\n") != NULL, "%s", r.head);
	cr_assert(closed_within(fd, 2000), "server kept the connection after Connection: close");
	close(fd);
	stop(ts);
}

static size_t
curl_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->body_len;

	memcpy(r->body + r->body_len, p, len < room ? len : room);
	r->body_len += len < room ? len : room;
	return len;
}

/* Two POSTs with libcurl: one connection, and bodies over 1 KB (curl sends
 * "Expect: 100-continue") must not wait for curl's 1 s fallback. */
static void
curl_two_posts(int port, const char *scheme, const char *cainfo)
{
	CURL *h = curl_easy_init();
	char url[128], *big = malloc(20001);
	struct resp r;
	long code, conns;
	double t0;
	int i;

	memset(big, 'x', 20000);
	big[20000] = '\0';
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/post", scheme, port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, big);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (cainfo != NULL) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cainfo);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		t0 = now_s();
		cr_assert_eq(curl_easy_perform(h), CURLE_OK, "curl request %d", i);
		cr_assert_lt(now_s() - t0, 0.8, "POST took %.2f s (100-continue not sent?)", now_s() - t0);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
		cr_assert_eq(code, 200);
		cr_assert(strncmp(r.body, "POST /post ? 20000:xxxx", 23) == 0, "%.40s", r.body);
		if (i == 1)
			cr_assert_eq(conns, 0, "second request opened a new connection");
	}
	curl_easy_cleanup(h);
	free(big);
}

Test(http_server, curl_keep_alive_and_expect_continue)
{
	struct tsrv *ts = start(NULL, NULL, NULL);

	curl_two_posts(ts->port, "http", NULL);
	stop(ts);
}

Test(http_server, pipelined_answers_keep_request_order)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	char buf[65536];
	size_t len = 0;
	struct resp r;
	int fd = dial(ts->port);

	/* The first and third answers are produced later than the others. */
	send_str(fd, "GET /slow?ms=300&id=1 HTTP/1.1\r\nHost: t\r\n\r\n"
		     "GET /fast/2 HTTP/1.1\r\nHost: t\r\n\r\n"
		     "GET /slow?ms=100&id=3 HTTP/1.1\r\nHost: t\r\n\r\n"
		     "POST /fast/4 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok"
		     "HEAD /fast/5 HTTP/1.1\r\nHost: t\r\n\r\n"
		     "GET /fast/6 HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_str_eq(r.body, "slow ms=300&id=1");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_str_eq(r.body, "GET /fast/2 ? 0:");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_str_eq(r.body, "slow ms=100&id=3");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_str_eq(r.body, "POST /fast/4 ? 2:ok");
	/* HEAD: the length of the GET answer, no body */
	cr_assert_eq(read_resp_x(fd, buf, &len, sizeof(buf), &r, 1), 0);
	cr_assert(strstr(r.head, "Content-Length: 17\r\n") != NULL, "%s", r.head); /* "HEAD /fast/5 ? 0:" */
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_str_eq(r.body, "GET /fast/6 ? 0:", "HEAD answer carried a body");
	close(fd);
	stop(ts);
}

Test(http_server, oversized_content_length_gets_413_before_body)
{
	struct http_limits lim = { .max_body_bytes = 1000 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	char buf[65536];
	size_t len = 0;
	struct resp r;
	int fd = dial(ts->port);

	send_str(fd, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0, "no answer without the body");
	cr_assert_eq(r.status, 413);
	cr_assert_str_eq(r.body, "{\"error\":\"request body too large\"}");
	cr_assert(strstr(r.head, "Connection: close") != NULL);
	cr_assert(closed_within(fd, 4000));
	close(fd);

	/* chunked bodies are counted while they stream in */
	fd = dial(ts->port);
	len = 0;
	send_str(fd, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++)
		send_str(fd, "190\r\n" /* 400 bytes */
			     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_eq(r.status, 413);
	close(fd);
	/* a body within the limit still works */
	r = request_once(ts->port, "POST /ok HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
	cr_assert_str_eq(r.body, "POST /ok ? 5:abcde");
	cr_assert_geq(stop(ts).rejected_limit, 2);
}

Test(http_server, huge_or_too_many_headers_get_431)
{
	struct http_limits lim = { .max_header_bytes = 4096, .max_headers = 20 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	char *req = malloc(20000), *p;
	struct resp r;
	int i;

	p = req + sprintf(req, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(p, 'a', 8000);
	strcpy(p + 8000, "\r\n\r\n");
	r = request_once(ts->port, req);
	cr_assert_eq(r.status, 431);
	cr_assert(strstr(r.body, "\"error\"") != NULL);

	p = req + sprintf(req, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 30; i++)
		p += sprintf(p, "X-H%d: v\r\n", i);
	strcpy(p, "\r\n");
	r = request_once(ts->port, req);
	cr_assert_eq(r.status, 431);
	cr_assert_str_eq(r.body, "{\"error\":\"too many header fields\"}");

	r = request_once(ts->port, "GET /header?x-custom HTTP/1.1\r\nX-Custom: v1\r\nx-empty:\r\n\r\n");
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "v1");
	free(req);
	stop(ts);
}

Test(http_server, garbage_gets_400_json)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	struct resp r;

	r = request_once(ts->port, "HELLO THERE\r\n\r\n");
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(r.body, "{\"error\":\"malformed request\"}");
	cr_assert(strstr(r.head, "Content-Type: application/json") != NULL);
	r = request_once(ts->port, "GET /a%zz HTTP/1.1\r\n\r\n");
	cr_assert_eq(r.status, 400, "bad %%-escape accepted");
	r = request_once(ts->port, "GET /a%00b HTTP/1.1\r\n\r\n");
	cr_assert_eq(r.status, 400, "NUL in path accepted");
	r = request_once(ts->port, "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
	cr_assert_eq(r.status, 400, "duplicate Content-Length accepted");
	r = request_once(ts->port, "GET / HTTP/1.1\r\nAuthorization: Bearer a\r\n"
				   "authorization: Bearer b\r\n\r\n");
	cr_assert_eq(r.status, 400, "two Authorization headers accepted");
	cr_assert_str_eq(r.body, "{\"error\":\"duplicate Authorization or Host header\"}");
	r = request_once(ts->port, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
	cr_assert_eq(r.status, 400, "two Host headers accepted");
	r = request_once(ts->port, "GET /header?authorization HTTP/1.1\r\nAuthorization: Bearer a\r\n\r\n");
	cr_assert_eq(r.status, 200, "one Authorization header refused");
	/* the server is still fine */
	r = request_once(ts->port, "GET /fine HTTP/1.0\r\n\r\n");
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.head, "Connection: close") != NULL, "HTTP/1.0 without keep-alive");
	stop(ts);
}

Test(http_server, rate_limit_answers_429_with_retry_after)
{
	/* one request per 5 s after a burst of 3: slow machines stay well
	 * inside one token's time (refills are tested on a fake clock in
	 * test_http_limits.c) */
	struct http_limits lim = { .rate_per_client = 0.2, .rate_burst = 3 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	char buf[65536], *ra;
	size_t len = 0;
	struct resp r;
	int fd = dial(ts->port), i, ok = 0, limited = 0, wait;

	for (i = 0; i < 6; i++) {
		send_str(fd, "POST /r HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
		cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0, "connection lost after %d", i);
		if (r.status == 200)
			ok++;
		if (r.status == 429) {
			limited++;
			cr_assert_not_null(ra = strstr(r.head, "\r\nRetry-After: "), "%s", r.head);
			wait = atoi(ra + 15);
			cr_assert(wait >= 1 && wait <= 5, "Retry-After: %d", wait);
			cr_assert_str_eq(r.body, "{\"error\":\"too many requests\"}");
		}
	}
	cr_assert_eq(ok, 3, "burst of 3 allowed, got %d", ok);
	cr_assert_eq(limited, 3);
	close(fd);
	cr_assert_geq(stop(ts).rejected_limit, 3);
}

Test(http_server, slow_clients_are_cut_off_while_others_are_served)
{
	struct http_limits lim = { .request_timeout_ms = 1000 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	enum { NSLOW = 120 };
	int slow[NSLOW], i, cut = 0, fast = 0;
	double t0, worst = 0, t;
	struct http_server_stats st;
	struct resp r;

	/* From two other sources, 60 each: under the per-source cap (64). */
	for (i = 0; i < NSLOW; i++) {
		slow[i] = dial_from(ts->port, i % 2 ? "127.0.0.2" : "127.0.0.3");
		send_str(slow[i], "GET /slow-loris HTTP/1.1\r\nHost: t\r\n");
	}
	t0 = now_s();
	while (now_s() - t0 < 2.0) {
		/* one header byte per client every 100 ms: never finishes */
		for (i = 0; i < NSLOW; i++)
			(void)send(slow[i], "X", 1, MSG_NOSIGNAL);
		t = now_s();
		r = request_once(ts->port, "GET /normal HTTP/1.1\r\nHost: t\r\n\r\n");
		t = now_s() - t;
		cr_assert_eq(r.status, 200);
		fast++;
		if (t > worst)
			worst = t;
		usleep(100 * 1000);
	}
	cr_assert_lt(worst, 0.5, "a normal request took %.3f s beside slow clients", worst);
	for (i = 0; i < NSLOW; i++) {
		char b[4096];
		ssize_t n = recv(slow[i], b, sizeof(b) - 1, MSG_DONTWAIT);

		if (n > 0) {
			b[n] = '\0';
			cr_assert(strncmp(b, "HTTP/1.1 408 ", 13) == 0, "%s", b);
		}
		if (n >= 0 || errno == ECONNRESET)
			cut++;
		close(slow[i]);
	}
	cr_assert_eq(cut, NSLOW, "only %d of %d slow clients were cut off", cut, NSLOW);
	st = stop(ts);
	cr_assert_geq(st.timeouts, NSLOW);
	cr_assert_geq(st.requests, (uint64_t)fast);
}

Test(http_server, idle_keep_alive_connection_is_closed)
{
	struct http_limits lim = { .idle_timeout_ms = 300 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	char buf[65536];
	size_t len = 0;
	struct resp r;
	int fd = dial(ts->port);
	double t0;

	send_str(fd, "GET / HTTP/1.1\r\n\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	t0 = now_s();
	cr_assert(closed_within(fd, 2000));
	cr_assert_geq(now_s() - t0, 0.25, "closed before the idle timeout");
	close(fd);
	stop(ts);
}

Test(http_server, over_max_connections_gets_503)
{
	struct http_limits lim = { .max_connections = 3 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	char buf[4096];
	int fds[3], fd, i;
	ssize_t n;

	for (i = 0; i < 3; i++)
		fds[i] = dial(ts->port);
	usleep(100 * 1000);
	fd = dial(ts->port);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
	cr_assert(strstr(buf, "{\"error\":\"too many connections\"}") != NULL);
	close(fd);
	close(fds[0]);
	/* the slot frees once the server has seen the close */
	for (i = 0; i < 30 && request_once(ts->port, "GET / HTTP/1.1\r\n\r\n").status != 200; i++)
		usleep(100 * 1000);
	cr_assert_lt(i, 30, "slot not freed");
	close(fds[1]);
	close(fds[2]);
	stop(ts);
}

/* Reads the whole answer to a connection refused at accept (the server
 * writes it, then closes); checks it is a complete 503 JSON answer whose
 * Content-Length is the body's length, and returns the body. */
static const char *
read_refusal(int fd)
{
	static __thread char buf[4096];
	size_t len = 0;
	ssize_t n;
	char *body, *cl;

	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	cr_assert(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
	cr_assert((body = strstr(buf, "\r\n\r\n")) != NULL, "no end of head: %s", buf);
	body += 4;
	cr_assert((cl = strstr(buf, "Content-Length: ")) != NULL && cl < body);
	cr_assert_eq(strtoul(cl + 16, NULL, 10), strlen(body), "Content-Length vs body %s", body);
	cr_assert(strstr(buf, "Connection: close\r\n") != NULL);
	return body;
}

Test(http_server, one_source_over_its_cap_does_not_block_another)
{
	struct http_limits lim = { .max_conns_per_source = 4 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	struct http_server_stats st;
	int hog[4], other[4], fd, i;

	for (i = 0; i < 4; i++)
		hog[i] = dial_from(ts->port, "127.0.0.2");
	usleep(100 * 1000);
	/* The fifth from 127.0.0.2 is answered and closed ... */
	fd = dial_from(ts->port, "127.0.0.2");
	cr_assert_str_eq(read_refusal(fd), "{\"error\":\"too many connections from this address\"}");
	cr_assert(closed_within(fd, 2000));
	close(fd);
	/* ... while another source is served as usual, up to its own cap. */
	for (i = 0; i < 4; i++)
		other[i] = dial_from(ts->port, "127.0.0.3");
	for (i = 0; i < 4; i++) {
		char buf[65536];
		size_t len = 0;
		struct resp r;

		send_str(other[i], "GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
		cr_assert_eq(read_resp(other[i], buf, &len, sizeof(buf), &r), 0);
		cr_assert_eq(r.status, 200);
		close(other[i]);
	}
	cr_assert_eq(request_once(ts->port, "GET / HTTP/1.1\r\n\r\n").status, 200,
		     "127.0.0.1 refused beside a capped 127.0.0.2");
	/* A slot of 127.0.0.2 frees once the server has seen the close. */
	close(hog[0]);
	for (i = 0; i < 30; i++) {
		char buf[65536];
		size_t len = 0;
		struct resp r;

		fd = dial_from(ts->port, "127.0.0.2");
		send_str(fd, "GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
		if (read_resp(fd, buf, &len, sizeof(buf), &r) == 0 && r.status == 200) {
			close(fd);
			break;
		}
		close(fd);
		usleep(100 * 1000);
	}
	cr_assert_lt(i, 30, "the source's slot was not freed");
	for (i = 1; i < 4; i++)
		close(hog[i]);
	st = stop(ts);
	cr_assert_geq(st.rejected_source, 1);
	cr_assert_geq(st.responses_5xx, st.rejected_source);
}

Test(http_server, no_per_source_cap_when_disabled)
{
	struct http_limits lim = { .max_conns_per_source = -1, .max_connections = 100 };
	struct tsrv *ts = start(&lim, NULL, NULL);
	int fds[80], i;

	/* 80 from one address: only the server-wide cap applies. */
	for (i = 0; i < 80; i++)
		fds[i] = dial(ts->port);
	usleep(100 * 1000);
	cr_assert_eq(request_once(ts->port, "GET / HTTP/1.1\r\n\r\n").status, 200);
	for (i = 0; i < 80; i++)
		close(fds[i]);
	cr_assert_eq(stop(ts).rejected_source, 0);
}

struct closer {
	struct tsrv *ts;
	int delay_ms;
};

static void *
close_later(void *arg)
{
	struct closer *c = arg;

	/* close while the request is in the handler's hands */
	while (__atomic_load_n(&c->ts->slow_started, __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	usleep((useconds_t)c->delay_ms * 1000);
	uv_async_send(&c->ts->stop);
	return NULL;
}

Test(http_server, graceful_close_answers_requests_in_flight)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	struct closer cl = { ts, 100 };
	char buf[65536];
	size_t len = 0;
	struct resp r;
	pthread_t th;
	int fd = dial(ts->port), fd2 = dial(ts->port), port = ts->port;

	send_str(fd, "GET /slow?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n");
	pthread_create(&th, NULL, close_later, &cl);
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0, "in-flight request lost");
	cr_assert_str_eq(r.body, "slow ms=400");
	cr_assert(strstr(r.head, "Connection: close") != NULL, "%s", r.head);
	cr_assert(closed_within(fd, 3000));
	cr_assert(closed_within(fd2, 3000), "idle connection left open");
	pthread_join(th, NULL);
	pthread_join(ts->thread, NULL);
	cr_assert(ts->closed);
	{
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cr_assert_neq(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0, "still accepting");
		close(s);
	}
	close(fd);
	close(fd2);
	free(ts);
}

Test(http_server, client_leaving_before_answer_is_harmless)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	int fd = dial(ts->port), i;

	send_str(fd, "GET /slow?ms=200 HTTP/1.1\r\n\r\nGET /slow?ms=100 HTTP/1.1\r\n\r\n");
	close(fd);
	for (i = 0; i < 5; i++) { /* a burst of clients that vanish mid-request */
		fd = dial(ts->port);
		send_str(fd, "POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
		close(fd);
	}
	usleep(400 * 1000);
	cr_assert_eq(request_once(ts->port, "GET / HTTP/1.1\r\n\r\n").status, 200);
	stop(ts);
}

Test(http_server, client_resetting_during_a_large_answer_is_harmless)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char buf[4096];
	int fd, i, n;

	for (i = 0; i < 3; i++) {
		fd = dial(ts->port);
		/* many big answers asked for, few read: the server must hold
		 * back (not buffer them all) and cope with the reset */
		send_str(fd, "GET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n");
		cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0);
		usleep(50 * 1000);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd); /* RST */
	}
	usleep(100 * 1000);
	cr_assert_eq(request_once(ts->port, "GET / HTTP/1.1\r\n\r\n").status, 200);
	usleep(500 * 1000);
	n = stop(ts).connections;
	cr_assert_eq(n, 0, "%d reset connections still counted", n);
}

Test(http_server, server_sent_events_stream)
{
	struct tsrv *ts = start(NULL, NULL, NULL);
	char buf[8192];
	size_t len = 0;
	ssize_t n;
	int fd = dial(ts->port);

	send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n");
	while (strstr(buf, "GET /after") == NULL && len < sizeof(buf) - 1) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		cr_assert_gt(n, 0);
		len += (size_t)n;
		buf[len] = '\0';
	}
	cr_assert(strstr(buf, "Content-Type: text/event-stream\r\n") != NULL, "%s", buf);
	cr_assert(strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL);
	cr_assert(strstr(buf, "\r\n9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"
			      "HTTP/1.1 200 OK\r\n") != NULL, "%s", buf);
	close(fd);
	stop(ts);
}

/* Pipelined requests over TLS, more than the pipeline holds, with slow
 * answers among them: parsing pauses inside the TLS layer and resumes. */
static void
tls_pipeline(int port)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	char req[8192], *p = req, buf[65536], want[64];
	size_t len = 0;
	int fd = dial(port), i, n;

	SSL_set_fd(ssl, fd);
	cr_assert_eq(SSL_connect(ssl), 1, "TLS handshake failed");
	/* One TLS record per request: the records queue up in the server's
	 * read BIO while parsing is paused. */
	for (i = 0; i < 40; i++) {
		n = i % 7 == 0 ? sprintf(p, "GET /slow?ms=30&id=%d HTTP/1.1\r\n\r\n", i)
			       : sprintf(p, "GET /p/%d HTTP/1.1\r\n\r\n", i);
		cr_assert_eq(SSL_write(ssl, p, n), n);
	}
	for (i = 0; i < 40;) {
		struct resp r;
		char *end = strstr(buf, "\r\n\r\n");
		char *cl = end != NULL ? strstr(buf, "Content-Length: ") : NULL;

		buf[len] = '\0';
		if (end != NULL && cl != NULL) {
			size_t h = (size_t)(end - buf) + 4, b = strtoul(cl + 16, NULL, 10);

			if (len >= h + b) {
				memcpy(r.body, buf + h, b);
				r.body[b] = '\0';
				if (i % 7 == 0)
					snprintf(want, sizeof(want), "slow ms=30&id=%d", i);
				else
					snprintf(want, sizeof(want), "GET /p/%d ? 0:", i);
				cr_assert_str_eq(r.body, want, "answer %d out of order", i);
				memmove(buf, buf + h + b, len - h - b);
				len -= h + b;
				buf[len] = '\0';
				i++;
				continue;
			}
		}
		n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		cr_assert_gt(n, 0, "TLS read failed after %d answers", i);
		len += (size_t)n;
		buf[len] = '\0';
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}

/* A fresh EC certificate for 127.0.0.1 and its key in the new directory dir
 * (a mkdtemp template): dir/cert.pem, dir/key.pem (256 bytes each). */
static void
self_signed(char *dir, char cert[256], char key[256])
{
	char cmd[1024];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(cert, 256, "%s/cert.pem", dir);
	snprintf(key, 256, "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s -out %s -days 1 -subj /CN=127.0.0.1 2>/dev/null", key, cert);
	cr_assert_eq(system(cmd), 0, "openssl req failed");
}

Test(http_server, tls_with_self_signed_certificate)
{
	char dir[] = "/tmp/http-tls-XXXXXX", cmd[1024], cert[256], key[256];
	struct tsrv *ts;
	struct resp r;
	int fd;

	self_signed(dir, cert, key);
	ts = start(NULL, cert, key);
	curl_two_posts(ts->port, "https", cert);
	tls_pipeline(ts->port);
	/* plain HTTP to the TLS port is refused without harm */
	r = request_once(ts->port, "GET / HTTP/1.1\r\n\r\n");
	cr_assert_neq(r.status, 200);
	fd = dial(ts->port);
	close(fd);
	stop(ts);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(http_server, tls_key_readable_by_others_is_refused)
{
	char dir[] = "/tmp/http-tls-XXXXXX", cmd[1024], cert[256], key[256], err[512] = "";
	SSL_CTX *ctx;

	self_signed(dir, cert, key);
	cr_assert_eq(chmod(key, 0640), 0);
	ctx = http_tls_ctx_new(cert, key, err, sizeof(err));
	cr_assert_not_null(ctx, "a group-readable key is allowed: %s", err);
	SSL_CTX_free(ctx);
	cr_assert_eq(chmod(key, 0644), 0);
	cr_assert_null(http_tls_ctx_new(cert, key, err, sizeof(err)));
	cr_assert(strstr(err, "accessible by others (mode 644)") != NULL, "%s", err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(http_server, ipv6_listener_and_peer_address)
{
	struct tsrv *ts = start_at("[::1]:0", NULL, NULL, NULL);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)ts->port) };
	char buf[4096];
	size_t len = 0;
	struct resp r;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	sin6.sin6_addr = in6addr_loopback;
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	send_str(fd, "GET /peer HTTP/1.1\r\n\r\n");
	cr_assert_eq(read_resp(fd, buf, &len, sizeof(buf), &r), 0);
	cr_assert_str_eq(r.body, "::1");
	close(fd);
	stop(ts);
	ts = start(NULL, NULL, NULL);
	r = request_once(ts->port, "GET /peer HTTP/1.1\r\n\r\n");
	cr_assert_str_eq(r.body, "127.0.0.1");
	stop(ts);
}

Test(http_server, ipv6_source_is_capped_too)
{
	struct http_limits lim = { .max_conns_per_source = 2 };
	struct tsrv *ts = start_at("[::1]:0", &lim, NULL, NULL);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)ts->port) };
	struct timeval tv = { .tv_sec = 5 };
	int fds[3], i;

	sin6.sin6_addr = in6addr_loopback;
	for (i = 0; i < 3; i++) {
		fds[i] = socket(AF_INET6, SOCK_STREAM, 0);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sin6, sizeof(sin6)), 0);
		usleep(50 * 1000);
	}
	cr_assert_str_eq(read_refusal(fds[2]),
			 "{\"error\":\"too many connections from this address\"}");
	for (i = 0; i < 3; i++)
		close(fds[i]);
	cr_assert_eq(stop(ts).rejected_source, 1);
}

Test(http_server, bad_addresses_and_certificates_are_refused)
{
	struct sockaddr_storage ss;
	struct http_server_options opt = { .listen = "127.0.0.1:0" };
	char err[256] = "";
	uv_loop_t loop;

	cr_assert_eq(http_server_parse_address("127.0.0.1:8053", &ss), 0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(http_server_parse_address("[::1]:8053", &ss), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8053);
	cr_assert_neq(http_server_parse_address("::1:8053", &ss), 0);
	cr_assert_neq(http_server_parse_address("127.0.0.1", &ss), 0);
	cr_assert_neq(http_server_parse_address("127.0.0.1:70000", &ss), 0);
	cr_assert_neq(http_server_parse_address("127.0.0.1:-1", &ss), 0);
	cr_assert_neq(http_server_parse_address("[::1]8053", &ss), 0);
	cr_assert_neq(http_server_parse_address("host.example:80", &ss), 0);

	uv_loop_init(&loop);
	opt.tls_cert = "/nonexistent/cert.pem";
	opt.tls_key = "/nonexistent/key.pem";
	cr_assert_null(http_server_new(&loop, &opt, handler, NULL, err, sizeof(err)));
	cr_assert(strstr(err, "cert") != NULL, "%s", err);
	opt.tls_cert = opt.tls_key = NULL;
	opt.listen = "bogus";
	cr_assert_null(http_server_new(&loop, &opt, handler, NULL, err, sizeof(err)));
	cr_assert(strstr(err, "bogus") != NULL, "%s", err);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
