/* collector/alert.c - alert delivery: route matching, one alert per incident
 * and route, a bounded queue of deliveries sent with libcurl multi on the
 * loop (common/curl_uv.h), retried with exponential backoff and abandoned
 * after a while. Payloads come from alert_format.c.
 *
 * A delivery waits while an earlier delivery of the same route and incident
 * is queued, so a resolution never overtakes its firing alert. At most
 * ROUTE_IN_FLIGHT requests per route and TOTAL_IN_FLIGHT in all are on the
 * wire, each with a timeout: a dead receiver holds only its own route.
 * Alertmanager forgets alerts that are not re-sent (resolve_timeout), so
 * firing alerts on Alertmanager routes are re-sent every AM_RESEND_MS.
 * Transfers themselves (and why email uses the thread pool): alert_send.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alert_impl.h"
#include "collector/incident.h"
#include "common/curl_uv.h"
#include "common/log.h"

static void kick(struct alerter *a);

static int
copy_routes(struct alerter *a, const struct inventory *inv)
{
	struct inv_alert *r = NULL;

	if (inv->n_alerts > 0) {
		if ((r = calloc((size_t)inv->n_alerts, sizeof(*r))) == NULL)
			return -ENOMEM;
		memcpy(r, inv->alerts, (size_t)inv->n_alerts * sizeof(*r));
	}
	free(a->routes);
	a->routes = r;
	a->n_routes = inv->n_alerts;
	return 0;
}

struct alerter *
alerter_new(uv_loop_t *loop, const struct inventory *inv, alert_delivery_fn on_delivery, void *ctx)
{
	struct alerter *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->loop = loop;
	a->on_delivery = on_delivery;
	a->ctx = ctx;
	a->base_ms = 1000;
	a->max_ms = 5 * 60 * 1000;
	a->give_up_ms = 3600 * 1000;
	a->timeout_ms = 10000;
	a->resend_ms = AM_RESEND_MS;
	if (copy_routes(a, inv) < 0 || (a->cu = curl_uv_new(loop, 2 * TOTAL_IN_FLIGHT)) == NULL) {
		free(a->routes);
		free(a);
		return NULL;
	}
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	return a;
}

void
alerter_set_retry(struct alerter *a, int64_t base_ms, int64_t max_ms, int64_t give_up_ms,
		  int64_t timeout_ms)
{
	if (base_ms > 0)
		a->base_ms = base_ms;
	if (max_ms > 0)
		a->max_ms = max_ms;
	if (give_up_ms > 0)
		a->give_up_ms = give_up_ms;
	if (timeout_ms > 0)
		a->timeout_ms = timeout_ms;
}

void
alerter_set_inventory(struct alerter *a, const struct inventory *inv)
{
	if (copy_routes(a, inv) < 0)
		log_warnx("alert: out of memory reloading routes; keeping the old ones");
}

void
alerter_set_resend(struct alerter *a, int64_t ms)
{
	if (ms > 0)
		a->resend_ms = ms;
}

void
alerter_set_external_url(struct alerter *a, const char *url)
{
	size_t n = strlen(url);

	snprintf(a->external_url, sizeof(a->external_url), "%s%s", url,
		 n > 0 && url[n - 1] == '/' ? "" : "/");
}

void
alerter_get_stats(const struct alerter *a, struct alerter_stats *st)
{
	*st = a->st;
	st->pending = a->n_queue;
	st->in_flight = (uint64_t)(curl_uv_in_flight(a->cu) + a->n_work);
}

static int
listed(const char list[][RESULT_NAME_MAX], int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* Event types that routes listed before incidents existed, and the
 * incident kinds they stand for. */
