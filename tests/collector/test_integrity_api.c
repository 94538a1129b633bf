/* tests/collector/test_integrity_api.c - answer integrity end to end through
 * the real anycast-collector binary (as test_api.c: $ANYCAST_BIN, a free
 * port, its own inventory and database in a temp dir): crafted check
 * results go in through POST /api/v1/results and come back from the results
 * API; serial_lag, inconsistent_answer and answer_mismatch show in the
 * events and incidents APIs, and resolve when the condition ends. */
#include "collector_harness.h"

static void
write_inventory(const char *extra_instance)
{
	char hash1[65], hash2[65], text[2048];

	token_sha256(TOKEN1, hash1);
	token_sha256(TOKEN2, hash2);
	snprintf(text, sizeof(text),
		 "services:\n"
		 "  - name: dns\n"
		 "    protocol: dns\n"
		 "    address: [198.18.255.53]\n"
		 "    interval: 1s\n"
		 "    checks:\n"
		 "      - { name: soa, query: \"lab.test SOA\", every: 1s }\n"
		 "    instances:\n"
		 "      - { name: site-a, management: 198.18.1.2, identity: s1.lab }\n"
		 "      - { name: site-b, management: 198.18.2.2, identity: s2.lab }\n"
		 "%s"
		 "thresholds:\n"
		 "  serial_lag: 2s\n"
		 "agents:\n"
		 "  - { name: branch-1, token_sha256: %s }\n"
		 "  - { name: branch-2, token_sha256: %s }\n",
		 extra_instance ? extra_instance : "", hash1, hash2);
	write_file("inv.yaml", text);
}

static void
setup(void)
{
	harness_setup("test_integrity_api");
}

TestSuite(integrity_api, .init = setup, .fini = harness_teardown, .timeout = 60);

#define DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* One check record as an agent sends it: target 0 anycast (answered by
 * instance), 1 that instance's management address. */
static void
check_record(char *buf, size_t len, uint64_t seq, uint64_t round, int target,
	     const char *instance, unsigned serial, const char *digest)
{
	char t[40];
	int a = strcmp(instance, "site-a") == 0;
	const char *addr = target == 0 ? "198.18.255.53" : a ? "198.18.1.2" : "198.18.2.2";

	time_format_rfc3339(time_now_ms(), t, sizeof(t));
	snprintf(buf, len,
		 "{\"seq\":%llu,\"round\":%llu,\"time\":\"%s\",\"service\":\"dns\","
		 "\"address\":\"%s\",\"family\":4,\"target\":\"%s\",\"instance\":\"%s\","
		 "\"identity\":\"%s\",\"identity_source\":\"nsid\",\"query\":\"check\","
		 "\"transport\":\"udp\",\"outcome\":\"ok\",\"rcode\":\"NOERROR\",\"rtt_ms\":2.5,"
		 "\"check\":\"soa\",\"serial\":%u,\"digest\":\"%s\","
		 "\"rrs\":\"lab.test.\\t0\\tIN\\tSOA\\tns.lab.test. host.lab.test. %u 3600 900 "
		 "604800 300\\n\"}",
		 (unsigned long long)seq, (unsigned long long)round, t, addr,
		 target ? "management" : "anycast", instance, a ? "s1.lab" : "s2.lab", serial,
		 digest, serial);
}

/* A round of token's agent: site-a and site-b on their management
 * addresses, then the anycast answer from served_by with digest any. */
static void
post_round(const char *token, uint64_t seq, uint64_t round, unsigned serial_a, const char *dig_a,
	   unsigned serial_b, const char *dig_b, const char *served_by, const char *dig_any)
{
	char body[4096], r1[1024], r2[1024], r3[1024];
	int a = strcmp(served_by, "site-a") == 0;

	check_record(r1, sizeof(r1), seq, round, 1, "site-a", serial_a, dig_a);
	check_record(r2, sizeof(r2), seq + 1, round, 1, "site-b", serial_b, dig_b);
	check_record(r3, sizeof(r3), seq + 2, round, 0, served_by, a ? serial_a : serial_b, dig_any);
	snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s]}", r1, r2, r3);
	json_decref(http_json("POST", "/api/v1/results", token, body, 200));
}

/* The newest event of type whose detail.instance is instance, waiting up
 * to wait_ms; NULL when none came. Caller owns the reference. */
