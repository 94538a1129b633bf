/* tests/collector/test_status_cli.c - the terminal view: incidents, matrix layout, marks, width,
 * sanitising, exit codes */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector/status_cli.h"
#include "common/timefmt.h"

static const char *CATCHMENTS =
    "{\"catchments\":["
    "{\"agent\":\"branch-2\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-b\",\"identity\":"
    "\"ns1.site-b.lab\","
    "\"status\":\"ok\",\"since\":\"2026-11-26T03:55:22.116Z\",\"rtt_ms\":4.24,\"suboptimal\":false,"
    "\"flapping\":false},"
    "{\"agent\":\"branch-1\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-a\",\"identity\":"
    "\"ns1.site-a.lab\","
    "\"status\":\"ok\",\"since\":\"2026-11-26T03:50:00Z\",\"rtt_ms\":12.9,\"suboptimal\":true,"
    "\"flapping\":false},"
    "{\"agent\":\"branch-1\",\"service\":\"ntp\",\"family\":4,\"instance\":\"site-a\",\"identity\":"
    "null,"
    "\"status\":\"ok\",\"since\":\"2026-11-26T03:50:00Z\",\"rtt_ms\":1.77,\"suboptimal\":false,"
    "\"flapping\":false},"
    "{\"agent\":\"branch-3\",\"service\":\"dns\",\"family\":4,\"instance\":null,\"identity\":"
    "\"cache7.evil.example\","
    "\"status\":\"unknown_instance\",\"since\":\"2026-11-26T03:56:12Z\",\"rtt_ms\":6.79,"
    "\"suboptimal\":false,\"flapping\":false},"
    "{\"agent\":\"branch-4\",\"service\":\"ntp\",\"family\":4,\"instance\":null,\"identity\":null,"
    "\"status\":\"outage\",\"since\":\"2026-11-26T03:55:27Z\",\"rtt_ms\":null,\"suboptimal\":false,"
    "\"flapping\":false},"
    "{\"agent\":\"branch-4\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-c\",\"identity\":"
    "\"ns1.site-c.lab\","
    "\"status\":\"split\",\"since\":\"2026-11-26T03:55:27Z\",\"rtt_ms\":3.3,\"suboptimal\":false,"
    "\"flapping\":true}"
    "]}";

static const char *EVENTS = "{\"events\":["
                            "{\"id\":7,\"time\":\"2026-11-26T03:56:12.000Z\",\"type\":\"unknown_"
                            "instance\",\"agent\":\"branch-3\",\"service\":\"dns\","
                            "\"family\":4,\"from_instance\":\"site-b\",\"to_instance\":null,"
                            "\"detail\":{\"identity\":\"cache7.evil.example\"}},"
                            "{\"id\":3,\"time\":\"2026-11-26T03:55:22.116Z\",\"type\":\"catchment_"
                            "change\",\"agent\":\"branch-2\",\"service\":\"dns\","
                            "\"family\":4,\"from_instance\":\"site-a\",\"to_instance\":\"site-b\","
                            "\"detail\":{\"cause\":\"route_change\",\"rounds\":2,"
                            "\"incident\":\"catchment_change/branch-2/dns/4\",\"resolves\":false}},"
                            "{\"id\":2,\"time\":\"2026-11-26T03:55:20Z\",\"type\":\"instance_"
                            "down\",\"agent\":null,\"service\":\"dns\","
                            "\"family\":0,\"from_instance\":\"site-a\",\"to_instance\":null,"
                            "\"detail\":{\"failing_agents\":2}}"
                            "]}";

static const char *OPEN =
    "{\"incidents\":["
    "{\"id\":9,\"kind\":\"route_change\",\"state\":\"open\",\"severity\":\"info\",\"service\":"
    "\"dns\","
    "\"instance\":\"site-a\",\"agents\":[{\"agent\":\"branch-2\",\"family\":4}],"
    "\"started\":\"2026-11-26T03:55:22Z\",\"ended\":null,\"duration_s\":null,\"summary\":\"branch-"
    "2 dns moved to site-b\"},"
    "{\"id\":7,\"kind\":\"instance_down\",\"state\":\"open\",\"severity\":\"critical\",\"service\":"
    "\"dns\","
    "\"instance\":\"site-a\",\"agents\":[{\"agent\":\"br1\",\"family\":4},{\"agent\":\"br1\","
    "\"family\":6},"
    "{\"agent\":\"br4\",\"family\":4}],\"started\":\"2026-11-26T03:50:00Z\",\"ended\":null,"
    "\"duration_s\":null,"
    "\"summary\":\"site-a dns down: br1, br4 failed over to site-b\"}]}";

