/* agent/central.c - central mode: probes configured by the collector, every
 * result spooled durably and reported in batches, clean stop on SIGTERM. */
#include "agent/central.h"
#include "agent/token_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "agent/config_fetch.h"
#include "agent/curl_dl.h"
#include "agent/drop_user.h"
#include "agent/prober.h"
#include "agent/reporter.h"
#include "agent/spool.h"
#include "common/curl_uv.h"
#include "common/log.h"
#include "common/result.h"

#define TOKEN_MAX TOKEN_FILE_MAX
#define TLS_FILE_MAX (1024 * 1024) /* a PEM file of CAs, a certificate chain or a key */
#define SYNC_INTERVAL_MS 1000
#define DRAIN_TIMEOUT_MS 3000

struct central {
	const struct central_options *opt;
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	uv_check_t check;
	uv_timer_t sync_timer;
	struct spool *sp;
	struct curl_uv *cu;
	struct reporter *rep;
	struct config_fetch *cf;
	struct collector_set collectors; /* shared by the reporter and the fetcher */
	struct prober *prober;
	int stopping, finishing, services;
	int wrong_agent; /* the token is another agent's: stop, send nothing */
	uint64_t append_errors;
	char token[TOKEN_MAX];
	struct curl_blob tls[3]; /* --user: CA, certificate and key read at start-up */
};

/* Read a TLS file into b (--user: the agent may not read it afterwards).
 * Start-up only: exits with a one-line reason on any problem. */
static void read_tls_file(const char *path, struct curl_blob *b)
{
	struct stat sb;
	char *data;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fatal("%s", path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > TLS_FILE_MAX)
		fatalx("%s: not a regular file of at most %d bytes", path, TLS_FILE_MAX);
	if ((data = malloc((size_t)sb.st_size + 1)) == NULL)
		fatalx("out of memory");
	if ((n = read(fd, data, (size_t)sb.st_size + 1)) < 0)
		fatal("%s", path);
	if (n != sb.st_size)
		fatalx("%s: changed while being read", path);
	close(fd);
	*b = (struct curl_blob){.data = data, .len = (size_t)n, .flags = CURL_BLOB_NOCOPY};
}

static void on_result(void *ctx, struct result *r)
{
	struct central *c = ctx;
	char line[SPOOL_LINE_MAX];
	int len, rc;

	r->seq = spool_next_seq(c->sp);
	len = result_to_line(r, line, sizeof(line));
	if (len < 0)
		rc = -E2BIG;
	else
		rc = spool_append(c->sp, r->seq, line, (size_t)len);
	if (rc < 0) {
		/* The disk refuses: count, and say so now and then, not per result. */
		if (c->append_errors++ % 1000 == 0)
			log_warnx("spool: result not stored: %s (%" PRIu64 " so far)",
			          strerror(-rc), c->append_errors);
		return;
	}
	reporter_kick(c->rep);
}

static void on_round(void *ctx, const char *service, uint64_t round, int anycast_ok)
{
	(void)ctx;
	if (!anycast_ok)
		log_debug("service %s round %" PRIu64 ": an anycast address answered nothing",
		          service, round);
}

static void start_prober(struct central *c, const struct inventory *inv)
{
	if (c->stopping)
		return;
	c->services = inv->n_services;
	if (c->prober) {
		int rc = prober_set_services(c->prober, inv);
		if (rc < 0)
			log_warnx("cannot apply the new configuration: %s", strerror(-rc));
		return;
	}
	c->prober = prober_new(&c->loop, inv, on_result, on_round, c);
	if (!c->prober) {
		log_warnx("cannot set up the probes of this configuration: waiting for another");
		return;
	}
	if (prober_start(c->prober, 0) < 0)
		log_warnx("cannot start probing");
	else
		log_info("probing %d services", inv->n_services);
}

static void on_config(void *ctx, const struct inventory *inv)
{
	start_prober(ctx, inv);
}

static void add_status(void *arg, json_t *s)
{
	struct central *c = arg;
	struct config_fetch_stats cs;

	json_object_set_new(s, "services", json_integer(c->services));
	json_object_set_new(s, "spool_append_errors", json_integer((json_int_t)c->append_errors));
	if (c->cf) {
		config_fetch_get_stats(c->cf, &cs);
		json_object_set_new(s, "config_etag", json_string(cs.etag));
	}
	if (c->prober) {
		struct prober_stats ps;
		prober_get_stats(c->prober, &ps);
		json_t *p = json_object();
		json_object_set_new(p, "sent", json_integer((json_int_t)ps.sent));
		json_object_set_new(p, "answered", json_integer((json_int_t)ps.answered));
		json_object_set_new(p, "timeouts", json_integer((json_int_t)ps.timeouts));
		json_object_set_new(p, "unreachable", json_integer((json_int_t)ps.unreachable));
		json_object_set_new(p, "malformed", json_integer((json_int_t)ps.malformed));
		json_object_set_new(p, "dropped_unmatched",
		                    json_integer((json_int_t)ps.dropped_unmatched));
		json_object_set_new(s, "prober", p);
	}
}

