/* tests/collector/test_http_parse.c - request parsing and answer order through the socket-less transport. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "collector/http_conn.h"
#include "collector/http_server.h"

TestSuite(http_parse, .timeout = 30);

struct nullctx {
	int defer;
	struct http_exchange *held[64];
	char paths[64][32];
	int nheld;
	char out[65536];
	size_t out_len;
};

static void
null_handler(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	struct nullctx *nc = ctx;

	if (nc->defer && nc->nheld < 64) {
		snprintf(nc->paths[nc->nheld], sizeof(nc->paths[0]), "%s", req->path);
		nc->held[nc->nheld++] = ex;
		return;
	}
	http_exchange_respond(ex, 200, "text/plain", NULL, req->path, strlen(req->path));
}

/* Keep what the server sends, minus the Date lines (they change). */
static void
null_sink(void *arg, const char *data, size_t len)
{
	struct nullctx *nc = arg;

	cr_assert_lt(nc->out_len + len, sizeof(nc->out));
	memcpy(nc->out + nc->out_len, data, len);
	nc->out_len += len;
	nc->out[nc->out_len] = '\0';
}

static void
strip_dates(char *s)
{
	char *d, *e;

	while ((d = strstr(s, "Date: ")) != NULL && (e = strstr(d, "\r\n")) != NULL)
		memmove(d, e + 2, strlen(e + 2) + 1);
}

static const char pipelined[] =
	"GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
	"POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	"POST /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
	"GET /f%6Fur?q=%20 HTTP/1.1\r\nConnection: close\r\n\r\n"
	"GET /never HTTP/1.1\r\n\r\n";

Test(http_parse, byte_by_byte_input_parses_like_one_read)
{
	uv_loop_t loop;
	struct nullctx whole = { 0 }, split = { 0 };
	struct http_server *srv;
	struct http_conn *c;
	size_t i;

	uv_loop_init(&loop);
	srv = http_server_new_detached(&loop, NULL, null_handler, &whole);
	c = http_conn_new_null(srv, "198.18.0.1", null_sink, &whole);
	http_conn_feed(c, pipelined, sizeof(pipelined) - 1);
	http_conn_free(c);
	http_server_close(srv, NULL, NULL);

	srv = http_server_new_detached(&loop, NULL, null_handler, &split);
	c = http_conn_new_null(srv, "198.18.0.1", null_sink, &split);
	for (i = 0; i < sizeof(pipelined) - 1; i++)
		http_conn_feed(c, pipelined + i, 1);
	http_conn_free(c);
	http_server_close(srv, NULL, NULL);
	uv_loop_close(&loop);

	strip_dates(whole.out);
	strip_dates(split.out);
	cr_assert_str_eq(split.out, whole.out);
	cr_assert(strstr(whole.out, "\r\n\r\n/one") != NULL);
	cr_assert(strstr(whole.out, "\r\n\r\n/two") != NULL);
	cr_assert(strstr(whole.out, "\r\n\r\n/three") != NULL);
	cr_assert(strstr(whole.out, "Connection: close\r\n\r\n/four") != NULL, "%s", whole.out);
	cr_assert(strstr(whole.out, "/never") == NULL, "request after Connection: close served");
}

Test(http_parse, deep_pipeline_pauses_and_resumes_in_order)
{
	uv_loop_t loop;
	struct nullctx nc = { .defer = 1 };
	struct http_server *srv;
	struct http_conn *c;
	char req[4096], *p = req, want[32], *at;
	int i, answered = 0;

	for (i = 0; i < 40; i++)
		p += sprintf(p, "GET /r%d HTTP/1.1\r\n\r\n", i);
	uv_loop_init(&loop);
	srv = http_server_new_detached(&loop, NULL, null_handler, &nc);
	c = http_conn_new_null(srv, "198.18.0.1", null_sink, &nc);
	http_conn_feed(c, req, (size_t)(p - req));
	cr_assert_eq(nc.nheld, HTTP_MAX_PIPELINE, "parser did not pause at the pipeline limit");
	/* answer newest first: output must still come oldest first */
	while (nc.nheld > 0) {
		struct http_exchange *batch[64];
		char paths[64][32];
		int n = nc.nheld;

		memcpy(batch, nc.held, sizeof(batch));
		memcpy(paths, nc.paths, sizeof(paths));
		nc.nheld = 0; /* answering resumes parsing, which refills held[] */
		for (i = n - 1; i >= 0; i--)
			http_exchange_respond(batch[i], 200, NULL, NULL, paths[i], strlen(paths[i]));
		answered += n;
	}
	cr_assert_eq(answered, 40);
	at = nc.out;
	for (i = 0; i < 40; i++) {
		snprintf(want, sizeof(want), "\r\n\r\n/r%d", i);
		cr_assert_not_null(at = strstr(at, want), "answer %d missing or out of order", i);
	}
	http_conn_free(c);
	http_server_close(srv, NULL, NULL);
	uv_loop_close(&loop);
}

