/* agent/path_trace.c - one trace as pure logic: probe scheduling over TTLs
 * with a window and a budget, matching ICMP errors to probes, timeouts and
 * retries, and the end of the trace.
 *
 * A probe is a (probe id, TTL) pair; the id is its index in t->probes and
 * travels in the payload (agent/path_icmp.c), so an error quoting the
 * payload names its probe even when several are in flight and answers
 * arrive out of order. The TTL cannot be read back from the error (the
 * kernel does not report the quoted IP header), and the ports are the same
 * for every probe of a trace on purpose (one flow for ECMP), so the payload
 * is the one place a name fits. When a router quotes too little payload to
 * name the probe (an RFC 792 router quotes 8 bytes past the IP header), the
 * error is taken for the only probe in flight, and the trace drops to one
 * probe in flight from then on so that the next such error is matched.
 *
 * Each probe goes through
 *   IN_FLIGHT -> ANSWERED            an error named it
 *   IN_FLIGHT -> LOST                timeout, a local send failure, or its TTL
 *                                    lies past where the path ended
 *   LOST      -> ANSWERED            a late error still names it
 * A hop (TTL) is probed again while it is silent, has nothing in flight and
 * fewer than `attempts` probes sent. New TTLs are opened in order while the
 * window allows, up to max_ttl, at most gap_limit past the highest answering
 * hop, and never past a TTL where the destination (or an unreachable) was
 * reported. The trace is over when nothing is in flight and nothing is left
 * to send (or the budget is spent). */
#include "agent/path_trace.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static int clamp(int v, int lo, int hi, int dflt)
{
	if (v == 0)
		return dflt;
	return v < lo ? lo : v > hi ? hi : v;
}

void path_trace_init(struct path_trace *t, const struct path_trace_opts *o)
{
	memset(t, 0, sizeof(*t));
	t->o.max_ttl = clamp(o->max_ttl, 1, PATH_TRACE_MAX_TTL, 30);
	t->o.attempts = clamp(o->attempts, 1, 5, 3);
	t->o.window = clamp(o->window, 1, 16, 4);
	t->o.budget = clamp(o->budget, 1, PATH_TRACE_MAX_BUDGET, 64);
	t->o.gap_limit = clamp(o->gap_limit, 1, PATH_TRACE_MAX_TTL, 5);
	t->o.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	t->next_new_ttl = 1;
	t->status = PATH_TRACE_RUNNING;
}

static int highest_answered(const struct path_trace *t)
{
	for (int ttl = t->next_new_ttl - 1; ttl > 0; ttl--)
		if (t->hops[ttl].answered)
			return ttl;
	return 0;
}

/* The highest TTL a new probe may be opened for. */
static int new_ttl_limit(const struct path_trace *t)
{
	int lim = highest_answered(t) + t->o.gap_limit;

	if (t->end_ttl > 0)
		return t->end_ttl - 1; /* everything up to the end is already open */
	return lim < t->o.max_ttl ? lim : t->o.max_ttl;
}

/* The TTL that should get a probe now (a retry first, then a new one), 0 if none. */
static int wanted_ttl(const struct path_trace *t)
{
	int top = t->end_ttl > 0 ? t->end_ttl - 1 : t->next_new_ttl - 1;

	for (int ttl = 1; ttl <= top; ttl++) {
		const struct path_hop *h = &t->hops[ttl];

		if (!h->answered && h->in_flight == 0 && h->sent < t->o.attempts)
			return ttl;
	}
	if (t->next_new_ttl <= new_ttl_limit(t))
		return t->next_new_ttl;
	return 0;
}

int path_trace_next(struct path_trace *t, int64_t now_ns, uint16_t *probe_id, int *ttl)
{
	int window = t->narrow ? 1 : t->o.window;
	struct path_trace_probe *p;
	int want;

	if (t->status != PATH_TRACE_RUNNING || t->n_probes >= t->o.budget || t->in_flight >= window)
		return 0;
	want = wanted_ttl(t);
	if (want == 0)
		return 0;
	if (want == t->next_new_ttl)
		t->next_new_ttl++;
	p = &t->probes[t->n_probes];
	p->state = PROBE_IN_FLIGHT;
	p->ttl = (uint8_t)want;
	p->sent_ns = now_ns;
	t->hops[want].sent++;
	t->hops[want].in_flight++;
	t->in_flight++;
	*probe_id = (uint16_t)t->n_probes++;
	*ttl = want;
	return 1;
}

static void lose(struct path_trace *t, struct path_trace_probe *p)
{
	if (p->state != PROBE_IN_FLIGHT)
		return;
	p->state = PROBE_LOST;
	t->hops[p->ttl].in_flight--;
	t->in_flight--;
}

