/* tests/collector/test_alert.c - alert delivery against a small HTTP
 * receiver and a fake SMTP server on 127.0.0.1, on the same libuv loop as
 * the alerter: payload fields per channel, retries until the receiver comes
 * up (delivered exactly once), dedupe, resolution, route filters, and a
 * hanging receiver not holding back another route. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "collector/alert.h"

#define MAX_REQ 32

struct req {
	char method[8];
	char path[128];
	char *body;
};

/* mode: 0 answer with status, 1 never answer (hang), 2 fake SMTP */
struct server {
	uv_tcp_t srv;
	int port, mode, status, fail_first, n_req, listening;
	struct req req[MAX_REQ];
	char smtp_from[128], smtp_rcpt[256];
};

struct conn {
	uv_tcp_t h;
	struct server *sv;
	char *buf;
	size_t len, cap;
	int data_mode, done;
};

static void
conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->buf);
	free(c);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	if (c->cap - c->len < 4096) {
		c->cap = c->cap * 2 + 8192;
		c->buf = realloc(c->buf, c->cap);
	}
	*b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len - 1));
}

static void
write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void
send_text(struct conn *c, const char *text)
{
	uv_write_t *w = malloc(sizeof(*w));
	char *copy = strdup(text);
	uv_buf_t b = uv_buf_init(copy, (unsigned)strlen(copy));

	w->data = copy;
	uv_write(w, (uv_stream_t *)&c->h, &b, 1, write_done);
}

static void
close_conn(struct conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->h))
		uv_close((uv_handle_t *)&c->h, conn_closed);
}

static void
http_input(struct conn *c)
{
	struct server *sv = c->sv;
	char *end, *cl, resp[256];
	size_t hdr, body_len = 0;
	struct req *r;
	int status;

	c->buf[c->len] = '\0';
	if (c->done || (end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return;
	hdr = (size_t)(end - c->buf) + 4;
	if ((cl = strcasestr(c->buf, "\r\ncontent-length:")) != NULL && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	if (c->len < hdr + body_len)
		return;
	c->done = 1;
	cr_assert_lt(sv->n_req, MAX_REQ);
	r = &sv->req[sv->n_req++];
	sscanf(c->buf, "%7s %127s", r->method, r->path);
	r->body = strndup(c->buf + hdr, body_len);
	if (sv->mode == 1)
		return; /* hang: never answer */
	status = sv->n_req <= sv->fail_first ? 503 : sv->status;
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", status);
	send_text(c, resp);
	close_conn(c);
}

/* Line-based fake SMTP: enough of RFC 5321 for libcurl. */
static void
smtp_input(struct conn *c)
{
	struct server *sv = c->sv;
	char *nl, *end, line[512];
	size_t n;

	c->buf[c->len] = '\0';
	for (;;) {
		if (c->data_mode) {
			if ((end = strstr(c->buf, "\r\n.\r\n")) == NULL)
				return;
			cr_assert_lt(sv->n_req, MAX_REQ);
			sv->req[sv->n_req].body = strndup(c->buf, (size_t)(end - c->buf));
			snprintf(sv->req[sv->n_req].method, sizeof(sv->req[0].method), "DATA");
			sv->n_req++;
			n = (size_t)(end - c->buf) + 5;
			c->data_mode = 0;
			send_text(c, "250 queued\r\n");
		} else {
			if ((nl = strstr(c->buf, "\r\n")) == NULL)
				return;
			n = (size_t)(nl - c->buf) + 2;
			snprintf(line, sizeof(line), "%.*s", (int)(n - 2), c->buf);
			if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0)
				send_text(c, "250 fake\r\n");
			else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
				snprintf(sv->smtp_from, sizeof(sv->smtp_from), "%s", line + 10);
				send_text(c, "250 ok\r\n");
			} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
				strncat(sv->smtp_rcpt, line + 8,
					sizeof(sv->smtp_rcpt) - strlen(sv->smtp_rcpt) - 1);
				send_text(c, "250 ok\r\n");
			} else if (strncasecmp(line, "DATA", 4) == 0) {
				c->data_mode = 1;
				send_text(c, "354 go ahead\r\n");
			} else if (strncasecmp(line, "QUIT", 4) == 0) {
				send_text(c, "221 bye\r\n");
				close_conn(c);
			} else {
				send_text(c, "250 ok\r\n");
			}
		}
		memmove(c->buf, c->buf + n, c->len - n + 1);
		c->len -= n;
	}
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = s->data;

	(void)b;
	if (nread < 0) {
		close_conn(c);
		return;
	}
	c->len += (size_t)nread;
	if (c->sv->mode == 2)
		smtp_input(c);
	else
		http_input(c);
}

