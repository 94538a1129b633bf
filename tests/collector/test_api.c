/* tests/collector/test_api.c - the collector's HTTP API end to end: each test
 * starts the real anycast-collector binary ($ANYCAST_BIN, else next to this
 * test) on 127.0.0.1 with a free port, its own inventory and database in a
 * temp dir, and talks to it with libcurl. */
#include <openssl/evp.h>
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
		 "    instances:\n"
		 "      - { name: site-a, management: 198.18.1.2, identity: s1.lab }\n"
		 "      - { name: site-b, management: 198.18.2.2, identity: s2.lab }\n"
		 "%s"
		 "agents:\n"
		 "  - { name: branch-1, token_sha256: %s }\n"
		 "  - { name: branch-2, token_sha256: %s }\n",
		 extra_instance ? extra_instance : "", hash1, hash2);
	write_file("inv.yaml", text);
}

static void
setup(void)
{
	harness_setup("test_api");
}

TestSuite(api, .init = setup, .fini = harness_teardown, .timeout = 60);

/* One record as an agent sends it. */
static void
record(char *buf, size_t len, uint64_t seq, uint64_t round, int target, const char *instance,
       const char *outcome, double rtt)
{
	char t[40];
	const char *addr = target == 0 ? "198.18.255.53"
					: (strcmp(instance, "site-a") == 0 ? "198.18.1.2" : "198.18.2.2");

	time_format_rfc3339(time_now_ms(), t, sizeof(t));
	snprintf(buf, len,
		 "{\"seq\":%llu,\"round\":%llu,\"time\":\"%s\",\"service\":\"dns\","
		 "\"address\":\"%s\",\"family\":4,\"target\":\"%s\",\"instance\":\"%s\","
		 "\"identity\":\"%s\",\"identity_source\":\"nsid\",\"query\":\"nsid\","
		 "\"transport\":\"udp\",\"outcome\":\"%s\",\"rcode\":\"NOERROR\",\"rtt_ms\":%g}",
		 (unsigned long long)seq, (unsigned long long)round, t, addr,
		 target ? "management" : "anycast", instance,
		 strcmp(instance, "site-a") == 0 ? "s1.lab" : "s2.lab", outcome, rtt);
}

/* {"results":[seq from..to, all anycast answers from instance]} */
static char *
batch(uint64_t from, uint64_t to, uint64_t round, const char *instance)
{
	size_t cap = (to - from + 1) * 512 + 64, len;
	char *b = malloc(cap), rec[512];

	strcpy(b, "{\"results\":[");
	for (uint64_t s = from; s <= to; s++) {
		record(rec, sizeof(rec), s, round, 0, instance, "ok", 3.5);
		len = strlen(b);
		snprintf(b + len, cap - len, "%s%s", s > from ? "," : "", rec);
	}
	len = strlen(b);
	snprintf(b + len, cap - len, "],\"status\":{\"version\":\"9.9\",\"spool_depth\":0}}");
	return b;
}

static json_int_t
jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_integer(v), "%s is not an integer", k);
	return json_integer_value(v);
}

Test(api, ingest_and_read_back)
{
	char *b = batch(1, 5, 1, "site-a");
	json_t *j, *arr;

	start(NULL);
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	cr_assert_eq(jint(j, "stored"), 5);
	cr_assert_eq(jint(j, "duplicates"), 0);
	cr_assert_eq(jint(j, "last_seq"), 5);
	json_decref(j);
	free(b);

	/* A heartbeat: no results, only the agent's status. */
	j = http_json("POST", "/api/v1/results", TOKEN1,
		      "{\"results\":[],\"status\":{\"version\":\"9.9\",\"spool_depth\":7}}", 200);
	cr_assert_eq(jint(j, "stored"), 0);
	cr_assert_eq(jint(j, "last_seq"), 5);
	json_decref(j);

	j = http_json("GET", "/api/v1/results?agent=branch-1&after_seq=2&limit=2", NULL, NULL, 200);
	arr = json_object_get(j, "results");
	cr_assert_eq(json_array_size(arr), 2);
	cr_assert_eq(jint(json_array_get(arr, 0), "seq"), 3);
	cr_assert_eq(jint(json_array_get(arr, 1), "seq"), 4);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "agent")),
			 "branch-1");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "instance")),
			 "site-a");
	cr_assert_eq(json_real_value(json_object_get(json_array_get(arr, 0), "rtt_ms")), 3.5);
	json_decref(j);

	j = http_json("GET", "/api/v1/agents", NULL, NULL, 200);
	arr = json_object_get(j, "agents");
	cr_assert_eq(json_array_size(arr), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "version")),
			 "9.9");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "state")), "ok");
	cr_assert_eq(jint(json_object_get(json_array_get(arr, 0), "status"), "spool_depth"), 7);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "state")),
			 "never");
	json_decref(j);
	stop(SIGTERM);
}

Test(api, authentication_and_agent_identity)
{
	char *b = batch(1, 2, 1, "site-a");
	struct reply r;
	json_t *j, *arr;

	start(NULL);
	r = http("POST", "/api/v1/results", NULL, b, NULL);
	cr_assert_eq(r.status, 401);
	cr_assert(strstr(r.headers, "WWW-Authenticate: Bearer") != NULL, "%s", r.headers);
	cr_assert(strstr(r.body, "\"error\"") != NULL);
	free(r.body);
	r = http("POST", "/api/v1/results", "wrong-token", b, NULL);
	cr_assert_eq(r.status, 401);
	free(r.body);
	r = http("GET", "/api/v1/agent/config", "wrong-token", NULL, NULL);
	cr_assert_eq(r.status, 401);
	free(r.body);
	/* An agent name in the URL that is not the token's. */
	r = http("POST", "/api/v1/agents/branch-2/results", TOKEN1, b, NULL);
	cr_assert_eq(r.status, 403, "%s", r.body);
	free(r.body);
	r = http("GET", "/api/v1/agent/config?agent=branch-2", TOKEN1, NULL, NULL);
	cr_assert_eq(r.status, 403);
	free(r.body);
	r = http("GET", "/api/v1/agents/branch-1/config", TOKEN1, NULL, NULL);
	cr_assert_eq(r.status, 200);
	free(r.body);
	free(b);

	/* A body's "agent" is ignored: the token decides. */
	char rec[512], body[800];

	record(rec, sizeof(rec), 7, 1, 0, "site-a", "ok", 1);
	snprintf(body, sizeof(body), "{\"results\":[%.*s,\"agent\":\"branch-1\"}]}",
		 (int)strlen(rec) - 1, rec);
	j = http_json("POST", "/api/v1/results", TOKEN2, body, 200);
	json_decref(j);
	j = http_json("GET", "/api/v1/results?agent=branch-2", NULL, NULL, 200);
	arr = json_object_get(j, "results");
	cr_assert_eq(json_array_size(arr), 1);
	cr_assert_eq(jint(json_array_get(arr, 0), "seq"), 7);
	json_decref(j);
	j = http_json("GET", "/api/v1/results?agent=branch-1", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "results")), 0);
	json_decref(j);
	stop(SIGTERM);
}

/* X-Anycast-Agent: the agent's --name. A token used under another agent's
 * name is refused (403) on ingest and on the configuration; the token's own
 * name, or no header (older agents), works. */
