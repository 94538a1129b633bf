/* collector/status_cli.c - "anycast-collector status": incidents, the catchment matrix and latest
 * events as text */
#include "collector/status_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "common/result.h"
#include "common/text.h"
#include "common/timefmt.h"

#define DEFAULT_URL "http://127.0.0.1:8053"
#define MAX_BODY (16u << 20) /* a larger answer is not a collector's */
#define MAX_COLS 64          /* (service, family) columns shown */
#define MAX_ROWS 4096        /* agents shown */
#define CELL_MAX 192
#define TOKEN_MAX 4096
#define STALE_MS 90000          /* without agent_state: a row without an answer for this long */
#define OPEN_MAX 50             /* open incidents fetched */
#define RESOLVED_SHOWN 3        /* recently resolved incidents shown after them */
#define GAP 2                   /* spaces between columns */
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, one column */
#define STR_(x) #x
#define STR(x) STR_(x)

struct col {
	char service[RESULT_NAME_MAX];
	int family;
	char label[RESULT_NAME_MAX + 8];
};

/* colour of a cell */
enum ink {
	INK_NONE = 0,
	INK_HEAD,
	INK_OUTAGE,
	INK_UNKNOWN,
	INK_SPLIT,
	INK_SILENT,
	INK_CRITICAL,
	INK_WARNING,
	INK_RESOLVED
};

/* ---- text helpers ---- */

/* Copy src into dst (dstlen > 0) replacing control characters (C0, C1) and
 * zero-width/bidi code points (common/text.h) with '?': a hostile identity
 * must not drive the terminal or read as another name. */
static void sanitise(char *dst, size_t dstlen, const char *src)
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
static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void pad(FILE *out, int n)
{
	while (n-- > 0)
		fputc(' ', out);
}

/* Write s in at most w columns: cut to w - 1 code points and an ellipsis
 * when longer; padded with spaces to w when fill != 0. */
