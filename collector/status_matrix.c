/* collector/status_matrix.c - "anycast-collector status": the catchment matrix, agents x
 * (service, family), with the instance each reaches and marks for outage, split, silent... */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/status_impl.h"
#include "common/result.h"
#include "common/text.h"
#include "common/timefmt.h"

#define MAX_COLS 64   /* (service, family) columns shown */
#define MAX_ROWS 4096 /* agents shown */
#define STALE_MS 90000 /* without agent_state: a row without an answer for this long */

struct col {
	char service[RESULT_NAME_MAX];
	int family;
	char label[RESULT_NAME_MAX + 8];
};

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
	return strcmp(status_jstr(row, "status"), "outage") != 0 &&
	       time_parse_rfc3339(status_jstr(row, "last_seen"), &last) == 0 && now_ms - last > STALE_MS;
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

		status_sanitise(inst, sizeof(inst), status_jstr(p, "instance"));
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
	const char *status = status_jstr(row, "status");
	char inst[RESULT_NAME_MAX], home[RESULT_NAME_MAX], ident[48], rtt[24],
	    flags[RESULT_NAME_MAX + 48], parts[120];
	char d[32];
	int silent = row_silent(row, now_ms);
	enum ink ink = INK_NONE;

	status_sanitise(inst, sizeof(inst), status_jstr(row, "instance"));
	status_sanitise(home, sizeof(home), status_jstr(row, "home"));
	status_sanitise(ident, sizeof(ident), status_jstr(row, "identity"));
	status_fmt_rtt(rtt, sizeof(rtt), json_object_get(row, "rtt_ms"));
	snprintf(flags, sizeof(flags), "%s%s%s%s%s%s",
	         json_is_true(json_object_get(row, "away")) && home[0] ? " (home " : "",
	         json_is_true(json_object_get(row, "away")) && home[0] ? home : "",
	         json_is_true(json_object_get(row, "away")) && home[0] ? ")" : "",
	         json_is_true(json_object_get(row, "suboptimal")) ? " (slow)" : "",
	         json_is_true(json_object_get(row, "flapping")) ? " (flap)" : "",
	         silent ? " (silent)" : "");
	if (strcmp(status, "outage") == 0) {
		status_fmt_duration(d, sizeof(d), status_seconds_since(status_jstr(row, "since"), now_ms));
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
		int w = status_text_width(marks[i]);
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

int status_render_matrix(FILE *out, const json_t *rows, int width, int color, int64_t now_ms)
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
		int fam = status_jfamily(row);

		status_sanitise(svc, sizeof(svc), status_jstr(row, "service"));
		status_sanitise(ag, sizeof(ag), status_jstr(row, "agent"));
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

	if (status_table_init(&t, ncol + 1, nagent + 1) < 0)
		goto out;
	snprintf(status_table_cell(&t, 0, 0), CELL_MAX, "AGENT");
	t.minw[0] = 8;
	for (j = 0; j < ncol; j++) {
		snprintf(status_table_cell(&t, 0, j + 1), CELL_MAX, "%s", cols[j].label);
		t.minw[j + 1] = 10;
	}
	for (i = 0; i < nagent; i++) {
		snprintf(status_table_cell(&t, i + 1, 0), CELL_MAX, "%s", agents[i]);
		for (j = 0; j < ncol; j++)
			snprintf(status_table_cell(&t, i + 1, j + 1), CELL_MAX, "-");
	}

	json_array_foreach(rows, idx, row)
	{
		char svc[RESULT_NAME_MAX], ag[RESULT_NAME_MAX];
		struct col key;
		struct col *c;
		char(*a)[RESULT_NAME_MAX];

		status_sanitise(svc, sizeof(svc), status_jstr(row, "service"));
		status_sanitise(ag, sizeof(ag), status_jstr(row, "agent"));
		memset(&key, 0, sizeof(key));
		snprintf(key.service, sizeof(key.service), "%s", svc);
		key.family = status_jfamily(row);
		c = bsearch(&key, cols, ncol, sizeof(*cols), col_cmp);
		a = bsearch(ag, agents, nagent, sizeof(*agents), name_cmp);
		if (c == NULL || a == NULL)
			continue;
		i = (size_t)(a - agents) + 1;
		j = (size_t)(c - cols) + 1;
		t.ink[i * t.ncol + j] =
		    (unsigned char)cell_text(row, status_table_cell(&t, i, j), CELL_MAX, now_ms);
	}

	shown = status_table_fit(&t, width);
	status_table_print(out, &t, shown, color);
	if (shown < t.ncol)
		fprintf(out, "(%zu more columns: use a wider terminal or --json)\n",
		        t.ncol - shown);
	legend(out, width);
	ret = 0;
out:
	status_table_free(&t);
	free(cols);
	free(agents);
	return ret;
}