Test(api, agent_name_header_must_match_the_token)
{
	static const char want[] = "token belongs to agent \"branch-1\", not \"branch-2\"";
	char *b = batch(1, 2, 1, "site-a");
	struct reply r;
	json_t *j;

	start(NULL);
	r = http("POST", "/api/v1/results", TOKEN1, b, "X-Anycast-Agent: branch-2");
	cr_assert_eq(r.status, 403, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "error")), want, "%s", r.body);
	json_decref(j);
	free(r.body);
	r = http("GET", "/api/v1/agent/config", TOKEN1, NULL, "X-Anycast-Agent: branch-2");
	cr_assert_eq(r.status, 403, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "error")), want, "%s", r.body);
	json_decref(j);
	free(r.body);
	/* Also a name no inventory has. */
	r = http("POST", "/api/v1/results", TOKEN1, b, "X-Anycast-Agent: nobody");
	cr_assert_eq(r.status, 403, "%s", r.body);
	free(r.body);
	/* Nothing was stored by the refused requests. */
	j = http_json("GET", "/api/v1/results?agent=branch-1", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "results")), 0);
	json_decref(j);

	/* The token's own name. */
	r = http("POST", "/api/v1/results", TOKEN1, b, "X-Anycast-Agent: branch-1");
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert_eq(jint(j, "stored"), 2);
	json_decref(j);
	free(r.body);
	r = http("GET", "/api/v1/agent/config", TOKEN1, NULL, "X-Anycast-Agent: branch-1");
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "agent")), "branch-1");
	json_decref(j);
	free(r.body);
	/* No header: the token alone decides, as before. */
	free(b);
	b = batch(3, 4, 2, "site-a");
	r = http("POST", "/api/v1/results", TOKEN2, b, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	free(r.body);
	r = http("GET", "/api/v1/agent/config", TOKEN2, NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	free(r.body);
	free(b);
	/* An unknown token stays 401, header or not. */
	r = http("GET", "/api/v1/agent/config", "wrong-token", NULL, "X-Anycast-Agent: branch-1");
	cr_assert_eq(r.status, 401);
	free(r.body);
	stop(SIGTERM);
}

/* "time_ms": the collector's clock when it answered, in ms, for the
 * agent's offset estimate. */
Test(api, ingest_answer_carries_the_collector_time_in_ms)
{
	char *b = batch(1, 1, 1, "site-a");
	int64_t t0, t1;
	json_t *j;

	start(NULL);
	t0 = time_now_ms();
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	t1 = time_now_ms();
	cr_assert_geq(jint(j, "time_ms"), t0);
	cr_assert_leq(jint(j, "time_ms"), t1);
	json_decref(j);
	free(b);
	/* A heartbeat too. */
	j = http_json("POST", "/api/v1/results", TOKEN1, "{\"results\":[]}", 200);
	cr_assert_gt(jint(j, "time_ms"), 0);
	json_decref(j);
	stop(SIGTERM);
}

Test(api, bad_input_is_rejected_and_nothing_stored)
{
	char good[512], bad[512], body[1200];
	struct reply r;
	json_t *j;

	start(NULL);
	r = http("POST", "/api/v1/results", TOKEN1, "{\"results\": [", NULL);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "invalid JSON") != NULL, "%s", r.body);
	free(r.body);
	r = http("POST", "/api/v1/results", TOKEN1, "{\"results\": 3}", NULL);
	cr_assert_eq(r.status, 400);
	free(r.body);
	/* Record 1 has a string where a number belongs: the whole batch goes. */
	record(good, sizeof(good), 1, 1, 0, "site-a", "ok", 1);
	record(bad, sizeof(bad), 2, 1, 0, "site-a", "ok", 1);
	char *p = strstr(bad, "\"rtt_ms\":1");

	cr_assert_not_null(p);
	strcpy(p, "\"rtt_ms\":\"fast\"}");
	snprintf(body, sizeof(body), "{\"results\":[%s,%s]}", good, bad);
	r = http("POST", "/api/v1/results", TOKEN1, body, NULL);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "results[1]") && strstr(r.body, "rtt_ms"), "%s", r.body);
	free(r.body);
	/* An unknown outcome. */
	record(bad, sizeof(bad), 3, 1, 0, "site-a", "splendid", 1);
	snprintf(body, sizeof(body), "{\"results\":[%s]}", bad);
	r = http("POST", "/api/v1/results", TOKEN1, body, NULL);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "results[0]") && strstr(r.body, "outcome"), "%s", r.body);
	free(r.body);
	/* A time far in the future (year 9999) is refused; 23 h ahead is not. */
	record(bad, sizeof(bad), 4, 1, 0, "site-a", "ok", 1);
	p = strstr(bad, "\"time\":\"");
	cr_assert_not_null(p);
	memcpy(p + 8, "9999", 4);
	snprintf(body, sizeof(body), "{\"results\":[%s]}", bad);
	r = http("POST", "/api/v1/results", TOKEN1, body, NULL);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "results[0]") && strstr(r.body, "ahead of the collector's clock"), "%s",
		  r.body);
	free(r.body);
	j = http_json("GET", "/api/v1/results", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "results")), 0);
	json_decref(j);
	{
		char t[40];
		record(good, sizeof(good), 5, 1, 0, "site-a", "ok", 1);
		p = strstr(good, "\"time\":\"");
		time_format_rfc3339(time_now_ms() + 23LL * 3600 * 1000, t, sizeof(t));
		memcpy(p + 8, t, strlen(t));
		snprintf(body, sizeof(body), "{\"results\":[%s]}", good);
		r = http("POST", "/api/v1/results", TOKEN1, body, NULL);
		cr_assert_eq(r.status, 200, "%s", r.body);
		free(r.body);
	}
	/* Bad query parameters on reads. */
	r = http("GET", "/api/v1/results?limit=5000", NULL, NULL, NULL);
	cr_assert_eq(r.status, 400);
	free(r.body);
	r = http("GET", "/api/v1/events?since=yesterday", NULL, NULL, NULL);
	cr_assert_eq(r.status, 400);
	free(r.body);
	r = http("GET", "/api/v1/events?type=outages", NULL, NULL, NULL);
	cr_assert_eq(r.status, 400, "an unknown type is an error, not an empty list");
	free(r.body);
	r = http("GET", "/api/v1/incidents?state=closed", NULL, NULL, NULL);
	cr_assert_eq(r.status, 400);
	free(r.body);
	r = http("GET", "/api/v1/incidents/abc", NULL, NULL, NULL);
	cr_assert_eq(r.status, 400);
	free(r.body);
	r = http("GET", "/api/v1/incidents/12345", NULL, NULL, NULL);
	cr_assert_eq(r.status, 404);
	free(r.body);
	j = http_json("GET", "/api/v1/incidents", NULL, NULL, 200);
	cr_assert(json_is_array(json_object_get(j, "incidents")));
	json_decref(j);
	r = http("GET", "/api/v1/nothing", NULL, NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body, "\"error\"") != NULL);
	free(r.body);
	r = http("DELETE", "/api/v1/catchments", NULL, NULL, NULL);
	cr_assert_eq(r.status, 405);
	free(r.body);
	stop(SIGTERM);
}

Test(api, oversized_body_gets_413)
{
	char *b = batch(1, 40, 1, "site-a"); /* ~15 KB */
	struct reply r;
	json_t *j;

	start("--max-body=4096");
	r = http("POST", "/api/v1/results", TOKEN1, b, NULL);
	cr_assert_eq(r.status, 413, "status %ld", r.status);
	free(r.body);
	free(b);
	b = batch(1, 2, 1, "site-a");
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	cr_assert_eq(jint(j, "stored"), 2);
	json_decref(j);
	free(b);
	stop(SIGTERM);
}

Test(api, resend_is_idempotent)
{
	char *b = batch(1, 10, 1, "site-a"), *b2 = batch(6, 15, 2, "site-a");
	struct reply r;
	json_t *j;

	start(NULL);
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	json_decref(j);
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	cr_assert_eq(jint(j, "stored"), 0);
	cr_assert_eq(jint(j, "duplicates"), 10);
	cr_assert_eq(jint(j, "last_seq"), 10);
	json_decref(j);
	j = http_json("POST", "/api/v1/results", TOKEN1, b2, 200);
	cr_assert_eq(jint(j, "stored"), 5);
	cr_assert_eq(jint(j, "duplicates"), 5);
	cr_assert_eq(jint(j, "last_seq"), 15);
	json_decref(j);
	j = http_json("GET", "/api/v1/results?agent=branch-1&limit=1000", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "results")), 15);
	json_decref(j);
	r = http("GET", "/metrics", NULL, NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "anycast_ingest_results_total{outcome=\"stored\"} 15\n"), "%s",
		  r.body);
	cr_assert(strstr(r.body, "anycast_ingest_results_total{outcome=\"duplicate\"} 15\n"));
	free(r.body);
	free(b);
	free(b2);
	stop(SIGTERM);
}

