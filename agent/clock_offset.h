/* agent/clock_offset.h - how far this agent's clock is from the collector's,
 * estimated NTP-style from one HTTP exchange, and the rule that decides when
 * that is worth a warning. Pure: no clocks read, no I/O; the reporter feeds
 * it the times of each answer and does the logging. */
#ifndef ANYCAST_CLOCK_OFFSET_H
#define ANYCAST_CLOCK_OFFSET_H

#include <stdint.h>

/* Warn when the clock is off by more than this, for this many reports in a
 * row (reporter_options may override both). */
#define CLOCK_OFFSET_WARN_MS 1000
#define CLOCK_OFFSET_WARN_REPORTS 3

/* One estimate. The true offset lies in [offset_ms - bound_ms,
 * offset_ms + bound_ms] as long as the collector read its clock between our
 * send and our receive. */
struct clock_offset_est {
	double offset_ms; /* collector's clock minus ours: T - (t0 + t1) / 2 */
	double bound_ms;  /* (t1 - t0) / 2 */
};

/* Estimate from t0 (our clock as the request left), server_ms (the
 * collector's clock in its answer) and t1 (our clock as the answer arrived),
 * all ms since the epoch. Returns 0, or -EINVAL when t1 < t0 (our clock
 * stepped back during the exchange: no estimate). */
int clock_offset_estimate(int64_t t0_ms, int64_t server_ms, int64_t t1_ms,
                          struct clock_offset_est *est);

enum clock_offset_verdict {
	CLOCK_OFFSET_QUIET = 0, /* nothing to say */
	CLOCK_OFFSET_WARN,      /* off for `reports` reports in a row: warn (once) */
	CLOCK_OFFSET_BACK,      /* after a warning, certainly within the threshold again */
};

/* The warning rule. Each estimate is one of:
 *   off:       |offset| - bound >  threshold (certainly off by more);
 *   fine:      |offset| + bound <= threshold (certainly within);
 *   uncertain: neither (the exchange was too slow to tell): ignored, it
 *              neither extends nor breaks a run.
 * WARN comes once, at the `reports`-th off estimate in a row (fine ones
 * break the run); BACK comes once, at the first fine estimate after it. */
struct clock_offset_watch {
	double threshold_ms;
	unsigned reports;
	unsigned off_run; /* off estimates in a row */
	int warned;
};

/* threshold_ms <= 0 or reports == 0: the defaults above. */
void clock_offset_watch_init(struct clock_offset_watch *w, int64_t threshold_ms, unsigned reports);
enum clock_offset_verdict clock_offset_watch_update(struct clock_offset_watch *w,
                                                    const struct clock_offset_est *est);

#endif
