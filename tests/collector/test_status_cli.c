/* tests/collector/test_status_cli.c - the terminal view: matrix layout, marks, sanitising, exit codes */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/status_cli.h"

static const char *CATCHMENTS =
	"{\"catchments\":["
	"{\"agent\":\"branch-2\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-b\",\"identity\":\"ns1.site-b.lab\","
	"\"status\":\"ok\",\"since\":\"2026-11-26T03:55:22.116Z\",\"rtt_ms\":4.24,\"suboptimal\":false,\"flapping\":false},"
	"{\"agent\":\"branch-1\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-a\",\"identity\":\"ns1.site-a.lab\","
	"\"status\":\"ok\",\"since\":\"2026-11-26T03:50:00Z\",\"rtt_ms\":12.9,\"suboptimal\":true,\"flapping\":false},"
	"{\"agent\":\"branch-1\",\"service\":\"ntp\",\"family\":4,\"instance\":\"site-a\",\"identity\":null,"
	"\"status\":\"ok\",\"since\":\"2026-11-26T03:50:00Z\",\"rtt_ms\":1.77,\"suboptimal\":false,\"flapping\":false},"
	"{\"agent\":\"branch-3\",\"service\":\"dns\",\"family\":4,\"instance\":null,\"identity\":\"cache7.evil.example\","
	"\"status\":\"unknown_instance\",\"since\":\"2026-11-26T03:56:12Z\",\"rtt_ms\":6.79,\"suboptimal\":false,\"flapping\":false},"
	"{\"agent\":\"branch-4\",\"service\":\"ntp\",\"family\":4,\"instance\":null,\"identity\":null,"
	"\"status\":\"outage\",\"since\":\"2026-11-26T03:55:27Z\",\"rtt_ms\":null,\"suboptimal\":false,\"flapping\":false},"
	"{\"agent\":\"branch-4\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-c\",\"identity\":\"ns1.site-c.lab\","
	"\"status\":\"split\",\"since\":\"2026-11-26T03:55:27Z\",\"rtt_ms\":3.3,\"suboptimal\":false,\"flapping\":true}"
	"]}";

static const char *EVENTS =
	"{\"events\":["
	"{\"id\":7,\"time\":\"2026-11-26T03:56:12.000Z\",\"type\":\"unknown_instance\",\"agent\":\"branch-3\",\"service\":\"dns\","
	"\"family\":4,\"from_instance\":\"site-b\",\"to_instance\":null,\"detail\":{\"identity\":\"cache7.evil.example\"}},"
	"{\"id\":3,\"time\":\"2026-11-26T03:55:22.116Z\",\"type\":\"catchment_change\",\"agent\":\"branch-2\",\"service\":\"dns\","
	"\"family\":4,\"from_instance\":\"site-a\",\"to_instance\":\"site-b\",\"detail\":{\"cause\":\"route_change\",\"rounds\":2,"
	"\"incident\":\"catchment_change/branch-2/dns/4\",\"resolves\":false}},"
	"{\"id\":2,\"time\":\"2026-11-26T03:55:20Z\",\"type\":\"instance_down\",\"agent\":null,\"service\":\"dns\","
	"\"family\":0,\"from_instance\":\"site-a\",\"to_instance\":null,\"detail\":{\"failing_agents\":2}}"
	"]}";

