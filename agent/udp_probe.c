/* agent/udp_probe.c - one query/reply exchange on the libuv loop: UDP from a
 * fresh socket (kernel-chosen random source port) or TCP with the DNS 2-byte
 * length prefix, with a timeout, ICMP errors read from the socket error queue
 * (IP_RECVERR/IPV6_RECVERR) and kernel receive timestamps (SO_TIMESTAMPNS).
 *
 * UDP sockets are not libuv handles: all probes of a loop share one epoll
 * set, itself watched by a single uv_poll, so that a probe costs socket, two
 * setsockopt, one epoll_ctl, sendto, recvmsg and close (close drops the
 * socket from the set) and the readiness of many probes arrives in one
 * epoll_wait. The error queue is read only when epoll reports EPOLLERR or a
 * receive fails with an ICMP-reported errno. */
#include "agent/udp_probe.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define TCP_MAX_REPLY 65537 /* 2-byte length + 65535 */

#define EPOLL_BATCH 64

/* The epoll set of one loop's UDP probes, alive while a probe uses it. */
struct udp_set {
	uv_loop_t *loop;
	uv_poll_t poll;             /* on epfd */
	int epfd;
	int users;                  /* UDP probes with a socket in the set */
	struct udp_probe **by_fd;   /* socket -> its probe, NULL when none */
	int n_by_fd;
	struct udp_set *next;
};

static _Thread_local struct udp_set *sets; /* open sets, one per loop of this thread */

