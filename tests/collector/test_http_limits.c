/* tests/collector/test_http_limits.c - per-client token buckets (on a fake clock), bounded buffers, defaults. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/http_conn.h"

TestSuite(http_limits, .timeout = 30);

Test(http_limits, burst_then_steady_rate)
{
	struct http_ratelimit *rl = http_limits_rate_new(2, 3); /* 2/s, burst 3 */
	int i;

	cr_assert_not_null(rl);
	for (i = 0; i < 3; i++)
		cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 1000), 0, "burst request %d refused", i);
	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 1000), 1, "Retry-After for 2/s");
	cr_assert_gt(http_limits_rate_take(rl, "198.18.0.1", 1400), 0, "0.8 tokens is not a request");
	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 1500), 0, "refilled after 0.5 s");
	/* a long pause refills up to the burst, no further */
	for (i = 0; i < 3; i++)
		cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 100000), 0);
	cr_assert_gt(http_limits_rate_take(rl, "198.18.0.1", 100000), 0);
	http_limits_rate_free(rl);
}

Test(http_limits, clients_are_independent)
{
	struct http_ratelimit *rl = http_limits_rate_new(1, 1);

	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 0), 0);
	cr_assert_gt(http_limits_rate_take(rl, "198.18.0.1", 0), 0);
	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.2", 0), 0, "one client's use limited another");
	cr_assert_eq(http_limits_rate_take(rl, "2001:db8::1", 0), 0);
	http_limits_rate_free(rl);
}

Test(http_limits, retry_after_follows_the_rate)
{
	struct http_ratelimit *rl = http_limits_rate_new(0.1, 1); /* one per 10 s */

	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 0), 0);
	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 0), 10);
	cr_assert_eq(http_limits_rate_take(rl, "198.18.0.1", 5000), 5);
	http_limits_rate_free(rl);
	cr_assert_null(http_limits_rate_new(0, 1), "a zero rate makes no limiter");
}

Test(http_limits, many_clients_stay_in_a_fixed_table)
{
	struct http_ratelimit *rl = http_limits_rate_new(0.001, 1); /* one per 1000 s */
	char ip[64];
	int i, allowed = 0;

	/* 200k addresses over 200 s (fake clock): the table has a fixed size,
	 * and a busy client that keeps coming back keeps its (empty) bucket
	 * instead of being evicted into a fresh one by the crowd. */
	for (i = 0; i < 200000; i++) {
		snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		cr_assert_eq(http_limits_rate_take(rl, ip, (uint64_t)i), 0);
		if (i % 100 == 0)
			allowed += http_limits_rate_take(rl, "198.18.0.9", (uint64_t)i) == 0;
	}
	cr_assert_eq(allowed, 1, "busy client was let through %d times", allowed);
	http_limits_rate_free(rl);
}

Test(http_limits, buffers_stop_at_their_maximum)
{
	struct http_buf b = { 0 };

	cr_assert_eq(http_limits_buf_append(&b, "0123456789", 10, 16), 0);
	cr_assert_eq(http_limits_buf_append(&b, "012345", 6, 16), 0);
	cr_assert_eq(http_limits_buf_append(&b, "x", 1, 16), -E2BIG);
	cr_assert_eq(b.len, 16);
	cr_assert_str_eq(b.data, "0123456789012345", "always NUL-terminated");
	cr_assert_leq(b.cap, 17);
	http_limits_buf_free(&b);
	cr_assert_null(b.data);
}

Test(http_limits, zero_fields_take_the_documented_defaults)
{
	struct http_limits lim = { .max_headers = 10, .rate_per_client = 5 };

	http_limits_defaults(&lim);
	cr_assert_eq(lim.max_header_bytes, 16 * 1024);
	cr_assert_eq(lim.max_headers, 10, "a set field was overwritten");
	cr_assert_eq(lim.max_body_bytes, 16u * 1024 * 1024);
	cr_assert_eq(lim.max_connections, 1024);
	cr_assert_eq(lim.idle_timeout_ms, 60000);
	cr_assert_eq(lim.request_timeout_ms, 10000);
	cr_assert_eq(lim.rate_burst, 5, "burst defaults to one second's worth");
}
