/* tests/collector/test_atlas_import.c - "anycast-collector atlas import" end
 * to end: the real binary imports the Atlas fixtures into a fresh database
 * (a JSON array, then the same results as JSON lines: nothing stored twice),
 * bad lines are counted by reason and set the exit code, and a collector
 * started on that database serves the probes' results in its API. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timefmt.h"

static char dir[256], bin[512];

#define INV "tests/fixtures/atlas/inventory.yaml"

static void setup(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert_gt(n, 0);
	self[n] = '\0';
	snprintf(bin, sizeof(bin), "%s/anycast-collector", dirname(self));
	cr_assert_eq(access(bin, X_OK), 0, "no collector binary at %s", bin);
	snprintf(dir, sizeof(dir), "/tmp/test_atlas.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Run an import; its stdout into out, the exit code returned. */
static int import(const char *files, char *out, size_t outlen)
{
	char cmd[2048];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd),
	         "%s atlas import --config " INV " --db %s/a.db %s 2>/dev/null", bin, dir, files);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	st = pclose(p);
	cr_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

TestSuite(atlas_import, .init = setup, .fini = teardown, .timeout = 60);

Test(atlas_import, repeated_import_stores_nothing_twice)
{
	char out[4096];

	cr_expect_eq(import("tests/fixtures/atlas/results.json", out, sizeof(out)), 0);
	cr_expect(
	    strstr(out, "11 results, 12 records: 12 stored, 0 duplicates, 0 results skipped") !=
	        NULL,
	    "%s", out);
	cr_expect_eq(import("tests/fixtures/atlas/results.jsonl", out, sizeof(out)), 0);
	cr_expect(strstr(out, "12 records: 0 stored, 12 duplicates") != NULL, "%s", out);
	cr_expect_eq(import("tests/fixtures/atlas/results.json tests/fixtures/atlas/results.jsonl",
	                    out, sizeof(out)),
	             0);
	cr_expect(strstr(out, "24 records: 0 stored, 24 duplicates") != NULL, "%s", out);
}

Test(atlas_import, bad_input_counted)
{
	char out[4096];

	cr_expect_eq(import("tests/fixtures/atlas/bad.jsonl", out, sizeof(out)), 1);
	cr_expect(
	    strstr(out, "12 results, 0 records: 0 stored, 0 duplicates, 12 results skipped") !=
	        NULL,
	    "%s", out);
	cr_expect(strstr(out, "skipped 2: abuf: truncated or malformed DNS message") != NULL, "%s",
	          out);
	cr_expect(strstr(out, "skipped 1: unknown type \"ping\"") != NULL, "%s", out);
	cr_expect_eq(import("/nonexistent.json", out, sizeof(out)), 2);
}

/* A file large enough to be parsed by two threads, bad lines at its end:
 * the counts and the skipped results' numbers are those of one thread. */
Test(atlas_import, large_file_in_two_parts)
{
	char out[4096], cmd[2048], files[600];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd),
	         "python3 bench/atlas/gen.py 100 5000 > %s/big.jsonl && "
	         "cat tests/fixtures/atlas/bad.jsonl >> %s/big.jsonl && test $(stat -c %%s "
	         "%s/big.jsonl) -gt 1048576",
	         dir, dir, dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(files, sizeof(files), "%s/big.jsonl", dir);
	cr_expect_eq(import(files, out, sizeof(out)), 1);
	cr_expect(
	    strstr(out,
	           "5012 results, 5000 records: 5000 stored, 0 duplicates, 12 results skipped") !=
	        NULL,
	    "%s", out);
	cr_expect(strstr(out, "skipped 2: abuf: truncated or malformed DNS message") != NULL, "%s",
	          out);
	cr_expect_eq(import(files, out, sizeof(out)), 1);
	cr_expect(strstr(out, "5000 records: 0 stored, 5000 duplicates") != NULL, "%s", out);
	snprintf(cmd, sizeof(cmd),
	         "%s atlas import --verbose --config " INV " --db %s/a.db %s 2>&1 >/dev/null", bin,
	         dir, files);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	cr_expect(strstr(out, "big.jsonl: result 5001 skipped: missing field prb_id\n") != NULL,
	          "%s", out);
	cr_expect(strstr(out, "big.jsonl: result 5012 skipped: not a JSON object\n") != NULL, "%s",
	          out);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	char **b = arg;
	size_t have = *b ? strlen(*b) : 0;
	char *nb = realloc(*b, have + sz * n + 1);

	cr_assert_not_null(nb);
	memcpy(nb + have, p, sz * n);
	nb[have + sz * n] = '\0';
	*b = nb;
	return sz * n;
}

