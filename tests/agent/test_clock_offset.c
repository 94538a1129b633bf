/* tests/agent/test_clock_offset.c - the NTP-style offset estimate from one
 * exchange and the rule that turns estimates into one warning and one
 * recovery: pure arithmetic on made-up times. */
#include <criterion/criterion.h>
#include <errno.h>

#include "agent/clock_offset.h"

/* 2026-12-02T12:00:00Z in ms: realistic magnitudes for the doubles. */
#define T0 1796212800000LL

static struct clock_offset_est est(int64_t t0, int64_t server, int64_t t1)
{
	struct clock_offset_est e;

	cr_assert_eq(clock_offset_estimate(t0, server, t1, &e), 0);
	return e;
}

Test(clock_offset, estimate_is_the_midpoint_with_half_the_round_trip)
{
	/* The collector answered 40 ms after we sent, with a clock right on. */
	struct clock_offset_est e = est(T0, T0 + 20, T0 + 40);
	cr_assert_float_eq(e.offset_ms, 0.0, 1e-9);
	cr_assert_float_eq(e.bound_ms, 20.0, 1e-9);

	/* Its clock is 5 s ahead of ours: positive offset. */
	e = est(T0, T0 + 5000 + 20, T0 + 40);
	cr_assert_float_eq(e.offset_ms, 5000.0, 1e-9);
	/* 5 s behind: negative. */
	e = est(T0, T0 - 5000 + 20, T0 + 40);
	cr_assert_float_eq(e.offset_ms, -5000.0, 1e-9);

	/* Asymmetric paths stay inside the bound: answered at t0 or t1. */
	e = est(T0, T0, T0 + 40);
	cr_assert_float_eq(e.offset_ms, -20.0, 1e-9);
	cr_assert_leq(-e.offset_ms, e.bound_ms);
	e = est(T0, T0 + 40, T0 + 40);
	cr_assert_float_eq(e.offset_ms, 20.0, 1e-9);

	/* An odd round trip keeps its half millisecond. */
	e = est(T0, T0 + 1, T0 + 3);
	cr_assert_float_eq(e.offset_ms, -0.5, 1e-9);
	cr_assert_float_eq(e.bound_ms, 1.5, 1e-9);

	/* Zero round trip: exact. */
	e = est(T0, T0 + 7, T0);
	cr_assert_float_eq(e.offset_ms, 7.0, 1e-9);
	cr_assert_float_eq(e.bound_ms, 0.0, 1e-9);
}

Test(clock_offset, our_clock_stepping_back_gives_no_estimate)
{
	struct clock_offset_est e = {.offset_ms = 123, .bound_ms = 4};

	cr_assert_eq(clock_offset_estimate(T0, T0, T0 - 1, &e), -EINVAL);
	cr_assert_float_eq(e.offset_ms, 123.0, 1e-9, "untouched on error");
}

static enum clock_offset_verdict feed(struct clock_offset_watch *w, double offset, double bound)
{
	struct clock_offset_est e = {.offset_ms = offset, .bound_ms = bound};
	return clock_offset_watch_update(w, &e);
}

Test(clock_offset, defaults)
{
	struct clock_offset_watch w;

	clock_offset_watch_init(&w, 0, 0);
	cr_assert_float_eq(w.threshold_ms, (double)CLOCK_OFFSET_WARN_MS, 1e-9);
	cr_assert_eq(w.reports, CLOCK_OFFSET_WARN_REPORTS);
	cr_assert_eq(CLOCK_OFFSET_WARN_MS, 1000);
	cr_assert_eq(CLOCK_OFFSET_WARN_REPORTS, 3);
}

Test(clock_offset, a_right_clock_never_warns)
{
	struct clock_offset_watch w;

	clock_offset_watch_init(&w, 1000, 3);
	/* What the Date header's 1 s resolution used to look like: up to
	 * 999 ms off; and a millisecond estimate of a right clock. */
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(feed(&w, (i % 10) * 99.9, 1), CLOCK_OFFSET_QUIET);
		cr_assert_eq(feed(&w, -2, 3), CLOCK_OFFSET_QUIET);
	}
	cr_assert_eq(w.warned, 0);
}

Test(clock_offset, warns_once_after_n_reports_in_a_row)
{
	struct clock_offset_watch w;

	clock_offset_watch_init(&w, 1000, 3);
	cr_assert_eq(feed(&w, 5000, 2), CLOCK_OFFSET_QUIET, "report 1");
	cr_assert_eq(feed(&w, 5001, 2), CLOCK_OFFSET_QUIET, "report 2");
	cr_assert_eq(feed(&w, 4999, 2), CLOCK_OFFSET_WARN, "report 3");
	for (int i = 0; i < 50; i++)
		cr_assert_eq(feed(&w, 5000, 2), CLOCK_OFFSET_QUIET, "warned once only");
	cr_assert_eq(w.warned, 1);
	/* Behind works the same as ahead. */
	clock_offset_watch_init(&w, 1000, 3);
	feed(&w, -5000, 2);
	feed(&w, -5000, 2);
	cr_assert_eq(feed(&w, -5000, 2), CLOCK_OFFSET_WARN);
}

Test(clock_offset, a_good_report_breaks_the_run)
{
	struct clock_offset_watch w;

	clock_offset_watch_init(&w, 1000, 3);
	feed(&w, 5000, 2);
	feed(&w, 5000, 2);
	cr_assert_eq(feed(&w, 10, 2), CLOCK_OFFSET_QUIET, "a right answer");
	cr_assert_eq(feed(&w, 5000, 2), CLOCK_OFFSET_QUIET, "run starts again: 1");
	cr_assert_eq(feed(&w, 5000, 2), CLOCK_OFFSET_QUIET, "2");
	cr_assert_eq(feed(&w, 5000, 2), CLOCK_OFFSET_WARN, "3");
}

Test(clock_offset, the_bound_counts_against_the_offset)
{
	struct clock_offset_watch w;

	clock_offset_watch_init(&w, 1000, 3);
	/* 1.5 s off but +-0.6 s: could be 0.9 s, not certainly off. */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(feed(&w, 1500, 600), CLOCK_OFFSET_QUIET);
	cr_assert_eq(w.off_run, 0);
	/* Exactly at the threshold is not beyond it. */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(feed(&w, 1010, 10), CLOCK_OFFSET_QUIET);
	/* Uncertain estimates neither extend nor break a run. */
	feed(&w, 3000, 10);
	feed(&w, 3000, 10);
	cr_assert_eq(feed(&w, 1500, 600), CLOCK_OFFSET_QUIET);
	cr_assert_eq(feed(&w, 3000, 10), CLOCK_OFFSET_WARN);
}

Test(clock_offset, logs_once_when_back_within_bounds)
{
	struct clock_offset_watch w;

	clock_offset_watch_init(&w, 1000, 3);
	for (int i = 0; i < 3; i++)
		feed(&w, -5000, 1);
	cr_assert_eq(w.warned, 1);
	/* Slow exchanges cannot tell: no recovery from them. */
	cr_assert_eq(feed(&w, 200, 900), CLOCK_OFFSET_QUIET);
	cr_assert_eq(w.warned, 1);
	cr_assert_eq(feed(&w, 3, 1), CLOCK_OFFSET_BACK);
	cr_assert_eq(feed(&w, 3, 1), CLOCK_OFFSET_QUIET, "once");
	cr_assert_eq(w.warned, 0);
	/* And a new drift warns again after a new run. */
	feed(&w, 2000, 1);
	feed(&w, 2000, 1);
	cr_assert_eq(feed(&w, 2000, 1), CLOCK_OFFSET_WARN);
}
