/* tests/agent/test_reporter.c - the reporter against a fake collector on
 * 127.0.0.1: every result arrives exactly once through errors and dropped
 * connections, backoff and Retry-After are honoured, a refused token does not
 * busy-loop, a token that is another agent's stops the sending, oversized or
 * refused batches are split, the clock offset warns only when it should, TLS
 * is verified; with two collectors, the agent fails over and comes back. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#include "fake_collector.h"

#include "agent/collector_set.h"
#include "agent/reporter.h"
#include "agent/spool.h"
#include "common/curl_uv.h"
#include "common/log.h"

struct env {
	char tmp[64], spool_dir[96], url[128];
	uv_loop_t loop;
	struct spool *sp;
	struct curl_uv *cu;
	struct reporter *rep;
	struct fake_collector *fc;
	int drained, closed;
	int wrong_calls;
	char wrong_who[64], wrong_why[256];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	strcpy(e->tmp, "/tmp/test_reporter.XXXXXX");
	cr_assert_not_null(mkdtemp(e->tmp));
	snprintf(e->spool_dir, sizeof(e->spool_dir), "%s/spool", e->tmp);
	cr_assert_eq(uv_loop_init(&e->loop), 0);
	e->sp = spool_open(e->spool_dir, 0);
	cr_assert_not_null(e->sp);
	e->cu = curl_uv_new(&e->loop, 4);
	cr_assert_not_null(e->cu);
}

/* Fast settings so the tests take seconds. */
static void fast_options(struct reporter_options *o, const char *url)
{
	memset(o, 0, sizeof(*o));
	o->http.base_url = url;
	o->http.token = "secret-token";
	o->http.timeout_ms = 5000;
	o->name = "test-agent";
	o->batch_max = 100;
	o->batch_delay_ms = 20;
	o->backoff_min_ms = 50;
	o->backoff_max_ms = 200;
}

static void start_reporter(struct env *e, const struct reporter_options *o)
{
	e->rep = reporter_new(&e->loop, e->cu, e->sp, o);
	cr_assert_not_null(e->rep);
}

static void with_fake(struct env *e, struct reporter_options *o)
{
	e->fc = fc_start();
	cr_assert_not_null(e->fc);
	e->fc->token = "secret-token";
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->fc->port);
	fast_options(o, e->url);
}

static void append_n(struct env *e, int n)
{
	char line[256];
	for (int i = 0; i < n; i++) {
		uint64_t seq = spool_next_seq(e->sp);
		int len =
		    snprintf(line, sizeof(line),
		             "{\"seq\":%" PRIu64 ",\"service\":\"dns\",\"outcome\":\"ok\"}", seq);
		cr_assert_eq(spool_append(e->sp, seq, line, (size_t)len), 0);
	}
	if (e->rep)
		reporter_kick(e->rep);
}

static uint64_t depth(struct env *e)
{
	struct spool_stats ss;
	spool_get_stats(e->sp, &ss);
	return ss.depth;
}

struct waiter {
	uv_timer_t t;
	struct env *e;
	int (*done)(struct env *e);
};