static const char *RESOLVED =
    "{\"incidents\":["
    "{\"id\":5,\"kind\":\"outage\",\"state\":\"resolved\",\"severity\":\"critical\",\"service\":"
    "\"ntp\","
    "\"agents\":[{\"agent\":\"branch-4\",\"family\":4}],\"started\":\"2026-11-26T03:40:00Z\","
    "\"ended\":\"2026-11-26T03:42:14Z\",\"duration_s\":134,\"summary\":\"branch-4 ntp: no "
    "answer\"}]}";

/* 2026-11-26T03:57:00Z */
#define NOW_MS 1795665420000LL

/* Render to a string (caller frees); open/resolved NULL: no incidents section. */
static char *render_view(const char *catch_text, const char *ev_text, const char *open,
                         const char *resolved, int width)
{
	json_t *c = json_loads(catch_text, 0, NULL), *e = json_loads(ev_text, 0, NULL);
	json_t *o = open ? json_loads(open, 0, NULL) : NULL,
	       *r = resolved ? json_loads(resolved, 0, NULL) : NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct status_view v = {.catchments = c,
	                        .events = e,
	                        .open = o,
	                        .resolved = r,
	                        .width = width,
	                        .color = 0,
	                        .now_ms = NOW_MS};

	cr_assert_not_null(c);
	cr_assert_not_null(e);
	cr_assert_not_null(f);
	cr_assert_eq(status_cli_render(f, &v), 0);
	fclose(f);
	json_decref(c);
	json_decref(e);
	json_decref(o);
	json_decref(r);
	return buf;
}

static char *render(const char *catch_text, const char *ev_text)
{
	return render_view(catch_text, ev_text, NULL, NULL, 0);
}

/* Display columns of the widest line (UTF-8 code points). */
static int widest_line(const char *text)
{
	int w = 0, max = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			w = 0;
			continue;
		}
		if (((unsigned char)*p & 0xc0) != 0x80 && ++w > max)
			max = w;
	}
	return max;
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
	char *head = line_of(out, "AGENT"), *b1 = line_of(out, "branch-1"),
	     *b2 = line_of(out, "branch-2");

	cr_assert_not_null(head, "no header in:\n%s", out);
	cr_assert_not_null(b1);
	cr_assert_not_null(b2);
	/* columns sorted by service; each cell starts under its header */
	size_t col_dns = (size_t)(strstr(head, "dns") - head),
	       col_ntp = (size_t)(strstr(head, "ntp") - head);
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
	/* since 03:55:27, rendered at 03:57:00 */
	cr_assert_not_null(strstr(b4, "xx OUTAGE 1m33s"), "[%s]", b4);
	cr_assert_not_null(strstr(b4, "<> split site-c (flap)"), "[%s]", b4);
	free(b3);
	free(b4);
	free(out);
}

Test(status_cli, events_newest_first_in_utc)
{
	/* wide enough for the whole detail: at 100 columns it is what gives way */
	char *out = render_view(CATCHMENTS, EVENTS, NULL, NULL, 120);
	const char *ev = strstr(out, "Latest events");

	cr_assert_not_null(ev);
	char *first = line_of(ev, "2026-11-26 03:56:12"),
	     *second = line_of(ev, "2026-11-26 03:55:22");
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
	const char *hostile = "{\"catchments\":[{\"agent\":\"b\\u001b[31m\",\"service\":\"dns\","
	                      "\"family\":4,\"instance\":null,"
	                      "\"identity\":\"\\u001b]0;pwned\\u0007x\\u009b2J\",\"status\":"
	                      "\"unknown_instance\",\"rtt_ms\":1}]}";
	char *out = render(hostile, "{\"events\":[]}");

	cr_assert_null(strchr(out, '\033'), "escape reached the output:\n%s", out);
	cr_assert_null(strchr(out, '\007'));
	cr_assert_null(strstr(out, "\xc2\x9b"), "C1 CSI reached the output");
	cr_assert_not_null(strstr(out, "?]0;pwned?x?2J"), "%s", out);
	free(out);
}

