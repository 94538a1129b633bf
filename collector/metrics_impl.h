/* collector/metrics_impl.h - internal to collector/metrics*.c: the series
 * table that collector/metrics.c keeps and collector/metrics_render.c
 * prints. Not for use outside those files. */
#ifndef ANYCAST_METRICS_IMPL_H
#define ANYCAST_METRICS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "collector/metrics.h"
#include "common/hashmap.h"

#define METRICS_N_BUCKETS 13
/* Upper bounds in ms (printed in seconds): 1 ms .. 5 s. */
extern const double metrics_rtt_bounds_ms[METRICS_N_BUCKETS];
extern const char *const metrics_event_types[];
#define METRICS_N_EVENT_TYPES 9
#define METRICS_N_OUTCOMES (RESULT_UNKNOWN + 1)

enum series_kind {
	SERIES_RESULTS, /* RTT histogram and outcome counters of one instance's answers */
	SERIES_PROBE,   /* the newest result for one probed address */
	SERIES_AGENT,   /* an agent's last report */
};

/* Keyed by (kind, agent, service, family, target, instance). RESULTS: the
 * instance that answered ("" for none or one the inventory lacks). PROBE:
 * for the management target the instance that owns the address, for the
 * anycast target "" (one series per address), the answering instance then
 * being a label (shown) that follows the newest result. AGENT: agent only. */
struct series {
	struct series *next;
	uint64_t hash;
	enum series_kind kind;
	/* agent, service, instance and shown point into struct metrics'
	 * names (or at ""): a series costs its counters, not 4 name buffers. */
	const char *agent;
	const char *service;
	const char *instance;
	int family;
	int target;
	uint64_t buckets[METRICS_N_BUCKETS]; /* non-cumulative */
	uint64_t count, outcomes[METRICS_N_OUTCOMES];
	double sum_ms;
	int success;                         /* PROBE */
	const char *shown;                   /* PROBE: the anycast_instance label */
	int64_t last_ms;                     /* PROBE: result time; AGENT: report time */
};

struct metrics {
	const struct inventory *inv;         /* not owned */
	struct series **table;
	size_t n_slots, n_series;
	struct hashmap names;                /* label value -> its one owned copy; kept until
						metrics_free (bounded by the names the
						inventories ever had) */
	uint64_t dropped_series;             /* over MAX_SERIES */
	uint64_t ignored_results;            /* agent or service not in the inventory */
	uint64_t stored, duplicates, rejected;
	uint64_t unconfigured; /* records of services or addresses not in the inventory */
	uint64_t http[6];                    /* by status class 1xx..5xx, [0] other */
	uint64_t http_code[600];
	uint64_t events[METRICS_N_EVENT_TYPES + 1];
	uint64_t deliveries_ok, deliveries_failed;
	int reload_ok;
	int64_t reload_ok_ms;
};

/* The series of that key, or NULL. */
const struct series *metrics_find(const struct metrics *m, enum series_kind kind,
				  const char *agent, const char *service, int family, int target,
				  const char *instance);
/* name when it is one of the service's instances in the inventory, else "". */
const char *metrics_instance_label(const struct inventory *inv, const char *service,
				   const char *name);

#endif
