/* collector/http_parse.c - HTTP/1.1 request parsing (http-parser callbacks), limits checked as bytes arrive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/http_conn.h"
#include "common/log.h"

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

void
http_parse_conn_init(struct http_conn *c)
{
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
}

static int
count_header_bytes(struct http_conn *c, size_t len)
{
	struct http_exchange *ex = c->cur;

	ex->hdr_bytes += len;
	if (ex->hdr_bytes > c->srv->limits.max_header_bytes) {
		http_exchange_fail(c, 431, "request header fields too large");
		return -1;
	}
	return 0;
}

static size_t
hdrs_max(const struct http_conn *c)
{
	return c->srv->limits.max_header_bytes + 2 * (size_t)c->srv->limits.max_headers + 2;
}

/* End the header value at the tail of hdrs: drop trailing blanks (the
 * parser already dropped the leading ones), then terminate it. */
static int
end_value(struct http_conn *c, struct http_exchange *ex)
{
	while (ex->hdrs.len > 0 &&
	       (ex->hdrs.data[ex->hdrs.len - 1] == ' ' || ex->hdrs.data[ex->hdrs.len - 1] == '\t'))
		ex->hdrs.len--;
	return http_limits_buf_append(&ex->hdrs, "", 1, hdrs_max(c));
}

/* All connections together hold at most this much request body: many
 * clients each within max_body_bytes must not add up to unbounded memory. */
static size_t
body_budget(const struct http_server *srv)
{
	return HTTP_BODY_BUDGET * srv->limits.max_body_bytes;
}

static int
on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	if (c->no_more || c->closing)
		return -1;
	if ((c->cur = http_exchange_append(c)) == NULL) {
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
		http_exchange_fail(c, 431, "request target too long");
		return -1;
	}
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_exchange *ex = c->cur;

	if (ex == NULL || count_header_bytes(c, len) != 0)
		return -1;
	if (c->hdr_state != 1) {
		if (c->hdr_state == 2 && end_value(c, ex) != 0)
			goto toolarge;
		if (++ex->nhdrs > c->srv->limits.max_headers) {
			http_exchange_fail(c, 431, "too many header fields");
			return -1;
		}
		c->hdr_state = 1;
	}
	if (http_limits_buf_append(&ex->hdrs, at, len, hdrs_max(c)) != 0)
		goto toolarge;
	return 0;
toolarge:
	http_exchange_fail(c, 431, "request header fields too large");
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
	http_exchange_fail(c, 431, "request header fields too large");
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
	if (c->hdr_state != 0 && end_value(c, ex) != 0)
		goto toolarge;
	c->hdr_state = 0;
	/* We offer no upgrades: answer as plain HTTP, then close, since what
	 * follows on the wire is not HTTP (the parser sets upgrade here). */
	ex->keep_alive = http_should_keep_alive(p) != 0 && !p->upgrade;
	ex->is_head = p->method == HTTP_HEAD;
	ex->req.method = http_method_str((enum http_method)p->method);
	if (set_target(c, ex) != 0) {
		http_exchange_fail(c, 400, "bad request target");
		return -1;
	}
	/* Headers that name who is asking, or whom, mean one thing or nothing:
	 * two of them could be read differently by us and a proxy in front. */
	if (http_request_header_count(ex, "Authorization") > 1 ||
	    http_request_header_count(ex, "Host") > 1) {
		http_exchange_fail(c, 400, "duplicate Authorization or Host header");
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > lim->max_body_bytes) {
		http_exchange_fail(c, 413, "request body too large");
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) &&
	    c->srv->body_total + p->content_length > body_budget(c->srv)) {
		http_exchange_fail(c, 503, "server busy");
		return -1;
	}
	expect = http_request_header(ex, "Expect");
	if (expect != NULL && (strcasecmp(expect, "100-continue") != 0 || p->http_major != 1 ||
			       p->http_minor < 1))
		expect = NULL;
	if (c->srv->rate != NULL &&
	    (wait = http_limits_rate_take(c->srv->rate, c->rate_key, uv_now(c->srv->loop))) > 0) {
		char extra[64];

		snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", wait);
		if (http_exchange_build(ex, 429, "application/json", extra,
					"{\"error\":\"too many requests\"}", 29) != 0)
			ex->must_close = true;
		ex->responded = true;
		c->srv->stats.rejected_limit++;
		if (expect == NULL) {
			/* Keep the connection: read past the body, then answer. */
			ex->discard_body = true;
			return 0;
		}
		/* The client waits for us before sending its body and may
		 * never send it: answer now, then close. */
		ex->must_close = true;
		ex->receiving = false;
		c->cur = NULL;
		c->no_more = true;
		c->close_after = true;
		return -1;
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
	if (expect != NULL) {
		if (ex == c->head)
			http_exchange_continue(c, ex);
		else
			ex->want_continue = true;
	}
	return 0;
toolarge:
	http_exchange_fail(c, 431, "request header fields too large");
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
		http_exchange_fail(c, 413, "request body too large");
		return -1;
	}
	ex->in_total += len;
	c->srv->body_total += len;
	if (c->srv->body_total > body_budget(c->srv)) {
		http_exchange_fail(c, 503, "server busy");
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
http_parse_input(struct http_conn *c, const char *data, size_t len)
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
			if (err == HPE_HEADER_OVERFLOW) /* http-parser's own 80 KB cap */
				http_exchange_fail(c, 431, "request header fields too large");
			else
				http_exchange_fail(c, 400, "malformed request");
		}
	} else if (c->parser.upgrade) {
		/* Not HTTP any more past this request: we offer no upgrades. */
		c->no_more = true;
		c->close_after = true;
	}
	c->in_feed = was_in_feed;
	return rc;
}
