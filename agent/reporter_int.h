/* agent/reporter_int.h - the reporter's state, shared by reporter.c (timers,
 * the send path, the exchange's outcome) and reporter_state.c (link state and
 * its log lines, backoff, what an answer acknowledges, the clock offset).
 * Not for use outside the reporter. */
#ifndef ANYCAST_REPORTER_INT_H
#define ANYCAST_REPORTER_INT_H

#include "agent/clock_offset.h"
#include "agent/reporter.h"

enum reporter_timer { T_NONE, T_BATCH, T_NOW, T_BACKOFF };
enum reporter_link { L_UNKNOWN, L_UP, L_DOWN, L_AUTH };

/* Owns its timers, the request body and the exchange in flight; borrows the
 * loop, the curl_uv and the spool. */
struct reporter {
	uv_loop_t *loop;
	struct curl_uv *cu;
	struct spool *sp;
	struct reporter_options opt;
	uv_timer_t timer, drain_timer, hb_timer;
	uint64_t last_post_ms; /* loop time of the last POST */
	enum reporter_timer mode;
	int handles_open, closing;
	void (*close_cb)(void *);
	void *close_arg;
	/* the POST in flight, or the spool sync before it */
	int in_flight, syncing;
	struct reporter_xfer x;
	char *body;
	size_t body_cap;
	size_t batch_n, batch_cur, batch_ceiling; /* ceiling: below the smallest 413 */
	uint64_t batch_first, batch_last;
	/* failures */
	unsigned failures;
	enum reporter_link link;
	int64_t down_since_ms;
	int refused; /* a 403: the token is another agent's; nothing more is sent */
	struct clock_offset_watch clock;
	uint64_t rng;
	/* shutdown */
	int draining;
	void (*drain_cb)(void *);
	void *drain_arg;
	uint64_t start_ns;
	struct reporter_stats st;
};

/* Results waiting in the spool. */
uint64_t reporter_depth(const struct reporter *rep);
/* The collector of the last exchange (else the one in use). */
const char *reporter_base_url(const struct reporter *rep);
/* A failed exchange (why: one line); auth: the token was refused. Logs once
 * per change of state, counts, remembers why. */
void reporter_state_failure(struct reporter *rep, const char *why, int auth);
/* A successful exchange: logs the recovery, resets the failure count. */
void reporter_state_success(struct reporter *rep);
/* Delay before the next attempt: exponential with full jitter in [d/2, d],
 * at least what Retry-After asks (retry_after ms, < 0: none; capped at an
 * hour); auth failures wait at least 10 s. Counts the failure. */
int64_t reporter_state_backoff_ms(struct reporter *rep, int auth, int64_t retry_after);
/* A 2xx answer (ans: its JSON) to the batch in flight: the seq it
 * acknowledges up to, 0 for none. Raises the spool's seq when the collector
 * holds a higher one than ours. */
uint64_t reporter_state_ack_point(struct reporter *rep, json_t *ans);
/* A 2xx answer x (ans: its JSON, may be NULL): with "time_ms", estimate the
 * clock offset, keep it for the self-report and warn or log the recovery
 * (clock_offset_watch_update). Without it (an older collector): nothing. */
void reporter_state_clock(struct reporter *rep, const struct reporter_xfer *x, json_t *ans);

#endif
