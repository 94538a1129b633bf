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

struct alerter *alerter_new(uv_loop_t *loop, const struct inventory *inv,
			    alert_delivery_fn on_delivery, void *ctx);
void alerter_set_inventory(struct alerter *a, const struct inventory *inv);
/* Queue ev for every matching route (copied). Returns at once. */
void alerter_dispatch(struct alerter *a, const struct event *ev);
void alerter_close(struct alerter *a, void (*cb)(void *arg), void *arg);

struct alerter_stats {
	uint64_t queued, delivered, failed_attempts, deduplicated, pending;
};
void alerter_get_stats(const struct alerter *a, struct alerter_stats *st);

#endif
