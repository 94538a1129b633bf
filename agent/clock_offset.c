/* agent/clock_offset.c - NTP-style offset from one exchange with the
 * collector, and when to warn about it (see clock_offset.h). Pure. */
#include "agent/clock_offset.h"

#include <errno.h>
#include <math.h>

int clock_offset_estimate(int64_t t0_ms, int64_t server_ms, int64_t t1_ms,
                          struct clock_offset_est *est)
{
	if (t1_ms < t0_ms)
		return -EINVAL;
	/* The collector read its clock somewhere between t0 and t1: assume the
	 * middle, and the error is at most half the round trip. In doubles:
	 * t0 + t1 of two epoch-ms values still fits exactly (< 2^53). */
	est->offset_ms = (double)server_ms - ((double)t0_ms + (double)t1_ms) / 2;
	est->bound_ms = ((double)t1_ms - (double)t0_ms) / 2;
	return 0;
}

void clock_offset_watch_init(struct clock_offset_watch *w, int64_t threshold_ms, unsigned reports)
{
	w->threshold_ms = threshold_ms > 0 ? (double)threshold_ms : CLOCK_OFFSET_WARN_MS;
	w->reports = reports > 0 ? reports : CLOCK_OFFSET_WARN_REPORTS;
	w->off_run = 0;
	w->warned = 0;
}

enum clock_offset_verdict clock_offset_watch_update(struct clock_offset_watch *w,
                                                    const struct clock_offset_est *est)
{
	double off = fabs(est->offset_ms);

	if (off - est->bound_ms > w->threshold_ms) {
		if (w->off_run < w->reports)
			w->off_run++;
		if (w->off_run == w->reports && !w->warned) {
			w->warned = 1;
			return CLOCK_OFFSET_WARN;
		}
		return CLOCK_OFFSET_QUIET;
	}
	if (off + est->bound_ms <= w->threshold_ms) {
		w->off_run = 0;
		if (w->warned) {
			w->warned = 0;
			return CLOCK_OFFSET_BACK;
		}
	}
	return CLOCK_OFFSET_QUIET;
}