static int
legacy_names_kind(const char *event, const char *kind)
{
	static const char *const map[][2] = {
	    {"catchment_change", "route_change"}, {"catchment_change", "instance_down"},
	    {"outage", "outage"},                 {"outage", "branch_isolated"},
	    {"unknown_instance", "hijack"},       {"instance_down", "instance_down"},
	    {"split", "split"},                   {"flapping", "flapping"},
	    {"suboptimal", "suboptimal"},         {"agent_silent", "agent_silent"},
	    /* A guard's withdrawal was an instance_down before guards reported. */
	    {"catchment_change", "withdrawn"},    {"instance_down", "withdrawn"},
	    {"guard_withdraw", "withdrawn"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], event) == 0 && strcmp(map[i][1], kind) == 0)
			return 1;
	return strcmp(event, kind) == 0;
}

static int
service_matches(const struct inv_alert *r, const struct event *ev)
{
	json_t *d, *svcs;
	size_t k;
	int hit = 0;

	if (r->n_services == 0 || listed(r->services, r->n_services, ev->service))
		return 1;
	/* an incident may touch several services: any of them */
	if (ev->incident_id <= 0 || (d = json_loads(ev->detail, 0, NULL)) == NULL)
		return 0;
	svcs = json_object_get(d, "services");
	for (k = 0; k < json_array_size(svcs) && !hit; k++) {
		const char *s = json_string_value(json_array_get(svcs, k));

		hit = s != NULL && listed(r->services, r->n_services, s);
	}
	json_decref(d);
	return hit;
}

/* Incident alerts (ev->incident_id > 0, ev->type = kind) match by kinds:,
 * else by events: (old event names stand for their kinds), and by
 * severity: and services:. */
static int
route_matches(const struct inv_alert *r, const struct event *ev)
{
	enum incident_kind kind;
	char type[32];
	int i;

	if (!service_matches(r, ev))
		return 0;
	if (ev->incident_id > 0 && incident_kind_parse(ev->type, &kind) == 0) {
		if (incident_severity_level(kind) < r->min_severity)
			return 0;
		if (r->n_kinds > 0) {
			for (i = 0; i < r->n_kinds; i++)
				if (strcmp(r->kinds[i], ev->type) == 0)
					return 1;
			return 0;
		}
		if (r->n_events == 0)
			return 1;
		for (i = 0; i < r->n_events; i++)
			if (legacy_names_kind(r->events[i], ev->type))
				return 1;
		return 0;
	}
	if (r->n_events == 0)
		return 1;
	snprintf(type, sizeof(type), "%.*s", (int)strcspn(ev->incident, "/"), ev->incident);
	for (i = 0; i < r->n_events; i++)
		if (strcmp(r->events[i], ev->type) == 0 ||
		    (ev->resolves && strcmp(r->events[i], type) == 0))
			return 1;
	return 0;
}

static struct alert_incident *
find_incident(struct alerter *a, const char *route, const char *key)
{
	struct alert_incident *in;

	for (in = a->incidents; in != NULL; in = in->next)
		if (strcmp(in->key, key) == 0 && strcmp(in->route, route) == 0)
			return in;
	return NULL;
}

/* Forget resolutions older than RESOLVED_KEEP_MS; when still full, the
 * oldest entry. */
static void
prune_incidents(struct alerter *a, uint64_t now)
{
	struct alert_incident **pp = &a->incidents, *in, **oldest = NULL;

	while ((in = *pp) != NULL) {
		if (!in->firing && now - in->updated_ms > RESOLVED_KEEP_MS) {
			*pp = in->next;
			free(in);
			a->n_incidents--;
			continue;
		}
		if (oldest == NULL || in->updated_ms < (*oldest)->updated_ms)
			oldest = pp;
		pp = &in->next;
	}
	if (a->n_incidents >= INCIDENTS_MAX && oldest != NULL) {
		in = *oldest;
		*oldest = in->next;
		free(in);
		a->n_incidents--;
	}
}

static void
free_delivery(struct delivery *d)
{
	if (d->hdrs != NULL)
		curl_slist_free_all(d->hdrs);
	if (d->rcpt != NULL)
		curl_slist_free_all(d->rcpt);
	free(d->payload);
	free(d);
}

static void
unlink_delivery(struct alerter *a, struct delivery *d)
{
	struct delivery **pp;

	for (pp = &a->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			a->n_queue--;
			return;
		}
	}
}

