/* collector/sse.c - Server-Sent Events: the client list, the broadcast of
 * numbered messages, the ring that replays them after a reconnect, pings. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/sse.h"

struct sse_client {
	struct sse_client *next, *prev;
	struct http_exchange *ex;
	struct sse *s;
};

struct ring_msg {
	uint64_t id;
	char *text; /* "id: ...\n\n", owned */
	size_t len;
};

struct sse {
	struct sse_client *clients; /* list */
	int n_clients;
	int closed;                 /* after sse_end_all: no new clients */
	/* A write may close a connection at once, and with it run the close
	 * callback of that client, or of every client on that connection:
	 * busy is the client being written to (its callback leaves it to the
	 * writer, setting busy_gone); cursor is the next one a loop visits
	 * (the callback moves it past a client it unlinks). */
	struct sse_client *busy, *cursor;
	int busy_gone;

	struct ring_msg ring[SSE_RING_MAX];
	size_t head, n;             /* oldest at ring[head], n kept */
	size_t bytes;               /* text held by the ring */
	uint64_t last_id;           /* of the newest message, kept or not */

	int64_t ping_ms;
	uint64_t messages, replayed, resets, lagging;
};

struct sse *
sse_new(uint64_t last_id)
{
	struct sse *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->last_id = last_id;
	return s;
}

static void
unlink_client(struct sse *s, struct sse_client *cl)
{
	if (s->cursor == cl)
		s->cursor = cl->next;
	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		s->clients = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	cl->next = cl->prev = NULL;
	s->n_clients--;
}

/* The HTTP layer's callback: the client went away, the exchange is freed. */
static void
client_gone(void *arg)
{
	struct sse_client *cl = arg;
	struct sse *s = cl->s;

	unlink_client(s, cl);
	if (cl == s->busy) {
		s->busy_gone = 1;
		return;
	}
	free(cl);
}

/* End one stream on our side (stream_end drops the close callback). */
static void
client_end(struct sse *s, struct sse_client *cl)
{
	unlink_client(s, cl);
	http_exchange_stream_end(cl->ex);
	free(cl);
}

/* Returns 0 when the client is still there, -1 when it is gone (freed). */
static int
client_write(struct sse *s, struct sse_client *cl, const char *msg, size_t len)
{
	int rc;

	s->busy = cl;
	s->busy_gone = 0;
	rc = http_exchange_stream_write(cl->ex, msg, len);
	s->busy = NULL;
	if (s->busy_gone) {
		free(cl);
		return -1;
	}
	if (rc == -ENOBUFS) {
		/* Dropping the message would leave a hole nobody sees: end the
		 * stream instead; the browser reconnects with its Last-Event-ID
		 * and the ring fills the gap. */
		s->lagging++;
		client_end(s, cl);
		return -1;
	}
	return 0;
}

static void
write_all(struct sse *s, const char *msg, size_t len)
{
	struct sse_client *cl;

	for (cl = s->clients; cl != NULL; cl = s->cursor) {
		s->cursor = cl->next;
		(void)client_write(s, cl, msg, len);
	}
	s->cursor = NULL;
}

static void
ring_pop(struct sse *s)
{
	struct ring_msg *m = &s->ring[s->head];

	s->bytes -= m->len;
	free(m->text);
	m->text = NULL;
	s->head = (s->head + 1) % SSE_RING_MAX;
	s->n--;
}

/* Keep text (taken over) as message s->last_id, evicting the oldest. The
 * ring stays contiguous: a message too large to keep empties it. */
static void
ring_push(struct sse *s, char *text, size_t len)
{
	struct ring_msg *m;

	while (s->n > 0 && (s->n == SSE_RING_MAX || s->bytes + len > SSE_RING_BYTES))
		ring_pop(s);
	if (len > SSE_RING_BYTES) {
		free(text);
		return;
	}
	m = &s->ring[(s->head + s->n) % SSE_RING_MAX];
	m->id = s->last_id;
	m->text = text;
	m->len = len;
	s->bytes += len;
	s->n++;
}

