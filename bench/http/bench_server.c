/* bench/http/bench_server.c - minimal handler on the collector's HTTP server, for wrk. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "collector/http_server.h"
#include "common/log.h"

/* GET answers a small JSON object; POST answers how many bytes it got. */
static void
handler(void *ctx, struct http_exchange *ex, const struct http_request *req)
{
	char body[64];
	int n;

	(void)ctx;
	if (strcmp(req->method, "POST") == 0)
		n = snprintf(body, sizeof(body), "{\"stored\":%zu}", req->body_len);
	else
		n = snprintf(body, sizeof(body), "{\"status\":\"ok\"}");
	http_exchange_respond(ex, 200, "application/json", NULL, body, (size_t)n);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct http_server *srv = s->data;

	(void)signum;
	http_server_close(srv, NULL, NULL);
	uv_close((uv_handle_t *)s, NULL);
}

int
main(int argc, char **argv)
{
	struct http_server_options opt = { .listen = argc > 1 ? argv[1] : "127.0.0.1:8099" };
	struct http_server *srv;
	uv_signal_t sig;
	char err[256];

	log_init("bench-http", 0, 0);
	if (argc > 3) {
		opt.tls_cert = argv[2];
		opt.tls_key = argv[3];
	}
	opt.limits.max_connections = 4096;
	/* Every client here is 127.0.0.1: 500 slow ones plus wrk's. */
	opt.limits.max_conns_per_source = -1;
	srv = http_server_new(uv_default_loop(), &opt, handler, NULL, err, sizeof(err));
	if (srv == NULL)
		fatalx("%s", err);
	uv_signal_init(uv_default_loop(), &sig);
	sig.data = srv;
	uv_signal_start(&sig, on_signal, SIGTERM);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	return 0;
}
