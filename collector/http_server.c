/* collector/http_server.c - HTTP server lifecycle: listen address, accept, graceful close, stats. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http_conn.h"
#include "common/log.h"

int
http_server_parse_address(const char *text, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon, *h, *end;
	char *ep;
	unsigned long port;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (text == NULL)
		return -EINVAL;
	if (text[0] == '[') {
		if ((end = strchr(text, ']')) == NULL || end[1] != ':')
			return -EINVAL;
		h = text + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		if ((colon = strrchr(text, ':')) == NULL)
			return -EINVAL;
		h = text;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host) || colon[1] == '\0')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &ep, 10);
	if (*ep != '\0' || errno != 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	if (text[0] == '[') {
		if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) != 0)
			return -EINVAL;
	} else if (strchr(host, ':') != NULL ||
		   uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) != 0) {
		return -EINVAL;
	}
	return 0;
}

static struct http_server *
server_alloc(uv_loop_t *loop, const struct http_limits *lim, http_handler_fn handler, void *ctx)
{
	struct http_server *srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	if ((srv->readbuf = malloc(HTTP_READ_CHUNK)) == NULL) {
		free(srv);
		return NULL;
	}
	srv->loop = loop;
	srv->handler = handler;
	srv->ctx = ctx;
	if (lim != NULL)
		srv->limits = *lim;
	http_limits_defaults(&srv->limits);
	if (srv->limits.rate_per_client > 0 &&
	    (srv->rate = http_limits_rate_new(srv->limits.rate_per_client,
					      srv->limits.rate_burst)) == NULL)
		goto fail;
	/* A per-source cap at or above the server-wide one would never bite. */
	if (srv->limits.max_conns_per_source > 0 &&
	    srv->limits.max_conns_per_source < srv->limits.max_connections &&
	    (srv->sources = http_limits_sources_new(srv->limits.max_connections)) == NULL)
		goto fail;
	return srv;
fail:
	http_limits_rate_free(srv->rate);
	free(srv->readbuf);
	free(srv);
	return NULL;
}

static void
server_free(struct http_server *srv)
{
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;

	if (srv->tls != NULL)
		SSL_CTX_free(srv->tls);
	http_limits_rate_free(srv->rate);
	http_limits_sources_free(srv->sources);
	free(srv->readbuf);
	free(srv);
	if (cb != NULL)
		cb(arg);
}

struct http_server *
http_server_new_detached(uv_loop_t *loop, const struct http_limits *lim, http_handler_fn handler,
			 void *ctx)
{
	return server_alloc(loop, lim, handler, ctx);
}

static void
on_connection(uv_stream_t *listener, int status)
{
	struct http_server *srv = listener->data;

	if (status < 0) {
		log_warnx("http: accept: %s", uv_strerror(status));
		return;
	}
	if (srv->closing)
		return;
	(void)http_conn_accept(srv);
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	srv->listening = false;
	if (srv->closing && srv->nconns == 0)
		server_free(srv);
	else if (!srv->closing)
		server_free(srv); /* failed start-up */
}

struct http_server *
http_server_new(uv_loop_t *loop, const struct http_server_options *opt, http_handler_fn handler,
		void *ctx, char *err, size_t errlen)
{
	struct http_server *srv;
	struct sockaddr_storage ss;
	int len = sizeof(ss), rc;

	if (opt == NULL || handler == NULL || loop == NULL) {
		snprintf(err, errlen, "no options or handler");
		return NULL;
	}
	if (http_server_parse_address(opt->listen, &ss) != 0) {
		snprintf(err, errlen, "bad listen address \"%s\" (want IPv4:port or [IPv6]:port)",
			 opt->listen != NULL ? opt->listen : "");
		return NULL;
	}
	if ((opt->tls_cert == NULL) != (opt->tls_key == NULL)) {
		snprintf(err, errlen, "TLS needs both a certificate and a key");
		return NULL;
	}
	if ((srv = server_alloc(loop, &opt->limits, handler, ctx)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (opt->tls_cert != NULL &&
	    (srv->tls = http_tls_ctx_new(opt->tls_cert, opt->tls_key, err, errlen)) == NULL) {
		server_free(srv);
		return NULL;
	}
	uv_tcp_init(loop, &srv->listener);
	srv->listener.data = srv;
	srv->listening = true;
	if ((rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection)) != 0) {
		snprintf(err, errlen, "listen on %s: %s", opt->listen, uv_strerror(rc));
		/* Freed in the close callback, which runs on the next loop
		 * iteration; a failed start-up is fatal for the caller anyway. */
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
		return NULL;
	}
	if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) == 0)
		srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	log_debug("http: listening on %s (port %d%s)", opt->listen, srv->port,
		 srv->tls != NULL ? ", TLS" : "");
	return srv;
}

int
http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void
http_server_close(struct http_server *srv, void (*cb)(void *arg), void *arg)
{
	struct http_conn *c, *next;

	if (srv->closing)
		return;
	srv->closing = true;
	srv->close_cb = cb;
	srv->close_arg = arg;
	if (srv->listening)
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next; /* c stays linked until its handles are closed */
		if (!c->closing)
			http_exchange_shutdown_conn(c);
	}
	if (!srv->listening && srv->nconns == 0)
		server_free(srv);
}

void
http_server_conn_gone(struct http_server *srv, struct http_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	srv->nconns--;
	if (srv->closing && !srv->listening && srv->nconns == 0)
		server_free(srv);
}

void
http_server_get_stats(const struct http_server *srv, struct http_server_stats *st)
{
	*st = srv->stats;
	st->connections = srv->nconns;
}

const char *
http_server_date(struct http_server *srv)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	if (now != srv->date_sec && gmtime_r(&now, &tm) != NULL) {
		/* By hand: strftime's names follow the locale, HTTP's do not. */
		snprintf(srv->date, sizeof(srv->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
			 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
			 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		srv->date_sec = now;
	}
	return srv->date;
}
