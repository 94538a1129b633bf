/* collector/http_limits.c - HTTP server limits: defaults, per-client token buckets, bounded buffers. */
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
