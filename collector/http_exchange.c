/* collector/http_exchange.c - HTTP/1.1 request parsing (http-parser) and in-order answers per connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/http_conn.h"
#include "common/log.h"

#define STREAM_MAX_BUFFER (1u << 20)

struct http_exchange {
	struct http_conn *conn;   /* NULL once orphaned */
	struct http_exchange *next;
	struct http_request req;
	char peer[64];
	char *target;             /* decoded path, NUL, raw query, NUL */
	struct http_buf hdrs;     /* name NUL value NUL ... */
	int nhdrs;
	size_t hdr_bytes;         /* request line and headers as received */
	size_t counted;           /* body bytes counted in conn->body_bytes */
	struct http_buf body;
	struct http_buf out;      /* answer head (without Connection) then body */
	size_t out_head;          /* length of the head part of out */
	struct http_buf sbuf;     /* stream data waiting for its turn */
	int status;
	bool receiving, dispatched, responded, head_sent;
	bool keep_alive, is_head, discard_body, want_continue, must_close;
	bool streaming, chunked, stream_ended;
	void (*on_close)(void *arg);
	void *on_close_arg;
};

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void
exchange_free(struct http_exchange *ex)
{
	free(ex->target);
	http_limits_buf_free(&ex->hdrs);
	http_limits_buf_free(&ex->body);
	http_limits_buf_free(&ex->out);
	http_limits_buf_free(&ex->sbuf);
	free(ex);
}

static struct http_exchange *
exchange_append(struct http_conn *c)
{
	struct http_exchange *ex;

	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return NULL;
	ex->conn = c;
	snprintf(ex->peer, sizeof(ex->peer), "%s", c->peer);
	ex->req.peer = ex->peer;
	ex->req.method = "GET";
	ex->req.path = "/";
	ex->req.query = "";
	ex->req.body = "";
	if (c->tail != NULL)
		c->tail->next = ex;
	else
		c->head = ex;
	c->tail = ex;
	c->queued++;
	return ex;
}

/* Unlink ex from its connection's queue (it may be anywhere in it). */
static void
exchange_unlink(struct http_conn *c, struct http_exchange *ex)
{
	struct http_exchange **pp, *prev = NULL;

	for (pp = &c->head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == ex) {
			*pp = ex->next;
			if (c->tail == ex)
				c->tail = prev;
			c->queued--;
			c->body_bytes -= ex->counted;
			ex->counted = 0;
			ex->next = NULL;
			break;
		}
	}
	if (c->cur == ex)
		c->cur = NULL;
}

void
http_exchange_conn_init(struct http_conn *c)
{
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
}

/* Prepare the head of an answer; the Connection line and the blank line
 * are added when it is sent, once we know whether the connection stays. */
static int
build_answer(struct http_exchange *ex, int status, const char *ctype, const char *extra,
	     const char *body, size_t len)
{
	struct http_server *srv = ex->conn->srv;
	size_t max = 64 * 1024 + len;
	char line[256];
	bool nobody;
	int n, rc = 0;

	nobody = ex->is_head || status == 204 || status == 304 || status < 200;
	n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
		     http_status_str((enum http_status)status), http_server_date(srv));
	rc |= http_limits_buf_append(&ex->out, line, (size_t)n, max);
	if (ctype != NULL && *ctype != '\0') {
		n = snprintf(line, sizeof(line), "Content-Type: %.200s\r\n", ctype);
		rc |= http_limits_buf_append(&ex->out, line, (size_t)n, max);
	}
	if (ex->streaming) {
		if (ex->chunked)
			rc |= http_limits_buf_append(&ex->out, "Transfer-Encoding: chunked\r\n", 28, max);
		rc |= http_limits_buf_append(&ex->out, "Cache-Control: no-cache\r\n", 25, max);
	} else if (status != 204 && status >= 200) {
		n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
		rc |= http_limits_buf_append(&ex->out, line, (size_t)n, max);
	}
	if (extra != NULL && *extra != '\0') {
		n = (int)strlen(extra);
		rc |= http_limits_buf_append(&ex->out, extra, (size_t)n, max);
		if (n < 2 || extra[n - 2] != '\r' || extra[n - 1] != '\n')
			rc |= http_limits_buf_append(&ex->out, "\r\n", 2, max);
	}
	ex->out_head = ex->out.len;
	if (!nobody && len > 0)
		rc |= http_limits_buf_append(&ex->out, body, len, max);
	if (rc != 0) {
		http_limits_buf_free(&ex->out);
		return -ENOMEM;
	}
	ex->status = status;
	ex->responded = true;
	if (status >= 500)
		srv->stats.responses_5xx++;
	else if (status >= 400)
		srv->stats.responses_4xx++;
	return 0;
}