Test(status_cli, bidi_and_zero_width_never_reach_the_terminal)
{
	/* U+202E turns "a-etis" into what reads as "site-a"; U+200B and U+2066 hide */
	char *out = render("{\"catchments\":[{\"agent\":\"b\\u2066r1\",\"service\":\"dns\","
	                   "\"family\":4,\"instance\":null,\"identity\":\"\\u202ea-etis\\u200b\","
	                   "\"status\":\"unknown_instance\",\"rtt_ms\":1}]}",
	                   "{\"events\":[]}");

	cr_assert_null(strstr(out, "\xe2\x80\xae"), "U+202E reached the output:\n%s", out);
	cr_assert_null(strstr(out, "\xe2\x80\x8b"), "U+200B reached the output");
	cr_assert_null(strstr(out, "\xe2\x81\xa6"), "U+2066 reached the output");
	cr_assert_not_null(strstr(out, "?a-etis?"), "%s", out);
	free(out);
}

Test(status_cli, silent_only_when_the_agent_stopped_reporting)
{
	char *out = render("{\"catchments\":["
	                   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":4,\"instance\":\"x\","
	                   "\"status\":\"ok\","
	                   "\"agent_state\":\"silent\",\"last_seen\":\"2999-01-01T00:00:00Z\"},"
	                   "{\"agent\":\"b\",\"service\":\"dns\",\"family\":4,\"instance\":null,"
	                   "\"status\":\"outage\","
	                   "\"agent_state\":\"reporting\",\"since\":\"2020-01-01T00:00:00Z\","
	                   "\"last_seen\":\"2020-01-01T00:00:00Z\"},"
	                   /* a collector without agent_state: an old answer outside an outage */
	                   "{\"agent\":\"c\",\"service\":\"dns\",\"family\":4,\"instance\":\"x\","
	                   "\"status\":\"ok\","
	                   "\"last_seen\":\"2020-01-01T00:00:00Z\"},"
	                   "{\"agent\":\"d\",\"service\":\"dns\",\"family\":4,\"instance\":null,"
	                   "\"status\":\"outage\","
	                   "\"last_seen\":\"2020-01-01T00:00:00Z\"}]}",
	                   "{\"events\":[]}");
	char *a = line_of(out, "a "), *b = line_of(out, "b "), *c = line_of(out, "c "),
	     *d = line_of(out, "d ");

	cr_assert_not_null(strstr(a, "x (silent)"), "[%s]", a);
	cr_assert_not_null(strstr(b, "xx OUTAGE"), "[%s]", b);
	cr_assert_null(strstr(b, "silent"),
	               "a long outage of a reporting agent is no silence: [%s]", b);
	cr_assert_not_null(strstr(c, "x (silent)"), "[%s]", c);
	cr_assert_null(strstr(d, "silent"), "[%s]", d);
	free(a);
	free(b);
	free(c);
	free(d);
	free(out);
}

Test(status_cli, away_and_split_marks)
{
	char *out = render("{\"catchments\":["
	                   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-"
	                   "b\",\"status\":\"ok\","
	                   "\"home\":\"site-a\",\"away\":true,\"rtt_ms\":2},"
	                   "{\"agent\":\"b\",\"service\":\"dns\",\"family\":4,\"instance\":\"site-"
	                   "a\",\"status\":\"split\","
	                   "\"home\":\"site-a\",\"away\":false,\"split_instances\":[{\"instance\":"
	                   "\"site-a\",\"share\":0.6},"
	                   "{\"instance\":\"site-b\",\"share\":0.4}]}]}",
	                   "{\"events\":[]}");
	char *a = line_of(out, "a "), *b = line_of(out, "b ");

	cr_assert_not_null(strstr(a, "site-b 2.0ms (home site-a)"), "[%s]", a);
	cr_assert_not_null(strstr(b, "<> split site-a 60% site-b 40%"), "[%s]", b);
	cr_assert_null(strstr(b, "home"), "[%s]", b);
	free(a);
	free(b);
	free(out);
}

