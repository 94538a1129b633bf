/* collector/collector_role.c - leader or follower. Several collectors may
 * share one PostgreSQL store (docs/SCALING.md): all of them ingest and serve
 * reads, and only the leader (collector/leader.c elects it) classifies
 * catchments and runs incidents and alerts. On gaining leadership a
 * collector rebuilds that state from the store by the start-up path (event
 * and incident ids, the catchment snapshot, open incidents, their alerts
 * remembered as firing); on losing it, it drops the state at once so it can
 * page nobody. A follower refreshes its catchment rows from the leader's
 * stored snapshot for reads. A collector on SQLite is alone: always leader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/collector.h"

#define FOLLOWER_REFRESH_MS 2000 /* the leader saves its snapshot at most this often */

/* The stored catchment snapshot into a new tracking state (replacing ours). */
static int
load_catchments(struct collector *c)
{
	struct catchment_row *rows = NULL;
	struct catchment *cm;
	size_t n = 0;

	if (store_load_catchments(c->reader, &rows, &n) != 0)
		return -1;
	if ((cm = catchment_new(c->inv)) == NULL) {
		free(rows);
		return -1;
	}
	if (n > 0)
		catchment_restore(cm, rows, n);
	free(rows);
	catchment_free(c->catchment);
	c->catchment = cm;
	c->snap_valid = 0;
	return 0;
}

static void
count_one(void *ctx, const struct incident *inc)
{
	(void)inc;
	(*(size_t *)ctx)++;
}

static void
step_down(struct collector *c)
{
	c->is_leader = 0;
	c->lead_pending = 0;
	incidents_free(c->incidents);
	c->incidents = NULL;
	if (c->alerter != NULL)
		alerter_close(c->alerter, NULL, NULL);
	c->alerter = NULL;
	collector_watch_free(c);
	collector_feed_clear(c);
	c->role_changes++;
	log_info("follower: classification, incidents and alerts left to the leader");
}

/* Rebuild from the store, then act. On a read error, stay follower and try
 * again next tick (the lock is ours: nobody else leads meanwhile). */
static void
take_lead(struct collector *c)
{
	int64_t maxid;
	size_t open = 0;

	c->lead_pending = 1;
	if ((maxid = store_max_event_id(c->reader)) < 0 || load_catchments(c) != 0 ||
	    collector_feed_start(c) != 0) {
		log_warnx("leader: cannot rebuild state from the store yet: %s",
			  store_errmsg(c->reader));
		return;
	}
	incidents_free(c->incidents);
	c->incidents = NULL;
	if (collector_incidents_start(c, c->reader) != 0) {
		log_warnx("leader: cannot load open incidents yet: %s", store_errmsg(c->reader));
		incidents_free(c->incidents);
		c->incidents = NULL;
		return;
	}
	c->next_event_id = maxid + 1;
	collector_watch_free(c);
	c->lead_pending = 0;
	c->is_leader = 1;
	c->role_changes++;
	if (c->alerter == NULL)
		collector_alerter_open(c);
	else
		collector_incidents_resend(c);
	incidents_each_open(c->incidents, count_one, &open);
	log_info("leader: state rebuilt from the store (%zu catchment rows, %zu open incidents)",
		 catchment_row_bound(c->catchment), open);
}

static void
on_role(void *ctx, int is_leader)
{
	struct collector *c = ctx;

	if (c->stopping)
		return;
	if (is_leader)
		take_lead(c);
	else
		step_down(c);
}

int
collector_role_start(struct collector *c, char *err, size_t errlen)
{
	c->is_leader = 1;
	if (!store_is_postgres(c->db_path))
		return 0;
	c->shared_store = 1;
	if ((c->leader = leader_new(c->loop, c->db_path, on_role, c, err, errlen)) == NULL)
		return -1;
	if (leader_is_leader(c->leader)) {
		/* What the store holds now was classified by whoever stored it
		 * (or is as lost as at any restart): only newer results count. */
		if (collector_feed_start(c) != 0) {
			snprintf(err, errlen, "cannot read agents: %s", store_errmsg(c->reader));
			return -1;
		}
		return 0;
	}
	c->is_leader = 0;
	incidents_free(c->incidents);
	c->incidents = NULL;
	return 0;
}

void
collector_role_tick(struct collector *c, int64_t now)
{
	if (!c->shared_store)
		return;
	if (c->lead_pending && leader_is_leader(c->leader))
		take_lead(c);
	if (c->is_leader) {
		collector_feed_poll(c, now);
	} else if (now - c->follower_refresh_ms >= FOLLOWER_REFRESH_MS) {
		c->follower_refresh_ms = now;
		if (load_catchments(c) != 0)
			log_debug("follower: cannot read the catchment snapshot: %s",
				  store_errmsg(c->reader));
	}
}

void
collector_role_stop(struct collector *c)
{
	leader_close(c->leader);
	c->leader = NULL;
}
