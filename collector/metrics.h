/* collector/metrics.h - Prometheus metrics: counters, RTT histograms and the
 * newest probe result per series, kept by the loop thread and rendered in the
 * text exposition format for GET /metrics. Label values come from the
 * inventory only (agent, service and instance names): a result naming
 * anything else adds no series. Loop thread only (no locking). */
#ifndef ANYCAST_METRICS_H
#define ANYCAST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "collector/alert.h"
#include "collector/catchment.h"
#include "common/inventory.h"
#include "collector/http_server.h"
#include "collector/sse.h"
#include "collector/store_writer.h"

struct metrics;

/* NULL on allocation failure. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* The inventory labels are checked against (not owned: call again before
 * the old one is freed, e.g. on reload). Series whose agent, service or
 * instance it no longer has are dropped. */
void metrics_set_inventory(struct metrics *m, const struct inventory *inv);
/* The inventory was loaded (ok != 0: at start and after each successful
 * reload; the time is kept) or a reload failed (ok == 0). */
void metrics_config_reloaded(struct metrics *m, int ok, int64_t now_ms);

/* One stored result: RTT histogram and outcome counter per (agent, service,
 * family, target, instance), and the newest result per probed address (a
 * 0/1 success gauge with its time). Results of an agent or service not in
 * the inventory are only counted; an instance not in it shows as "". */
void metrics_observe_result(struct metrics *m, const struct result *r);
/* An agent reported at now_ms (any authenticated ingest request; also the
 * stored last report at start). Older times than the one kept are ignored. */
void metrics_agent_report(struct metrics *m, const char *agent, int64_t now_ms);
/* One ingest request: results stored, duplicates, and records rejected
 * (a rejected batch counts all its records). */
void metrics_count_ingest(struct metrics *m, uint64_t stored, uint64_t duplicates,
			  uint64_t rejected);
/* Records dropped at ingest: their service or address is not in the inventory. */
void metrics_count_unconfigured(struct metrics *m, uint64_t n);
/* One answered HTTP request with its status code. */
void metrics_count_http(struct metrics *m, int status);
/* One event raised. */
void metrics_count_event(struct metrics *m, const char *type);
/* One alert delivery attempt recorded. */
void metrics_count_delivery(struct metrics *m, int ok);

/* The process as Prometheus's process_* metrics describe it. */
struct metrics_process {
	double cpu_seconds;           /* user + system */
	uint64_t resident_bytes, virtual_bytes;
	int64_t open_fds, max_fds;    /* max_fds -1: unlimited */
	double start_time_seconds;    /* Unix time */
};

/* Read them from /proc (collector/metrics_process.c). 0, or -errno. */
int metrics_process_read(struct metrics_process *p);

/* State that lives elsewhere and is read at render time (all may be NULL). */
/* The collector's role among those sharing its store (collector/leader.h). */
struct metrics_role {
	int leader;             /* 1: classifies, runs incidents and alerts */
	uint64_t changes;       /* role changes since start */
	uint64_t feed_results;  /* results classified that another collector stored */
};

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
	const struct metrics_process *process;
	const struct sse_stats *stream;
	const struct metrics_role *role; /* NULL: not rendered */
};

/* Render everything. Returns a malloc'd NUL-terminated text (caller frees)
 * and its length in *len, or NULL on allocation failure. */
char *metrics_render(struct metrics *m, const struct metrics_inputs *in, size_t *len);

#endif
