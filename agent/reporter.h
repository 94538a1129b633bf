/* agent/reporter.h - sends spooled results to the collector in batches
 * (POST {collector}/api/v1/results) over libcurl on the agent's loop, removes
 * them from the spool once the collector acknowledged them, backs off with
 * jitter on errors (honouring 429/503 and Retry-After) and adds the agent's
 * self-report ("status") to every POST.
 *
 * One POST is in flight at a time: the collector answers with the highest seq
 * it holds for the agent, which acknowledges a prefix of the spool only when
 * batches arrive in order. Every answer's "time_ms" feeds the clock offset
 * estimate (clock_offset.h). Also holds the HTTP plumbing config_fetch.c
 * shares. */
#ifndef ANYCAST_REPORTER_H
#define ANYCAST_REPORTER_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "agent/collector_set.h"
#include "agent/spool.h"
#include "common/curl_uv.h"

/* How to reach the collector. Strings are borrowed: they must outlive every
 * object that uses them. */
struct reporter_http {
	const char *base_url;    /* "http://host:port" or "https://...", no trailing path */
	/* NULL: base_url alone. Else every request goes to the set's current
	 * collector (base_url unused) and the outcome is reported back to it;
	 * borrowed and shared by the reporter and the config fetcher. */
	struct collector_set *collectors;
	const char *token;       /* bearer token, NULL or "" for none */
	const char *agent_name;  /* sent as X-Anycast-Agent (the collector refuses a
	                            token that is another agent's), NULL or "": none */
	const char *ca_file;     /* NULL: the system's CAs */
	const char *client_cert; /* NULL: no client certificate */
	const char *client_key;
	/* The same files read into memory (NULL: use the paths above), for an
	 * agent that can no longer read them (--user); owned by the caller,
	 * valid as long as the reporter and the config fetcher. */
	const struct curl_blob *ca_blob, *client_cert_blob, *client_key_blob;
	int64_t timeout_ms; /* whole transfer, queue time included; 0: 30 s */
};

/* One HTTP exchange. Embedded in its user; reporter_xfer_start() and
 * reporter_xfer_finish() bracket the life of easy. */
struct reporter_xfer {
	CURL *easy;
	struct curl_slist *headers;
	char *resp; /* response body, NUL-terminated, owned */
	size_t resp_len, resp_cap, resp_max;
	long status;              /* HTTP status, 0 when none */
	int64_t retry_after_ms;   /* from Retry-After, -1 when absent */
	int64_t sent_ms, done_ms; /* wall clock at start and end */
	char etag[128];           /* from ETag, "" when absent */
	const char *base_url;     /* the collector asked; kept by cleanup (for logs) */
	size_t collector;         /* its index in http.collectors */
	char errbuf[CURL_ERROR_SIZE];
};

/* Prepare x for a request to base_url (or the collector set's pick) + path: method, headers (token, agent
 * name, extra_header when non-NULL), TLS, timeouts, a response body bounded to
 * resp_max bytes. Returns 0 or -ENOMEM/-EINVAL. */
int reporter_xfer_setup(struct reporter_xfer *x, const struct reporter_http *h, const char *path,
                        const char *extra_header, size_t resp_max);
/* Release everything in x (safe on a zeroed or finished x). */
void reporter_xfer_cleanup(struct reporter_xfer *x);
/* A one-line description of a failed exchange into buf: curl's error or
 * "HTTP 503: {error}". Returns buf. */
const char *reporter_xfer_error(const struct reporter_xfer *x, CURLcode rc, char *buf, size_t len);

/* 1 when name is spelled like an agent name of the inventory
 * ([A-Za-z0-9._:@-], 1..63 characters), else 0. */
int reporter_name_ok(const char *name);

/* A finished exchange answered 403, the collector's "wrong agent": the
 * agent the token belongs to, from {"error":"token belongs to agent \"A\",
 * ..."}, into out. Returns 1 when x is such an answer (out is "" when the
 * error does not name the agent), 0 otherwise. */
int reporter_xfer_wrong_agent(const struct reporter_xfer *x, CURLcode rc, char *out, size_t len);

/* The collector says the token is another agent's: a 403 answer, or a
 * configuration for another agent. token_agent: the agent the token belongs
 * to ("" when the answer does not say); why: the answer in one line. Both
 * valid during the call. Runs on the loop, at most once per object: after it
 * the reporter or fetcher sends nothing more. */
typedef void (*reporter_wrong_agent_fn)(void *arg, const char *token_agent, const char *why);

/* Adds fields to the status object of the next POST (called on the loop). */
typedef void (*reporter_status_fn)(void *arg, json_t *status);

struct reporter_options {
	struct reporter_http http;
	const char *name;       /* agent name for the self-report */
	const char *path;       /* NULL: "/api/v1/results"; the guard's "/api/v1/guard" */
	const char *items_key;  /* the body's array of spooled records; NULL: "results"
	                           (at most 40 characters, [a-z_]) */
	size_t batch_max;       /* results per POST; 0: 500 */
	int64_t batch_delay_ms; /* wait this long to fill a batch; 0: 1000 */
	int64_t backoff_min_ms; /* first retry delay; 0: 1000 */
	int64_t backoff_max_ms; /* longest retry delay; 0: 60000 */
	size_t body_max;        /* bytes of results per POST; 0: 4 MB */
	int64_t heartbeat_ms;   /* status-only POST ("results":[]) after this long
	                           without any; 0: 60000, < 0: never */
	reporter_status_fn status_fn;
	void *status_arg;
	/* NULL: a 403 is retried like a refused token (401) */
	reporter_wrong_agent_fn wrong_agent;
	void *wrong_agent_arg;
	/* clock offset warning (clock_offset.h); 0: the defaults */
	int64_t clock_warn_ms;
	unsigned clock_warn_reports;
};

struct reporter_stats {
	uint64_t posts, posts_ok, send_errors, results_sent, results_acked, bytes_sent, duplicates,
	    rejected;
	int reachable;          /* 1 after a successful POST, 0 after a failure */
	int have_offset;        /* an answer carried "time_ms" */
	double clock_offset_ms; /* our clock minus the collector's, last answer */
	double clock_bound_ms;  /* its error bound (half the round trip) */
	int clock_warned;       /* a clock offset warning is standing */
	char last_error[256];
};

struct reporter;

/* sp and cu are borrowed and must outlive the reporter. NULL on bad options
 * (logged) or allocation failure. */
struct reporter *reporter_new(uv_loop_t *loop, struct curl_uv *cu, struct spool *sp,
                              const struct reporter_options *opt);
/* New results are in the spool: send now when a batch is full, else within
 * batch_delay_ms. Cheap; call after every append. */
void reporter_kick(struct reporter *rep);
/* Shutdown: send what is spooled back to back, without delays or retries,
 * until nothing waits, an error, or timeout_ms; then cb runs once (on the
 * loop, never from inside this call). What is not sent stays spooled. */
void reporter_drain(struct reporter *rep, int64_t timeout_ms, void (*cb)(void *arg), void *arg);
void reporter_get_stats(const struct reporter *rep, struct reporter_stats *st);
/* Fill the self-report object (with "collector", the URL in use) (also used by tests and the bench). */
void reporter_fill_status(struct reporter *rep, json_t *status);
/* Close the timers; cb runs when memory is freed. The curl_uv must have no
 * transfer of this reporter in flight: close it first (its abort runs our
 * completion, which then leaves the spool untouched). */
void reporter_close(struct reporter *rep, void (*cb)(void *arg), void *arg);

#endif