struct udp_probe {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct udp_set *set;        /* UDP: the set holding fd */
	int fd;                     /* UDP socket, closed when the probe finishes */
	int is_tcp;
	int open_handles;
	int finished;
	int pending_status;         /* send failed: report this from the timer */
	int pending_error;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint8_t query[UDP_PROBE_MAX_QUERY + 2];
	size_t query_len;
	int64_t timeout_ms;
	int64_t sent_mono_ns, sent_real_ns;
	udp_probe_accept_fn accept;
	udp_probe_done_fn done;
	void *ctx;
	uint64_t *dropped;
	uv_connect_t connect_req;
	uv_write_t write_req;
	uint8_t *tcp_buf;           /* TCP reply being assembled, at most TCP_MAX_REPLY */
	size_t tcp_len;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_set_closed(uv_handle_t *h)
{
	struct udp_set *set = h->data;

	close(set->epfd);
	free(set->by_fd);
	free(set);
}

static void set_unref(struct udp_set *set)
{
	struct udp_set **pp;

	if (--set->users > 0)
		return;
	for (pp = &sets; *pp; pp = &(*pp)->next)
		if (*pp == set) {
			*pp = set->next;
			break;
		}
	uv_poll_stop(&set->poll);
	uv_close((uv_handle_t *)&set->poll, on_set_closed);
}

/* The probe leaves the set; the last one out closes it. */
static void set_release(struct udp_probe *p)
{
	struct udp_set *set = p->set;

	if (set == NULL)
		return;
	p->set = NULL;
	if (p->fd >= 0 && p->fd < set->n_by_fd)
		set->by_fd[p->fd] = NULL;
	if (p->fd >= 0) {
		close(p->fd); /* also leaves the epoll set: never duplicated */
		p->fd = -1;
	}
	set_unref(set);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct udp_probe *p = h->data;

	if (--p->open_handles == 0) {
		free(p->tcp_buf);
		free(p);
	}
}

/* Report once, then release the handles; memory goes in the close callbacks. */
static void finish(struct udp_probe *p, struct udp_probe_result *res)
{
	if (p->finished)
		return;
	p->finished = 1;
	res->sent_real_ns = p->sent_real_ns;
	uv_timer_stop(&p->timer);
	if (p->is_tcp)
		uv_read_stop((uv_stream_t *)&p->tcp);
	else
		set_release(p);
	p->done(p->ctx, res);
	uv_close((uv_handle_t *)&p->timer, on_handle_closed);
	if (p->is_tcp)
		uv_close((uv_handle_t *)&p->tcp, on_handle_closed);
}

static void finish_status(struct udp_probe *p, enum udp_probe_status st, int error)
{
	struct udp_probe_result res = { .status = st, .error = error, .rtt_ms = -1 };

	finish(p, &res);
}

static void finish_reply(struct udp_probe *p, const uint8_t *data, size_t len, int64_t kernel_real)
{
	struct udp_probe_result res = { .status = UDP_PROBE_REPLY, .data = data, .len = len };
	int64_t now_mono = clock_ns(CLOCK_MONOTONIC), now_real = clock_ns(CLOCK_REALTIME);
	int64_t elapsed = now_mono - p->sent_mono_ns, queued = 0;

	/* The kernel stamped arrival on the wall clock: subtract the time the
	 * packet waited for us from the monotonic elapsed time, so a clock step
	 * cannot distort the RTT by more than the queueing delay. */
	if (kernel_real > 0) {
		queued = now_real - kernel_real;
		if (queued < 0)
			queued = 0;
		if (queued > elapsed)
			queued = elapsed;
	}
	res.rtt_ms = (double)(elapsed - queued) / 1e6;
	res.recv_real_ns = kernel_real > 0 ? kernel_real : now_real;
	finish(p, &res);
}

static void on_timeout(uv_timer_t *t)
{
	struct udp_probe *p = t->data;

	if (p->pending_status)
		finish_status(p, (enum udp_probe_status)p->pending_status, p->pending_error);
	else
		finish_status(p, UDP_PROBE_TIMEOUT, 0);
}

static int same_endpoint(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

static int is_unreachable_errno(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EACCES ||
	       e == EHOSTDOWN || e == ENONET;
}

/* Drain the error queue. Returns 1 when an ICMP error about our
 * destination ended the probe. */
static int read_errqueue(struct udp_probe *p)
{
	for (;;) {
		struct sockaddr_storage from;
		char cbuf[512];
		uint8_t dummy[64];
		struct iovec iov = { dummy, sizeof(dummy) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };

		if (recvmsg(p->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			const struct sock_extended_err *ee;

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (const void *)CMSG_DATA(c);
			if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			/* msg_name holds the destination of the datagram the
			 * ICMP error quotes: it must be ours. */
			if (!same_endpoint(&p->dst, (const struct sockaddr *)&from)) {
				if (p->dropped)
					(*p->dropped)++;
				continue;
			}
			if (is_unreachable_errno((int)ee->ee_errno)) {
				finish_status(p, UDP_PROBE_UNREACHABLE, (int)ee->ee_errno);
				return 1;
			}
		}
	}
}

static void read_datagrams(struct udp_probe *p)
{
	uint8_t buf[65536];

	while (!p->finished) {
		struct sockaddr_storage from;
		char cbuf[256];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		int64_t kernel_real = 0;
		ssize_t n = recvmsg(p->fd, &m, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			/* A pending ICMP error surfaces here first: the
			 * details are in the error queue. */
			if (is_unreachable_errno(errno) && read_errqueue(p))
				return;
			continue;
		}
		if (!same_endpoint(&p->dst, (const struct sockaddr *)&from) ||
		    (m.msg_flags & MSG_TRUNC)) {
			if (p->dropped)
				(*p->dropped)++;
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				kernel_real = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
			}
		}
		if (p->accept(p->ctx, buf, (size_t)n)) {
			finish_reply(p, buf, (size_t)n, kernel_real);
			return;
		}
		if (p->dropped)
			(*p->dropped)++;
	}
}

static void on_set_ready(uv_poll_t *h, int status, int events)
{
	struct udp_set *set = h->data;
	struct epoll_event ev[EPOLL_BATCH];
	int n;

	(void)status;
	(void)events;
	/* Hold the set: a probe finishing here may be its last user. */
	set->users++;
	n = epoll_wait(set->epfd, ev, EPOLL_BATCH, 0);
	for (int i = 0; i < n; i++) {
		int fd = ev[i].data.fd;
		struct udp_probe *p = fd >= 0 && fd < set->n_by_fd ? set->by_fd[fd] : NULL;

		/* A probe finished earlier in this batch may have closed the
		 * socket and a new probe opened one with the same number: its
		 * readiness then proves nothing, and recvmsg says EAGAIN. */
		if (p == NULL || p->finished)
			continue;
		if ((ev[i].events & EPOLLERR) && read_errqueue(p))
			continue;
		read_datagrams(p);
	}
	set_unref(set);
}

/* The loop's set, opened when needed; NULL and errno when it cannot be. */
static struct udp_set *set_get(uv_loop_t *loop)
{
	struct udp_set *set;
	int rc;

	for (set = sets; set; set = set->next)
		if (set->loop == loop)
			return set;
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return NULL;
	set->loop = loop;
	set->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (set->epfd < 0) {
		rc = errno;
		free(set);
		errno = rc;
		return NULL;
	}
	set->poll.data = set;
	rc = uv_poll_init(loop, &set->poll, set->epfd);
	if (rc < 0) {
		close(set->epfd);
		free(set);
		errno = -rc;
		return NULL;
	}
	rc = uv_poll_start(&set->poll, UV_READABLE, on_set_ready);
	if (rc < 0) {
		set->users = 1;
		set_unref(set);
		errno = -rc;
		return NULL;
	}
	set->next = sets;
	sets = set;
	return set;
}

/* Put p's socket in its loop's set. */
static int set_add(struct udp_probe *p)
{
	struct udp_set *set = set_get(p->loop);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = p->fd };
	int e;

	if (set == NULL)
		return -errno;
	set->users++; /* p's reference, dropped by set_release() */
	if (p->fd >= set->n_by_fd) {
		int n = set->n_by_fd ? set->n_by_fd : 64;
		struct udp_probe **b;

		while (n <= p->fd)
			n *= 2;
		b = realloc(set->by_fd, (size_t)n * sizeof(*b));
		if (b == NULL) {
			e = ENOMEM;
			goto fail;
		}
		memset(b + set->n_by_fd, 0, (size_t)(n - set->n_by_fd) * sizeof(*b));
		set->by_fd = b;
		set->n_by_fd = n;
	}
	if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0) {
		e = errno;
		goto fail;
	}
	set->by_fd[p->fd] = p;
	p->set = set;
	return 0;
fail:
	set_unref(set);
	return -e;
}

