/* collector/collector_feed.c - every result reaches the leader's
 * classification once, whichever collector stored it. Several collectors
 * share one PostgreSQL store and each ingests its own agents' reports; the
 * leader classifies the results it stored itself at once (as a lone
 * collector does) and, each tick, reads from the store the results others
 * stored. A cursor per agent (the highest seq classified) makes both paths
 * claim each seq at most once: a result is classified only when its seq is
 * above the cursor, which then moves to it. On gaining leadership the
 * cursors start at what the store holds then (see docs/SCALING.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/collector.h"

#define FEED_LIMIT_PER_AGENT 5000 /* results read per agent and tick */

struct feed_cursor {
	uint64_t seq;
};

static struct feed_cursor *
cursor_of(struct collector *c, const char *agent)
{
	struct feed_cursor *k = hashmap_get(&c->feed, agent);

	if (k != NULL)
		return k;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	if (hashmap_put(&c->feed, agent, k) != 0) {
		free(k);
		return NULL;
	}
	return k;
}

int
collector_feed_claim(struct collector *c, const struct result *r)
{
	struct feed_cursor *k;

	if (!c->shared_store)
		return 1;
	if ((k = cursor_of(c, r->agent)) == NULL)
		return 1; /* out of memory: classify rather than lose it */
	if (r->seq <= k->seq)
		return 0;
	k->seq = r->seq;
	return 1;
}

static int
free_cursor(void *ctx, const char *key, void *val)
{
	(void)ctx;
	(void)key;
	free(val);
	return 1;
}

void
collector_feed_clear(struct collector *c)
{
	hashmap_foreach(&c->feed, free_cursor, NULL);
	hashmap_clear(&c->feed);
}

int
collector_feed_start(struct collector *c)
{
	json_t *rows = store_query_agents(c->reader), *row;
	struct feed_cursor *k;
	size_t i;

	if (rows == NULL)
		return -EIO;
	collector_feed_clear(c);
	json_array_foreach (rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_int_t seq = json_integer_value(json_object_get(row, "last_seq"));

		if (name != NULL && (k = cursor_of(c, name)) != NULL)
			k->seq = seq > 0 ? (uint64_t)seq : 0;
	}
	json_decref(rows);
	return 0;
}

/* The rows of one poll, fed agent by agent (they come ordered so). */
struct feed_batch {
	struct collector *c;
	struct result *r;
	size_t n, cap;
	int64_t now;
	size_t fed;
};

static void
feed_event(void *ctx, const struct event *ev)
{
	collector_raise_event(ctx, ev);
}

static void
flush(struct feed_batch *b)
{
	if (b->n == 0)
		return;
	collector_agent_reported(b->c, b->r[0].agent, b->now);
	catchment_observe(b->c->catchment, b->r, b->n, b->now, feed_event, b->c);
	integrity_observe(b->c->integrity, b->r, b->n, b->now, feed_event, b->c);
	b->fed += b->n;
	b->n = 0;
}

static void
on_row(void *ctx, const struct result *r)
{
	struct feed_batch *b = ctx;

	if (b->n > 0 && strcmp(b->r[0].agent, r->agent) != 0)
		flush(b);
	if (!collector_feed_claim(b->c, r))
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct result *nr = realloc(b->r, cap * sizeof(*nr));

		if (nr == NULL) {
			flush(b);
			if (b->cap == 0)
				return;
		} else {
			b->r = nr;
			b->cap = cap;
		}
	}
	b->r[b->n++] = *r;
}

int
collector_feed_poll(struct collector *c, int64_t now)
{
	const struct inventory *inv = c->inv;
	const char **names = calloc(inv->n_agents > 0 ? inv->n_agents : 1, sizeof(*names));
	uint64_t *after = calloc(inv->n_agents > 0 ? inv->n_agents : 1, sizeof(*after));
	struct feed_batch b = { .c = c, .now = now };
	int rc = -ENOMEM;

	if (names == NULL || after == NULL)
		goto out;
	for (int i = 0; i < inv->n_agents; i++) {
		struct feed_cursor *k = hashmap_get(&c->feed, inv->agents[i].name);

		names[i] = inv->agents[i].name;
		after[i] = k != NULL ? k->seq : 0;
	}
	rc = store_each_result_after(c->reader, names, after, (size_t)inv->n_agents,
				     FEED_LIMIT_PER_AGENT, on_row, &b);
	flush(&b);
	if (rc != 0)
		log_debug("feed: %s", store_errmsg(c->reader));
	else if (b.fed > 0)
		log_debug("feed: %zu results stored by other collectors", b.fed);
	c->feed_results += b.fed;
out:
	free(b.r);
	free(names);
	free(after);
	return rc;
}
