/* collector/collector.c - the collector process: start-up, SIGHUP reload and
 * graceful stop. The wiring from results to events lives in
 * collector/collector_events.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/timefmt.h"
#include "collector/api.h"
#include "collector/api_int.h"
#include "collector/collector.h"

#define RETENTION_INTERVAL_MS 60000
#define READ_BUDGET_MS 2000             /* a read query may hold the loop this long */

static void
sync_inventory(struct collector *c)
{
	struct store_job *job = store_job_new(STORE_JOB_INVENTORY);
	char err[512];

	if (job == NULL)
		return;
	/* The writer gets its own copy: inventories are not shared across threads. */
	job->inv = inventory_load(c->config_path, err, sizeof(err));
	if (job->inv == NULL) {
		store_job_free(job);
		return;
	}
	store_writer_submit(c->writer, job);
}

int
collector_reload(struct collector *c, char *err, size_t errlen)
{
	struct inventory *inv = inventory_load(c->config_path, err, errlen);

	if (inv == NULL) {
		log_warnx("reload failed, keeping the previous inventory: %s", err);
		metrics_config_reloaded(c->metrics, 0, time_now_ms());
		return -1;
	}
	catchment_set_inventory(c->catchment, inv);
	integrity_set_threshold(c->integrity, inv->thresholds.serial_lag_ms);
	metrics_set_inventory(c->metrics, inv);
	metrics_config_reloaded(c->metrics, 1, time_now_ms());
	if (c->alerter != NULL)
		alerter_set_inventory(c->alerter, inv);
	inventory_free(c->inv);
	c->inv = inv;
	collector_incidents_reload(c);
	sync_inventory(c);
	log_info("reloaded %s: %d services, %d agents, %d alert routes", c->config_path,
		 inv->n_services, inv->n_agents, inv->n_alerts);
	return 0;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct collector *c = s->data;
	char err[512];

	if (signum == SIGHUP) {
		collector_reload(c, err, sizeof(err));
		return;
	}
	log_info("signal %d: stopping", signum);
	collector_stop(c, c->stopped_cb);
}

static void
resolve_paths(struct collector *c, const struct collector_options *opt)
{
	const char *listen = opt->listen ? opt->listen
					 : (c->inv->listen[0] ? c->inv->listen
							      : COLLECTOR_DEFAULT_LISTEN);
	const char *db = opt->db ? opt->db : (c->inv->db[0] ? c->inv->db : COLLECTOR_DEFAULT_DB);
	const char *web = opt->web_dir;
	char real[PATH_MAX], installed[PATH_MAX + 32], exe[PATH_MAX];
	ssize_t n;

	/* Default: installed next to the binary (PREFIX/share/anycast/web),
	 * else the source tree this binary was built from. */
	if (web == NULL && (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if (strrchr(exe, '/') != NULL)
			*strrchr(exe, '/') = '\0';
		snprintf(installed, sizeof(installed), "%s/../share/anycast/web", exe);
		if (access(installed, R_OK) == 0)
			web = installed;
	}
	if (web == NULL)
		web = ANYCAST_SOURCE_DIR "/web";

	snprintf(c->listen, sizeof(c->listen), "%s", listen);
	/* Relative db paths stay relative to the working directory. */
	snprintf(c->db_path, sizeof(c->db_path), "%s", db);
	if (realpath(web, real) != NULL)
		snprintf(c->web_dir, sizeof(c->web_dir), "%s", real);
	else
		log_warnx("web directory %s: %s; the dashboard is not served", web,
			  strerror(errno));
}

static int
open_store(struct collector *c, const struct collector_options *opt, char *err, size_t errlen)
{
	struct store_options so = { .sync = opt->sync };
	struct store *wst;
	struct catchment_row *rows = NULL;
	size_t n = 0;
	int64_t maxid;

	if (opt->refuse_links) {
		char wal[COLLECTOR_PATH_MAX + 8], shm[COLLECTOR_PATH_MAX + 8];
		const char *files[] = { c->db_path, wal, shm, NULL };

		snprintf(wal, sizeof(wal), "%s-wal", c->db_path);
		snprintf(shm, sizeof(shm), "%s-shm", c->db_path);
		if (privdrop_check_files(files, err, errlen) != 0)
			return -1;
	}
	if ((wst = store_open(c->db_path, &so, err, errlen)) == NULL)
		return -1;
	if (store_begin(wst) != 0 || store_sync_inventory(wst, c->inv) != 0 ||
	    store_commit(wst) != 0) {
		snprintf(err, errlen, "%s: %s", c->db_path, store_errmsg(wst));
		store_close(wst);
		return -1;
	}
	if ((maxid = store_max_event_id(wst)) < 0 || store_load_catchments(wst, &rows, &n) != 0) {
		snprintf(err, errlen, "%s: %s", c->db_path, store_errmsg(wst));
		store_close(wst);
		return -1;
	}
	c->next_event_id = maxid + 1;
	if (n > 0) {
		catchment_restore(c->catchment, rows, n);
		log_info("restored %zu catchment rows", n);
	}
	free(rows);
	collector_guard_restore(c, wst);
	if (collector_incidents_start(c, wst) != 0) {
		snprintf(err, errlen, "%s: cannot load incidents: %s", c->db_path, store_errmsg(wst));
		store_close(wst);
		return -1;
	}
	so.no_migrate = 1;
	/* Reads walk indexes and stop at their limit; the OS keeps the file's
	 * pages cached anyway. */
	so.cache_kb = 4096;
	if ((c->reader = store_open(c->db_path, &so, err, errlen)) == NULL) {
		store_close(wst);
		return -1;
	}
	store_set_query_budget(c->reader, READ_BUDGET_MS);
	if ((c->writer = store_writer_new(c->loop, wst)) == NULL) {
		snprintf(err, errlen, "cannot start the writer thread");
		store_close(wst);
		return -1;
	}
	return 0;
}

void
collector_alerter_open(struct collector *c)
{
	c->alerter = alerter_new(c->loop, c->inv, collector_on_delivery, c);
	if (c->alerter == NULL) {
		log_warnx("alerts disabled: cannot start the alerter");
		return;
	}
	alerter_set_external_url(c->alerter, c->alert_url);
	alerter_set_resend(c->alerter, c->alert_resend_ms);
	/* Open incidents of the previous run (or leader): Alertmanager must
	 * hear of them again; other channels remember them as firing. */
	collector_incidents_resend(c);
}

/* Agents' last reports as stored, so that one silent since before a restart
 * shows its age, not "never". */
static void
seed_agent_reports(struct collector *c)
{
	json_t *rows = store_query_agents(c->reader), *row, *seen;
	size_t i;

	json_array_foreach (rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));

		if (name != NULL && json_is_integer(seen = json_object_get(row, "last_seen_ms")))
			metrics_agent_report(c->metrics, name, json_integer_value(seen));
	}
	json_decref(rows);
}

