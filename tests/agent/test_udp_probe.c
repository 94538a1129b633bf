/* tests/agent/test_udp_probe.c - the UDP exchange on its own: many probes
 * in flight at once (more than one epoll batch) against an echo server on
 * loopback, each from its own socket; ICMP port unreachable; and the shared
 * epoll set closing with the last probe and opening again for the next. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "agent/udp_probe.h"

#define N_PROBES 300

struct echo {
	int fd;
	int port;
	atomic_int stop;
	pthread_t th;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	uint8_t buf[600];

	while (!atomic_load(&e->stop)) {
		struct pollfd pf = { e->fd, POLLIN, 0 };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = recvfrom(e->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(e->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void echo_start(struct echo *e)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	int big = 1 << 20;

	e->fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(e->fd, 0);
	setsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	cr_assert_eq(bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(e->fd, (struct sockaddr *)&sa, &l);
	e->port = ntohs(sa.sin_port);
	atomic_store(&e->stop, 0);
	cr_assert_eq(pthread_create(&e->th, NULL, echo_main, e), 0);
}

static void echo_stop(struct echo *e)
{
	atomic_store(&e->stop, 1);
	pthread_join(e->th, NULL);
	close(e->fd);
}

struct probe_ctx {
	uint32_t tag; /* echoed back: the reply must be this probe's own */
	int done;
	enum udp_probe_status status;
	int error;
	double rtt_ms;
	uint16_t src_port_seen;
};

static int accept_own(void *ctx, const uint8_t *pkt, size_t len)
{
	struct probe_ctx *c = ctx;
	uint32_t tag;

	if (len != sizeof(tag))
		return 0;
	memcpy(&tag, pkt, sizeof(tag));
	return tag == c->tag;
}

static void on_done(void *ctx, const struct udp_probe_result *res)
{
	struct probe_ctx *c = ctx;

	c->done++;
	c->status = res->status;
	c->error = res->error;
	c->rtt_ms = res->rtt_ms;
}

static int start(uv_loop_t *loop, int port, struct probe_ctx *c, uint64_t *dropped)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct udp_probe_opts o = { 0 };
	struct udp_probe *p;

	o.dst = (struct sockaddr *)&dst;
	o.query = (const uint8_t *)&c->tag;
	o.query_len = sizeof(c->tag);
	o.timeout_ms = 3000;
	o.accept = accept_own;
	o.done = on_done;
	o.ctx = c;
	o.dropped = dropped;
	return udp_probe_start(loop, &o, &p);
}

Test(udp_probe, many_in_flight_each_gets_its_own_reply)
{
	static struct probe_ctx c[N_PROBES];
	struct echo e;
	uv_loop_t loop;
	uint64_t dropped = 0;

	echo_start(&e);
	uv_loop_init(&loop);
	for (int round = 0; round < 2; round++) { /* the set closes, then opens again */
		memset(c, 0, sizeof(c));
		for (int i = 0; i < N_PROBES; i++) {
			c[i].tag = (uint32_t)(round * N_PROBES + i + 1);
			cr_assert_eq(start(&loop, e.port, &c[i], &dropped), 0);
		}
		uv_run(&loop, UV_RUN_DEFAULT);
		for (int i = 0; i < N_PROBES; i++) {
			cr_assert_eq(c[i].done, 1, "probe %d called back once", i);
			cr_assert_eq(c[i].status, UDP_PROBE_REPLY, "probe %d: status %d", i,
				     c[i].status);
			cr_assert_geq(c[i].rtt_ms, 0);
		}
	}
	cr_assert_eq(dropped, 0, "no reply reached another probe's socket");
	cr_assert_eq(uv_loop_close(&loop), 0, "the shared epoll set closed with the last probe");
	echo_stop(&e);
}

Test(udp_probe, closed_port_is_unreachable_by_icmp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct probe_ctx c = { .tag = 7 };
	uv_loop_t loop;
	int port;

	/* A port nobody listens on: bind one, note it, close it. */
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &l);
	port = ntohs(sa.sin_port);
	close(fd);
	uv_loop_init(&loop);
	cr_assert_eq(start(&loop, port, &c, NULL), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(c.done, 1);
	cr_assert_eq(c.status, UDP_PROBE_UNREACHABLE, "status %d", c.status);
	cr_assert_eq(c.error, ECONNREFUSED);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