static void
answer_error(struct http_exchange *ex, int status, const char *msg, bool close)
{
	char body[200];
	int n;

	n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	if (close)
		ex->must_close = true;
	if (build_answer(ex, status, "application/json", NULL, body, (size_t)n) != 0)
		ex->must_close = true; /* nothing to send: close when its turn comes */
	ex->responded = true;
	if (status == 413 || status == 431 || status == 429 || status == 503)
		ex->conn->srv->stats.rejected_limit++;
}

/* Stop parsing this connection and answer the request in progress (or a new
 * placeholder when the error came between requests). */
static void
fail(struct http_conn *c, int status, const char *msg)
{
	struct http_exchange *ex = c->cur;

	c->no_more = true;
	c->close_after = true;
	c->cur = NULL;
	if (ex == NULL && (ex = exchange_append(c)) == NULL)
		return;
	ex->receiving = false;
	if (!ex->responded)
		answer_error(ex, status, msg, true);
	else
		ex->must_close = true;
}

bool
http_exchange_fail_current(struct http_conn *c, int status, const char *msg)
{
	if (c->cur == NULL)
		return false;
	fail(c, status, msg);
	return true;
}

static int
count_header_bytes(struct http_conn *c, size_t len)
{
	struct http_exchange *ex = c->cur;

	ex->hdr_bytes += len;
	if (ex->hdr_bytes > c->srv->limits.max_header_bytes) {
		fail(c, 431, "request header fields too large");
		return -1;
	}
	return 0;
}

static int
on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	if (c->no_more || c->closing)
		return -1;
	if ((c->cur = exchange_append(c)) == NULL) {
		c->no_more = true;
		c->close_after = true;
		return -1;
	}
	c->cur->receiving = true;
	c->requests_seen++;
	c->url.len = 0;
	c->hdr_state = 0;
	c->request_start = c->srv->loop != NULL ? uv_now(c->srv->loop) : 0;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->cur == NULL || count_header_bytes(c, len) != 0)
		return -1;
	if (http_limits_buf_append(&c->url, at, len, c->srv->limits.max_header_bytes) != 0) {
		fail(c, 431, "request target too long");
		return -1;
	}
	return 0;
}

