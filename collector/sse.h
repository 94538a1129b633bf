/* collector/sse.h - the Server-Sent Events stream (GET /api/v1/stream): its
 * clients (registration, cap, pings), the broadcast of named JSON messages,
 * and a ring of the last messages, so that a client that reconnects with
 * Last-Event-ID first gets what it missed. Loop thread only.
 *
 * Every broadcast message carries "id: N", N increasing by one per message.
 * A client reconnecting with N gets every message after N still in the ring
 * (at most SSE_RING_MAX messages, SSE_RING_BYTES of text), in order; when N
 * is older than the ring, or unknown (another process's), it gets one
 * "event: reset" instead: refetch everything. */
#ifndef ANYCAST_SSE_H
#define ANYCAST_SSE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "collector/http_server.h"

#define SSE_MAX_CLIENTS 256
#define SSE_RING_MAX 1024
#define SSE_RING_BYTES (4u << 20)
#define SSE_PING_MS 15000

struct sse;

struct sse_stats {
	int clients;          /* connected now */
	uint64_t messages;    /* broadcast since start */
	uint64_t replayed;    /* messages sent again to reconnecting clients */
	uint64_t resets;      /* reconnects answered with "reset" */
	uint64_t lagging;     /* streams ended because the client did not keep up */
};

/* A stream with no clients whose first message gets id last_id + 1. The
 * collector passes its start time in microseconds, so that ids also grow
 * across restarts and a client of the previous process gets a reset.
 * NULL on allocation failure. */
struct sse *sse_new(uint64_t last_id);
/* Ends every client's stream (as sse_end_all) and frees everything. NULL is
 * a no-op. */
void sse_free(struct sse *s);
/* Ends every client's stream (their connections stay usable) and refuses
 * new clients from then on: for a graceful stop, before the HTTP server
 * closes. Broadcasts still go to the ring. */
void sse_end_all(struct sse *s);

/* Take over ex as a new client: starts the stream (text/event-stream),
 * sends "retry" and a "hello" message, then what the client missed after
 * last_event_id (the Last-Event-ID header or ?last_event_id= value; NULL or
 * "" for a new client: its hello carries the current id instead). The
 * module owns ex until the client leaves or the stream ends. Returns 0, or
 * -EBUSY (SSE_MAX_CLIENTS connected) or -ESHUTDOWN (after sse_end_all), and
 * then the caller still owns ex and must answer it. */
int sse_add(struct sse *s, struct http_exchange *ex, const char *last_event_id);

/* Send "id: N\nevent: name\ndata: <data as compact JSON>\n\n" to every
 * client and keep it in the ring (also with no client: one may reconnect).
 * data is not stolen. A client that does not keep up (its buffers full) has
 * its stream ended: it reconnects and gets the rest from the ring. NULL s
 * or data is a no-op. */
void sse_broadcast(struct sse *s, const char *name, json_t *data);

/* Each second or so: a comment line to every client every SSE_PING_MS, so
 * that proxies and browsers see a live connection. */
void sse_tick(struct sse *s, int64_t now_ms);

void sse_get_stats(const struct sse *s, struct sse_stats *st);

#endif
