/* collector/http_conn.c - HTTP connection transport: reads, corked writes, timeouts, lingering close. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http_conn.h"
#include "common/log.h"

struct wreq {
	uv_write_t req;
	struct http_conn *conn;
	char *mem;
};

/* Complete answers for a connection refused at accept: the server-wide cap
 * and the per-source cap. Content-Length is the body's length. */
#define BUSY_HEAD(len)                                                                   \
	"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"          \
	"Content-Length: " #len "\r\nConnection: close\r\n\r\n"
static const char busy_answer[] =
	BUSY_HEAD(32) "{\"error\":\"too many connections\"}";
static const char source_busy_answer[] =
	BUSY_HEAD(50) "{\"error\":\"too many connections from this address\"}";

static void on_close(uv_handle_t *h);

static uint64_t
now_ms(const struct http_conn *c)
{
	return c->srv->loop != NULL ? uv_now(c->srv->loop) : 0;
}

size_t
http_conn_backlog(const struct http_conn *c)
{
	size_t n = c->out.len;

	if (c->kind == HTTP_CONN_TCP)
		n += uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
	return n;
}

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *w = req->data;
	struct http_conn *c = w->conn;

	free(w->mem);
	free(w);
	c->writes_pending--;
	if (c->closing)
		return;
	if (status < 0) {
		log_debug("http: %s: write: %s", c->peer, uv_strerror(status));
		http_conn_close(c);
		return;
	}
	c->last_activity = now_ms(c);
	if (c->paused)
		http_exchange_flush(c); /* may resume parsing, then updates */
	else
		http_conn_update(c);
}

int
http_conn_write_raw(struct http_conn *c, char *mem, size_t len)
{
	struct wreq *w;
	uv_buf_t buf;
	int n = 0, rc;

	if (c->closing) {
		free(mem);
		return -ENOTCONN;
	}
	if (c->kind == HTTP_CONN_NULL) {
		if (c->sink != NULL)
			c->sink(c->sink_arg, mem, len);
		free(mem);
		return 0;
	}
	buf = uv_buf_init(mem, (unsigned int)len);
	if (c->writes_pending == 0) {
		/* Most answers fit the socket buffer: no request, no copy. */
		n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
		if (n == (int)len) {
			free(mem);
			return 0;
		}
		if (n < 0 && n != UV_EAGAIN) {
			free(mem);
			log_debug("http: %s: write: %s", c->peer, uv_strerror(n));
			http_conn_close(c);
			return n;
		}
		if (n < 0)
			n = 0;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		free(mem);
		http_conn_close(c);
		return -ENOMEM;
	}
	w->conn = c;
	w->mem = mem;
	w->req.data = w;
	buf = uv_buf_init(mem + n, (unsigned int)(len - (size_t)n));
	if ((rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write)) != 0) {
		free(mem);
		free(w);
		http_conn_close(c);
		return rc;
	}
	c->writes_pending++;
	return 0;
}

int
http_conn_send(struct http_conn *c, const char *data, size_t len)
{
	if (c->closing)
		return -ENOTCONN;
	/* Bounded by the callers: reading pauses past HTTP_MAX_WRITE_QUEUE,
	 * and each answer is bounded by what the handler gives. */
	return http_limits_buf_append(&c->out, data, len, SIZE_MAX / 2);
}

/* Move corked plaintext to the socket. */
static int
push(struct http_conn *c)
{
	char *mem;
	size_t len;
	int rc;

	if (c->out.len == 0)
		return 0;
	if (c->ssl != NULL) {
		rc = http_tls_send(c, c->out.data, c->out.len);
		c->out.len = 0;
		if (c->out.cap > 65536)
			http_limits_buf_free(&c->out);
		return rc;
	}
	mem = c->out.data;
	len = c->out.len;
	memset(&c->out, 0, sizeof(c->out));
	return http_conn_write_raw(c, mem, len);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->data;

	free(req);
	if (c->closing)
		return;
	if (status < 0 || c->eof || c->srv->closing) {
		/* Shutting down: no lingering, the answers are out already. */
		http_conn_close(c);
		return;
	}
	/* Keep reading (and discarding) a little, so that unread request
	 * bytes do not make the kernel reset the connection before the
	 * client has read our answer. */
	c->lingering = true;
	c->request_start = uv_now(c->srv->loop); /* linger from now, whatever arrives */
	http_conn_update(c);
}

static void
start_shutdown(struct http_conn *c)
{
	uv_shutdown_t *req;

	c->shut = true;
	if (c->ssl != NULL) {
		http_tls_shutdown(c);
		if (c->closing)
			return;
	}
	if ((req = malloc(sizeof(*req))) == NULL) {
		http_conn_close(c);
		return;
	}
	req->data = c;
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		free(req);
		http_conn_close(c);
	}
}

