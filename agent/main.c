/* agent/main.c - anycast-agent: command line, standalone mode (JSON lines or
 * the --once table on stdout) and hand-over to central mode. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "agent/central.h"
#include "agent/collector_set.h"
#include "agent/curl_dl.h"
#include "agent/drop_user.h"
#include "agent/guard.h"
#include "agent/output.h"
#include "agent/prober.h"
#include "agent/reporter.h"
#include "agent/trace_run.h"
#include "common/inventory.h"
#include "common/log.h"

#define SEQ_BLOCK 1000 /* seqs reserved on disk at a time */

struct agent {
	uv_loop_t *loop;
	struct inventory *inv;
	struct prober *prober;
	uv_signal_t sigterm, sigint, sighup;
	struct output_table *table;
	int once, json;
	int rounds_left;
	int anycast_failed;
	int stopping;
	uint64_t next_seq;
	uint64_t reserved;        /* highest seq persisted as possibly used */
	char seq_path[1024];      /* "" when --spool was not given */
	const char *user;         /* --user, or NULL */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anycast-agent --config FILE [--once [--json]] [--spool DIR] [--user NAME]\n"
		"                     [-v] [--syslog]\n"
		"       anycast-agent --guard FILE [--dry-run] [--check-config] [-v] [--syslog]\n"
		"       anycast-agent --trace ADDRESS [--port N] [--max-hops N] [--packets N]\n"
		"                     [--json] [-v]\n"
		"       anycast-agent --collector URL --name NAME --token-file FILE [--spool DIR]\n"
		"                     [--spool-max BYTES] [--ca-file F] [--cert F] [--key F]\n"
		"                     [--user NAME] [-v] [--syslog]\n"
		"Probes DNS/NTP anycast addresses and each instance's management address and\n"
		"tells which instance answered. Without a collector, prints one JSON line per\n"
		"probe on stdout. SIGHUP reloads --config (standalone) or fetches the\n"
		"configuration from the collector now (central mode).\n"
		"  --config FILE      services (same format as the collector inventory)\n"
		"  --once             one round, a table on stdout; exit 1 when an anycast\n"
		"                     address answered nothing\n"
		"  --json             with --once: JSON lines instead of the table\n"
		"  --collector URL    central mode: report to this collector; given again (or\n"
		"                     URL,URL,...): the next ones, used in order when one fails\n"
		"  --name NAME        agent name (central mode): sent with every request; exit 78\n"
		"                     when the token is another agent's\n"
		"  --token-file FILE  bearer token (central mode)\n"
		"  --spool DIR        spool (central) or seq state (standalone); default ./spool\n"
		"  --spool-max BYTES  spool size bound (central mode)\n"
		"  --ca-file, --cert, --key  TLS to the collector\n"
		"  --user NAME        when started as root: run as NAME once the token, TLS\n"
		"                     files and config are read and the spool is open (the\n"
		"                     spool directory and its files are given to NAME)\n"
		"  --guard FILE       guard mode (on an anycast server): withdraw the local\n"
		"                     instance when its service stops answering\n"
		"  --dry-run          with --guard: log the actions, change nothing\n"
		"  --trace ADDRESS    trace the path to ADDRESS (UDP, no privileges), print\n"
		"                     the hops (JSON with --json); exit 1 when not reached\n"
		"  --port N           with --trace: destination port (default 33434)\n"
		"  --max-hops N       with --trace: highest TTL (default 30)\n"
		"  --packets N        with --trace: packet budget (default 64, at most 256)\n"
		"  --check-config     validate the config (and URL and token file) and exit\n"
		"  -v, --verbose      debug logging\n"
		"  --syslog           log to syslog instead of stderr\n"
		"  --version, --help\n");
}

/* ---- seq: from 1, never back, across restarts when a directory is given ---- */

static int seq_write(const char *path, uint64_t v)
{
	char tmp[1100], buf[32];
	int fd, n, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	return rc;
}

static int seq_open(struct agent *a, const char *dir)
{
	FILE *f;
	unsigned long long v = 0;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(a->seq_path, sizeof(a->seq_path), "%s/seq", dir);
	f = fopen(a->seq_path, "r");
	if (f != NULL) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	a->next_seq = (uint64_t)v + 1;
	a->reserved = (uint64_t)v;
	return 0;
}

