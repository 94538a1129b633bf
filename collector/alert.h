/* collector/alert.h - alert delivery: routes from the inventory select events
 * by type and service; webhook, Slack, Alertmanager v2 and SMTP channels via
 * libcurl multi on the loop; retried with backoff; one alert per incident and
 * a resolved notification when the incident closes. Never blocks ingest. */
#ifndef ANYCAST_ALERT_H
#define ANYCAST_ALERT_H

#include <stdint.h>
#include <uv.h>
#include "common/inventory.h"
#include "collector/event.h"

struct alerter;

/* Outcome of each delivery attempt, for the store's alert_deliveries table. */
typedef void (*alert_delivery_fn)(void *ctx, const char *route, const struct event *ev,
				  int attempt, int ok, const char *error);

/* Copies the routes of inv. on_delivery (may be NULL) runs on the loop after
 * every attempt. NULL on allocation failure. */
struct alerter *alerter_new(uv_loop_t *loop, const struct inventory *inv,
			    alert_delivery_fn on_delivery, void *ctx);
/* Replace the routes; queued deliveries keep the route they were made for. */
void alerter_set_inventory(struct alerter *a, const struct inventory *inv);
/* Queue ev for every matching route (copied). Returns at once. A route
 * matches by service and by type; a resolution (ev->resolves) also matches
 * when the incident's opening type (the key's first component) is listed.
 * An incident already firing on a route is not sent again; its resolution is
 * sent once, after the firing alert. */
void alerter_dispatch(struct alerter *a, const struct event *ev);
/* An open incident's scope grew: one update on every route already firing
 * for it (and a first alert on a route it now matches). */
void alerter_update(struct alerter *a, const struct event *ev);
/* An incident open before a restart or reload: remembered as firing on its
 * routes so its resolution is sent; Alertmanager routes get it again now
 * (Alertmanager forgets alerts that are not re-sent). */
void alerter_restore(struct alerter *a, const struct event *ev);
/* Re-send firing alerts to Alertmanager routes every ms (default 60 s; keep
 * it well below Alertmanager's resolve_timeout, 5 m by default). */
void alerter_set_resend(struct alerter *a, int64_t ms);
/* Base URL for links in alerts (generatorURL), e.g. http://noc:8053/. */
void alerter_set_external_url(struct alerter *a, const char *url);
/* Abort requests in flight, drop the queue; cb runs once memory is freed. */
void alerter_close(struct alerter *a, void (*cb)(void *arg), void *arg);

struct alerter_stats {
	uint64_t queued, delivered, failed_attempts, deduplicated, pending;
	uint64_t given_up;   /* deliveries abandoned: retry time over, permanent error, queue full */
	uint64_t in_flight;  /* requests on the wire now */
};
void alerter_get_stats(const struct alerter *a, struct alerter_stats *st);

/* Retry policy: first retry after base_ms, doubling up to max_ms, abandoned
 * give_up_ms after the first attempt (defaults 1 s, 5 min, 1 h); request
 * timeout timeout_ms (default 10 s). Zero keeps a value. Tests shorten them. */
void alerter_set_retry(struct alerter *a, int64_t base_ms, int64_t max_ms, int64_t give_up_ms,
		       int64_t timeout_ms);

#endif
