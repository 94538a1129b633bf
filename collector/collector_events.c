/* collector/collector_events.c - what happens after a commit and on each
 * tick: results feed metrics and catchment tracking; events get their id,
 * are stored, pushed to SSE clients and handed to the alerter; the catchment
 * snapshot is cached for reads, pushed and saved; retention horizons handed
 * to the writer. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/api_int.h"
#include "collector/collector.h"

#define SNAPSHOT_MIN_INTERVAL_MS 2000   /* state changes saved at most this often */
#define SNAPSHOT_MAX_INTERVAL_MS 60000  /* and at least this often (last_seen) */
#define SNAPSHOT_KEEP_MS 10000        /* cached rows freed after this long unread */
#define SSE_RESULTS_MS 5000             /* "results" pushed at most this often */
#define SSE_CATCHMENTS_MAX 1000         /* rows pushed inline; beyond, a refetch hint */

void
collector_broadcast(struct collector *c, const char *name, json_t *data)
{
	sse_broadcast(c->sse, name, data);
}

/* Forget the cached rows. */
static void
drop_snapshot(struct collector *c)
{
	free(c->snap);
	c->snap = NULL;
	c->snap_cap = c->n_snap = 0;
	c->snap_valid = 0;
}

/* The rows for reads, sorted by agent, service and family. They are written
 * again into the same array after each tick or event (last_seen and RTT move
 * every round), and the array is freed once nobody read it for a while: a
 * collector nobody reads keeps no copy (10,000 rows are 5 MB). */
size_t
collector_catchments(struct collector *c, const struct catchment_row **rows)
{
	size_t bound = catchment_row_bound(c->catchment);

	if (!c->snap_valid || c->snap == NULL) {
		if (c->snap == NULL || c->snap_cap < bound) {
			drop_snapshot(c);
			c->snap = malloc((bound > 0 ? bound : 1) * sizeof(*c->snap));
			c->snap_cap = c->snap != NULL ? bound : 0;
		}
		c->n_snap = c->snap != NULL ? catchment_rows(c->catchment, c->snap, c->snap_cap) : 0;
		c->snap_valid = c->snap != NULL;
	}
	c->snap_read_ms = time_now_ms();
	*rows = c->snap;
	return c->n_snap;
}

/* Store, attribute, push: every event goes this way. Alerts follow
 * incidents (collector_incidents.c), not single events. */
static void
on_event(void *ctx, const struct event *in)
{
	struct collector *c = ctx;
	struct store_job *job;
	int64_t now = time_now_ms();
	struct event ev;
	json_t *js;

	/* Only the leader raises events (a follower classifies nothing). */
	if (!c->is_leader)
		return;
	if ((job = store_job_new(STORE_JOB_EVENT)) == NULL) {
		log_warnx("event %s lost: out of memory", in->type);
		return;
	}
	job->ev = *in;
	job->ev.id = c->next_event_id++;
	if (job->ev.time_ms == 0)
		job->ev.time_ms = now;
	log_info("event %" PRId64 " %s agent=%s service=%s from=%s to=%s", job->ev.id,
		 job->ev.type, job->ev.agent, job->ev.service, job->ev.from_instance,
		 job->ev.to_instance);
	metrics_count_event(c->metrics, job->ev.type);
	/* Stored before the incident that lists it (one writer queue, in order);
	 * the job is the writer's from here on. */
	ev = job->ev;
	store_writer_submit(c->writer, job);
	ev.incident_id = c->incidents != NULL ? incidents_event(c->incidents, &ev, now) : 0;
	js = api_event_json(&ev);
	sse_broadcast(c->sse, "event", js);
	json_decref(js);
	c->snapshot_dirty = 1;
	c->snap_valid = 0;
}

void
collector_raise_event(struct collector *c, const struct event *ev)
{
	on_event(c, ev);
}