static void on_poll(uv_timer_t *t)
{
	struct waiter *w = t->data;
	if (w->done && w->done(w->e))
		uv_stop(t->loop);
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run the loop until done(e) or ms elapse; returns done(e) (or 1 with no done). */
static int run_for(struct env *e, int (*done)(struct env *e), int ms)
{
	struct waiter w = {.e = e, .done = done};
	uv_timer_t deadline;
	uv_timer_init(&e->loop, &w.t);
	uv_timer_init(&e->loop, &deadline);
	w.t.data = &w;
	deadline.data = NULL;
	uv_timer_start(&w.t, on_poll, 5, 5);
	uv_timer_start(&deadline, on_deadline, (uint64_t)ms, 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&w.t, NULL);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	return done ? done(e) : 1;
}

static int empty(struct env *e)
{
	return depth(e) == 0;
}

static void on_closed(void *arg)
{
	((struct env *)arg)->closed++;
}

static void on_cu_closed(void *arg)
{
	struct env *e = arg;
	e->closed++;
	if (e->rep)
		reporter_close(e->rep, on_closed, e);
}

static void env_fini(struct env *e)
{
	curl_uv_close(e->cu, on_cu_closed, e);
	while (e->closed < (e->rep ? 2 : 1))
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	cr_assert_eq(uv_loop_close(&e->loop), 0, "every handle closed");
	spool_close(e->sp);
	if (e->fc)
		fc_stop(e->fc);
	nftw(e->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Every seq 1..n arrived (sent is 1: exactly once on the wire) and the
 * collector stored n results. */
static void assert_all_stored(struct fake_collector *fc, int n, int sent_once)
{
	for (int i = 1; i <= n; i++) {
		cr_assert_geq(fc->seen[i], 1, "seq %d never arrived", i);
		if (sent_once)
			cr_assert_eq(fc->seen[i], 1, "seq %d sent %d times", i, fc->seen[i]);
	}
	cr_assert_eq(fc->seen[n + 1], 0);
	cr_assert_eq(fc->stored, (uint64_t)n);
}

TestSuite(reporter);

Test(reporter, every_result_arrives_once_through_failures)
{
	struct env e;
	struct reporter_options o;
	static const enum fc_reply script[] = {FC_OK, FC_500, FC_CLOSE, FC_503,
	                                       FC_OK, FC_429, FC_OK};

	env_init(&e);
	with_fake(&e, &o);
	e.fc->retry_after_s = 0;
	fc_script(e.fc, 7, script);
	start_reporter(&e, &o);
	append_n(&e, 1000);
	cr_assert(run_for(&e, empty, 15000), "spool emptied: %" PRIu64 " left", depth(&e));
	assert_all_stored(e.fc, 1000, 1);
	struct reporter_stats st;
	reporter_get_stats(e.rep, &st);
	/* curl itself retries a request on a reused connection that died
	 * before answering: the close may not count. */
	cr_assert(st.send_errors >= 3 && st.send_errors <= 4,
	          "500, 503 and 429 are errors: %" PRIu64, st.send_errors);
	cr_assert_eq(st.results_acked, 1000);
	env_fini(&e);
}

Test(reporter, batches_share_one_kept_alive_connection)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	o.batch_max = 50;
	start_reporter(&e, &o);
	append_n(&e, 1000);
	cr_assert(run_for(&e, empty, 10000));
	assert_all_stored(e.fc, 1000, 1);
	cr_assert_eq(e.fc->posts, 20, "1000 results in batches of 50");
	cr_assert_eq(e.fc->accepts, 1, "%d connections for 20 POSTs", e.fc->accepts);
	env_fini(&e);
}

Test(reporter, lost_answer_is_resent_and_deduplicated)
{
	struct env e;
	struct reporter_options o;
	static const enum fc_reply script[] = {FC_STORE_CLOSE, FC_STORE_CLOSE};

	env_init(&e);
	with_fake(&e, &o);
	fc_script(e.fc, 2, script);
	start_reporter(&e, &o);
	append_n(&e, 250);
	cr_assert(run_for(&e, empty, 10000));
	assert_all_stored(e.fc, 250, 0);
	cr_assert_gt(e.fc->duplicates, 0, "the batch whose answer was lost came again");
	env_fini(&e);
}

Test(reporter, results_spooled_while_collector_down_arrive_later)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->dflt = FC_CLOSE;
	start_reporter(&e, &o);
	for (int i = 0; i < 5; i++) {
		append_n(&e, 100);
		run_for(&e, NULL, 100);
	}
	cr_assert_eq(depth(&e), 500, "nothing acknowledged while the collector is down");
	pthread_mutex_lock(&e.fc->mu);
	e.fc->dflt = FC_OK;
	pthread_mutex_unlock(&e.fc->mu);
	cr_assert(run_for(&e, empty, 10000));
	assert_all_stored(e.fc, 500, 1);
	env_fini(&e);
}

Test(reporter, partial_acknowledgement_resends_the_rest)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->partial = 30; /* a collector that stores only part of each batch */
	start_reporter(&e, &o);
	append_n(&e, 200);
	cr_assert(run_for(&e, empty, 10000), "%" PRIu64 " left", depth(&e));
	assert_all_stored(e.fc, 200, 1);
	cr_assert_geq(e.fc->posts, 7, "200 results, 30 taken per POST");
	env_fini(&e);
}

/* Records the collector drops (their service is not in its inventory) are
 * acknowledged with the rest: the spool empties, nothing is sent again. */
Test(reporter, records_the_collector_drops_count_as_acknowledged)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->drop_from = 91; /* the tail of the spool: last_seq alone never covers it */
	start_reporter(&e, &o);
	append_n(&e, 100);
	cr_assert(run_for(&e, empty, 5000), "%" PRIu64 " left", depth(&e));
	cr_assert_eq(e.fc->stored, 90);
	cr_assert_leq(e.fc->posts, 2, "%d posts: the dropped records were sent again", e.fc->posts);
	env_fini(&e);
}

