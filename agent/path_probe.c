/* agent/path_probe.c - one unprivileged trace on the libuv loop: the socket,
 * the error queue and the timer around the pure state of agent/path_trace.c.
 *
 * One UDP socket per trace, connect()ed to the destination: the kernel
 * picks the source address and port once, so every probe is the same flow
 * (Paris traceroute's point: per-flow ECMP hashes the addresses and ports,
 * so a trace with changing ports can splice hops of several paths). The TTL
 * varies per datagram through an IP_TTL / IPV6_HOPLIMIT control message,
 * and the probe is named by its payload (see agent/path_trace.c for why).
 * With IP_RECVERR / IPV6_RECVERR the ICMP errors the probes provoke are
 * queued on the socket with the sender's address: no raw socket is needed.
 *
 * libuv's uv_poll stops a handle whose descriptor reports POLLERR, which a
 * socket with queued errors does; as in agent/udp_probe.c the socket sits
 * in an epoll set of its own and uv_poll watches that set, which is only
 * ever readable. A socket error left pending by an ICMP error makes the
 * next send fail once with that error: the error queue is drained (which
 * clears it) and the send tried again. */
#include "agent/path_probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/rand_pool.h"
#include "common/log.h"

struct path_probe {
	uv_loop_t *loop;
	uv_poll_t poll;             /* on epfd */
	uv_timer_t timer;
	int fd, epfd;
	int open_handles;
	int finished;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint32_t nonce;
	path_probe_done_fn done;
	void *ctx;
	struct path_trace trace;
};

static int64_t now_ns(void)
{
	return (int64_t)uv_hrtime();
}

static void on_closed(uv_handle_t *h)
{
	struct path_probe *p = h->data;

	if (--p->open_handles > 0)
		return;
	if (p->epfd >= 0)
		close(p->epfd);
	free(p);
}

static void finish(struct path_probe *p, int cancelled)
{
	if (p->finished)
		return;
	p->finished = 1;
	uv_poll_stop(&p->poll);
	uv_timer_stop(&p->timer);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	p->done(p->ctx, &p->trace, cancelled);
	uv_close((uv_handle_t *)&p->poll, on_closed);
	uv_close((uv_handle_t *)&p->timer, on_closed);
}

/* Read every queued ICMP error into the trace. */
static void read_errqueue(struct path_probe *p)
{
	for (;;) {
		struct sockaddr_storage from;
		union {
			char buf[512];
			struct cmsghdr align;
		} cbuf;
		uint8_t data[64];
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cbuf.buf,
				    .msg_controllen = sizeof(cbuf.buf) };
		struct path_icmp_error e;
		ssize_t n = recvmsg(p->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		rc = path_icmp_decode(m.msg_control, m.msg_controllen, m.msg_name, m.msg_namelen,
				      data, (size_t)n, p->nonce, &e);
		if (rc == PATH_ICMP_MALFORMED)
			log_debug("trace: malformed error-queue message dropped");
		if (rc == 0)
			path_trace_on_error(&p->trace, now_ns(), &e);
	}
}

/* Datagrams from the destination (a service on the port): not part of the
 * trace, dropped so the socket does not stay readable. */
static void drop_datagrams(struct path_probe *p)
{
	uint8_t buf[512];

	while (recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno == EINTR)
		;
}

static int is_icmp_errno(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
	       e == ENONET || e == EACCES || e == EPROTO || e == EMSGSIZE;
}

static void send_probe(struct path_probe *p, uint16_t id, int ttl)
{
	uint8_t payload[PATH_PAYLOAD_LEN];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { payload, sizeof(payload) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			    .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int v6 = p->dst.ss_family == AF_INET6;

	path_payload_encode(payload, p->nonce, id, (uint8_t)ttl);
	memset(&cbuf, 0, sizeof(cbuf));
	c->cmsg_level = v6 ? SOL_IPV6 : SOL_IP;
	c->cmsg_type = v6 ? IPV6_HOPLIMIT : IP_TTL;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &ttl, sizeof(int));
	for (int tries = 0; tries < 2; tries++) {
		if (sendmsg(p->fd, &m, 0) >= 0)
			return;
		if (errno == EINTR)
			continue;
		if (tries > 0 || !is_icmp_errno(errno))
			break;
		/* Possibly an earlier ICMP error left on the socket: reading
		 * the queue clears it; a second failure is a local one. */
		read_errqueue(p);
		if (p->trace.status != PATH_TRACE_RUNNING ||
		    p->trace.probes[id].state != PROBE_IN_FLIGHT)
			return;
	}
	log_debug("trace: probe TTL %d not sent: %s", ttl, strerror(errno));
	path_trace_send_failed(&p->trace, id, errno);
}

