/* collector/http_limits.c - HTTP server limits: defaults, per-client token buckets,
 * connections per source, bounded buffers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http_conn.h"

#define RATE_SETS 1024 /* power of two */
#define RATE_WAYS 4

struct rate_slot {
	char client[48]; /* "" = free */
	double tokens;
	uint64_t last_ms;
};

struct http_ratelimit {
	double rate, burst;
	struct rate_slot slots[RATE_SETS * RATE_WAYS];
};

/* Open addressing with linear probing; a slot whose count is 0 is free.
 * There are at least twice as many slots as connections can be open, so
 * a probe always ends at a free slot. */
struct source_slot {
	uint8_t key[HTTP_SOURCE_KEY_LEN];
	int count;
};

struct http_sources {
	size_t mask;
	struct source_slot slots[];
};

void
http_limits_defaults(struct http_limits *lim)
{
	if (lim->max_header_bytes == 0)
		lim->max_header_bytes = 16 * 1024;
	if (lim->max_headers <= 0)
		lim->max_headers = 64;
	if (lim->max_body_bytes == 0)
		lim->max_body_bytes = 16u * 1024 * 1024;
	if (lim->max_connections <= 0)
		lim->max_connections = 1024;
	if (lim->max_conns_per_source == 0)
		lim->max_conns_per_source = 64;
	if (lim->idle_timeout_ms <= 0)
		lim->idle_timeout_ms = 60000;
	if (lim->request_timeout_ms <= 0)
		lim->request_timeout_ms = 10000;
	if (lim->rate_per_client < 0)
		lim->rate_per_client = 0;
	if (lim->rate_per_client > 0 && lim->rate_burst < 1)
		lim->rate_burst = lim->rate_per_client < 1 ? 1 : lim->rate_per_client;
}

struct http_ratelimit *
http_limits_rate_new(double rate, double burst)
{
	struct http_ratelimit *rl;

	if (!(rate > 0) || !(burst >= 1))
		return NULL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	rl->rate = rate;
	rl->burst = burst;
	return rl;
}

void
http_limits_rate_free(struct http_ratelimit *rl)
{
	free(rl);
}

static uint32_t
hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static uint32_t
hash_key(const uint8_t *key)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < HTTP_SOURCE_KEY_LEN; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

int
http_limits_rate_take(struct http_ratelimit *rl, const char *client, uint64_t now_ms)
{
	struct rate_slot *set, *slot = NULL, *oldest;
	double wait;
	int i;

	set = &rl->slots[(hash_str(client) & (RATE_SETS - 1)) * RATE_WAYS];
	oldest = &set[0];
	for (i = 0; i < RATE_WAYS; i++) {
		if (strncmp(set[i].client, client, sizeof(set[i].client) - 1) == 0 &&
		    set[i].client[0] != '\0') {
			slot = &set[i];
			break;
		}
		if (oldest->client[0] == '\0')
			continue; /* a free slot already found */
		if (set[i].client[0] == '\0' || set[i].last_ms < oldest->last_ms)
			oldest = &set[i];
	}
	if (slot == NULL) {
		/* Evict the least recently seen client of this set: a full
		 * bucket is what a new client starts with anyway. */
		slot = oldest;
		snprintf(slot->client, sizeof(slot->client), "%s", client);
		slot->tokens = rl->burst;
		slot->last_ms = now_ms;
	}
	if (now_ms > slot->last_ms) {
		slot->tokens += (double)(now_ms - slot->last_ms) * rl->rate / 1000.0;
		if (slot->tokens > rl->burst)
			slot->tokens = rl->burst;
		slot->last_ms = now_ms;
	}
	if (slot->tokens >= 1.0) {
		slot->tokens -= 1.0;
		return 0;
	}
	wait = ceil((1.0 - slot->tokens) / rl->rate);
	return wait < 1 ? 1 : wait > 86400 ? 86400 : (int)wait;
}

int
http_limits_source_key(const struct sockaddr *sa, uint8_t key[HTTP_SOURCE_KEY_LEN])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *a6;

	memset(key, 0, HTTP_SOURCE_KEY_LEN);
	if (sa->sa_family == AF_INET) {
		/* As an IPv4-mapped address: no /64 key ends in ffff:a.b.c.d. */
		memcpy(key, v4mapped, sizeof(v4mapped));
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a6, v4mapped, sizeof(v4mapped)) == 0) {
		memcpy(key, a6, HTTP_SOURCE_KEY_LEN); /* the same client as over IPv4 */
		return 0;
	}
	/* An IPv6 client owns at least a /64: it could take a new address
	 * for every connection, so the /64 is the source. */
	memcpy(key, a6, 8);
	return 0;
}

struct http_sources *
http_limits_sources_new(int max_connections)
{
	struct http_sources *s;
	size_t n = 16;

	while (n < 2 * (size_t)(max_connections > 0 ? max_connections : 1))
		n *= 2;
	if ((s = calloc(1, sizeof(*s) + n * sizeof(s->slots[0]))) == NULL)
		return NULL;
	s->mask = n - 1;
	return s;
}

void
http_limits_sources_free(struct http_sources *s)
{
	free(s);
}

/* The slot holding key, or the free slot where it would go. */
static struct source_slot *
source_find(struct http_sources *s, const uint8_t *key)
{
	size_t i = hash_key(key) & s->mask;

	for (size_t n = 0; n <= s->mask; n++, i = (i + 1) & s->mask) {
		if (s->slots[i].count == 0 ||
		    memcmp(s->slots[i].key, key, HTTP_SOURCE_KEY_LEN) == 0)
			return &s->slots[i];
	}
	return NULL; /* full: cannot happen while the table is sized as above */
}

int
http_limits_source_add(struct http_sources *s, const uint8_t key[HTTP_SOURCE_KEY_LEN], int max)
{
	struct source_slot *slot = source_find(s, key);

	if (slot == NULL)
		return -ENOSPC;
	if (slot->count >= max)
		return -EBUSY;
	if (slot->count == 0)
		memcpy(slot->key, key, HTTP_SOURCE_KEY_LEN);
	return ++slot->count;
}

int
http_limits_source_count(struct http_sources *s, const uint8_t key[HTTP_SOURCE_KEY_LEN])
{
	struct source_slot *slot = source_find(s, key);

	return slot != NULL ? slot->count : 0;
}

void
http_limits_source_remove(struct http_sources *s, const uint8_t key[HTTP_SOURCE_KEY_LEN])
{
	struct source_slot *slot = source_find(s, key);
	size_t i, j, home;

	if (slot == NULL || slot->count == 0 || --slot->count > 0)
		return;
	/* The slot is free now. Move later entries of the same probe run
	 * back into the gap, so that every entry stays reachable from its
	 * home slot without a run of free slots in between (no tombstones). */
	i = (size_t)(slot - s->slots);
	for (j = (i + 1) & s->mask; s->slots[j].count != 0; j = (j + 1) & s->mask) {
		home = hash_key(s->slots[j].key) & s->mask;
		/* Entry j may move to i only if its home is not in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		s->slots[i] = s->slots[j];
		s->slots[j].count = 0;
		i = j;
	}
}

int
http_limits_buf_append(struct http_buf *b, const char *data, size_t len, size_t max)
{
	size_t cap;
	char *p;

	if (len > max || b->len > max - len)
		return -E2BIG;
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		if ((p = realloc(b->data, cap)) == NULL)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void
http_limits_buf_free(struct http_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