/* Render to a string (caller frees). */
static char *render(const char *catch_text, const char *ev_text)
{
	json_t *c = json_loads(catch_text, 0, NULL), *e = json_loads(ev_text, 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(c);
	cr_assert_not_null(e);
	cr_assert_not_null(f);
	cr_assert_eq(status_cli_render(f, c, e, 0), 0);
	fclose(f);
	json_decref(c);
	json_decref(e);
	return buf;
}

/* The line starting with prefix (a fresh copy, caller frees), or NULL. */
static char *line_of(const char *text, const char *prefix)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return strndup(p, n);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

Test(status_cli, matrix_rows_and_columns_line_up)
{
	char *out = render(CATCHMENTS, EVENTS);
	char *head = line_of(out, "AGENT"), *b1 = line_of(out, "branch-1"), *b2 = line_of(out, "branch-2");

	cr_assert_not_null(head, "no header in:\n%s", out);
	cr_assert_not_null(b1);
	cr_assert_not_null(b2);
	/* columns sorted by service; each cell starts under its header */
	size_t col_dns = (size_t)(strstr(head, "dns") - head), col_ntp = (size_t)(strstr(head, "ntp") - head);
	cr_assert_lt(col_dns, col_ntp);
	cr_assert_eq(strncmp(b1 + col_dns, "site-a 13ms (slow)", 18), 0, "row: [%s]", b1);
	cr_assert_eq(strncmp(b1 + col_ntp, "site-a 1.8ms", 12), 0, "row: [%s]", b1);
	cr_assert_eq(strncmp(b2 + col_dns, "site-b 4.2ms", 12), 0, "row: [%s]", b2);
	cr_assert_eq(b2[col_ntp], '-', "not measured is '-': [%s]", b2);
	/* agents sorted */
	cr_assert_lt(strstr(out, "branch-1"), strstr(out, "branch-2"));
	free(head);
	free(b1);
	free(b2);
	free(out);
}

Test(status_cli, marks_outage_unknown_split)
{
	char *out = render(CATCHMENTS, EVENTS);
	char *b3 = line_of(out, "branch-3"), *b4 = line_of(out, "branch-4");

	cr_assert_not_null(strstr(b3, "!! UNKNOWN cache7.evil.example"), "[%s]", b3);
	cr_assert_not_null(strstr(b4, "xx OUTAGE"), "[%s]", b4);
	cr_assert_not_null(strstr(b4, "<> split site-c (flap)"), "[%s]", b4);
	free(b3);
	free(b4);
	free(out);
}

Test(status_cli, events_newest_first_in_utc)
{
	char *out = render(CATCHMENTS, EVENTS);
	const char *ev = strstr(out, "Latest events");

	cr_assert_not_null(ev);
	char *first = line_of(ev, "2026-11-26 03:56:12"), *second = line_of(ev, "2026-11-26 03:55:22");
	cr_assert_not_null(first, "%s", ev);
	cr_assert_not_null(second, "%s", ev);
	cr_assert_lt(strstr(ev, first), strstr(ev, second));
	cr_assert_not_null(strstr(first, "unknown_instance"));
	cr_assert_not_null(strstr(first, "site-b -> none"));
	cr_assert_not_null(strstr(second, "site-a -> site-b"));
	cr_assert_not_null(strstr(second, "cause=route_change"));
	cr_assert_not_null(strstr(second, "rounds=2"));
	cr_assert_null(strstr(second, "incident"), "alert keys are not for people: [%s]", second);
	cr_assert_null(strstr(second, "resolves"));

	char *third = line_of(ev, "2026-11-26 03:55:20");
	cr_assert_not_null(third, "%s", ev);
	cr_assert_not_null(strstr(third, "instance_down"), "[%s]", third);
	cr_assert_null(strstr(third, "->"), "an instance going down is no move: [%s]", third);
	cr_assert_not_null(strstr(third, "site-a down"), "[%s]", third);
	cr_assert_not_null(strstr(third, "failing_agents=2"), "[%s]", third);
	free(third);
	free(first);
	free(second);
	free(out);
}

Test(status_cli, control_characters_never_reach_the_terminal)
{
	const char *hostile =
		"{\"catchments\":[{\"agent\":\"b\\u001b[31m\",\"service\":\"dns\",\"family\":4,\"instance\":null,"
		"\"identity\":\"\\u001b]0;pwned\\u0007x\\u009b2J\",\"status\":\"unknown_instance\",\"rtt_ms\":1}]}";
	char *out = render(hostile, "{\"events\":[]}");

	cr_assert_null(strchr(out, '\033'), "escape reached the output:\n%s", out);
	cr_assert_null(strchr(out, '\007'));
	cr_assert_null(strstr(out, "\xc2\x9b"), "C1 CSI reached the output");
	cr_assert_not_null(strstr(out, "?]0;pwned?x?2J"), "%s", out);
	free(out);
}

Test(status_cli, old_rows_are_marked_stale)
{
	char *out = render("{\"catchments\":["
			   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":4,\"instance\":\"x\",\"status\":\"ok\","
			   "\"last_seen\":\"2020-01-01T00:00:00Z\"},"
			   "{\"agent\":\"b\",\"service\":\"dns\",\"family\":4,\"instance\":\"x\",\"status\":\"ok\","
			   "\"last_seen\":\"2999-01-01T00:00:00Z\"}]}",
			   "{\"events\":[]}");
	char *a = line_of(out, "a "), *b = line_of(out, "b ");

	cr_assert_not_null(strstr(a, "x (stale)"), "[%s]", a);
	cr_assert_null(strstr(b, "stale"), "[%s]", b);
	free(a);
	free(b);
	free(out);
}

Test(status_cli, empty_collector_says_so)
{
	char *out = render("{\"catchments\":[]}", "{\"events\":[]}");

	cr_assert_not_null(strstr(out, "No catchment data yet"));
	cr_assert_not_null(strstr(out, "No events."));
	free(out);
}

Test(status_cli, both_families_get_their_own_columns)
{
	char *out = render("{\"catchments\":["
			   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":6,\"instance\":\"x\",\"status\":\"ok\"},"
			   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":4,\"instance\":\"y\",\"status\":\"ok\"}]}",
			   "{\"events\":[]}");
	char *head = line_of(out, "AGENT"), *row = line_of(out, "a ");

	cr_assert_not_null(strstr(head, "dns/v4"));
	cr_assert_not_null(strstr(head, "dns/v6"));
	cr_assert_lt(strstr(head, "dns/v4"), strstr(head, "dns/v6"));
	cr_assert_eq(row[strstr(head, "dns/v4") - head], 'y');
	cr_assert_eq(row[strstr(head, "dns/v6") - head], 'x');
	free(head);
	free(row);
	free(out);
}

Test(status_cli, unreachable_collector_exits_1_with_one_line, .init = cr_redirect_stderr)
{
	/* port 1 on loopback: nothing listens, the connection is refused at once */
	char *argv[] = { "status", "--url", "http://127.0.0.1:1", NULL };

	char msg[512] = "";
	FILE *f;

	cr_assert_eq(status_cli_main(3, argv), 1);
	fflush(stderr);
	f = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(msg, sizeof(msg), f));
	cr_assert_not_null(strstr(msg, "cannot reach the collector at http://127.0.0.1:1"), "[%s]", msg);
	cr_assert_null(fgets(msg, sizeof(msg), f), "more than one line: [%s]", msg);
}

Test(status_cli, bad_usage_exits_2, .init = cr_redirect_stderr)
{
	char *argv1[] = { "status", "--frobnicate", NULL };
	char *argv2[] = { "status", "--events", "many", NULL };
	char *argv3[] = { "status", "extra", NULL };

	cr_assert_eq(status_cli_main(2, argv1), 2);
	cr_assert_eq(status_cli_main(3, argv2), 2);
	cr_assert_eq(status_cli_main(2, argv3), 2);
}
