/* tests/agent/test_guard_config.c - the guard configuration: a full file for
 * each action, defaults, and one rejection per kind of bad input. */
#include <criterion/criterion.h>
#include <string.h>

#include "agent/guard_config.h"
#include "common/inventory.h"

static int parse(const char *text, struct guard_config *c, char *err)
{
	return guard_config_parse(text, strlen(text), "g.conf", c, err, 256);
}

TestSuite(guard_config);

Test(guard_config, bird_service_with_defaults)
{
	struct guard_config c;
	char err[256] = "";
	const char *text = "# guard\ninterval 2s\nfall 4\n\n"
			   "service dns-b\n  anycast 198.18.255.53   # the anycast address\n"
			   "  management 198.18.2.53\n  identity b1\n  query example.lab SOA\n"
			   "  action bird\n  bird_protocol anycast_dns\n";

	cr_assert_eq(parse(text, &c, err), 0, "%s", err);
	cr_assert_eq(c.interval_ms, 2000);
	cr_assert_eq(c.params.fall, 4);
	cr_assert_eq(c.params.rise, 5);
	cr_assert_eq(c.n_services, 1);
	cr_assert_str_eq(c.services[0].anycast, "198.18.255.53");
	cr_assert_str_eq(c.services[0].identity, "b1");
	cr_assert_str_eq(c.services[0].query_name, "example.lab");
	cr_assert_str_eq(c.services[0].query_type, "SOA");
	cr_assert_str_eq(c.services[0].rcode, "NOERROR");
	cr_assert_eq(c.services[0].port, 53);
	cr_assert_eq(c.services[0].action, GUARD_ACTION_BIRD);
	cr_assert_str_eq(c.services[0].bird_socket, "/run/bird/bird.ctl");
	cr_assert_str_eq(c.services[0].bird_protocol, "anycast_dns");
}

Test(guard_config, address_and_command_services)
{
	struct guard_config c;
	char err[256] = "";
	const char *text = "service ntp\nprotocol ntp\nanycast 2001:db8:ff::123\naction address\n"
			   "interface anycast0\n"
			   "service dns\nanycast 198.18.255.53\naction command\n"
			   "withdraw /usr/bin/vtysh -c \"router ospf\" -c \"no network 1.2.3.4/32\"\n"
			   "restore /bin/echo a\\ b\n";

	cr_assert_eq(parse(text, &c, err), 0, "%s", err);
	cr_assert_eq(c.n_services, 2);
	cr_assert_eq(c.services[0].protocol, INV_PROTO_NTP);
	cr_assert_eq(c.services[0].port, 123);
	cr_assert_eq(c.services[0].prefix_len, 128);
	cr_assert_eq(c.services[1].withdraw.argc, 5);
	cr_assert_str_eq(c.services[1].withdraw.argv[2], "router ospf");
	cr_assert_str_eq(c.services[1].withdraw.argv[4], "no network 1.2.3.4/32");
	cr_assert_eq(c.services[1].restore.argc, 2);
	cr_assert_str_eq(c.services[1].restore.argv[1], "a b");
}

Test(guard_config, rejects_bad_input_with_the_line)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "no service block" },
		{ "service a\nanycast 1.2.3\naction bird\nbird_protocol p\n", "g.conf:2: anycast" },
		{ "service a\nanycast 1.2.3.4\n", "needs bird_protocol" },
		{ "service a\nanycast 1.2.3.4\naction address\n", "needs interface" },
		{ "service a\nanycast 1.2.3.4\naction command\nwithdraw /bin/true\n", "needs withdraw and restore" },
		{ "service a\nanycast 1.2.3.4\naction command\nwithdraw true\n", "absolute path" },
		{ "service a\nanycast 1.2.3.4\naction command\nwithdraw /bin/x \"open\n", "unbalanced" },
		{ "fall 0\n", "g.conf:1: fall" },
		{ "interval 50ms\n", "interval" },
		{ "bogus 1\n", "unknown key bogus" },
		{ "service a b\n", "service: a name" },
		{ "service a\nservice a\n", "given twice" },
		{ "service a\nanycast 1.2.3.4\naction address\ninterface lo\nprefix_len 24\n", "prefix_len" },
		{ "service a\nanycast\n", "missing value" },
		{ "service a\nanycast 1.2.3.4\naction warp\n", "action:" },
		{ "interval 1s\ntimeout 2s\nservice a\nanycast 1.2.3.4\nbird_protocol p\n", "timeout" },
		{ "hold_down 1m\nhold_max 10s\nservice a\nanycast 1.2.3.4\nbird_protocol p\n", "hold_max" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct guard_config c;
		char err[256] = "";

		cr_assert_eq(parse(bad[i].text, &c, err), -1, "case %zu accepted", i);
		cr_assert(strstr(err, bad[i].why), "case %zu: %s", i, err);
	}
}

Test(guard_config, rejects_nul_and_long_lines)
{
	struct guard_config c;
	char err[256], big[2000];

	cr_assert_eq(guard_config_parse("fall 3\0x", 8, "g", &c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "NUL"));
	memset(big, 'a', sizeof(big));
	cr_assert_eq(guard_config_parse(big, sizeof(big), "g", &c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "longer"));
}

Test(guard_config, argv_split)
{
	struct guard_argv a;

	cr_assert_eq(guard_argv_split("  /a   b\"c d\"e  ", &a), 0);
	cr_assert_eq(a.argc, 2);
	cr_assert_str_eq(a.argv[1], "bc de");
	cr_assert_eq(guard_argv_split("   ", &a), -1);
	cr_assert_eq(guard_argv_split("/a \\", &a), -1);
}