static uint64_t seq_take(struct agent *a)
{
	if (a->seq_path[0] != '\0' && a->next_seq > a->reserved) {
		/* Reserve a block ahead: a crash skips seqs but never reuses one. */
		int rc = seq_write(a->seq_path, a->next_seq - 1 + SEQ_BLOCK);

		if (rc < 0)
			log_warnx("cannot persist seq in %s: %s", a->seq_path, strerror(-rc));
		else
			a->reserved = a->next_seq - 1 + SEQ_BLOCK;
	}
	return a->next_seq++;
}

/* ---- the loop ---- */

static void on_prober_closed(void *arg)
{
	struct agent *a = arg;

	a->prober = NULL;
	uv_close((uv_handle_t *)&a->sigterm, NULL);
	uv_close((uv_handle_t *)&a->sigint, NULL);
	uv_close((uv_handle_t *)&a->sighup, NULL);
}

static void stop(struct agent *a)
{
	if (a->stopping)
		return;
	a->stopping = 1;
	prober_close(a->prober, on_prober_closed, a);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;

	log_info("signal %d: stopping", signum);
	stop(a);
}

/* SIGHUP: read the --config file again and apply its services without
 * losing rounds; an invalid file keeps the running configuration. */
static void on_sighup(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;
	struct inventory *inv;
	char err[1024];
	int rc;

	(void)signum;
	if (a->stopping || a->inv->path[0] == '\0')
		return;
	if ((inv = inventory_load(a->inv->path, err, sizeof(err))) == NULL) {
		log_warnx("SIGHUP: keeping the running configuration: %s", err);
		return;
	}
	if (inv->n_services == 0 || (rc = prober_set_services(a->prober, inv)) < 0) {
		log_warnx("SIGHUP: keeping the running configuration: %s: %s", inv->path,
			  inv->n_services == 0 ? "no services" : strerror(-rc));
		inventory_free(inv);
		return;
	}
	inventory_free(a->inv);
	a->inv = inv;
	log_info("SIGHUP: %s reloaded, probing %d service(s)", inv->path, inv->n_services);
}

static void on_result(void *ctx, struct result *r)
{
	struct agent *a = ctx;
	int rc;

	r->seq = seq_take(a);
	if (a->once && !a->json) {
		output_table_add(a->table, r);
		return;
	}
	rc = output_json_line(stdout, r);
	if (rc < 0 && !a->stopping) {
		log_warnx("stdout: %s", strerror(-rc));
		stop(a);
	}
}

static void on_round(void *ctx, const char *service, uint64_t round, int anycast_ok)
{
	struct agent *a = ctx;

	if (!anycast_ok) {
		a->anycast_failed = 1;
		log_debug("service %s round %" PRIu64 ": an anycast address answered nothing",
			  service, round);
	}
	if (a->once && --a->rounds_left == 0)
		stop(a);
}

static int run_standalone(struct agent *a, const char *spool_dir)
{
	int rc;

	a->next_seq = 1;
	if (spool_dir != NULL && (rc = seq_open(a, spool_dir)) < 0)
		fatalx("--spool %s: %s", spool_dir, strerror(-rc));
	if (a->inv->n_services == 0)
		fatalx("%s: no services to probe", a->inv->path);
	a->loop = uv_default_loop();
	if (a->once && !a->json && (a->table = output_table_new()) == NULL)
		fatalx("out of memory");
	if (a->user != NULL) {
		char err[1024];

		/* The config is read and the seq directory open: nothing else
		 * needs root. SIGHUP re-reads --config as this user. */
		if (drop_user(a->user, spool_dir, err, sizeof(err)) < 0)
			fatalx("%s", err);
		log_info("running as user %s", a->user);
	}
	a->prober = prober_new(a->loop, a->inv, on_result, on_round, a);
	if (a->prober == NULL)
		fatalx("%s: cannot set up the probes (see above)", a->inv->path);
	uv_signal_init(a->loop, &a->sigterm);
	uv_signal_init(a->loop, &a->sigint);
	a->sigterm.data = a->sigint.data = a;
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	uv_signal_init(a->loop, &a->sighup);
	a->sighup.data = a;
	uv_signal_start(&a->sighup, on_sighup, SIGHUP);
	a->rounds_left = a->inv->n_services;
	prober_start(a->prober, a->once);
	log_info("probing %d service(s)%s", a->inv->n_services, a->once ? " once" : "");
	uv_run(a->loop, UV_RUN_DEFAULT);
	uv_loop_close(a->loop);
	if (a->table != NULL) {
		output_table_print(a->table, stdout);
		output_table_free(a->table);
	}
	fflush(stdout);
	return a->once && a->anycast_failed ? 1 : 0;
}