/* A collector that says this agent reached seq 2^63-1 (a record planted with
 * a stolen token) neither moves the agent's numbering to the end of the range
 * nor acknowledges what it did not store. */
Test(reporter, a_seq_at_the_end_of_the_range_does_not_wedge_the_agent)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->last_seq = INT64_MAX;
	start_reporter(&e, &o);
	append_n(&e, 50);
	cr_assert(run_for(&e, empty, 5000), "%" PRIu64 " left", depth(&e));
	assert_all_stored(e.fc, 50, 1);
	cr_assert_eq(spool_next_seq(e.sp), 51, "seqs stay the agent's own");
	append_n(&e, 10);
	cr_assert(run_for(&e, empty, 5000), "%" PRIu64 " left", depth(&e));
	assert_all_stored(e.fc, 60, 1);
	env_fini(&e);
}

Test(reporter, collector_ahead_of_a_lost_spool_raises_seq)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->last_seq = 5000; /* the agent reported up to 5000 before its spool was lost */
	start_reporter(&e, &o);
	append_n(&e, 10);
	cr_assert(run_for(&e, empty, 5000));
	cr_assert_eq(spool_next_seq(e.sp), 5001, "new results do not reuse seqs the collector has");
	env_fini(&e);
}

Test(reporter, retry_after_is_honoured)
{
	struct env e;
	struct reporter_options o;
	static const enum fc_reply script[] = {FC_503};

	env_init(&e);
	with_fake(&e, &o);
	e.fc->retry_after_s = 2;
	fc_script(e.fc, 1, script);
	start_reporter(&e, &o);
	append_n(&e, 10);
	cr_assert(run_for(&e, empty, 6000));
	cr_assert_eq(e.fc->nreq, 2);
	int64_t gap = e.fc->req_ms[1] - e.fc->req_ms[0];
	cr_assert_geq(gap, 1900, "waited %" PRId64 " ms after Retry-After: 2", gap);
	env_fini(&e);
}

Test(reporter, backoff_grows_without_busy_loop)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->dflt = FC_500;
	o.backoff_min_ms = 100;
	o.backoff_max_ms = 800;
	start_reporter(&e, &o);
	append_n(&e, 10);
	run_for(&e, NULL, 3000);
	/* delays of at least 50, 100, 200, 400, 400 ... ms: at most 10 in 3 s */
	cr_assert_geq(e.fc->posts, 4, "it keeps retrying (%d)", e.fc->posts);
	cr_assert_leq(e.fc->posts, 10, "%d POSTs in 3 s", e.fc->posts);
	for (int i = 3; i < e.fc->nreq; i++)
		cr_assert_geq(e.fc->req_ms[i] - e.fc->req_ms[i - 1], 190);
	cr_assert_eq(depth(&e), 10);
	env_fini(&e);
}

Test(reporter, bad_token_logs_once_and_waits, .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_options o;
	char buf[8192];

	log_init("test", 0, 0);
	env_init(&e);
	with_fake(&e, &o);
	o.http.token = "wrong-token";
	start_reporter(&e, &o);
	append_n(&e, 10);
	run_for(&e, NULL, 3000);
	cr_assert_eq(e.fc->unauthorized, 1, "%d requests in 3 s with a refused token",
	             e.fc->unauthorized);
	cr_assert_str_eq(e.fc->last_auth, "Bearer wrong-token");
	cr_assert_eq(depth(&e), 10, "results stay spooled");
	env_fini(&e);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "refuses this agent's token"), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "HTTP 401: bad token"), "log: %s", buf);
}

Test(reporter, oversized_batches_are_split_refused_record_dropped)
{
	struct env e;
	struct reporter_options o;
	struct reporter_stats st;
	struct spool_stats ss;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->max_results = 30; /* 413 above 30 results */
	e.fc->bad_seq = 57;     /* 400 for any batch holding seq 57 */
	start_reporter(&e, &o);
	append_n(&e, 200);
	cr_assert(run_for(&e, empty, 10000), "%" PRIu64 " left", depth(&e));
	for (int i = 1; i <= 200; i++)
		cr_assert_eq(e.fc->seen[i], i == 57 ? 0 : 1, "seq %d seen %d", i, e.fc->seen[i]);
	reporter_get_stats(e.rep, &st);
	spool_get_stats(e.sp, &ss);
	cr_assert_eq(st.rejected, 1);
	cr_assert_eq(ss.dropped, 1, "the refused record is counted as dropped");
	env_fini(&e);
}