static void put_fit(FILE *out, const char *s, int w, int fill)
{
	int tw = text_width(s);
	const char *p = s;

	if (tw <= w) {
		fputs(s, out);
		if (fill)
			pad(out, w - tw);
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

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static int jfamily(const json_t *o)
{
	json_int_t f = json_integer_value(json_object_get(o, "family"));
	return f == 6 ? 6 : 4;
}

static void fmt_rtt(char *buf, size_t len, const json_t *v)
{
	double ms;

	if (!json_is_number(v) || (ms = json_number_value(v)) < 0) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, ms < 10 ? "%.1fms" : "%.0fms", ms);
}

/* "45s", "2m14s", "3h05m", "2d04h"; "" for a negative duration */
static void fmt_duration(char *buf, size_t len, int64_t s)
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
static void fmt_time(char *buf, size_t len, const char *rfc3339)
{
	int64_t ms;

	if (time_parse_rfc3339(rfc3339, &ms) == 0) {
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	} else {
		sanitise(buf, len, rfc3339);
	}
}

/* Seconds from the RFC 3339 member to until_ms (0 for a time a little
 * ahead: clocks differ), -1 when absent or unparsable. */
static int64_t seconds_since(const char *rfc3339, int64_t until_ms)
{
	int64_t ms;

	if (time_parse_rfc3339(rfc3339, &ms) != 0)
		return -1;
	return until_ms > ms ? (until_ms - ms) / 1000 : 0;
}

static const char *ink_code(enum ink k)
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

static void heading(FILE *out, int color, const char *title, const char *rest)
{
	fprintf(out, "%s%s%s%s\n", color ? "\033[1;4m" : "", title, color ? "\033[0m" : "", rest);
}

/* ---- tables that fit the width ---- */

/* Row 0 is the header. Cells are filled by the caller; table_fit narrows the
 * columns until a line fits, table_print writes them, cutting what is too long. */
struct table {
	size_t ncol, nrow;
	char (*cell)[CELL_MAX]; /* nrow * ncol */
	unsigned char *ink;     /* enum ink per cell */
	int *w, *minw;
};

static int table_init(struct table *t, size_t ncol, size_t nrow)
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

static void table_free(struct table *t)
{
	free(t->cell);
	free(t->ink);
	free(t->w);
	free(t->minw);
}

static char *table_cell(struct table *t, size_t r, size_t c)
{
	return t->cell[r * t->ncol + c];
}

/* Natural widths, then narrow the widest column that may still give until
 * the line fits width. Returns how many columns are shown: fewer than ncol
 * only when even the narrowest columns do not fit. */
static size_t table_fit(struct table *t, int width)
{
	size_t r, c, shown = t->ncol;
	int total;

	for (c = 0; c < t->ncol; c++) {
		t->w[c] = 0;
		for (r = 0; r < t->nrow; r++)
			if (text_width(table_cell(t, r, c)) > t->w[c])
				t->w[c] = text_width(table_cell(t, r, c));
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

static void table_print(FILE *out, const struct table *t, size_t shown, int color)
{
	for (size_t r = 0; r < t->nrow; r++) {
		size_t last = shown;
		/* no trailing blanks: the line ends after its last non-empty cell */
		while (last > 1 && t->cell[r * t->ncol + last - 1][0] == '\0')
			last--;
		for (size_t c = 0; c < last; c++) {
			enum ink k = r == 0 ? INK_HEAD : (enum ink)t->ink[r * t->ncol + c];
			if (c)
				pad(out, GAP);
			if (color && k)
				fputs(ink_code(k), out);
			put_fit(out, t->cell[r * t->ncol + c], t->w[c],
			        c + 1 < last && !(color && k));
			if (color && k) {
				fputs("\033[0m", out);
				if (c + 1 < last)
					pad(out, t->w[c] - text_width(t->cell[r * t->ncol + c]));
			}
		}
		fputc('\n', out);
	}
}

/* ---- incidents ---- */

static int severity_rank(const json_t *inc)
{
	const char *s = jstr(inc, "severity");
	return strcmp(s, "critical") == 0  ? 0
	       : strcmp(s, "warning") == 0 ? 1
	       : strcmp(s, "info") == 0    ? 2
	                                   : 1;
}

/* open incidents: critical first, then newest first */
static int open_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int c = severity_rank(x) - severity_rank(y);
	return c ? c : strcmp(jstr(y, "started"), jstr(x, "started"));
}

/* distinct agent names among the incident's agents */
static size_t agent_count(const json_t *inc)
{
	const json_t *agents = json_object_get(inc, "agents"), *a, *b;
	size_t i, j, n = 0;

	json_array_foreach(agents, i, a)
	{
		for (j = 0; j < i; j++) {
			b = json_array_get(agents, j);
			if (strcmp(jstr(a, "agent"), jstr(b, "agent")) == 0)
				break;
		}
		if (j == i)
			n++;
	}
	return n;
}

/* "03:50:00" on the day of now_ms (UTC), "11-25 03:50" before */
static void fmt_started(char *buf, size_t len, const char *rfc3339, int64_t now_ms)
{
	int64_t ms;
	time_t t, now = (time_t)(now_ms / 1000);
	struct tm tm, tn;

	if (time_parse_rfc3339(rfc3339, &ms) != 0) {
		sanitise(buf, len, rfc3339);
		return;
	}
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	gmtime_r(&now, &tn);
	strftime(buf, len,
	         tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday ? "%H:%M:%S" : "%m-%d %H:%M",
	         &tm);
}

/* Row r of the incidents table (r == 0: the header). The SEV column says
 * "resolved" for resolved ones; FOR is how long it has been open, or how
 * long it lasted. */
static void incident_row(struct table *t, size_t r, const json_t *inc, int open, int64_t now_ms)
{
	static const char *head[] = {"SEV", "KIND", "STARTED", "FOR", "AGENTS", "SUMMARY"};
	int64_t s, ended;

	if (r == 0) {
		for (size_t c = 0; c < 6; c++)
			snprintf(table_cell(t, 0, c), CELL_MAX, "%s", head[c]);
		return;
	}
	if (open) {
		sanitise(table_cell(t, r, 0), CELL_MAX,
		         jstr(inc, "severity")[0] ? jstr(inc, "severity") : "?");
		t->ink[r * t->ncol] = severity_rank(inc) == 0   ? INK_CRITICAL
		                      : severity_rank(inc) == 1 ? INK_WARNING
		                                                : INK_NONE;
		s = seconds_since(jstr(inc, "started"), now_ms);
	} else {
		const json_t *ds = json_object_get(inc, "duration_s");
		snprintf(table_cell(t, r, 0), CELL_MAX, "resolved");
		t->ink[r * t->ncol] = INK_RESOLVED;
		s = json_is_number(ds) ? (int64_t)json_number_value(ds)
		    : time_parse_rfc3339(jstr(inc, "ended"), &ended) == 0
		        ? seconds_since(jstr(inc, "started"), ended)
		        : -1;
	}
	sanitise(table_cell(t, r, 1), CELL_MAX, jstr(inc, "kind"));
	fmt_started(table_cell(t, r, 2), CELL_MAX, jstr(inc, "started"), now_ms);
	fmt_duration(table_cell(t, r, 3), CELL_MAX, s);
	if (table_cell(t, r, 3)[0] == '\0')
		snprintf(table_cell(t, r, 3), CELL_MAX, "?");
	snprintf(table_cell(t, r, 4), CELL_MAX, "%zu", agent_count(inc));
	sanitise(table_cell(t, r, 5), CELL_MAX, jstr(inc, "summary"));
}

static int render_incidents(FILE *out, const struct status_view *v, int width)
{
	const json_t *open = json_object_get(v->open, "incidents"),
	             *res = json_object_get(v->resolved, "incidents");
	const json_t **list = NULL, *inc;
	size_t nopen = 0, nres = 0, i, r;
	struct table t;
	char title[64];

	json_array_foreach(open, i, inc) if (strcmp(jstr(inc, "state"), "resolved") != 0) nopen++;
	json_array_foreach(res, i, inc) if (strcmp(jstr(inc, "state"), "resolved") == 0 &&
	                                    nres < RESOLVED_SHOWN) nres++;
	snprintf(title, sizeof(title), " (%zu open)", nopen);
	heading(out, v->color, "Incidents", title);
	if (nopen + nres == 0) {
		fprintf(out, "No open incidents.\n");
		return 0;
	}
	if ((list = calloc(nopen + 1, sizeof(*list))) == NULL)
		return -ENOMEM;
	if (table_init(&t, 6, 1 + nopen + nres) < 0) {
		table_free(&t);
		free(list);
		return -ENOMEM;
	}
	nopen = 0;
	json_array_foreach(open, i, inc) if (strcmp(jstr(inc, "state"), "resolved") != 0)
	    list[nopen++] = inc;
	qsort(list, nopen, sizeof(*list), open_cmp);
	incident_row(&t, 0, NULL, 0, v->now_ms);
	for (r = 0; r < nopen; r++)
		incident_row(&t, 1 + r, list[r], 1, v->now_ms);
	json_array_foreach(res, i, inc)
	{
		if (r >= nopen + nres)
			break;
		if (strcmp(jstr(inc, "state"), "resolved") == 0)
			incident_row(&t, 1 + r++, inc, 0, v->now_ms);
	}
	/* the summary gives way first, the start time last */
	t.minw[0] = 3;
	t.minw[1] = 8;
	t.minw[2] = 11;
	t.minw[3] = 5;
	t.minw[4] = 6;
	t.minw[5] = 12;
	table_print(out, &t, table_fit(&t, width), v->color);
	if (nopen == 0)
		fprintf(out, "No open incidents.\n");
	table_free(&t);
	free(list);
	return 0;
}

/* ---- matrix ---- */

static int col_cmp(const void *a, const void *b)
{
	const struct col *x = a, *y = b;
	int c = strcmp(x->service, y->service);
	return c ? c : x->family - y->family;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Has the row's agent stopped reporting? Its agent_state says; from a
 * collector without it, an answer older than STALE_MS says so, except in an
 * outage (which answers nothing for as long as it lasts). */
static int row_silent(const json_t *row, int64_t now_ms)
{
	const json_t *st = json_object_get(row, "agent_state");
	int64_t last;

	if (json_is_string(st))
		return strcmp(json_string_value(st), "silent") == 0;
	return strcmp(jstr(row, "status"), "outage") != 0 &&
	       time_parse_rfc3339(jstr(row, "last_seen"), &last) == 0 && now_ms - last > STALE_MS;
}

/* "site-a 60% site-b 40%" from split_instances, "" without them */
static void split_text(const json_t *row, char *buf, size_t len)
{
	const json_t *parts = json_object_get(row, "split_instances"), *p;
	size_t i, o = 0;

	buf[0] = '\0';
	json_array_foreach(parts, i, p)
	{
		char inst[RESULT_NAME_MAX];
		const json_t *share = json_object_get(p, "share");
		int n;

		sanitise(inst, sizeof(inst), jstr(p, "instance"));
		if (json_is_number(share))
			n = snprintf(buf + o, len - o, "%s%s %.0f%%", o ? " " : "", inst,
			             json_number_value(share) * 100);
		else
			n = snprintf(buf + o, len - o, "%s%s", o ? " " : "", inst);
		if (n < 0 || (size_t)n >= len - o) {
			buf[o] = '\0';
			break;
		}
		o += (size_t)n;
	}
}

/* Cell text and its ink. */
static enum ink cell_text(const json_t *row, char *buf, size_t len, int64_t now_ms)
{
	const char *status = jstr(row, "status");
	char inst[RESULT_NAME_MAX], home[RESULT_NAME_MAX], ident[48], rtt[24],
	    flags[RESULT_NAME_MAX + 48], parts[120];
	char d[32];
	int silent = row_silent(row, now_ms);
	enum ink ink = INK_NONE;

	sanitise(inst, sizeof(inst), jstr(row, "instance"));
	sanitise(home, sizeof(home), jstr(row, "home"));
	sanitise(ident, sizeof(ident), jstr(row, "identity"));
	fmt_rtt(rtt, sizeof(rtt), json_object_get(row, "rtt_ms"));
	snprintf(flags, sizeof(flags), "%s%s%s%s%s%s",
	         json_is_true(json_object_get(row, "away")) && home[0] ? " (home " : "",
	         json_is_true(json_object_get(row, "away")) && home[0] ? home : "",
	         json_is_true(json_object_get(row, "away")) && home[0] ? ")" : "",
	         json_is_true(json_object_get(row, "suboptimal")) ? " (slow)" : "",
	         json_is_true(json_object_get(row, "flapping")) ? " (flap)" : "",
	         silent ? " (silent)" : "");
	if (strcmp(status, "outage") == 0) {
		fmt_duration(d, sizeof(d), seconds_since(jstr(row, "since"), now_ms));
		snprintf(buf, len, "xx OUTAGE%s%s%s", d[0] ? " " : "", d, flags);
		ink = INK_OUTAGE;
	} else if (strcmp(status, "unknown_instance") == 0) {
		snprintf(buf, len, "!! UNKNOWN %s%s", ident[0] ? ident : "?", flags);
		ink = INK_UNKNOWN;
	} else if (strcmp(status, "split") == 0) {
		split_text(row, parts, sizeof(parts));
		snprintf(buf, len, "<> split %s%s", parts[0] ? parts : inst[0] ? inst : "?", flags);
		ink = INK_SPLIT;
	} else {
		snprintf(buf, len, "%s%s%s%s", inst[0] ? inst : "?", rtt[0] ? " " : "", rtt, flags);
	}
	return silent ? INK_SILENT : ink;
}

/* The marks, as many to a line as fit. */
static void legend(FILE *out, int width)
{
	static const char *marks[] = {"xx outage",
	                              "!! unknown instance (possible hijack)",
	                              "<> split",
	                              "(home X) away from home X",
	                              "(slow) sub-optimal",
	                              "(flap) flapping",
	                              "(silent) agent stopped reporting",
	                              "- not measured"};
	int col = 0;

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		int w = text_width(marks[i]);
		if (col == 0) {
			fputs("marks: ", out);
			col = 7;
		} else if (col + 3 + w > width) {
			fputs("\n       ", out);
			col = 7;
		} else {
			fputs("   ", out);
			col += 3;
		}
		fputs(marks[i], out);
		col += w;
	}
	fputc('\n', out);
}

static int render_matrix(FILE *out, const json_t *rows, int width, int color, int64_t now_ms)
{
	struct col *cols = NULL;
	char(*agents)[RESULT_NAME_MAX] = NULL;
	size_t ncol = 0, nagent = 0, i, j, idx, shown;
	struct table t;
	int ret = -ENOMEM;
	const json_t *row;

	if (!json_is_array(rows) || json_array_size(rows) == 0) {
		fprintf(out, "No catchment data yet: no agent has reported.\n");
		return 0;
	}
	memset(&t, 0, sizeof(t));
	cols = calloc(MAX_COLS, sizeof(*cols));
	agents = calloc(MAX_ROWS, sizeof(*agents));
	if (cols == NULL || agents == NULL)
		goto out;

	json_array_foreach(rows, idx, row)
	{
		char svc[RESULT_NAME_MAX], ag[RESULT_NAME_MAX];
		int fam = jfamily(row);

		sanitise(svc, sizeof(svc), jstr(row, "service"));
		sanitise(ag, sizeof(ag), jstr(row, "agent"));
		for (i = 0;
		     i < ncol && !(strcmp(cols[i].service, svc) == 0 && cols[i].family == fam); i++)
			;
		if (i == ncol && ncol < MAX_COLS) {
			snprintf(cols[ncol].service, sizeof(cols[ncol].service), "%s", svc);
			cols[ncol++].family = fam;
		}
		for (i = 0; i < nagent && strcmp(agents[i], ag) != 0; i++)
			;
		if (i == nagent && nagent < MAX_ROWS)
			snprintf(agents[nagent++], RESULT_NAME_MAX, "%s", ag);
	}
	qsort(cols, ncol, sizeof(*cols), col_cmp);
	qsort(agents, nagent, sizeof(*agents), name_cmp);
	for (i = 0; i < ncol; i++) {
		int both = (i > 0 && strcmp(cols[i - 1].service, cols[i].service) == 0) ||
		           (i + 1 < ncol && strcmp(cols[i + 1].service, cols[i].service) == 0);
		snprintf(cols[i].label, sizeof(cols[i].label), both ? "%s/v%d" : "%s",
		         cols[i].service, cols[i].family);
	}

	if (table_init(&t, ncol + 1, nagent + 1) < 0)
		goto out;
	snprintf(table_cell(&t, 0, 0), CELL_MAX, "AGENT");
	t.minw[0] = 8;
	for (j = 0; j < ncol; j++) {
		snprintf(table_cell(&t, 0, j + 1), CELL_MAX, "%s", cols[j].label);
		t.minw[j + 1] = 10;
	}
	for (i = 0; i < nagent; i++) {
		snprintf(table_cell(&t, i + 1, 0), CELL_MAX, "%s", agents[i]);
		for (j = 0; j < ncol; j++)
			snprintf(table_cell(&t, i + 1, j + 1), CELL_MAX, "-");
	}

	json_array_foreach(rows, idx, row)
	{
		char svc[RESULT_NAME_MAX], ag[RESULT_NAME_MAX];
		struct col key;
		struct col *c;
		char(*a)[RESULT_NAME_MAX];

		sanitise(svc, sizeof(svc), jstr(row, "service"));
		sanitise(ag, sizeof(ag), jstr(row, "agent"));
		memset(&key, 0, sizeof(key));
		snprintf(key.service, sizeof(key.service), "%s", svc);
		key.family = jfamily(row);
		c = bsearch(&key, cols, ncol, sizeof(*cols), col_cmp);
		a = bsearch(ag, agents, nagent, sizeof(*agents), name_cmp);
		if (c == NULL || a == NULL)
			continue;
		i = (size_t)(a - agents) + 1;
		j = (size_t)(c - cols) + 1;
		t.ink[i * t.ncol + j] =
		    (unsigned char)cell_text(row, table_cell(&t, i, j), CELL_MAX, now_ms);
	}

	shown = table_fit(&t, width);
	table_print(out, &t, shown, color);
	if (shown < t.ncol)
		fprintf(out, "(%zu more columns: use a wider terminal or --json)\n",
		        t.ncol - shown);
	legend(out, width);
	ret = 0;
out:
	table_free(&t);
	free(cols);
	free(agents);
	return ret;
}

/* ---- events ---- */

#define EV_COLS 6

static void event_fields(const json_t *ev, char f[EV_COLS][CELL_MAX])
{
	char a[RESULT_NAME_MAX], b[RESULT_NAME_MAX], s[RESULT_NAME_MAX];
	const char *key;
	const json_t *v, *detail;
	size_t o = 0;

	fmt_time(f[0], CELL_MAX, jstr(ev, "time"));
	sanitise(f[1], CELL_MAX, jstr(ev, "type"));
	sanitise(f[2], CELL_MAX, jstr(ev, "agent")[0] ? jstr(ev, "agent") : "-");
	sanitise(s, sizeof(s), jstr(ev, "service"));
	if (json_is_integer(json_object_get(ev, "family")) &&
	    json_integer_value(json_object_get(ev, "family")))
		snprintf(f[3], CELL_MAX, "%s/v%d", s[0] ? s : "-", jfamily(ev));
	else
		snprintf(f[3], CELL_MAX, "%s", s[0] ? s : "-");
	sanitise(a, sizeof(a), jstr(ev, "from_instance"));
	sanitise(b, sizeof(b), jstr(ev, "to_instance"));
	if (strcmp(f[1], "instance_down") == 0 || strcmp(f[1], "instance_up") == 0)
		snprintf(f[4], CELL_MAX, "%s %s",
		         a[0]   ? a
		         : b[0] ? b
		                : "?",
		         strcmp(f[1], "instance_down") == 0 ? "down" : "up");
	else if (a[0] || b[0])
		snprintf(f[4], CELL_MAX, "%s -> %s", a[0] ? a : "none", b[0] ? b : "none");
	else
		snprintf(f[4], CELL_MAX, "-");

	/* the detail object's scalar members as key=value */
	f[5][0] = '\0';
	detail = json_object_get(ev, "detail");
	if (json_is_object(detail)) {
		json_object_foreach((json_t *)detail, key, v)
		{
			char val[64];
			int n;
			if (json_is_string(v))
				sanitise(val, sizeof(val), json_string_value(v));
			else if (json_is_integer(v))
				snprintf(val, sizeof(val), "%lld",
				         (long long)json_integer_value(v));
			else if (json_is_real(v))
				snprintf(val, sizeof(val), "%.1f", json_real_value(v));
			else if (json_is_boolean(v))
				snprintf(val, sizeof(val), "%s",
				         json_is_true(v) ? "true" : "false");
			else
				continue;
			/* incident keys are for alert routing, not for people */
			if (strcmp(key, "incident") == 0 || strcmp(key, "resolves") == 0)
				continue;
			sanitise(s, 32, key);
			n = snprintf(f[5] + o, CELL_MAX - o, "%s%s=%s", o ? " " : "", s, val);
			if (n < 0 || (size_t)n >= CELL_MAX - o) {
				f[5][o] = '\0';
				break;
			}
			o += (size_t)n;
		}
	}
}

static int render_events(FILE *out, const json_t *evs, int width, int color)
{
	static const char *head[EV_COLS] = {"TIME (UTC)", "TYPE",   "AGENT",
	                                    "SERVICE",    "CHANGE", "DETAIL"};
	static const int minw[EV_COLS] = {19, 10, 8, 7, 12, 0};
	char f[EV_COLS][CELL_MAX];
	struct table t;
	size_t n, i;
	int j;

	n = json_is_array(evs) ? json_array_size(evs) : 0;
	if (n == 0) {
		fprintf(out, "No events.\n");
		return 0;
	}
	if (table_init(&t, EV_COLS, n + 1) < 0) {
		table_free(&t);
		return -ENOMEM;
	}
	for (j = 0; j < EV_COLS; j++) {
		snprintf(table_cell(&t, 0, (size_t)j), CELL_MAX, "%s", head[j]);
		t.minw[j] = minw[j];
	}
	for (i = 0; i < n; i++) {
		event_fields(json_array_get(evs, i), f);
		for (j = 0; j < EV_COLS; j++)
			memcpy(table_cell(&t, i + 1, (size_t)j), f[j], CELL_MAX);
		if (strcmp(f[1], "unknown_instance") == 0)
			t.ink[(i + 1) * EV_COLS + 1] = INK_CRITICAL;
	}
	table_print(out, &t, table_fit(&t, width), color);
	table_free(&t);
	return 0;
}

int status_cli_width(const char *columns)
{
	char *end;
	long w;

	if (columns == NULL || *columns == '\0')
		return STATUS_CLI_WIDTH;
	errno = 0;
	w = strtol(columns, &end, 10);
	if (errno || *end || w <= STATUS_CLI_WIDTH)
		return STATUS_CLI_WIDTH;
	return w > STATUS_CLI_WIDTH_MAX ? STATUS_CLI_WIDTH_MAX : (int)w;
}

int status_cli_render(FILE *out, const struct status_view *v)
{
	int width = v->width > STATUS_CLI_WIDTH ? v->width : STATUS_CLI_WIDTH;
	int64_t now = v->now_ms ? v->now_ms : time_now_ms();
	struct status_view view = *v;
	int rc;

	if (width > STATUS_CLI_WIDTH_MAX)
		width = STATUS_CLI_WIDTH_MAX;
	view.now_ms = now;
	if (v->open != NULL || v->resolved != NULL) {
		if ((rc = render_incidents(out, &view, width)) < 0)
			return rc;
		fputc('\n', out);
	}
	heading(out, v->color, "Catchments", "");
	if ((rc = render_matrix(out, json_object_get(v->catchments, "catchments"), width, v->color,
	                        now)) < 0)
		return rc;
	fputc('\n', out);
	heading(out, v->color, "Latest events", " (newest first)");
	if ((rc = render_events(out, json_object_get(v->events, "events"), width, v->color)) < 0)
		return rc;
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}

/* ---- HTTP (libcurl easy, blocking: this is a one-shot command) ---- */

struct body {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *nd;

	if (add > MAX_BODY - b->len)
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	if ((nd = realloc(b->data, b->len + add + 1)) == NULL)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* Read a token file, surrounding whitespace stripped. 0 or -1 with err. */
static int read_token(const char *path, char *tok, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n, s = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(tok, 1, len - 1, f);
	fclose(f);
	tok[n] = '\0';
	while (n > 0 && strchr(" \t\r\n", tok[n - 1]))
		tok[--n] = '\0';
	while (tok[s] && strchr(" \t\r\n", tok[s]))
		s++;
	memmove(tok, tok + s, n - s + 1);
	if (tok[0] == '\0') {
		snprintf(err, errlen, "%s: empty token file", path);
		return -1;
	}
	return 0;
}

/* GET <base>/api/v1/<path> and parse the JSON object it answers. 0 with
 * *out (caller owns), or -1 with a one-line reason in err and *http the
 * status the collector answered (0 when it did not answer). */
static int fetch_json(const char *base, const char *path, const char *token, json_t **out,
                      long *http, char *err, size_t errlen)
{
	char url[1024], auth[TOKEN_MAX + 32], cerr[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct body b = {NULL, 0};
	json_error_t jerr;
	long status = 0;
	size_t blen = strlen(base);
	CURL *c;
	CURLcode rc;
	int ret = -1;

	*out = NULL;
	*http = 0;
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof(url), "%.*s/api/v1/%s", (int)blen, base, path);
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "anycast-collector-status/" ANYCAST_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot reach the collector at %.*s: %s", (int)blen, base,
		         cerr[0] ? cerr : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*http = status;
	*out = b.data ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
	if (status != 200) {
		char msg[200];
		sanitise(msg, sizeof(msg), *out ? jstr(*out, "error") : "");
		snprintf(err, errlen, "collector at %.*s answered %ld%s%s%s", (int)blen, base,
		         status, msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	if (*out == NULL || !json_is_object(*out)) {
		snprintf(err, errlen, "collector at %.*s: /api/v1/%s did not answer a JSON object",
		         (int)blen, base, path);
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	ret = 0;
out:
	free(b.data);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: anycast-collector status [--url URL] [--json] [--token-file FILE] "
	           "[--events N] [--no-color]\n"
	           "  --url URL          collector base URL (default " DEFAULT_URL ")\n"
	           "  --json             print the raw JSON: {\"incidents\": [...], "
	           "\"catchments\": [...], \"events\": [...]}\n"
	           "  --token-file FILE  read token for a collector that requires one\n"
	           "  --events N         how many latest events to show (default 10, max 1000)\n"
	           "  --no-color         plain text even on a terminal\n"
	           "The text view is " STR(
	               STATUS_CLI_WIDTH) " columns wide, or $COLUMNS when wider.\n");
}

int status_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"token-file", required_argument, NULL, 't'},
	    {"events", required_argument, NULL, 'n'},
	    {"no-color", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *url = DEFAULT_URL, *token_file = NULL;
	char token[TOKEN_MAX], err[512], *end;
	char path[64];
	json_t *catchments = NULL, *events = NULL, *open = NULL, *resolved = NULL;
	long http = 0;
	int as_json = 0, no_color = 0, c, ret = 1;
	long nevents = 10;

	optind = 0; /* full re-initialisation: main may have parsed its own options */
	while ((c = getopt_long(argc, argv, "+u:jt:n:Ch", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'n':
			errno = 0;
			nevents = strtol(optarg, &end, 10);
			if (errno || *end || nevents < 0 || nevents > 1000) {
				fprintf(stderr,
				        "anycast-collector status: --events wants 0..1000\n");
				return 2;
			}
			break;
		case 'C':
			no_color = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* tolerate being handed the whole command line: "prog status ..." */
	if (optind < argc && strcmp(argv[optind], "status") == 0)
		optind++;
	if (optind < argc) {
		fprintf(stderr, "anycast-collector status: unexpected argument \"%s\"\n",
		        argv[optind]);
		usage(stderr);
		return 2;
	}
	token[0] = '\0';
	if (token_file && read_token(token_file, token, sizeof(token), err, sizeof(err)) < 0) {
		fprintf(stderr, "anycast-collector status: %s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fetch_json(url, "catchments", token, &catchments, &http, err, sizeof(err)) < 0)
		goto fail;
	/* a collector without incidents answers 404: the view goes without them */
	snprintf(path, sizeof(path), "incidents?state=open&limit=%d", OPEN_MAX);
	if (fetch_json(url, path, token, &open, &http, err, sizeof(err)) < 0 && http != 404)
		goto fail;
	if (open != NULL) {
		snprintf(path, sizeof(path), "incidents?state=resolved&limit=%d", RESOLVED_SHOWN);
		if (fetch_json(url, path, token, &resolved, &http, err, sizeof(err)) < 0)
			goto fail;
	}
	snprintf(path, sizeof(path), "events?limit=%ld", nevents ? nevents : 1);
	if (fetch_json(url, path, token, &events, &http, err, sizeof(err)) < 0)
		goto fail;
	if (nevents == 0)
		json_array_clear(json_object_get(events, "events"));

	if (as_json) {
		json_t *o = json_object();
		if (open != NULL) {
			json_t *all = json_array();
			json_array_extend(all, json_object_get(open, "incidents"));
			json_array_extend(all, json_object_get(resolved, "incidents"));
			json_object_set_new(o, "incidents", all);
		}
		json_object_set(o, "catchments", json_object_get(catchments, "catchments"));
		json_object_set(o, "events", json_object_get(events, "events"));
		ret = json_dumpf(o, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF ? 0
		                                                                               : 1;
		json_decref(o);
	} else {
		struct status_view v = {
		    .catchments = catchments,
		    .events = events,
		    .open = open,
		    .resolved = resolved,
		    .width = status_cli_width(getenv("COLUMNS")),
		    .color = !no_color && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL,
		    .now_ms = time_now_ms(),
		};
		ret = status_cli_render(stdout, &v) == 0 ? 0 : 1;
	}
	goto out;
fail:
	fprintf(stderr, "anycast-collector status: %s\n", err);
	ret = 1;
out:
	json_decref(catchments);
	json_decref(open);
	json_decref(resolved);
	json_decref(events);
	curl_global_cleanup();
	return ret;
}
