/* tests/common/test_timefmt.c - RFC 3339 timestamps and configuration durations. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "common/timefmt.h"

TestSuite(timefmt);

Test(timefmt, formats_utc_with_milliseconds)
{
	char buf[32];

	cr_assert_str_eq(time_format_rfc3339(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	cr_assert_str_eq(time_format_rfc3339(1795664795123LL, buf, sizeof(buf)),
	                 "2026-11-26T03:46:35.123Z");
	/* leap day */
	cr_assert_str_eq(time_format_rfc3339(951782400000LL, buf, sizeof(buf)),
	                 "2000-02-29T00:00:00.000Z");
	/* before the epoch: floor, not truncation */
	cr_assert_str_eq(time_format_rfc3339(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
}

Test(timefmt, short_buffer_truncates)
{
	char buf[10];

	cr_assert_str_eq(time_format_rfc3339(1795664795123LL, buf, sizeof(buf)), "2026-11-2");
	cr_assert_eq(time_format_rfc3339(0, buf, 0), buf);
}

Test(timefmt, format_agrees_with_gmtime)
{
	char buf[32], want[32];
	struct tm tm;

	for (int64_t t = 0; t < 4102444800LL; t += 86399 * 37 + 17) {
		time_t tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.042Z", &tm);
		cr_assert_str_eq(time_format_rfc3339(t * 1000 + 42, buf, sizeof(buf)), want);
	}
}

Test(timefmt, parse_round_trips_format)
{
	char buf[32];
	int64_t back;

	for (int64_t ms = -86400001; ms < 4102444800000LL; ms += 987654321123LL / 7) {
		time_format_rfc3339(ms, buf, sizeof(buf));
		cr_assert_eq(time_parse_rfc3339(buf, &back), 0, "%s", buf);
		cr_assert_eq(back, ms, "%s: %lld != %lld", buf, (long long)back, (long long)ms);
	}
}

Test(timefmt, parses_offsets_and_fractions)
{
	int64_t ms;

	cr_assert_eq(time_parse_rfc3339("2026-11-26T05:46:35+02:00", &ms), 0);
	cr_assert_eq(ms, 1795664795000LL);
	cr_assert_eq(time_parse_rfc3339("2026-11-26T03:16:35.5-00:30", &ms), 0);
	cr_assert_eq(ms, 1795664795500LL);
	cr_assert_eq(time_parse_rfc3339("2026-11-26T03:46:35.123456789Z", &ms), 0);
	cr_assert_eq(ms, 1795664795123LL);
	cr_assert_eq(time_parse_rfc3339("2026-11-26t03:46:35z", &ms), 0);
	cr_assert_eq(ms, 1795664795000LL);
}

Test(timefmt, rejects_bad_timestamps)
{
	static const char *bad[] = {
	    "",
	    "2026-11-26",
	    "2026-11-26T03:46:35",
	    "2026-13-01T00:00:00Z",
	    "2026-02-29T00:00:00Z",
	    "2026-11-31T00:00:00Z",
	    "2026-11-26T24:00:00Z",
	    "2026-11-26T03:60:00Z",
	    "2026-11-26T03:46:35.Z",
	    "2026-11-26T03:46:35Zjunk",
	    "2026-11-26T03:46:35+0200",
	    "26-11-26T03:46:35Z",
	    "2026-11-26T03:46:35+25:00",
	    "abcd-11-26T03:46:35Z",
	};
	int64_t ms = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(time_parse_rfc3339(bad[i], &ms), -1, "accepted \"%s\"", bad[i]);
	cr_assert_eq(time_parse_rfc3339(NULL, &ms), -1);
	cr_assert_eq(ms, 7, "output written on failure");
}

Test(timefmt, durations)
{
	static const struct {
		const char *s;
		int64_t ms;
	} ok[] = {
	    {"500ms", 500},  {"1s", 1000},     {"1.5s", 1500},        {"5m", 300000},
	    {"2h", 7200000}, {"1d", 86400000}, {"30d", 2592000000LL}, {"10", 10000},
	    {"0.5", 500},    {"0", 0},         {".25s", 250},         {"0.001s", 1},
	};
	int64_t ms;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(duration_parse_ms(ok[i].s, &ms), 0, "rejected \"%s\"", ok[i].s);
		cr_assert_eq(ms, ok[i].ms, "\"%s\" gave %lld", ok[i].s, (long long)ms);
	}
}

Test(timefmt, bad_durations)
{
	static const char *bad[] = {"",
	                            "s",
	                            "5x",
	                            "-1s",
	                            "1.s",
	                            "1 s",
	                            "1sec",
	                            "5M",
	                            "1e3",
	                            "99999999999999999999d",
	                            "1000000000000d",
	                            "ms"};
	int64_t ms;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(duration_parse_ms(bad[i], &ms), -1, "accepted \"%s\"", bad[i]);
	cr_assert_eq(duration_parse_ms(NULL, &ms), -1);
}

Test(timefmt, clocks_move_forward)
{
	int64_t a = time_mono_ns(), wall = time_now_ms();
	struct timespec ts = {0, 2000000};

	nanosleep(&ts, NULL);
	cr_assert_geq(time_mono_ns() - a, 2000000);
	/* a sane wall clock: after 2020 */
	cr_assert_gt(wall, 1577836800000LL);
}

Test(timefmt, four_digit_years_only)
{
	char buf[32];
	int64_t ms;

	cr_assert_eq(time_parse_rfc3339("0000-01-01T00:00:00Z", &ms), 0);
	cr_assert_str_eq(time_format_rfc3339(ms, buf, sizeof(buf)), "0000-01-01T00:00:00.000Z");
	cr_assert_eq(time_parse_rfc3339("9999-12-31T23:59:59.999Z", &ms), 0);
	cr_assert_str_eq(time_format_rfc3339(ms, buf, sizeof(buf)), "9999-12-31T23:59:59.999Z");
	/* an offset that leaves the range */
	cr_assert_eq(time_parse_rfc3339("0000-01-01T00:00:00+01:00", &ms), -1);
	cr_assert_eq(time_parse_rfc3339("9999-12-31T23:30:00-01:00", &ms), -1);
	/* out-of-range values are clamped, never printed as 5-digit or negative years */
	cr_assert_str_eq(time_format_rfc3339(INT64_MAX, buf, sizeof(buf)),
	                 "9999-12-31T23:59:59.999Z");
	cr_assert_str_eq(time_format_rfc3339(INT64_MIN, buf, sizeof(buf)),
	                 "0000-01-01T00:00:00.000Z");
	/* NTP's zero reference time, 1900 */
	cr_assert_str_eq(time_format_rfc3339(-2208988800000LL, buf, sizeof(buf)),
	                 "1900-01-01T00:00:00.000Z");
}