Test(reporter, status_self_report)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	fc_script(e.fc, 1, (enum fc_reply[]){FC_500});
	start_reporter(&e, &o);
	append_n(&e, 5);
	cr_assert(run_for(&e, empty, 5000));
	json_t *s = json_loads(e.fc->last_status, 0, NULL);
	cr_assert_not_null(s, "status: %s", e.fc->last_status);
	cr_assert_str_eq(json_string_value(json_object_get(s, "version")), ANYCAST_VERSION);
	cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "test-agent");
	cr_assert(json_is_integer(json_object_get(s, "uptime_s")));
	cr_assert_eq(json_integer_value(json_object_get(s, "spool_depth")), 5,
	             "the batch in flight is still waiting");
	cr_assert_gt(json_integer_value(json_object_get(s, "spool_bytes")), 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "dropped")), 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "send_errors")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(s, "last_error")), "HTTP 500: boom");
	/* An error answer has no time: no offset yet. */
	cr_assert(json_is_null(json_object_get(s, "clock_offset_ms")), "%s", e.fc->last_status);
	json_decref(s);
	/* The next POST follows a 2xx answer with "time_ms": the offset is
	 * known and small (same clock), its bound half a loopback round trip. */
	append_n(&e, 1);
	cr_assert(run_for(&e, empty, 5000));
	s = json_loads(e.fc->last_status, 0, NULL);
	cr_assert_not_null(s, "status: %s", e.fc->last_status);
	json_t *off = json_object_get(s, "clock_offset_ms");
	cr_assert(json_is_number(off));
	cr_assert_lt(fabs(json_number_value(off)), 100.0);
	json_t *bound = json_object_get(s, "clock_offset_bound_ms");
	cr_assert(json_is_number(bound));
	cr_assert_geq(json_number_value(bound), 0.0);
	cr_assert_lt(json_number_value(bound), 100.0);
	json_decref(s);
	env_fini(&e);
}

Test(reporter, heartbeat_when_idle)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	o.heartbeat_ms = 100;
	start_reporter(&e, &o);
	run_for(&e, NULL, 550);
	cr_assert(e.fc->posts >= 3 && e.fc->posts <= 5, "%d heartbeats in 550 ms", e.fc->posts);
	cr_assert_eq(e.fc->stored, 0);
	json_t *s = json_loads(e.fc->last_status, 0, NULL);
	cr_assert_not_null(s, "each heartbeat carries the self-report");
	cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "test-agent");
	json_decref(s);
	/* Results flowing: batches, no heartbeats in between. */
	int before = e.fc->posts;
	append_n(&e, 10);
	cr_assert(run_for(&e, empty, 2000));
	cr_assert_eq(e.fc->posts, before + 1);
	assert_all_stored(e.fc, 10, 1);
	env_fini(&e);
}

static void on_drained(void *arg)
{
	((struct env *)arg)->drained++;
}

static int drained(struct env *e)
{
	return e->drained > 0;
}

Test(reporter, drain_sends_everything_before_exit)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	o.batch_delay_ms = 60000; /* only the drain sends */
	o.batch_max = 1000;
	start_reporter(&e, &o);
	append_n(&e, 300);
	reporter_drain(e.rep, 3000, on_drained, &e);
	cr_assert_eq(e.drained, 0, "the callback never runs inside reporter_drain()");
	cr_assert(run_for(&e, drained, 5000));
	cr_assert_eq(depth(&e), 0);
	assert_all_stored(e.fc, 300, 1);
	env_fini(&e);
}

Test(reporter, drain_gives_up_at_its_deadline)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->dflt = FC_503;
	start_reporter(&e, &o);
	append_n(&e, 50);
	uint64_t t0 = uv_hrtime();
	reporter_drain(e.rep, 500, on_drained, &e);
	cr_assert(run_for(&e, drained, 5000));
	cr_assert_lt((uv_hrtime() - t0) / 1000000, 1000);
	cr_assert_eq(depth(&e), 50, "what was not acknowledged stays spooled");
	env_fini(&e);
}

/* ---- the agent's name, and a token that is another agent's ---- */

static void on_wrong_agent(void *arg, const char *who, const char *why)
{
	struct env *e = arg;

	e->wrong_calls++;
	snprintf(e->wrong_who, sizeof(e->wrong_who), "%s", who);
	snprintf(e->wrong_why, sizeof(e->wrong_why), "%s", why);
}