/* --check-config: the --config file (already loaded by the caller, which
 * exits on errors), and in central mode the URL and the token file. */
/* Append url to the comma-separated list in buf (size len). 0 or -1 when
 * it does not fit. */
static int add_collector(char *buf, size_t len, const char *url)
{
	size_t used = strlen(buf);
	int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", url);

	if (n < 0 || (size_t)n >= len - used) {
		buf[used] = '\0';
		return -1;
	}
	return 0;
}

static int check_config(const char *config, const struct inventory *inv,
			const struct central_options *co)
{
	struct stat st;
	char err[512];

	if (config == NULL && co->collector_url == NULL) {
		fprintf(stderr, "anycast-agent: --check-config needs --config FILE or --collector URL\n");
		return 2;
	}
	if (co->collector_url != NULL) {
		struct collector_set cs;
		char why[256];

		collector_set_init(&cs, 0);
		if (collector_set_add(&cs, co->collector_url, why, sizeof(why)) < 0) {
			fprintf(stderr, "anycast-agent: --collector: %s\n", why);
			return 1;
		}
		if (co->token_file == NULL) {
			fprintf(stderr, "anycast-agent: --token-file is required with --collector\n");
			return 1;
		}
		if (co->name != NULL && !reporter_name_ok(co->name)) {
			fprintf(stderr, "anycast-agent: --name %s: an agent name is 1-63 of "
					"A-Z a-z 0-9 . _ : @ -\n", co->name);
			return 1;
		}
		if (stat(co->token_file, &st) < 0 || access(co->token_file, R_OK) < 0) {
			fprintf(stderr, "anycast-agent: %s: %s\n", co->token_file, strerror(errno));
			return 1;
		}
		if ((st.st_mode & 077) != 0) {
			fprintf(stderr, "anycast-agent: %s: readable by group or others (chmod 600)\n",
				co->token_file);
			return 1;
		}
		if (curl_dl_load(err, sizeof(err)) < 0) {
			fprintf(stderr, "anycast-agent: %s\n", err);
			return 1;
		}
	}
	if (inv != NULL)
		printf("%s: ok (%d service(s))\n", config, inv->n_services);
	if (co->collector_url != NULL)
		printf("central mode: %s, token file %s: ok\n", co->collector_url, co->token_file);
	return 0;
}

