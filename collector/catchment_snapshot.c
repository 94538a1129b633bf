/* collector/catchment_snapshot.c - the catchment state as rows (API,
 * dashboard, persistence) and seeding it back after a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"

struct snap_ctx {
	struct catchment_row *rows;
	size_t n, cap;
	int failed;
};

static int
snap_stream(void *ctx, const char *key, void *val)
{
	struct snap_ctx *s = ctx;
	const struct cm_stream *st = val;
	struct catchment_row *row, *nr;
	size_t cap;

	(void)key;
	if (s->failed || (st->last_round_ms == 0 && st->cur[0] == '\0' && !st->outage &&
			  !st->unknown))
		return 0; /* never evaluated (restored rows carry last_seen) */
	if (s->n == s->cap) {
		cap = s->cap == 0 ? 16 : s->cap * 2;
		if ((nr = realloc(s->rows, cap * sizeof(*nr))) == NULL) {
			s->failed = 1;
			return 0;
		}
		s->rows = nr;
		s->cap = cap;
	}
	row = &s->rows[s->n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->agent, sizeof(row->agent), "%s", st->agent);
	snprintf(row->service, sizeof(row->service), "%s", st->service);
	row->family = st->family;
	if (st->unknown) {
		snprintf(row->status, sizeof(row->status), "unknown_instance");
		snprintf(row->identity, sizeof(row->identity), "%s", st->unknown_identity);
	} else if (st->outage) {
		snprintf(row->status, sizeof(row->status), "outage");
	} else {
		snprintf(row->status, sizeof(row->status), "%s", st->split ? "split" : "ok");
		snprintf(row->instance, sizeof(row->instance), "%s", st->cur);
		snprintf(row->identity, sizeof(row->identity), "%s", st->identity);
	}
	row->since_ms = st->since_ms;
	row->last_seen_ms = st->last_seen_ms;
	row->rtt_ms = st->outage ? -1 : st->rtt_ms;
	row->suboptimal = st->suboptimal;
	row->flapping = st->flapping;
	return 0;
}

size_t
catchment_snapshot(const struct catchment *c, struct catchment_row **rows)
{
	struct snap_ctx s = { NULL, 0, 0, 0 };

	/* foreach does not modify the map when the callback returns 0 */
	catchment_map_foreach((struct catchment_map *)&c->streams, snap_stream, &s);
	if (s.failed) {
		free(s.rows);
		s.rows = NULL;
		s.n = 0;
	}
	/* Never NULL unless out of memory, even for no rows: callers may hand
	 * the array to qsort/memcpy, which must not see NULL. */
	if (s.rows == NULL)
		s.rows = malloc(sizeof(*s.rows));
	*rows = s.rows;
	return s.n;
}

/* Open incidents survive a restart as far as the row tells: an outage or an
 * unknown identity stays open (its recovery will be raised); the instance
 * answering becomes the new home, so no catchment incident is open. */
void
catchment_restore(struct catchment *c, const struct catchment_row *rows, size_t n)
{
	struct cm_stream *st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (catchment_find_service(c, rows[i].service) == NULL ||
		    (rows[i].family != 4 && rows[i].family != 6))
			continue;
		if ((st = catchment_stream(c, rows[i].agent, rows[i].service, rows[i].family)) == NULL)
			return;
		snprintf(st->cur, sizeof(st->cur), "%s", rows[i].instance);
		snprintf(st->home, sizeof(st->home), "%s", rows[i].instance);
		st->since_ms = rows[i].since_ms;
		st->last_seen_ms = rows[i].last_seen_ms;
		st->last_round_ms = rows[i].last_seen_ms;
		st->rtt_ms = rows[i].rtt_ms;
		if (strcmp(rows[i].status, "outage") == 0) {
			st->outage = 1;
			st->silent = c->th.outage_rounds;
		} else if (strcmp(rows[i].status, "unknown_instance") == 0) {
			st->unknown = 1;
			snprintf(st->unknown_identity, sizeof(st->unknown_identity), "%s",
				 rows[i].identity);
		} else {
			snprintf(st->identity, sizeof(st->identity), "%s", rows[i].identity);
		}
	}
}