Test(reporter, sends_the_agent_name_with_every_request)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	o.http.agent_name = "branch-2";
	o.heartbeat_ms = 50;
	start_reporter(&e, &o);
	append_n(&e, 5);
	cr_assert(run_for(&e, empty, 5000));
	run_for(&e, NULL, 200); /* and some heartbeats */
	cr_assert_str_eq(e.fc->last_agent, "branch-2");
	cr_assert_geq(e.fc->with_agent, 2);
	cr_assert_eq(e.fc->without_agent, 0);
	env_fini(&e);
}

Test(reporter, wrong_agent_403_stops_sending_and_keeps_the_spool, .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_options o;
	struct reporter_stats st;
	char buf[8192];

	log_init("test", 0, 0);
	env_init(&e);
	with_fake(&e, &o);
	o.http.agent_name = "branch-2";
	o.wrong_agent = on_wrong_agent;
	o.wrong_agent_arg = &e;
	o.heartbeat_ms = 50;
	e.fc->dflt = FC_403;
	start_reporter(&e, &o);
	append_n(&e, 10);
	run_for(&e, NULL, 1000);
	cr_assert_eq(e.fc->forbidden, 1, "%d requests after a 403", e.fc->forbidden);
	cr_assert_eq(e.wrong_calls, 1);
	cr_assert_str_eq(e.wrong_who, "branch-1");
	cr_assert(strstr(e.wrong_why, "HTTP 403") != NULL, "%s", e.wrong_why);
	cr_assert_eq(depth(&e), 10, "results stay spooled");
	/* New results, heartbeats and a drain send nothing either. */
	append_n(&e, 5);
	reporter_drain(e.rep, 3000, on_drained, &e);
	cr_assert(run_for(&e, drained, 1000), "the drain ends at once");
	cr_assert_eq(e.fc->forbidden, 1);
	cr_assert_eq(e.fc->posts, 1);
	cr_assert_eq(depth(&e), 15);
	reporter_get_stats(e.rep, &st);
	cr_assert_eq(st.reachable, 0);
	env_fini(&e);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	/* The owner (central mode) says it: the reporter adds no line. */
	cr_assert_null(strstr(buf, "[warn]"), "log: %s", buf);
}

Test(reporter, without_a_handler_a_403_is_retried_like_a_401)
{
	struct env e;
	struct reporter_options o;

	env_init(&e);
	with_fake(&e, &o);
	e.fc->dflt = FC_403;
	o.backoff_min_ms = 1; /* auth failures wait at least 10 s anyway */
	start_reporter(&e, &o);
	append_n(&e, 3);
	run_for(&e, NULL, 500);
	cr_assert_eq(e.fc->forbidden, 1);
	cr_assert_eq(depth(&e), 3);
	env_fini(&e);
}

/* ---- clock offset from "time_ms" ---- */

static int posts_at_least(struct env *e, int n)
{
	pthread_mutex_lock(&e->fc->mu);
	int p = e->fc->posts;
	pthread_mutex_unlock(&e->fc->mu);
	return p >= n;
}

static int six_posts(struct env *e)
{
	return posts_at_least(e, 6);
}

/* Heartbeats every 30 ms against a collector whose clock is skew_ms off;
 * returns the log. */
static void run_clock(struct env *e, int64_t skew_ms, int no_time, int until_posts,
                      struct reporter_stats *st)
{
	struct reporter_options o;

	env_init(e);
	with_fake(e, &o);
	o.heartbeat_ms = 30;
	e->fc->time_skew_ms = skew_ms;
	e->fc->no_time = no_time;
	start_reporter(e, &o);
	cr_assert(run_for(e, six_posts, 5000));
	while (!posts_at_least(e, until_posts))
		run_for(e, NULL, 30);
	reporter_get_stats(e->rep, st);
}