static void
on_timer(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	struct http_server *srv = c->srv;

	c->deadline = 0;
	if (c->closing)
		return;
	if (c->lingering || c->shut) {
		http_conn_close(c);
		return;
	}
	if (c->cur != NULL) {
		/* A request that takes too long to arrive: a slow or stuck
		 * client must not hold a connection slot for ever. */
		srv->stats.timeouts++;
		log_debug("http: %s: request timeout", c->peer);
		(void)http_exchange_fail_current(c, 408, "request timeout");
		http_exchange_flush(c); /* after any earlier answers */
		return;
	}
	if (c->requests_seen == 0)
		srv->stats.timeouts++;
	log_debug("http: %s: idle timeout", c->peer);
	http_conn_close(c);
}

static void
arm_timer(struct http_conn *c)
{
	const struct http_limits *lim = &c->srv->limits;
	uint64_t deadline = 0, now;

	if (c->kind != HTTP_CONN_TCP)
		return;
	if (c->lingering)
		deadline = c->request_start + HTTP_LINGER_MS;
	else if (c->shut)
		deadline = c->last_activity + (uint64_t)lim->idle_timeout_ms;
	else if (c->cur != NULL)
		deadline = c->request_start + (uint64_t)lim->request_timeout_ms;
	else if (c->head == NULL && c->requests_seen == 0)
		deadline = c->created + (uint64_t)lim->request_timeout_ms;
	else if (c->head == NULL || c->writes_pending > 0)
		deadline = c->last_activity + (uint64_t)lim->idle_timeout_ms;
	if (deadline == c->deadline)
		return;
	c->deadline = deadline;
	if (deadline == 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	now = uv_now(c->srv->loop);
	uv_timer_start(&c->timer, on_timer, deadline > now ? deadline - now : 0, 0);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct http_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->srv->readbuf, HTTP_READ_CHUNK);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;
	int rc;

	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		c->eof = true;
		uv_read_stop(s);
		c->reading = false;
		/* A client that half-closes after its requests still gets
		 * the answers; one that leaves mid-request does not, nor one
		 * that leaves a stream (which never ends by itself: waiting for
		 * a write to fail would hold its slot until the next ping). */
		if (nread != UV_EOF || c->lingering || c->cur != NULL || c->head == NULL ||
		    (c->head->streaming && !c->head->stream_ended)) {
			http_conn_close(c);
			return;
		}
		c->no_more = true;
		c->close_after = true;
		http_exchange_flush(c);
		return;
	}
	c->last_activity = uv_now(c->srv->loop);
	if (c->lingering)
		return; /* discard */
	if (c->ssl == NULL) {
		(void)http_conn_feed(c, buf->base, (size_t)nread);
		return;
	}
	if ((rc = http_tls_input(c, buf->base, (size_t)nread)) < 0) {
		if (!c->closing)
			(void)http_tls_flush(c); /* the alert, if any */
		http_conn_close(c);
		return;
	}
	http_exchange_flush(c);
}

int
http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
	int rc = http_parse_input(c, data, len);

	if (rc < 0)
		http_conn_close(c);
	else if (!c->in_feed)
		http_exchange_flush(c); /* answers the parser made itself (4xx) */
	return rc;
}

void
http_conn_update(struct http_conn *c)
{
	bool want;

	if (c->closing)
		return;
	if (push(c) < 0 || c->closing)
		return;
	if (c->ssl != NULL && !c->paused && !c->in_feed && !c->no_more &&
	    (SSL_pending(c->ssl) > 0 || BIO_ctrl_pending(c->rbio) > 0)) {
		if (http_tls_pump(c) < 0) {
			http_conn_close(c);
			return;
		}
		if (c->closing || push(c) < 0 || c->closing)
			return;
	}
	if (c->close_after && c->head == NULL && !c->in_feed) {
		if (c->kind == HTTP_CONN_NULL) {
			http_conn_close(c);
			return;
		}
		if (!c->shut)
			start_shutdown(c);
		if (c->closing)
			return;
	}
	if (c->kind != HTTP_CONN_TCP)
		return;
	want = !c->eof && (c->lingering || (!c->paused && !c->no_more &&
			   http_conn_backlog(c) < HTTP_MAX_WRITE_QUEUE));
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	arm_timer(c);
}

static void
conn_init(struct http_conn *c, struct http_server *srv)
{
	c->srv = srv;
	c->created = c->last_activity = srv->loop != NULL ? uv_now(srv->loop) : 0;
	http_parse_conn_init(c);
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
}

/* Cheap for plain HTTP: one non-blocking write of a whole answer; TLS
 * clients only see the close. */
