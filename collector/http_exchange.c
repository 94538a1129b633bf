/* collector/http_exchange.c - HTTP exchanges: answers in request order, streaming, orphaned exchanges. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/http_conn.h"
#include "common/log.h"

#define STREAM_MAX_BUFFER (1u << 20)

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

struct http_exchange *
http_exchange_append(struct http_conn *c)
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
			c->srv->body_total -= ex->in_total;
			ex->in_total = 0;
			ex->next = NULL;
			break;
		}
	}
	if (c->cur == ex)
		c->cur = NULL;
}

/* Whether an answer with this status to this request carries a body. */
static bool
has_body(const struct http_exchange *ex, int status)
{
	return !(ex->is_head || status == 204 || status == 304 || status < 200);
}

/* Prepare the head of an answer; the Connection line and the blank line
 * are added when it is sent, once we know whether the connection stays. */
int
http_exchange_build(struct http_exchange *ex, int status, const char *ctype, const char *extra,
	     const char *body, size_t len)
{
	struct http_server *srv = ex->conn->srv;
	size_t max = 64 * 1024 + len;
	char line[256];
	bool nobody;
	int n, rc = 0;

	nobody = !has_body(ex, status);
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
	if (!nobody && len > 0 && body != NULL)
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
	if (http_exchange_build(ex, status, "application/json",
				status == 503 ? "Retry-After: 1\r\n" : NULL, body, (size_t)n) != 0)
		ex->must_close = true; /* nothing to send: close when its turn comes */
	ex->responded = true;
	if (status == 413 || status == 431 || status == 429 || status == 503)
		ex->conn->srv->stats.rejected_limit++;
}

/* Stop parsing this connection and answer the request in progress (or a new
 * placeholder when the error came between requests). */
void
http_exchange_fail(struct http_conn *c, int status, const char *msg)
{
	struct http_exchange *ex = c->cur;

	c->no_more = true;
	c->close_after = true;
	c->cur = NULL;
	if (ex == NULL && (ex = http_exchange_append(c)) == NULL)
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
	http_exchange_fail(c, status, msg);
	return true;
}

void
http_exchange_continue(struct http_conn *c, struct http_exchange *ex)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	ex->want_continue = false;
	(void)http_conn_send(c, cont, sizeof(cont) - 1);
}

/* Nothing else waits to be sent: put the Connection line into ex's own
 * buffer and hand that buffer to the connection, instead of copying a
 * multi-megabyte answer (the instances view, /metrics) while the original is
 * still held. 1 when done. */
static bool
move_answer(struct http_conn *c, struct http_exchange *ex, const char *line)
{
	size_t ll = strlen(line), body = ex->out.len - ex->out_head;

	if (http_limits_buf_append(&ex->out, line, ll, SIZE_MAX / 2) != 0)
		return false;
	memmove(ex->out.data + ex->out_head + ll, ex->out.data + ex->out_head, body);
	memcpy(ex->out.data + ex->out_head, line, ll);
	http_limits_buf_free(&c->out);
	c->out = ex->out;
	memset(&ex->out, 0, sizeof(ex->out));
	return true;
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
	if (c->out.len == 0 && !c->closing && move_answer(c, ex, keep ? ka : cl))
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
	if (st.len > 0 && http_parse_input(c, st.data, st.len) < 0)
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
					http_exchange_continue(c, ex);
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

/* Walks the stored headers (name NUL value NUL, ...): the first value of
 * name, and in *count (may be NULL) how many times name occurs. */
static const char *
header_find(const struct http_exchange *ex, const char *name, int *count)
{
	const char *p = ex->hdrs.data, *end, *val, *first = NULL;
	int i, n = 0;

	if (p != NULL) {
		end = p + ex->hdrs.len;
		for (i = 0; i < ex->nhdrs && p < end; i++) {
			val = p + strlen(p) + 1;
			if (val >= end)
				break;
			if (strcasecmp(p, name) == 0) {
				if (n++ == 0)
					first = val;
				if (count == NULL)
					break;
			}
			p = val + strlen(val) + 1;
		}
	}
	if (count != NULL)
		*count = n;
	return first;
}

const char *
http_request_header(const struct http_exchange *ex, const char *name)
{
	return header_find(ex, name, NULL);
}

int
http_request_header_count(const struct http_exchange *ex, const char *name)
{
	int n;

	header_find(ex, name, &n);
	return n;
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
	if (http_exchange_build(ex, status, content_type, extra_headers, body, body_len) != 0) {
		ex->responded = true;
		ex->must_close = true;
	}
	http_exchange_flush(c);
}

/* Put the head built in ex->out in front of body, and make that ex->out. */
static int
adopt_body(struct http_exchange *ex, char *body, size_t len)
{
	size_t head = ex->out.len;
	char *p;

	if ((p = realloc(body, head + len + 1)) == NULL)
		return -ENOMEM;
	memmove(p + head, p, len);
	memcpy(p, ex->out.data, head);
	p[head + len] = '\0';
	http_limits_buf_free(&ex->out);
	ex->out.data = p;
	ex->out.len = head + len;
	ex->out.cap = head + len + 1;
	return 0;
}

void
http_exchange_respond_take(struct http_exchange *ex, int status, const char *content_type,
			   const char *extra_headers, char *body, size_t body_len)
{
	struct http_conn *c = ex->conn;

	if (ex->responded || c == NULL || body == NULL || body_len == 0) {
		http_exchange_respond(ex, status, content_type, extra_headers, body, body_len);
		free(body);
		return;
	}
	if (status < 100 || status > 999)
		status = 500;
	/* The head only (Content-Length from body_len), then the body behind it. */
	if (http_exchange_build(ex, status, content_type, extra_headers, NULL, body_len) != 0) {
		ex->responded = true;
		ex->must_close = true;
		free(body);
	} else if (!has_body(ex, status)) {
		free(body);
	} else if (adopt_body(ex, body, body_len) != 0) {
		free(body);
		http_limits_buf_free(&ex->out); /* nothing to send: close when its turn comes */
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
	if (http_exchange_build(ex, 200, content_type, NULL, NULL, 0) != 0) {
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
	size_t mark;
	int n, rc = 0;

	if (c == NULL || c->closing)
		return -ENOTCONN;
	if (!ex->streaming || ex->stream_ended)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (http_conn_backlog(c) >= HTTP_MAX_WRITE_QUEUE)
		return -ENOBUFS;
	mark = ex->sbuf.len;
	if (ex->chunked) {
		n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
		rc = http_limits_buf_append(&ex->sbuf, hdr, (size_t)n, STREAM_MAX_BUFFER);
	}
	if (rc == 0)
		rc = http_limits_buf_append(&ex->sbuf, data, len, STREAM_MAX_BUFFER);
	if (rc == 0 && ex->chunked)
		rc = http_limits_buf_append(&ex->sbuf, "\r\n", 2, STREAM_MAX_BUFFER);
	if (rc != 0) {
		/* All or nothing: a chunk header without its data would
		 * corrupt the framing of everything after it. */
		ex->sbuf.len = mark;
		return rc == -E2BIG ? -ENOBUFS : rc;
	}
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
