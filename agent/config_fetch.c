/* agent/config_fetch.c - fetch, validate, cache and announce the services the
 * collector wants this agent to probe (see config_fetch.h). */
#include "agent/config_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/result.h"
#include "common/timefmt.h"

#define CONFIG_MAX (4u << 20)

struct config_fetch {
	uv_loop_t *loop;
	struct curl_uv *cu;
	struct config_fetch_options opt;
	config_fetch_fn fn;
	void *ctx;
	uv_timer_t timer;
	struct reporter_xfer x;
	int in_flight, closing, failing, refused;
	unsigned failures;
	char *current; /* canonical JSON of the configuration in use, NULL: none */
	char refused_etag[128];
	char agent[RESULT_NAME_MAX]; /* "agent" of the configuration in use, "" if none */
	void (*close_cb)(void *);
	void *close_arg;
	struct config_fetch_stats st;
};

static void fetch(struct config_fetch *cf);

static void cache_path(const struct config_fetch *cf, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", cf->opt.cache_dir, name);
}

/* Replace file name in the cache directory with data, durably. */
static int save_file(struct config_fetch *cf, const char *name, const char *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, rc = 0;

	cache_path(cf, name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		log_warnx("cannot save %s: %s", path, strerror(-rc));
	}
	return rc;
}

/* The "agent" a configuration is for into out ("" when it does not say). */
static void config_agent(const json_t *j, char *out, size_t len)
{
	const char *a = json_string_value(json_object_get(j, "agent"));

	snprintf(out, len, "%s", a && reporter_name_ok(a) ? a : "");
}

/* The collector serves configurations for the token's agent: one for
 * another agent than our --name means the token is that agent's. Reports
 * it (once) and stops fetching; returns 1 then, else 0. */
static int wrong_agent(struct config_fetch *cf, const char *token_agent, const char *why)
{
	const char *ours = cf->opt.http.agent_name;

	if (!cf->opt.wrong_agent || !ours || !ours[0])
		return 0;
	if (!why && (!token_agent[0] || strcmp(token_agent, ours) == 0))
		return 0;
	cf->refused = 1;
	cf->opt.wrong_agent(cf->opt.wrong_agent_arg, token_agent,
	                    why ? why : "the configuration is for another agent");
	return 1;
}