static json_t *
wait_event(const char *type, const char *instance, int wait_ms)
{
	int64_t deadline = time_now_ms() + wait_ms;
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/events?type=%s", type);
	for (;;) {
		json_t *j = http_json("GET", path, NULL, NULL, 200);
		json_t *evs = json_object_get(j, "events");

		for (size_t i = 0; i < json_array_size(evs); i++) {
			json_t *ev = json_array_get(evs, i);
			json_t *d = json_object_get(ev, "detail");
			const char *in = json_string_value(json_object_get(d, "instance"));

			if (in != NULL && strcmp(in, instance) == 0) {
				json_incref(ev);
				json_decref(j);
				return ev;
			}
		}
		json_decref(j);
		if (time_now_ms() >= deadline)
			return NULL;
		usleep(100000);
	}
}

/* The incident of kind for instance in state, or NULL. Caller owns it. */
static json_t *
find_incident(const char *kind, const char *instance, const char *state)
{
	char path[96];
	json_t *j, *list, *hit = NULL;

	snprintf(path, sizeof(path), "/api/v1/incidents?state=%s", state);
	j = http_json("GET", path, NULL, NULL, 200);
	list = json_object_get(j, "incidents");
	for (size_t i = 0; i < json_array_size(list) && hit == NULL; i++) {
		json_t *inc = json_array_get(list, i);

		if (strcmp(json_string_value(json_object_get(inc, "kind")), kind) == 0 &&
		    json_is_string(json_object_get(inc, "instance")) &&
		    strcmp(json_string_value(json_object_get(inc, "instance")), instance) == 0)
			hit = json_incref(inc);
	}
	json_decref(j);
	return hit;
}

static int
has_agent(json_t *inc, const char *agent)
{
	json_t *agents = json_object_get(inc, "agents");

	for (size_t i = 0; i < json_array_size(agents); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(agents, i), "agent")),
			   agent) == 0)
			return 1;
	return 0;
}

Test(integrity_api, check_fields_stored_and_served)
{
	start(NULL);
	post_round(TOKEN1, 1, 1, 12, DIGEST_A, 12, DIGEST_A, "site-a", DIGEST_A);
	json_t *j = http_json("GET", "/api/v1/results?agent=branch-1", NULL, NULL, 200);
	json_t *res = json_object_get(j, "results");
	cr_assert_eq(json_array_size(res), 3);
	json_t *r = json_array_get(res, 2);
	cr_assert_str_eq(json_string_value(json_object_get(r, "check")), "soa");
	cr_assert_eq(json_integer_value(json_object_get(r, "serial")), 12);
	cr_assert_str_eq(json_string_value(json_object_get(r, "digest")), DIGEST_A);
	cr_assert(strstr(json_string_value(json_object_get(r, "rrs")), "SOA") != NULL);
	json_decref(j);
	/* a bad digest is refused with the field named */
	char body[2048], rec[1024];
	check_record(rec, sizeof(rec), 9, 2, 0, "site-a", 12, "XYZ");
	snprintf(body, sizeof(body), "{\"results\":[%s]}", rec);
	struct reply bad = http("POST", "/api/v1/results", TOKEN1, body, NULL);
	cr_assert_eq(bad.status, 400, "%s", bad.body);
	cr_assert(strstr(bad.body, "digest") != NULL, "%s", bad.body);
	free(bad.body);
	stop(SIGTERM);
}

Test(integrity_api, serial_lag_opens_with_agents_and_resolves)
{
	start(NULL);
	/* branch-1 is served by site-b, one serial behind; branch-2 by site-a */
	post_round(TOKEN1, 1, 1, 12, DIGEST_A, 11, DIGEST_B, "site-b", DIGEST_B);
	post_round(TOKEN2, 1, 1, 12, DIGEST_A, 11, DIGEST_B, "site-a", DIGEST_A);
	json_t *ev = wait_event("serial_lag", "site-b", 8000);
	cr_assert_not_null(ev, "no serial_lag within the threshold + ticks");
	json_t *d = json_object_get(ev, "detail");
	cr_assert_eq(json_integer_value(json_object_get(d, "behind")), 1);
	cr_assert_eq(json_integer_value(json_object_get(d, "highest")), 12);
	json_t *agents = json_object_get(d, "agents");
	cr_assert_eq(json_array_size(agents), 1);
	cr_assert_str_eq(json_string_value(json_array_get(agents, 0)), "branch-1");
	cr_assert(json_is_integer(json_object_get(ev, "incident")), "the event joined an incident");
	json_decref(ev);
	cr_assert_null(wait_event("serial_lag", "site-a", 0), "site-a is not behind");

	json_t *inc = find_incident("serial_lag", "site-b", "open");
	cr_assert_not_null(inc);
	cr_assert(has_agent(inc, "branch-1"));
	cr_assert(!has_agent(inc, "branch-2"));
	json_decref(inc);

	/* site-b catches up */
	post_round(TOKEN1, 4, 2, 12, DIGEST_A, 12, DIGEST_A, "site-b", DIGEST_A);
	int64_t deadline = time_now_ms() + 5000;
	while ((inc = find_incident("serial_lag", "site-b", "resolved")) == NULL &&
	       time_now_ms() < deadline)
		usleep(100000);
	cr_assert_not_null(inc, "serial_lag not resolved after the serial caught up");
	json_decref(inc);
	stop(SIGTERM);
}

