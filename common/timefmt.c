/* common/timefmt.c - clocks, RFC 3339 UTC timestamps and configuration durations. */
#include "common/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Durations and timestamps beyond this are rejected rather than overflowing:
 * 10^15 ms is about 31,700 years. */
#define TIME_MAX_MS 1000000000000000LL
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
#define TIME_MIN_S (-62167219200LL)
#define TIME_MAX_S 253402300799LL

int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so parsing needs neither timegm() nor the TZ variable. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

char *time_format_rfc3339(int64_t unix_ms, char *buf, size_t buflen)
{
	int64_t days, secs, ms, y;
	int mo, d;

	if (buflen == 0)
		return buf;
	/* clamp to the years 0000-9999 so the output always parses back */
	if (unix_ms < TIME_MIN_S * 1000)
		unix_ms = TIME_MIN_S * 1000;
	if (unix_ms > TIME_MAX_S * 1000 + 999)
		unix_ms = TIME_MAX_S * 1000 + 999;
	/* floor division so times before 1970 format correctly */
	ms = unix_ms % 1000;
	secs = unix_ms / 1000;
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	days = secs / 86400;
	secs %= 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &mo, &d);
	/* by hand: this runs for every result record the agent writes */
	char t[25];
	put_digits(t, (int)y, 4);
	t[4] = '-';
	put_digits(t + 5, mo, 2);
	t[7] = '-';
	put_digits(t + 8, d, 2);
	t[10] = 'T';
	put_digits(t + 11, (int)(secs / 3600), 2);
	t[13] = ':';
	put_digits(t + 14, (int)(secs / 60 % 60), 2);
	t[16] = ':';
	put_digits(t + 17, (int)(secs % 60), 2);
	t[19] = '.';
	put_digits(t + 20, (int)ms, 3);
	t[23] = 'Z';
	t[24] = '\0';
	if (buflen >= sizeof(t)) {
		memcpy(buf, t, sizeof(t));
	} else {
		memcpy(buf, t, buflen - 1);
		buf[buflen - 1] = '\0';
	}
	return buf;
}

/* Reads exactly n digits at *p. Returns the value or -1. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : dm[m - 1];
}

int time_parse_rfc3339(const char *s, int64_t *unix_ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, ms = 0, off = 0;

	if (s == NULL)
		return -1;
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (sec = digits(&p, 2)) < 0)
		return -1;
	if (*p == '.') {
		int n = 0;
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		/* keep milliseconds, ignore finer digits (truncation) */
		while (*p >= '0' && *p <= '9') {
			if (n < 3)
				ms = ms * 10 + (*p - '0');
			n++;
			p++;
		}
		for (; n < 3; n++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' || (om = digits(&p, 2)) < 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (sec == 60) /* leap second: POSIX time has none, fold into the next */
		sec = 59, ms = 999;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
	/* an offset may push year 0000 or 9999 out of the four-digit range that
	 * time_format_rfc3339 can write back */
	if (t < TIME_MIN_S || t > TIME_MAX_S)
		return -1;
	*unix_ms = t * 1000 + ms;
	return 0;
}

int duration_parse_ms(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t whole = 0, frac = 0, frac_scale = 1, unit;
	int nd = 0;

	if (s == NULL)
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (whole > TIME_MAX_MS / 10)
			return -1;
		whole = whole * 10 + (*p - '0');
		p++;
		nd++;
	}
	if (*p == '.') {
		int nf = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			/* sub-microsecond digits do not matter; skip them */
			if (frac_scale < 1000000) {
				frac = frac * 10 + (*p - '0');
				frac_scale *= 10;
			}
			p++;
			nf++;
		}
		if (nf == 0)
			return -1;
		nd += nf;
	}
	if (nd == 0)
		return -1;
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (*p == '\0' || strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		unit = 3600 * 1000;
	else if (strcmp(p, "d") == 0)
		unit = 86400 * 1000;
	else
		return -1;
	if (whole > TIME_MAX_MS / unit)
		return -1;
	*ms = whole * unit + frac * unit / frac_scale;
	return 0;
}