static long get(const char *url, char **body)
{
	CURL *c = curl_easy_init();
	long status = 0;

	*body = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

Test(atlas_import, results_served_by_the_api)
{
	char out[4096], db[300], listen[64], url[256], *body = NULL;
	int port = free_port(), st;
	int64_t deadline;
	json_t *j, *rs;
	pid_t pid;

	cr_assert_eq(import("tests/fixtures/atlas/results.json", out, sizeof(out)), 0);
	snprintf(db, sizeof(db), "%s/a.db", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((pid = fork()) == 0) {
		FILE *l = freopen("/dev/null", "w", stderr);

		(void)l;
		execl(bin, bin, "--config", INV, "--db", db, "--listen", listen, (char *)NULL);
		_exit(127);
	}
	deadline = time_now_ms() + 10000;
	snprintf(url, sizeof(url), "http://%s/healthz", listen);
	while (get(url, &body) != 200) {
		free(body);
		cr_assert_lt(time_now_ms(), deadline, "collector did not come up");
		usleep(50000);
	}
	free(body);
	snprintf(url, sizeof(url), "http://%s/api/v1/results?agent=atlas:1001", listen);
	cr_expect_eq(get(url, &body), 200);
	j = json_loads(body, 0, NULL);
	rs = json_object_get(j, "results");
	cr_expect_eq(json_array_size(rs), 2, "%s", body);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "identity")),
	                 "nsd-nsid");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "instance")),
	                 "site-a");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "time")),
	                 "2025-12-03T08:00:00.000Z");
	json_decref(j);
	free(body);
	snprintf(url, sizeof(url), "http://%s/api/v1/results?agent=atlas:1005", listen);
	cr_expect_eq(get(url, &body), 200);
	j = json_loads(body, 0, NULL);
	rs = json_array_get(json_object_get(j, "results"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(rs, "identity")), "unbound-nsid");
	cr_expect(json_is_null(json_object_get(rs, "instance")), "%s", body);
	json_decref(j);
	free(body);
	kill(pid, SIGTERM);
	cr_expect_eq(waitpid(pid, &st, 0), pid);
	curl_global_cleanup();
}

/* "atlas import --url --token-file": the files go to a running collector,
 * which stores them (nothing twice) and tracks each probe's catchment; a
 * token of an agent without "atlas: true" is refused. */
Test(atlas_import, sent_to_a_running_collector)
{
	char out[4096], cfg[300], db[300], listen[64], url[256], cmd[2048], *body = NULL;
	int port = free_port(), st;
	int64_t deadline;
	json_t *j;
	pid_t pid;
	FILE *f, *p;
	size_t n;

	snprintf(cfg, sizeof(cfg), "%s/inv.yaml", dir);
	snprintf(cmd, sizeof(cmd),
	         "cp " INV " %s && printf 'agents:\\n  - { name: feed, atlas: true, token_sha256: "
	         "%%s }\\n  - { name: br1, token_sha256: %%s }\\n' $(printf atlas-t | sha256sum | "
	         "cut -d' ' -f1) $(printf br-t | sha256sum | cut -d' ' -f1) >> %s && "
	         "printf atlas-t > %s/feed.token && printf br-t > %s/br.token",
	         cfg, cfg, dir, dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(db, sizeof(db), "%s/a.db", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((pid = fork()) == 0) {
		f = freopen("/dev/null", "w", stderr);
		(void)f;
		execl(bin, bin, "--config", cfg, "--db", db, "--listen", listen, (char *)NULL);
		_exit(127);
	}
	deadline = time_now_ms() + 10000;
	snprintf(url, sizeof(url), "http://%s/healthz", listen);
	while (get(url, &body) != 200) {
		free(body);
		cr_assert_lt(time_now_ms(), deadline, "collector did not come up");
		usleep(50000);
	}
	free(body);
	for (int k = 0; k < 2; k++) {
		snprintf(cmd, sizeof(cmd),
		         "%s atlas import --url http://%s --token-file %s/feed.token %s 2>&1", bin,
		         listen, dir, k == 0 ? "tests/fixtures/atlas/results.json"
		                             : "tests/fixtures/atlas/results.jsonl");
		cr_assert_not_null(p = popen(cmd, "r"));
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		st = pclose(p);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
		cr_expect(strstr(out, k == 0 ? "11 results, 12 records: 12 stored, 0 duplicates"
		                             : "11 results, 12 records: 0 stored, 12 duplicates") != NULL,
		          "%s", out);
	}
	snprintf(cmd, sizeof(cmd),
	         "%s atlas import --url http://%s --token-file %s/br.token "
	         "tests/fixtures/atlas/results.json 2>&1",
	         bin, listen, dir);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
	cr_expect(strstr(out, "HTTP 403: agent br1 may not send Atlas results") != NULL, "%s", out);
	/* each probe is a vantage point with its catchment */
	snprintf(url, sizeof(url), "http://%s/api/v1/catchments", listen);
	deadline = time_now_ms() + 5000;
	for (;;) {
		cr_expect_eq(get(url, &body), 200);
		if (strstr(body, "\"agent\":\"atlas:1001\"") != NULL || time_now_ms() > deadline)
			break;
		free(body);
		usleep(100000);
	}
	j = json_loads(body, 0, NULL);
	free(body);
	cr_assert_not_null(j);
	int found = 0;
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(j, "catchments"), i, row)
	{
		if (strcmp(json_string_value(json_object_get(row, "agent")), "atlas:1001") == 0)
			found = strcmp(json_string_value(json_object_get(row, "instance")), "site-a") == 0;
	}
	cr_expect(found, "no catchment atlas:1001 -> site-a");
	json_decref(j);
	kill(pid, SIGTERM);
	cr_expect_eq(waitpid(pid, &st, 0), pid);
	curl_global_cleanup();
}
