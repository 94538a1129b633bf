/* agent/trace_run.c - `anycast-agent --trace ADDRESS`: parse the address,
 * run one path probe (agent/path_probe.c) on a loop of its own, print it
 * (agent/path_output.c). */
#include "agent/trace_run.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "agent/path_output.h"
#include "agent/path_probe.h"
#include "common/log.h"

struct trace_cli {
	const struct trace_run_opts *o;
	const struct sockaddr *dst;
	int status;
};

static void on_trace(void *ctx, const struct path_trace *t, int cancelled)
{
	struct trace_cli *c = ctx;
	int rc;

	(void)cancelled;
	rc = c->o->json ? path_output_json(stdout, c->dst, t) : path_output_text(stdout, c->dst, t);
	if (rc < 0)
		log_warnx("stdout: %s", strerror(-rc));
	c->status = t->status == PATH_TRACE_REACHED && rc == 0 ? 0 : 1;
}

static int parse_address(const char *s, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

int trace_run(const struct trace_run_opts *o)
{
	struct sockaddr_storage dst;
	struct trace_cli c = { .o = o, .status = 1 };
	struct path_probe_opts po = { 0 };
	struct path_probe *p;
	uv_loop_t loop;
	int rc;

	if (o->port < 0 || o->port > 65535 ||
	    parse_address(o->address, o->port ? o->port : PATH_PROBE_DEFAULT_PORT, &dst) < 0) {
		fprintf(stderr, "anycast-agent: --trace %s: not a numeric IPv4 or IPv6 address\n",
			o->address);
		return 2;
	}
	c.dst = (const struct sockaddr *)&dst;
	if ((rc = uv_loop_init(&loop)) < 0)
		fatalx("uv_loop_init: %s", uv_strerror(rc));
	po.dst = c.dst;
	po.trace = o->trace;
	po.done = on_trace;
	po.ctx = &c;
	rc = path_probe_start(&loop, &po, &p);
	if (rc < 0) {
		fprintf(stderr, "anycast-agent: --trace %s: %s\n", o->address, strerror(-rc));
		uv_loop_close(&loop);
		return 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return c.status;
}