void
collector_on_delivery(void *ctx, const char *route, const struct event *ev, int attempt, int ok,
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
	/* Only the leader classifies. Feed runs of new results: duplicates
	 * were seen before, and so were results another collector stored that
	 * the leader already read from the store (collector_feed.c). */
	if (!c->is_leader)
		return;
	while (i < n) {
		size_t j;

		while (i < n && !(stored[i] && collector_feed_claim(c, &r[i])))
			i++;
		for (j = i + 1; j < n && stored[j] && collector_feed_claim(c, &r[j]); j++)
			;
		if (i >= n)
			break;
		if (j > i) {
			catchment_observe(c->catchment, &r[i], j - i, now, on_event, c);
			integrity_observe(c->integrity, &r[i], j - i, now, on_event, c);
		}
		i = j;
	}
}

void
collector_save_snapshot(struct collector *c, struct catchment_row *rows, size_t n)
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

/* Push the catchment rows to dashboards (inline up to SSE_CATCHMENTS_MAX). */
static void
push_catchments(struct collector *c)
{
	const struct catchment_row *rows;
	size_t n = collector_catchments(c, &rows);
	int64_t now = time_now_ms();
	json_t *arr = json_array(), *msg;

	for (size_t i = 0; i < n && n <= SSE_CATCHMENTS_MAX; i++)
		json_array_append_new(arr, api_catchment_json(c, &rows[i], now));
	msg = json_pack("{s:o,s:I,s:b}", "catchments", arr, "total", (json_int_t)n, "complete",
			n <= SSE_CATCHMENTS_MAX);
	sse_broadcast(c->sse, "catchments", msg);
	json_decref(msg);
}

/* Each second: silence turns into outages; the rows' last_seen and RTT
 * moved, so cached rows are written again when next read; a change of what the rows show is
 * pushed; the rows are saved when they changed (at most every 2 s) and at
 * least every minute. */
void
collector_on_tick(uv_timer_t *t)
{
	struct collector *c = t->data;
	struct catchment_row *rows = NULL;
	int64_t now = time_now_ms();
	uint64_t sig;
	size_t n;

	collector_role_tick(c, now);
	if (c->is_leader) {
		catchment_tick(c->catchment, now, on_event, c);
		integrity_tick(c->integrity, now, on_event, c);
		collector_watch_silence(c, now);
		if (c->incidents != NULL)
			incidents_tick(c->incidents, now);
	}
	c->snap_valid = 0;
	if (c->snap != NULL && now - c->snap_read_ms >= SNAPSHOT_KEEP_MS)
		drop_snapshot(c);
	sig = catchment_signature(c->catchment, &n);
	if (sig != c->catchment_sig) {
		c->catchment_sig = sig;
		c->snapshot_dirty = 1;
		if (c->sse != NULL)
			push_catchments(c);
	}
	/* The stored snapshot is the leader's; followers read it. */
	if (c->is_leader &&
	    ((c->snapshot_dirty && now - c->snapshot_saved_ms >= SNAPSHOT_MIN_INTERVAL_MS) ||
	     (n > 0 && now - c->snapshot_saved_ms >= SNAPSHOT_MAX_INTERVAL_MS))) {
		n = catchment_snapshot(c->catchment, &rows);
		if (rows != NULL && n == 0) {
			free(rows);
			collector_save_snapshot(c, NULL, 0);
		} else if (rows != NULL) {
			collector_save_snapshot(c, rows, n);
		}
	}
	if (c->results_unannounced > 0 && now - c->results_announced_ms >= SSE_RESULTS_MS) {
		json_t *msg = json_pack("{s:I}", "stored", (json_int_t)c->results_unannounced);

		/* A hint for charts to fetch, not the results themselves. */
		sse_broadcast(c->sse, "results", msg);
		json_decref(msg);
		c->results_unannounced = 0;
		c->results_announced_ms = now;
	}
	sse_tick(c->sse, now);
}

void
collector_on_retention(uv_timer_t *t)
{
	struct collector *c = t->data;

	int64_t now = time_now_ms();

	/* One collector enforces retention for the shared store; its writer
	 * deletes in paced steps until nothing older is left. */
	if (c->writer != NULL && c->is_leader)
		store_writer_set_retention(c->writer, now - c->inv->retention_ms,
					   now - c->inv->rollup_retention_ms,
					   now - c->inv->event_retention_ms);
}