static char *
header_value(const char *headers, const char *name, char *out, size_t len)
{
	const char *p = strcasestr(headers, name);

	if (p == NULL)
		return NULL;
	p += strlen(name);
	while (*p == ' ' || *p == ':')
		p++;
	size_t n = strcspn(p, "\r\n");

	snprintf(out, len, "%.*s", (int)n, p);
	return out;
}

Test(api, agent_config_etag_and_304)
{
	char etag[128], inm[160], etag2[128];
	struct reply r;
	json_t *j;

	start(NULL);
	r = http("GET", "/api/v1/agent/config", TOKEN1, NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(header_value(r.headers, "ETag", etag, sizeof(etag)), "%s", r.headers);
	cr_assert_eq(etag[0], '"');
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "agent")), "branch-1");
	cr_assert_eq(json_array_size(json_object_get(j, "services")), 1);
	json_decref(j);
	free(r.body);

	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	r = http("GET", "/api/v1/agent/config", TOKEN1, NULL, inm);
	cr_assert_eq(r.status, 304);
	cr_assert_eq(r.len, 0);
	free(r.body);

	/* Another agent gets another body, so another tag. */
	r = http("GET", "/api/v1/agent/config", TOKEN2, NULL, inm);
	cr_assert_eq(r.status, 200);
	free(r.body);

	/* After a reload with a new instance the tag changes. */
	write_inventory("  - name: ntp\n    protocol: ntp\n    address: [198.18.255.123]\n"
			"    instances:\n      - { name: site-a, management: 198.18.1.2 }\n");
	kill(pid, SIGHUP);
	for (int i = 0; i < 100; i++) {
		r = http("GET", "/api/v1/agent/config", TOKEN1, NULL, inm);
		if (r.status == 200)
			break;
		free(r.body);
		r.body = NULL;
		usleep(50000);
	}
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(header_value(r.headers, "ETag", etag2, sizeof(etag2)));
	cr_assert_str_neq(etag, etag2);
	cr_assert(strstr(r.body, "\"ntp\"") != NULL);
	free(r.body);
	stop(SIGTERM);
}

Test(api, invalid_reload_keeps_the_old_inventory)
{
	char *b = batch(1, 1, 1, "site-a");
	json_t *j;

	start(NULL);
	write_file("inv.yaml", "services: [\n");
	kill(pid, SIGHUP);
	usleep(300000);
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	cr_assert_eq(jint(j, "stored"), 1);
	json_decref(j);
	free(b);
	stop(SIGTERM);
}

/* Rounds from branch-1 answering site-a, then site-b: a catchment change. */
static void
feed_change(void)
{
	uint64_t seq = 1;

	for (int round = 1; round <= 8; round++) {
		const char *inst = round <= 3 ? "site-a" : "site-b";
		char a[512], m1[512], m2[512], body[1800];
		json_t *j;

		record(a, sizeof(a), seq++, (uint64_t)round, 0, inst, "ok", 3);
		record(m1, sizeof(m1), seq++, (uint64_t)round, 1, "site-a", "ok", 1);
		record(m2, sizeof(m2), seq++, (uint64_t)round, 1, "site-b", "ok", 2);
		snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s]}", a, m1, m2);
		j = http_json("POST", "/api/v1/results", TOKEN1, body, 200);
		json_decref(j);
		usleep(20000);
	}
}

static json_t *
wait_events(const char *query, size_t want)
{
	json_t *j = NULL;

	for (int i = 0; i < 100; i++) {
		j = http_json("GET", query, NULL, NULL, 200);
		if (json_array_size(json_object_get(j, "events")) >= want)
			return j;
		json_decref(j);
		usleep(100000);
	}
	cr_assert_fail("no events at %s", query);
	return NULL;
}


/* The text exposition format as Prometheus reads it: each family declared
 * once by # TYPE before its samples, and its samples not split up. */
static void
check_exposition(const char *text)
{
	char fams[128][96], cur[96] = "";
	int nf = 0;
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[1024], name[96];

		cr_assert_lt(len, sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		line += len + (nl != NULL);
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			cr_assert_eq(sscanf(buf + 7, "%95s", name), 1);
			for (int i = 0; i < nf; i++)
				cr_assert_str_neq(fams[i], name, "family %s declared twice", name);
			cr_assert_lt(nf, 128);
			snprintf(fams[nf++], sizeof(fams[0]), "%s", name);
			snprintf(cur, sizeof(cur), "%s", name);
			continue;
		}
		if (buf[0] == '#' || buf[0] == '\0')
			continue;
		size_t n = strcspn(buf, "{ ");
		double v;

		cr_assert(n > 0 && n < sizeof(name), "bad line: %s", buf);
		memcpy(name, buf, n);
		name[n] = '\0';
		cr_assert(strncmp(name, cur, strlen(cur)) == 0 && cur[0] != '\0',
			  "sample %s outside its family (current %s)", name, cur);
		cr_assert_eq(sscanf(strrchr(buf, ' ') + 1, "%lf", &v), 1, "no value: %s", buf);
	}
}

Test(api, catchment_change_shows_in_events_catchments_and_metrics)
{
	json_t *j, *ev, *c;
	struct reply r;

	start(NULL);
	feed_change();
	j = wait_events("/api/v1/events?type=catchment_change", 1);
	ev = json_array_get(json_object_get(j, "events"), 0);
	cr_assert_gt(jint(ev, "id"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(ev, "agent")), "branch-1");
	cr_assert_str_eq(json_string_value(json_object_get(ev, "from_instance")), "site-a");
	cr_assert_str_eq(json_string_value(json_object_get(ev, "to_instance")), "site-b");
	cr_assert(json_is_object(json_object_get(ev, "detail")));
	json_decref(j);
	j = http_json("GET", "/api/v1/events?type=outage", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "events")), 0);
	json_decref(j);

	j = http_json("GET", "/api/v1/catchments", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "catchments")), 1);
	c = json_array_get(json_object_get(j, "catchments"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(c, "instance")), "site-b");
	cr_assert_str_eq(json_string_value(json_object_get(c, "status")), "ok");
	cr_assert(json_is_string(json_object_get(c, "since")));
	json_decref(j);

	j = http_json("GET", "/api/v1/instances", NULL, NULL, 200);
	c = json_array_get(json_object_get(j, "instances"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(c, "status")), "up");
	json_decref(j);

	r = http("GET", "/metrics", NULL, NULL, NULL);
	cr_assert(strstr(r.body, "anycast_catchment_info{agent=\"branch-1\",service=\"dns\","
				 "family=\"4\",anycast_instance=\"site-b\",status=\"ok\"} 1"),
		  "%s", r.body);
	cr_assert(strstr(r.body, "anycast_events_total{type=\"catchment_change\"} 1"));
	check_exposition(r.body);
	/* 3 answers from site-a, 5 from site-b; the newest came from site-b */
	cr_assert(strstr(r.body, "anycast_rtt_seconds_count{agent=\"branch-1\",service=\"dns\","
				 "family=\"4\",target=\"anycast\",anycast_instance=\"site-a\"} 3\n"),
		  "%s", r.body);
	cr_assert(strstr(r.body, "anycast_rtt_seconds_sum{agent=\"branch-1\",service=\"dns\","
				 "family=\"4\",target=\"anycast\",anycast_instance=\"site-b\"} 0.015000\n"));
	cr_assert(strstr(r.body, "anycast_probe_success{agent=\"branch-1\",service=\"dns\","
				 "family=\"4\",target=\"anycast\",anycast_instance=\"site-b\"} 1\n"));
	cr_assert(strstr(r.body, "anycast_probe_success{agent=\"branch-1\",service=\"dns\","
				 "family=\"4\",target=\"management\",anycast_instance=\"site-a\"} 1\n"));
	cr_assert(strstr(r.body, "anycast_agent_last_seen_timestamp_seconds{agent=\"branch-2\"} 0.000\n"));
	cr_assert(strstr(r.body, "anycast_build_info{version=\"") != NULL);
	cr_assert(strstr(r.body, "\nanycast_collector_leader 1\n") != NULL);
	/* Prometheus owns the label "instance" (ours would become exported_instance). */
	for (const char *p = strstr(r.body, "instance=\""); p != NULL; p = strstr(p + 1, "instance=\""))
		cr_assert(p - r.body >= 8 && strncmp(p - 8, "anycast_", 8) == 0, "label %.40s", p - 8);
	free(r.body);
	stop(SIGTERM);
}

