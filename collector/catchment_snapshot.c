/* collector/catchment_snapshot.c - the catchment state as rows (API,
 * dashboard, persistence) and seeding it back after a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"

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

/* dst = src, cut to size (snprintf's "%s" costs more than the rest of a
 * row; 10,000 rows are refilled after every tick a dashboard reads). */
static void
copy_name(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
has_instance(const struct catchment *c, const char *service, const char *name)
{
	const struct cm_service *svc = catchment_find_service((struct catchment *)c, service);

	for (int i = 0; svc != NULL && i < svc->n_instances; i++)
		if (strcmp(svc->instances[i].name, name) == 0)
			return 1;
	return 0;
}

/* A split row: every instance of the split window with its share. */
static void
fill_split(const struct catchment *c, const struct cm_stream *st, struct catchment_row *row)
{
	int counts[4] = { 0 }, i, k, total = 0;
	int64_t last = st->n_hist > 0 ? st->hist[st->n_hist - 1].t : 0;

	row->n_split = 0;
	for (i = 0; i < st->n_hist; i++) {
		if (last - st->hist[i].t >= c->th.split_window_ms)
			continue;
		for (k = 0; k < row->n_split; k++)
			if (strcmp(row->split[k].instance, st->hist[i].inst) == 0)
				break;
		if (k == row->n_split) {
			if (k == 4)
				continue;
			copy_name(row->split[k].instance, sizeof(row->split[k].instance),
				  st->hist[i].inst);
			row->n_split++;
		}
		counts[k]++;
		total++;
	}
	for (k = 0; k < row->n_split; k++)
		row->split[k].share = total > 0 ? (double)counts[k] / total : 0;
}

/* The row of one stream; 0 when it has none. */
static int
fill_row(const struct catchment *c, const struct cm_stream *st, struct catchment_row *row)
{
	const char *instance, *identity, *status, *home;

	if (!row_view(st, &instance, &identity, &status))
		return 0;
	copy_name(row->agent, sizeof(row->agent), st->agent);
	copy_name(row->service, sizeof(row->service), st->service);
	row->family = st->family;
	copy_name(row->status, sizeof(row->status), status);
	copy_name(row->instance, sizeof(row->instance), instance);
	copy_name(row->identity, sizeof(row->identity), identity);
	row->since_ms = st->since_ms;
	row->last_seen_ms = st->last_seen_ms;
	row->rtt_ms = st->outage ? -1 : st->rtt_ms;
	row->suboptimal = st->suboptimal;
	row->flapping = st->flapping;
	home = catchment_configured_home(c, st->agent);
	if (home[0] == '\0' || !has_instance(c, st->service, home))
		home = st->home;
	copy_name(row->home, sizeof(row->home), home);
	row->away = instance[0] != '\0' && home[0] != '\0' && strcmp(instance, home) != 0;
	row->last_round_ms = st->last_round_ms;
	row->n_split = 0;
	if (st->split) {
		fill_split(c, st, row);
		if (st->split_since_ms > 0)
			row->since_ms = st->split_since_ms;
	}
	return 1;
}

static int
order_cmp(const void *a, const void *b)
{
	const struct cm_stream *x = *(const struct cm_stream *const *)a;
	const struct cm_stream *y = *(const struct cm_stream *const *)b;
	int r = strcmp(x->agent, y->agent);

	if (r == 0)
		r = strcmp(x->service, y->service);
	return r != 0 ? r : x->family - y->family;
}

struct order_ctx {
	struct cm_stream **v;
	size_t n, cap;
};

static int
collect_stream(void *ctx, const char *key, void *val)
{
	struct order_ctx *o = ctx;

	(void)key;
	if (o->n < o->cap)
		o->v[o->n++] = val;
	return 0;
}

/* The streams sorted by (agent, service, family), kept until a stream is
 * added or removed. -1 when out of memory. */
static int
ensure_order(struct catchment *c)
{
	struct order_ctx o = { NULL, 0, hashmap_count(&c->streams) };

	if (c->order_valid)
		return 0;
	if ((o.v = malloc((o.cap > 0 ? o.cap : 1) * sizeof(*o.v))) == NULL)
		return -1;
	hashmap_foreach(&c->streams, collect_stream, &o);
	qsort(o.v, o.n, sizeof(*o.v), order_cmp);
	free(c->order);
	c->order = o.v;
	c->n_order = o.n;
	c->order_valid = 1;
	return 0;
}

size_t
catchment_row_bound(const struct catchment *c)
{
	return hashmap_count(&c->streams);
}

size_t
catchment_rows(struct catchment *c, struct catchment_row *rows, size_t cap)
{
	size_t i, n = 0;

	if (ensure_order(c) != 0)
		return 0;
	for (i = 0; i < c->n_order && n < cap; i++)
		n += (size_t)fill_row(c, c->order[i], &rows[n]);
	return n;
}

size_t
catchment_snapshot(struct catchment *c, struct catchment_row **rows)
{
	/* Sized once: a 10,000-row array is 5 MB, and doubling would leave
	 * half of it unused. Never NULL unless out of memory, even for no rows:
	 * callers may hand the array to qsort/memcpy, which must not see NULL. */
	size_t cap = catchment_row_bound(c);

	if ((*rows = malloc((cap > 0 ? cap : 1) * sizeof(**rows))) == NULL)
		return 0;
	return catchment_rows(c, *rows, cap);
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

	hashmap_foreach((struct hashmap *)&c->streams, sig_stream, &s);
	if (n_rows != NULL)
		*n_rows = s.n;
	return s.sum;
}

/* Open incidents survive a restart as far as the row tells: an outage or an
 * unknown identity stays open (its recovery will be raised), and so does a
 * catchment away from its stored home (its return will be raised). */
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
		catchment_stream_set(c, &st->home, rows[i].home[0] != '\0' ? rows[i].home
									 : rows[i].instance);
		st->away = rows[i].instance[0] != '\0' && rows[i].home[0] != '\0' &&
			   strcmp(rows[i].instance, rows[i].home) != 0;
		st->since_ms = rows[i].since_ms;
		st->last_seen_ms = rows[i].last_seen_ms;
		st->last_round_ms = rows[i].last_round_ms > 0 ? rows[i].last_round_ms
							       : rows[i].last_seen_ms;
		st->rtt_ms = rows[i].rtt_ms;
		if (strcmp(rows[i].status, "outage") == 0) {
			st->outage = 1;
			st->silent = c->th.outage_rounds;
		} else if (strcmp(rows[i].status, "unknown_instance") == 0) {
			st->unknown = 1;
			catchment_stream_set(c, &st->unknown_identity, rows[i].identity);
			/* The row names no instance while the identity is unknown: the
			 * stream stays where it was, at home as far as the row tells
			 * (else the next round sees it away from home to nothing and
			 * raises a false catchment_change). */
			catchment_stream_set(c, &st->cur, st->home);
		} else {
			catchment_stream_set(c, &st->identity, rows[i].identity);
		}
	}
}