static char *stderr_text(char *buf, size_t len)
{
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

Test(reporter, clock_right_no_warning, .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_stats st;
	char buf[16384];

	log_init("test", 0, 0);
	run_clock(&e, 0, 0, 10, &st);
	cr_assert(st.have_offset);
	cr_assert_lt(fabs(st.clock_offset_ms), 50.0, "%f", st.clock_offset_ms);
	cr_assert_eq(st.clock_warned, 0);
	env_fini(&e);
	stderr_text(buf, sizeof(buf));
	cr_assert_eq(count(buf, "clock:"), 0, "log: %s", buf);
}

/* One result, one POST, one answer: no heartbeats, so each step is exactly
 * one report. Returns whether a warning stands afterwards. */
static int one_report(struct env *e)
{
	struct reporter_stats st;

	append_n(e, 1);
	cr_assert(run_for(e, empty, 5000));
	reporter_get_stats(e->rep, &st);
	return st.clock_warned;
}

Test(reporter, clock_5s_off_warns_once_after_3_reports_then_recovers,
     .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_options o;
	struct reporter_stats st;
	char buf[16384];

	log_init("test", 0, 0);
	env_init(&e);
	with_fake(&e, &o);
	o.heartbeat_ms = -1;
	e.fc->time_skew_ms = 5000; /* the collector is 5 s ahead: ours is behind */
	start_reporter(&e, &o);
	cr_assert_eq(one_report(&e), 0, "report 1");
	cr_assert_eq(one_report(&e), 0, "report 2");
	cr_assert_eq(one_report(&e), 1, "report 3 warns");
	reporter_get_stats(e.rep, &st);
	cr_assert_lt(st.clock_offset_ms, -4900.0, "ours minus theirs: %f", st.clock_offset_ms);
	cr_assert_gt(st.clock_offset_ms, -5100.0, "ours minus theirs: %f", st.clock_offset_ms);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(one_report(&e), 1, "still off");
	/* The clock is right again: one line, at the first report. */
	pthread_mutex_lock(&e.fc->mu);
	e.fc->time_skew_ms = 0;
	pthread_mutex_unlock(&e.fc->mu);
	cr_assert_eq(one_report(&e), 0, "back");
	for (int i = 0; i < 3; i++)
		one_report(&e);
	env_fini(&e);
	stderr_text(buf, sizeof(buf));
	cr_assert_eq(count(buf, "clock:"), 2, "one warning, one recovery; log: %s", buf);
	cr_assert(strstr(buf, "clock is 5.0") || strstr(buf, "clock is 4.9"), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "behind the collector's"), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "3 reports in a row"), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "clock: back within 1.000 s"), "log: %s", buf);
}

Test(reporter, clock_without_time_ms_is_unknown_not_guessed, .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_stats st;
	char buf[16384];

	log_init("test", 0, 0);
	/* An older collector: only Date, and its clock 5 s off. Nothing is
	 * estimated from Date any more, so nothing is warned either. */
	run_clock(&e, 5000, 1, 10, &st);
	cr_assert_eq(st.have_offset, 0);
	json_t *s = json_loads(e.fc->last_status, 0, NULL);
	cr_assert(json_is_null(json_object_get(s, "clock_offset_ms")), "%s", e.fc->last_status);
	json_decref(s);
	env_fini(&e);
	stderr_text(buf, sizeof(buf));
	cr_assert_eq(count(buf, "clock:"), 0, "log: %s", buf);
}

/* ---- TLS: a CA, a server and a client certificate made with openssl, and a
 * python3 HTTPS collector that requires the client certificate. ---- */

static const char tls_server_py[] =
    "import http.server, json, ssl, sys\n"
    "d = sys.argv[1]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a): pass\n"
    "    def do_POST(self):\n"
    "        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
    "        seqs = [r['seq'] for r in body['results']]\n"
    "        out = json.dumps({'stored': len(seqs), 'duplicates': 0, 'last_seq': "
    "max(seqs)}).encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Type', 'application/json')\n"
    "        self.send_header('Content-Length', str(len(out)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(out)\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(d + '/server.pem', d + '/server.key')\n"
    "ctx.load_verify_locations(d + '/ca.pem')\n"
    "ctx.verify_mode = ssl.CERT_REQUIRED\n"
    "s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
    "open(d + '/port.tmp', 'w').write(str(s.server_address[1]))\n"
    "import os; os.rename(d + '/port.tmp', d + '/port')\n"
    "s.serve_forever()\n";

static void sh(const char *fmt, const char *dir)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir, dir, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void make_certs(const char *d)
{
	const char *q = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s "
	                "-keyout %s/%s.key -out %s/%s.pem 2>/dev/null";
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), q, "test-ca", d, "ca", d, "ca");
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), q, "wrong-ca", d, "wrong", d, "wrong");
	cr_assert_eq(system(cmd), 0);
	sh("cd %s && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
	   "-out server.csr 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	   "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile san.ext -out server.pem 2>/dev/null && "
	   "openssl req -newkey rsa:2048 -nodes -subj /CN=agent -keyout client.key "
	   "-out client.csr 2>/dev/null && openssl x509 -req -in client.csr -CA ca.pem "
	   "-CAkey ca.key -CAcreateserial -days 2 -out client.pem 2>/dev/null",
	   d);
}