Test(api, restart_keeps_results_events_and_catchments)
{
	json_t *j;
	int64_t id;

	start(NULL);
	feed_change();
	j = wait_events("/api/v1/events", 1);
	id = jint(json_array_get(json_object_get(j, "events"), 0), "id");
	json_decref(j);
	stop(SIGTERM);

	start(NULL);
	j = http_json("GET", "/api/v1/results?agent=branch-1&limit=1000", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "results")), 24);
	json_decref(j);
	j = http_json("GET", "/api/v1/events", NULL, NULL, 200);
	cr_assert_eq(jint(json_array_get(json_object_get(j, "events"), 0), "id"), id);
	json_decref(j);
	j = http_json("GET", "/api/v1/catchments", NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "catchments"), 0), "instance")),
			 "site-b");
	json_decref(j);
	/* The agent continues where it was. */
	char *b = batch(25, 25, 9, "site-b");

	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	cr_assert_eq(jint(j, "last_seq"), 25);
	json_decref(j);
	free(b);
	stop(SIGTERM);
}

Test(api, kill_9_after_ack_loses_nothing_acknowledged)
{
	uint64_t seq = 1, acked = 0;
	json_t *j;

	start(NULL);
	for (int i = 0; i < 30; i++) {
		char *b = batch(seq, seq + 19, (uint64_t)i + 1, "site-a");

		j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
		acked += (uint64_t)jint(j, "stored");
		json_decref(j);
		free(b);
		seq += 20;
	}
	stop(SIGKILL);
	start(NULL);
	j = http_json("GET", "/api/v1/agents", NULL, NULL, 200);
	cr_assert_eq(jint(json_array_get(json_object_get(j, "agents"), 0), "last_seq"), 600);
	json_decref(j);
	uint64_t n = 0, after = 0;

	for (;;) {
		char q[128];
		size_t k;

		snprintf(q, sizeof(q), "/api/v1/results?agent=branch-1&limit=1000&after_seq=%llu",
			 (unsigned long long)after);
		j = http_json("GET", q, NULL, NULL, 200);
		k = json_array_size(json_object_get(j, "results"));
		if (k > 0)
			after = (uint64_t)jint(json_array_get(json_object_get(j, "results"), k - 1),
					       "seq");
		json_decref(j);
		n += k;
		if (k == 0)
			break;
	}
	cr_assert_eq(acked, 600);
	cr_assert_eq(n, acked);
	stop(SIGTERM);
}

Test(api, health_static_files_and_no_traversal)
{
	struct reply r;

	start(NULL);
	r = http("GET", "/healthz", NULL, NULL, NULL);
	cr_assert_eq(r.status, 200);
	/* Alone on its store (SQLite, or the only one on PostgreSQL): leader. */
	cr_assert(strstr(r.body, "\"role\":\"leader\"") != NULL, "%s", r.body);
	free(r.body);
	r = http("GET", "/", NULL, NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.headers, "text/html") != NULL);
	cr_assert(strstr(r.body, "<title>anycast</title>") != NULL);
	cr_assert(strstr(r.headers, "frame-ancestors 'none'") != NULL, "%s", r.headers);
	cr_assert(strstr(r.headers, "Content-Security-Policy: default-src 'self'") != NULL);
	cr_assert(strstr(r.headers, "X-Content-Type-Options: nosniff") != NULL);
	free(r.body);
	r = http("GET", "/../secret.txt", NULL, NULL, NULL);
	cr_assert_eq(r.status, 404);
	free(r.body);
	r = http("GET", "/%2e%2e/secret.txt", NULL, NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body, "outside") == NULL);
	free(r.body);
	write_file("web/.hidden", "not for the web\n");
	r = http("GET", "/.hidden", NULL, NULL, NULL);
	cr_assert_eq(r.status, 404, "dot files are not served");
	free(r.body);
	r = http("GET", "/missing.js", NULL, NULL, NULL);
	cr_assert_eq(r.status, 404);
	free(r.body);
	stop(SIGTERM);
}