/* Answers with the value of the header named by the query ("/h?x-a"). */
static void
header_handler(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	const char *v = http_request_header(ex, req->query);
	char body[256];

	(void)ctx;
	snprintf(body, sizeof(body), "%s=%s|%zu", req->query, v != NULL ? v : "(none)", req->body_len);
	http_exchange_respond(ex, 200, "text/plain", NULL, body, strlen(body));
}

/* Feed input in one piece to a fresh connection; output in nc->out. */
static void
run(const struct http_limits *lim, http_handler_fn fn, const char *input, struct nullctx *nc)
{
	uv_loop_t loop;
	struct http_server *srv;
	struct http_conn *c;

	uv_loop_init(&loop);
	srv = http_server_new_detached(&loop, lim, fn, nc);
	c = http_conn_new_null(srv, "198.18.0.1", null_sink, nc);
	http_conn_feed(c, input, strlen(input));
	http_conn_free(c);
	http_server_close(srv, NULL, NULL);
	cr_assert_eq(uv_loop_close(&loop), 0);
	strip_dates(nc->out);
}

Test(http_parse, header_lookup_is_case_insensitive)
{
	struct nullctx nc = { 0 };

	run(NULL, header_handler,
	    "GET /h?x-a HTTP/1.1\r\nX-B: 2\r\nx-A: one two \r\n\r\n"
	    "GET /h?X-EMPTY HTTP/1.1\r\nX-Empty:\r\nX-After: z\r\n\r\n"
	    "GET /h?x-after HTTP/1.1\r\nX-Empty:\r\nX-After: z\r\n\r\n"
	    "GET /h?missing HTTP/1.1\r\n\r\n", &nc);
	cr_assert(strstr(nc.out, "\r\n\r\nx-a=one two|0") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "\r\n\r\nX-EMPTY=|0") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "\r\n\r\nx-after=z|0") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "\r\n\r\nmissing=(none)|0") != NULL, "%s", nc.out);
}

Test(http_parse, expect_continue_comes_before_the_answer)
{
	struct nullctx nc = { 0 };

	run(NULL, header_handler,
	    "POST /h?expect HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody", &nc);
	cr_assert(strncmp(nc.out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42) == 0, "%s",
		  nc.out);
	cr_assert(strstr(nc.out, "expect=100-continue|4") != NULL);
	/* no 100 for a body we refuse anyway */
	memset(&nc, 0, sizeof(nc));
	run(&(struct http_limits){ .max_body_bytes = 2 }, header_handler,
	    "POST /h?expect HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", &nc);
	cr_assert(strncmp(nc.out, "HTTP/1.1 413 Payload Too Large\r\n", 32) == 0, "%s", nc.out);
}

Test(http_parse, http10_keep_alive_only_when_asked)
{
	struct nullctx nc = { 0 };

	run(NULL, header_handler, "GET /h?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
				  "GET /h?b HTTP/1.0\r\n\r\n"
				  "GET /h?c HTTP/1.0\r\n\r\n", &nc);
	cr_assert(strstr(nc.out, "Connection: keep-alive\r\n\r\na=") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "Connection: close\r\n\r\nb=") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "c=") == NULL, "request after the closing one was served");
}