void path_trace_send_failed(struct path_trace *t, uint16_t probe_id, int err)
{
	if (probe_id >= t->n_probes)
		return;
	lose(t, &t->probes[probe_id]);
	/* Routing refused it: no TTL will do better. */
	if (err == ENETUNREACH || err == EHOSTUNREACH || err == EACCES || err == EPERM ||
	    err == EADDRNOTAVAIL) {
		t->status = PATH_TRACE_SEND_ERROR;
		t->send_error = err;
		t->last_ttl = t->next_new_ttl - 1;
	}
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return 1;
}

/* The probe an error is about, or NULL. */
static struct path_trace_probe *match(struct path_trace *t, const struct path_icmp_error *e)
{
	struct path_trace_probe *p;

	if (e->has_probe) {
		if (e->probe_id >= t->n_probes)
			return NULL;
		p = &t->probes[e->probe_id];
		return p->ttl == e->ttl ? p : NULL;
	}
	if (e->quoted_len >= PATH_PAYLOAD_MIN)
		return NULL; /* quoted in full, and not ours */
	t->narrow = 1;
	if (t->in_flight != 1)
		return NULL;
	for (int i = t->n_probes - 1; i >= 0; i--)
		if (t->probes[i].state == PROBE_IN_FLIGHT)
			return &t->probes[i];
	return NULL;
}

int path_trace_on_error(struct path_trace *t, int64_t now_ns, const struct path_icmp_error *e)
{
	struct path_trace_probe *p;
	struct path_hop *h;

	if (t->status != PATH_TRACE_RUNNING || e->kind == PATH_ICMP_OTHER)
		return 0;
	p = match(t, e);
	if (p == NULL || p->state == PROBE_ANSWERED || p->state == PROBE_FREE) {
		t->unmatched++;
		return 0;
	}
	if (t->end_ttl > 0 && p->ttl > t->end_ttl)
		return 0; /* ours, but past where the path ended */
	lose(t, p); /* leaves the window */
	p->state = PROBE_ANSWERED;
	h = &t->hops[p->ttl];
	h->replies++;
	if (!h->answered) {
		h->answered = 1;
		h->kind = e->kind;
		if (e->has_offender)
			h->addr = e->offender;
		h->rtt_ms = (double)(now_ns - p->sent_ns) / 1e6;
	} else if (e->has_offender && !same_addr(&h->addr, &e->offender)) {
		h->other_addr = 1;
	}
	if (e->kind != PATH_ICMP_TIME_EXCEEDED && (t->end_ttl == 0 || p->ttl < t->end_ttl)) {
		/* The path ends here: what is in flight beyond it is moot. */
		t->end_ttl = p->ttl;
		for (int i = 0; i < t->n_probes; i++)
			if (t->probes[i].ttl > t->end_ttl)
				lose(t, &t->probes[i]);
	}
	return 1;
}

void path_trace_expire(struct path_trace *t, int64_t now_ns)
{
	int64_t tmo = t->o.timeout_ms * 1000000;

	for (int i = 0; i < t->n_probes; i++)
		if (t->probes[i].state == PROBE_IN_FLIGHT && now_ns - t->probes[i].sent_ns >= tmo)
			lose(t, &t->probes[i]);
}

int64_t path_trace_deadline(const struct path_trace *t)
{
	int64_t best = -1, tmo = t->o.timeout_ms * 1000000;

	for (int i = 0; i < t->n_probes; i++) {
		int64_t d = t->probes[i].sent_ns + tmo;

		if (t->probes[i].state == PROBE_IN_FLIGHT && (best < 0 || d < best))
			best = d;
	}
	return best;
}

int path_trace_finish(struct path_trace *t)
{
	int want;

	if (t->status != PATH_TRACE_RUNNING)
		return 1;
	if (t->in_flight > 0)
		return 0;
	want = wanted_ttl(t);
	if (want != 0 && t->n_probes < t->o.budget)
		return 0;
	if (t->end_ttl > 0) {
		enum path_icmp_kind k = t->hops[t->end_ttl].kind;

		t->status = k == PATH_ICMP_PORT_UNREACH || k == PATH_ICMP_PROTO_UNREACH
				    ? PATH_TRACE_REACHED
				    : PATH_TRACE_UNREACHABLE;
		t->last_ttl = t->end_ttl;
	} else {
		t->last_ttl = t->next_new_ttl - 1;
		if (want != 0)
			t->status = PATH_TRACE_BUDGET;
		else if (t->last_ttl >= t->o.max_ttl)
			t->status = PATH_TRACE_TOO_FAR;
		else
			t->status = PATH_TRACE_GAP;
	}
	return 1;
}

const char *path_trace_status_name(enum path_trace_status s)
{
	switch (s) {
	case PATH_TRACE_RUNNING: return "running";
	case PATH_TRACE_REACHED: return "reached";
	case PATH_TRACE_UNREACHABLE: return "unreachable";
	case PATH_TRACE_GAP: return "gap";
	case PATH_TRACE_TOO_FAR: return "max_ttl";
	case PATH_TRACE_BUDGET: return "budget";
	case PATH_TRACE_SEND_ERROR: return "send_error";
	}
	return "unknown";
}