static int
run_cli(const char *args)
{
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s/cli.out' 2>&1", bin, args, dir);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(api, command_line_checks_and_backup)
{
	char args[900], cmd[700];
	json_t *j;

	TEST_SQLITE_ONLY();
	snprintf(args, sizeof(args), "--config '%s/inv.yaml' --check-config", dir);
	cr_assert_eq(run_cli(args), 0);
	cr_assert_neq(run_cli("--no-such-flag"), 0);
	cr_assert_neq(run_cli(""), 0, "--config is required");
	cr_assert_eq(run_cli("--listen"), 2, "a flag without its value");
	snprintf(args, sizeof(args), "--config '%s/inv.yaml' --listen 999.1.1.1:5 --db '%s/typo.db'",
		 dir, dir);
	cr_assert_eq(run_cli(args), 1);
	snprintf(cmd, sizeof(cmd), "test ! -e '%s/typo.db'", dir);
	cr_assert_eq(system(cmd), 0, "a bad listen address must not create the database");
	write_file("bad.yaml", "services:\n  - name: dns\n    protocol: gopher\n");
	snprintf(args, sizeof(args), "--config '%s/bad.yaml' --check-config", dir);
	cr_assert_eq(run_cli(args), 1);
	snprintf(cmd, sizeof(cmd), "grep -q 'bad.yaml:3' '%s/cli.out'", dir);
	cr_assert_eq(system(cmd), 0, "error names the file and line");

	start(NULL);
	char *b = batch(1, 3, 1, "site-a");

	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	json_decref(j);
	free(b);
	snprintf(args, sizeof(args), "backup --db '%s/anycast.db' '%s/copy.db'", dir, dir);
	cr_assert_eq(run_cli(args), 0);
	stop(SIGTERM);
	snprintf(cmd, sizeof(cmd), "test \"$(sqlite3 '%s/copy.db' 'SELECT count(*) FROM results')\" = 3",
		 dir);
	cr_assert_eq(system(cmd), 0);
}

/* An inventory of n agents b-00000.. with tokens "token-N-GEN", hashed here
 * with OpenSSL directly (not the collector's helper). */
static void
write_many_agents(int n, int gen)
{
	char path[512], tok[64];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	FILE *f;

	snprintf(path, sizeof(path), "%s/inv.yaml", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("services:\n  - name: dns\n    protocol: dns\n    address: [198.18.255.53]\n"
	      "    instances:\n      - { name: site-a, management: 198.18.1.2 }\nagents:\n",
	      f);
	for (int i = 0; i < n; i++) {
		snprintf(tok, sizeof(tok), "token-%d-%d", i, gen);
		cr_assert_eq(EVP_Digest(tok, strlen(tok), md, &mdlen, EVP_sha256(), NULL), 1);
		fprintf(f, "  - name: b-%05d\n    token_sha256: ", i);
		for (unsigned int k = 0; k < mdlen; k++)
			fprintf(f, "%02x", md[k]);
		fputc('\n', f);
	}
	cr_assert_eq(fclose(f), 0);
}

static long
config_status(int i, int gen)
{
	char tok[64];
	struct reply r;

	snprintf(tok, sizeof(tok), "token-%d-%d", i, gen);
	r = http("GET", "/api/v1/agent/config", tok, NULL, NULL);
	free(r.body);
	return r.status;
}

/* No agent cap below memory: 10,000 agents pass --check-config, a collector
 * started with them authenticates the last one, and a reload that changes
 * its token takes effect at once (the token index is rebuilt whole). */
Test(api, ten_thousand_agents_load_authenticate_and_reload, .timeout = 120)
{
	char args[900], tok[64];
	json_t *j;

	write_many_agents(10000, 1);
	snprintf(args, sizeof(args), "--config '%s/inv.yaml' --check-config", dir);
	cr_assert_eq(run_cli(args), 0);
	start(NULL);
	cr_assert_eq(config_status(9999, 1), 200);
	cr_assert_eq(config_status(0, 1), 200);
	cr_assert_eq(config_status(10000, 1), 401, "no such agent");
	j = http_json("GET", "/api/v1/agents/b-09999/config", "token-9999-1", NULL, 200);
	json_decref(j);
	snprintf(tok, sizeof(tok), "token-%d-%d", 9998, 1);
	struct reply r = http("GET", "/api/v1/agents/b-09999/config", tok, NULL, NULL);
	cr_assert_eq(r.status, 403, "another agent's token");
	free(r.body);

	write_many_agents(10000, 2);
	kill(pid, SIGHUP);
	for (int tries = 0; config_status(9999, 2) != 200; tries++) {
		cr_assert_lt(tries, 100, "the reload did not take effect");
		usleep(100000);
	}
	cr_assert_eq(config_status(9999, 1), 401, "the old token is gone");
	stop(SIGTERM);
}

Test(api, stream_pushes_events_and_catchments)
{
	char cmd[800], path[300];
	FILE *f;
	char buf[65536];
	size_t n;

	start(NULL);
	snprintf(path, sizeof(path), "%s/stream.out", dir);
	snprintf(cmd, sizeof(cmd), "curl -sN --max-time 6 '%s/api/v1/stream' > '%s' 2>/dev/null &",
		 base, path);
	cr_assert_eq(system(cmd), 0);
	usleep(300000);
	feed_change();
	json_decref(wait_events("/api/v1/events", 1));
	sleep(2); /* a tick pushes the catchment snapshot */
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_assert(strstr(buf, "event: hello") != NULL, "%s", buf);
	cr_assert(strstr(buf, "event: event\ndata: {") != NULL, "%s", buf);
	cr_assert(strstr(buf, "\"type\":\"catchment_change\"") != NULL, "%s", buf);
	cr_assert(strstr(buf, "event: catchments\ndata: {\"catchments\":[") != NULL, "%s", buf);
	cr_assert(strstr(buf, "event: results\ndata: {\"stored\":") != NULL, "%s", buf);

	/* Every message has an id; the hello gave the one to resume from, and
	 * a client coming back with it gets the event again. */
	long long hello_id, ev_id;
	char *ev = strstr(buf, "\nevent: event\n"), *id = strstr(buf, "id: ");

	cr_assert(id != NULL && ev != NULL, "no ids: %s", buf);
	cr_assert_eq(sscanf(id, "id: %lld\nevent: hello", &hello_id), 1, "%s", buf);
	while (ev > buf && strncmp(ev, "id: ", 4) != 0)
		ev--;
	cr_assert_eq(sscanf(ev, "id: %lld", &ev_id), 1);
	cr_assert_gt(ev_id, hello_id);
	snprintf(cmd, sizeof(cmd),
		 "curl -sN --max-time 1 -H 'Last-Event-ID: %lld' '%s/api/v1/stream' > '%s' 2>/dev/null",
		 hello_id, base, path);
	cr_assert_neq(system(cmd), -1);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_assert(strstr(buf, "\"type\":\"catchment_change\"") != NULL, "no replay: %s", buf);
	stop(SIGTERM);
}

Test(api, rollups_and_instance_health)
{
	json_t *j, *r, *inst;
	char a[512], m1[512], m2[512], body[1800];

	start(NULL);
	record(a, sizeof(a), 1, 1, 0, "site-a", "ok", 2);
	record(m1, sizeof(m1), 2, 1, 1, "site-a", "ok", 4);
	record(m2, sizeof(m2), 3, 1, 1, "site-b", "timeout", -1);
	/* A timeout has no RTT: JSON null, not -1. */
	char *p = strstr(m2, "\"rtt_ms\":-1");

	cr_assert_not_null(p);
	strcpy(p, "\"rtt_ms\":null}");
	snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s]}", a, m1, m2);
	json_decref(http_json("POST", "/api/v1/results", TOKEN1, body, 200));

	j = http_json("GET", "/api/v1/rollups?agent=branch-1&service=dns", NULL, NULL, 200);
	r = json_object_get(j, "rollups");
	cr_assert_eq(json_array_size(r), 3, "one row per target address");
	json_decref(j);

	j = http_json("GET", "/api/v1/instances?service=dns", NULL, NULL, 200);
	r = json_object_get(j, "instances");
	cr_assert_eq(json_array_size(r), 2);
	inst = json_array_get(r, 0);
	cr_assert_str_eq(json_string_value(json_object_get(inst, "instance")), "site-a");
	cr_assert_str_eq(json_string_value(json_object_get(inst, "status")), "up");
	inst = json_array_get(r, 1);
	cr_assert_str_eq(json_string_value(json_object_get(inst, "status")), "down");
	cr_assert_eq(jint(inst, "agents_failed"), 1);
	cr_assert_gt(json_array_size(json_object_get(inst, "agents")), 0);
	json_decref(j);
	/* agents=0: the same instances and counts without each agent's view */
	j = http_json("GET", "/api/v1/instances?service=dns&agents=0", NULL, NULL, 200);
	inst = json_array_get(json_object_get(j, "instances"), 1);
	cr_assert_str_eq(json_string_value(json_object_get(inst, "status")), "down");
	cr_assert_eq(jint(inst, "agents_failed"), 1);
	cr_assert(json_is_null(json_object_get(inst, "agents")));
	json_decref(j);
	json_decref(http_json("GET", "/api/v1/instances?agents=yes", NULL, NULL, 400));
	stop(SIGTERM);
}

Test(api, read_token_guards_the_dashboard_api)
{
	char hash[65], path[300], hdr[128];
	struct reply r;
	FILE *f;

	token_sha256("dashboard-secret", hash);
	snprintf(path, sizeof(path), "%s/inv.yaml", dir);
	f = fopen(path, "a");
	cr_assert_not_null(f);
	fprintf(f, "read_token_sha256: %s\n", hash);
	fclose(f);
	start(NULL);
	r = http("GET", "/api/v1/catchments", NULL, NULL, NULL);
	cr_assert_eq(r.status, 401);
	free(r.body);
	r = http("GET", "/api/v1/events", "wrong", NULL, NULL);
	cr_assert_eq(r.status, 401);
	free(r.body);
	r = http("GET", "/api/v1/events", "dashboard-secret", NULL, NULL);
	cr_assert_eq(r.status, 200);
	free(r.body);
	r = http("GET", "/api/v1/catchments?token=dashboard-secret", NULL, NULL, NULL);
	cr_assert_eq(r.status, 200, "EventSource cannot send headers: ?token= works too");
	free(r.body);
	/* An agent token is not a read token; agents still ingest. */
	r = http("GET", "/api/v1/results", TOKEN1, NULL, NULL);
	cr_assert_eq(r.status, 401);
	free(r.body);
	char *b = batch(1, 1, 1, "site-a");

	json_decref(http_json("POST", "/api/v1/results", TOKEN1, b, 200));
	free(b);
	/* The page itself and health stay open; metrics want the read token. */
	r = http("GET", "/", NULL, NULL, NULL);
	cr_assert_eq(r.status, 200);
	free(r.body);
	r = http("GET", "/healthz", NULL, NULL, NULL);
	cr_assert_eq(r.status, 200);
	free(r.body);
	snprintf(hdr, sizeof(hdr), "X-Unused: 1");
	r = http("GET", "/metrics", NULL, NULL, hdr);
	cr_assert_eq(r.status, 401);
	free(r.body);
	r = http("GET", "/metrics", "dashboard-secret", NULL, NULL);
	cr_assert_eq(r.status, 200);
	free(r.body);
	/* The token decides, whatever name the request was sent to. */
	r = http("GET", "/api/v1/events", "dashboard-secret", NULL, "Host: rebound.example");
	cr_assert_eq(r.status, 200);
	free(r.body);
	stop(SIGTERM);
}

/* With no read token, a request addressed to another name (a page elsewhere
 * whose name was made to resolve here: DNS rebinding) reads nothing; by
 * address, localhost, this machine's name or --external-url it does. */
