/* collector/status_render.c - "anycast-collector status": the latest events, and the
 * whole text view (status_cli_render) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/status_impl.h"
#include "common/result.h"
#include "common/text.h"
#include "common/timefmt.h"

/* ---- events ---- */

#define EV_COLS 6

static void event_fields(const json_t *ev, char f[EV_COLS][CELL_MAX])
{
	char a[RESULT_NAME_MAX], b[RESULT_NAME_MAX], s[RESULT_NAME_MAX];
	const char *key;
	const json_t *v, *detail;
	size_t o = 0;

	status_fmt_time(f[0], CELL_MAX, status_jstr(ev, "time"));
	status_sanitise(f[1], CELL_MAX, status_jstr(ev, "type"));
	status_sanitise(f[2], CELL_MAX, status_jstr(ev, "agent")[0] ? status_jstr(ev, "agent") : "-");
	status_sanitise(s, sizeof(s), status_jstr(ev, "service"));
	if (json_is_integer(json_object_get(ev, "family")) &&
	    json_integer_value(json_object_get(ev, "family")))
		snprintf(f[3], CELL_MAX, "%s/v%d", s[0] ? s : "-", status_jfamily(ev));
	else
		snprintf(f[3], CELL_MAX, "%s", s[0] ? s : "-");
	status_sanitise(a, sizeof(a), status_jstr(ev, "from_instance"));
	status_sanitise(b, sizeof(b), status_jstr(ev, "to_instance"));
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
				status_sanitise(val, sizeof(val), json_string_value(v));
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
			status_sanitise(s, 32, key);
			n = snprintf(f[5] + o, CELL_MAX - o, "%s%s=%s", o ? " " : "", s, val);
			if (n < 0 || (size_t)n >= CELL_MAX - o) {
				f[5][o] = '\0';
				break;
			}
			o += (size_t)n;
		}
	}
}

int status_render_events(FILE *out, const json_t *evs, int width, int color)
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
	if (status_table_init(&t, EV_COLS, n + 1) < 0) {
		status_table_free(&t);
		return -ENOMEM;
	}
	for (j = 0; j < EV_COLS; j++) {
		snprintf(status_table_cell(&t, 0, (size_t)j), CELL_MAX, "%s", head[j]);
		t.minw[j] = minw[j];
	}
	for (i = 0; i < n; i++) {
		event_fields(json_array_get(evs, i), f);
		for (j = 0; j < EV_COLS; j++)
			memcpy(status_table_cell(&t, i + 1, (size_t)j), f[j], CELL_MAX);
		if (strcmp(f[1], "unknown_instance") == 0)
			t.ink[(i + 1) * EV_COLS + 1] = INK_CRITICAL;
	}
	status_table_print(out, &t, status_table_fit(&t, width), color);
	status_table_free(&t);
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
		if ((rc = status_render_incidents(out, &view, width)) < 0)
			return rc;
		fputc('\n', out);
	}
	status_heading(out, v->color, "Catchments", "");
	if ((rc = status_render_matrix(out, json_object_get(v->catchments, "catchments"), width, v->color,
	                        now)) < 0)
		return rc;
	fputc('\n', out);
	status_heading(out, v->color, "Latest events", " (newest first)");
	if ((rc = status_render_events(out, json_object_get(v->events, "events"), width, v->color)) < 0)
		return rc;
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
