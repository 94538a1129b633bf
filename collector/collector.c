/* collector/collector.c - the collector process: start-up, the wiring from
 * committed results to catchment tracking, events, SSE and alerts, timers,
 * SIGHUP reload and graceful stop. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/api.h"
#include "collector/api_int.h"
#include "collector/collector.h"

#define SNAPSHOT_MIN_INTERVAL_MS 2000   /* state changes saved at most this often */
#define SNAPSHOT_MAX_INTERVAL_MS 60000  /* and at least this often (last_seen) */
#define SSE_PING_MS 15000
#define SSE_RESULTS_MS 5000             /* "results" pushed at most this often */
#define RETENTION_INTERVAL_MS 60000
#define RETENTION_CHUNK 5000
#define ROLLUP_RETENTION_MS (400LL * 86400 * 1000)
#define SSE_CATCHMENTS_MAX 1000
#define READ_BUDGET_MS 2000             /* a read query may hold the loop this long */         /* rows pushed inline; beyond, a refetch hint */

static void
sse_broadcast(struct collector *c, const char *name, json_t *data)
{
	char *txt, *msg;
	int n;

	if (c->sse == NULL)
		return;
	if ((txt = json_dumps(data, JSON_COMPACT)) == NULL)
		return;
	n = asprintf(&msg, "event: %s\ndata: %s\n\n", name, txt);
	free(txt);
	if (n < 0)
		return;
	for (struct sse_client *cl = c->sse; cl != NULL; cl = cl->next)
		http_exchange_stream_write(cl->ex, msg, (size_t)n);
	free(msg);
}

static int
row_cmp(const void *a, const void *b)
{
	const struct catchment_row *x = a, *y = b;
	int r = strcmp(x->agent, y->agent);

	if (r == 0)
		r = strcmp(x->service, y->service);
	return r != 0 ? r : x->family - y->family;
}

/* Take ownership of a fresh snapshot as the read cache. */
static void
cache_snapshot(struct collector *c, struct catchment_row *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), row_cmp);
	free(c->snap);
	c->snap = rows;
	c->n_snap = n;
	c->snap_valid = 1;
}

size_t
collector_catchments(struct collector *c, const struct catchment_row **rows)
{
	if (!c->snap_valid) {
		struct catchment_row *r = NULL;
		size_t n = catchment_snapshot(c->catchment, &r);

		cache_snapshot(c, r, n);
	}
	*rows = c->snap;
	return c->n_snap;
}

static void
on_event(void *ctx, const struct event *in)
{
	struct collector *c = ctx;
	struct store_job *job = store_job_new(STORE_JOB_EVENT);
	json_t *js;

	if (job == NULL) {
		log_warnx("event %s lost: out of memory", in->type);
		return;
	}
	job->ev = *in;
	job->ev.id = c->next_event_id++;
	if (job->ev.time_ms == 0)
		job->ev.time_ms = time_now_ms();
	log_info("event %" PRId64 " %s agent=%s service=%s from=%s to=%s", job->ev.id,
		 job->ev.type, job->ev.agent, job->ev.service, job->ev.from_instance,
		 job->ev.to_instance);
	metrics_count_event(c->metrics, job->ev.type);
	js = api_event_json(&job->ev);
	sse_broadcast(c, "event", js);
	json_decref(js);
	if (c->alerter != NULL)
		alerter_dispatch(c->alerter, &job->ev);
	c->snapshot_dirty = 1;
	c->snap_valid = 0;
	store_writer_submit(c->writer, job);
}

static void
on_delivery(void *ctx, const char *route, const struct event *ev, int attempt, int ok,
	    const char *error)
{
	struct collector *c = ctx;
	struct store_job *job;

	metrics_count_delivery(c->metrics, ok);
	if (c->writer == NULL || (job = store_job_new(STORE_JOB_DELIVERY)) == NULL)
		return;
	snprintf(job->route, sizeof(job->route), "%s", route ? route : "");
	if (ev != NULL)
		job->ev = *ev;
	job->attempt = attempt;
	job->ok = ok;
	snprintf(job->error, sizeof(job->error), "%s", error ? error : "");
	store_writer_submit(c->writer, job);
}

void
collector_results_stored(struct collector *c, const struct result *r,
			 const unsigned char *stored, size_t n)
{
	int64_t now = time_now_ms();
	size_t i = 0;

	for (size_t k = 0; k < n; k++) {
		if (stored[k]) {
			metrics_observe_result(c->metrics, &r[k]);
			c->results_unannounced++;
		}
	}
	/* Feed runs of new results: duplicates were seen before. */
	while (i < n) {
		size_t j;

		while (i < n && !stored[i])
			i++;
		for (j = i; j < n && stored[j]; j++)
			;
		if (j > i)
			catchment_observe(c->catchment, &r[i], j - i, now, on_event, c);
		i = j;
	}
}

