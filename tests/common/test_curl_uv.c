/* tests/common/test_curl_uv.c - libcurl on libuv against a small HTTP server on
 * 127.0.0.1 run by this test: concurrent GETs and POSTs, refused connections,
 * timeouts, transfers started from done callbacks, and close while in flight. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/curl_uv.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks (see stderr)")
#else
#define LEAK_CHECK() ((void)0)
#endif

/* ---- a blocking HTTP/1.1 server, one thread per connection ---- */

struct server {
	int lfd;
	int port;
	pthread_t thread;
};

static void *serve_conn(void *p)
{
	int fd = (int)(intptr_t)p;
	char buf[1 << 16], method[8] = "", path[64] = "", reply[256], head[192];
	size_t have = 0, body_len = 0;
	char *end = NULL;
	ssize_t n;

	/* read the head, then Content-Length bytes of body */
	while (end == NULL && have < sizeof(buf) - 1) {
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			goto out;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (end == NULL || sscanf(buf, "%7s %63s", method, path) != 2)
		goto out;
	char *cl = strcasestr(buf, "content-length:");
	if (cl && cl < end)
		body_len = strtoul(cl + 15, NULL, 10);
	size_t got = have - (size_t)(end + 4 - buf);
	while (got < body_len) {
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			goto out;
		got += (size_t)n;
	}
	if (strcmp(path, "/hang") == 0) {
		/* never answer: wait until the client goes away */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		goto out;
	}
	int blen = snprintf(reply, sizeof(reply), "%s %s %zu", method, path, got);
	int hlen = snprintf(head, sizeof(head),
	                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                    "Content-Length: %d\r\nConnection: close\r\n\r\n",
	                    blen);
	if (write(fd, head, (size_t)hlen) != hlen || write(fd, reply, (size_t)blen) != blen)
		goto out;
out:
	close(fd);
	return NULL;
}

static void *serve(void *p)
{
	struct server *sv = p;
	int fd;

	while ((fd = accept(sv->lfd, NULL, NULL)) >= 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void server_start(struct server *sv)
{
	sv->lfd = listen_local(&sv->port);
	cr_assert_eq(listen(sv->lfd, 64), 0);
	cr_assert_eq(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static void server_stop(struct server *sv)
{
	shutdown(sv->lfd, SHUT_RDWR);
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
}

/* ---- client side ---- */

struct req {
	char url[128];
	char post[1 << 17];
	size_t post_len;
	char body[256];
	size_t body_len;
	int done;
	CURLcode result;
	long status;
	struct curl_uv *cu; /* for chained requests and close-from-callback */
	int chain;          /* start this many more requests from done */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (r->body_len + len >= sizeof(r->body))
		return 0;
	memcpy(r->body + r->body_len, p, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

static void on_done(void *arg, CURL *easy, CURLcode result);

static CURL *make_easy(struct req *r)
{
	CURL *e = curl_easy_init();

	cr_assert_not_null(e);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	if (r->post_len) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->post_len);
	}
	return e;
}

static void on_done(void *arg, CURL *easy, CURLcode result)
{
	struct req *r = arg;

	r->done++;
	r->result = result;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(easy);
	if (r->chain > 0 && result == CURLE_OK) {
		r->chain--;
		r->body_len = 0;
		cr_assert_eq(curl_uv_add(r->cu, make_easy(r), on_done, r), 0);
	}
}

static void on_closed(void *arg)
{
	(*(int *)arg)++;
}

TestSuite(curl_uv, .init = NULL);

Test(curl_uv, concurrent_gets_and_posts)
{
	struct server sv;
	uv_loop_t loop;
	enum { N = 8 };
	static struct req reqs[2 * N];
	int closed = 0;

	server_start(&sv);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&loop);
	struct curl_uv *cu = curl_uv_new(&loop, 4);
	cr_assert_not_null(cu);
	for (int i = 0; i < 2 * N; i++) {
		struct req *r = &reqs[i];
		memset(r, 0, sizeof(*r));
		snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/r%d", sv.port, i);
		if (i >= N) {
			r->post_len = 1000 * (size_t)i + 1;
			memset(r->post, 'x', r->post_len);
		}
		cr_assert_eq(curl_uv_add(cu, make_easy(r), on_done, r), 0);
	}
	cr_assert_eq(curl_uv_in_flight(cu), 2 * N);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* the loop ran dry: every transfer finished and no handle was left active */
	cr_assert_eq(curl_uv_in_flight(cu), 0);
	for (int i = 0; i < 2 * N; i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s /r%d %zu", i < N ? "GET" : "POST", i,
		         reqs[i].post_len);
		cr_assert_eq(reqs[i].done, 1, "request %d done %d times", i, reqs[i].done);
		cr_assert_eq(reqs[i].result, CURLE_OK, "request %d: %s", i,
		             curl_easy_strerror(reqs[i].result));
		cr_assert_eq(reqs[i].status, 200);
		cr_assert_str_eq(reqs[i].body, want);
	}
	curl_uv_close(cu, on_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(closed, 1);
	cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
	server_stop(&sv);
	LEAK_CHECK();
}

Test(curl_uv, chained_from_done_callback)
{
	struct server sv;
	uv_loop_t loop;
	static struct req r;
	int closed = 0;

	server_start(&sv);
	uv_loop_init(&loop);
	struct curl_uv *cu = curl_uv_new(&loop, 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d/again", sv.port);
	r.cu = cu;
	r.chain = 5;
	cr_assert_eq(curl_uv_add(cu, make_easy(&r), on_done, &r), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(r.done, 6, "six transfers, five started from done callbacks");
	cr_assert_eq(r.result, CURLE_OK);
	cr_assert_str_eq(r.body, "GET /again 0");
	curl_uv_close(cu, on_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(closed, 1);
	cr_assert_eq(uv_loop_close(&loop), 0);
	server_stop(&sv);
}

Test(curl_uv, connection_refused_is_an_error)
{
	uv_loop_t loop;
	static struct req r;
	int port, closed = 0;
	int fd = listen_local(&port); /* bound, never listening: connects are refused */

	uv_loop_init(&loop);
	struct curl_uv *cu = curl_uv_new(&loop, 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d/", port);
	cr_assert_eq(curl_uv_add(cu, make_easy(&r), on_done, &r), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(r.done, 1);
	cr_assert_eq(r.result, CURLE_COULDNT_CONNECT, "%s", curl_easy_strerror(r.result));
	curl_uv_close(cu, on_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(closed, 1);
	cr_assert_eq(uv_loop_close(&loop), 0);
	close(fd);
}

Test(curl_uv, timeout_reported)
{
	struct server sv;
	uv_loop_t loop;
	static struct req r;
	int closed = 0;

	server_start(&sv);
	uv_loop_init(&loop);
	struct curl_uv *cu = curl_uv_new(&loop, 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d/hang", sv.port);
	CURL *e = make_easy(&r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300L);
	uint64_t t0 = uv_hrtime();
	cr_assert_eq(curl_uv_add(cu, e, on_done, &r), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	double ms = (double)(uv_hrtime() - t0) / 1e6;
	cr_assert_eq(r.done, 1);
	cr_assert_eq(r.result, CURLE_OPERATION_TIMEDOUT, "%s", curl_easy_strerror(r.result));
	cr_assert(ms >= 290 && ms < 3000, "timed out after %.0f ms", ms);
	curl_uv_close(cu, on_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
	server_stop(&sv);
}

struct closer {
	uv_timer_t timer;
	struct curl_uv *cu;
	int *closed;
};

static void close_now(uv_timer_t *t)
{
	struct closer *c = t->data;

	curl_uv_close(c->cu, on_closed, c->closed);
	uv_close((uv_handle_t *)t, NULL);
}

static void add_after_close(void *arg, CURL *easy, CURLcode result)
{
	struct req *r = arg;

	on_done(arg, easy, result);
	/* a done callback run by close must not be able to start more work */
	CURL *again = curl_easy_init();
	cr_assert_eq(curl_uv_add(r->cu, again, on_done, r), -1);
	curl_easy_cleanup(again);
}

Test(curl_uv, close_while_in_flight)
{
	struct server sv;
	uv_loop_t loop;
	static struct req hang[3], ok;
	int closed = 0;
	struct closer c;

	server_start(&sv);
	uv_loop_init(&loop);
	struct curl_uv *cu = curl_uv_new(&loop, 0);
	for (int i = 0; i < 3; i++) {
		memset(&hang[i], 0, sizeof(hang[i]));
		snprintf(hang[i].url, sizeof(hang[i].url), "http://127.0.0.1:%d/hang", sv.port);
		hang[i].cu = cu;
		if (i == 2) {
			hang[i].post_len = 5000;
			memset(hang[i].post, 'y', 5000);
		}
		cr_assert_eq(curl_uv_add(cu, make_easy(&hang[i]), add_after_close, &hang[i]), 0);
	}
	memset(&ok, 0, sizeof(ok));
	snprintf(ok.url, sizeof(ok.url), "http://127.0.0.1:%d/quick", sv.port);
	cr_assert_eq(curl_uv_add(cu, make_easy(&ok), on_done, &ok), 0);
	c.cu = cu;
	c.closed = &closed;
	uv_timer_init(&loop, &c.timer);
	c.timer.data = &c;
	uv_timer_start(&c.timer, close_now, 300, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(ok.done, 1);
	cr_assert_eq(ok.result, CURLE_OK);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(hang[i].done, 1);
		cr_assert_eq(hang[i].result, CURLE_ABORTED_BY_CALLBACK);
	}
	cr_assert_eq(closed, 1);
	cr_assert_eq(uv_loop_close(&loop), 0);
	server_stop(&sv);
	LEAK_CHECK();
}

Test(curl_uv, close_idle_and_reject_bad_arguments)
{
	uv_loop_t loop;
	int closed = 0;

	uv_loop_init(&loop);
	struct curl_uv *cu = curl_uv_new(&loop, 0);
	cr_assert_eq(curl_uv_in_flight(cu), 0);
	cr_assert_eq(curl_uv_add(cu, NULL, on_done, NULL), -1);
	curl_uv_close(cu, on_closed, &closed);
	cr_assert_eq(closed, 0, "close callback must run from the loop");
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(closed, 1);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

struct closing_req {
	struct req r;
	int *closed;
};

static size_t close_in_write(char *p, size_t size, size_t n, void *arg)
{
	struct closing_req *c = arg;

	(void)p;
	/* closing from inside libcurl must not free what curl is still using */
	curl_uv_close(c->r.cu, on_closed, c->closed);
	return size * n;
}

Test(curl_uv, close_from_inside_a_curl_callback)
{
	struct server sv;
	uv_loop_t loop;
	static struct closing_req c;
	int closed = 0;

	server_start(&sv);
	uv_loop_init(&loop);
	memset(&c, 0, sizeof(c));
	c.closed = &closed;
	c.r.cu = curl_uv_new(&loop, 0);
	snprintf(c.r.url, sizeof(c.r.url), "http://127.0.0.1:%d/body", sv.port);
	CURL *e = make_easy(&c.r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, close_in_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
	cr_assert_eq(curl_uv_add(c.r.cu, e, on_done, &c.r), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(c.r.done, 1);
	cr_assert_eq(c.r.result, CURLE_ABORTED_BY_CALLBACK, "%s", curl_easy_strerror(c.r.result));
	cr_assert_eq(closed, 1);
	cr_assert_eq(uv_loop_close(&loop), 0);
	server_stop(&sv);
	LEAK_CHECK();
}
