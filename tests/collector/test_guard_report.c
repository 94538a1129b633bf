/* tests/collector/test_guard_report.c - validation of guard reports
 * (collector/guard_report.c): what is accepted, and each refusal's reason. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/guard_report.h"
#include "common/inventory.h"

#define NOW 1780000000000LL /* 2026-05-28T20:26:40Z */

static struct inventory inv;
static struct inv_service svc;
static struct inv_instance insts[2];
static struct inv_agent guard, branch;

static void
setup(void)
{
	char err[256];

	memset(&inv, 0, sizeof(inv));
	memset(&svc, 0, sizeof(svc));
	memset(insts, 0, sizeof(insts));
	snprintf(svc.name, sizeof(svc.name), "dns");
	snprintf(insts[0].name, sizeof(insts[0].name), "site-a");
	snprintf(insts[1].name, sizeof(insts[1].name), "site-b");
	svc.instances = insts;
	svc.n_instances = 2;
	inv.services = &svc;
	inv.n_services = 1;
	snprintf(guard.name, sizeof(guard.name), "guard-b");
	snprintf(guard.guard, sizeof(guard.guard), "site-b");
	snprintf(branch.name, sizeof(branch.name), "br1");
	(void)err;
}

TestSuite(guard_report, .init = setup);

static int
parse(const struct inv_agent *a, const char *body, struct guard_action **out, size_t *n,
      char *msg, size_t len)
{
	return guard_report_parse(body, strlen(body), &inv, a, NOW, out, n, msg, len);
}

static void
refused(const char *body, const char *why)
{
	struct guard_action *g = (struct guard_action *)1;
	size_t n = 99;
	char msg[512] = "";

	cr_assert_eq(parse(&guard, body, &g, &n, msg, sizeof(msg)), -1, "accepted: %s", body);
	cr_assert_null(g);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(msg, why, "%s: got \"%s\"", body, msg);
}

#define ACT(fields) "{\"actions\":[{\"seq\":1,\"time\":\"2026-05-28T20:00:00Z\"," fields "}]}"

