/* collector/catchment_snapshot.c - the catchment state as rows (API,
 * dashboard, persistence) and seeding it back after a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"

struct snap_ctx {
	struct catchment_row *rows;
	size_t n, cap;
};

/* Whether a stream has a row, and the instance and status the row shows. */
static int
row_view(const struct cm_stream *st, const char **instance, const char **identity,
	 const char **status)
{
	if (st->last_round_ms == 0 && st->cur[0] == '\0' && !st->outage && !st->unknown)
		return 0; /* never evaluated (restored rows carry last_seen) */
	if (st->unknown) {
		*status = "unknown_instance";
		*instance = "";
		*identity = st->unknown_identity;
	} else if (st->outage) {
		*status = "outage";
		*instance = *identity = "";
	} else {
		*status = st->split ? "split" : "ok";
		*instance = st->cur;
		*identity = st->identity;
	}
	return 1;
}

static int
snap_stream(void *ctx, const char *key, void *val)
{
	struct snap_ctx *s = ctx;
	const struct cm_stream *st = val;
	const char *instance, *identity, *status;
	struct catchment_row *row;

	(void)key;
	if (!row_view(st, &instance, &identity, &status) || s->n == s->cap)
		return 0;
	row = &s->rows[s->n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->agent, sizeof(row->agent), "%s", st->agent);
	snprintf(row->service, sizeof(row->service), "%s", st->service);
	row->family = st->family;
	snprintf(row->status, sizeof(row->status), "%s", status);
	snprintf(row->instance, sizeof(row->instance), "%s", instance);
	snprintf(row->identity, sizeof(row->identity), "%s", identity);
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
	/* Sized once: a 10,000-row array is 5 MB, and doubling would leave
	 * half of it unused. Never NULL unless out of memory, even for no rows:
	 * callers may hand the array to qsort/memcpy, which must not see NULL. */
	struct snap_ctx s = { NULL, 0, c->streams.n };

	if ((s.rows = malloc((s.cap > 0 ? s.cap : 1) * sizeof(*s.rows))) == NULL) {
		*rows = NULL;
		return 0;
	}
	/* foreach does not modify the map when the callback returns 0 */
	catchment_map_foreach((struct catchment_map *)&c->streams, snap_stream, &s);
	*rows = s.rows;
	return s.n;
}

struct sig_ctx {
	uint64_t sum;
	size_t n;
};

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0x1f) * 1099511628211ULL;
}

static int
sig_stream(void *ctx, const char *key, void *val)
{
	struct sig_ctx *s = ctx;
	const struct cm_stream *st = val;
	const char *instance, *identity, *status;
	uint64_t h = 1469598103934665603ULL;

	(void)key;
	if (!row_view(st, &instance, &identity, &status))
		return 0;
	h = fnv(fnv(fnv(fnv(h, st->agent), st->service), instance), status);
	h = (h ^ (uint64_t)(st->family * 4 + st->suboptimal * 2 + st->flapping)) *
	    1099511628211ULL;
	h = (h ^ (uint64_t)st->since_ms) * 1099511628211ULL;
	s->sum += h;
	s->n++;
	return 0;
}

uint64_t
catchment_signature(const struct catchment *c, size_t *n_rows)
{
	struct sig_ctx s = { 0, 0 };

	catchment_map_foreach((struct catchment_map *)&c->streams, sig_stream, &s);
	if (n_rows != NULL)
		*n_rows = s.n;
	return s.sum;
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
		catchment_stream_set(c, &st->cur, rows[i].instance);
		catchment_stream_set(c, &st->home, rows[i].instance);
		st->since_ms = rows[i].since_ms;
		st->last_seen_ms = rows[i].last_seen_ms;
		st->last_round_ms = rows[i].last_seen_ms;
		st->rtt_ms = rows[i].rtt_ms;
		if (strcmp(rows[i].status, "outage") == 0) {
			st->outage = 1;
			st->silent = c->th.outage_rounds;
		} else if (strcmp(rows[i].status, "unknown_instance") == 0) {
			st->unknown = 1;
			catchment_stream_set(c, &st->unknown_identity, rows[i].identity);
		} else {
			catchment_stream_set(c, &st->identity, rows[i].identity);
		}
	}
}
