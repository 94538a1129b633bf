/* tests/agent/test_collector_set.c - the order of collectors: parsing the
 * list, failover on failure, one round before backing off, the return to the
 * preferred collector, stale outcomes ignored. */
#include <criterion/criterion.h>
#include <errno.h>

#include "agent/collector_set.h"
#include "common/log.h"

TestSuite(collector_set);

Test(collector_set, parses_repeated_and_comma_separated_urls)
{
	struct collector_set cs;
	char err[256];

	log_init("test", 0, 0);
	collector_set_init(&cs, 0);
	cr_assert_eq(cs.return_ms, COLLECTOR_RETURN_MS);
	cr_assert_eq(collector_set_add(&cs, "http://a:8053", err, sizeof(err)), 0);
	cr_assert_eq(collector_set_add(&cs, " https://b:8053/ , http://c:1,", err, sizeof(err)), 0);
	cr_assert_eq(cs.n, 3);
	cr_assert_str_eq(collector_set_url(&cs, 0), "http://a:8053");
	cr_assert_str_eq(collector_set_url(&cs, 1), "https://b:8053/");
	cr_assert_str_eq(collector_set_url(&cs, 2), "http://c:1");
	cr_assert_str_eq(collector_set_url(&cs, 3), "");
	cr_assert_eq(collector_set_add(&cs, "ftp://x", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "ftp://x"), "%s", err);
	cr_assert_eq(collector_set_add(&cs, "http://d,,http://e", err, sizeof(err)), -EINVAL);
	cr_assert_eq(collector_set_add(&cs, "", err, sizeof(err)), -EINVAL);
	for (int i = 0; i < COLLECTOR_SET_MAX; i++)
		collector_set_add(&cs, "http://many", err, sizeof(err));
	cr_assert_eq(cs.n, COLLECTOR_SET_MAX);
	cr_assert_not_null(strstr(err, "more than"), "%s", err);
}

Test(collector_set, fails_over_once_round_then_backs_off)
{
	struct collector_set cs;
	char err[256];

	log_init("test", 0, 0);
	collector_set_init(&cs, 60000);
	cr_assert_eq(collector_set_add(&cs, "http://a,http://b,http://c", err, sizeof(err)), 0);
	cr_assert_eq(collector_set_pick(&cs, 0), 0);
	cr_assert_eq(collector_set_failed(&cs, 0, "refused", 1000), 1, "try b now");
	cr_assert_eq(collector_set_pick(&cs, 1000), 1);
	cr_assert_eq(collector_set_failed(&cs, 1, "timeout", 1000), 1, "try c now");
	cr_assert_eq(collector_set_failed(&cs, 2, "503", 1000), 0, "all failed: back off");
	cr_assert_eq(collector_set_pick(&cs, 2000), 0);
	/* An exchange with b that started before the switch: ignored. */
	cr_assert_eq(collector_set_failed(&cs, 1, "late", 2000), 0);
	cr_assert_eq(cs.cur, 0);
	collector_set_ok(&cs, 0);
	cr_assert_eq(cs.streak, 0);
}

Test(collector_set, returns_to_the_preferred_one_after_return_ms)
{
	struct collector_set cs;
	char err[256];

	log_init("test", 0, 0);
	collector_set_init(&cs, 60000);
	cr_assert_eq(collector_set_add(&cs, "http://a,http://b", err, sizeof(err)), 0);
	collector_set_failed(&cs, collector_set_pick(&cs, 10000), "refused", 10000);
	collector_set_ok(&cs, collector_set_pick(&cs, 10001));
	cr_assert_eq(collector_set_pick(&cs, 69999), 1, "not yet");
	cr_assert_eq(collector_set_pick(&cs, 70000), 0, "60 s after it failed");
	/* Still down: on to b at once, and another 60 s before the next try. */
	cr_assert_eq(collector_set_failed(&cs, 0, "refused", 70000), 1);
	cr_assert_eq(collector_set_pick(&cs, 129999), 1);
	cr_assert_eq(collector_set_pick(&cs, 130000), 0);
	collector_set_ok(&cs, 0);
	cr_assert_eq(collector_set_pick(&cs, 500000), 0, "stays on the preferred one");
}

Test(collector_set, one_collector_never_switches)
{
	struct collector_set cs;
	char err[256];

	log_init("test", 0, 0);
	collector_set_init(&cs, 0);
	cr_assert_eq(collector_set_add(&cs, "http://only", err, sizeof(err)), 0);
	cr_assert_eq(collector_set_failed(&cs, 0, "refused", 5), 0);
	cr_assert_eq(collector_set_pick(&cs, 1000000), 0);
}