static size_t
hdrs_max(const struct http_conn *c)
{
	return c->srv->limits.max_header_bytes + 2 * (size_t)c->srv->limits.max_headers + 2;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_exchange *ex = c->cur;

	if (ex == NULL || count_header_bytes(c, len) != 0)
		return -1;
	if (c->hdr_state != 1) {
		if (c->hdr_state == 2 && http_limits_buf_append(&ex->hdrs, "", 1, hdrs_max(c)) != 0)
			goto toolarge;
		if (++ex->nhdrs > c->srv->limits.max_headers) {
			fail(c, 431, "too many header fields");
			return -1;
		}
		c->hdr_state = 1;
	}
	if (http_limits_buf_append(&ex->hdrs, at, len, hdrs_max(c)) != 0)
		goto toolarge;
	return 0;
toolarge:
	fail(c, 431, "request header fields too large");
	return -1;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_exchange *ex = c->cur;

	if (ex == NULL || count_header_bytes(c, len) != 0)
		return -1;
	if (c->hdr_state == 1 && http_limits_buf_append(&ex->hdrs, "", 1, hdrs_max(c)) != 0)
		goto toolarge;
	c->hdr_state = 2;
	if (http_limits_buf_append(&ex->hdrs, at, len, hdrs_max(c)) != 0)
		goto toolarge;
	return 0;
toolarge:
	fail(c, 431, "request header fields too large");
	return -1;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Split the request target into a %-decoded path and the raw query. */
static int
set_target(struct http_conn *c, struct http_exchange *ex)
{
	struct http_parser_url u;
	const char *url = c->url.data != NULL ? c->url.data : "";
	const char *path = "/", *query = "";
	size_t plen = 1, qlen = 0, i, o = 0;
	int hi, lo;

	http_parser_url_init(&u);
	if (c->url.len == 0 ||
	    http_parser_parse_url(url, c->url.len, c->parser.method == HTTP_CONNECT, &u) != 0)
		return -1;
	if (u.field_set & (1 << UF_PATH)) {
		path = url + u.field_data[UF_PATH].off;
		plen = u.field_data[UF_PATH].len;
	}
	if (u.field_set & (1 << UF_QUERY)) {
		query = url + u.field_data[UF_QUERY].off;
		qlen = u.field_data[UF_QUERY].len;
	}
	if ((ex->target = malloc(plen + qlen + 2)) == NULL)
		return -1;
	for (i = 0; i < plen; i++) {
		if (path[i] != '%') {
			ex->target[o++] = path[i];
			continue;
		}
		if (i + 2 >= plen)
			return -1;
		if ((hi = hexval(path[i + 1])) < 0 || (lo = hexval(path[i + 2])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1; /* bad escape, or NUL that would cut the path */
		ex->target[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	ex->target[o++] = '\0';
	ex->req.path = ex->target;
	memcpy(ex->target + o, query, qlen);
	ex->target[o + qlen] = '\0';
	ex->req.query = ex->target + o;
	return 0;
}

static void
send_continue(struct http_conn *c, struct http_exchange *ex)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	ex->want_continue = false;
	(void)http_conn_send(c, cont, sizeof(cont) - 1);
}

static int
on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_exchange *ex = c->cur;
	const struct http_limits *lim = &c->srv->limits;
	const char *expect;
	int wait;

	if (ex == NULL)
		return -1;
	if (c->hdr_state == 1 && http_limits_buf_append(&ex->hdrs, "", 1, hdrs_max(c)) != 0)
		goto toolarge;
	if (c->hdr_state != 0 && http_limits_buf_append(&ex->hdrs, "", 1, hdrs_max(c)) != 0)
		goto toolarge;
	c->hdr_state = 0;
	ex->keep_alive = http_should_keep_alive(p) != 0;
	ex->is_head = p->method == HTTP_HEAD;
	ex->req.method = http_method_str((enum http_method)p->method);
	if (set_target(c, ex) != 0) {
		fail(c, 400, "bad request target");
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > lim->max_body_bytes) {
		fail(c, 413, "request body too large");
		return -1;
	}
	if (c->srv->rate != NULL &&
	    (wait = http_limits_rate_take(c->srv->rate, c->peer, uv_now(c->srv->loop))) > 0) {
		char extra[64];

		snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", wait);
		ex->discard_body = true;
		if (build_answer(ex, 429, "application/json", extra,
				 "{\"error\":\"too many requests\"}", 29) != 0)
			ex->must_close = true;
		ex->responded = true;
		c->srv->stats.rejected_limit++;
		return 0;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0 &&
	    http_limits_buf_append(&ex->body, "", 0, lim->max_body_bytes) == 0 &&
	    p->content_length < 1024 * 1024) {
		char *nb = realloc(ex->body.data, (size_t)p->content_length + 1);

		if (nb != NULL) {
			ex->body.data = nb;
			ex->body.cap = (size_t)p->content_length + 1;
		}
	}
	expect = http_request_header(ex, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && p->http_major == 1 &&
	    p->http_minor >= 1) {
		if (ex == c->head)
			send_continue(c, ex);
		else
			ex->want_continue = true;
	}
	return 0;
toolarge:
	fail(c, 431, "request header fields too large");
	return -1;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_exchange *ex = c->cur;

	if (ex == NULL)
		return -1;
	if (ex->discard_body)
		return 0;
	if (http_limits_buf_append(&ex->body, at, len, c->srv->limits.max_body_bytes) != 0) {
		fail(c, 413, "request body too large");
		return -1;
	}
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_exchange *ex = c->cur;
	struct http_server *srv = c->srv;

	if (ex == NULL)
		return -1;
	c->cur = NULL;
	ex->receiving = false;
	ex->want_continue = false;
	if (srv->loop != NULL)
		c->last_activity = uv_now(srv->loop);
	if (!ex->keep_alive)
		c->no_more = true;
	ex->counted = ex->body.len;
	c->body_bytes += ex->counted;
	if (!ex->responded) {
		ex->dispatched = true;
		ex->req.body = ex->body.data != NULL ? ex->body.data : "";
		ex->req.body_len = ex->body.len;
		srv->stats.requests++;
		srv->handler(srv->ctx, ex, &ex->req);
	} else {
		srv->stats.requests++;
	}
	if (c->closing)
		return -1;
	if (c->no_more)
		return 0;
	/* Back-pressure: a client may not make us hold more than a few
	 * requests, one maximum body, or a megabyte of unsent answers. */
	if (c->queued >= HTTP_MAX_PIPELINE || c->body_bytes >= srv->limits.max_body_bytes ||
	    http_conn_backlog(c) >= HTTP_MAX_WRITE_QUEUE) {
		c->paused = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

int
http_exchange_parse(struct http_conn *c, const char *data, size_t len)
{
	size_t n;
	enum http_errno err;
	bool was_in_feed = c->in_feed;
	int rc = 0;

	if (c->closing)
		return -ECONNRESET;
	if (c->no_more || len == 0)
		return 0; /* after the last request: discard */
	if (c->paused) {
		if (http_limits_buf_append(&c->stash, data, len, 4 * HTTP_READ_CHUNK) != 0)
			return -ENOBUFS;
		return 0;
	}
	c->in_feed = true;
	n = http_parser_execute(&c->parser, &settings, data, len);
	err = HTTP_PARSER_ERRNO(&c->parser);
	if (c->closing) {
		rc = -ECONNRESET;
	} else if (err == HPE_PAUSED) {
		if (n < len && http_limits_buf_append(&c->stash, data + n, len - n,
						      4 * HTTP_READ_CHUNK) != 0)
			rc = -ENOBUFS;
	} else if (err != HPE_OK) {
		if (!c->no_more) {
			log_debug("http: %s: %s", c->peer, http_errno_description(err));
			fail(c, 400, "malformed request");
		}
	} else if (c->parser.upgrade) {
		/* Not HTTP any more past this request: we offer no upgrades. */
		c->no_more = true;
		c->close_after = true;
	}
	c->in_feed = was_in_feed;
	return rc;
}

/* Send the answer of ex, which is at the head of the queue. */
static void
send_answer(struct http_conn *c, struct http_exchange *ex)
{
	static const char ka[] = "Connection: keep-alive\r\n\r\n";
	static const char cl[] = "Connection: close\r\n\r\n";
	bool keep;

	keep = ex->keep_alive && !ex->must_close && !(ex->streaming && !ex->chunked) &&
	       !(c->srv->closing && ex->next == NULL && c->cur == NULL);
	if (!keep)
		ex->must_close = true;
	if (ex->out.len == 0) /* could not build it: all we can do is close */
		return;
	(void)http_conn_send(c, ex->out.data, ex->out_head);
	if (keep)
		(void)http_conn_send(c, ka, sizeof(ka) - 1);
	else
		(void)http_conn_send(c, cl, sizeof(cl) - 1);
	if (ex->out.len > ex->out_head)
		(void)http_conn_send(c, ex->out.data + ex->out_head, ex->out.len - ex->out_head);
	http_limits_buf_free(&ex->out);
}

static void
resume(struct http_conn *c)
{
	struct http_buf st = c->stash;

	c->paused = false;
	http_parser_pause(&c->parser, 0);
	memset(&c->stash, 0, sizeof(c->stash));
	if (st.len > 0 && http_exchange_parse(c, st.data, st.len) < 0)
		http_conn_close(c);
	http_limits_buf_free(&st);
}

void
http_exchange_flush(struct http_conn *c)
{
	struct http_exchange *ex;

	if (c->in_flush) {
		c->flush_again = true;
		return;
	}
	c->in_flush = true;
	do {
		c->flush_again = false;
		while ((ex = c->head) != NULL && !c->closing) {
			if (ex->receiving) {
				if (ex->want_continue && !ex->responded)
					send_continue(c, ex);
				break;
			}
			if (!ex->responded)
				break;
			if (!ex->head_sent) {
				send_answer(c, ex);
				ex->head_sent = true;
			}
			if (ex->streaming && ex->sbuf.len > 0) {
				(void)http_conn_send(c, ex->sbuf.data, ex->sbuf.len);
				ex->sbuf.len = 0;
			}
			if (ex->streaming && !ex->stream_ended)
				break;
			exchange_unlink(c, ex);
			if (ex->must_close) {
				exchange_free(ex);
				c->no_more = true;
				c->close_after = true;
				http_exchange_detach_all(c);
				break;
			}
			exchange_free(ex);
		}
		if (c->paused && !c->in_feed && !c->closing && !c->no_more &&
		    c->queued < HTTP_MAX_PIPELINE &&
		    c->body_bytes < c->srv->limits.max_body_bytes &&
		    http_conn_backlog(c) < HTTP_MAX_WRITE_QUEUE)
			resume(c);
	} while (c->flush_again && !c->closing);
	c->in_flush = false;
	http_conn_update(c);
}

void
http_exchange_detach_all(struct http_conn *c)
{
	struct http_exchange *ex;
	bool held;

	c->cur = NULL;
	while ((ex = c->head) != NULL) {
		exchange_unlink(c, ex);
		/* Does the handler still hold it (no answer, or a live stream)? */
		held = ex->dispatched &&
		       (!ex->responded || (ex->streaming && !ex->stream_ended));
		if (held && ex->on_close != NULL) {
			ex->on_close(ex->on_close_arg);
			exchange_free(ex);
		} else if (held) {
			ex->conn = NULL; /* freed when the handler answers or ends */
		} else {
			exchange_free(ex);
		}
	}
}

void
http_exchange_shutdown_conn(struct http_conn *c)
{
	struct http_exchange *ex = c->cur;

	c->no_more = true;
	c->close_after = true;
	if (ex != NULL && !ex->dispatched) {
		exchange_unlink(c, ex);
		exchange_free(ex);
	}
	c->cur = NULL;
	for (ex = c->head; ex != NULL; ex = ex->next) {
		if (ex->streaming) {
			http_conn_close(c);
			return;
		}
	}
	http_exchange_flush(c);
}

const char *
http_request_header(const struct http_exchange *ex, const char *name)
{
	const char *p = ex->hdrs.data, *end, *val;
	int i;

	if (p == NULL)
		return NULL;
	end = p + ex->hdrs.len;
	for (i = 0; i < ex->nhdrs && p < end; i++) {
		val = p + strlen(p) + 1;
		if (val >= end)
			break;
		if (strcasecmp(p, name) == 0)
			return val;
		p = val + strlen(val) + 1;
	}
	return NULL;
}

void
http_exchange_respond(struct http_exchange *ex, int status, const char *content_type,
		      const char *extra_headers, const char *body, size_t body_len)
{
	struct http_conn *c = ex->conn;

	if (ex->responded) {
		log_warnx("http: exchange answered twice (status %d)", status);
		return;
	}
	if (c == NULL) {
		exchange_free(ex);
		return;
	}
	if (status < 100 || status > 999)
		status = 500;
	if (build_answer(ex, status, content_type, extra_headers, body, body_len) != 0) {
		ex->responded = true;
		ex->must_close = true;
	}
	http_exchange_flush(c);
}

void
http_exchange_on_close(struct http_exchange *ex, void (*cb)(void *arg), void *arg)
{
	ex->on_close = cb;
	ex->on_close_arg = arg;
}

void
http_exchange_stream_start(struct http_exchange *ex, const char *content_type)
{
	struct http_conn *c = ex->conn;

	if (ex->responded || c == NULL)
		return;
	ex->streaming = true;
	ex->chunked = c->parser.http_major == 1 && c->parser.http_minor >= 1;
	if (build_answer(ex, 200, content_type, NULL, NULL, 0) != 0) {
		ex->responded = true;
		ex->must_close = true;
	}
	http_exchange_flush(c);
}

int
http_exchange_stream_write(struct http_exchange *ex, const char *data, size_t len)
{
	struct http_conn *c = ex->conn;
	char hdr[32];
	int n, rc = 0;

	if (c == NULL || c->closing)
		return -ENOTCONN;
	if (!ex->streaming || ex->stream_ended)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (http_conn_backlog(c) >= HTTP_MAX_WRITE_QUEUE)
		return -ENOBUFS;
	if (ex->chunked) {
		n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
		rc = http_limits_buf_append(&ex->sbuf, hdr, (size_t)n, STREAM_MAX_BUFFER);
	}
	if (rc == 0)
		rc = http_limits_buf_append(&ex->sbuf, data, len, STREAM_MAX_BUFFER);
	if (rc == 0 && ex->chunked)
		rc = http_limits_buf_append(&ex->sbuf, "\r\n", 2, STREAM_MAX_BUFFER);
	if (rc != 0)
		return rc == -E2BIG ? -ENOBUFS : rc;
	http_exchange_flush(c);
	return 0;
}

void
http_exchange_stream_end(struct http_exchange *ex)
{
	struct http_conn *c = ex->conn;

	if (c == NULL) {
		exchange_free(ex);
		return;
	}
	if (!ex->streaming || ex->stream_ended)
		return;
	if (ex->chunked)
		(void)http_limits_buf_append(&ex->sbuf, "0\r\n\r\n", 5, STREAM_MAX_BUFFER + 5);
	ex->stream_ended = true;
	ex->on_close = NULL;
	http_exchange_flush(c);
}
