/* collector/status_text.c - "anycast-collector status": sanitised text cut to a width,
 * times and durations, and tables narrowed until they fit the terminal */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/status_impl.h"
#include "common/result.h"
#include "common/text.h"
#include "common/timefmt.h"

/* ---- text helpers ---- */

/* Copy src into dst (dstlen > 0) replacing control characters (C0, C1) and
 * zero-width/bidi code points (common/text.h) with '?': a hostile identity
 * must not drive the terminal or read as another name. */
void status_sanitise(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t o = 0;

	while (*s && o + 1 < dstlen) {
		size_t hidden = text_hidden_len((const char *)s);

		if (hidden > 0) {
			dst[o++] = '?';
			s += hidden;
		} else {
			/* do not cut a UTF-8 sequence in two */
			size_t n = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : 2;
			size_t i;
			if (o + n >= dstlen)
				break;
			for (i = 0; i < n && s[i]; i++)
				dst[o++] = (char)s[i];
			s += i;
		}
	}
	dst[o] = '\0';
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
int status_text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void status_pad(FILE *out, int n)
{
	while (n-- > 0)
		fputc(' ', out);
}

/* Write s in at most w columns: cut to w - 1 code points and an ellipsis
 * when longer; padded with spaces to w when fill != 0. */
void status_put_fit(FILE *out, const char *s, int w, int fill)
{
	int tw = status_text_width(s);
	const char *p = s;

	if (tw <= w) {
		fputs(s, out);
		if (fill)
			status_pad(out, w - tw);
		return;
	}
	if (w <= 0)
		return;
	for (int n = 0; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && n++ == w - 1)
			break;
	}
	fwrite(s, 1, (size_t)(p - s), out);
	fputs(ELLIPSIS, out);
}

const char *status_jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

int status_jfamily(const json_t *o)
{
	json_int_t f = json_integer_value(json_object_get(o, "family"));
	return f == 6 ? 6 : 4;
}

void status_fmt_rtt(char *buf, size_t len, const json_t *v)
{
	double ms;

	if (!json_is_number(v) || (ms = json_number_value(v)) < 0) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, ms < 10 ? "%.1fms" : "%.0fms", ms);
}

/* "45s", "2m14s", "3h05m", "2d04h"; "" for a negative duration */
void status_fmt_duration(char *buf, size_t len, int64_t s)
{
	if (s < 0)
		buf[0] = '\0';
	else if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600),
		         (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
}

/* An RFC 3339 member as "YYYY-MM-DD HH:MM:SS" UTC (the string itself, sanitised, when unparsable).
 */
void status_fmt_time(char *buf, size_t len, const char *rfc3339)
{
	int64_t ms;

	if (time_parse_rfc3339(rfc3339, &ms) == 0) {
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	} else {
		status_sanitise(buf, len, rfc3339);
	}
}

/* Seconds from the RFC 3339 member to until_ms (0 for a time a little
 * ahead: clocks differ), -1 when absent or unparsable. */
int64_t status_seconds_since(const char *rfc3339, int64_t until_ms)
{
	int64_t ms;

	if (time_parse_rfc3339(rfc3339, &ms) != 0)
		return -1;
	return until_ms > ms ? (until_ms - ms) / 1000 : 0;
}

const char *status_ink_code(enum ink k)
{
	switch (k) {
	case INK_HEAD:
		return "\033[1m";
	case INK_OUTAGE:
		return "\033[1;31m";
	case INK_UNKNOWN:
		return "\033[1;97;41m";
	case INK_SPLIT:
		return "\033[1;33m";
	case INK_SILENT:
		return "\033[2m";
	case INK_CRITICAL:
		return "\033[1;31m";
	case INK_WARNING:
		return "\033[1;33m";
	case INK_RESOLVED:
		return "\033[32m";
	default:
		return "";
	}
}

void status_heading(FILE *out, int color, const char *title, const char *rest)
{
	fprintf(out, "%s%s%s%s\n", color ? "\033[1;4m" : "", title, color ? "\033[0m" : "", rest);
}

/* ---- tables that fit the width ---- */


int status_table_init(struct table *t, size_t ncol, size_t nrow)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
	t->nrow = nrow;
	t->cell = calloc(ncol * nrow, sizeof(*t->cell));
	t->ink = calloc(ncol * nrow, 1);
	t->w = calloc(ncol, sizeof(*t->w));
	t->minw = calloc(ncol, sizeof(*t->minw));
	return t->cell && t->ink && t->w && t->minw ? 0 : -ENOMEM;
}

void status_table_free(struct table *t)
{
	free(t->cell);
	free(t->ink);
	free(t->w);
	free(t->minw);
}

char *status_table_cell(struct table *t, size_t r, size_t c)
{
	return t->cell[r * t->ncol + c];
}

/* Natural widths, then narrow the widest column that may still give until
 * the line fits width. Returns how many columns are shown: fewer than ncol
 * only when even the narrowest columns do not fit. */
size_t status_table_fit(struct table *t, int width)
{
	size_t r, c, shown = t->ncol;
	int total;

	for (c = 0; c < t->ncol; c++) {
		t->w[c] = 0;
		for (r = 0; r < t->nrow; r++)
			if (status_text_width(status_table_cell(t, r, c)) > t->w[c])
				t->w[c] = status_text_width(status_table_cell(t, r, c));
		if (t->minw[c] > t->w[c])
			t->minw[c] = t->w[c];
	}
	for (;;) {
		total = 0;
		for (c = 0; c < shown; c++)
			total += t->w[c] + (c ? GAP : 0);
		if (total <= width)
			return shown;
		size_t best = shown;
		for (c = 0; c < shown; c++)
			if (t->w[c] > t->minw[c] && (best == shown || t->w[c] > t->w[best]))
				best = c;
		if (best < shown) {
			t->w[best]--;
		} else if (shown > 1) {
			shown--; /* drop the rightmost column */
		} else {
			return shown;
		}
	}
}

void status_table_print(FILE *out, const struct table *t, size_t shown, int color)
{
	for (size_t r = 0; r < t->nrow; r++) {
		size_t last = shown;
		/* no trailing blanks: the line ends after its last non-empty cell */
		while (last > 1 && t->cell[r * t->ncol + last - 1][0] == '\0')
			last--;
		for (size_t c = 0; c < last; c++) {
			enum ink k = r == 0 ? INK_HEAD : (enum ink)t->ink[r * t->ncol + c];
			if (c)
				status_pad(out, GAP);
			if (color && k)
				fputs(status_ink_code(k), out);
			status_put_fit(out, t->cell[r * t->ncol + c], t->w[c],
			        c + 1 < last && !(color && k));
			if (color && k) {
				fputs("\033[0m", out);
				if (c + 1 < last)
					status_pad(out, t->w[c] - status_text_width(t->cell[r * t->ncol + c]));
			}
		}
		fputc('\n', out);
	}
}
