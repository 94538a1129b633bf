/* tests/collector/test_http_limits.c - per-client token buckets (on a fake clock), connections
 * per source, bounded buffers, defaults. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
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
	cr_assert_eq(lim.max_conns_per_source, 64);
	cr_assert_eq(lim.idle_timeout_ms, 60000);
	cr_assert_eq(lim.request_timeout_ms, 10000);
	cr_assert_eq(lim.rate_burst, 5, "burst defaults to one second's worth");
}

static void
key_of(const char *ip, uint8_t key[HTTP_SOURCE_KEY_LEN])
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		cr_assert_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1, "%s", ip);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		cr_assert_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1, "%s", ip);
	}
	cr_assert_eq(http_limits_source_key((struct sockaddr *)&ss, key), 0);
}

static int
same_source(const char *a, const char *b)
{
	uint8_t ka[HTTP_SOURCE_KEY_LEN], kb[HTTP_SOURCE_KEY_LEN];

	key_of(a, ka);
	key_of(b, kb);
	return memcmp(ka, kb, sizeof(ka)) == 0;
}

Test(http_limits, a_source_is_an_ipv4_address_or_an_ipv6_64)
{
	cr_assert(same_source("198.18.0.1", "::ffff:198.18.0.1"), "IPv4-mapped is the same client");
	cr_assert(!same_source("198.18.0.1", "198.18.0.2"));
	cr_assert(!same_source("127.0.0.1", "127.0.0.2"));
	cr_assert(same_source("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"), "one /64");
	cr_assert(!same_source("2001:db8:1:2::1", "2001:db8:1:3::1"));
	cr_assert(!same_source("::1", "0.0.0.0"), "an IPv6 /64 key never equals an IPv4 one");
	cr_assert(!same_source("::ffff:0:0", "::"));
}

Test(http_limits, source_counts_stop_at_the_cap_and_free_on_close)
{
	struct http_sources *s = http_limits_sources_new(1024);
	uint8_t a[HTTP_SOURCE_KEY_LEN], b[HTTP_SOURCE_KEY_LEN];
	int i;

	cr_assert_not_null(s);
	key_of("198.18.0.1", a);
	key_of("2001:db8::1", b);
	for (i = 1; i <= 64; i++)
		cr_assert_eq(http_limits_source_add(s, a, 64), i);
	cr_assert_eq(http_limits_source_add(s, a, 64), -EBUSY);
	cr_assert_eq(http_limits_source_count(s, a), 64, "a refused connection was counted");
	cr_assert_eq(http_limits_source_add(s, b, 64), 1, "another source is not affected");
	http_limits_source_remove(s, a);
	cr_assert_eq(http_limits_source_add(s, a, 64), 64);
	for (i = 0; i < 64; i++)
		http_limits_source_remove(s, a);
	cr_assert_eq(http_limits_source_count(s, a), 0);
	http_limits_source_remove(s, a); /* one too many: ignored */
	cr_assert_eq(http_limits_source_count(s, a), 0);
	cr_assert_eq(http_limits_source_count(s, b), 1);
	http_limits_sources_free(s);
}

Test(http_limits, source_table_stays_exact_under_churn)
{
	/* A small table (8 connections: 16 slots), many sources coming and
	 * going: long probe runs, wrap-around and deletions in their middle.
	 * A plain array of counts is the reference. */
	enum { NSRC = 40, MAXC = 8, CAP = 3 };
	struct http_sources *s = http_limits_sources_new(MAXC);
	uint8_t keys[NSRC][HTTP_SOURCE_KEY_LEN];
	int model[NSRC] = { 0 }, open = 0, i, k, rc;
	char ip[32];

	cr_assert_not_null(s);
	for (k = 0; k < NSRC; k++) {
		snprintf(ip, sizeof(ip), "198.18.%d.%d", k / 7, k * 37 % 251);
		key_of(ip, keys[k]);
	}
	srand(7);
	for (i = 0; i < 200000; i++) {
		k = rand() % NSRC;
		if (rand() % 2 == 0 && open < MAXC) {
			rc = http_limits_source_add(s, keys[k], CAP);
			if (model[k] >= CAP) {
				cr_assert_eq(rc, -EBUSY, "step %d", i);
			} else {
				cr_assert_eq(rc, ++model[k], "step %d: source %d", i, k);
				open++;
			}
		} else if (model[k] > 0) {
			http_limits_source_remove(s, keys[k]);
			model[k]--;
			open--;
		}
		if (i % 97 == 0)
			for (int j = 0; j < NSRC; j++)
				cr_assert_eq(http_limits_source_count(s, keys[j]), model[j],
					     "step %d: source %d", i, j);
	}
	http_limits_sources_free(s);
}