Test(status_cli, incidents_first_open_then_resolved)
{
	char *out = render_view(CATCHMENTS, EVENTS, OPEN, RESOLVED, 0);
	const char *inc = strstr(out, "Incidents (2 open)"), *cat = strstr(out, "Catchments");
	const char *crit = strstr(out, "critical"), *info = strstr(out, "info  "),
	           *res = strstr(out, "resolved  ");

	cr_assert_not_null(inc, "%s", out);
	cr_assert_not_null(cat);
	cr_assert_lt(inc, cat, "incidents come before the matrix");
	cr_assert_lt(cat, strstr(out, "Latest events"));
	cr_assert_not_null(crit, "%s", out);
	cr_assert_not_null(info, "%s", out);
	cr_assert_not_null(res, "%s", out);
	cr_assert_lt(crit, info, "critical first");
	cr_assert_lt(info, res, "open before resolved");
	char *l = line_of(crit, "critical");
	cr_assert_not_null(strstr(l, "instance_down  03:50:00  7m00s  2 "), "[%s]", l);
	cr_assert_not_null(strstr(l, "site-a dns down: br1, br4 failed over to site-b"), "[%s]", l);
	free(l);
	l = line_of(res, "resolved");
	cr_assert_not_null(strstr(l, "outage"), "[%s]", l);
	cr_assert_not_null(strstr(l, "2m14s"), "[%s]", l);
	free(l);
	free(out);

	out = render_view(CATCHMENTS, EVENTS, "{\"incidents\":[]}", RESOLVED, 0);
	cr_assert_not_null(strstr(out, "Incidents (0 open)"), "%s", out);
	cr_assert_not_null(strstr(out, "No open incidents."), "%s", out);
	free(out);

	/* a collector that keeps none: no section at all */
	out = render(CATCHMENTS, EVENTS);
	cr_assert_null(strstr(out, "Incidents"), "%s", out);
	cr_assert_eq(strncmp(out, "Catchments", 10), 0);
	free(out);
}

static const char *LONG =
    "{\"catchments\":["
    "{\"agent\":\"a-branch-with-a-name-far-longer-than-anyone-would-type\",\"service\":\"dns\","
    "\"family\":4,"
    "\"instance\":null,\"identity\":\"a-very-long-identity.of-a-rogue-server.somewhere.example\","
    "\"status\":\"unknown_instance\"},"
    "{\"agent\":\"a-branch-with-a-name-far-longer-than-anyone-would-type\",\"service\":\"dns\","
    "\"family\":6,"
    "\"instance\":\"an-instance-with-a-long-name-too\",\"status\":\"ok\",\"home\":\"another-"
    "instance-with-a-long-name\",\"away\":true,\"rtt_ms\":12.5},"
    "{\"agent\":\"b\",\"service\":\"ntp\",\"family\":4,\"instance\":\"an-instance-with-a-long-name-"
    "too\",\"status\":\"ok\",\"rtt_ms\":1,"
    "\"suboptimal\":true,\"flapping\":true},"
    "{\"agent\":\"b\",\"service\":\"ntp\",\"family\":6,\"instance\":\"an-instance-with-a-long-name-"
    "too\",\"status\":\"ok\",\"rtt_ms\":1}]}";
static const char *LONG_EVENTS =
    "{\"events\":[{\"id\":1,\"time\":\"2026-11-26T03:56:12Z\",\"type\":\"catchment_change\","
    "\"agent\":\"a-branch-with-a-name-far-longer-than-anyone-would-type\",\"service\":\"dns\","
    "\"family\":4,"
    "\"from_instance\":\"another-instance-with-a-long-name\",\"to_instance\":\"an-instance-with-a-"
    "long-name-too\","
    "\"detail\":{\"cause\":\"route_change\",\"note\":\"a long explanation of what happened and why "
    "it matters\"}}]}";
static const char *LONG_OPEN =
    "{\"incidents\":[{\"id\":1,\"kind\":\"hijack\",\"state\":\"open\",\"severity\":\"critical\","
    "\"agents\":[],\"started\":\"2026-11-26T03:56:12Z\",\"summary\":\"dns: an identity no instance "
    "has, "
    "a-very-long-identity.of-a-rogue-server.somewhere.example, answers three branches of the "
    "network\"}]}";