Test(api, open_read_api_answers_only_its_own_host_names)
{
	static const char *refused[] = { "Host: rebound.example", "Host: rebound.example:8053",
					 "Host: 127.0.0.1.rebound.example", "Host: [nonsense]" };
	char host[300], name[256];
	struct reply r;

	start("--external-url=https://Monitor.Example.NET/anycast/");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		r = http("GET", "/api/v1/catchments", NULL, NULL, refused[i]);
		cr_expect_eq(r.status, 403, "%s: %ld", refused[i], r.status);
		free(r.body);
		r = http("GET", "/metrics", NULL, NULL, refused[i]);
		cr_expect_eq(r.status, 403, "/metrics with %s: %ld", refused[i], r.status);
		free(r.body);
	}
	cr_assert_eq(gethostname(name, sizeof(name)), 0);
	const char *served[] = { NULL, "Host: localhost:8053", "Host: [::1]:8053",
				 "Host: monitor.example.net", "Host: MONITOR.example.net.:443", host };
	snprintf(host, sizeof(host), "Host: %s:%d", name, port);
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
		r = http("GET", "/api/v1/catchments", NULL, NULL, served[i]);
		cr_expect_eq(r.status, 200, "%s: %ld", served[i] ? served[i] : "127.0.0.1", r.status);
		free(r.body);
	}
	/* Agents and health checks are not the read API. */
	char *b = batch(1, 1, 1, "site-a");

	r = http("GET", "/healthz", NULL, NULL, "Host: rebound.example");
	cr_expect_eq(r.status, 200);
	free(r.body);
	json_decref(http_json("POST", "/api/v1/results", TOKEN1, b, 200));
	free(b);
	stop(SIGTERM);
}

Test(api, idle_collector_keeps_running_and_stops_cleanly)
{
	json_t *j;

	start(NULL);
	sleep(3); /* several 1 s ticks with nothing tracked */
	j = http_json("GET", "/api/v1/catchments", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "catchments")), 0);
	cr_assert_eq(jint(j, "total"), 0);
	json_decref(j);
	j = http_json("GET", "/api/v1/events", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "events")), 0);
	json_decref(j);
	stop(SIGTERM);
}

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

Test(api, reload_keeps_open_connections)
{
	char url[128];
	long code = 0, connects = -1;
	CURL *e;

	start(NULL);
	e = curl_easy_init();
	snprintf(url, sizeof(url), "%s/api/v1/catchments", base);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L);
	cr_assert_eq(curl_easy_perform(e), CURLE_OK);
	write_inventory("  - name: ntp\n    protocol: ntp\n    address: [198.18.255.123]\n"
			"    instances:\n      - { name: site-a, management: 198.18.1.2 }\n");
	cr_assert_eq(kill(pid, SIGHUP), 0);
	usleep(500000);
	cr_assert_eq(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	cr_assert_eq(code, 200);
	cr_assert_eq(connects, 0, "the keep-alive connection survived the reload");
	curl_easy_cleanup(e);
	stop(SIGTERM);
}

Test(api, alert_delivery_attempts_are_recorded)
{
	char path[300], cmd[600];
	struct reply r = { 0 };
	FILE *f;
	int seen = 0;

	/* A webhook nobody listens on: every attempt fails, and is recorded. */
	snprintf(path, sizeof(path), "%s/inv.yaml", dir);
	f = fopen(path, "a");
	cr_assert_not_null(f);
	fprintf(f, "alerts:\n  - name: ops\n    type: webhook\n    url: http://127.0.0.1:%d/hook\n",
		free_port());
	fclose(f);
	start(NULL);
	feed_change();
	json_decref(wait_events("/api/v1/events?type=catchment_change", 1));
	for (int i = 0; i < 100 && !seen; i++) {
		r = http("GET", "/metrics", NULL, NULL, NULL);
		seen = strstr(r.body, "anycast_alert_deliveries_total{result=\"failed\"} 0\n") == NULL &&
		       strstr(r.body, "anycast_alert_deliveries_total{result=\"failed\"}") != NULL;
		free(r.body);
		if (!seen)
			usleep(100000);
	}
	cr_assert(seen, "no failed delivery attempt counted");
	stop(SIGTERM);
	cr_assert_eq(test_db_query(dbspec, "SELECT CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM alert_deliveries"
					   " WHERE route = 'ops' AND ok = 0 AND event_id > 0"
					   " AND error IS NOT NULL", cmd, sizeof(cmd)), 0);
	cr_assert_str_eq(cmd, "1", "delivery attempts are in alert_deliveries");
}

Test(api, healthz_and_ingest_answer_503_while_the_disk_refuses_writes)
{
	char cmd[600], *b = batch(1, 3, 1, "site-a");
	struct reply r;
	json_t *j;

	TEST_SQLITE_ONLY(); /* chattr on the WAL file */
	start(NULL);
	json_decref(http_json("GET", "/healthz", NULL, NULL, 200));
	/* An immutable WAL file: every write fails, as on a full or broken disk. */
	snprintf(cmd, sizeof(cmd), "chattr +i '%s/anycast.db-wal' 2>/dev/null", dir);
	if (system(cmd) != 0) {
		stop(SIGTERM);
		free(b);
		cr_skip_test("chattr +i is not supported here");
	}
	r = http("GET", "/healthz", NULL, NULL, NULL);
	cr_assert_eq(r.status, 503, "%s", r.body);
	free(r.body);
	r = http("POST", "/api/v1/results", TOKEN1, b, NULL);
	cr_assert_eq(r.status, 503, "nothing acknowledged that is not on disk: %s", r.body);
	free(r.body);
	snprintf(cmd, sizeof(cmd), "chattr -i '%s/anycast.db-wal'", dir);
	cr_assert_eq(system(cmd), 0);
	json_decref(http_json("GET", "/healthz", NULL, NULL, 200));
	j = http_json("POST", "/api/v1/results", TOKEN1, b, 200);
	cr_assert_eq(jint(j, "stored"), 3, "the retry after recovery stores everything");
	json_decref(j);
	free(b);
	stop(SIGTERM);
}

/* An agent cannot invent instances: a claim that names no configured
 * instance is ignored and the answer identified by its identity. */
Test(api, instance_claims_must_name_a_configured_instance)
{
	char *b = batch(1, 3, 1, "evil-instance");
	json_t *j = NULL, *c = NULL;

	start(NULL);
	json_decref(http_json("POST", "/api/v1/results", TOKEN1, b, 200));
	free(b);
	for (int i = 0; i < 50; i++) {
		json_decref(j);
		j = http_json("GET", "/api/v1/catchments", NULL, NULL, 200);
		c = json_array_get(json_object_get(j, "catchments"), 0);
		if (c != NULL && json_is_string(json_object_get(c, "instance")))
			break;
		usleep(100 * 1000);
	}
	cr_assert_not_null(c, "no catchment row");
	/* identity s2.lab is site-b's */
	cr_assert_str_eq(json_string_value(json_object_get(c, "instance")), "site-b");
	json_decref(j);
	/* and the made-up name is stored nowhere */
	j = http_json("GET", "/api/v1/results?agent=branch-1", NULL, NULL, 200);
	c = json_array_get(json_object_get(j, "results"), 0);
	cr_assert_not_null(c);
	cr_assert(json_is_null(json_object_get(c, "instance")), "stored instance: %s",
		  json_string_value(json_object_get(c, "instance")));
	json_decref(j);
}

/* Replace the first occurrence of from in buf (len bytes) by to. */
static void
replace_in(char *buf, size_t len, const char *from, const char *to)
{
	char *p = strstr(buf, from), rest[1024];

	cr_assert_not_null(p, "%s not in %s", from, buf);
	snprintf(rest, sizeof(rest), "%s", p + strlen(from));
	snprintf(p, len - (size_t)(p - buf), "%s%s", to, rest);
}

/* Records of a service the inventory lacks, or of an address that is
 * neither the service's anycast address nor an instance's management
 * address, are dropped and counted: made-up names become no rows. */