Test(integrity_api, inconsistent_and_mismatching_answers)
{
	start(NULL);
	/* same serial, different data on site-b; branch-1's anycast answer,
	 * identified as site-a, is not site-a's own */
	post_round(TOKEN1, 1, 1, 12, DIGEST_A, 12, DIGEST_B, "site-a", DIGEST_E);
	json_t *ev = wait_event("answer_mismatch", "site-a", 3000);
	cr_assert_not_null(ev);
	cr_assert_str_eq(json_string_value(json_object_get(ev, "agent")), "branch-1");
	json_decref(ev);
	/* with two instances it is a tie: each is the odd one out */
	ev = wait_event("inconsistent_answer", "site-b", 3000);
	cr_assert_not_null(ev);
	json_decref(ev);
	json_t *inc = find_incident("answer_mismatch", "site-a", "open");
	cr_assert_not_null(inc);
	cr_assert(has_agent(inc, "branch-1"));
	json_decref(inc);
	cr_assert_not_null((inc = find_incident("inconsistent_answer", "site-b", "open")));
	json_decref(inc);
	/* healed */
	post_round(TOKEN1, 4, 2, 12, DIGEST_A, 12, DIGEST_A, "site-a", DIGEST_A);
	int64_t deadline = time_now_ms() + 5000;
	while ((inc = find_incident("answer_mismatch", "site-a", "resolved")) == NULL &&
	       time_now_ms() < deadline)
		usleep(100000);
	cr_assert_not_null(inc);
	json_decref(inc);
	/* the two resolve in the same round, but are stored one after the other */
	while ((inc = find_incident("inconsistent_answer", "site-b", "resolved")) == NULL &&
	       time_now_ms() < deadline)
		usleep(100000);
	cr_assert_not_null(inc);
	json_decref(inc);
	stop(SIGTERM);
}

Test(integrity_api, instances_show_serial_digest_and_lag_per_instance)
{
	start(NULL);
	post_round(TOKEN1, 1, 1, 12, DIGEST_A, 11, DIGEST_B, "site-a", DIGEST_A);
	json_t *j = http_json("GET", "/api/v1/instances?service=dns", NULL, NULL, 200);
	json_t *list = json_object_get(j, "instances");
	int seen = 0;

	cr_assert(json_is_array(list), "no instances list");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *in = json_array_get(list, i);
		const char *name = json_string_value(json_object_get(in, "instance"));
		json_t *ck = json_array_get(json_object_get(in, "checks"), 0);

		cr_assert_not_null(ck, "no checks for %s", name);
		cr_assert_str_eq(json_string_value(json_object_get(ck, "check")), "soa");
		if (strcmp(name, "site-b") == 0) {
			cr_assert_eq(json_integer_value(json_object_get(ck, "serial")), 11);
			cr_assert_str_eq(json_string_value(json_object_get(ck, "digest")), DIGEST_B);
			cr_assert(json_is_string(json_object_get(ck, "behind_since")),
				  "site-b is behind");
			seen++;
		} else {
			cr_assert_eq(json_integer_value(json_object_get(ck, "serial")), 12);
			cr_assert(json_is_null(json_object_get(ck, "behind_since")));
			seen++;
		}
	}
	cr_assert_eq(seen, 2);
	json_decref(j);
	stop(SIGTERM);
}

Test(integrity_api, open_lag_survives_a_restart_and_resolves_after_it)
{
	start(NULL);
	post_round(TOKEN1, 1, 1, 12, DIGEST_A, 11, DIGEST_B, "site-b", DIGEST_B);
	json_t *ev = wait_event("serial_lag", "site-b", 8000);
	cr_assert_not_null(ev);
	json_decref(ev);
	stop(SIGTERM);
	start(NULL);
	json_t *inc = find_incident("serial_lag", "site-b", "open");
	cr_assert_not_null(inc, "the open incident was not restored");
	json_decref(inc);
	post_round(TOKEN1, 4, 2, 12, DIGEST_A, 12, DIGEST_A, "site-b", DIGEST_A);
	int64_t deadline = time_now_ms() + 5000;
	while ((inc = find_incident("serial_lag", "site-b", "resolved")) == NULL &&
	       time_now_ms() < deadline)
		usleep(100000);
	cr_assert_not_null(inc, "healed after the restart, but the incident stayed open");
	json_decref(inc);
	stop(SIGTERM);
}
