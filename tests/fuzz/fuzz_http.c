/* tests/fuzz/fuzz_http.c - libFuzzer target: arbitrary bytes into the HTTP server's parsing path (no sockets). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "collector/http_conn.h"
#include "collector/http_server.h"

/* The first input byte picks the mode:
 *   bit 0: the handler holds answers and gives them later, newest first
 *   bit 1: small limits (headers, body, count) and a rate limit
 *   bits 2-7: input is fed in pieces of this many bytes + 1 (0: at once) */

#define MAX_HELD 64

struct fuzz_ctx {
	struct http_exchange *held[MAX_HELD];
	int nheld;
	int defer;
	size_t out;
};

static void
handler(void *arg, struct http_exchange *ex, const struct http_request *req)
{
	struct fuzz_ctx *fc = arg;
	const char *v;

	/* What a handler may rely on, whatever the client sent. */
	if (req->method == NULL || req->path == NULL || req->path[0] == '\0' ||
	    req->query == NULL || req->body == NULL || req->body[req->body_len] != '\0' ||
	    strlen(req->path) == 0 || req->peer == NULL)
		abort();
	v = http_request_header(ex, "Host");
	if (v != NULL)
		(void)strlen(v);
	if (strcmp(req->path, "/stream") == 0) {
		http_exchange_stream_start(ex, "text/event-stream");
		(void)http_exchange_stream_write(ex, "data: x\n\n", 9);
		http_exchange_stream_end(ex);
		return;
	}
	if (fc->defer && fc->nheld < MAX_HELD) {
		fc->held[fc->nheld++] = ex;
		return;
	}
	http_exchange_respond(ex, req->body_len > 0 ? 201 : 200, "text/plain", "X-A: b\r\n",
			      req->body, req->body_len);
}

static void
sink(void *arg, const char *data, size_t len)
{
	struct fuzz_ctx *fc = arg;

	/* Whatever we send starts as a status line. */
	if (fc->out == 0 && (len < 9 || memcmp(data, "HTTP/1.1 ", 9) != 0))
		abort();
	fc->out += len;
}

static void
answer_held(struct fuzz_ctx *fc, int keep)
{
	struct http_exchange *batch[MAX_HELD];
	int n, i;

	while (fc->nheld > keep) {
		n = fc->nheld;
		memcpy(batch, fc->held, sizeof(batch));
		fc->nheld = 0;
		for (i = n - 1; i >= keep; i--)
			http_exchange_respond(batch[i], 404, "application/json", NULL, "{}", 2);
		for (i = 0; i < keep && fc->nheld < MAX_HELD; i++)
			fc->held[fc->nheld++] = batch[i];
	}
}

/* One loop for the whole run. It is never run: a null connection has no
 * handles, and the server reads only uv_now() from it. Initialising a loop
 * per input (an epoll instance, an eventfd and a pipe, then four closes)
 * cost more than the parsing being fuzzed. */
static uv_loop_t *
fuzz_loop(void)
{
	static uv_loop_t loop;
	static int ready;

	if (!ready) {
		if (uv_loop_init(&loop) != 0)
			abort();
		ready = 1;
	}
	return &loop;
}

/* One server per set of limits for the whole run, as the collector keeps
 * one for all its connections. Creating one per input allocated its 64 KB
 * read buffer and, with a rate limit, a 256 KB bucket table, which cost
 * more than the parsing being fuzzed. Each input gets a client address of
 * its own, so it starts with a full rate bucket as on a fresh server; the
 * loop's clock never moves, so buckets do not refill between inputs. */
static struct http_server *
fuzz_server(int small_limits, struct fuzz_ctx *fc)
{
	static const struct http_limits small = {
		.max_header_bytes = 512, .max_headers = 8, .max_body_bytes = 256,
		.rate_per_client = 1000, .rate_burst = 20,
	};
	static struct http_server *srv[2];
	int i = small_limits ? 1 : 0;

	if (srv[i] == NULL &&
	    (srv[i] = http_server_new_detached(fuzz_loop(), small_limits ? &small : NULL, handler,
					       fc)) == NULL)
		abort();
	return srv[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ctx fc;
	static uint32_t client;
	struct http_server *srv;
	struct http_conn *c;
	char peer[48];
	size_t piece, off;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	memset(&fc, 0, sizeof(fc));
	fc.defer = mode & 1;
	piece = (size_t)(mode >> 2);
	srv = fuzz_server(mode & 2, &fc);
	client++;
	snprintf(peer, sizeof(peer), "2001:db8::%x:%x", (unsigned)(client >> 16),
		 (unsigned)(client & 0xffff));
	c = http_conn_new_null(srv, peer, sink, &fc);
	for (off = 0; off < size;) {
		size_t n = piece == 0 ? size : piece + 1;

		if (n > size - off)
			n = size - off;
		if (http_conn_feed(c, (const char *)data + off, n) < 0)
			break;
		off += n;
		/* Now and then let answers out mid-stream (resumes parsing). */
		if (fc.nheld >= 3)
			answer_held(&fc, 1);
	}
	/* Keep one answer past the connection's end: it must be dropped. */
	answer_held(&fc, 1);
	http_conn_free(c);
	answer_held(&fc, 0);
	/* The server is back where it started: no connection, no body held,
	 * nothing on the loop. */
	if (srv->nconns != 0 || srv->conns != NULL || srv->body_total != 0 ||
	    uv_loop_alive(fuzz_loop()))
		abort();
	return 0;
}