static void on_check(uv_check_t *h)
{
	struct central *c = h->data;
	int rc = spool_flush(c->sp); /* one write() for this iteration's results */

	if (rc < 0)
		log_debug("spool: write: %s (kept in memory, retried)", strerror(-rc));
}

static void on_synced(void *arg, int status)
{
	(void)arg;
	if (status < 0)
		log_warnx("spool: fdatasync: %s", strerror(-status));
}

/* At least once a second, what was written reaches the disk (on the thread
 * pool: the probes share this loop). */
static void on_sync_timer(uv_timer_t *t)
{
	struct central *c = t->data;
	int rc = spool_sync_async(c->sp, &c->loop, on_synced, c);

	if (rc < 0)
		log_warnx("spool: sync: %s", strerror(-rc));
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_part_closed(void *arg)
{
	(void)arg;
}

static void on_cu_closed(void *arg)
{
	struct central *c = arg;

	c->cu = NULL;
	reporter_close(c->rep, on_part_closed, c);
	config_fetch_close(c->cf, on_part_closed, c);
	close_handle((uv_handle_t *)&c->check);
	close_handle((uv_handle_t *)&c->sync_timer);
	close_handle((uv_handle_t *)&c->sigterm);
	close_handle((uv_handle_t *)&c->sigint);
	close_handle((uv_handle_t *)&c->sighup);
}

static void finish(void *arg)
{
	struct central *c = arg;
	struct spool_stats ss;

	if (c->finishing)
		return; /* the drain ends after a second signal */
	c->finishing = 1;
	spool_get_stats(c->sp, &ss);
	log_info("stopped: %" PRIu64 " results stay spooled for the next start", ss.depth);
	curl_uv_close(c->cu, on_cu_closed, c);
}

static void on_prober_closed(void *arg)
{
	struct central *c = arg;

	c->prober = NULL;
	spool_flush(c->sp);
	if (c->wrong_agent)
		finish(c); /* no drain: the collector would file them under the wrong agent */
	else
		reporter_drain(c->rep, DRAIN_TIMEOUT_MS, finish, c);
}

/* The reporter or the config fetcher heard that our token is another
 * agent's: one line, then stop without sending anything more. Whatever is
 * spooled stays for the next start with the right token. */
static void on_wrong_agent(void *arg, const char *token_agent, const char *why)
{
	struct central *c = arg;
	const char *name = c->opt->name;

	if (c->wrong_agent)
		return;
	c->wrong_agent = 1;
	if (token_agent[0])
		log_warnx("the token in %s belongs to agent \"%s\", not \"%s\"; refusing to run",
		          c->opt->token_file, token_agent, name);
	else
		log_warnx("the collector refuses the token in %s for agent \"%s\" (%s); "
		          "refusing to run",
		          c->opt->token_file, name, why);
	if (c->stopping)
		return; /* a signal came first: its drain ends on this answer */
	c->stopping = 1;
	if (c->prober)
		prober_close(c->prober, on_prober_closed, c);
	else
		on_prober_closed(c);
}

/* SIGHUP: ask the collector for the configuration now instead of at the
 * next periodic fetch (what "reload" means for an agent in central mode). */
static void on_sighup(uv_signal_t *h, int signum)
{
	struct central *c = h->data;

	(void)signum;
	if (c->stopping)
		return;
	log_info("SIGHUP: fetching the configuration from the collector now");
	config_fetch_start(c->cf);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct central *c = h->data;

	if (c->stopping) {
		log_info("signal %d again: stopping without waiting for the collector", signum);
		finish(c);
		return;
	}
	c->stopping = 1;
	log_info("signal %d: stopping, sending what is spooled (at most %d s)", signum,
	         DRAIN_TIMEOUT_MS / 1000);
	if (c->prober)
		prober_close(c->prober, on_prober_closed, c);
	else
		on_prober_closed(c);
}

/* Start-up: any failure exits with a one-line reason. */
static void setup(struct central *c)
{
	const struct central_options *o = c->opt;
	const char *dir = o->spool_dir && o->spool_dir[0] ? o->spool_dir : "./spool";
	struct reporter_options ro = {0};
	struct config_fetch_options fo = {0};
	char err[512];

	collector_set_init(&c->collectors, o->collector_return_ms);
	if (!o->collector_url)
		fatalx("--collector is required in central mode");
	if (collector_set_add(&c->collectors, o->collector_url, err, sizeof(err)) < 0)
		fatalx("--collector: %s", err);
	if (!o->token_file)
		fatalx("--token-file is required with --collector");
	if (o->name && !reporter_name_ok(o->name))
		fatalx("--name %s: an agent name is 1-63 of A-Z a-z 0-9 . _ : @ -", o->name);
	token_file_read(o->token_file, c->token, sizeof(c->token));
	if (uv_loop_init(&c->loop) < 0)
		fatalx("cannot set up the event loop");
	if (!(c->sp = spool_open(dir, o->spool_max_bytes)))
		fatal("cannot use the spool directory %s", dir);
	if (curl_dl_load(err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(c->cu = curl_uv_new(&c->loop, 4)))
		fatalx("cannot set up libcurl");
	ro.http = (struct reporter_http){.base_url = collector_set_url(&c->collectors, 0),
	                                 .collectors = &c->collectors,
	                                 .token = c->token,
	                                 .agent_name = o->name,
	                                 .ca_file = o->ca_file,
	                                 .client_cert = o->client_cert,
	                                 .client_key = o->client_key};
	if (o->user) {
		/* curl reads these at every new connection: keep them in memory. */
		if (o->ca_file && o->ca_file[0]) {
			read_tls_file(o->ca_file, &c->tls[0]);
			ro.http.ca_blob = &c->tls[0];
		}
		if (o->client_cert && o->client_cert[0]) {
			read_tls_file(o->client_cert, &c->tls[1]);
			ro.http.client_cert_blob = &c->tls[1];
			if (o->client_key && o->client_key[0]) {
				read_tls_file(o->client_key, &c->tls[2]);
				ro.http.client_key_blob = &c->tls[2];
			}
		}
	}
	ro.name = o->name;
	ro.status_fn = add_status;
	ro.status_arg = c;
	ro.wrong_agent = on_wrong_agent;
	ro.wrong_agent_arg = c;
	if (!(c->rep = reporter_new(&c->loop, c->cu, c->sp, &ro)))
		fatalx("cannot set up the reporter");
	fo.http = ro.http;
	fo.cache_dir = dir;
	fo.wrong_agent = on_wrong_agent;
	fo.wrong_agent_arg = c;
	if (!(c->cf = config_fetch_new(&c->loop, c->cu, &fo, on_config, c)))
		fatalx("out of memory");
	uv_check_init(&c->loop, &c->check);
	uv_timer_init(&c->loop, &c->sync_timer);
	uv_signal_init(&c->loop, &c->sigterm);
	uv_signal_init(&c->loop, &c->sigint);
	uv_signal_init(&c->loop, &c->sighup);
	c->check.data = c->sync_timer.data = c->sigterm.data = c->sigint.data = c;
	c->sighup.data = c;
	/* Everything that may need root is open or read: token, TLS files,
	 * spool, libcurl. The spool directory goes to the user with its files. */
	if (o->user) {
		if (drop_user(o->user, dir, err, sizeof(err)) < 0)
			fatalx("%s", err);
		log_info("running as user %s", o->user);
	}
}

int central_run(const struct central_options *opt)
{
	struct central *c = calloc(1, sizeof(*c));
	int rc = 1;

	if (!c)
		fatalx("out of memory");
	c->opt = opt;
	signal(SIGPIPE, SIG_IGN);
	setup(c);
	log_info("central mode: agent %s reporting to %s", opt->name ? opt->name : "(unnamed)",
	         opt->collector_url);
	if (c->collectors.n > 1)
		log_info("collectors in order of preference: %zu; back to the first one %" PRId64
		         " s after it fails",
		         c->collectors.n, c->collectors.return_ms / 1000);
	uv_check_start(&c->check, on_check);
	uv_timer_start(&c->sync_timer, on_sync_timer, SYNC_INTERVAL_MS, SYNC_INTERVAL_MS);
	uv_signal_start(&c->sigterm, on_signal, SIGTERM);
	uv_signal_start(&c->sigint, on_signal, SIGINT);
	uv_signal_start(&c->sighup, on_sighup, SIGHUP);

	/* Measure from the first second: the collector's last configuration from
	 * disk, else the local one, while the collector is asked for a new one. */
	struct inventory *cached = config_fetch_load_cached(c->cf);
	if (cached || (opt->local && opt->local->n_services > 0))
		start_prober(c, cached ? cached : opt->local);
	else
		log_info("waiting for a configuration from %s", opt->collector_url);
	inventory_free(cached);
	config_fetch_start(c->cf);
	reporter_kick(c->rep); /* results left from the last run */

	uv_run(&c->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&c->loop) == 0)
		rc = 0;
	else
		log_warnx("central mode: handles left open at exit");
	if (c->wrong_agent)
		rc = CENTRAL_EXIT_WRONG_AGENT;
	spool_close(c->sp);
	curl_global_cleanup();
	for (size_t i = 0; i < sizeof(c->tls) / sizeof(c->tls[0]); i++)
		free(c->tls[i].data);
	free(c);
	return rc;
}
