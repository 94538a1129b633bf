/* collector/status_incidents.c - "anycast-collector status": the open and recently
 * resolved incidents, most severe first */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/status_impl.h"
#include "common/result.h"
#include "common/text.h"
#include "common/timefmt.h"

/* ---- incidents ---- */

static int severity_rank(const json_t *inc)
{
	const char *s = status_jstr(inc, "severity");
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
	return c ? c : strcmp(status_jstr(y, "started"), status_jstr(x, "started"));
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
			if (strcmp(status_jstr(a, "agent"), status_jstr(b, "agent")) == 0)
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
		status_sanitise(buf, len, rfc3339);
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
			snprintf(status_table_cell(t, 0, c), CELL_MAX, "%s", head[c]);
		return;
	}
	if (open) {
		status_sanitise(status_table_cell(t, r, 0), CELL_MAX,
		         status_jstr(inc, "severity")[0] ? status_jstr(inc, "severity") : "?");
		t->ink[r * t->ncol] = severity_rank(inc) == 0   ? INK_CRITICAL
		                      : severity_rank(inc) == 1 ? INK_WARNING
		                                                : INK_NONE;
		s = status_seconds_since(status_jstr(inc, "started"), now_ms);
	} else {
		const json_t *ds = json_object_get(inc, "duration_s");
		snprintf(status_table_cell(t, r, 0), CELL_MAX, "resolved");
		t->ink[r * t->ncol] = INK_RESOLVED;
		s = json_is_number(ds) ? (int64_t)json_number_value(ds)
		    : time_parse_rfc3339(status_jstr(inc, "ended"), &ended) == 0
		        ? status_seconds_since(status_jstr(inc, "started"), ended)
		        : -1;
	}
	status_sanitise(status_table_cell(t, r, 1), CELL_MAX, status_jstr(inc, "kind"));
	fmt_started(status_table_cell(t, r, 2), CELL_MAX, status_jstr(inc, "started"), now_ms);
	status_fmt_duration(status_table_cell(t, r, 3), CELL_MAX, s);
	if (status_table_cell(t, r, 3)[0] == '\0')
		snprintf(status_table_cell(t, r, 3), CELL_MAX, "?");
	snprintf(status_table_cell(t, r, 4), CELL_MAX, "%zu", agent_count(inc));
	status_sanitise(status_table_cell(t, r, 5), CELL_MAX, status_jstr(inc, "summary"));
}

int status_render_incidents(FILE *out, const struct status_view *v, int width)
{
	const json_t *open = json_object_get(v->open, "incidents"),
	             *res = json_object_get(v->resolved, "incidents");
	const json_t **list = NULL, *inc;
	size_t nopen = 0, nres = 0, i, r;
	struct table t;
	char title[64];

	json_array_foreach(open, i, inc) if (strcmp(status_jstr(inc, "state"), "resolved") != 0) nopen++;
	json_array_foreach(res, i, inc) if (strcmp(status_jstr(inc, "state"), "resolved") == 0 &&
	                                    nres < RESOLVED_SHOWN) nres++;
	snprintf(title, sizeof(title), " (%zu open)", nopen);
	status_heading(out, v->color, "Incidents", title);
	if (nopen + nres == 0) {
		fprintf(out, "No open incidents.\n");
		return 0;
	}
	if ((list = calloc(nopen + 1, sizeof(*list))) == NULL)
		return -ENOMEM;
	if (status_table_init(&t, 6, 1 + nopen + nres) < 0) {
		status_table_free(&t);
		free(list);
		return -ENOMEM;
	}
	nopen = 0;
	json_array_foreach(open, i, inc) if (strcmp(status_jstr(inc, "state"), "resolved") != 0)
	    list[nopen++] = inc;
	qsort(list, nopen, sizeof(*list), open_cmp);
	incident_row(&t, 0, NULL, 0, v->now_ms);
	for (r = 0; r < nopen; r++)
		incident_row(&t, 1 + r, list[r], 1, v->now_ms);
	json_array_foreach(res, i, inc)
	{
		if (r >= nopen + nres)
			break;
		if (strcmp(status_jstr(inc, "state"), "resolved") == 0)
			incident_row(&t, 1 + r++, inc, 0, v->now_ms);
	}
	/* the summary gives way first, the start time last */
	t.minw[0] = 3;
	t.minw[1] = 8;
	t.minw[2] = 11;
	t.minw[3] = 5;
	t.minw[4] = 6;
	t.minw[5] = 12;
	status_table_print(out, &t, status_table_fit(&t, width), v->color);
	if (nopen == 0)
		fprintf(out, "No open incidents.\n");
	status_table_free(&t);
	free(list);
	return 0;
}