int
collector_start(struct collector *c, uv_loop_t *loop, const struct collector_options *opt,
		char *err, size_t errlen)
{
	struct http_server_options ho = { 0 };

	memset(c, 0, sizeof(*c));
	/* Snapshots of every catchment row (5 MB for 10,000) come and go each
	 * second; a fixed threshold keeps such blocks in their own mappings,
	 * returned to the system when freed. glibc's default threshold rises to
	 * the size of the first large block freed, after which they would come
	 * from the heap and its high-water mark would stay resident. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	c->loop = loop;
	c->start_ms = time_now_ms();
	c->snapshot_saved_ms = c->start_ms;
	snprintf(c->config_path, sizeof(c->config_path), "%s", opt->config_path);
	if ((c->inv = inventory_load(opt->config_path, err, errlen)) == NULL)
		return -1;
	resolve_paths(c, opt);
	if ((c->watch = opt->watch) != NULL)
		store_watch_set_path(c->watch, c->db_path);
	{
		struct sockaddr_storage ss;

		/* Before the database is touched: a typo must not create one. */
		if (http_server_parse_address(c->listen, &ss) != 0) {
			snprintf(err, errlen, "bad listen address \"%s\" (want IPv4:port or [IPv6]:port)",
				 c->listen);
			goto fail;
		}
	}
	/* Stream ids start at the start time in microseconds: they grow
	 * across restarts, so a client of the previous process gets a reset. */
	if ((c->metrics = metrics_new()) == NULL ||
	    (c->sse = sse_new((uint64_t)c->start_ms * 1000)) == NULL ||
	    (c->catchment = catchment_new(c->inv)) == NULL ||
	    (c->integrity = integrity_new(c->inv->thresholds.serial_lag_ms)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	metrics_set_inventory(c->metrics, c->inv);
	metrics_config_reloaded(c->metrics, 1, c->start_ms);
	if (open_store(c, opt, err, errlen) != 0)
		goto fail;
	seed_agent_reports(c);
	snprintf(c->alert_url, sizeof(c->alert_url), "%s",
		 opt->external_url != NULL ? opt->external_url : "");
	if (c->alert_url[0] == '\0')
		snprintf(c->alert_url, sizeof(c->alert_url), "http://%s/", c->listen);
	c->alert_resend_ms = opt->alert_resend_ms;
	if (collector_role_start(c, err, errlen) != 0)
		goto fail_running;
	/* A follower leaves alerts to the leader. */
	if (c->is_leader)
		collector_alerter_open(c);

	api_host_init(c, opt->external_url);
	ho.listen = c->listen;
	ho.tls_cert = opt->tls_cert ? opt->tls_cert : (c->inv->tls_cert[0] ? c->inv->tls_cert : NULL);
	ho.tls_key = opt->tls_key ? opt->tls_key : (c->inv->tls_key[0] ? c->inv->tls_key : NULL);
	ho.limits.max_body_bytes = opt->max_body_bytes;
	ho.limits.rate_per_client = opt->rate_per_client;
	ho.limits.rate_burst = opt->rate_per_client * 2;
	ho.limits.max_conns_per_source = opt->max_conns_per_source;
	if ((c->server = http_server_new(loop, &ho, api_handle, c, err, errlen)) == NULL)
		goto fail_running;

	uv_timer_init(loop, &c->tick_timer);
	c->tick_timer.data = c;
	uv_timer_start(&c->tick_timer, collector_on_tick, 1000, 1000);
	uv_timer_init(loop, &c->retention_timer);
	c->retention_timer.data = c;
	uv_timer_start(&c->retention_timer, collector_on_retention, 5000, RETENTION_INTERVAL_MS);
	uv_signal_init(loop, &c->sighup);
	uv_signal_init(loop, &c->sigterm);
	uv_signal_init(loop, &c->sigint);
	c->sighup.data = c->sigterm.data = c->sigint.data = c;
	uv_signal_start(&c->sighup, on_signal, SIGHUP);
	uv_signal_start(&c->sigterm, on_signal, SIGTERM);
	uv_signal_start(&c->sigint, on_signal, SIGINT);
	{
		char shown[COLLECTOR_PATH_MAX];

		store_display_name(c->db_path, shown, sizeof(shown));
		log_info("listening on %s (port %d), database %s, %d services, %d agents",
			 c->listen, http_server_port(c->server), shown, c->inv->n_services,
			 c->inv->n_agents);
	}
	return 0;

fail_running:
	/* Handles exist: close them through the loop, then free the rest. */
	c->stopping = 1;
	if (c->alerter != NULL)
		alerter_close(c->alerter, NULL, NULL);
	c->alerter = NULL;
	collector_role_stop(c);
	store_writer_close(c->writer, NULL, NULL);
	c->writer = NULL;
	uv_run(loop, UV_RUN_DEFAULT);
fail:
	store_close(c->reader);
	collector_feed_clear(c);
	free(c->snap);
	incidents_free(c->incidents);
	collector_watch_free(c);
	catchment_free(c->catchment);
	integrity_free(c->integrity);
	metrics_free(c->metrics);
	sse_free(c->sse);
	inventory_free(c->inv);
	memset(c, 0, sizeof(*c));
	return -1;
}

static void
writer_closed(void *arg)
{
	struct collector *c = arg;

	/* Every write is committed: another collector may lead from here. */
	collector_role_stop(c);
	collector_feed_clear(c);
	store_close(c->reader);
	c->reader = NULL;
	free(c->snap);
	c->snap = NULL;
	incidents_free(c->incidents);
	c->incidents = NULL;
	collector_watch_free(c);
	catchment_free(c->catchment);
	c->catchment = NULL;
	integrity_free(c->integrity);
	c->integrity = NULL;
	metrics_free(c->metrics);
	c->metrics = NULL;
	sse_free(c->sse);
	c->sse = NULL;
	inventory_free(c->inv);
	c->inv = NULL;
	log_info("stopped");
	if (c->stopped_cb != NULL)
		c->stopped_cb(c);
}

static void
alerter_closed(void *arg)
{
	struct collector *c = arg;
	struct catchment_row *rows = NULL;
	size_t n = catchment_snapshot(c->catchment, &rows);

	c->alerter = NULL;
	/* Last state, so a restart resumes where we stopped (a follower's rows
	 * are the leader's: not ours to save). */
	if (c->is_leader)
		collector_save_snapshot(c, rows, n);
	else
		free(rows);
	store_writer_close(c->writer, writer_closed, c);
	c->writer = NULL;
}

static void
server_closed(void *arg)
{
	struct collector *c = arg;

	c->server = NULL;
	if (c->alerter != NULL)
		alerter_close(c->alerter, alerter_closed, c);
	else
		alerter_closed(c);
}

void
collector_stop(struct collector *c, void (*stopped)(struct collector *c))
{
	if (c->stopping)
		return;
	c->stopping = 1;
	c->stopped_cb = stopped;
	uv_close((uv_handle_t *)&c->tick_timer, NULL);
	uv_close((uv_handle_t *)&c->retention_timer, NULL);
	uv_close((uv_handle_t *)&c->sighup, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
	uv_close((uv_handle_t *)&c->sigint, NULL);
	/* Streams never finish by themselves: end them so the server can close. */
	sse_end_all(c->sse);
	http_server_close(c->server, server_closed, c);
}