Test(status_cli, fits_100_columns_and_cuts_long_names_with_an_ellipsis)
{
	char *out = render_view(LONG, LONG_EVENTS, LONG_OPEN, "{\"incidents\":[]}", 0);
	const char *ell = "\xe2\x80\xa6";

	cr_assert_leq(widest_line(out), 100, "%d columns:\n%s", widest_line(out), out);
	/* names are cut, not wrapped: one line per agent, one per event */
	char *head = line_of(out, "AGENT"), *row = line_of(out, "a-branch");
	cr_assert_not_null(head);
	cr_assert_not_null(row, "%s", out);
	cr_assert_not_null(strstr(row, ell), "[%s]", row);
	cr_assert_not_null(strstr(row, "!! UNKNOWN"), "[%s]", row);
	cr_assert_not_null(strstr(head, "dns/v4"));
	cr_assert_not_null(strstr(head, "ntp/v6"));
	char *b = line_of(out, "b ");
	cr_assert_not_null(b);
	free(b);
	cr_assert_not_null(strstr(out, "dns: an identity no instance has"), "%s", out);
	char *ev = line_of(out, "2026-11-26 03:56:12  catchment_change");
	cr_assert_not_null(ev, "%s", out);
	cr_assert_not_null(strstr(ev, ell), "[%s]", ev);
	free(ev);
	free(head);
	free(row);
	free(out);
}

Test(status_cli, uses_columns_when_wider)
{
	cr_assert_eq(status_cli_width(NULL), 100);
	cr_assert_eq(status_cli_width(""), 100);
	cr_assert_eq(status_cli_width("80"), 100);
	cr_assert_eq(status_cli_width("160"), 160);
	cr_assert_eq(status_cli_width("16O"), 100);
	cr_assert_eq(status_cli_width("99999"), STATUS_CLI_WIDTH_MAX);

	char *narrow = render_view(LONG, LONG_EVENTS, LONG_OPEN, NULL, 100);
	char *wide = render_view(LONG, LONG_EVENTS, LONG_OPEN, NULL, 200);
	cr_assert_leq(widest_line(wide), 200, "%s", wide);
	cr_assert_gt(widest_line(wide), 100, "%s", wide);
	/* with room, less is cut */
	const char *summary = "a-very-long-identity.of-a-rogue-server.somewhere.example, answers "
	                      "three branches of the network";
	cr_assert_not_null(strstr(wide, summary), "%s", wide);
	cr_assert_null(strstr(narrow, summary), "%s", narrow);
	cr_assert_not_null(strstr(wide, "a-branch-with-a-name-far-longer-than-anyone-woul"), "%s",
	                   wide);
	cr_assert_null(strstr(narrow, "a-branch-with-a-name-far-longer-than-anyone-woul"), "%s",
	               narrow);
	free(narrow);
	free(wide);
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
	                   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":6,\"instance\":\"x\","
	                   "\"status\":\"ok\"},"
	                   "{\"agent\":\"a\",\"service\":\"dns\",\"family\":4,\"instance\":\"y\","
	                   "\"status\":\"ok\"}]}",
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
	char *argv[] = {"status", "--url", "http://127.0.0.1:1", NULL};

	char msg[512] = "";
	FILE *f;

	cr_assert_eq(status_cli_main(3, argv), 1);
	fflush(stderr);
	f = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(msg, sizeof(msg), f));
	cr_assert_not_null(strstr(msg, "cannot reach the collector at http://127.0.0.1:1"), "[%s]",
	                   msg);
	cr_assert_null(fgets(msg, sizeof(msg), f), "more than one line: [%s]", msg);
}

Test(status_cli, bad_usage_exits_2, .init = cr_redirect_stderr)
{
	char *argv1[] = {"status", "--frobnicate", NULL};
	char *argv2[] = {"status", "--events", "many", NULL};
	char *argv3[] = {"status", "extra", NULL};

	cr_assert_eq(status_cli_main(2, argv1), 2);
	cr_assert_eq(status_cli_main(3, argv2), 2);
	cr_assert_eq(status_cli_main(2, argv3), 2);
}

/* ---- against a small HTTP server: one thread, one request per connection ---- */

struct route {
	const char *prefix; /* request target prefix */
	int status;
	const char *body;
};

struct tiny_server {
	int fd, port;
	const struct route *routes;
	pthread_t thr;
};

