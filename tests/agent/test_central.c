/* tests/agent/test_central.c - the anycast-agent binary in central mode
 * against a fake collector on 127.0.0.1: it names itself in every request,
 * and when the token turns out to be another agent's (a configuration for
 * that agent, or a 403 on the configuration or on the results) it logs one
 * line and exits 78 at once, its spool kept. The agent ($ANYCAST_BIN, else
 * next to this test) runs in its own temp dir and is stopped by its PID; its
 * probes go to a closed port on 127.0.0.1 only. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fake_collector.h"

#include "agent/spool.h"
#include "common/inventory.h"

#define TOKEN "branch-2-token"

struct env {
	char tmp[64], url[128], bin[PATH_MAX], token_file[128], spool_dir[128], log[128];
	struct fake_collector *fc;
	pid_t pid;
	char out[16384]; /* the agent's stderr once it exited */
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The agent and temp dir of the running test, cleaned up by the suite's
 * fini when an assertion ends the test before env_fini. */
static pid_t child;
static char child_tmp[64];

static void kill_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	if (child_tmp[0])
		nftw(child_tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	child_tmp[0] = '\0';
}

/* Serve a configuration for agent (NULL: without "agent", an older
 * collector): one DNS service on a closed loopback port. */
static void serve(struct env *e, const char *agent)
{
	static const char yaml[] = "services:\n"
	                           "  - name: dns\n"
	                           "    protocol: dns\n"
	                           "    address: [127.0.0.1]\n"
	                           "    port: 9\n"
	                           "    interval: 1s\n"
	                           "    timeout: 200ms\n"
	                           "    instances:\n"
	                           "      - { name: site-a, management: 127.0.0.1 }\n";
	char err[256];
	struct inventory *inv = inventory_parse(yaml, strlen(yaml), "test", err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	json_t *j = inventory_services_to_json(inv);
	if (agent)
		json_object_set_new(j, "agent", json_string(agent));
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	pthread_mutex_lock(&e->fc->mu);
	snprintf(e->fc->config, sizeof(e->fc->config), "%s", s);
	snprintf(e->fc->etag, sizeof(e->fc->etag), "\"%s\"", agent ? agent : "none");
	pthread_mutex_unlock(&e->fc->mu);
	free(s);
	json_decref(j);
	inventory_free(inv);
}

static void env_init(struct env *e)
{
	const char *b = getenv("ANYCAST_BIN");
	char self[PATH_MAX];
	ssize_t n;

	memset(e, 0, sizeof(*e));
	if (b && b[0]) {
		snprintf(e->bin, sizeof(e->bin), "%s/anycast-agent", b);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		cr_assert_gt(n, 0);
		self[n] = '\0';
		snprintf(e->bin, sizeof(e->bin), "%s/anycast-agent", dirname(self));
	}
	cr_assert_eq(access(e->bin, X_OK), 0, "no agent binary at %s", e->bin);
	strcpy(e->tmp, "/tmp/test_central.XXXXXX");
	cr_assert_not_null(mkdtemp(e->tmp));
	snprintf(child_tmp, sizeof(child_tmp), "%s", e->tmp);
	snprintf(e->token_file, sizeof(e->token_file), "%s/agent.token", e->tmp);
	snprintf(e->spool_dir, sizeof(e->spool_dir), "%s/spool", e->tmp);
	snprintf(e->log, sizeof(e->log), "%s/agent.log", e->tmp);
	int fd = open(e->token_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, TOKEN "\n", sizeof(TOKEN)), (ssize_t)sizeof(TOKEN));
	close(fd);
	e->fc = fc_start();
	cr_assert_not_null(e->fc);
	e->fc->token = TOKEN;
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->fc->port);
}

static void env_fini(struct env *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
	}
	fc_stop(e->fc);
	nftw(e->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	child_tmp[0] = '\0';
}

/* Results left by an earlier run, waiting in the spool. */
static void spool_results(struct env *e, int n)
{
	struct spool *sp = spool_open(e->spool_dir, 0);
	char line[256];

	cr_assert_not_null(sp);
	for (int i = 0; i < n; i++) {
		uint64_t seq = spool_next_seq(sp);
		int len =
		    snprintf(line, sizeof(line),
		             "{\"seq\":%" PRIu64 ",\"service\":\"dns\",\"outcome\":\"ok\"}", seq);
		cr_assert_eq(spool_append(sp, seq, line, (size_t)len), 0);
	}
	spool_close(sp);
}

static uint64_t spool_depth(struct env *e)
{
	struct spool *sp = spool_open(e->spool_dir, 0);
	struct spool_stats ss;

	cr_assert_not_null(sp);
	spool_get_stats(sp, &ss);
	spool_close(sp);
	return ss.depth;
}