static int start_udp(struct udp_probe *p)
{
	int on = 1, rc;
	int v6 = p->dst.ss_family == AF_INET6;

	p->fd = socket(p->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	if (setsockopt(p->fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &on,
		       sizeof(on)) < 0 ||
	    setsockopt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) {
		rc = -errno;
		close(p->fd);
		return rc;
	}
	rc = set_add(p);
	if (rc < 0) {
		close(p->fd);
		p->fd = -1;
		return rc;
	}
	p->sent_mono_ns = clock_ns(CLOCK_MONOTONIC);
	p->sent_real_ns = clock_ns(CLOCK_REALTIME);
	if (sendto(p->fd, p->query, p->query_len, 0, (struct sockaddr *)&p->dst, p->dst_len) < 0) {
		/* No route, or an error the kernel already knows: report it
		 * through the callback, as for an ICMP error. */
		p->pending_error = errno;
		p->pending_status = is_unreachable_errno(errno) ? UDP_PROBE_UNREACHABLE
								 : UDP_PROBE_ERROR;
	}
	return 0;
}

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct udp_probe *p = h->data;

	(void)suggested;
	if (p->tcp_buf == NULL)
		p->tcp_buf = malloc(TCP_MAX_REPLY);
	if (p->tcp_buf == NULL || p->tcp_len >= TCP_MAX_REPLY) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init((char *)p->tcp_buf + p->tcp_len, (unsigned)(TCP_MAX_REPLY - p->tcp_len));
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct udp_probe *p = s->data;
	size_t want;

	(void)buf;
	if (p->finished)
		return;
	if (n < 0) {
		finish_status(p, n == UV_ENOBUFS ? UDP_PROBE_ERROR : UDP_PROBE_TIMEOUT,
			      n == UV_ENOBUFS ? ENOMEM : 0);
		return;
	}
	p->tcp_len += (size_t)n;
	if (p->tcp_len < 2)
		return;
	want = (size_t)(p->tcp_buf[0] << 8 | p->tcp_buf[1]);
	if (p->tcp_len < want + 2)
		return;
	if (p->accept(p->ctx, p->tcp_buf + 2, want)) {
		finish_reply(p, p->tcp_buf + 2, want, 0);
		return;
	}
	/* One query per connection: anything else ends it. */
	if (p->dropped)
		(*p->dropped)++;
	finish_status(p, UDP_PROBE_TIMEOUT, 0);
}