/* A decimal integer in [lo, hi] into *out; -1 when s is not one. */
static int int_option(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_COLLECTOR = 256, O_NAME, O_TOKEN, O_SPOOL, O_SPOOL_MAX, O_CA, O_CERT, O_KEY,
	       O_ONCE, O_JSON, O_VERSION, O_SYSLOG, O_CHECK, O_USER, O_GUARD, O_DRY_RUN,
	       O_TRACE, O_PORT, O_MAX_HOPS, O_PACKETS };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "collector", required_argument, NULL, O_COLLECTOR },
		{ "name", required_argument, NULL, O_NAME },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "spool", required_argument, NULL, O_SPOOL },
		{ "spool-max", required_argument, NULL, O_SPOOL_MAX },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "once", no_argument, NULL, O_ONCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "syslog", no_argument, NULL, O_SYSLOG },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "user", required_argument, NULL, O_USER },
		{ "guard", required_argument, NULL, O_GUARD },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "trace", required_argument, NULL, O_TRACE },
		{ "port", required_argument, NULL, O_PORT },
		{ "max-hops", required_argument, NULL, O_MAX_HOPS },
		{ "packets", required_argument, NULL, O_PACKETS },
		{ NULL, 0, NULL, 0 },
	};
	struct central_options co = { 0 };
	struct agent a = { 0 };
	const char *config = NULL, *spool = NULL, *guard = NULL;
	int dry_run = 0;
	struct trace_run_opts trace = { 0 };
	char collectors[COLLECTOR_SET_MAX * COLLECTOR_URL_MAX] = "";
	int verbose = 0, use_syslog = 0, check = 0, ch, rc;
	char err[1024];

	while ((ch = getopt_long(argc, argv, ":c:hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case O_COLLECTOR:
			/* Given again: one more, in order of preference. */
			if (add_collector(collectors, sizeof(collectors), optarg) < 0) {
				fprintf(stderr, "anycast-agent: --collector: too many or too long\n");
				return 2;
			}
			co.collector_url = collectors;
			break;
		case O_NAME: co.name = optarg; break;
		case O_TOKEN: co.token_file = optarg; break;
		case O_SPOOL: spool = optarg; break;
		case O_SPOOL_MAX: {
			char *end;

			errno = 0;
			co.spool_max_bytes = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || co.spool_max_bytes == 0) {
				fprintf(stderr, "anycast-agent: --spool-max: not a byte count: %s\n",
					optarg);
				return 2;
			}
			break;
		}
		case O_CA: co.ca_file = optarg; break;
		case O_CERT: co.client_cert = optarg; break;
		case O_KEY: co.client_key = optarg; break;
		case O_ONCE: a.once = 1; break;
		case O_JSON: a.json = 1; break;
		case O_VERSION: printf("anycast-agent %s\n", ANYCAST_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		case 'v': verbose = 1; break;
		case O_SYSLOG: use_syslog = 1; break;
		case O_CHECK: check = 1; break;
		case O_USER: co.user = a.user = optarg; break;
		case O_GUARD: guard = optarg; break;
		case O_DRY_RUN: dry_run = 1; break;
		case O_TRACE: trace.address = optarg; break;
		case O_PORT:
		case O_MAX_HOPS:
		case O_PACKETS: {
			int *dst = ch == O_PORT ? &trace.port
				   : ch == O_MAX_HOPS ? &trace.trace.max_ttl : &trace.trace.budget;
			int hi = ch == O_PORT ? 65535 : ch == O_MAX_HOPS ? PATH_TRACE_MAX_TTL
									: PATH_TRACE_MAX_BUDGET;

			if (int_option(optarg, 1, hi, dst) < 0) {
				fprintf(stderr, "anycast-agent: --%s: a number from 1 to %d, not %s\n",
					ch == O_PORT ? "port" : ch == O_MAX_HOPS ? "max-hops" : "packets",
					hi, optarg);
				return 2;
			}
			break;
		}
		case ':':
			fprintf(stderr, "anycast-agent: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "anycast-agent: unknown option %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "anycast-agent: unexpected argument %s (see --help)\n", argv[optind]);
		return 2;
	}
	if (co.user != NULL && getpwnam(co.user) == NULL) {
		fprintf(stderr, "anycast-agent: --user %s: no such user\n", co.user);
		return 2;
	}
	log_init("anycast-agent", use_syslog, verbose);
	signal(SIGPIPE, SIG_IGN);
	if (guard != NULL)
		return guard_run(guard, dry_run, check);
	if (trace.address == NULL && (trace.port || trace.trace.max_ttl || trace.trace.budget)) {
		fprintf(stderr, "anycast-agent: --port, --max-hops and --packets go with --trace\n");
		return 2;
	}
	if (trace.address != NULL) {
		trace.json = a.json;
		return trace_run(&trace);
	}
	if (config != NULL) {
		a.inv = inventory_load(config, err, sizeof(err));
		if (a.inv == NULL)
			fatalx("%s", err);
		/* --once is a quick standalone check even when the config
		 * names a collector. */
		if (co.collector_url == NULL && a.inv->collector[0] != '\0' && !a.once)
			co.collector_url = a.inv->collector;
		if (co.name == NULL && a.inv->name[0] != '\0')
			co.name = a.inv->name;
		if (co.token_file == NULL && a.inv->token_file[0] != '\0')
			co.token_file = a.inv->token_file;
		if (spool == NULL && a.inv->spool[0] != '\0')
			spool = a.inv->spool;
	}
	if (check) {
		rc = check_config(config, a.inv, &co);
		inventory_free(a.inv);
		return rc;
	}
	if (co.collector_url != NULL) {
		if (a.once)
			fatalx("--once is a standalone option: drop --collector");
		co.spool_dir = spool != NULL ? spool : "./spool";
		co.local = a.inv;
		rc = central_run(&co);
		inventory_free(a.inv);
		return rc;
	}
	if (config == NULL) {
		fprintf(stderr,
			"anycast-agent: --config FILE or --collector URL is required (see --help)\n");
		return 2;
	}
	rc = run_standalone(&a, spool);
	inventory_free(a.inv);
	return rc;
}