static pid_t start_tls_server(const char *d, int *port)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/server.py", d);
	FILE *f = fopen(path, "w");
	fputs(tls_server_py, f);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		execlp("python3", "python3", path, d, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/port", d);
	for (int i = 0; i < 500; i++) {
		if ((f = fopen(path, "r"))) {
			cr_assert_eq(fscanf(f, "%d", port), 1);
			fclose(f);
			return pid;
		}
		usleep(10000);
	}
	kill(pid, SIGTERM);
	cr_assert_fail("the TLS test server did not start");
	return -1;
}

static int settled(struct env *e)
{
	struct reporter_stats st;
	reporter_get_stats(e->rep, &st);
	return depth(e) == 0 || st.send_errors > 0;
}

/* Send 20 results over TLS with these files; returns what is left spooled. */
static uint64_t tls_try(const char *d, int port, const char *ca, const char *cert, char *err,
                        size_t errlen)
{
	struct env e;
	struct reporter_options o;
	char url[64], ca_path[256], cert_path[256], key_path[256];

	env_init(&e);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	fast_options(&o, url);
	snprintf(ca_path, sizeof(ca_path), "%s/%s.pem", d, ca);
	o.http.ca_file = ca_path;
	if (cert) {
		snprintf(cert_path, sizeof(cert_path), "%s/%s.pem", d, cert);
		snprintf(key_path, sizeof(key_path), "%s/%s.key", d, cert);
		o.http.client_cert = cert_path;
		o.http.client_key = key_path;
	}
	start_reporter(&e, &o);
	append_n(&e, 20);
	run_for(&e, settled, 3000);
	uint64_t left = depth(&e);
	struct reporter_stats st;
	reporter_get_stats(e.rep, &st);
	snprintf(err, errlen, "%s", st.last_error);
	env_fini(&e);
	return left;
}

