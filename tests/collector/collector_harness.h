/* tests/collector/collector_harness.h - what the end-to-end suites of the
 * collector share (test_api.c, test_integrity_api.c): the real
 * anycast-collector binary ($ANYCAST_BIN, else next to the test) started on
 * 127.0.0.1 with a free port, its own inventory and database in a temp dir,
 * and libcurl requests to it. Static definitions: include it from one .c
 * file per test program, which defines write_inventory(). */
#ifndef ANYCAST_TESTS_COLLECTOR_HARNESS_H
#define ANYCAST_TESTS_COLLECTOR_HARNESS_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "test_db.h"

#define TOKEN1 "secret-token-1"
#define TOKEN2 "secret-token-2"

static char dir[256], bin[512], base[64];
static char dbspec[400]; /* the SQLite file, or a PostgreSQL URL (test_db.h) */
static int port;
static pid_t pid;

struct reply {
	long status;
	char *body;
	size_t len;
	char headers[4096];
};

static inline size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;
	char *nb = realloc(r->body, r->len + sz * n + 1);

	cr_assert_not_null(nb);
	memcpy(nb + r->len, p, sz * n);
	r->body = nb;
	r->len += sz * n;
	r->body[r->len] = '\0';
	return sz * n;
}

static inline size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t have = strlen(r->headers);

	if (have + sz * n < sizeof(r->headers))
		memcpy(r->headers + have, p, sz * n), r->headers[have + sz * n] = '\0';
	return sz * n;
}

/* One request; token NULL = no Authorization; header may be NULL. */
static inline struct reply
http(const char *method, const char *path, const char *token, const char *body,
     const char *header)
{
	struct reply r = { 0 };
	struct curl_slist *h = NULL;
	char url[512], auth[256];
	CURL *e = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (header != NULL)
		h = curl_slist_append(h, header);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (r.body == NULL)
		r.body = calloc(1, 1);
	return r;
}

static inline json_t *
http_json(const char *method, const char *path, const char *token, const char *body,
	  long want_status)
{
	struct reply r = http(method, path, token, body, NULL);
	json_t *j;

	cr_assert_eq(r.status, want_status, "%s %s: status %ld, body %s", method, path, r.status,
		     r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert_not_null(j, "%s %s: not JSON: %s", method, path, r.body);
	free(r.body);
	return j;
}

static inline int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static inline void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}


/* The SHA-256 of token as hex, by the system's sha256sum (not our code). */
static void
token_sha256(const char *token, char out[65])
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", token);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%64s", out), 1);
	pclose(p);
}

/* Writes inv.yaml in the temp dir; extra is the suite's own addition (NULL: none). */
static void write_inventory(const char *extra);

static inline void
start(const char *extra_flag)
{
	char cfg[300], listen[64], web[300], logf[300];
	const char *db = dbspec;
	int64_t deadline;

	snprintf(cfg, sizeof(cfg), "%s/inv.yaml", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(web, sizeof(web), "%s/web", dir);
	snprintf(logf, sizeof(logf), "%s/collector.log", dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		FILE *l = freopen(logf, "a", stderr);

		(void)l;
		execl(bin, bin, "--config", cfg, "--listen", listen, "--db", db, "--web-dir", web,
		      extra_flag ? extra_flag : "-v", (char *)NULL);
		_exit(127);
	}
	deadline = time_now_ms() + 10000;
	for (;;) {
		struct reply r = http("GET", "/healthz", NULL, NULL, NULL);

		free(r.body);
		if (r.status == 200)
			break;
		cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "collector exited at start");
		cr_assert_lt(time_now_ms(), deadline, "collector did not come up");
		usleep(50000);
	}
}

static inline void
stop(int sig)
{
	int status;

	cr_assert_eq(kill(pid, sig), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (sig == SIGTERM)
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "collector did not stop cleanly: status %d", status);
	pid = 0;
}

/* The collector binary, a temp dir /tmp/NAME.XXXXXX with a web dir of one
 * page, a free port, the inventory (write_inventory(NULL)) and a fresh
 * database (test_db.h). */
static inline void
harness_setup(const char *name)
{
	const char *b = getenv("ANYCAST_BIN");
	char self[PATH_MAX];
	ssize_t n;

	if (b != NULL && b[0]) {
		snprintf(bin, sizeof(bin), "%s/anycast-collector", b);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		cr_assert_gt(n, 0);
		self[n] = '\0';
		snprintf(bin, sizeof(bin), "%s/anycast-collector", dirname(self));
	}
	cr_assert_eq(access(bin, X_OK), 0, "no collector binary at %s", bin);
	snprintf(dir, sizeof(dir), "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(dir));
	char web[300];

	snprintf(web, sizeof(web), "%s/web", dir);
	cr_assert_eq(mkdir(web, 0755), 0);
	write_file("web/index.html", "<!doctype html><title>anycast</title>\n");
	write_file("secret.txt", "outside the web dir\n");
	port = free_port();
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	write_inventory(NULL);
	{
		char file[300];

		snprintf(file, sizeof(file), "%s/anycast.db", dir);
		test_db_make(dbspec, sizeof(dbspec), file);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Kills a collector still running and removes the temp dir. */
static inline void
harness_teardown(void)
{
	char cmd[700];

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	/* A test that failed half-way may leave a file immutable. */
	snprintf(cmd, sizeof(cmd), "chattr -i '%s/anycast.db-wal' 2>/dev/null; rm -rf '%s'", dir,
		 dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	curl_global_cleanup();
}

#endif
