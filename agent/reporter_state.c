/* agent/reporter_state.c - the reporter's view of the collector: link state
 * changes and their log lines, backoff with jitter, and how far an answer
 * acknowledges the batch, the clock offset against the collector's (see
 * reporter_int.h). */
#include "agent/reporter_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/result.h"
#include "common/timefmt.h"

#define AUTH_BACKOFF_MIN_MS 10000

static uint64_t next_rand(struct reporter *rep)
{
	/* xorshift64*: jitter only, no need for more. */
	rep->rng ^= rep->rng >> 12;
	rep->rng ^= rep->rng << 25;
	rep->rng ^= rep->rng >> 27;
	return rep->rng * 2685821657736338717ull;
}

const char *reporter_base_url(const struct reporter *rep)
{
	if (rep->x.base_url)
		return rep->x.base_url;
	if (rep->opt.http.collectors)
		return collector_set_url(rep->opt.http.collectors, rep->opt.http.collectors->cur);
	return rep->opt.http.base_url;
}

void reporter_state_failure(struct reporter *rep, const char *why, int auth)
{
	int64_t now = time_now_ms();
	enum reporter_link was = rep->link;
	uint64_t waiting = reporter_depth(rep);

	rep->st.send_errors++;
	rep->st.reachable = 0;
	snprintf(rep->st.last_error, sizeof(rep->st.last_error), "%s", why);
	if (was == L_UP || was == L_UNKNOWN)
		rep->down_since_ms = now;
	rep->link = auth ? L_AUTH : L_DOWN;
	if (auth && was != L_AUTH)
		log_warnx("collector %s refuses this agent's token (%s): check --token-file; "
		          "results stay spooled (%" PRIu64 ")",
		          reporter_base_url(rep), why, waiting);
	else if (!auth && was != L_DOWN)
		log_warnx("collector %s unreachable: %s; spooling (%" PRIu64 " waiting)",
		          reporter_base_url(rep), why, waiting);
	else
		log_debug("collector %s: %s (%u failures)", reporter_base_url(rep), why,
		          rep->failures + 1);
}

void reporter_state_success(struct reporter *rep)
{
	if (rep->link == L_DOWN || rep->link == L_AUTH)
		log_info("collector %s reachable again after %" PRId64 " s; %" PRIu64
		         " results waiting",
		         reporter_base_url(rep), (time_now_ms() - rep->down_since_ms) / 1000,
		         reporter_depth(rep));
	else if (rep->link == L_UNKNOWN)
		log_info("collector %s reachable", reporter_base_url(rep));
	rep->link = L_UP;
	rep->st.reachable = 1;
	rep->failures = 0;
}

int64_t reporter_state_backoff_ms(struct reporter *rep, int auth, int64_t retry_after)
{
	int64_t lo = rep->opt.backoff_min_ms, hi = rep->opt.backoff_max_ms;
	if (auth && lo < AUTH_BACKOFF_MIN_MS)
		lo = AUTH_BACKOFF_MIN_MS;
	if (hi < lo)
		hi = lo;
	int64_t d = lo;
	for (unsigned i = 0; i < rep->failures && d < hi; i++)
		d *= 2;
	if (d > hi)
		d = hi;
	d = d / 2 + (int64_t)(next_rand(rep) % (uint64_t)(d / 2 + 1));
	if (retry_after > d)
		d = retry_after < 3600000 ? retry_after : 3600000;
	rep->failures++;
	return d;
}

uint64_t reporter_state_ack_point(struct reporter *rep, json_t *ans)
{
	json_t *js = json_object_get(ans, "stored"), *jd = json_object_get(ans, "duplicates"),
	       *jl = json_object_get(ans, "last_seq"), *jx = json_object_get(ans, "dropped");
	struct spool_stats ss;
	uint64_t last = 0;

	if (json_is_integer(jd))
		rep->st.duplicates += (uint64_t)json_integer_value(jd);
	spool_get_stats(rep->sp, &ss);
	if (json_is_integer(jl) && json_integer_value(jl) > 0)
		last = (uint64_t)json_integer_value(jl);
	if (last > RESULT_SEQ_MAX) {
		/* No agent gets there: a record planted with a stolen token must
		 * not push our numbering to the end of the range, nor acknowledge
		 * what was not stored. */
		log_warnx("collector claims seq %" PRIu64 " for this agent, beyond any valid seq:"
		          " ignored",
		          last);
		last = 0;
	} else if (last >= ss.next_seq) {
		log_warnx("collector holds seq %" PRIu64 " but ours ends at %" PRIu64
		          " (spool directory lost?): continuing from %" PRIu64,
		          last, ss.next_seq - 1, last + 1);
		spool_raise_seq(rep->sp, last);
	}
	/* "dropped": records the collector does not keep (a service or address
	 * not in its inventory); absent from older collectors. */
	if (json_is_integer(js) && json_is_integer(jd) &&
	    (uint64_t)(json_integer_value(js) + json_integer_value(jd) +
	               (json_is_integer(jx) ? json_integer_value(jx) : 0)) == rep->batch_n)
		return rep->batch_last;
	if (last >= rep->batch_last)
		return rep->batch_last;
	if (last >= rep->batch_first)
		return last;
	return 0;
}

void reporter_state_clock(struct reporter *rep, const struct reporter_xfer *x, json_t *ans)
{
	json_t *t = ans ? json_object_get(ans, "time_ms") : NULL;
	struct clock_offset_est e;

	/* Only the collector's own millisecond time: the Date header's 1 s
	 * resolution gave warnings about clocks that were right. */
	if (!json_is_integer(t) ||
	    clock_offset_estimate(x->sent_ms, json_integer_value(t), x->done_ms, &e) < 0)
		return;
	rep->st.have_offset = 1;
	rep->st.clock_offset_ms = -e.offset_ms; /* ours minus theirs, as reported */
	rep->st.clock_bound_ms = e.bound_ms;
	switch (clock_offset_watch_update(&rep->clock, &e)) {
	case CLOCK_OFFSET_WARN:
		log_warnx("clock: this host's clock is %.3f s %s the collector's (+-%.3f s, %u "
		          "reports in a row): result times are off by as much; check its time "
		          "synchronisation",
		          fabs(e.offset_ms) / 1000, e.offset_ms > 0 ? "behind" : "ahead of",
		          e.bound_ms / 1000, rep->clock.reports);
		break;
	case CLOCK_OFFSET_BACK:
		log_info("clock: back within %.3f s of the collector's (%+.3f s +-%.3f s)",
		         rep->clock.threshold_ms / 1000, -e.offset_ms / 1000, e.bound_ms / 1000);
		break;
	case CLOCK_OFFSET_QUIET:
		break;
	}
	rep->st.clock_warned = rep->clock.warned;
}