static void
send_busy(struct http_server *srv, uv_tcp_t *tcp, const char *answer, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)answer, (unsigned int)len);

	if (srv->tls == NULL)
		(void)uv_try_write((uv_stream_t *)tcp, &b, 1);
	srv->stats.responses_5xx++;
}

static void
reject_busy(struct http_server *srv, uv_tcp_t *tcp)
{
	send_busy(srv, tcp, busy_answer, sizeof(busy_answer) - 1);
	srv->stats.rejected_limit++;
	uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
}

static void
set_peer(struct http_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	const char *p;

	snprintf(c->peer, sizeof(c->peer), "?");
	snprintf(c->rate_key, sizeof(c->rate_key), "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	c->has_source = http_limits_source_key((struct sockaddr *)&ss, c->source) == 0;
	if (ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
	else if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
	snprintf(c->rate_key, sizeof(c->rate_key), "%s", c->peer);
	if (strncmp(c->peer, "::ffff:", 7) == 0 && strchr(c->peer + 7, '.') != NULL) {
		/* One bucket per client whichever family it came in on. */
		p = c->peer + 7;
		memmove(c->peer, p, strlen(p) + 1);
		snprintf(c->rate_key, sizeof(c->rate_key), "%s", c->peer);
	} else if (ss.ss_family == AF_INET6) {
		/* An IPv6 client owns at least a /64: one bucket for all of it. */
		memset(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr + 8, 0, 8);
		uv_ip6_name((struct sockaddr_in6 *)&ss, c->rate_key, sizeof(c->rate_key));
	}
}

struct http_conn *
http_conn_accept(struct http_server *srv)
{
	struct http_conn *c;
	uv_tcp_t *tcp;
	int rc;

	if (srv->nconns >= srv->limits.max_connections) {
		if ((tcp = malloc(sizeof(*tcp))) == NULL)
			return NULL;
		uv_tcp_init(srv->loop, tcp);
		if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)tcp) == 0)
			reject_busy(srv, tcp);
		else
			uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->kind = HTTP_CONN_TCP;
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles_open = 2;
	c->srv = srv;
	if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_close);
		uv_close((uv_handle_t *)&c->timer, on_close);
		return NULL;
	}
	set_peer(c);
	if (srv->sources != NULL && c->has_source) {
		/* One address holding many connections (idle or slow) must not
		 * take the slots the agents need. -ENOSPC cannot happen with
		 * the table sized for max_connections; the server-wide cap
		 * still holds if it did. */
		rc = http_limits_source_add(srv->sources, c->source,
					    srv->limits.max_conns_per_source);
		if (rc == -EBUSY) {
			log_debug("http: %s: over %d connections from this source", c->peer,
				  srv->limits.max_conns_per_source);
			send_busy(srv, &c->tcp, source_busy_answer, sizeof(source_busy_answer) - 1);
			srv->stats.rejected_source++;
			c->closing = true; /* never linked: on_close frees it */
			uv_close((uv_handle_t *)&c->tcp, on_close);
			uv_close((uv_handle_t *)&c->timer, on_close);
			return NULL;
		}
		c->source_counted = rc > 0;
	}
	conn_init(c, srv);
	(void)uv_tcp_nodelay(&c->tcp, 1);
	if (srv->tls != NULL && http_tls_conn_init(c, srv->tls) != 0) {
		http_conn_close(c);
		return NULL;
	}
	http_conn_update(c);
	return c;
}

struct http_conn *
http_conn_new_null(struct http_server *srv, const char *peer, http_sink_fn sink, void *sink_arg)
{
	struct http_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->kind = HTTP_CONN_NULL;
	c->sink = sink;
	c->sink_arg = sink_arg;
	snprintf(c->peer, sizeof(c->peer), "%s", peer != NULL ? peer : "0.0.0.0");
	snprintf(c->rate_key, sizeof(c->rate_key), "%s", c->peer);
	conn_init(c, srv);
	return c;
}

static void
release(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->ssl != NULL)
		SSL_free(c->ssl); /* frees both BIOs */
	if (c->source_counted)
		http_limits_source_remove(srv->sources, c->source);
	http_limits_buf_free(&c->stash);
	http_limits_buf_free(&c->url);
	http_limits_buf_free(&c->out);
	http_server_conn_gone(srv, c);
	free(c);
}

static void
on_close(uv_handle_t *h)
{
	struct http_conn *c = h->data;

	if (--c->handles_open == 0) {
		if (c->prev != NULL || c->next != NULL || c->srv->conns == c)
			release(c);
		else
			free(c); /* never linked: failed accept */
	}
}

void
http_conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	http_exchange_detach_all(c);
	if (c->kind != HTTP_CONN_TCP)
		return;
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->timer, on_close);
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

void
http_conn_free(struct http_conn *c)
{
	if (c->kind != HTTP_CONN_NULL)
		return;
	http_conn_close(c);
	release(c);
}