static void
accept_cb(uv_stream_t *srv, int status)
{
	struct server *sv = srv->data;
	struct conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	c->sv = sv;
	uv_tcp_init(srv->loop, &c->h);
	c->h.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->h) < 0) {
		close_conn(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb);
	if (sv->mode == 2)
		send_text(c, "220 fake ESMTP\r\n");
}

/* Listen on 127.0.0.1:port (0 = any free port). */
static void
server_start(uv_loop_t *loop, struct server *sv, int port)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	uv_tcp_init(loop, &sv->srv);
	sv->srv.data = sv;
	uv_ip4_addr("127.0.0.1", port, &sin);
	cr_assert_eq(uv_tcp_bind(&sv->srv, (const struct sockaddr *)&sin, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)&sv->srv, 16, accept_cb), 0);
	uv_tcp_getsockname(&sv->srv, (struct sockaddr *)&ss, &len);
	sv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	sv->listening = 1;
	if (sv->status == 0)
		sv->status = 200;
}

static void
server_stop(struct server *sv)
{
	int i;

	if (sv->listening)
		uv_close((uv_handle_t *)&sv->srv, NULL);
	sv->listening = 0;
	for (i = 0; i < sv->n_req; i++)
		free(sv->req[i].body);
	sv->n_req = 0;
}

static void
wake(uv_timer_t *t)
{
	(void)t;
}

/* Run the loop until *flag >= want or ms pass. */
static void
spin(uv_loop_t *loop, const int *flag, int want, int ms)
{
	uv_timer_t t;
	uint64_t end;

	uv_update_time(loop);
	end = uv_now(loop) + (uint64_t)ms;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, wake, 5, 5);
	while ((flag == NULL || *flag < want) && uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

struct deliveries {
	int n, ok;
	int last_attempt;
	char last_error[256];
};

static void
on_delivery(void *ctx, const char *route, const struct event *ev, int attempt, int ok,
	    const char *error)
{
	struct deliveries *d = ctx;

	(void)route;
	(void)ev;
	d->n++;
	d->ok += ok;
	d->last_attempt = attempt;
	snprintf(d->last_error, sizeof(d->last_error), "%s", error != NULL ? error : "");
}

static void
add_route(struct inventory *inv, const char *name, enum inv_alert_type type, const char *url)
{
	struct inv_alert *r;

	inv->alerts = realloc(inv->alerts, (size_t)(inv->n_alerts + 1) * sizeof(*inv->alerts));
	r = &inv->alerts[inv->n_alerts++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->type = type;
	snprintf(r->url, sizeof(r->url), "%s", url);
}

static struct event
mk_event(const char *type, const char *incident_type, int resolves)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = 42;
	ev.time_ms = 1764129600000LL + (resolves ? 60000 : 0);
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	snprintf(ev.agent, sizeof(ev.agent), "br1");
	snprintf(ev.service, sizeof(ev.service), "dns");
	ev.family = 4;
	snprintf(ev.from_instance, sizeof(ev.from_instance), "site-a");
	snprintf(ev.to_instance, sizeof(ev.to_instance), "%s", resolves ? "site-b" : "");
	snprintf(ev.incident, sizeof(ev.incident), "%s/br1/dns/4", incident_type);
	ev.resolves = resolves;
	snprintf(ev.detail, sizeof(ev.detail), "{\"cause\":\"%s\",\"evidence\":[]}",
		 resolves ? "answers_again" : "no_answer");
	return ev;
}

struct fx {
	uv_loop_t loop;
	struct inventory inv;
	struct server sv, sv2;
	struct alerter *a;
	struct deliveries dl;
	int closed;
};

static void
closed_cb(void *arg)
{
	*(int *)arg = 1;
}

static void
fx_start(struct fx *f)
{
	f->a = alerter_new(&f->loop, &f->inv, on_delivery, &f->dl);
	cr_assert_not_null(f->a);
	alerter_set_retry(f->a, 100, 400, 30000, 2000);
}

static void
fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	uv_loop_init(&f->loop);
}