void
sse_broadcast(struct sse *s, const char *name, json_t *data)
{
	char *txt, *msg;
	int n;

	if (s == NULL || data == NULL || (txt = json_dumps(data, JSON_COMPACT)) == NULL)
		return;
	/* Compact JSON has no raw newline: the data is one "data:" line. */
	n = asprintf(&msg, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", s->last_id + 1, name, txt);
	free(txt);
	if (n < 0)
		return;
	s->last_id++;
	s->messages++;
	write_all(s, msg, (size_t)n);
	ring_push(s, msg, (size_t)n);
}

/* Last-Event-ID: decimal digits only; -1 for anything else. */
static int
parse_id(const char *text, uint64_t *id)
{
	char *end;

	if (text == NULL || text[0] < '0' || text[0] > '9' || strlen(text) > 20)
		return -1;
	errno = 0;
	*id = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/* After the hello: what the client missed, or a reset. */
static void
catch_up(struct sse *s, struct sse_client *cl, uint64_t after)
{
	static const char reset_fmt[] = "id: %" PRIu64 "\nevent: reset\ndata: {}\n\n";
	uint64_t oldest = s->n > 0 ? s->ring[s->head].id : s->last_id + 1;
	char reset[64];
	int n;

	if (after > s->last_id || after + 1 < oldest) {
		/* Evicted, or from another process: the client refetches, and
		 * resumes from the current id. */
		s->resets++;
		n = snprintf(reset, sizeof(reset), reset_fmt, s->last_id);
		(void)client_write(s, cl, reset, (size_t)n);
		return;
	}
	for (uint64_t k = after + 1 - oldest; k < s->n; k++) {
		const struct ring_msg *m = &s->ring[(s->head + k) % SSE_RING_MAX];

		if (client_write(s, cl, m->text, m->len) != 0)
			return;
		s->replayed++;
	}
}

int
sse_add(struct sse *s, struct http_exchange *ex, const char *last_event_id)
{
	static const char hello[] = "retry: 3000\n\nevent: hello\ndata: {}\n\n";
	struct sse_client *cl;
	char fresh[96];
	uint64_t after;
	int n;

	if (s->closed)
		return -ESHUTDOWN;
	if (s->n_clients >= SSE_MAX_CLIENTS)
		return -EBUSY;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return -ENOMEM;
	cl->s = s;
	cl->ex = ex;
	cl->next = s->clients;
	if (s->clients != NULL)
		s->clients->prev = cl;
	s->clients = cl;
	s->n_clients++;
	http_exchange_on_close(ex, client_gone, cl);
	http_exchange_stream_start(ex, "text/event-stream");
	if (last_event_id == NULL || last_event_id[0] == '\0') {
		/* The hello's id gives a new client a Last-Event-ID to come
		 * back with, even if it leaves before the next message. */
		n = snprintf(fresh, sizeof(fresh),
			     "retry: 3000\n\nid: %" PRIu64 "\nevent: hello\ndata: {}\n\n", s->last_id);
		(void)client_write(s, cl, fresh, (size_t)n);
		return 0;
	}
	if (client_write(s, cl, hello, sizeof(hello) - 1) != 0)
		return 0;
	if (parse_id(last_event_id, &after) != 0)
		after = UINT64_MAX; /* unknown: a reset */
	catch_up(s, cl, after);
	return 0;
}

void
sse_tick(struct sse *s, int64_t now_ms)
{
	if (s == NULL || now_ms - s->ping_ms < SSE_PING_MS)
		return;
	s->ping_ms = now_ms;
	if (s->clients != NULL)
		write_all(s, ": ping\n\n", 8);
}

void
sse_end_all(struct sse *s)
{
	if (s == NULL)
		return;
	s->closed = 1;
	while (s->clients != NULL)
		client_end(s, s->clients);
}

void
sse_free(struct sse *s)
{
	if (s == NULL)
		return;
	sse_end_all(s);
	while (s->n > 0)
		ring_pop(s);
	free(s);
}

void
sse_get_stats(const struct sse *s, struct sse_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s == NULL)
		return;
	st->clients = s->n_clients;
	st->messages = s->messages;
	st->replayed = s->replayed;
	st->resets = s->resets;
	st->lagging = s->lagging;
}