static void
enqueue(struct alerter *a, const struct inv_alert *r, const struct event *ev,
	const struct event *open, int resolved, int resend)
{
	struct delivery *d, **pp, *victim = NULL;

	if (a->n_queue >= QUEUE_MAX) {
		for (d = a->head; d != NULL && victim == NULL; d = d->next)
			if (!d->in_flight)
				victim = d;
		if (victim == NULL)
			return;
		log_warnx("alert: queue full, dropping %s for route %s", victim->ev.incident,
			  victim->route.name);
		unlink_delivery(a, victim);
		free_delivery(victim);
		a->st.given_up++;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		a->st.given_up++;
		return;
	}
	d->a = a;
	d->route = *r;
	d->ev = *ev;
	d->open = *open;
	d->resolved = resolved;
	d->resend = resend;
	d->first_ms = d->next_ms = uv_now(a->loop);
	for (pp = &a->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = d;
	a->n_queue++;
	if (!resend)
		a->st.queued++;
}

static struct alert_incident *
new_incident(struct alerter *a, const char *route, const struct event *ev, uint64_t now)
{
	struct alert_incident *in;

	prune_incidents(a, now);
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	snprintf(in->route, sizeof(in->route), "%s", route);
	snprintf(in->key, sizeof(in->key), "%s", ev->incident);
	in->next = a->incidents;
	a->incidents = in;
	a->n_incidents++;
	return in;
}

static void
alerter_dispatch_route(struct alerter *a, const struct inv_alert *r, const struct event *ev)
{
	uint64_t now = uv_now(a->loop);
	struct alert_incident *in;

	if (ev->incident[0] == '\0') { /* no incident: nothing to dedupe on */
		enqueue(a, r, ev, ev, ev->resolves, 0);
		return;
	}
	in = find_incident(a, r->name, ev->incident);
	if (!ev->resolves) {
		if (in != NULL && in->firing) {
			a->st.deduplicated++;
			return;
		}
		if (in == NULL && (in = new_incident(a, r->name, ev, now)) == NULL)
			return;
		in->type = r->type;
		in->firing = 1;
		in->open = *ev;
		in->updated_ms = in->sent_ms = now;
		enqueue(a, r, ev, ev, 0, 0);
		return;
	}
	if (in != NULL && !in->firing) {
		a->st.deduplicated++;
		return;
	}
	/* Unknown incident: opened before a restart; tell the receiver anyway. */
	enqueue(a, r, ev, in != NULL ? &in->open : ev, 1, 0);
	if (in == NULL && (in = new_incident(a, r->name, ev, now)) != NULL)
		in->open = *ev;
	if (in != NULL) {
		in->firing = 0;
		in->updated_ms = now;
	}
}

void
alerter_dispatch(struct alerter *a, const struct event *ev)
{
	if (a->closing)
		return;
	for (int i = 0; i < a->n_routes; i++)
		if (route_matches(&a->routes[i], ev))
			alerter_dispatch_route(a, &a->routes[i], ev);
	kick(a);
}

void
alerter_update(struct alerter *a, const struct event *ev)
{
	struct alert_incident *in;
	struct event up;

	if (a->closing)
		return;
	up = *ev;
	up.update = 1;
	for (int i = 0; i < a->n_routes; i++) {
		const struct inv_alert *r = &a->routes[i];

		if (!route_matches(r, &up))
			continue;
		in = find_incident(a, r->name, ev->incident);
		if (in == NULL || !in->firing) {
			/* the scope now reaches this route: its first alert */
			up.update = 0;
			alerter_dispatch_route(a, r, &up);
			up.update = 1;
			continue;
		}
		in->open = up; /* Alertmanager re-sends carry the new text */
		in->open.update = 0;
		in->updated_ms = in->sent_ms = uv_now(a->loop);
		enqueue(a, r, &up, &in->open, 0, 0);
	}
	kick(a);
}

void
alerter_restore(struct alerter *a, const struct event *ev)
{
	uint64_t now = uv_now(a->loop);
	struct alert_incident *in;

	if (a->closing)
		return;
	for (int i = 0; i < a->n_routes; i++) {
		const struct inv_alert *r = &a->routes[i];

		if (!route_matches(r, ev))
			continue;
		if ((in = find_incident(a, r->name, ev->incident)) == NULL &&
		    (in = new_incident(a, r->name, ev, now)) == NULL)
			continue;
		in->type = r->type;
		in->open = *ev;
		in->updated_ms = now;
		if (r->type == INV_ALERT_ALERTMANAGER && !(in->firing && now - in->sent_ms < 1000)) {
			/* it must hear of it again or it resolves it by itself */
			in->sent_ms = now;
			enqueue(a, r, ev, ev, 0, 1);
		}
		/* other channels were told before the restart: only remember,
		 * so the resolution is sent when it comes */
		in->firing = 1;
	}
	kick(a);
}

static int64_t
backoff(const struct alerter *a, int attempt)
{
	int64_t ms = a->base_ms;

	while (--attempt > 0 && ms < a->max_ms)
		ms *= 2;
	return ms < a->max_ms ? ms : a->max_ms;
}

void
alert_transfer_done(void *arg, CURL *easy, CURLcode res)
{
	struct delivery *d = arg;
	struct alerter *a = d->a;
	char err[CURL_ERROR_SIZE + 32];
	long code = 0;
	int ok, permanent = 0;

	d->in_flight = 0;
	d->easy = NULL;
	if (d->route.type != INV_ALERT_EMAIL)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	if (a->closing || res == CURLE_ABORTED_BY_CALLBACK) {
		unlink_delivery(a, d);
		free_delivery(d);
		return;
	}
	d->attempt++;
	ok = res == CURLE_OK && (d->route.type == INV_ALERT_EMAIL || (code >= 200 && code < 300));
	if (res != CURLE_OK)
		snprintf(err, sizeof(err), "%s", d->errbuf[0] != '\0' ? d->errbuf :
						 curl_easy_strerror(res));
	else if (!ok)
		snprintf(err, sizeof(err), "HTTP %ld", code);
	else
		err[0] = '\0';
	/* 4xx other than timeout/rate limit: the payload is refused, retrying will not help */
	if (res == CURLE_OK && code >= 400 && code < 500 && code != 408 && code != 429)
		permanent = 1;
	if (a->on_delivery != NULL)
		a->on_delivery(a->ctx, d->route.name, &d->ev, d->attempt, ok, ok ? NULL : err);
	if (ok) {
		a->st.delivered++;
		unlink_delivery(a, d);
		free_delivery(d);
	} else {
		a->st.failed_attempts++;
		if (permanent || uv_now(a->loop) - d->first_ms >= (uint64_t)a->give_up_ms) {
			log_warnx("alert: route %s: giving up on %s after %d attempts: %s", d->route.name,
				  d->ev.incident, d->attempt, err);
			a->st.given_up++;
			unlink_delivery(a, d);
			free_delivery(d);
		} else {
			log_debug("alert: route %s: attempt %d for %s failed: %s", d->route.name,
				  d->attempt, d->ev.incident, err);
			d->next_ms = uv_now(a->loop) + (uint64_t)backoff(a, d->attempt);
		}
	}
	kick(a);
}

static int
earlier_pending(const struct alerter *a, const struct delivery *d)
{
	const struct delivery *x;

	for (x = a->head; x != NULL && x != d; x = x->next)
		if (strcmp(x->ev.incident, d->ev.incident) == 0 &&
		    strcmp(x->route.name, d->route.name) == 0)
			return 1;
	return 0;
}

static int
route_in_flight(const struct alerter *a, const char *route)
{
	const struct delivery *x;
	int n = 0;

	for (x = a->head; x != NULL; x = x->next)
		n += x->in_flight && strcmp(x->route.name, route) == 0;
	return n;
}

/* Re-send firing alerts to Alertmanager before it forgets them. */
static void
resend_firing(struct alerter *a, uint64_t now)
{
	struct alert_incident *in;
	int i;

	for (in = a->incidents; in != NULL; in = in->next) {
		if (!in->firing || in->type != INV_ALERT_ALERTMANAGER || now - in->sent_ms < (uint64_t)a->resend_ms)
			continue;
		for (i = 0; i < a->n_routes; i++)
			if (strcmp(a->routes[i].name, in->route) == 0 &&
			    a->routes[i].type == INV_ALERT_ALERTMANAGER)
				break;
		in->sent_ms = now;
		if (i < a->n_routes)
			enqueue(a, &a->routes[i], &in->open, &in->open, 0, 1);
	}
}

static void
run_queue(uv_timer_t *t)
{
	struct alerter *a = t->data;
	struct delivery *d, *next;
	uint64_t now = uv_now(a->loop), wake = 0;
	int total = curl_uv_in_flight(a->cu) + a->n_work;

	resend_firing(a, now);
	for (d = a->head; d != NULL; d = next) {
		next = d->next;
		if (d->in_flight || earlier_pending(a, d))
			continue;
		if (d->next_ms > now) {
			if (wake == 0 || d->next_ms < wake)
				wake = d->next_ms;
			continue;
		}
		if (total >= TOTAL_IN_FLIGHT || route_in_flight(a, d->route.name) >= ROUTE_IN_FLIGHT)
			continue; /* a done callback will run the queue again */
		if (alert_send_start(a, d) < 0) { /* out of memory or threads: like a failure */
			if (d->easy != NULL)
				curl_easy_cleanup(d->easy);
			d->easy = NULL;
			d->attempt++;
			a->st.failed_attempts++;
			if (now - d->first_ms >= (uint64_t)a->give_up_ms) {
				a->st.given_up++;
				unlink_delivery(a, d);
				free_delivery(d);
				continue;
			}
			d->next_ms = now + (uint64_t)backoff(a, d->attempt);
			if (wake == 0 || d->next_ms < wake)
				wake = d->next_ms;
			continue;
		}
		d->in_flight = 1;
		total++;
	}
	if (wake == 0 && a->incidents != NULL)
		wake = now + (uint64_t)a->resend_ms;
	if (wake != 0)
		uv_timer_start(&a->timer, run_queue, wake > now ? wake - now : 0, 0);
}

/* Run the queue from the loop, never from the caller's stack. */
static void
kick(struct alerter *a)
{
	if (!a->closing)
		uv_timer_start(&a->timer, run_queue, 0, 0);
}

static void
timer_closed(uv_handle_t *h)
{
	struct alerter *a = h->data;
	struct alert_incident *in;
	struct delivery *d;

	while ((d = a->head) != NULL) { /* none left unless curl_uv kept some */
		a->head = d->next;
		free_delivery(d);
	}
	while ((in = a->incidents) != NULL) {
		a->incidents = in->next;
		free(in);
	}
	free(a->routes);
	if (a->close_cb != NULL)
		a->close_cb(a->close_arg);
	free(a);
}

/* Free once curl_uv is closed and no email transfer runs in the pool. */
void
alert_maybe_closed(struct alerter *a)
{
	if (a->cu_closed && a->n_work == 0 && !uv_is_closing((uv_handle_t *)&a->timer))
		uv_close((uv_handle_t *)&a->timer, timer_closed);
}

static void
cu_closed(void *arg)
{
	struct alerter *a = arg;

	a->cu_closed = 1;
	alert_maybe_closed(a);
}

void
alerter_close(struct alerter *a, void (*cb)(void *arg), void *arg)
{
	struct delivery *d, *next;

	a->closing = 1;
	a->close_cb = cb;
	a->close_arg = arg;
	uv_timer_stop(&a->timer);
	for (d = a->head; d != NULL; d = next) {
		next = d->next;
		if (!d->in_flight) {
			unlink_delivery(a, d);
			free_delivery(d);
		} else if (d->route.type == INV_ALERT_EMAIL) {
			uv_cancel((uv_req_t *)&d->work); /* fails once running: then we wait */
		}
	}
	curl_uv_close(a->cu, cu_closed, a);
}