static void
fx_done(struct fx *f)
{
	if (f->a != NULL) {
		alerter_close(f->a, closed_cb, &f->closed);
		spin(&f->loop, &f->closed, 1, 3000);
		cr_assert_eq(f->closed, 1, "alerter_close calls back");
	}
	server_stop(&f->sv);
	server_stop(&f->sv2);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&f->loop), 0, "every handle closed");
	free(f->inv.alerts);
}

static json_t *
body_json(const struct req *r)
{
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);

	cr_assert_not_null(j, "body is not JSON: %s", r->body);
	return j;
}

static const char *
sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

TestSuite(alert, .timeout = 30);

Test(alert, webhook_firing_then_resolved_once_each)
{
	struct fx f;
	struct event open = mk_event("outage", "outage", 0), rec = mk_event("recovery", "outage", 1);
	struct alerter_stats st;
	char url[128];
	json_t *j;

	fx_init(&f);
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", f.sv.port);
	add_route(&f.inv, "ops", INV_ALERT_WEBHOOK, url);
	fx_start(&f);
	alerter_dispatch(f.a, &open);
	alerter_dispatch(f.a, &open); /* the same incident again: deduplicated */
	alerter_dispatch(f.a, &open);
	spin(&f.loop, &f.dl.ok, 1, 3000);
	cr_assert_eq(f.sv.n_req, 1);
	cr_assert_str_eq(f.sv.req[0].method, "POST");
	cr_assert_str_eq(f.sv.req[0].path, "/hook");
	j = body_json(&f.sv.req[0]);
	cr_assert_str_eq(sget(j, "status"), "firing");
	cr_assert_str_eq(sget(j, "type"), "outage");
	cr_assert_str_eq(sget(j, "agent"), "br1");
	cr_assert_str_eq(sget(j, "service"), "dns");
	cr_assert_str_eq(sget(j, "from_instance"), "site-a");
	cr_assert(json_is_null(json_object_get(j, "to_instance")));
	cr_assert_str_eq(sget(j, "incident"), "outage/br1/dns/4");
	cr_assert_str_eq(sget(j, "time"), "2025-11-26T04:00:00.000Z");
	cr_assert_str_eq(sget(json_object_get(j, "detail"), "cause"), "no_answer");
	json_decref(j);

	alerter_dispatch(f.a, &rec);
	alerter_dispatch(f.a, &rec);
	spin(&f.loop, &f.dl.ok, 2, 3000);
	spin(&f.loop, NULL, 0, 300); /* nothing else arrives */
	cr_assert_eq(f.sv.n_req, 2);
	j = body_json(&f.sv.req[1]);
	cr_assert_str_eq(sget(j, "status"), "resolved");
	cr_assert_str_eq(sget(j, "type"), "recovery");
	cr_assert_str_eq(sget(j, "incident"), "outage/br1/dns/4");
	json_decref(j);
	alerter_get_stats(f.a, &st);
	cr_assert_eq(st.queued, 2);
	cr_assert_eq(st.delivered, 2);
	cr_assert_eq(st.deduplicated, 3);
	cr_assert_eq(st.pending, 0);
	fx_done(&f);
}

