/* tests/common/test_inventory.c - the YAML inventory: the SPEC example, defaults,
 * every validation error with its file:line:field, malformed YAML, token hashing,
 * lookups, and the services JSON round trip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/inventory.h"
#include "common/timefmt.h"

TestSuite(inventory);

#define SVC "services:\n  - name: dns\n    protocol: dns\n    address: 198.18.255.53\n"
#define SHA_TEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static struct inventory *parse(const char *yaml, char *err, size_t errlen)
{
	return inventory_parse(yaml, strlen(yaml), "inv.yaml", err, errlen);
}

/* The text must be rejected with exactly this message. */
static void rejects(const char *yaml, const char *want)
{
	char err[512] = "";
	struct inventory *inv = parse(yaml, err, sizeof(err));

	cr_assert_null(inv, "accepted:\n%s", yaml);
	cr_assert_str_eq(err, want, "got \"%s\"\nwant \"%s\"\nfor:\n%s", err, want, yaml);
}

/* The text must be rejected with a message starting with prefix. */
static void rejects_prefix(const char *yaml, const char *prefix)
{
	char err[512] = "";
	struct inventory *inv = parse(yaml, err, sizeof(err));

	cr_assert_null(inv, "accepted:\n%s", yaml);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "got \"%s\", want \"%s...\"", err,
	             prefix);
}