/* FNV-1a over the fields a dashboard shows, to notice changes cheaply. */
static uint64_t
snapshot_sig(const struct catchment_row *rows, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		const struct catchment_row *r = &rows[i];
		const char *parts[] = { r->agent, r->service, r->instance, r->status };

		for (size_t p = 0; p < 4; p++)
			for (const char *s = parts[p]; *s; s++)
				h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		h = (h ^ (uint64_t)(r->family * 4 + r->suboptimal * 2 + r->flapping)) *
		    1099511628211ULL;
		h = (h ^ (uint64_t)r->since_ms) * 1099511628211ULL;
	}
	return h;
}

static void
save_snapshot(struct collector *c, struct catchment_row *rows, size_t n)
{
	struct store_job *job = store_job_new(STORE_JOB_CATCHMENTS);

	if (job == NULL) {
		free(rows);
		return;
	}
	job->rows = rows;
	job->n_rows = n;
	c->snapshot_saved_ms = time_now_ms();
	c->snapshot_dirty = 0;
	store_writer_submit(c->writer, job);
}

static void
on_tick(uv_timer_t *t)
{
	struct collector *c = t->data;
	struct catchment_row *rows = NULL, *copy;
	int64_t now = time_now_ms();
	uint64_t sig;
	size_t n;

	catchment_tick(c->catchment, now, on_event, c);
	n = catchment_snapshot(c->catchment, &rows);
	cache_snapshot(c, rows, n);
	sig = snapshot_sig(rows, n);
	if (sig != c->catchment_sig) {
		json_t *arr = json_array();

		c->catchment_sig = sig;
		c->snapshot_dirty = 1;
		for (size_t i = 0; i < n && n <= SSE_CATCHMENTS_MAX; i++)
			json_array_append_new(arr, api_catchment_json(&rows[i]));
		json_t *msg = json_pack("{s:o,s:I,s:b}", "catchments", arr, "total", (json_int_t)n,
					"complete", n <= SSE_CATCHMENTS_MAX);
		sse_broadcast(c, "catchments", msg);
		json_decref(msg);
	}
	if ((c->snapshot_dirty && now - c->snapshot_saved_ms >= SNAPSHOT_MIN_INTERVAL_MS) ||
	    (n > 0 && now - c->snapshot_saved_ms >= SNAPSHOT_MAX_INTERVAL_MS)) {
		if (n > 0 && (copy = malloc(n * sizeof(*copy))) != NULL) {
			memcpy(copy, rows, n * sizeof(*copy));
			save_snapshot(c, copy, n);
		} else if (n == 0) {
			save_snapshot(c, NULL, 0);
		}
	}
	if (c->results_unannounced > 0 && now - c->results_announced_ms >= SSE_RESULTS_MS) {
		json_t *msg = json_pack("{s:I}", "stored", (json_int_t)c->results_unannounced);

		/* A hint for charts to fetch, not the results themselves. */
		sse_broadcast(c, "results", msg);
		json_decref(msg);
		c->results_unannounced = 0;
		c->results_announced_ms = now;
	}
	if (c->sse != NULL && now - c->sse_ping_ms >= SSE_PING_MS) {
		c->sse_ping_ms = now;
		for (struct sse_client *cl = c->sse; cl != NULL; cl = cl->next)
			http_exchange_stream_write(cl->ex, ": ping\n\n", 8);
	}
}

static void retention_submit(struct collector *c);

static void
retention_done(void *arg, struct store_job *job)
{
	struct collector *c = arg;
	int more = job->rc == 0 && job->deleted >= (size_t)job->chunk;

	if (job->rc != 0)
		log_warnx("retention: %s", strerror(-job->rc));
	else if (job->deleted > 0)
		log_debug("retention: deleted %zu rows", job->deleted);
	store_job_free(job);
	c->retention_running = 0;
	/* Small chunks, one after the other, so ingest commits interleave. */
	if (more && !c->stopping)
		retention_submit(c);
}

static void
retention_submit(struct collector *c)
{
	struct store_job *job;
	int64_t now = time_now_ms();

	if (c->retention_running || (job = store_job_new(STORE_JOB_RETENTION)) == NULL)
		return;
	job->raw_before_ms = now - c->inv->retention_ms;
	job->rollup_before_ms = now - ROLLUP_RETENTION_MS;
	job->chunk = RETENTION_CHUNK;
	job->done = retention_done;
	job->arg = c;
	c->retention_running = 1;
	store_writer_submit(c->writer, job);
}

static void
on_retention(uv_timer_t *t)
{
	struct collector *c = t->data;

	if (c->inv->retention_ms > 0)
		retention_submit(c);
}

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
		return -1;
	}
	catchment_set_inventory(c->catchment, inv);
	if (c->alerter != NULL)
		alerter_set_inventory(c->alerter, inv);
	inventory_free(c->inv);
	c->inv = inv;
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
	so.no_migrate = 1;
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