Test(alert, slack_text_is_one_readable_line)
{
	struct fx f;
	struct event ev = mk_event("catchment_change", "catchment_change", 0);
	char url[128];
	const char *text;
	json_t *j;

	fx_init(&f);
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T0/B0/x", f.sv.port);
	add_route(&f.inv, "chat", INV_ALERT_SLACK, url);
	fx_start(&f);
	snprintf(ev.to_instance, sizeof(ev.to_instance), "site-b");
	snprintf(ev.detail, sizeof(ev.detail), "{\"cause\":\"failover\"}");
	alerter_dispatch(f.a, &ev);
	spin(&f.loop, &f.dl.ok, 1, 3000);
	cr_assert_eq(f.sv.n_req, 1);
	j = body_json(&f.sv.req[0]);
	cr_assert_eq(json_object_size(j), 1);
	text = sget(j, "text");
	cr_assert_not_null(text);
	cr_assert_null(strchr(text, '\n'));
	cr_assert(strstr(text, "[FIRING]") != NULL, "%s", text);
	cr_assert(strstr(text, "br1") != NULL && strstr(text, "site-b") != NULL &&
		  strstr(text, "site-a") != NULL && strstr(text, "failover") != NULL, "%s", text);
	json_decref(j);
	fx_done(&f);
}

Test(alert, alertmanager_labels_and_ends_at_on_resolve)
{
	struct fx f;
	struct event open = mk_event("outage", "outage", 0), rec = mk_event("recovery", "outage", 1);
	char url[128];
	json_t *j, *j1, *a0, *l0, *a1;

	fx_init(&f);
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f.sv.port);
	add_route(&f.inv, "am", INV_ALERT_ALERTMANAGER, url);
	fx_start(&f);
	alerter_dispatch(f.a, &open);
	spin(&f.loop, &f.dl.ok, 1, 3000);
	alerter_dispatch(f.a, &rec);
	spin(&f.loop, &f.dl.ok, 2, 3000);
	cr_assert_eq(f.sv.n_req, 2);
	cr_assert_str_eq(f.sv.req[0].path, "/api/v2/alerts");
	j = body_json(&f.sv.req[0]);
	cr_assert(json_is_array(j));
	a0 = json_array_get(j, 0);
	l0 = json_object_get(a0, "labels");
	cr_assert_str_eq(sget(l0, "alertname"), "outage");
	cr_assert_str_eq(sget(l0, "agent"), "br1");
	cr_assert_str_eq(sget(l0, "service"), "dns");
	cr_assert_str_eq(sget(l0, "instance"), "site-a");
	cr_assert_str_eq(sget(l0, "severity"), "critical");
	cr_assert_str_eq(sget(a0, "startsAt"), "2025-11-26T04:00:00.000Z");
	cr_assert_null(json_object_get(a0, "endsAt"));
	cr_assert_not_null(sget(json_object_get(a0, "annotations"), "summary"));
	j1 = body_json(&f.sv.req[1]);
	a1 = json_array_get(j1, 0);
	cr_assert(json_equal(json_object_get(a1, "labels"), l0), "same labels so it resolves");
	cr_assert_str_eq(sget(a1, "startsAt"), "2025-11-26T04:00:00.000Z");
	cr_assert_str_eq(sget(a1, "endsAt"), "2025-11-26T04:01:00.000Z");
	json_decref(j);
	json_decref(j1);
	fx_done(&f);
}