Test(reporter, tls_verifies_the_collector_and_presents_a_client_certificate)
{
	char d[64] = "/tmp/test_reporter_tls.XXXXXX", err[256];
	int port;

	cr_assert_not_null(mkdtemp(d));
	make_certs(d);
	pid_t pid = start_tls_server(d, &port);

	cr_assert_eq(tls_try(d, port, "ca", "client", err, sizeof(err)), 0,
	             "the right CA and a client certificate: delivered (%s)", err);
	cr_assert_eq(tls_try(d, port, "wrong", "client", err, sizeof(err)), 20,
	             "a server certificate from another CA is refused");
	cr_assert_not_null(strstr(err, "certificate"), "error: %s", err);
	cr_assert_eq(tls_try(d, port, "ca", NULL, err, sizeof(err)), 20,
	             "the server requires a client certificate");

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	nftw(d, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Two collectors with their own stores, a and b: the reporter uses cs. */
struct pair {
	struct fake_collector *b;
	struct collector_set cs;
	char url_b[128];
};

static void with_two(struct env *e, struct reporter_options *o, struct pair *p, int64_t return_ms)
{
	char err[256], list[300];

	with_fake(e, o);
	p->b = fc_start();
	cr_assert_not_null(p->b);
	p->b->token = "secret-token";
	snprintf(p->url_b, sizeof(p->url_b), "http://127.0.0.1:%d", p->b->port);
	snprintf(list, sizeof(list), "%s, %s", e->url, p->url_b);
	collector_set_init(&p->cs, return_ms);
	cr_assert_eq(collector_set_add(&p->cs, list, err, sizeof(err)), 0, "%s", err);
	o->http.collectors = &p->cs;
	o->http.base_url = NULL;
}

/* Every seq 1..n is stored by exactly one of the two. */
static void assert_once_across(struct fake_collector *a, struct fake_collector *b, int n)
{
	for (int i = 1; i <= n; i++)
		cr_assert_eq(a->seen[i] + b->seen[i], 1, "seq %d: %d times at a, %d at b", i,
		             a->seen[i], b->seen[i]);
	cr_assert_eq(a->seen[n + 1] + b->seen[n + 1], 0);
	cr_assert_eq(a->stored + b->stored, (uint64_t)n);
}

static const char *status_collector(struct fake_collector *fc, char *out, size_t len)
{
	json_t *s = json_loads(fc->last_status, 0, NULL);
	snprintf(out, len, "%s", s ? json_string_value(json_object_get(s, "collector")) : "");
	json_decref(s);
	return out;
}

static uint64_t stored_at_a;
static int a_stored_more(struct env *e)
{
	return e->fc->stored > stored_at_a && depth(e) == 0;
}

Test(failover, first_down_second_takes_the_results_first_back_agent_returns,
     .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_options o;
	struct pair p;
	char url[128], buf[16384];

	log_init("test", 0, 0);
	env_init(&e);
	with_two(&e, &o, &p, 1500);
	o.heartbeat_ms = -1;
	/* Up: everything goes to the first. */
	start_reporter(&e, &o);
	append_n(&e, 200);
	cr_assert(run_for(&e, empty, 5000));
	cr_assert_eq(e.fc->stored, 200);
	cr_assert_eq(p.b->posts, 0, "the second is not used while the first answers");
	/* The first dies: the second takes over at once, nothing lost. */
	fc_down(e.fc);
	append_n(&e, 300);
	cr_assert(run_for(&e, empty, 5000), "%" PRIu64 " left", depth(&e));
	cr_assert_eq(p.b->stored, 300);
	cr_assert_eq(p.cs.cur, 1);
	cr_assert_str_eq(status_collector(p.b, url, sizeof(url)), p.url_b);
	/* The first comes back: after return_ms the agent uses it again. */
	cr_assert_eq(fc_up(e.fc), 0);
	stored_at_a = e.fc->stored;
	for (int i = 0; i < 30 && !a_stored_more(&e); i++) {
		append_n(&e, 20);
		run_for(&e, a_stored_more, 100);
	}
	cr_assert(run_for(&e, a_stored_more, 5000), "back to the first");
	cr_assert_eq(p.cs.cur, 0);
	cr_assert_str_eq(status_collector(e.fc, url, sizeof(url)), e.url);
	/* and it stays there */
	uint64_t b_posts = (uint64_t)p.b->posts;
	append_n(&e, 100);
	cr_assert(run_for(&e, empty, 5000));
	cr_assert_eq((uint64_t)p.b->posts, b_posts);
	assert_once_across(e.fc, p.b, (int)(spool_next_seq(e.sp) - 1));
	env_fini(&e);
	fc_stop(p.b);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	char want[400];
	snprintf(want, sizeof(want), "collector: switching from %s to %s: ", e.url, p.url_b);
	cr_assert_not_null(strstr(buf, want), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "trying the preferred collector"), "log: %s", buf);
	cr_assert_eq(strstr(strstr(buf, want) + 1, want), NULL, "one switch line: %s", buf);
}

Test(failover, a_503_or_a_refused_token_moves_on_to_the_next,
     .init = cr_redirect_stderr)
{
	struct env e;
	struct reporter_options o;
	struct pair p;
	char buf[16384];

	log_init("test", 0, 0);
	env_init(&e);
	with_two(&e, &o, &p, 600000);
	o.heartbeat_ms = -1;
	e.fc->dflt = FC_503;
	start_reporter(&e, &o);
	append_n(&e, 50);
	cr_assert(run_for(&e, empty, 5000));
	cr_assert_eq(p.b->stored, 50);
	/* The second refuses the token (401): on to the first, which works again. */
	e.fc->dflt = FC_OK;
	p.b->token = "another-token";
	append_n(&e, 50);
	cr_assert(run_for(&e, empty, 5000));
	cr_assert_eq(e.fc->stored, 50);
	cr_assert_geq(p.b->unauthorized, 1);
	assert_once_across(e.fc, p.b, 100);
	env_fini(&e);
	fc_stop(p.b);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "HTTP 503"), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "refuses this agent's token"), "log: %s", buf);
}

Test(failover, wrong_agent_403_from_the_first_does_not_fail_over)
{
	struct env e;
	struct reporter_options o;
	struct pair p;

	env_init(&e);
	with_two(&e, &o, &p, 600000);
	o.http.agent_name = "branch-2";
	o.wrong_agent = on_wrong_agent;
	o.wrong_agent_arg = &e;
	o.heartbeat_ms = -1;
	e.fc->dflt = FC_403;
	start_reporter(&e, &o);
	append_n(&e, 10);
	run_for(&e, NULL, 1000);
	cr_assert_eq(e.wrong_calls, 1);
	cr_assert_eq(p.b->posts + p.b->gets, 0, "nothing goes to the second");
	cr_assert_eq(depth(&e), 10);
	env_fini(&e);
	fc_stop(p.b);
}