Test(inventory, spec_example_accepted)
{
	char err[512] = "";
	struct inventory *inv =
	    inventory_load("tests/common/data/spec_inventory.yaml", err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_str_eq(inv->path, "tests/common/data/spec_inventory.yaml");
	cr_assert_str_eq(inv->listen, "127.0.0.1:8053");
	cr_assert_str_eq(inv->db, "/var/lib/anycast/anycast.db");
	cr_assert_eq(inv->n_services, 2);

	const struct inv_service *dns = inventory_find_service(inv, "dns");
	cr_assert_not_null(dns);
	cr_assert_eq(dns->protocol, INV_PROTO_DNS);
	cr_assert_eq(dns->n_address, 2);
	cr_assert_str_eq(dns->address[0], "198.18.255.53");
	cr_assert_str_eq(dns->address[1], "2001:db8:ffff::53");
	cr_assert_eq(dns->port, 53);
	cr_assert_eq(dns->interval_ms, 5000);
	cr_assert_eq(dns->timeout_ms, 1000);
	cr_assert_eq(dns->n_identify, 3);
	cr_assert_str_eq(dns->identify[1], "id.server");
	cr_assert_eq(dns->n_instances, 1);
	cr_assert_str_eq(dns->instances[0].name, "site-a");
	cr_assert_eq(dns->instances[0].n_management, 1);
	cr_assert_str_eq(dns->instances[0].management[0], "198.18.1.2");
	cr_assert_str_eq(dns->instances[0].identity, "s1.lab");

	const struct inv_service *ntp = inventory_find_service(inv, "ntp");
	cr_assert_not_null(ntp);
	cr_assert_eq(ntp->protocol, INV_PROTO_NTP);
	cr_assert_eq(ntp->port, 123, "ntp default port");
	cr_assert_eq(ntp->interval_ms, 5000);
	cr_assert_str_eq(ntp->instances[0].identity, "");

	cr_assert_eq(inv->n_agents, 1);
	cr_assert_str_eq(inv->agents[0].token_sha256, SHA_TEST);
	cr_assert_eq(inv->n_alerts, 1);
	cr_assert_eq(inv->alerts[0].type, INV_ALERT_WEBHOOK);
	cr_assert_eq(inv->alerts[0].n_events, 4);
	cr_assert_str_eq(inv->alerts[0].events[3], "instance_down");
	cr_assert_eq(inv->alerts[0].n_services, 0);
	inventory_free(inv);
}

Test(inventory, defaults)
{
	char err[512] = "";
	struct inventory *inv =
	    parse("services:\n  - name: d\n    protocol: dns\n    address: 198.18.255.53\n", err,
	          sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_eq(inv->retention_ms, 30LL * 86400 * 1000);
	cr_assert_eq(inv->thresholds.hysteresis, 2);
	cr_assert_eq(inv->thresholds.outage_rounds, 2);
	cr_assert_eq(inv->thresholds.instance_down_agents, 1);
	cr_assert_eq(inv->thresholds.instance_down_rounds, 2);
	cr_assert_eq(inv->thresholds.flap_changes, 4);
	cr_assert_eq(inv->thresholds.flap_window_ms, 600000);
	cr_assert_eq(inv->thresholds.flap_stable_ms, 120000);
	cr_assert_eq(inv->thresholds.split_window_ms, 30000);
	cr_assert_eq(inv->thresholds.split_min_switches, 3);
	cr_assert_float_eq(inv->thresholds.suboptimal_ms, 20, 1e-9);
	cr_assert_float_eq(inv->thresholds.suboptimal_pct, 50, 1e-9);
	cr_assert_eq(inv->thresholds.suboptimal_for_ms, 60000);
	cr_assert_str_eq(inv->listen, "");
	cr_assert_str_eq(inv->path, "");
	const struct inv_service *s = &inv->services[0];
	cr_assert_eq(s->n_address, 1, "a single address string is a one-element list");
	cr_assert_eq(s->port, 53);
	cr_assert_eq(s->interval_ms, 5000);
	cr_assert_eq(s->timeout_ms, 1000);
	cr_assert_eq(s->n_identify, 3);
	cr_assert_str_eq(s->identify[0], "nsid");
	cr_assert_str_eq(s->identify[2], "hostname.bind");
	cr_assert_eq(s->n_instances, 0);
	inventory_free(inv);
}

Test(inventory, timeout_may_equal_interval)
{
	char err[512] = "";
	struct inventory *inv = parse(SVC "    interval: 1s\n    timeout: 1s\n", err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_eq(inv->services[0].timeout_ms, 1000);
	json_t *j = inventory_services_to_json(inv);
	struct inventory *back = inventory_services_from_json(j, err, sizeof(err));
	cr_assert_not_null(back, "%s", err);
	cr_assert_eq(back->services[0].timeout_ms, 1000);
	inventory_free(back);
	json_decref(j);
	inventory_free(inv);
}

Test(inventory, all_keys)
{
	char err[512] = "";
	const char *yaml =
	    "listen: \"[::1]:8053\"\n"
	    "db: anycast.db\n"
	    "tls_cert: /etc/anycast/cert.pem\n"
	    "tls_key: /etc/anycast/key.pem\n"
	    "read_token_sha256: " SHA_TEST "\n"
	    "retention: 7d\n"
	    "collector: http://127.0.0.1:8053\n"
	    "name: branch-9\n"
	    "token_file: /etc/anycast/token\n"
	    "spool: /var/spool/anycast\n"
	    "thresholds:\n"
	    "  hysteresis: 3\n  outage_rounds: 4\n  instance_down_agents: 2\n"
	    "  instance_down_rounds: 5\n  flap_changes: 6\n  flap_window: 15m\n"
	    "  flap_stable: 3m\n  split_window: 45s\n  split_min_switches: 7\n"
	    "  suboptimal_ms: 12.5\n  suboptimal_pct: 25\n  suboptimal_for: 2m\n"
	    "services:\n"
	    "  - name: dns\n    protocol: dns\n    address: [198.18.255.53]\n"
	    "    port: 5353\n    interval: 500ms\n    timeout: 200ms\n"
	    "    identify: id.server\n    query: example.lab A\n"
	    "    instances:\n"
	    "      - name: a\n        management: [198.18.1.2, \"2001:db8:1::2\"]\n"
	    "      - name: b\n        management: 198.18.2.2\n        identity: ~\n"
	    "  - name: dns2\n    protocol: dns\n    address: 198.18.255.54\n"
	    "    interval: 500ms\n    query_name: example.lab\n"
	    "alerts:\n"
	    "  - name: mail\n    type: email\n    url: smtp://127.0.0.1:2525\n"
	    "    mail_from: mon@example.lab\n    mail_to: ops@example.lab\n"
	    "    services: [dns]\n    events: outage\n"
	    "  - name: am\n    type: alertmanager\n    url: https://am.example.lab\n";
	struct inventory *inv = parse(yaml, err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_str_eq(inv->listen, "[::1]:8053");
	cr_assert_str_eq(inv->tls_key, "/etc/anycast/key.pem");
	cr_assert_str_eq(inv->read_token_sha256, SHA_TEST);
	cr_assert_eq(inv->retention_ms, 7LL * 86400000);
	cr_assert_str_eq(inv->collector, "http://127.0.0.1:8053");
	cr_assert_str_eq(inv->name, "branch-9");
	cr_assert_str_eq(inv->token_file, "/etc/anycast/token");
	cr_assert_str_eq(inv->spool, "/var/spool/anycast");
	cr_assert_eq(inv->thresholds.hysteresis, 3);
	cr_assert_eq(inv->thresholds.instance_down_agents, 2);
	cr_assert_eq(inv->thresholds.flap_window_ms, 900000);
	cr_assert_eq(inv->thresholds.split_min_switches, 7);
	cr_assert_float_eq(inv->thresholds.suboptimal_ms, 12.5, 1e-9);
	cr_assert_eq(inv->thresholds.suboptimal_for_ms, 120000);
	const struct inv_service *s = &inv->services[0];
	cr_assert_eq(s->port, 5353);
	cr_assert_eq(s->interval_ms, 500);
	cr_assert_eq(s->timeout_ms, 200);
	cr_assert_eq(s->n_identify, 1);
	cr_assert_str_eq(s->query_name, "example.lab");
	cr_assert_str_eq(s->query_type, "A");
	cr_assert_eq(s->instances[0].n_management, 2);
	cr_assert_str_eq(s->instances[1].identity, "");
	/* a short interval without a timeout gets a timeout that fits */
	cr_assert_eq(inv->services[1].timeout_ms, 250);
	cr_assert_str_eq(inv->services[1].query_type, "SOA");
	cr_assert_eq(inv->alerts[0].type, INV_ALERT_EMAIL);
	cr_assert_str_eq(inv->alerts[0].mail_to, "ops@example.lab");
	cr_assert_eq(inv->alerts[0].n_services, 1);
	cr_assert_eq(inv->alerts[0].n_events, 1);
	cr_assert_eq(inv->alerts[1].type, INV_ALERT_ALERTMANAGER);
	inventory_free(inv);
}

Test(inventory, service_errors_name_line_and_field)
{
	rejects(SVC "    interval: 5x\n", "inv.yaml:5: services[0].interval: bad duration \"5x\"");
	rejects(SVC "    interval: 2d\n", "inv.yaml:5: services[0].interval: must be at most 1d");
	rejects(SVC "    interval: 400ms\n",
	        "inv.yaml:5: services[0].interval: must be at least 500ms");
	rejects(SVC "    interval: 1s\n    timeout: 1001ms\n",
	        "inv.yaml:6: services[0].timeout: must not exceed interval (1000ms)");
	rejects(SVC "    timeout: 0s\n", "inv.yaml:5: services[0].timeout: must be at least 1ms");
	rejects(SVC "    port: 70000\n",
	        "inv.yaml:5: services[0].port: 70000 out of range [1, 65535]");
	rejects(SVC "    port: http\n", "inv.yaml:5: services[0].port: not an integer \"http\"");
	rejects(SVC "    intervall: 5s\n", "inv.yaml:5: services[0].intervall: unknown key");
	rejects(SVC "    identify: [nsid, version.bind]\n",
	        "inv.yaml:5: services[0].identify: \"version.bind\": unknown method (nsid, "
	        "id.server, hostname.bind)");
	rejects(SVC "    identify: [nsid, nsid]\n",
	        "inv.yaml:5: services[0].identify[1]: duplicate \"nsid\"");
	rejects(SVC "    identify: []\n", "inv.yaml:5: services[0].identify: empty list");
	rejects(SVC "    interval: 5s\n    interval: 6s\n",
	        "inv.yaml:6: services[0].interval: duplicate key");
	rejects(
	    SVC "    query: \"b@d.lab SOA\"\n",
	    "inv.yaml:5: services[0].query: expected \"NAME [TYPE]\", e.g. \"example.lab SOA\"");
	rejects(SVC "    query_type: soa\n",
	        "inv.yaml:5: services[0].query_type: query type must be an upper-case mnemonic (A, "
	        "AAAA, SOA, ...)");
	rejects("services:\n  - name: dns\n    protocol: dnss\n    address: 198.18.255.53\n",
	        "inv.yaml:3: services[0].protocol: expected dns or ntp");
	rejects("services:\n  - name: dns\n    address: 198.18.255.53\n",
	        "inv.yaml:2: services[0]: missing protocol (dns or ntp)");
	rejects("services:\n  - protocol: dns\n    address: 198.18.255.53\n",
	        "inv.yaml:2: services[0]: missing name");
	rejects("services:\n  - name: dns\n    protocol: dns\n",
	        "inv.yaml:2: services[0]: missing address");
	rejects("services:\n  - name: dns\n    protocol: dns\n    address: 198.18.255.300\n",
	        "inv.yaml:4: services[0].address: \"198.18.255.300\": not an IPv4 or IPv6 address");
	rejects("services:\n  - name: dns\n    protocol: dns\n    address:\n"
	        "      - 198.18.255.53\n      - 2001:db8::zz\n",
	        "inv.yaml:6: services[0].address: \"2001:db8::zz\": not an IPv4 or IPv6 address");
	rejects("services:\n  - name: dns\n    protocol: dns\n    address: []\n",
	        "inv.yaml:4: services[0].address: empty list");
	rejects("services:\n  - name: dns\n    protocol: dns\n    address: [198.18.0.1, "
	        "198.18.0.2, 198.18.0.3, 198.18.0.4, 198.18.0.5]\n",
	        "inv.yaml:4: services[0].address: too many entries (max 4)");
	rejects("services:\n  - name: \"\"\n    protocol: dns\n    address: 198.18.255.53\n",
	        "inv.yaml:2: services[0].name: empty name");
	rejects("services:\n  - name: \"a b\"\n",
	        "inv.yaml:2: services[0].name: name may hold only letters, digits and . _ : @ -");
	rejects(SVC "  - name: dns\n    protocol: ntp\n    address: 198.18.255.123\n",
	        "inv.yaml:5: services[1]: duplicate service name \"dns\"");
	rejects("services:\n  name: dns\n", "inv.yaml:2: services: expected a list, got a mapping");
	rejects("services:\n  - dns\n", "inv.yaml:2: services[0]: expected a mapping, got a value");
}

Test(inventory, instance_errors)
{
	rejects(SVC "    instances:\n      - name: a\n        management: 198.18.1.2\n"
	            "      - name: a\n        management: 198.18.2.2\n",
	        "inv.yaml:8: services[0].instances[1]: duplicate instance name \"a\"");
	rejects(SVC "    instances:\n      - name: a\n        management: 198.18.1.2\n"
	            "      - name: b\n        management: 198.18.1.2\n",
	        "inv.yaml:8: services[0].instances[1]: management address 198.18.1.2 already "
	        "used by a");
	rejects(SVC "    instances:\n      - { name: a, identity: x }\n"
	            "      - { name: b, identity: x }\n",
	        "inv.yaml:7: services[0].instances[1]: identity \"x\" already used by a");
	rejects(SVC "    instances:\n      - management: 198.18.1.2\n",
	        "inv.yaml:6: services[0].instances[0]: missing name");
	rejects(SVC "    instances:\n      - name: a\n        managment: 198.18.1.2\n",
	        "inv.yaml:7: services[0].instances[0].managment: unknown key");
	rejects(SVC "    instances:\n      - name: a\n        management: { x: 1 }\n",
	        "inv.yaml:7: services[0].instances[0].management: expected a string or a list, got "
	        "a mapping");
	rejects(SVC "    instances: site-a\n",
	        "inv.yaml:5: services[0].instances: expected a list, got a value");
}

Test(inventory, agent_and_alert_errors)
{
	rejects("agents:\n  - name: b1\n    token_sha256: abc\n",
	        "inv.yaml:3: agents[0].token_sha256: expected 64 hex digits (a SHA-256)");
	rejects("agents:\n  - name: b1\n",
	        "inv.yaml:2: agents[0]: missing token_sha256 or token_file");
	rejects("agents:\n  - name: b1\n    token_sha256: " SHA_TEST "\n  - name: b1\n"
	        "    token_sha256: " SHA_TEST "\n",
	        "inv.yaml:4: agents[1]: duplicate agent name \"b1\"");
	rejects("agents:\n  - name: b1\n    token_sha256: " SHA_TEST "\n  - name: b2\n"
	        "    token_sha256: " SHA_TEST "\n",
	        "inv.yaml:4: agents[1]: same token as agent b1");
	rejects(
	    "agents:\n  - name: b1\n    token_file: /nonexistent/token\n",
	    "inv.yaml:3: agents[0].token_file: cannot read \"/nonexistent/token\": No such file "
	    "or directory");
	rejects("alerts:\n  - name: a\n    type: pager\n    url: http://x\n",
	        "inv.yaml:3: alerts[0].type: expected webhook, slack, alertmanager or email");
	rejects("alerts:\n  - name: a\n    type: webhook\n    url: http://x\n"
	        "    events: [outage, meltdown]\n",
	        "inv.yaml:5: alerts[0].events: \"meltdown\": unknown event type");
	rejects("alerts:\n  - name: a\n    type: webhook\n", "inv.yaml:2: alerts[0]: missing url");
	rejects("alerts:\n  - name: a\n    type: webhook\n    url: ftp://x\n",
	        "inv.yaml:2: alerts[0]: url must start with http:// or https://");
	rejects("alerts:\n  - name: a\n    type: email\n    url: smtp://x\n",
	        "inv.yaml:2: alerts[0]: email alerts need mail_to");
	rejects("alerts:\n  - name: a\n    type: email\n    url: smtp://x\n"
	        "    mail_to: \"ops@example.org\\r\\nRCPT TO:<evil@example.org>\"\n",
	        "inv.yaml:2: alerts[0]: mail_to: control characters (CR, LF...) are not allowed");
	rejects("alerts:\n  - name: a\n    type: email\n    url: smtp://x\n    mail_to: ops@example.org\n"
	        "    mail_from: \"a@example.org\\nDATA\"\n",
	        "inv.yaml:2: alerts[0]: mail_from: control characters (CR, LF...) are not allowed");
	/* alerts may come before the services they name */
	rejects("alerts:\n  - name: a\n    url: http://x\n    services: [dns, dnz]\n" SVC,
	        "inv.yaml:4: alerts[0].services: no service named \"dnz\"");
	char err[256];
	struct inventory *inv = parse(
	    "alerts:\n  - name: a\n    url: http://x\n    services: [dns]\n" SVC, err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	inventory_free(inv);
}

Test(inventory, top_level_errors)
{
	rejects("retention: forever\n", "inv.yaml:1: retention: bad duration \"forever\"");
	rejects("colector: http://x\n", "inv.yaml:1: colector: unknown key");
	rejects("thresholds:\n  hysteresis: 0\n",
	        "inv.yaml:2: thresholds.hysteresis: 0 out of range [1, 1000000]");
	rejects("thresholds:\n  flap_window: 10\n  flapwindow: 10m\n",
	        "inv.yaml:3: thresholds.flapwindow: unknown key");
	rejects("thresholds:\n  suboptimal_pct: -5\n",
	        "inv.yaml:2: thresholds.suboptimal_pct: must be >= 0");
	rejects("read_token_sha256: xyz\n",
	        "inv.yaml:1: read_token_sha256: expected 64 hex digits (a SHA-256)");
	rejects("listen: \"\"\n", "inv.yaml:1: listen: empty value");
	rejects("listen: [a, b]\n", "inv.yaml:1: listen: expected a string, got a list");
	rejects("- a\n- b\n", "inv.yaml:1: (top): expected a mapping, got a list");
	rejects("", "inv.yaml:1: empty document");
	rejects("# only a comment\n", "inv.yaml:1: empty document");
	rejects("db: a\n---\ndb: b\n", "inv.yaml:3: more than one YAML document");
	rejects("? [a, b]\n: c\n", "inv.yaml:1: (top): keys must be plain strings");
}

Test(inventory, malformed_yaml)
{
	char huge[5000];

	rejects_prefix("services:\n\t- name: dns\n", "inv.yaml:2: syntax error: ");
	rejects_prefix("db: \"unclosed\nlisten: x\n", "inv.yaml:3: syntax error: ");
	rejects_prefix("db: [a, b\n", "inv.yaml:2: syntax error: ");
	rejects_prefix("db: *nowhere\n", "inv.yaml:1: syntax error: ");
	rejects_prefix("a: b: c\n", "inv.yaml:1: syntax error: ");
	rejects_prefix("services: [{name: x}]\n", "inv.yaml:1: services[0]: missing protocol");
	/* wrong types */
	rejects("services:\n  - name: dns\n    protocol: [dns]\n    address: 198.18.255.53\n",
	        "inv.yaml:3: services[0].protocol: expected dns or ntp");
	rejects(SVC "    interval: { s: 5 }\n",
	        "inv.yaml:5: services[0].interval: expected a string, got a mapping");
	/* huge strings are rejected, not truncated */
	memset(huge, 0, sizeof(huge));
	strcpy(huge, "db: ");
	memset(huge + 4, 'a', 4000);
	strcat(huge, "\n");
	rejects("name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	        "inv.yaml:1: name: too long (max 63 bytes)");
	rejects(huge, "inv.yaml:1: db: too long (max 511 bytes)");
}

Test(inventory, deep_nesting_and_aliases_do_not_crash)
{
	const size_t depth = 200000;
	char *deep = malloc(depth * 2 + 16), err[256];

	strcpy(deep, "db: ");
	memset(deep + 4, '[', depth);
	memset(deep + 4 + depth, ']', depth);
	deep[4 + 2 * depth] = '\0';
	int64_t t0 = time_mono_ns();
	struct inventory *inv = parse(deep, err, sizeof(err));
	cr_assert_null(inv);
	cr_assert_str_eq(err, "inv.yaml:1: nesting deeper than 16 levels");
	cr_assert_lt(time_mono_ns() - t0, 2000000000LL, "deep nesting took over 2 s");
	/* the same in block style */
	char *p = deep;
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "%*sk%d:\n", 2 * i, "", i);
	rejects(deep, "inv.yaml:17: nesting deeper than 16 levels");
	free(deep);

	/* a self-referencing alias must not send the walker into a loop */
	rejects_prefix("services: &s [*s]\n", "inv.yaml:1: ");
	/* many aliases to one service name the duplicate */
	rejects(SVC "  - *x\n", "inv.yaml:5: syntax error: found undefined alias");
}

Test(inventory, embedded_nul_rejected)
{
	char err[256];
	const char text[] = "db: a\0b\n";
	struct inventory *inv =
	    inventory_parse(text, sizeof(text) - 1, "inv.yaml", err, sizeof(err));

	cr_assert_null(inv);
	cr_assert(strstr(err, "inv.yaml:1:") == err, "%s", err);
}

Test(inventory, token_file_hashed_after_strip)
{
	char dir[] = "/tmp/invtestXXXXXX", path[256], yaml[1024], err[256], hex[65];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/b1.token", dir);
	FILE *f = fopen(path, "w");
	fputs("  test\n\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/inv.yaml", dir);
	f = fopen(path, "w");
	/* relative to the inventory's directory */
	fputs("agents:\n  - name: b1\n    token_file: b1.token\n", f);
	fclose(f);
	struct inventory *inv = inventory_load(path, err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	cr_assert_str_eq(inv->agents[0].token_sha256, SHA_TEST);
	inventory_token_hash("test", 4, hex);
	cr_assert_not_null(inventory_find_agent_by_hash(inv, hex));
	inventory_free(inv);

	snprintf(yaml, sizeof(yaml),
	         "agents:\n  - name: b1\n    token_file: %s/b1.token\n"
	         "    token_sha256: " SHA_TEST "\n",
	         dir);
	rejects(yaml, "inv.yaml:4: agents[0].token_sha256: give token_sha256 or token_file, "
	              "not both");
	snprintf(path, sizeof(path), "%s/b1.token", dir);
	f = fopen(path, "w");
	fputs(" \n", f);
	fclose(f);
	snprintf(yaml, sizeof(yaml), "agents:\n  - name: b1\n    token_file: %s\n", path);
	char want[512];
	snprintf(want, sizeof(want), "inv.yaml:3: agents[0].token_file: \"%s\" holds no token",
	         path);
	rejects(yaml, want);
	unlink(path);
	/* a FIFO would block start-up forever */
	cr_assert_eq(mkfifo(path, 0600), 0);
	snprintf(want, sizeof(want),
	         "inv.yaml:3: agents[0].token_file: \"%s\" is not a regular file", path);
	rejects(yaml, want);
	unlink(path);
	snprintf(path, sizeof(path), "%s/inv.yaml", dir);
	unlink(path);
	rmdir(dir);
}

Test(inventory, token_hash)
{
	char a[65], b[65];

	inventory_token_hash("test", 4, a);
	cr_assert_str_eq(a, SHA_TEST);
	inventory_token_hash("\t test \r\n", 9, b);
	cr_assert_str_eq(a, b);
	inventory_token_hash("", 0, a);
	cr_assert_str_eq(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* only the given length counts */
	inventory_token_hash("testXYZ", 4, b);
	cr_assert_str_eq(b, SHA_TEST);
}

Test(inventory, load_errors)
{
	char err[256];

	cr_assert_null(inventory_load("/nonexistent/inv.yaml", err, sizeof(err)));
	cr_assert_str_eq(err, "/nonexistent/inv.yaml: cannot open: No such file or directory");
}

Test(inventory, lookups)
{
	char err[512];
	struct inventory *inv =
	    parse("agents:\n  - name: b1\n    token_sha256: " SHA_TEST "\n" SVC
	          "    instances:\n      - name: a\n        management: [198.18.1.2, "
	          "\"2001:db8:1::2\"]\n        identity: s1.lab\n      - name: b\n",
	          err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	const struct inv_service *s = inventory_find_service(inv, "dns");
	cr_assert_not_null(s);
	cr_assert_null(inventory_find_service(inv, "ntp"));
	cr_assert_str_eq(inventory_instance_by_management(s, "198.18.1.2")->name, "a");
	cr_assert_str_eq(inventory_instance_by_management(s, "2001:DB8:1:0::2")->name, "a");
	cr_assert_null(inventory_instance_by_management(s, "198.18.1.3"));
	cr_assert_str_eq(inventory_instance_by_identity(s, "s1.lab")->name, "a");
	cr_assert_null(inventory_instance_by_identity(s, "S1.LAB"), "identity match is exact");
	cr_assert_null(inventory_instance_by_identity(s, ""), "no identity matches \"\"");
	cr_assert_str_eq(inventory_find_agent_by_hash(inv, SHA_TEST)->name, "b1");
	cr_assert_null(inventory_find_agent_by_hash(inv, "00"));
	cr_assert_null(inventory_find_agent_by_hash(inv, ""));
	cr_assert_str_eq(
	    inventory_find_agent_by_hash(
	        inv, "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08")
	        ->name,
	    "b1");
	cr_assert_null(inventory_find_agent_by_hash(inv, SHA_TEST "00"));
	inventory_free(inv);
}

Test(inventory, services_json_round_trip)
{
	char err[512];
	struct inventory *inv =
	    inventory_load("tests/common/data/spec_inventory.yaml", err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	strcpy(inv->services[0].query_name, "example.lab");
	strcpy(inv->services[0].query_type, "SOA");

	json_t *j = inventory_services_to_json(inv);
	cr_assert_not_null(j);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	struct inventory *back = inventory_services_from_json(j, err, sizeof(err));
	cr_assert_not_null(back, "%s", err);
	json_t *j2 = inventory_services_to_json(back);
	char *text2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(text, text2);
	cr_assert(strstr(text, "\"interval_ms\":5000"), "%s", text);

	cr_assert_eq(back->n_services, inv->n_services);
	for (int i = 0; i < inv->n_services; i++) {
		const struct inv_service *a = &inv->services[i], *b = &back->services[i];
		cr_assert_str_eq(a->name, b->name);
		cr_assert_eq(a->protocol, b->protocol);
		cr_assert_eq(a->n_address, b->n_address);
		for (int k = 0; k < a->n_address; k++)
			cr_assert_str_eq(a->address[k], b->address[k]);
		cr_assert_eq(a->port, b->port);
		cr_assert_eq(a->interval_ms, b->interval_ms);
		cr_assert_eq(a->timeout_ms, b->timeout_ms);
		cr_assert_eq(a->n_identify, b->n_identify);
		for (int k = 0; k < a->n_identify; k++)
			cr_assert_str_eq(a->identify[k], b->identify[k]);
		cr_assert_str_eq(a->query_name, b->query_name);
		cr_assert_str_eq(a->query_type, b->query_type);
		cr_assert_eq(a->n_instances, b->n_instances);
		for (int k = 0; k < a->n_instances; k++) {
			cr_assert_str_eq(a->instances[k].name, b->instances[k].name);
			cr_assert_str_eq(a->instances[k].identity, b->instances[k].identity);
			cr_assert_eq(a->instances[k].n_management, b->instances[k].n_management);
			cr_assert_str_eq(a->instances[k].management[0],
			                 b->instances[k].management[0]);
		}
	}
	free(text);
	free(text2);
	json_decref(j);
	json_decref(j2);
	inventory_free(back);
	inventory_free(inv);
}

/* Each mutation of a valid services document is rejected naming the field. */
static void json_rejects(const char *json, const char *want)
{
	char err[256] = "";
	json_t *j = json_loads(json, 0, NULL);

	cr_assert_not_null(j, "test JSON invalid: %s", json);
	struct inventory *inv = inventory_services_from_json(j, err, sizeof(err));
	cr_assert_null(inv, "accepted %s", json);
	cr_assert_str_eq(err, want, "got \"%s\" want \"%s\" for %s", err, want, json);
	json_decref(j);
}

#define JS(extra)                                                                                  \
	"{\"services\":[{\"name\":\"dns\",\"protocol\":\"dns\",\"address\":[\"198.18.255.53\"],"   \
	"\"port\":53,\"interval_ms\":1000,\"timeout_ms\":500,\"identify\":[\"nsid\"]" extra "}]}"

Test(inventory, services_from_json_validates)
{
	char err[256];
	json_t *j = json_loads(JS(""), 0, NULL);
	struct inventory *inv = inventory_services_from_json(j, err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	cr_assert_eq(inv->services[0].n_instances, 0);
	inventory_free(inv);
	json_decref(j);

	json_rejects("{}", "services: missing or not a list");
	json_rejects("[]", "services: missing or not a list");
	json_rejects("{\"services\":[1]}", "services[0]: must be an object");
	json_rejects(JS(",\"protocol\":\"http\""), "services[0].protocol: must be dns or ntp");
	json_rejects(JS(",\"address\":[\"x\"]"),
	             "services[0].address: not an IPv4 or IPv6 address");
	json_rejects(JS(",\"address\":[]"), "services[0].address: missing");
	json_rejects(JS(",\"port\":0"), "services[0].port: out of range");
	json_rejects(JS(",\"port\":\"53\""), "services[0].port: must be an integer");
	json_rejects(JS(",\"interval_ms\":100"), "services[0].interval_ms: out of range");
	json_rejects(JS(",\"timeout_ms\":1001"), "services[0].timeout_ms: out of range");
	json_rejects(JS(",\"identify\":[\"whoami\"]"),
	             "services[0].identify: unknown method (nsid, id.server, hostname.bind)");
	json_rejects(JS(",\"name\":\"a b\""),
	             "services[0].name: name may hold only letters, digits and . _ : @ -");
	json_rejects(JS(",\"instances\":{}"), "services[0].instances: must be a list");
	json_rejects(JS(",\"instances\":[{\"name\":\"a\",\"management\":[\"1.2.3\"]}]"),
	             "services[0].instances[0].management: not an IPv4 or IPv6 address");
	json_rejects(JS(",\"instances\":[{\"name\":\"a\"},{\"name\":\"a\"}]"),
	             "services[0].instances[1]: duplicate instance name");
	json_rejects(JS(",\"instances\":[{}]"), "services[0].instances[0].name: missing");
	json_rejects("{\"services\":[" JS("") "]}", "services[0].name: missing");
}

Test(inventory, check_config_refuses_what_start_up_would)
{
	rejects("services: []\n", "inv.yaml:1: services: no services: at least one is needed");
	rejects_prefix("listen: 127.0.0.1:99999\nservices:\n  - name: dns\n    protocol: dns\n"
	               "    address: [198.18.255.53]\n    instances:\n"
	               "      - { name: a, management: 198.18.1.2 }\n",
	               "inv.yaml:1: listen: \"127.0.0.1:99999\"");
	rejects_prefix("listen: 127.0.0.1\nservices:\n  - name: dns\n    protocol: dns\n"
	               "    address: [198.18.255.53]\n    instances:\n"
	               "      - { name: a, management: 198.18.1.2 }\n",
	               "inv.yaml:1: listen:");
}

Test(inventory, incident_settings)
{
	char err[512] = "";
	struct inventory *inv = parse("services:\n  - name: dns\n    protocol: dns\n"
	                              "    address: [198.18.255.53]\n    instances:\n"
	                              "      - { name: site-a, management: 198.18.1.2 }\n"
	                              "agents:\n  - { name: b1, home: site-a, token_sha256: "
	                              "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n"
	                              "alerts:\n  - { name: am, type: alertmanager, url: http://x,"
	                              " kinds: [instance_down, branch_isolated], severity: warning }\n"
	                              "thresholds: { incident_hold: 3s, agent_silent_intervals: 4 }\n",
	                              err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_str_eq(inv->agents[0].home, "site-a");
	cr_assert_eq(inv->alerts[0].n_kinds, 2);
	cr_assert_str_eq(inv->alerts[0].kinds[1], "branch_isolated");
	cr_assert_eq(inv->alerts[0].min_severity, 1);
	cr_assert_eq(inv->thresholds.incident_hold_ms, 3000);
	cr_assert_eq(inv->thresholds.agent_silent_intervals, 4);
	cr_assert_eq(inv->rollup_retention_ms, 400LL * 86400 * 1000, "default");
	inventory_free(inv);
	inv = parse("retention: { results: 2d, rollups: 90d, events: 30d }\nservices:\n"
	            "  - name: dns\n    protocol: dns\n    address: [198.18.255.53]\n"
	            "    instances:\n      - { name: a, management: 198.18.1.2 }\n",
	            err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	cr_assert_eq(inv->retention_ms, 2LL * 86400 * 1000);
	cr_assert_eq(inv->rollup_retention_ms, 90LL * 86400 * 1000);
	cr_assert_eq(inv->event_retention_ms, 30LL * 86400 * 1000);
	inventory_free(inv);
	rejects_prefix("services:\n  - name: dns\n    protocol: dns\n    address: [198.18.255.53]\n"
	               "    instances:\n      - { name: a, management: 198.18.1.2 }\n"
	               "alerts:\n  - { name: am, type: webhook, url: http://x, kinds: [bogus] }\n",
	               "inv.yaml:8: alerts[0].kinds:");
}

Test(inventory, agent_collector_list)
{
	char err[512] = "";
	struct inventory *inv =
	    parse("collector: [http://c1:8053, \"https://c2:8053\"]\nservices:\n  - name: dns\n"
	          "    protocol: dns\n    address: [198.18.255.53]\n    instances:\n"
	          "      - { name: a, management: 198.18.1.2 }\n",
	          err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_str_eq(inv->collector, "http://c1:8053,https://c2:8053");
	inventory_free(inv);
	cr_assert_null(parse("collector: []\nservices: []\n", err, sizeof(err)));
	cr_assert_not_null(strstr(err, "empty list"), "%s", err);
	cr_assert_null(parse("collector: [\"http://a,b\"]\nservices: []\n", err, sizeof(err)));
	cr_assert_null(parse("collector: [[x]]\nservices: []\n", err, sizeof(err)));
}

Test(inventory, guard_agents_and_withdrawn_routes)
{
	char err[512] = "";
	struct inventory *inv = parse("services:\n  - name: dns\n    protocol: dns\n"
	                              "    address: [198.18.255.53]\n    instances:\n"
	                              "      - { name: site-b, management: 198.18.2.2 }\n"
	                              "agents:\n  - { name: guard-b, guard: site-b, token_sha256: "
	                              "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n"
	                              "  - { name: b1, token_sha256: "
	                              "8f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n"
	                              "alerts:\n  - { name: am, type: alertmanager, url: http://x,"
	                              " kinds: [withdrawn], events: [guard_withdraw, guard_restore] }\n",
	                              err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_str_eq(inv->agents[0].guard, "site-b");
	cr_assert_str_eq(inv->agents[1].guard, "", "not a guard unless it says so");
	cr_assert_str_eq(inv->alerts[0].kinds[0], "withdrawn");
	inventory_free(inv);
	inv = parse("services:\n  - name: dns\n    protocol: dns\n    address: [198.18.255.53]\n"
	            "    instances:\n      - { name: a, management: 198.18.1.2 }\n"
	            "agents:\n  - { name: g, guard: \"site b\", token_sha256: "
	            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n",
	            err, sizeof(err));
	cr_assert_null(inv, "a guard: that is no name was accepted");
	cr_assert(strstr(err, "agents[0].guard") != NULL, "%s", err);
}

/* ---- answer-integrity checks ---- */

Test(inventory, checks_parsed_with_defaults)
{
	char err[512] = "";
	struct inventory *inv =
	    parse(SVC "    interval: 2s\n"
	              "    checks:\n"
	              "      - { name: soa, query: \"lab.test SOA\" }\n"
	              "      - { name: www, query: \"www.lab.test  A\", every: 5s }\n"
	              "thresholds:\n  serial_lag: 3s\n",
	          err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	const struct inv_service *s = &inv->services[0];
	cr_assert_eq(s->n_checks, 2);
	cr_assert_str_eq(s->checks[0].name, "soa");
	cr_assert_str_eq(s->checks[0].query_name, "lab.test");
	cr_assert_str_eq(s->checks[0].query_type, "SOA");
	cr_assert_eq(s->checks[0].every_ms, 0);
	cr_assert_eq(inventory_check_rounds(s, &s->checks[0]), 10);
	cr_assert_str_eq(s->checks[1].query_name, "www.lab.test");
	cr_assert_str_eq(s->checks[1].query_type, "A");
	cr_assert_eq(s->checks[1].every_ms, 5000);
	cr_assert_eq(inventory_check_rounds(s, &s->checks[1]), 3); /* 5 s / 2 s, rounded up */
	cr_assert_eq(inv->thresholds.serial_lag_ms, 3000);
	inventory_free(inv);
}

Test(inventory, serial_lag_default_is_five_minutes)
{
	char err[512] = "";
	struct inventory *inv = parse(SVC, err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_eq(inv->thresholds.serial_lag_ms, 300000);
	cr_assert_eq(inv->services[0].n_checks, 0);
	inventory_free(inv);
}

Test(inventory, checks_bad_input_rejected_with_line)
{
	rejects(SVC "    checks:\n      - { name: soa }\n",
	        "inv.yaml:6: services[0].checks[0]: missing query (\"NAME TYPE\")");
	rejects(SVC "    checks:\n      - { query: \"lab.test SOA\" }\n",
	        "inv.yaml:6: services[0].checks[0]: missing name");
	rejects(SVC "    checks:\n      - { name: soa, query: \"lab.test\" }\n",
	        "inv.yaml:6: services[0].checks[0].query: expected \"NAME TYPE\", e.g. "
	        "\"example.lab SOA\"");
	rejects_prefix(SVC "    checks:\n      - { name: soa, query: \"lab.test BOGUS!\" }\n",
	               "inv.yaml:6: services[0].checks[0].query: bad type \"BOGUS!\"");
	rejects(SVC "    checks:\n      - { name: soa, query: \"lab.test SOA\", every: 100ms }\n",
	        "inv.yaml:6: services[0].checks[0].every: must be at least 500ms");
	rejects(SVC "    checks:\n      - { name: soa, query: \"a SOA\" }\n"
	            "      - { name: soa, query: \"b SOA\" }\n",
	        "inv.yaml:7: services[0].checks[1]: duplicate check name \"soa\"");
	rejects(SVC "    checks:\n      - { name: soa, query: \"a SOA\", colour: red }\n",
	        "inv.yaml:6: services[0].checks[0].colour: unknown key");
	rejects(SVC "    checks: soa\n", "inv.yaml:5: services[0].checks: expected a list, got a value");
	rejects("services:\n  - name: ntp\n    protocol: ntp\n    address: 198.18.255.123\n"
	        "    checks:\n      - { name: soa, query: \"a SOA\" }\n",
	        "inv.yaml:6: services[0].checks: checks are for dns services only");
	rejects(SVC "thresholds:\n  serial_lag: 0s\n",
	        "inv.yaml:6: thresholds.serial_lag: must be at least 1ms");
}

Test(inventory, checks_travel_to_agents_as_json)
{
	char err[512] = "";
	struct inventory *inv =
	    parse(SVC "    checks:\n      - { name: soa, query: \"lab.test SOA\", every: 1m }\n"
	              "      - { name: www, query: \"www.lab.test AAAA\" }\n",
	          err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	json_t *j = inventory_services_to_json(inv);
	struct inventory *back = inventory_services_from_json(j, err, sizeof(err));
	cr_assert_not_null(back, "%s", err);
	cr_assert_eq(back->services[0].n_checks, 2);
	cr_assert_str_eq(back->services[0].checks[0].name, "soa");
	cr_assert_str_eq(back->services[0].checks[0].query_name, "lab.test");
	cr_assert_eq(back->services[0].checks[0].every_ms, 60000);
	cr_assert_str_eq(back->services[0].checks[1].query_type, "AAAA");
	cr_assert_eq(back->services[0].checks[1].every_ms, 0);
	/* a broken check from a collector is refused, not half-used */
	json_t *ck = json_array_get(json_object_get(json_array_get(json_object_get(j, "services"), 0),
	                                            "checks"),
	                            0);
	json_object_set_new(ck, "query_type", json_string("NOT A TYPE"));
	cr_assert_null(inventory_services_from_json(j, err, sizeof(err)));
	cr_assert(strstr(err, "services[0].checks[0]") != NULL, "%s", err);
	json_decref(j);
	inventory_free(back);
	inventory_free(inv);
}

Test(inventory, atlas_agents)
{
	char err[512] = "";
	struct inventory *inv = parse("services:\n  - name: dns\n    protocol: dns\n"
	                              "    address: [198.18.255.53]\n    instances:\n"
	                              "      - { name: a, management: 198.18.1.2 }\n"
	                              "agents:\n  - { name: feed, atlas: true, token_sha256: "
	                              "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n"
	                              "  - { name: b1, token_sha256: "
	                              "8f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n",
	                              err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	cr_assert_eq(inv->agents[0].atlas, 1);
	cr_assert_eq(inv->agents[1].atlas, 0, "no Atlas results unless it says so");
	inventory_free(inv);
	inv = parse("services:\n  - name: dns\n    protocol: dns\n    address: [198.18.255.53]\n"
	            "    instances:\n      - { name: a, management: 198.18.1.2 }\n"
	            "agents:\n  - { name: g, atlas: yes, token_sha256: "
	            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n",
	            err, sizeof(err));
	cr_assert_null(inv, "atlas: yes was accepted");
	cr_assert(strstr(err, "agents[0].atlas: must be true or false") != NULL, "%s", err);
}
