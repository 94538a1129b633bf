/* agent/config_fetch.h - central configuration: GET {collector}/api/v1/agent/config
 * at start and periodically with If-None-Match, parse the services JSON
 * (inventory_services_from_json), report changes, and keep the last good
 * configuration on disk (config.json + config.etag in the spool directory) so
 * the agent starts and keeps measuring while the collector is unreachable.
 * A configuration for another agent than ours, or a 403, means the token is
 * another agent's: reported once, and nothing is fetched any more. */
#ifndef ANYCAST_CONFIG_FETCH_H
#define ANYCAST_CONFIG_FETCH_H

#include <stdint.h>
#include <uv.h>

#include "agent/reporter.h"
#include "common/curl_uv.h"
#include "common/inventory.h"

/* A new configuration, on the loop. inv is valid during the call only. */
typedef void (*config_fetch_fn)(void *ctx, const struct inventory *inv);

struct config_fetch_options {
	struct reporter_http http; /* strings borrowed, must outlive the fetcher */
	const char *cache_dir;     /* where config.json and config.etag live */
	int64_t interval_ms;       /* between fetches; 0: 60000 */
	int64_t retry_min_ms;      /* first retry while no configuration is known; 0: 2000 */
	/* http.agent_name is compared with the answer's "agent" */
	reporter_wrong_agent_fn wrong_agent; /* NULL: a 403 is retried like other errors */
	void *wrong_agent_arg;
};

struct config_fetch_stats {
	uint64_t fetches, changes, not_modified, errors;
	int have_config;
	char etag[128];
};

struct config_fetch;

/* cu is borrowed. NULL on allocation failure. Nothing happens before
 * config_fetch_start(). */
struct config_fetch *config_fetch_new(uv_loop_t *loop, struct curl_uv *cu,
                                      const struct config_fetch_options *opt, config_fetch_fn fn,
                                      void *ctx);
/* The configuration cached on disk, or NULL (none, or unreadable: logged).
 * Caller owns the result (inventory_free). Its ETag is used by the next fetch. */
struct inventory *config_fetch_load_cached(struct config_fetch *cf);
/* Fetch now, then every interval_ms. fn runs for each configuration that
 * differs from the last one (the cached one included). */
void config_fetch_start(struct config_fetch *cf);
void config_fetch_get_stats(const struct config_fetch *cf, struct config_fetch_stats *st);
/* Stop; like the reporter, the curl_uv must be closed first. cb runs when
 * memory is freed. */
void config_fetch_close(struct config_fetch *cf, void (*cb)(void *arg), void *arg);

#endif