static void start_agent(struct env *e, const char *name)
{
	e->pid = child = fork();
	cr_assert_geq(e->pid, 0);
	if (e->pid == 0) {
		FILE *l = freopen(e->log, "w", stderr);
		(void)l;
		if (chdir(e->tmp) < 0)
			_exit(126);
		execl(e->bin, e->bin, "--collector", e->url, "--name", name, "--token-file",
		      e->token_file, "--spool", e->spool_dir, (char *)NULL);
		_exit(127);
	}
}

/* Wait up to ms for the agent to exit; its exit status, or -1 if it runs on. */
static int wait_exit(struct env *e, int ms)
{
	int status;

	for (int waited = 0; waited < ms; waited += 20) {
		pid_t r = waitpid(e->pid, &status, WNOHANG);
		if (r == e->pid) {
			e->pid = child = 0;
			FILE *f = fopen(e->log, "r");
			cr_assert_not_null(f);
			size_t n = fread(e->out, 1, sizeof(e->out) - 1, f);
			e->out[n] = '\0';
			fclose(f);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(20000);
	}
	return -1;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Exited 78 with the one line, and no other warning. */
static void assert_refused(struct env *e, int rc)
{
	char want[512];

	cr_assert_eq(rc, 78, "exit %d; log:\n%s", rc, e->out);
	snprintf(want, sizeof(want),
	         "the token in %s belongs to agent \"branch-1\", not \"branch-2\"; refusing to run\n",
	         e->token_file);
	cr_assert_eq(count(e->out, want), 1, "log:\n%s", e->out);
	cr_assert_eq(count(e->out, "[warn]"), 1, "one warning only; log:\n%s", e->out);
}

TestSuite(central, .fini = kill_child, .timeout = 60);

Test(central, config_for_another_agent_exits_78)
{
	struct env e;

	env_init(&e);
	serve(&e, "branch-1"); /* what a collector without the header check answers */
	spool_results(&e, 3);
	start_agent(&e, "branch-2");
	assert_refused(&e, wait_exit(&e, 10000));
	cr_assert_eq(e.fc->gets, 1, "asked for the configuration once");
	cr_assert_eq(e.fc->stored, 0, "sent no results");
	cr_assert_eq(spool_depth(&e), 3, "the spool is kept");
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", e.spool_dir);
	cr_assert_neq(access(path, F_OK), 0, "another agent's configuration is not cached");
	env_fini(&e);
}

Test(central, forbidden_config_exits_78)
{
	struct env e;

	env_init(&e);
	serve(&e, "branch-2");
	e.fc->dflt = FC_403; /* the collector checks X-Anycast-Agent */
	spool_results(&e, 3);
	start_agent(&e, "branch-2");
	assert_refused(&e, wait_exit(&e, 10000));
	cr_assert_eq(e.fc->forbidden, 1 + (e.fc->posts > 0), "no retry after a 403");
	cr_assert_eq(e.fc->stored, 0);
	cr_assert_eq(spool_depth(&e), 3, "the spool is kept");
	env_fini(&e);
}

Test(central, forbidden_results_exit_78_and_keep_the_spool)
{
	struct env e;

	env_init(&e);
	/* The configuration answer does not say (an older collector), the
	 * results are refused. */
	serve(&e, NULL);
	e.fc->forbid_posts = 1;
	spool_results(&e, 3);
	start_agent(&e, "branch-2");
	assert_refused(&e, wait_exit(&e, 10000));
	cr_assert_eq(e.fc->posts, 1, "no retry after a 403: %d POSTs", e.fc->posts);
	cr_assert_geq(spool_depth(&e), 3, "the spool is kept");
	env_fini(&e);
}

Test(central, matching_agent_runs_and_names_itself)
{
	struct env e;

	env_init(&e);
	serve(&e, "branch-2");
	spool_results(&e, 3);
	start_agent(&e, "branch-2");
	for (int i = 0; i < 500 && e.fc->seen[3] == 0; i++)
		usleep(20000);
	cr_assert_eq(wait_exit(&e, 200), -1, "still running; log:\n%s", e.out);
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(e.fc->seen[i], 1, "spooled seq %d sent once", i);
	pthread_mutex_lock(&e.fc->mu);
	cr_assert_str_eq(e.fc->last_agent, "branch-2");
	cr_assert_eq(e.fc->without_agent, 0, "every request carries X-Anycast-Agent");
	pthread_mutex_unlock(&e.fc->mu);
	cr_assert_eq(kill(e.pid, SIGTERM), 0);
	int rc = wait_exit(&e, 10000);
	cr_assert_eq(rc, 0, "exit %d; log:\n%s", rc, e.out);
	cr_assert_eq(count(e.out, "refusing to run"), 0, "log:\n%s", e.out);
	env_fini(&e);
}