Test(api, records_of_unconfigured_services_and_addresses_are_dropped)
{
	char r[4][512], body[2560];
	struct reply m;
	json_t *j;

	record(r[0], sizeof(r[0]), 1, 1, 0, "site-a", "ok", 2.0);
	record(r[1], sizeof(r[1]), 2, 1, 0, "site-a", "ok", 2.0);
	replace_in(r[1], sizeof(r[1]), "\"service\":\"dns\"", "\"service\":\"made-up-7\"");
	record(r[2], sizeof(r[2]), 3, 1, 0, "site-a", "ok", 2.0);
	replace_in(r[2], sizeof(r[2]), "198.18.255.53", "198.18.255.99");
	record(r[3], sizeof(r[3]), 4, 1, 1, "site-a", "ok", 2.0);
	replace_in(r[3], sizeof(r[3]), "198.18.1.2", "198.18.9.9");
	snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s,%s]}", r[0], r[1], r[2], r[3]);
	start(NULL);
	j = http_json("POST", "/api/v1/results", TOKEN1, body, 200);
	cr_expect_eq(jint(j, "stored"), 1);
	cr_expect_eq(jint(j, "dropped"), 3);
	json_decref(j);
	j = http_json("POST", "/api/v1/results", TOKEN1, body, 200);
	cr_expect_eq(jint(j, "duplicates"), 1, "a resend: the kept record is a duplicate");
	cr_expect_eq(jint(j, "dropped"), 3);
	json_decref(j);
	j = http_json("GET", "/api/v1/results?agent=branch-1", NULL, NULL, 200);
	cr_expect_eq(json_array_size(json_object_get(j, "results")), 1);
	json_decref(j);
	m = http("GET", "/metrics", NULL, NULL, NULL);
	cr_expect(strstr(m.body, "anycast_ingest_results_total{outcome=\"unconfigured\"} 6\n") !=
			  NULL,
		  "%s", m.body);
	cr_expect(strstr(m.body, "made-up") == NULL && strstr(m.body, "198.18.9.9") == NULL);
	free(m.body);
}

/* JSON, /metrics and files come gzip-compressed when asked, and as they are
 * otherwise. */
Test(api, answers_are_gzipped_when_asked)
{
	char *b = batch(1, 40, 1, "site-a");
	struct reply r;
	char hdr[64];

	start(NULL);
	json_decref(http_json("POST", "/api/v1/results", TOKEN1, b, 200));
	free(b);
	snprintf(hdr, sizeof(hdr), "Accept-Encoding: gzip");
	r = http("GET", "/api/v1/results?limit=40", NULL, NULL, hdr);
	cr_assert_eq(r.status, 200);
	cr_assert(strcasestr(r.headers, "Content-Encoding: gzip") != NULL, "%s", r.headers);
	cr_assert(r.len > 2 && (unsigned char)r.body[0] == 0x1f && (unsigned char)r.body[1] == 0x8b);
	free(r.body);
	r = http("GET", "/metrics", NULL, NULL, hdr);
	cr_assert(strcasestr(r.headers, "Content-Encoding: gzip") != NULL, "%s", r.headers);
	free(r.body);
	snprintf(hdr, sizeof(hdr), "Accept-Encoding: gzip;q=0, br");
	r = http("GET", "/api/v1/results?limit=40", NULL, NULL, hdr);
	cr_assert(strcasestr(r.headers, "Content-Encoding") == NULL, "%s", r.headers);
	cr_assert_eq(r.body[0], '{');
	free(r.body);
	r = http("GET", "/api/v1/results?limit=40", NULL, NULL, NULL);
	cr_assert(strcasestr(r.headers, "Content-Encoding") == NULL, "%s", r.headers);
	free(r.body);
	stop(SIGTERM);
}

#define TOKEN3 "guard-token-3"

/* The default inventory plus guard-a, the guard on site-a's server, and a
 * short incident hold. */
static void
write_guard_inventory(void)
{
	char hash1[65], hash3[65], text[2048];

	token_sha256(TOKEN1, hash1);
	token_sha256(TOKEN3, hash3);
	snprintf(text, sizeof(text),
		 "services:\n"
		 "  - name: dns\n"
		 "    protocol: dns\n"
		 "    address: [198.18.255.53]\n"
		 "    interval: 1s\n"
		 "    instances:\n"
		 "      - { name: site-a, management: 198.18.1.2, identity: s1.lab }\n"
		 "      - { name: site-b, management: 198.18.2.2, identity: s2.lab }\n"
		 "agents:\n"
		 "  - { name: branch-1, token_sha256: %s }\n"
		 "  - { name: guard-a, token_sha256: %s, guard: site-a }\n"
		 "thresholds:\n"
		 "  incident_hold: 1s\n",
		 hash1, hash3);
	write_file("inv.yaml", text);
}

static char *
guard_body(uint64_t seq, const char *action, const char *instance, const char *reason)
{
	char t[40], *b = malloc(1024);

	time_format_rfc3339(time_now_ms(), t, sizeof(t));
	snprintf(b, 1024,
		 "{\"actions\":[{\"seq\":%llu,\"time\":\"%s\",\"service\":\"dns\","
		 "\"instance\":\"%s\",\"action\":\"%s\",\"reason\":\"%s\",\"method\":\"bird\","
		 "\"address\":\"198.18.255.53\",\"applied\":true}],\"status\":{\"version\":\"t\"}}",
		 (unsigned long long)seq, t, instance, action, reason);
	return b;
}

static void
expect_400(const char *body, const char *why)
{
	struct reply r = http("POST", "/api/v1/guard", TOKEN3, body, NULL);

	cr_assert_eq(r.status, 400, "%s: status %ld, %s", body, r.status, r.body);
	cr_assert(strstr(r.body, why) != NULL, "%s: answer %s, wanted \"%s\"", body, r.body, why);
	free(r.body);
}