Test(guard_report, a_withdrawal_and_a_restoration)
{
	struct guard_action *g;
	size_t n;
	char msg[256];
	const char *body =
		"{\"actions\":[{\"seq\":7,\"time\":\"2026-05-28T20:00:00.250Z\",\"service\":\"dns\","
		"\"instance\":\"site-b\",\"action\":\"withdraw\",\"reason\":\"3 failed probes: "
		"timeout on 198.18.255.53\\u0007\",\"method\":\"bird\",\"address\":\"198.18.255.53\","
		"\"applied\":false,\"extra\":1},"
		"{\"seq\":8,\"time\":\"2026-05-28T20:01:00Z\",\"service\":\"dns\",\"instance\":"
		"\"site-b\",\"action\":\"restore\",\"address\":\"2001:db8:ffff::53\"}],\"status\":{}}";

	cr_assert_eq(parse(&guard, body, &g, &n, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(n, 2);
	cr_assert_eq(g[0].seq, 7);
	cr_assert_eq(g[0].time_ms, 1779998400250LL);
	cr_assert_str_eq(g[0].service, "dns");
	cr_assert_str_eq(g[0].instance, "site-b");
	cr_assert_eq(g[0].withdraw, 1);
	cr_assert_eq(g[0].applied, 0);
	cr_assert_str_eq(g[0].method, "bird");
	cr_assert_str_eq(g[0].reason, "3 failed probes: timeout on 198.18.255.53?",
			 "control characters never reach alerts");
	cr_assert_str_eq(guard_action_event_type(&g[0]), "guard_withdraw");
	cr_assert_eq(g[1].withdraw, 0);
	cr_assert_eq(g[1].applied, 1);
	cr_assert_str_eq(g[1].reason, "");
	cr_assert_str_eq(g[1].address, "2001:db8:ffff::53");
	cr_assert_str_eq(guard_action_event_type(&g[1]), "guard_restore");
	free(g);
	cr_assert_eq(parse(&guard, "{\"actions\":[]}", &g, &n, msg, sizeof(msg)), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(g);
}

Test(guard_report, only_a_guard_may_report_and_only_its_instance)
{
	struct guard_action *g;
	size_t n;
	char msg[256];

	cr_assert_eq(parse(&branch, "{\"actions\":[]}", &g, &n, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "agent br1 is not a guard (no \"guard:\" in its inventory entry)");
	refused(ACT("\"service\":\"dns\",\"instance\":\"site-a\",\"action\":\"restore\""),
		"actions[0]: instance: agent guard-b guards site-b, not site-a");
	refused(ACT("\"service\":\"ntp\",\"instance\":\"site-b\",\"action\":\"restore\""),
		"actions[0]: service: not a service of the inventory");
	snprintf(guard.guard, sizeof(guard.guard), "site-c");
	refused(ACT("\"service\":\"dns\",\"instance\":\"site-c\",\"action\":\"restore\""),
		"actions[0]: instance: not an instance of that service");
}

Test(guard_report, bad_input_is_refused_with_its_reason)
{
	refused("", "invalid JSON at line 1 column 0: '[' or '{' expected near end of file");
	refused("[]", "body must be a JSON object");
	refused("{\"actions\":1}", "actions: must be an array");
	refused("{\"actions\":[],\"status\":[]}", "status: must be an object");
	refused("{\"actions\":[],\"actions\":[]}",
		"invalid JSON at line 1 column 23: duplicate object key near '\"actions\"'");
	refused("{\"actions\":[null]}", "actions[0]: must be an object");
	refused("{\"actions\":[{}]}", "actions[0]: seq: missing");
	refused("{\"actions\":[{\"seq\":\"1\"}]}", "actions[0]: seq: must be an integer from 1 to 2^53");
	refused("{\"actions\":[{\"seq\":-3}]}", "actions[0]: seq: must be an integer from 1 to 2^53");
	refused("{\"actions\":[{\"seq\":1}]}", "actions[0]: time: missing");
	refused("{\"actions\":[{\"seq\":1,\"time\":5}]}", "actions[0]: time: must be a string");
	refused("{\"actions\":[{\"seq\":1,\"time\":\"now\"}]}", "actions[0]: time: not an RFC 3339 time");
	refused("{\"actions\":[{\"seq\":1,\"time\":\"2026-05-30T20:00:00Z\"}]}",
		"actions[0]: time: more than 24 h ahead of the collector's clock");
	refused(ACT("\"action\":\"WITHDRAW\""),
		"actions[0]: action: must be \"withdraw\" or \"restore\"");
	refused(ACT("\"action\":\"restore\""), "actions[0]: service: missing");
	refused(ACT("\"action\":\"restore\",\"service\":\"\""), "actions[0]: service: empty");
	refused(ACT("\"action\":\"restore\",\"service\":\"dns\",\"instance\":\"site-b\\u0000x\""),
		"invalid JSON at line 1 column 112: \\u0000 is not allowed without JSON_ALLOW_NUL "
		"near '\"site-b\\u0000x\"'");
	refused(ACT("\"action\":\"withdraw\",\"service\":\"dns\",\"instance\":\"site-b\""),
		"actions[0]: reason: missing");
	refused(ACT("\"action\":\"withdraw\",\"service\":\"dns\",\"instance\":\"site-b\","
		    "\"reason\":\"\""),
		"actions[0]: reason: empty");
	refused(ACT("\"action\":\"restore\",\"service\":\"dns\",\"instance\":\"site-b\","
		    "\"address\":\"198.18.255.300\""),
		"actions[0]: address: not an IPv4 or IPv6 address");
	refused(ACT("\"action\":\"restore\",\"service\":\"dns\",\"instance\":\"site-b\","
		    "\"method\":\"sh\""),
		"actions[0]: method: must be bird, address or command");
	refused(ACT("\"action\":\"restore\",\"service\":\"dns\",\"instance\":\"site-b\","
		    "\"applied\":\"yes\""),
		"actions[0]: applied: must be true or false");
	refused("{\"actions\":[{\"seq\":2,\"time\":\"2026-05-28T20:00:00Z\",\"action\":\"restore\","
		"\"service\":\"dns\",\"instance\":\"site-b\"},{\"seq\":2,\"time\":"
		"\"2026-05-28T20:00:00Z\",\"action\":\"restore\",\"service\":\"dns\",\"instance\":"
		"\"site-b\"}]}",
		"actions[1]: seq: must be larger than the one before");
}

Test(guard_report, long_reasons_and_many_actions_are_refused)
{
	char *body = malloc(200000);
	size_t off;

	off = (size_t)sprintf(body, ACT("\"action\":\"withdraw\",\"service\":\"dns\","
					"\"instance\":\"site-b\",\"reason\":\""));
	off -= 3; /* before the closing brackets */
	memset(body + off, 'x', 300);
	sprintf(body + off + 300, "\"}]}");
	refused(body, "actions[0]: reason: too long");
	off = (size_t)sprintf(body, "{\"actions\":[");
	for (int i = 0; i < GUARD_REPORT_MAX_ACTIONS + 1; i++)
		off += (size_t)sprintf(body + off, "%s{}", i ? "," : "");
	sprintf(body + off, "]}");
	refused(body, "actions: more than 1000 in one report");
	free(body);
}