int
collector_start(struct collector *c, uv_loop_t *loop, const struct collector_options *opt,
		char *err, size_t errlen)
{
	struct http_server_options ho = { 0 };

	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->start_ms = time_now_ms();
	c->snapshot_saved_ms = c->start_ms;
	snprintf(c->config_path, sizeof(c->config_path), "%s", opt->config_path);
	if ((c->inv = inventory_load(opt->config_path, err, errlen)) == NULL)
		return -1;
	resolve_paths(c, opt);
	{
		struct sockaddr_storage ss;

		/* Before the database is touched: a typo must not create one. */
		if (http_server_parse_address(c->listen, &ss) != 0) {
			snprintf(err, errlen, "bad listen address \"%s\" (want IPv4:port or [IPv6]:port)",
				 c->listen);
			goto fail;
		}
	}
	if ((c->metrics = metrics_new()) == NULL ||
	    (c->catchment = catchment_new(c->inv)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (open_store(c, opt, err, errlen) != 0)
		goto fail;
	c->alerter = alerter_new(loop, c->inv, on_delivery, c);
	if (c->alerter == NULL)
		log_warnx("alerts disabled: cannot start the alerter");

	ho.listen = c->listen;
	ho.tls_cert = opt->tls_cert ? opt->tls_cert : (c->inv->tls_cert[0] ? c->inv->tls_cert : NULL);
	ho.tls_key = opt->tls_key ? opt->tls_key : (c->inv->tls_key[0] ? c->inv->tls_key : NULL);
	ho.limits.max_body_bytes = opt->max_body_bytes;
	ho.limits.rate_per_client = opt->rate_per_client;
	ho.limits.rate_burst = opt->rate_per_client * 2;
	if ((c->server = http_server_new(loop, &ho, api_handle, c, err, errlen)) == NULL)
		goto fail_running;

	uv_timer_init(loop, &c->tick_timer);
	c->tick_timer.data = c;
	uv_timer_start(&c->tick_timer, on_tick, 1000, 1000);
	uv_timer_init(loop, &c->retention_timer);
	c->retention_timer.data = c;
	uv_timer_start(&c->retention_timer, on_retention, 5000, RETENTION_INTERVAL_MS);
	uv_signal_init(loop, &c->sighup);
	uv_signal_init(loop, &c->sigterm);
	uv_signal_init(loop, &c->sigint);
	c->sighup.data = c->sigterm.data = c->sigint.data = c;
	uv_signal_start(&c->sighup, on_signal, SIGHUP);
	uv_signal_start(&c->sigterm, on_signal, SIGTERM);
	uv_signal_start(&c->sigint, on_signal, SIGINT);
	log_info("listening on %s (port %d), database %s, %d services, %d agents", c->listen,
		 http_server_port(c->server), c->db_path, c->inv->n_services, c->inv->n_agents);
	return 0;

fail_running:
	/* Handles exist: close them through the loop, then free the rest. */
	c->stopping = 1;
	if (c->alerter != NULL)
		alerter_close(c->alerter, NULL, NULL);
	c->alerter = NULL;
	store_writer_close(c->writer, NULL, NULL);
	c->writer = NULL;
	uv_run(loop, UV_RUN_DEFAULT);
fail:
	store_close(c->reader);
	free(c->snap);
	catchment_free(c->catchment);
	metrics_free(c->metrics);
	inventory_free(c->inv);
	memset(c, 0, sizeof(*c));
	return -1;
}

static void
writer_closed(void *arg)
{
	struct collector *c = arg;

	store_close(c->reader);
	c->reader = NULL;
	free(c->snap);
	c->snap = NULL;
	catchment_free(c->catchment);
	c->catchment = NULL;
	metrics_free(c->metrics);
	c->metrics = NULL;
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
	/* Last state, so a restart resumes where we stopped. */
	save_snapshot(c, rows, n);
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
	struct sse_client *cl, *next;

	if (c->stopping)
		return;
	c->stopping = 1;
	c->stopped_cb = stopped;
	uv_close((uv_handle_t *)&c->tick_timer, NULL);
	uv_close((uv_handle_t *)&c->retention_timer, NULL);
	uv_close((uv_handle_t *)&c->sighup, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
	uv_close((uv_handle_t *)&c->sigint, NULL);
	/* Streams never finish by themselves: end them so the server can close
	 * (stream_end drops the close callback, so the clients are freed here). */
	for (cl = c->sse; cl != NULL; cl = next) {
		next = cl->next;
		http_exchange_stream_end(cl->ex);
		free(cl);
	}
	c->sse = NULL;
	c->n_sse = 0;
	http_server_close(c->server, server_closed, c);
}
