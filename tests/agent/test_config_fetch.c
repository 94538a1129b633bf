/* tests/agent/test_config_fetch.c - central configuration against a fake
 * collector: first fetch, If-None-Match/304, changes announced once, invalid
 * answers refused, the cache on disk used while the collector is down. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ftw.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "fake_collector.h"

#include "agent/collector_set.h"
#include "agent/config_fetch.h"
#include "common/curl_uv.h"
#include "common/inventory.h"
#include "common/log.h"

static const char yaml_v1[] = "services:\n"
                              "  - name: dns\n"
                              "    protocol: dns\n"
                              "    address: [198.18.255.53]\n"
                              "    instances:\n"
                              "      - { name: site-a, management: 198.18.1.2 }\n"
                              "      - { name: site-b, management: 198.18.2.2 }\n"
                              "  - name: ntp\n"
                              "    protocol: ntp\n"
                              "    address: [198.18.255.123]\n"
                              "    instances:\n"
                              "      - { name: site-a, management: 198.18.1.2 }\n";

static const char yaml_v2[] = "services:\n"
                              "  - name: dns\n"
                              "    protocol: dns\n"
                              "    address: [198.18.255.53, \"2001:db8:ffff::53\"]\n"
                              "    interval: 1s\n"
                              "    instances:\n"
                              "      - { name: site-a, management: 198.18.1.2 }\n";

struct env {
	char tmp[64], url[128];
	uv_loop_t loop;
	struct curl_uv *cu;
	struct config_fetch *cf;
	struct fake_collector *fc;
	int changes, closed;
	int n_services;
	char first_service[64];
	int64_t interval_ms;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Serve the services JSON of a YAML inventory with an ETag. */
static void serve(struct fake_collector *fc, const char *yaml, const char *etag)
{
	char err[256];
	struct inventory *inv = inventory_parse(yaml, strlen(yaml), "test", err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	json_t *j = inventory_services_to_json(inv);
	char *s = json_dumps(j, JSON_COMPACT);
	pthread_mutex_lock(&fc->mu);
	snprintf(fc->config, sizeof(fc->config), "%s", s);
	snprintf(fc->etag, sizeof(fc->etag), "%s", etag);
	pthread_mutex_unlock(&fc->mu);
	free(s);
	json_decref(j);
	inventory_free(inv);
}

static void on_change(void *ctx, const struct inventory *inv)
{
	struct env *e = ctx;
	e->changes++;
	e->n_services = inv->n_services;
	snprintf(e->first_service, sizeof(e->first_service), "%s",
	         inv->n_services ? inv->services[0].name : "");
	e->interval_ms = inv->n_services ? inv->services[0].interval_ms : 0;
}

static void env_init(struct env *e, int with_server)
{
	memset(e, 0, sizeof(*e));
	strcpy(e->tmp, "/tmp/test_config_fetch.XXXXXX");
	cr_assert_not_null(mkdtemp(e->tmp));
	cr_assert_eq(uv_loop_init(&e->loop), 0);
	e->cu = curl_uv_new(&e->loop, 4);
	cr_assert_not_null(e->cu);
	if (with_server) {
		e->fc = fc_start();
		cr_assert_not_null(e->fc);
		e->fc->token = "tok";
		snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->fc->port);
	} else {
		/* A port nobody listens on: bind, read the port, close. */
		struct fake_collector *fc = fc_start();
		snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", fc->port);
		fc_stop(fc);
	}
}

