/* agent/reporter.c - batches spooled results to the collector, one POST at a
 * time, acknowledges them in the spool, backs off on errors (see reporter.h). */
#include "agent/reporter_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/result.h"
#include "common/timefmt.h"

#define PREFIX_MAX 48 /* "{\"KEY\":[" with the longest items key */
#define ANSWER_MAX (64 * 1024)

static void arm(struct reporter *rep, enum reporter_timer mode, int64_t ms);
static void send_batch(struct reporter *rep);
static void send_post(struct reporter *rep, int heartbeat);

static void finish_drain(struct reporter *rep)
{
	if (!rep->draining || !rep->drain_cb)
		return;
	void (*cb)(void *) = rep->drain_cb;
	rep->drain_cb = NULL;
	uv_timer_stop(&rep->drain_timer);
	cb(rep->drain_arg);
}

static void on_timer(uv_timer_t *t)
{
	struct reporter *rep = t->data;

	rep->mode = T_NONE;
	send_batch(rep);
}

static void arm(struct reporter *rep, enum reporter_timer mode, int64_t ms)
{
	rep->mode = mode;
	uv_timer_start(&rep->timer, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

uint64_t reporter_depth(const struct reporter *rep)
{
	struct spool_stats ss;
	spool_get_stats(rep->sp, &ss);
	return ss.depth;
}

void reporter_fill_status(struct reporter *rep, json_t *s)
{
	struct spool_stats ss;

	spool_get_stats(rep->sp, &ss);
	json_object_set_new(s, "version", json_string(ANYCAST_VERSION));
	json_object_set_new(s, "name", json_string(rep->opt.name ? rep->opt.name : ""));
	json_object_set_new(
	    s, "uptime_s", json_integer((json_int_t)((uv_hrtime() - rep->start_ns) / 1000000000u)));
	json_object_set_new(s, "spool_depth", json_integer((json_int_t)ss.depth));
	json_object_set_new(s, "spool_bytes", json_integer((json_int_t)ss.bytes));
	json_object_set_new(s, "dropped", json_integer((json_int_t)ss.dropped));
	json_object_set_new(s, "corrupt", json_integer((json_int_t)ss.corrupt));
	json_object_set_new(s, "rejected", json_integer((json_int_t)rep->st.rejected));
	json_object_set_new(s, "last_seq", json_integer((json_int_t)(ss.next_seq - 1)));
	if (rep->opt.http.collectors)
		json_object_set_new(s, "collector",
		                    json_string(collector_set_url(rep->opt.http.collectors,
		                                                  rep->opt.http.collectors->cur)));
	else
		json_object_set_new(s, "collector", json_string(rep->opt.http.base_url));
	json_object_set_new(s, "send_errors", json_integer((json_int_t)rep->st.send_errors));
	json_object_set_new(s, "last_error",
	                    rep->st.last_error[0] ? json_string(rep->st.last_error) : json_null());
	/* Our clock minus the collector's, and the estimate's error bound. */
	json_object_set_new(s, "clock_offset_ms",
	                    rep->st.have_offset ? json_real(rep->st.clock_offset_ms) : json_null());
	json_object_set_new(s, "clock_offset_bound_ms",
	                    rep->st.have_offset ? json_real(rep->st.clock_bound_ms) : json_null());
	if (rep->opt.status_fn)
		rep->opt.status_fn(rep->opt.status_arg, s);
}

/* Body: {"results":[<spooled lines>],"status":{...}}; with nothing waiting,
 * a heartbeat has "results":[]. Returns its length, 0 for nothing to send,
 * or -errno. */
static long build_body(struct reporter *rep, int heartbeat)
{
	char prefix[PREFIX_MAX];
	const size_t plen =
	    (size_t)snprintf(prefix, sizeof(prefix), "{\"%s\":[", rep->opt.items_key);
	size_t n;
	long len = spool_peek(rep->sp, rep->batch_cur, rep->body + plen, rep->opt.body_max, &n,
	                      &rep->batch_first, &rep->batch_last);
	if (len < 0)
		return len;
	if (n == 0 && !heartbeat)
		return 0;
	memcpy(rep->body, prefix, plen);
	char *p = rep->body + plen, *end = p + len;
	for (char *q = p; q < end; q++)
		if (*q == '\n')
			*q = ',';
	if (n == 0) {
		*p = ']'; /* "results":[] */
		len = 1;
	} else {
		end[-1] = ']';
	}
	rep->batch_n = n;

	json_t *status = json_object();
	reporter_fill_status(rep, status);
	char *s = json_dumps(status, JSON_COMPACT);
	json_decref(status);
	if (!s)
		return -ENOMEM;
	size_t used = plen + (size_t)len, sl = strlen(s);
	if (used + sl + 16 > rep->body_cap) {
		free(s); /* a status this large is a bug: send the results alone */
		s = strdup("{}");
		sl = 2;
	}
	used += (size_t)sprintf(rep->body + used, ",\"status\":%s}", s);
	free(s);
	return (long)used;
}

/* The exchange in flight failed: with several collectors, move on to the
 * next one. 1: try it now (the caller skips the backoff). */
static int failover(struct reporter *rep, const char *why)
{
	if (!rep->opt.http.collectors)
		return 0;
	return collector_set_failed(rep->opt.http.collectors, rep->x.collector, why, time_now_ms());
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct reporter *rep = arg;
	struct reporter_xfer *x = &rep->x;
	int64_t retry = -1, next = -1;
	int auth = 0, ok = 0, refused = 0;
	char why[256], who[RESULT_NAME_MAX];

	(void)easy;
	rep->in_flight = 0;
	x->done_ms = time_now_ms();
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	json_t *ans = NULL;
	if (rc == CURLE_ABORTED_BY_CALLBACK || rep->closing)
		goto out; /* shutting down: what was sent stays spooled */
	ans = (rc == CURLE_OK && x->resp) ? json_loadb(x->resp, x->resp_len, 0, NULL) : NULL;
	if (rc == CURLE_OK && x->status >= 200 && x->status < 300) {
		reporter_state_clock(rep, x, ans);
		uint64_t upto = ans ? reporter_state_ack_point(rep, ans) : 0;
		if (rep->batch_n == 0) {
			/* A heartbeat: nothing to acknowledge. */
			rep->st.posts_ok++;
			reporter_state_success(rep);
			ok = 1;
		} else if (upto) {
			int e = spool_ack(rep->sp, upto);
			if (e < 0)
				log_warnx("spool: acknowledge up to %" PRIu64 ": %s", upto,
				          strerror(-e));
			rep->st.posts_ok++;
			rep->st.results_acked += upto - rep->batch_first + 1;
			reporter_state_success(rep);
			if (rep->batch_cur < rep->batch_ceiling)
				rep->batch_cur *= 2;
			if (rep->batch_cur > rep->batch_ceiling)
				rep->batch_cur = rep->batch_ceiling;
			ok = 1;
		} else {
			snprintf(why, sizeof(why),
			         "HTTP %ld with an answer that acknowledges nothing", x->status);
			reporter_state_failure(rep, why, 0);
			if (failover(rep, why))
				next = 0;
		}
	} else if (rc == CURLE_OK && (x->status == 400 || x->status == 413)) {
		/* The collector refuses the batch: find the record it chokes on by
		 * halving, and drop that one record alone. */
		reporter_xfer_error(x, rc, why, sizeof(why));
		if (rep->batch_n <= 1) {
			log_warnx("collector refuses result seq %" PRIu64 " (%s): dropped",
			          rep->batch_first, why);
			spool_drop_oldest_record(rep->sp);
			rep->st.rejected++;
		} else {
			log_info("collector refuses a batch of %zu (%s): retrying smaller batches",
			         rep->batch_n, why);
			rep->batch_cur = rep->batch_n / 2;
			if (x->status == 413 && rep->batch_cur < rep->batch_ceiling)
				rep->batch_ceiling = rep->batch_cur;
		}
		next = 0;
	} else if (rep->opt.wrong_agent && reporter_xfer_wrong_agent(x, rc, who, sizeof(who))) {
		/* The token is another agent's: retrying cannot help, and what
		 * is spooled stays for an agent with the right token. */
		refused = rep->refused = 1;
		rep->st.send_errors++;
		rep->st.reachable = 0;
		reporter_xfer_error(x, rc, why, sizeof(why));
		snprintf(rep->st.last_error, sizeof(rep->st.last_error), "%s", why);
	} else {
		auth = rc == CURLE_OK && (x->status == 401 || x->status == 403);
		retry = rc == CURLE_OK ? x->retry_after_ms : -1;
		reporter_state_failure(rep, reporter_xfer_error(x, rc, why, sizeof(why)), auth);
		/* 429 says the collector works and wants us slower: stay. */
		if (!(rc == CURLE_OK && x->status == 429) && failover(rep, why))
			next = 0;
	}
	if (ok && rep->opt.http.collectors)
		collector_set_ok(rep->opt.http.collectors, x->collector);
out:
	json_decref(ans);
	reporter_xfer_cleanup(x);
	if (rc == CURLE_ABORTED_BY_CALLBACK || rep->closing) {
		finish_drain(rep);
		return;
	}
	if (refused) {
		rep->opt.wrong_agent(rep->opt.wrong_agent_arg, who, why);
		finish_drain(rep);
		return;
	}
	if (rep->draining) {
		if ((ok || next == 0) && reporter_depth(rep) > 0)
			arm(rep, T_NOW, 0);
		else
			finish_drain(rep);
		return;
	}
	if (!ok && next < 0)
		arm(rep, T_BACKOFF, reporter_state_backoff_ms(rep, auth, retry));
	else if (next == 0 || reporter_depth(rep) >= rep->batch_cur)
		arm(rep, T_NOW, 0);
	else if (reporter_depth(rep) > 0)
		arm(rep, T_BATCH, rep->opt.batch_delay_ms);
}

static void post_now(struct reporter *rep, int heartbeat);
static void free_reporter(struct reporter *rep);

static void on_spool_synced(void *arg, int status)
{
	struct reporter *rep = arg;

	rep->syncing = 0;
	if (rep->closing) {
		if (rep->handles_open == 0)
			free_reporter(rep);
		return;
	}
	if (status < 0) {
		log_warnx("spool: fdatasync: %s", strerror(-status));
		if (rep->draining)
			finish_drain(rep);
		else
			arm(rep, T_BACKOFF, reporter_state_backoff_ms(rep, 0, -1));
		return;
	}
	post_now(rep, 0);
}

static void send_batch(struct reporter *rep)
{
	send_post(rep, 0);
}

/* Results go out only once on disk: sync on the thread pool first. */
static void send_post(struct reporter *rep, int heartbeat)
{
	int rc;

	if (rep->in_flight || rep->syncing || rep->closing)
		return;
	if (rep->refused) {
		finish_drain(rep); /* nothing goes out any more */
		return;
	}
	if (!heartbeat) {
		rc = spool_sync_async(rep->sp, rep->loop, on_spool_synced, rep);
		if (rc == 0) {
			rep->syncing = 1;
			return;
		}
		if (rc < 0) {
			on_spool_synced(rep, rc);
			return;
		}
	}
	post_now(rep, heartbeat);
}

static void post_now(struct reporter *rep, int heartbeat)
{
	long len;
	int rc;
	char why[128];

	/* Choose the collector first: the self-report names it. */
	if (rep->opt.http.collectors)
		collector_set_pick(rep->opt.http.collectors, time_now_ms());
	len = build_body(rep, heartbeat);
	if (len <= 0) {
		if (len < 0) {
			log_warnx("spool: cannot read results: %s", strerror((int)-len));
			arm(rep, T_BACKOFF, reporter_state_backoff_ms(rep, 0, -1));
		} else if (rep->draining) {
			finish_drain(rep);
		}
		return;
	}
	rc = reporter_xfer_setup(&rep->x, &rep->opt.http, rep->opt.path,
	                         "Content-Type: application/json", ANSWER_MAX);
	if (rc == 0) {
		curl_easy_setopt(rep->x.easy, CURLOPT_POSTFIELDS, rep->body);
		curl_easy_setopt(rep->x.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		if (curl_uv_add(rep->cu, rep->x.easy, on_done, rep) < 0)
			rc = -EIO;
	}
	if (rc < 0) {
		reporter_xfer_cleanup(&rep->x);
		snprintf(why, sizeof(why), "cannot start a request: %s", strerror(-rc));
		reporter_state_failure(rep, why, 0);
		if (rep->draining)
			finish_drain(rep);
		else
			arm(rep, T_BACKOFF, reporter_state_backoff_ms(rep, 0, -1));
		return;
	}
	rep->in_flight = 1;
	rep->last_post_ms = uv_now(rep->loop);
	rep->st.posts++;
	rep->st.results_sent += rep->batch_n;
	rep->st.bytes_sent += (uint64_t)len;
}

/* Quiet for a heartbeat period (nothing to send, no retry pending): tell the
 * collector we are alive, with the self-report. */
static void on_heartbeat(uv_timer_t *t)
{
	struct reporter *rep = t->data;

	if (rep->in_flight || rep->syncing || rep->draining || rep->mode != T_NONE ||
	    reporter_depth(rep) > 0 ||
	    uv_now(rep->loop) - rep->last_post_ms < uv_timer_get_repeat(t))
		return;
	send_post(rep, 1);
}

struct reporter *reporter_new(uv_loop_t *loop, struct curl_uv *cu, struct spool *sp,
                              const struct reporter_options *opt)
{
	struct reporter *rep;

	if (opt->http.collectors
	        ? opt->http.collectors->n == 0
	        : (!opt->http.base_url || (strncmp(opt->http.base_url, "http://", 7) != 0 &&
	                                   strncmp(opt->http.base_url, "https://", 8) != 0))) {
		log_warnx("collector URL must start with http:// or https://");
		return NULL;
	}
	if (!(rep = calloc(1, sizeof(*rep))))
		return NULL;
	rep->loop = loop;
	rep->cu = cu;
	rep->sp = sp;
	rep->opt = *opt;
	if (!rep->opt.batch_max)
		rep->opt.batch_max = 500;
	if (!rep->opt.path)
		rep->opt.path = "/api/v1/results";
	if (!rep->opt.items_key)
		rep->opt.items_key = "results";
	if (strlen(rep->opt.items_key) > 40 ||
	    strspn(rep->opt.items_key, "abcdefghijklmnopqrstuvwxyz_") != strlen(rep->opt.items_key)) {
		log_warnx("reporter: bad items key %s", rep->opt.items_key);
		free(rep);
		return NULL;
	}
	if (rep->opt.batch_delay_ms <= 0)
		rep->opt.batch_delay_ms = 1000;
	if (rep->opt.backoff_min_ms <= 0)
		rep->opt.backoff_min_ms = 1000;
	if (rep->opt.backoff_max_ms <= 0)
		rep->opt.backoff_max_ms = 60000;
	if (rep->opt.body_max < SPOOL_LINE_MAX)
		rep->opt.body_max = 4u << 20;
	rep->batch_cur = rep->batch_ceiling = rep->opt.batch_max;
	clock_offset_watch_init(&rep->clock, rep->opt.clock_warn_ms, rep->opt.clock_warn_reports);
	rep->body_cap = PREFIX_MAX + rep->opt.body_max + 64 * 1024;
	if (!(rep->body = malloc(rep->body_cap))) {
		free(rep);
		return NULL;
	}
	rep->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)rep;
	if (!rep->rng)
		rep->rng = 1;
	rep->start_ns = uv_hrtime();
	uv_timer_init(loop, &rep->timer);
	uv_timer_init(loop, &rep->drain_timer);
	rep->timer.data = rep->drain_timer.data = rep;
	rep->handles_open = 2;
	if (rep->opt.heartbeat_ms >= 0) {
		uv_timer_init(loop, &rep->hb_timer);
		rep->hb_timer.data = rep;
		rep->handles_open++;
		uint64_t ms = (uint64_t)(rep->opt.heartbeat_ms ? rep->opt.heartbeat_ms : 60000);
		uv_timer_start(&rep->hb_timer, on_heartbeat, ms, ms);
	}
	return rep;
}

void reporter_kick(struct reporter *rep)
{
	if (rep->in_flight || rep->syncing || rep->draining || rep->mode == T_BACKOFF ||
	    rep->mode == T_NOW || rep->closing || rep->refused)
		return;
	uint64_t d = reporter_depth(rep);
	if (d >= rep->batch_cur)
		arm(rep, T_NOW, 0);
	else if (d > 0 && rep->mode == T_NONE)
		arm(rep, T_BATCH, rep->opt.batch_delay_ms);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct reporter *rep = t->data;
	uint64_t d = reporter_depth(rep);

	if (d > 0)
		log_warnx("shutdown: %" PRIu64 " results not sent stay spooled", d);
	finish_drain(rep);
}

void reporter_drain(struct reporter *rep, int64_t timeout_ms, void (*cb)(void *arg), void *arg)
{
	rep->draining = 1;
	rep->drain_cb = cb;
	rep->drain_arg = arg;
	uv_timer_start(&rep->drain_timer, on_drain_timeout, (uint64_t)timeout_ms, 0);
	if (!rep->in_flight && !rep->syncing) {
		/* Even with nothing to send, cb runs from the loop, not from here. */
		arm(rep, T_NOW, 0);
	}
}

void reporter_get_stats(const struct reporter *rep, struct reporter_stats *st)
{
	*st = rep->st;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct reporter *rep = h->data;

	if (--rep->handles_open > 0 || rep->syncing)
		return; /* a sync in the thread pool still points at us */
	free_reporter(rep);
}

static void free_reporter(struct reporter *rep)
{
	void (*cb)(void *) = rep->close_cb;
	void *arg = rep->close_arg;
	reporter_xfer_cleanup(&rep->x);
	free(rep->body);
	free(rep);
	if (cb)
		cb(arg);
}

void reporter_close(struct reporter *rep, void (*cb)(void *arg), void *arg)
{
	rep->closing = 1;
	rep->close_cb = cb;
	rep->close_arg = arg;
	rep->drain_cb = NULL;
	uv_close((uv_handle_t *)&rep->timer, on_handle_closed);
	uv_close((uv_handle_t *)&rep->drain_timer, on_handle_closed);
	if (rep->opt.heartbeat_ms >= 0)
		uv_close((uv_handle_t *)&rep->hb_timer, on_handle_closed);
}