Test(http_parse, header_byte_limit_is_exact)
{
	/* "GET / HTTP/1.1\r\n" then "X: " + value: counted are the target,
	 * field names and values (here 1 + 1 + n bytes). */
	struct http_limits lim = { .max_header_bytes = 50 };
	struct nullctx nc = { 0 };
	char req[256];

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX: %048d\r\n\r\n", 0);
	run(&lim, header_handler, req, &nc);
	cr_assert(strncmp(nc.out, "HTTP/1.1 200 ", 13) == 0, "%s", nc.out);
	memset(&nc, 0, sizeof(nc));
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX: %049d\r\n\r\n", 0);
	run(&lim, header_handler, req, &nc);
	cr_assert(strncmp(nc.out, "HTTP/1.1 431 ", 13) == 0, "%s", nc.out);
}

Test(http_parse, rate_limited_requests_keep_the_connection)
{
	struct http_limits lim = { .rate_per_client = 0.5, .rate_burst = 1 };
	struct nullctx nc = { 0 };

	run(&lim, header_handler,
	    "POST /h?a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "POST /h?b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /h?c HTTP/1.1\r\n\r\n", &nc);
	cr_assert(strstr(nc.out, "\r\n\r\na=(none)|3HTTP/1.1 429 Too Many Requests\r\n") != NULL, "%s",
		  nc.out);
	cr_assert(strstr(nc.out, "Retry-After: 2\r\n") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "b=") == NULL, "rate-limited request reached the handler");
	/* the body of the refused request did not break framing: c parsed */
	cr_assert(strstr(nc.out, "{\"error\":\"too many requests\"}HTTP/1.1 429 ") != NULL, "%s", nc.out);
}

Test(http_parse, upgrade_requests_end_the_connection)
{
	struct nullctx nc = { 0 };

	run(NULL, header_handler,
	    "GET /h?upgrade HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	    "\x81\x05hello GET /h?x HTTP/1.1\r\n\r\n", &nc);
	cr_assert(strstr(nc.out, "upgrade=websocket|0") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "Connection: close\r\n") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "x=") == NULL);
}

Test(http_parse, answers_after_the_client_left_are_dropped)
{
	uv_loop_t loop;
	struct nullctx nc = { .defer = 1 };
	struct http_server *srv;
	struct http_conn *c;
	int i;

	uv_loop_init(&loop);
	srv = http_server_new_detached(&loop, NULL, null_handler, &nc);
	c = http_conn_new_null(srv, "198.18.0.1", null_sink, &nc);
	http_conn_feed(c, pipelined, sizeof(pipelined) - 1);
	cr_assert_eq(nc.nheld, 4);
	http_conn_free(c);
	for (i = 0; i < nc.nheld; i++) /* ASan: no use after free, no leak */
		http_exchange_respond(nc.held[i], 200, NULL, NULL, "late", 4);
	cr_assert_eq(nc.out_len, 0, "an orphaned answer was sent");
	http_server_close(srv, NULL, NULL);
	uv_loop_close(&loop);
}

Test(http_parse, parser_header_cap_also_gives_431)
{
	/* Our limit above http-parser's built-in 80 KB: its cap still
	 * answers 431, not 400. */
	struct http_limits lim = { .max_header_bytes = 200 * 1024 };
	struct nullctx nc = { 0 };
	size_t n = 100 * 1024;
	char *req = malloc(n + 64);

	strcpy(req, "GET / HTTP/1.1\r\nX: ");
	memset(req + strlen(req), 'a', n);
	strcpy(req + 19 + n, "\r\n\r\n");
	run(&lim, header_handler, req, &nc);
	cr_assert(strncmp(nc.out, "HTTP/1.1 431 ", 13) == 0, "%.60s", nc.out);
	free(req);
}