Test(alert, receiver_down_then_up_gets_it_exactly_once)
{
	struct fx f;
	struct event ev = mk_event("unknown_instance", "unknown_instance", 0);
	struct alerter_stats st;
	char url[128];
	int port;

	fx_init(&f);
	server_start(&f.loop, &f.sv, 0); /* find a free port, then close it */
	port = f.sv.port;
	server_stop(&f.sv);
	uv_run(&f.loop, UV_RUN_NOWAIT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	add_route(&f.inv, "ops", INV_ALERT_WEBHOOK, url);
	fx_start(&f);
	alerter_dispatch(f.a, &ev);
	spin(&f.loop, NULL, 0, 700);
	alerter_get_stats(f.a, &st);
	cr_assert_geq(st.failed_attempts, 2, "retried while down");
	cr_assert_eq(st.delivered, 0);
	cr_assert_eq(st.pending, 1);
	cr_assert_eq(f.dl.ok, 0);
	cr_assert(f.dl.last_error[0] != '\0');
	server_start(&f.loop, &f.sv, port);
	spin(&f.loop, &f.dl.ok, 1, 3000);
	spin(&f.loop, NULL, 0, 1000);
	cr_assert_eq(f.sv.n_req, 1, "delivered exactly once");
	alerter_get_stats(f.a, &st);
	cr_assert_eq(st.delivered, 1);
	cr_assert_eq(st.pending, 0);
	cr_assert_gt(f.dl.last_attempt, 1);
	fx_done(&f);
}

Test(alert, server_errors_are_retried_with_backoff)
{
	struct fx f;
	struct event ev = mk_event("outage", "outage", 0);
	char url[128];

	fx_init(&f);
	f.sv.fail_first = 2;
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", f.sv.port);
	add_route(&f.inv, "ops", INV_ALERT_WEBHOOK, url);
	fx_start(&f);
	alerter_dispatch(f.a, &ev);
	spin(&f.loop, &f.dl.ok, 1, 5000);
	cr_assert_eq(f.sv.n_req, 3);
	cr_assert_eq(f.dl.n, 3);
	cr_assert_eq(f.dl.last_attempt, 3);
	fx_done(&f);
}

Test(alert, client_error_is_not_retried)
{
	struct fx f;
	struct event ev = mk_event("outage", "outage", 0);
	struct alerter_stats st;
	char url[128];

	fx_init(&f);
	f.sv.status = 400;
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", f.sv.port);
	add_route(&f.inv, "ops", INV_ALERT_WEBHOOK, url);
	fx_start(&f);
	alerter_dispatch(f.a, &ev);
	spin(&f.loop, &f.dl.n, 1, 3000);
	spin(&f.loop, NULL, 0, 500);
	cr_assert_eq(f.sv.n_req, 1);
	alerter_get_stats(f.a, &st);
	cr_assert_eq(st.given_up, 1);
	cr_assert_eq(st.pending, 0);
	cr_assert_str_eq(f.dl.last_error, "HTTP 400");
	fx_done(&f);
}

Test(alert, routes_filter_by_event_and_service)
{
	struct fx f;
	struct event cc = mk_event("catchment_change", "catchment_change", 0);
	struct event out = mk_event("outage", "outage", 0), rec = mk_event("recovery", "outage", 1);
	struct event ntp = mk_event("outage", "outage", 0);
	char url[128];
	json_t *j;

	fx_init(&f);
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", f.sv.port);
	add_route(&f.inv, "ops", INV_ALERT_WEBHOOK, url);
	snprintf(f.inv.alerts[0].events[0], sizeof(f.inv.alerts[0].events[0]), "outage");
	f.inv.alerts[0].n_events = 1;
	snprintf(f.inv.alerts[0].services[0], RESULT_NAME_MAX, "dns");
	f.inv.alerts[0].n_services = 1;
	fx_start(&f);
	snprintf(ntp.service, sizeof(ntp.service), "ntp");
	snprintf(ntp.incident, sizeof(ntp.incident), "outage/br1/ntp/4");
	alerter_dispatch(f.a, &cc);
	alerter_dispatch(f.a, &ntp);
	alerter_dispatch(f.a, &out);
	alerter_dispatch(f.a, &rec); /* recovery of an outage: matches by incident */
	spin(&f.loop, &f.dl.ok, 2, 3000);
	spin(&f.loop, NULL, 0, 300);
	cr_assert_eq(f.sv.n_req, 2);
	j = body_json(&f.sv.req[0]);
	cr_assert_str_eq(sget(j, "type"), "outage");
	cr_assert_str_eq(sget(j, "service"), "dns");
	json_decref(j);
	j = body_json(&f.sv.req[1]);
	cr_assert_str_eq(sget(j, "status"), "resolved", "resolution after the firing alert");
	json_decref(j);
	fx_done(&f);
}

Test(alert, hanging_receiver_does_not_hold_other_routes)
{
	struct fx f;
	struct event ev = mk_event("outage", "outage", 0);
	char url[128];
	uint64_t t0;
	int i;

	fx_init(&f);
	f.sv.mode = 1; /* accepts and reads, never answers */
	server_start(&f.loop, &f.sv, 0);
	server_start(&f.loop, &f.sv2, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", f.sv.port);
	add_route(&f.inv, "slow", INV_ALERT_WEBHOOK, url);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/fast", f.sv2.port);
	add_route(&f.inv, "fast", INV_ALERT_WEBHOOK, url);
	fx_start(&f);
	uv_update_time(&f.loop);
	t0 = uv_now(&f.loop);
	for (i = 0; i < 10; i++) { /* ten incidents: the slow route caps its own requests */
		snprintf(ev.incident, sizeof(ev.incident), "outage/br%d/dns/4", i);
		alerter_dispatch(f.a, &ev);
	}
	spin(&f.loop, &f.sv2.n_req, 10, 1500);
	cr_assert_eq(f.sv2.n_req, 10, "fast route delivered everything");
	cr_assert_lt(uv_now(&f.loop) - t0, 1500);
	cr_assert_leq(f.sv.n_req, 2, "slow route holds at most its own cap in flight");
	fx_done(&f);
}

Test(alert, email_through_smtp)
{
	struct fx f;
	struct event ev = mk_event("instance_down", "instance_down", 0);
	char url[128];
	const char *msg;

	fx_init(&f);
	f.sv.mode = 2;
	server_start(&f.loop, &f.sv, 0);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", f.sv.port);
	add_route(&f.inv, "mail", INV_ALERT_EMAIL, url);
	snprintf(f.inv.alerts[0].mail_from, sizeof(f.inv.alerts[0].mail_from), "monitor@example.org");
	snprintf(f.inv.alerts[0].mail_to, sizeof(f.inv.alerts[0].mail_to),
		 "noc@example.org, oncall@example.org");
	fx_start(&f);
	snprintf(ev.agent, sizeof(ev.agent), "%s", "");
	ev.family = 0;
	snprintf(ev.incident, sizeof(ev.incident), "instance_down/dns/site-a");
	snprintf(ev.detail, sizeof(ev.detail), "{\"cause\":\"management_unreachable\",\"failing_agents\":2}");
	alerter_dispatch(f.a, &ev);
	spin(&f.loop, &f.dl.ok, 1, 5000);
	cr_assert_eq(f.dl.ok, 1, "error: %s", f.dl.last_error);
	cr_assert_eq(f.sv.n_req, 1);
	cr_assert(strstr(f.sv.smtp_from, "monitor@example.org") != NULL);
	cr_assert(strstr(f.sv.smtp_rcpt, "noc@example.org") != NULL);
	cr_assert(strstr(f.sv.smtp_rcpt, "oncall@example.org") != NULL);
	msg = f.sv.req[0].body;
	cr_assert(strstr(msg, "Subject: [FIRING] instance_down: dns instance site-a") != NULL, "%s",
		  msg);
	cr_assert(strstr(msg, "unreachable from 2 agent") != NULL, "%s", msg);
	cr_assert(strstr(msg, "incident: instance_down/dns/site-a") != NULL, "%s", msg);
	fx_done(&f);
}