Test(api, guard_reports_are_checked_and_stored_once)
{
	struct reply r;
	json_t *j, *ev;
	char *b;

	write_guard_inventory();
	start(NULL);
	b = guard_body(1, "withdraw", "site-a", "3 failed probes: timeout on 198.18.255.53");
	r = http("POST", "/api/v1/guard", NULL, b, NULL);
	cr_assert_eq(r.status, 401, "%ld %s", r.status, r.body);
	free(r.body);
	r = http("POST", "/api/v1/guard", TOKEN1, b, NULL);
	cr_assert_eq(r.status, 403, "%ld %s", r.status, r.body);
	cr_assert(strstr(r.body, "not a guard") != NULL, "%s", r.body);
	free(r.body);
	r = http("GET", "/api/v1/guard", TOKEN3, NULL, NULL);
	cr_assert_eq(r.status, 405, "%ld %s", r.status, r.body);
	free(r.body);

	expect_400("{\"actions\":", "invalid JSON");
	expect_400("[]", "body must be a JSON object");
	expect_400("{\"actions\":{}}", "actions: must be an array");
	expect_400("{\"actions\":[1]}", "actions[0]: must be an object");
	expect_400("{\"actions\":[{\"time\":\"2026-01-01T00:00:00Z\"}]}", "actions[0]: seq: missing");
	expect_400("{\"actions\":[{\"seq\":0}]}", "seq: must be an integer");
	expect_400("{\"actions\":[{\"seq\":1,\"time\":\"yesterday\"}]}", "time: not an RFC 3339");
	expect_400("{\"actions\":[{\"seq\":1,\"time\":\"2999-01-01T00:00:00Z\"}]}",
		   "time: more than 24 h ahead");
	expect_400("{\"actions\":[{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"action\":\"explode\"}]}",
		   "action: must be \\\"withdraw\\\" or \\\"restore\\\"");
	free(b);
	b = guard_body(1, "withdraw", "site-b", "x");
	expect_400(b, "agent guard-a guards site-a, not site-b");
	free(b);
	expect_400("{\"actions\":[{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"action\":\"withdraw\","
		   "\"service\":\"ntp\",\"instance\":\"site-a\",\"reason\":\"x\"}]}",
		   "service: not a service of the inventory");
	expect_400("{\"actions\":[{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"action\":\"withdraw\","
		   "\"service\":\"dns\",\"instance\":\"site-a\"}]}",
		   "actions[0]: reason: missing");
	expect_400("{\"actions\":[{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"action\":\"restore\","
		   "\"service\":\"dns\",\"instance\":\"site-a\",\"address\":\"999.1.1.1\"}]}",
		   "address: not an IPv4 or IPv6 address");
	expect_400("{\"actions\":[{\"seq\":2,\"time\":\"2026-01-01T00:00:00Z\",\"action\":\"restore\","
		   "\"service\":\"dns\",\"instance\":\"site-a\"},{\"seq\":2,\"time\":"
		   "\"2026-01-01T00:00:00Z\",\"action\":\"restore\",\"service\":\"dns\","
		   "\"instance\":\"site-a\"}]}",
		   "actions[1]: seq: must be larger");
	/* Nothing of the refused reports was stored. */
	j = http_json("GET", "/api/v1/events?type=guard_withdraw", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "events")), 0);
	json_decref(j);

	b = guard_body(1, "withdraw", "site-a", "3 failed probes: timeout on 198.18.255.53");
	j = http_json("POST", "/api/v1/guard", TOKEN3, b, 200);
	cr_assert_eq(jint(j, "stored"), 1);
	cr_assert_eq(jint(j, "duplicates"), 0);
	cr_assert_eq(jint(j, "last_seq"), 1);
	json_decref(j);
	j = http_json("POST", "/api/v1/guard", TOKEN3, b, 200);
	cr_assert_eq(jint(j, "stored"), 0);
	cr_assert_eq(jint(j, "duplicates"), 1);
	cr_assert_eq(jint(j, "last_seq"), 1);
	json_decref(j);
	free(b);
	/* A heartbeat: no actions. */
	j = http_json("POST", "/api/v1/guard", TOKEN3, "{\"actions\":[],\"status\":{}}", 200);
	cr_assert_eq(jint(j, "last_seq"), 1);
	json_decref(j);

	j = wait_events("/api/v1/events?type=guard_withdraw", 1);
	cr_assert_eq(json_array_size(json_object_get(j, "events")), 1, "replay stored twice");
	ev = json_array_get(json_object_get(j, "events"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(ev, "agent")), "guard-a");
	cr_assert_str_eq(json_string_value(json_object_get(ev, "from_instance")), "site-a");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "detail"), "reason")),
			 "3 failed probes: timeout on 198.18.255.53");
	json_decref(j);
	j = http_json("GET", "/api/v1/instances?instance=site-a", NULL, NULL, 200);
	ev = json_object_get(json_array_get(json_object_get(j, "instances"), 0), "withdrawn");
	cr_assert(json_is_object(ev), "site-a not shown withdrawn");
	cr_assert_str_eq(json_string_value(json_object_get(ev, "reason")),
			 "3 failed probes: timeout on 198.18.255.53");
	json_decref(j);
	j = http_json("GET", "/api/v1/instances?instance=site-b", NULL, NULL, 200);
	cr_assert(json_is_null(json_object_get(json_array_get(json_object_get(j, "instances"), 0),
					       "withdrawn")));
	json_decref(j);
	/* Restarted, the collector still knows site-a stands withdrawn. */
	stop(SIGTERM);
	start(NULL);
	j = http_json("GET", "/api/v1/instances?instance=site-a", NULL, NULL, 200);
	cr_assert(json_is_object(
		json_object_get(json_array_get(json_object_get(j, "instances"), 0), "withdrawn")));
	json_decref(j);
	b = guard_body(1, "withdraw", "site-a", "again");
	j = http_json("POST", "/api/v1/guard", TOKEN3, b, 200);
	cr_assert_eq(jint(j, "duplicates"), 1);
	json_decref(j);
	free(b);
	stop(SIGTERM);
}

static json_t *
wait_incident(const char *kind, const char *state)
{
	for (int i = 0; i < 150; i++) {
		json_t *j = http_json("GET", "/api/v1/incidents", NULL, NULL, 200), *inc;
		size_t k;

		json_array_foreach(json_object_get(j, "incidents"), k, inc)
		{
			if (strcmp(json_string_value(json_object_get(inc, "kind")), kind) == 0 &&
			    strcmp(json_string_value(json_object_get(inc, "state")), state) == 0) {
				json_incref(inc);
				json_decref(j);
				return inc;
			}
		}
		json_decref(j);
		usleep(100000);
	}
	cr_assert_fail("no %s %s incident", state, kind);
	return NULL;
}

Test(api, a_move_after_a_guard_withdrawal_is_one_withdrawn_incident)
{
	json_t *j, *ev, *inc;
	char *b;
	uint64_t seq = 1;

	write_guard_inventory();
	start(NULL);
	/* branch-1 is at home on site-a ... */
	for (int round = 1; round <= 3; round++) {
		char a[512], m1[512], m2[512], body[1800];

		record(a, sizeof(a), seq++, (uint64_t)round, 0, "site-a", "ok", 3);
		record(m1, sizeof(m1), seq++, (uint64_t)round, 1, "site-a", "ok", 1);
		record(m2, sizeof(m2), seq++, (uint64_t)round, 1, "site-b", "ok", 2);
		snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s]}", a, m1, m2);
		json_decref(http_json("POST", "/api/v1/results", TOKEN1, body, 200));
		usleep(20000);
	}
	/* ... its guard withdraws it ... */
	b = guard_body(1, "withdraw", "site-a", "3 failed probes: timeout on 198.18.255.53");
	json_decref(http_json("POST", "/api/v1/guard", TOKEN3, b, 200));
	free(b);
	json_decref(wait_events("/api/v1/events?type=guard_withdraw", 1));
	/* ... and branch-1 moves to site-b (site-a's management address still
	 * answers: without the guard this would be a route change). */
	for (int round = 4; round <= 9; round++) {
		char a[512], m1[512], m2[512], body[1800];

		record(a, sizeof(a), seq++, (uint64_t)round, 0, "site-b", "ok", 3);
		record(m1, sizeof(m1), seq++, (uint64_t)round, 1, "site-a", "ok", 1);
		record(m2, sizeof(m2), seq++, (uint64_t)round, 1, "site-b", "ok", 2);
		snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s]}", a, m1, m2);
		json_decref(http_json("POST", "/api/v1/results", TOKEN1, body, 200));
		usleep(20000);
	}
	j = wait_events("/api/v1/events?type=catchment_change", 1);
	ev = json_array_get(json_object_get(j, "events"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "detail"), "cause")),
			 "withdrawn");
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(ev, "detail"), "guard_reason")),
		"3 failed probes: timeout on 198.18.255.53");
	json_decref(j);

	inc = wait_incident("withdrawn", "open");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "instance")), "site-a");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "reason")),
			 "3 failed probes: timeout on 198.18.255.53");
	cr_assert_str_eq(json_string_value(json_object_get(inc, "summary")),
			 "site-a dns withdrawn by its guard: 3 failed probes: timeout on "
			 "198.18.255.53; branch-1 failed over to site-b");
	json_decref(inc);
	j = http_json("GET", "/api/v1/incidents", NULL, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "incidents")), 1, "one incident only");
	json_decref(j);

	/* The guard restores, branch-1 comes home: resolved. */
	b = guard_body(2, "restore", "site-a", "");
	json_decref(http_json("POST", "/api/v1/guard", TOKEN3, b, 200));
	free(b);
	for (int round = 10; round <= 15; round++) {
		char a[512], m1[512], m2[512], body[1800];

		record(a, sizeof(a), seq++, (uint64_t)round, 0, "site-a", "ok", 3);
		record(m1, sizeof(m1), seq++, (uint64_t)round, 1, "site-a", "ok", 1);
		record(m2, sizeof(m2), seq++, (uint64_t)round, 1, "site-b", "ok", 2);
		snprintf(body, sizeof(body), "{\"results\":[%s,%s,%s]}", a, m1, m2);
		json_decref(http_json("POST", "/api/v1/results", TOKEN1, body, 200));
		usleep(20000);
	}
	inc = wait_incident("withdrawn", "resolved");
	cr_assert(json_is_string(json_object_get(inc, "ended")));
	json_decref(inc);
	{
		struct reply r = http("GET", "/metrics", NULL, NULL, NULL);

		cr_assert(strstr(r.body, "anycast_events_total{type=\"guard_withdraw\"} 1"), "%s",
			  r.body);
		cr_assert(strstr(r.body, "anycast_incidents_open{kind=\"withdrawn\"} 0"), "%s",
			  r.body);
		free(r.body);
	}
	stop(SIGTERM);
}