static void on_timer(uv_timer_t *t);

/* Advance the trace: expire, send what may be sent, finish or re-arm. */
static void pump(struct path_probe *p)
{
	int64_t now = now_ns(), dl;
	uint16_t id;
	int ttl;

	if (p->finished)
		return;
	path_trace_expire(&p->trace, now);
	while (path_trace_next(&p->trace, now, &id, &ttl))
		send_probe(p, id, ttl);
	if (path_trace_finish(&p->trace)) {
		finish(p, 0);
		return;
	}
	/* Not over: something is in flight (a full window), so a deadline exists. */
	dl = path_trace_deadline(&p->trace);
	uv_timer_start(&p->timer, on_timer,
		       dl < 0 ? 100 : dl <= now ? 0 : (uint64_t)((dl - now + 999999) / 1000000), 0);
}

static void on_timer(uv_timer_t *t)
{
	pump(t->data);
}

static void on_ready(uv_poll_t *h, int status, int events)
{
	struct path_probe *p = h->data;
	struct epoll_event ev[4];

	(void)status;
	(void)events;
	/* Level-triggered: reading the socket below is what clears it. */
	(void)epoll_wait(p->epfd, ev, 4, 0);
	if (p->finished)
		return;
	read_errqueue(p);
	drop_datagrams(p);
	pump(p);
}

static int open_socket(struct path_probe *p)
{
	int on = 1, v6 = p->dst.ss_family == AF_INET6;
	struct epoll_event ev = { .events = EPOLLIN };

	p->fd = socket(p->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	if (setsockopt(p->fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &on,
		       sizeof(on)) < 0)
		return -errno;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0)
		return -errno;
	ev.data.fd = p->fd;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0)
		return -errno;
	/* The flow: source address and port fixed here for the whole trace.
	 * A route lookup that fails is the trace's result, not a start error. */
	if (connect(p->fd, (struct sockaddr *)&p->dst, p->dst_len) < 0) {
		p->trace.status = PATH_TRACE_SEND_ERROR;
		p->trace.send_error = errno;
	}
	return 0;
}

int path_probe_start(uv_loop_t *loop, const struct path_probe_opts *o, struct path_probe **out)
{
	struct path_probe *p;
	int rc;

	if (o->dst == NULL || o->done == NULL ||
	    (o->dst->sa_family != AF_INET && o->dst->sa_family != AF_INET6))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->fd = p->epfd = -1;
	p->done = o->done;
	p->ctx = o->ctx;
	p->dst_len = o->dst->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6);
	memcpy(&p->dst, o->dst, p->dst_len);
	if (p->dst.ss_family == AF_INET && ((struct sockaddr_in *)&p->dst)->sin_port == 0)
		((struct sockaddr_in *)&p->dst)->sin_port = htons(PATH_PROBE_DEFAULT_PORT);
	if (p->dst.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&p->dst)->sin6_port == 0)
		((struct sockaddr_in6 *)&p->dst)->sin6_port = htons(PATH_PROBE_DEFAULT_PORT);
	path_trace_init(&p->trace, &o->trace);
	p->nonce = rand_pool_u32();
	if ((rc = open_socket(p)) < 0)
		goto fail;
	if ((rc = uv_poll_init(loop, &p->poll, p->epfd)) < 0)
		goto fail;
	p->poll.data = p;
	p->open_handles++;
	if ((rc = uv_timer_init(loop, &p->timer)) < 0)
		goto fail_handles;
	p->timer.data = p;
	p->open_handles++;
	if ((rc = uv_poll_start(&p->poll, UV_READABLE, on_ready)) < 0)
		goto fail_handles;
	/* The first probes leave from the loop, never inside this call. */
	if ((rc = uv_timer_start(&p->timer, on_timer, 0, 0)) < 0)
		goto fail_handles;
	*out = p;
	return 0;
fail_handles:
	/* Never call back after a failed start: release silently. */
	p->finished = 1;
	if (p->fd >= 0)
		close(p->fd);
	uv_close((uv_handle_t *)&p->poll, on_closed);
	if (p->open_handles > 1)
		uv_close((uv_handle_t *)&p->timer, on_closed);
	return rc;
fail:
	if (p->fd >= 0)
		close(p->fd);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p);
	return rc;
}

void path_probe_cancel(struct path_probe *p)
{
	finish(p, 1);
}