static void on_tcp_write(uv_write_t *req, int status)
{
	struct udp_probe *p = req->data;

	if (status < 0 && !p->finished)
		finish_status(p, UDP_PROBE_ERROR, -status);
}

static void on_tcp_connect(uv_connect_t *req, int status)
{
	struct udp_probe *p = req->data;
	uv_buf_t b = uv_buf_init((char *)p->query, (unsigned)p->query_len);
	int rc;

	if (p->finished)
		return;
	if (status < 0) {
		finish_status(p, is_unreachable_errno(-status) ? UDP_PROBE_UNREACHABLE
							       : UDP_PROBE_ERROR, -status);
		return;
	}
	p->write_req.data = p;
	rc = uv_write(&p->write_req, (uv_stream_t *)&p->tcp, &b, 1, on_tcp_write);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&p->tcp, on_tcp_alloc, on_tcp_read);
	if (rc < 0)
		finish_status(p, UDP_PROBE_ERROR, -rc);
}

static int start_tcp(struct udp_probe *p)
{
	int rc = uv_tcp_init(p->loop, &p->tcp);

	if (rc < 0)
		return rc;
	p->tcp.data = p;
	p->open_handles++;
	/* The 2-byte length prefix goes in front of the query. */
	memmove(p->query + 2, p->query, p->query_len);
	p->query[0] = (uint8_t)(p->query_len >> 8);
	p->query[1] = (uint8_t)p->query_len;
	p->query_len += 2;
	p->connect_req.data = p;
	p->sent_mono_ns = clock_ns(CLOCK_MONOTONIC);
	p->sent_real_ns = clock_ns(CLOCK_REALTIME);
	return uv_tcp_connect(&p->connect_req, &p->tcp, (struct sockaddr *)&p->dst,
			      on_tcp_connect);
}

int udp_probe_start(uv_loop_t *loop, const struct udp_probe_opts *o, struct udp_probe **out)
{
	struct udp_probe *p;
	int rc;

	if (o->dst == NULL || o->query_len == 0 || o->query_len > UDP_PROBE_MAX_QUERY ||
	    o->accept == NULL || o->done == NULL ||
	    (o->dst->sa_family != AF_INET && o->dst->sa_family != AF_INET6))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->fd = -1;
	p->is_tcp = o->tcp;
	p->dst_len = o->dst->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6);
	memcpy(&p->dst, o->dst, p->dst_len);
	memcpy(p->query, o->query, o->query_len);
	p->query_len = o->query_len;
	p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	p->accept = o->accept;
	p->done = o->done;
	p->ctx = o->ctx;
	p->dropped = o->dropped;
	rc = uv_timer_init(loop, &p->timer);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p->timer.data = p;
	p->open_handles = 1;
	rc = p->is_tcp ? start_tcp(p) : start_udp(p);
	if (rc == 0)
		rc = uv_timer_start(&p->timer, on_timeout,
				    p->pending_status ? 0 : (uint64_t)p->timeout_ms, 0);
	if (rc < 0) {
		/* Never call back after a failed start: release silently. */
		p->finished = 1;
		set_release(p);
		uv_close((uv_handle_t *)&p->timer, on_handle_closed);
		if (p->is_tcp && p->open_handles > 1)
			uv_close((uv_handle_t *)&p->tcp, on_handle_closed);
		return rc;
	}
	*out = p;
	return 0;
}

void udp_probe_cancel(struct udp_probe *p)
{
	finish_status(p, UDP_PROBE_CANCELLED, 0);
}