static void *serve(void *arg)
{
	struct tiny_server *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		char req[4096], head[256], target[1024] = "";
		ssize_t n = 0, k;
		const struct route *r;

		/* the request head ends with an empty line; GETs have no body */
		while (n < (ssize_t)sizeof(req) - 1 &&
		       (k = read(c, req + n, sizeof(req) - 1 - (size_t)n)) > 0) {
			n += k;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n > 0 ? n : 0] = '\0';
		sscanf(req, "GET %1023s", target);
		for (r = s->routes; r->prefix && strncmp(target, r->prefix, strlen(r->prefix)) != 0;
		     r++)
			;
		int status = r->prefix ? r->status : 404;
		const char *body = r->prefix ? r->body : "{\"error\":\"not found\"}";
		snprintf(
		    head, sizeof(head),
		    "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n",
		    status, strlen(body));
		cr_assert_eq(write(c, head, strlen(head)), (ssize_t)strlen(head));
		cr_assert_eq(write(c, body, strlen(body)), (ssize_t)strlen(body));
		close(c);
	}
	return NULL;
}

static void server_start(struct tiny_server *s, const struct route *routes)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	s->routes = routes;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->fd, 8), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&s->thr, NULL, serve, s), 0);
}

static void server_stop(struct tiny_server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thr, NULL);
}

/* Run status_cli_main with stdout in a file; returns the exit status, *out the output (caller
 * frees). */
static int run_main(int port, char **out)
{
	char url[64], *argv[] = {"status", "--url", url, "--no-color", NULL};
	FILE *f = tmpfile();
	int saved = dup(STDOUT_FILENO), rc;
	long n;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	cr_assert_not_null(f);
	fflush(stdout);
	dup2(fileno(f), STDOUT_FILENO);
	rc = status_cli_main(4, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = ftell(f);
	*out = calloc(1, (size_t)n + 1);
	rewind(f);
	cr_assert_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return rc;
}

Test(status_cli, collector_without_incidents_still_works)
{
	static const struct route routes[] = {
	    {"/api/v1/catchments", 200,
	     "{\"catchments\":[{\"agent\":\"br1\",\"service\":\"dns\",\"family\":4,"
	     "\"instance\":\"site-a\",\"status\":\"ok\",\"rtt_ms\":1}]}"},
	    {"/api/v1/events", 200, "{\"events\":[]}"},
	    {NULL, 0, NULL}, /* everything else, incidents included: 404 */
	};
	struct tiny_server s;
	char *out;

	server_start(&s, routes);
	cr_assert_eq(run_main(s.port, &out), 0, "%s", out);
	server_stop(&s);
	cr_assert_null(strstr(out, "Incidents"), "%s", out);
	cr_assert_not_null(strstr(out, "br1 "), "%s", out);
	cr_assert_not_null(strstr(out, "site-a 1.0ms"), "%s", out);
	cr_assert_not_null(strstr(out, "No events."), "%s", out);
	free(out);
}

Test(status_cli, open_incidents_come_first_from_the_collector)
{
	static const struct route routes[] = {
	    {"/api/v1/catchments", 200, "{\"catchments\":[]}"},
	    {"/api/v1/incidents?state=open", 200,
	     "{\"incidents\":[{\"id\":3,\"kind\":\"outage\",\"state\":\"open\",\"severity\":"
	     "\"critical\","
	     "\"agents\":[{\"agent\":\"br2\"}],\"started\":\"2026-11-26T03:50:00Z\",\"summary\":"
	     "\"br2 ntp: no answer\"}]}"},
	    {"/api/v1/incidents?state=resolved", 200, "{\"incidents\":[]}"},
	    {"/api/v1/events", 200, "{\"events\":[]}"},
	    {NULL, 0, NULL},
	};
	struct tiny_server s;
	char *out;

	server_start(&s, routes);
	cr_assert_eq(run_main(s.port, &out), 0, "%s", out);
	server_stop(&s);
	cr_assert_eq(strncmp(out, "Incidents (1 open)", 18), 0, "%s", out);
	cr_assert_not_null(strstr(out, "br2 ntp: no answer"), "%s", out);
	cr_assert_lt(strstr(out, "br2 ntp: no answer"), strstr(out, "Catchments"));
	free(out);
}

Test(status_cli, an_incidents_error_other_than_404_is_an_error, .init = cr_redirect_stderr)
{
	static const struct route routes[] = {
	    {"/api/v1/catchments", 200, "{\"catchments\":[]}"},
	    {"/api/v1/incidents", 503, "{\"error\":\"not ready\"}"},
	    {"/api/v1/events", 200, "{\"events\":[]}"},
	    {NULL, 0, NULL},
	};
	struct tiny_server s;
	char *out;

	server_start(&s, routes);
	cr_assert_eq(run_main(s.port, &out), 1);
	server_stop(&s);
	free(out);
}
