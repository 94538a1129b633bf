/* collector/metrics.h - Prometheus metrics: counters and RTT histograms kept
 * by the loop thread, rendered in the text exposition format for GET /metrics.
 * Loop thread only (no locking). */
#ifndef ANYCAST_METRICS_H
#define ANYCAST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "collector/alert.h"
#include "collector/catchment.h"
#include "collector/http_server.h"
#include "collector/store_writer.h"

struct metrics;

/* NULL on allocation failure. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One stored result: RTT histogram per (agent, service, target), outcome
 * counter, agent last-seen time. */
void metrics_observe_result(struct metrics *m, const struct result *r);
/* An agent reported (any ingest request it made that was authenticated). */
void metrics_agent_report(struct metrics *m, const char *agent, int64_t now_ms);
/* One ingest request: results stored, duplicates, and records rejected
 * (a rejected batch counts all its records). */
void metrics_count_ingest(struct metrics *m, uint64_t stored, uint64_t duplicates,
			  uint64_t rejected);
/* One answered HTTP request with its status code. */
void metrics_count_http(struct metrics *m, int status);
/* One event raised. */
void metrics_count_event(struct metrics *m, const char *type);
/* One alert delivery attempt recorded. */
void metrics_count_delivery(struct metrics *m, int ok);

/* State that lives elsewhere and is read at render time (all may be NULL). */
struct metrics_inputs {
	const struct catchment_row *rows;
	size_t n_rows;
	const struct http_server_stats *http;
	const struct alerter_stats *alerts;
	const struct store_writer_stats *writer;
	size_t writer_backlog;
	int store_watched;           /* store_corrupt is known */
	uint64_t store_corrupt;      /* SQLite reports of a damaged database */
	int64_t start_ms;
};

/* Render everything. Returns a malloc'd NUL-terminated text (caller frees)
 * and its length in *len, or NULL on allocation failure. */
char *metrics_render(struct metrics *m, const struct metrics_inputs *in, size_t *len);

#endif