static char *canonical(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Parse and validate; on success *canon is set (caller frees). */
static struct inventory *parse(const json_t *j, char **canon, char *err, size_t errlen)
{
	struct inventory *inv = inventory_services_from_json(j, err, errlen);
	if (inv && !(*canon = canonical(j))) {
		inventory_free(inv);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return inv;
}

struct inventory *config_fetch_load_cached(struct config_fetch *cf)
{
	char path[PATH_MAX], err[256], *canon = NULL;
	json_error_t je;
	struct inventory *inv;
	FILE *f;

	cache_path(cf, "config.json", path, sizeof(path));
	json_t *j = json_load_file(path, 0, &je);
	if (!j) {
		if (access(path, F_OK) == 0)
			log_warnx("%s: %s (line %d): ignored", path, je.text, je.line);
		return NULL;
	}
	inv = parse(j, &canon, err, sizeof(err));
	if (!inv) {
		json_decref(j);
		log_warnx("%s: %s: ignored", path, err);
		return NULL;
	}
	free(cf->current);
	cf->current = canon;
	cf->st.have_config = 1;
	config_agent(j, cf->agent, sizeof(cf->agent));
	json_decref(j);
	log_info("using the cached configuration %s (%d services)", path, inv->n_services);
	cache_path(cf, "config.etag", path, sizeof(path));
	if ((f = fopen(path, "re"))) {
		if (!fgets(cf->st.etag, sizeof(cf->st.etag), f))
			cf->st.etag[0] = '\0';
		cf->st.etag[strcspn(cf->st.etag, "\r\n")] = '\0';
		fclose(f);
	}
	return inv;
}

static void on_timer(uv_timer_t *t)
{
	fetch(t->data);
}

static void schedule(struct config_fetch *cf, int ok)
{
	int64_t d = cf->opt.interval_ms;

	if (!ok && !cf->st.have_config) {
		/* No configuration at all: ask again soon, backing off. */
		int64_t r = cf->opt.retry_min_ms;
		for (unsigned i = 0; i < cf->failures && r < d; i++)
			r *= 2;
		if (r < d)
			d = r;
	}
	/* Spread agents started together: +-10 %. */
	d += (int64_t)(uv_hrtime() % (uint64_t)(d / 5 + 1)) - d / 10;
	uv_timer_start(&cf->timer, on_timer, (uint64_t)d, 0);
}

/* 0: unchanged or applied, -1: refused, 1: for another agent (reported). */
static int apply(struct config_fetch *cf, const struct reporter_xfer *x)
{
	char err[256], agent[RESULT_NAME_MAX], *canon = NULL;
	json_error_t je;
	json_t *j = json_loadb(x->resp ? x->resp : "", x->resp_len, 0, &je);
	struct inventory *inv;

	if (!j) {
		log_warnx("collector sent a configuration that is not JSON (%s): keeping the "
		          "last good one",
		          je.text);
		return -1;
	}
	/* Another agent's configuration is neither used nor cached. */
	config_agent(j, agent, sizeof(agent));
	if (wrong_agent(cf, agent, NULL)) {
		json_decref(j);
		return 1;
	}
	inv = parse(j, &canon, err, sizeof(err));
	json_decref(j);
	if (!inv) {
		/* Warn once per version, not at every fetch. */
		if (strcmp(cf->refused_etag, x->etag) != 0 || !x->etag[0])
			log_warnx("collector sent an invalid configuration (%s): keeping the "
			          "last good one",
			          err);
		snprintf(cf->refused_etag, sizeof(cf->refused_etag), "%s", x->etag);
		return -1;
	}
	if (x->etag[0] || cf->st.etag[0]) {
		snprintf(cf->st.etag, sizeof(cf->st.etag), "%s", x->etag);
		save_file(cf, "config.etag", cf->st.etag, strlen(cf->st.etag));
	}
	if (cf->current && strcmp(cf->current, canon) == 0) {
		free(canon);
		inventory_free(inv);
		return 0;
	}
	save_file(cf, "config.json", x->resp, x->resp_len);
	snprintf(cf->agent, sizeof(cf->agent), "%s", agent);
	free(cf->current);
	cf->current = canon;
	cf->st.have_config = 1;
	cf->st.changes++;
	log_info("new configuration from the collector: %d services (etag %s)", inv->n_services,
	         cf->st.etag[0] ? cf->st.etag : "none");
	cf->fn(cf->ctx, inv);
	inventory_free(inv);
	return 0;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct config_fetch *cf = arg;
	struct reporter_xfer *x = &cf->x;
	char why[256], who[RESULT_NAME_MAX];
	int ok = 0, again = 0, r;

	(void)easy;
	cf->in_flight = 0;
	x->done_ms = time_now_ms();
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (rc == CURLE_ABORTED_BY_CALLBACK || cf->closing) {
		reporter_xfer_cleanup(x);
		return;
	}
	cf->st.fetches++;
	if (rc == CURLE_OK && x->status == 304) {
		/* The configuration in use, so also its agent. */
		if (wrong_agent(cf, cf->agent, NULL))
			goto refused;
		cf->st.not_modified++;
		ok = 1;
	} else if (rc == CURLE_OK && x->status == 200) {
		if ((r = apply(cf, x)) == 1)
			goto refused;
		ok = r == 0;
	} else if (reporter_xfer_wrong_agent(x, rc, who, sizeof(who)) &&
	           wrong_agent(cf, who, reporter_xfer_error(x, rc, why, sizeof(why)))) {
		goto refused;
	} else {
		reporter_xfer_error(x, rc, why, sizeof(why));
		if (!cf->failing)
			log_warnx(
			    "cannot fetch the configuration from %s: %s; %s", x->base_url, why,
			    cf->st.have_config ? "keeping the last good one" : "waiting for one");
		/* Several collectors: ask the next one now (429: this one is
		 * up and wants us slower). */
		if (cf->opt.http.collectors && !(rc == CURLE_OK && x->status == 429))
			again = collector_set_failed(cf->opt.http.collectors, x->collector, why,
			                             time_now_ms());
	}
	if (ok && cf->opt.http.collectors)
		collector_set_ok(cf->opt.http.collectors, x->collector);
	if (ok && cf->failing)
		log_info("configuration fetched from %s again", x->base_url);
	if (!ok)
		cf->st.errors++;
	cf->failing = !ok;
	cf->failures = ok ? 0 : cf->failures + 1;
	reporter_xfer_cleanup(x);
	if (again)
		uv_timer_start(&cf->timer, on_timer, 0, 0);
	else
		schedule(cf, ok);
	return;
refused:
	cf->st.errors++;
	reporter_xfer_cleanup(x); /* and no next fetch */
}

static void fetch(struct config_fetch *cf)
{
	char inm[160], *hdr = NULL;
	int rc;

	if (cf->in_flight || cf->closing || cf->refused)
		return;
	if (cf->st.etag[0] && cf->st.have_config) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", cf->st.etag);
		hdr = inm;
	}
	rc = reporter_xfer_setup(&cf->x, &cf->opt.http, "/api/v1/agent/config", hdr, CONFIG_MAX);
	if (rc == 0 && curl_uv_add(cf->cu, cf->x.easy, on_done, cf) < 0)
		rc = -EIO;
	if (rc < 0) {
		reporter_xfer_cleanup(&cf->x);
		log_warnx("cannot start a configuration request: %s", strerror(-rc));
		cf->st.errors++;
		cf->failures++;
		schedule(cf, 0);
		return;
	}
	cf->in_flight = 1;
}

struct config_fetch *config_fetch_new(uv_loop_t *loop, struct curl_uv *cu,
                                      const struct config_fetch_options *opt, config_fetch_fn fn,
                                      void *ctx)
{
	struct config_fetch *cf = calloc(1, sizeof(*cf));

	if (!cf)
		return NULL;
	cf->loop = loop;
	cf->cu = cu;
	cf->opt = *opt;
	if (cf->opt.interval_ms <= 0)
		cf->opt.interval_ms = 60000;
	if (cf->opt.retry_min_ms <= 0)
		cf->opt.retry_min_ms = 2000;
	cf->fn = fn;
	cf->ctx = ctx;
	uv_timer_init(loop, &cf->timer);
	cf->timer.data = cf;
	return cf;
}

void config_fetch_start(struct config_fetch *cf)
{
	fetch(cf);
}

void config_fetch_get_stats(const struct config_fetch *cf, struct config_fetch_stats *st)
{
	*st = cf->st;
}

static void on_closed(uv_handle_t *h)
{
	struct config_fetch *cf = h->data;
	void (*cb)(void *) = cf->close_cb;
	void *arg = cf->close_arg;

	reporter_xfer_cleanup(&cf->x);
	free(cf->current);
	free(cf);
	if (cb)
		cb(arg);
}

void config_fetch_close(struct config_fetch *cf, void (*cb)(void *arg), void *arg)
{
	cf->closing = 1;
	cf->close_cb = cb;
	cf->close_arg = arg;
	uv_close((uv_handle_t *)&cf->timer, on_closed);
}
