/* bench/http/baseline_server.c - bare libuv + http-parser server (no limits, no ordering), the yardstick for bench_server.c. */
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: 15\r\nConnection: keep-alive\r\n\r\n{\"status\":\"ok\"}";

struct client {
	uv_tcp_t tcp;
	http_parser parser;
	int done; /* complete requests in the current read */
};

static int
on_complete(http_parser *p)
{
	((struct client *)p->data)->done++;
	return 0;
}

static const http_parser_settings settings = { .on_message_complete = on_complete };

static void
on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	static char mem[65536]; /* one loop, one read at a time */

	(void)h;
	(void)sz;
	*buf = uv_buf_init(mem, sizeof(mem));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = s->data;
	uv_buf_t out[64];
	int i;

	if (n < 0) {
		uv_close((uv_handle_t *)s, (uv_close_cb)free);
		return;
	}
	c->done = 0;
	if (http_parser_execute(&c->parser, &settings, buf->base, (size_t)n) != (size_t)n) {
		uv_close((uv_handle_t *)s, (uv_close_cb)free);
		return;
	}
	for (i = 0; i < c->done && i < 64; i++)
		out[i] = uv_buf_init((char *)answer, sizeof(answer) - 1);
	if (i > 0)
		(void)uv_try_write(s, out, (unsigned)i);
}

static void
on_conn(uv_stream_t *srv, int status)
{
	struct client *c = calloc(1, sizeof(*c));

	(void)status;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	uv_tcp_t srv;

	uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 8098, &sin);
	uv_tcp_init(uv_default_loop(), &srv);
	if (uv_tcp_bind(&srv, (struct sockaddr *)&sin, 0) != 0 ||
	    uv_listen((uv_stream_t *)&srv, 511, on_conn) != 0)
		return 1;
	return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