Test(http_parse, rate_limited_expect_continue_is_answered_at_once)
{
	struct http_limits lim = { .rate_per_client = 0.5, .rate_burst = 1 };
	struct nullctx nc = { 0 };

	/* the second client waits for "100 Continue" before its body: it must
	 * get its 429 without sending the body */
	run(&lim, header_handler,
	    "GET /h?a HTTP/1.1\r\n\r\n"
	    "POST /h?b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &nc);
	cr_assert(strstr(nc.out, "HTTP/1.1 429 Too Many Requests\r\n") != NULL, "%s", nc.out);
	cr_assert(strstr(nc.out, "100 Continue") == NULL);
	cr_assert(strstr(nc.out, "Connection: close\r\n\r\n{\"error\":\"too many requests\"}") != NULL,
		  "%s", nc.out);
}

Test(http_parse, bodies_held_server_wide_are_bounded)
{
	/* max_body 1000: the server holds at most 4000 bytes of bodies over
	 * all its connections; the fifth client waiting with 1000 gets 503 */
	struct http_limits lim = { .max_body_bytes = 1000 };
	struct nullctx nc = { .defer = 1 }, out[5];
	struct http_exchange *first[64];
	struct http_conn *c[5];
	struct http_server *srv;
	uv_loop_t loop;
	char req[1200];
	int i;

	memset(out, 0, sizeof(out));
	snprintf(req, sizeof(req), "POST /b HTTP/1.1\r\nContent-Length: 1000\r\n\r\n%01000d", 0);
	uv_loop_init(&loop);
	srv = http_server_new_detached(&loop, &lim, null_handler, &nc);
	for (i = 0; i < 5; i++) {
		c[i] = http_conn_new_null(srv, "198.18.0.1", null_sink, &out[i]);
		http_conn_feed(c[i], req, strlen(req));
	}
	cr_assert_eq(nc.nheld, 4, "%d requests reached the handler", nc.nheld);
	cr_assert_eq(out[3].out_len, 0);
	cr_assert(strncmp(out[4].out, "HTTP/1.1 503 ", 13) == 0, "%s", out[4].out);
	cr_assert(strstr(out[4].out, "Retry-After: 1\r\n") != NULL);
	/* answering frees the budget */
	memcpy(first, nc.held, sizeof(first));
	http_exchange_respond(first[0], 200, NULL, NULL, "ok", 2);
	nc.nheld = 0;
	http_conn_free(c[4]);
	memset(&out[4], 0, sizeof(out[4]));
	c[4] = http_conn_new_null(srv, "198.18.0.1", null_sink, &out[4]);
	http_conn_feed(c[4], req, strlen(req));
	cr_assert_eq(nc.nheld, 1, "budget not given back");
	for (i = 0; i < 5; i++)
		http_conn_free(c[i]);
	for (i = 1; i < 4; i++) /* orphans now: dropped, freed */
		http_exchange_respond(first[i], 200, NULL, NULL, "late", 4);
	http_exchange_respond(nc.held[0], 200, NULL, NULL, "late", 4);
	http_server_close(srv, NULL, NULL);
	uv_loop_close(&loop);
}

/* /hold is kept for later; /stream streams three events at once. */
static void
stream_handler(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	struct nullctx *nc = ctx;

	if (strcmp(req->path, "/hold") == 0) {
		nc->held[nc->nheld++] = ex;
		return;
	}
	http_exchange_stream_start(ex, "text/event-stream");
	cr_assert_eq(http_exchange_stream_write(ex, "data: a\n\n", 9), 0);
	cr_assert_eq(http_exchange_stream_write(ex, "data: b\n\n", 9), 0);
	http_exchange_stream_end(ex);
}

Test(http_parse, stream_behind_a_slow_answer_waits_its_turn)
{
	uv_loop_t loop;
	struct nullctx nc = { 0 };
	struct http_server *srv;
	struct http_conn *c;
	const char *in = "GET /hold HTTP/1.1\r\n\r\nGET /stream HTTP/1.1\r\n\r\nGET /stream HTTP/1.0\r\n\r\n";

	uv_loop_init(&loop);
	srv = http_server_new_detached(&loop, NULL, stream_handler, &nc);
	c = http_conn_new_null(srv, "198.18.0.1", null_sink, &nc);
	http_conn_feed(c, in, strlen(in));
	cr_assert_eq(nc.out_len, 0, "stream sent before the earlier answer");
	http_exchange_respond(nc.held[0], 200, "text/plain", NULL, "first", 5);
	strip_dates(nc.out);
	cr_assert(strstr(nc.out, "\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				 "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n"
				 "Connection: keep-alive\r\n\r\n"
				 "9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\n\r\n") != NULL, "%s", nc.out);
	/* HTTP/1.0: no chunks, the end of the stream is the end of the connection */
	cr_assert(strstr(nc.out, "Connection: close\r\n\r\ndata: a\n\ndata: b\n\n") != NULL, "%s", nc.out);
	http_conn_free(c);
	http_server_close(srv, NULL, NULL);
	uv_loop_close(&loop);
}