static void new_fetcher(struct env *e, int64_t interval_ms)
{
	struct config_fetch_options o = {
	    .http = {.base_url = e->url, .token = "tok", .timeout_ms = 2000},
	    .cache_dir = e->tmp,
	    .interval_ms = interval_ms,
	    .retry_min_ms = 50,
	};
	e->cf = config_fetch_new(&e->loop, e->cu, &o, on_change, e);
	cr_assert_not_null(e->cf);
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void run_ms(struct env *e, int ms)
{
	uv_timer_t t;
	uv_timer_init(&e->loop, &t);
	uv_timer_start(&t, on_deadline, (uint64_t)ms, 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
}

static void on_closed(void *arg)
{
	((struct env *)arg)->closed++;
}

static void on_cu_closed(void *arg)
{
	struct env *e = arg;
	e->closed++;
	config_fetch_close(e->cf, on_closed, e);
}

static void env_fini(struct env *e, int keep_dir)
{
	curl_uv_close(e->cu, on_cu_closed, e);
	while (e->closed < 2)
		uv_run(&e->loop, UV_RUN_ONCE);
	cr_assert_eq(uv_loop_close(&e->loop), 0);
	if (e->fc)
		fc_stop(e->fc);
	if (!keep_dir)
		nftw(e->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config_fetch);

Test(config_fetch, fetches_caches_then_not_modified)
{
	struct env e;
	struct config_fetch_stats st;
	char path[128];
	struct stat sb;

	env_init(&e, 1);
	serve(e.fc, yaml_v1, "\"v1\"");
	new_fetcher(&e, 200);
	cr_assert_null(config_fetch_load_cached(e.cf), "nothing cached yet");
	config_fetch_start(e.cf);
	run_ms(&e, 1000);
	cr_assert_eq(e.changes, 1, "one configuration, announced once");
	cr_assert_eq(e.n_services, 2);
	cr_assert_str_eq(e.first_service, "dns");
	config_fetch_get_stats(e.cf, &st);
	cr_assert_geq(st.fetches, 3, "fetched every 200 ms");
	cr_assert_eq(st.not_modified, st.fetches - 1, "later fetches answered 304");
	cr_assert_eq(e.fc->not_modified, (int)st.not_modified);
	cr_assert_str_eq(st.etag, "\"v1\"");
	snprintf(path, sizeof(path), "%s/config.json", e.tmp);
	cr_assert_eq(stat(path, &sb), 0, "configuration cached on disk");
	cr_assert_eq(sb.st_mode & 077, 0, "cache readable by the agent only");
	env_fini(&e, 0);
}

Test(config_fetch, change_is_announced_invalid_one_refused)
{
	struct env e;
	struct config_fetch_stats st;

	env_init(&e, 1);
	serve(e.fc, yaml_v1, "\"v1\"");
	new_fetcher(&e, 100);
	config_fetch_start(e.cf);
	run_ms(&e, 300);
	cr_assert_eq(e.changes, 1);
	serve(e.fc, yaml_v2, "\"v2\"");
	run_ms(&e, 400);
	cr_assert_eq(e.changes, 2, "the new configuration is announced");
	cr_assert_eq(e.n_services, 1);
	cr_assert_eq(e.interval_ms, 1000);
	/* A broken answer: the agent keeps what it has. */
	pthread_mutex_lock(&e.fc->mu);
	strcpy(e.fc->config, "{\"services\":[{\"name\":\"dns\",\"protocol\":\"smtp\"}]}");
	strcpy(e.fc->etag, "\"v3\"");
	pthread_mutex_unlock(&e.fc->mu);
	run_ms(&e, 400);
	cr_assert_eq(e.changes, 2, "an invalid configuration is not applied");
	config_fetch_get_stats(e.cf, &st);
	cr_assert_gt(st.errors, 0);
	cr_assert_str_eq(st.etag, "\"v2\"");
	env_fini(&e, 0);
}

Test(config_fetch, cached_configuration_used_while_collector_down)
{
	struct env e;
	struct config_fetch_stats st;
	char dir[64];

	env_init(&e, 1);
	serve(e.fc, yaml_v2, "\"v2\"");
	new_fetcher(&e, 60000);
	config_fetch_start(e.cf);
	run_ms(&e, 300);
	cr_assert_eq(e.changes, 1);
	strcpy(dir, e.tmp);
	env_fini(&e, 1);

	/* Restart with the collector gone. */
	env_init(&e, 0);
	rmdir(e.tmp);
	strcpy(e.tmp, dir);
	new_fetcher(&e, 60000);
	struct inventory *inv = config_fetch_load_cached(e.cf);
	cr_assert_not_null(inv, "the last good configuration is on disk");
	cr_assert_eq(inv->n_services, 1);
	cr_assert_eq(inv->services[0].n_address, 2);
	inventory_free(inv);
	config_fetch_start(e.cf);
	run_ms(&e, 500);
	config_fetch_get_stats(e.cf, &st);
	cr_assert_eq(e.changes, 0, "nothing new while the collector is down");
	cr_assert_geq(st.errors, 1);
	cr_assert_leq(st.fetches, 1, "with a configuration in hand, retries wait the interval");
	env_fini(&e, 0);
}

Test(config_fetch, no_configuration_retries_with_backoff)
{
	struct env e;
	struct config_fetch_stats st;

	env_init(&e, 1);
	serve(e.fc, yaml_v1, "\"v1\"");
	e.fc->token = "other";
	new_fetcher(&e, 60000);
	config_fetch_start(e.cf);
	run_ms(&e, 1000);
	config_fetch_get_stats(e.cf, &st);
	cr_assert_eq(e.changes, 0);
	cr_assert_eq(e.fc->unauthorized, (int)st.fetches);
	/* 50, 100, 200, 400 ms (+-10 %): 4 or 5 tries in a second, not hundreds */
	cr_assert(st.fetches >= 3 && st.fetches <= 6, "%" PRIu64 " fetches", st.fetches);
	env_fini(&e, 0);
}

/* Two collectors: the first is down, the fetch asks the second at once; the
 * reporter's set is the same object, so both follow one choice. */
Test(config_fetch, follows_the_collector_order, .init = cr_redirect_stderr)
{
	struct env e;
	struct config_fetch_stats st;
	struct collector_set cs;
	char err[256], list[300];
	struct fake_collector *b;

	log_init("test", 0, 0);
	env_init(&e, 0); /* e.url: nobody listens */
	b = fc_start();
	cr_assert_not_null(b);
	b->token = "tok";
	serve(b, yaml_v2, "\"v2\"");
	snprintf(list, sizeof(list), "%s,http://127.0.0.1:%d", e.url, b->port);
	collector_set_init(&cs, 600000);
	cr_assert_eq(collector_set_add(&cs, list, err, sizeof(err)), 0, "%s", err);
	struct config_fetch_options o = {
	    .http = {.collectors = &cs, .token = "tok", .timeout_ms = 2000},
	    .cache_dir = e.tmp,
	    .interval_ms = 60000,
	    .retry_min_ms = 5000,
	};
	e.cf = config_fetch_new(&e.loop, e.cu, &o, on_change, &e);
	cr_assert_not_null(e.cf);
	config_fetch_start(e.cf);
	run_ms(&e, 1000);
	cr_assert_eq(e.changes, 1, "configured by the second, without waiting for a retry");
	cr_assert_eq(b->gets, 1);
	cr_assert_eq(cs.cur, 1);
	config_fetch_get_stats(e.cf, &st);
	cr_assert_eq(st.errors, 1);
	env_fini(&e, 0);
	fc_stop(b);
}
