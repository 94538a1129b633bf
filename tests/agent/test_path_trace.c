/* tests/agent/test_path_trace.c - the trace state machine
 * (agent/path_trace.c) on virtual time: scheduling with a window and a
 * budget, errors matched to probes in any order, silent hops, retries, the
 * end of a trace, and the path probe itself (agent/path_probe.c) on
 * loopback. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/path_probe.h"
#include "agent/path_trace.h"

#define MS 1000000LL

/* The path of a simulated network: router addresses by TTL; the
 * destination answers at TTL `dest_ttl` with port unreachable. */
struct net {
	const char *hop[8];
	int dest_ttl;
	int silent_ttl;          /* this TTL never answers (rate limited), 0 none */
	int silent_dest;         /* the destination never answers */
};

static struct path_icmp_error error_for(int family, enum path_icmp_kind k, uint16_t id, int ttl,
					const char *from)
{
	struct path_icmp_error e = { .kind = k, .family = family, .has_probe = 1,
				     .probe_id = id, .ttl = (uint8_t)ttl,
				     .quoted_len = PATH_PAYLOAD_LEN, .has_offender = 1 };

	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&e.offender;

		s->sin_family = AF_INET;
		cr_assert_eq(inet_pton(AF_INET, from, &s->sin_addr), 1, "%s", from);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&e.offender;

		s->sin6_family = AF_INET6;
		cr_assert_eq(inet_pton(AF_INET6, from, &s->sin6_addr), 1, "%s", from);
	}
	return e;
}

static const char *hop_addr(const struct path_trace *t, int ttl)
{
	static char buf[INET6_ADDRSTRLEN];

	if (!t->hops[ttl].answered)
		return "*";
	inet_ntop(AF_INET, &((const struct sockaddr_in *)&t->hops[ttl].addr)->sin_addr, buf,
		  sizeof(buf));
	return buf;
}

/* Run a trace against net: every probe sent is answered 1 ms later (in
 * the order sent) unless silent; time advances to the next deadline when
 * nothing is pending. The window is never exceeded. */
static void run(struct path_trace *t, const struct net *n)
{
	int64_t now = 0;
	uint16_t pend_id[PATH_TRACE_MAX_BUDGET];
	int pend_ttl[PATH_TRACE_MAX_BUDGET], npend = 0;
	int guard = 0;

	for (;;) {
		uint16_t id;
		int ttl;

		cr_assert_lt(guard++, 10000, "the trace does not end");
		path_trace_expire(t, now);
		while (path_trace_next(t, now, &id, &ttl)) {
			cr_assert_leq(t->in_flight, t->o.window, "window exceeded");
			pend_id[npend] = id;
			pend_ttl[npend++] = ttl;
		}
		if (path_trace_finish(t))
			return;
		now += MS;
		for (int i = 0; i < npend; i++) {
			int ttl_i = pend_ttl[i];
			struct path_icmp_error e;

			if (ttl_i == n->silent_ttl || (ttl_i >= n->dest_ttl && n->silent_dest))
				continue;
			if (ttl_i >= n->dest_ttl)
				e = error_for(AF_INET, PATH_ICMP_PORT_UNREACH, pend_id[i], ttl_i,
					      n->hop[n->dest_ttl]);
			else
				e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, pend_id[i], ttl_i,
					      n->hop[ttl_i]);
			path_trace_on_error(t, now, &e);
		}
		npend = 0;
		if (t->in_flight > 0 && path_trace_deadline(t) > now)
			now = path_trace_deadline(t);
	}
}

static const struct net three_hops = {
	{ NULL, "198.18.21.1", "198.18.11.2", "198.18.2.2" }, 3, 0, 0
};

TestSuite(path_trace);

Test(path_trace, defaults_and_clamping)
{
	struct path_trace t;
	struct path_trace_opts o = { .max_ttl = 1000, .attempts = -3, .window = 99, .budget = 5000 };

	path_trace_init(&t, &(struct path_trace_opts){ 0 });
	cr_assert_eq(t.o.max_ttl, 30);
	cr_assert_eq(t.o.attempts, 3);
	cr_assert_eq(t.o.window, 4);
	cr_assert_eq(t.o.budget, 64);
	cr_assert_eq(t.o.gap_limit, 5);
	cr_assert_eq(t.o.timeout_ms, 1000);
	path_trace_init(&t, &o);
	cr_assert_eq(t.o.max_ttl, PATH_TRACE_MAX_TTL);
	cr_assert_eq(t.o.attempts, 1);
	cr_assert_eq(t.o.window, 16);
	cr_assert_eq(t.o.budget, PATH_TRACE_MAX_BUDGET);
}

Test(path_trace, reaches_the_destination)
{
	struct path_trace t;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 2 });
	run(&t, &three_hops);
	cr_assert_eq(t.status, PATH_TRACE_REACHED);
	cr_assert_eq(t.last_ttl, 3);
	cr_assert_str_eq(hop_addr(&t, 1), "198.18.21.1");
	cr_assert_str_eq(hop_addr(&t, 2), "198.18.11.2");
	cr_assert_str_eq(hop_addr(&t, 3), "198.18.2.2");
	cr_assert_eq(t.hops[3].kind, PATH_ICMP_PORT_UNREACH);
	cr_assert_eq(t.hops[1].kind, PATH_ICMP_TIME_EXCEEDED);
	cr_assert_float_eq(t.hops[1].rtt_ms, 1.0, 1e-9);
	/* Window 2: TTLs 1, 2, then 3 and 4; 4 was moot. */
	cr_assert_eq(t.n_probes, 4);
	cr_assert_eq(t.unmatched, 0);
}

Test(path_trace, out_of_order_answers_go_to_their_probe)
{
	struct path_trace t;
	uint16_t id[3];
	int ttl[3];
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 3 });
	for (int i = 0; i < 3; i++)
		cr_assert(path_trace_next(&t, 0, &id[i], &ttl[i]));
	cr_assert_not(path_trace_next(&t, 0, &id[0], &ttl[0]), "window full");
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id[2], 3, "198.18.3.3");
	cr_assert(path_trace_on_error(&t, 3 * MS, &e));
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id[0], 1, "198.18.1.1");
	cr_assert(path_trace_on_error(&t, 4 * MS, &e));
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id[1], 2, "198.18.2.2");
	cr_assert(path_trace_on_error(&t, 5 * MS, &e));
	cr_assert_str_eq(hop_addr(&t, 1), "198.18.1.1");
	cr_assert_str_eq(hop_addr(&t, 2), "198.18.2.2");
	cr_assert_str_eq(hop_addr(&t, 3), "198.18.3.3");
	cr_assert_float_eq(t.hops[3].rtt_ms, 3.0, 1e-9);
	cr_assert_eq(t.in_flight, 0);
	/* The same error again names an answered probe: counted, ignored. */
	cr_assert_not(path_trace_on_error(&t, 6 * MS, &e));
	cr_assert_eq(t.unmatched, 1);
	cr_assert_eq(t.hops[2].replies, 1);
}

Test(path_trace, wrong_ttl_or_unknown_id_is_unmatched)
{
	struct path_trace t;
	uint16_t id;
	int ttl;
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ 0 });
	cr_assert(path_trace_next(&t, 0, &id, &ttl));
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id, ttl + 1, "198.18.1.1");
	cr_assert_not(path_trace_on_error(&t, MS, &e));
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, 200, ttl, "198.18.1.1");
	cr_assert_not(path_trace_on_error(&t, MS, &e));
	/* Quoted in full but not our payload (another program's flow). */
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id, ttl, "198.18.1.1");
	e.has_probe = 0;
	cr_assert_not(path_trace_on_error(&t, MS, &e));
	cr_assert_eq(t.unmatched, 3);
	cr_assert_not(t.hops[1].answered);
	cr_assert_not(t.narrow);
}

Test(path_trace, a_silent_hop_is_a_star_after_its_attempts)
{
	struct path_trace t;
	struct net n = three_hops;

	n.silent_ttl = 2;
	path_trace_init(&t, &(struct path_trace_opts){ .window = 4, .attempts = 3 });
	run(&t, &n);
	cr_assert_eq(t.status, PATH_TRACE_REACHED);
	cr_assert_eq(t.last_ttl, 3);
	cr_assert_str_eq(hop_addr(&t, 2), "*");
	cr_assert_eq(t.hops[2].sent, 3);
	cr_assert_eq(t.hops[1].sent, 1, "an answered hop is not probed again");
}

Test(path_trace, a_late_answer_still_counts)
{
	struct path_trace t;
	uint16_t id;
	int ttl;
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 1, .timeout_ms = 100 });
	cr_assert(path_trace_next(&t, 0, &id, &ttl));
	cr_assert_eq(path_trace_deadline(&t), 100 * MS);
	path_trace_expire(&t, 100 * MS);
	cr_assert_eq(t.in_flight, 0);
	cr_assert_eq(path_trace_deadline(&t), -1);
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id, ttl, "198.18.1.1");
	cr_assert(path_trace_on_error(&t, 150 * MS, &e));
	cr_assert_str_eq(hop_addr(&t, 1), "198.18.1.1");
	cr_assert_float_eq(t.hops[1].rtt_ms, 150.0, 1e-9);
}

Test(path_trace, silent_destination_stops_at_the_gap_limit)
{
	struct path_trace t;
	struct net n = three_hops;

	n.silent_dest = 1;
	path_trace_init(&t, &(struct path_trace_opts){ .attempts = 2, .gap_limit = 3 });
	run(&t, &n);
	cr_assert_eq(t.status, PATH_TRACE_GAP);
	cr_assert_eq(t.last_ttl, 2 + 3, "three silent TTLs past the last answer");
	cr_assert_eq(t.n_probes, 2 + 3 * 2);
	cr_assert_str_eq(hop_addr(&t, 5), "*");
}

Test(path_trace, budget_bounds_the_packets)
{
	struct path_trace t;
	struct net n = three_hops;

	n.silent_dest = 1;
	path_trace_init(&t, &(struct path_trace_opts){ .budget = 5, .gap_limit = 10 });
	run(&t, &n);
	cr_assert_eq(t.status, PATH_TRACE_BUDGET);
	cr_assert_eq(t.n_probes, 5);
}

Test(path_trace, max_ttl_without_an_answer)
{
	struct path_trace t;
	struct net n = three_hops;

	n.silent_dest = 1;
	path_trace_init(&t, &(struct path_trace_opts){ .max_ttl = 4, .attempts = 1 });
	run(&t, &n);
	cr_assert_eq(t.status, PATH_TRACE_TOO_FAR);
	cr_assert_eq(t.last_ttl, 4);
	cr_assert_eq(t.n_probes, 4);
}

Test(path_trace, host_unreachable_ends_the_trace)
{
	struct path_trace t;
	uint16_t id[4];
	int ttl[4];
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 4 });
	for (int i = 0; i < 4; i++)
		cr_assert(path_trace_next(&t, 0, &id[i], &ttl[i]));
	e = error_for(AF_INET, PATH_ICMP_HOST_UNREACH, id[1], 2, "198.18.11.2");
	cr_assert(path_trace_on_error(&t, MS, &e));
	cr_assert_eq(t.in_flight, 1, "TTLs 3 and 4 are moot, TTL 1 still counts");
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id[0], 1, "198.18.21.1");
	cr_assert(path_trace_on_error(&t, MS, &e));
	cr_assert(path_trace_finish(&t));
	cr_assert_eq(t.status, PATH_TRACE_UNREACHABLE);
	cr_assert_eq(t.last_ttl, 2);
	cr_assert_eq(t.hops[2].kind, PATH_ICMP_HOST_UNREACH);
}

Test(path_trace, an_earlier_end_wins)
{
	struct path_trace t;
	uint16_t id[3];
	int ttl[3];
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 3 });
	for (int i = 0; i < 3; i++)
		cr_assert(path_trace_next(&t, 0, &id[i], &ttl[i]));
	e = error_for(AF_INET, PATH_ICMP_PORT_UNREACH, id[2], 3, "198.18.255.53");
	path_trace_on_error(&t, MS, &e);
	e = error_for(AF_INET, PATH_ICMP_PORT_UNREACH, id[1], 2, "198.18.255.53");
	path_trace_on_error(&t, MS, &e);
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, id[0], 1, "198.18.21.1");
	path_trace_on_error(&t, MS, &e);
	cr_assert(path_trace_finish(&t));
	cr_assert_eq(t.status, PATH_TRACE_REACHED);
	cr_assert_eq(t.last_ttl, 2);
}

Test(path_trace, short_quotes_narrow_the_window)
{
	struct path_trace t;
	uint16_t id[2];
	int ttl[2];
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 2 });
	cr_assert(path_trace_next(&t, 0, &id[0], &ttl[0]));
	cr_assert(path_trace_next(&t, 0, &id[1], &ttl[1]));
	/* A router that quotes no payload, two probes in flight: cannot tell. */
	e = error_for(AF_INET, PATH_ICMP_TIME_EXCEEDED, 0, 0, "198.18.21.1");
	e.has_probe = 0;
	e.quoted_len = 0;
	cr_assert_not(path_trace_on_error(&t, MS, &e));
	cr_assert(t.narrow);
	cr_assert_eq(t.unmatched, 1);
	/* From now on one in flight: the next short quote names that probe. */
	path_trace_expire(&t, 2000 * MS);
	cr_assert(path_trace_next(&t, 2000 * MS, &id[0], &ttl[0]));
	cr_assert_not(path_trace_next(&t, 2000 * MS, &id[1], &ttl[1]), "window narrowed to 1");
	cr_assert(path_trace_on_error(&t, 2001 * MS, &e));
	cr_assert_str_eq(hop_addr(&t, ttl[0]), "198.18.21.1");
}

Test(path_trace, routing_send_failure_ends_other_failures_retry)
{
	struct path_trace t;
	uint16_t id;
	int ttl;

	path_trace_init(&t, &(struct path_trace_opts){ .window = 1 });
	cr_assert(path_trace_next(&t, 0, &id, &ttl));
	path_trace_send_failed(&t, id, ENOBUFS);
	cr_assert_eq(t.status, PATH_TRACE_RUNNING);
	cr_assert(path_trace_next(&t, 0, &id, &ttl));
	cr_assert_eq(ttl, 1, "the same hop again");
	path_trace_send_failed(&t, id, EACCES);
	cr_assert_eq(t.status, PATH_TRACE_SEND_ERROR);
	cr_assert_eq(t.send_error, EACCES);
	cr_assert(path_trace_finish(&t));
	cr_assert_not(path_trace_next(&t, 0, &id, &ttl));
}

Test(path_trace, other_errors_change_nothing)
{
	struct path_trace t;
	uint16_t id;
	int ttl;
	struct path_icmp_error e;

	path_trace_init(&t, &(struct path_trace_opts){ 0 });
	cr_assert(path_trace_next(&t, 0, &id, &ttl));
	e = error_for(AF_INET, PATH_ICMP_OTHER, id, ttl, "198.18.21.1");
	cr_assert_not(path_trace_on_error(&t, MS, &e));
	cr_assert_eq(t.probes[id].state, PROBE_IN_FLIGHT);
}

/* ---- the path probe on a real socket: loopback, no privileges ---- */

struct done_ctx {
	int calls;
	enum path_trace_status status;
	int last_ttl;
	struct sockaddr_storage hop1;
	enum path_icmp_kind kind1;
};

static void on_done(void *ctx, const struct path_trace *t, int cancelled)
{
	struct done_ctx *d = ctx;

	cr_assert_not(cancelled);
	d->calls++;
	d->status = t->status;
	d->last_ttl = t->last_ttl;
	d->hop1 = t->hops[1].addr;
	d->kind1 = t->hops[1].kind;
}

static void trace_loopback(int family)
{
	uv_loop_t loop;
	struct sockaddr_storage dst = { 0 };
	struct path_probe *p;
	struct done_ctx d = { 0 };
	struct path_probe_opts o = { .dst = (struct sockaddr *)&dst, .done = on_done, .ctx = &d };

	dst.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&dst)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&dst)->sin6_addr = in6addr_loopback;
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(path_probe_start(&loop, &o, &p), 0);
	cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	cr_assert_eq(d.calls, 1);
	cr_assert_eq(d.status, PATH_TRACE_REACHED);
	cr_assert_eq(d.last_ttl, 1);
	cr_assert_eq(d.kind1, PATH_ICMP_PORT_UNREACH);
	cr_assert_eq(d.hop1.ss_family, family);
	cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

Test(path_trace, probe_loopback_ipv4)
{
	trace_loopback(AF_INET);
}

Test(path_trace, probe_loopback_ipv6)
{
	trace_loopback(AF_INET6);
}

Test(path_trace, probe_rejects_bad_options)
{
	uv_loop_t loop;
	struct sockaddr_storage dst = { .ss_family = AF_UNIX };
	struct path_probe *p;
	struct path_probe_opts o = { .dst = (struct sockaddr *)&dst, .done = on_done };

	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(path_probe_start(&loop, &o, &p), -EINVAL);
	o.dst = NULL;
	cr_assert_eq(path_probe_start(&loop, &o, &p), -EINVAL);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

struct silent_ctx {
	int calls, cancelled;
	enum path_trace_status status;
	int packets, answered;
};

static void on_silent_done(void *ctx, const struct path_trace *t, int cancelled)
{
	struct silent_ctx *d = ctx;

	d->calls++;
	d->cancelled = cancelled;
	d->status = t->status;
	d->packets = t->n_probes;
	for (int ttl = 1; ttl <= t->last_ttl; ttl++)
		d->answered += t->hops[ttl].answered;
}

/* A service on the port takes every probe: no error comes back, each TTL is
 * asked `attempts` times on the timer, then the trace stops at the gap
 * limit with every hop silent. */
Test(path_trace, probe_silent_destination_ends_at_the_gap)
{
	uv_loop_t loop;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	socklen_t len = sizeof(dst);
	int sink = socket(AF_INET, SOCK_DGRAM, 0);
	struct path_probe *p;
	struct silent_ctx d = { 0 };
	struct path_probe_opts o = {
		.dst = (struct sockaddr *)&dst,
		.trace = { .timeout_ms = 30, .attempts = 2, .gap_limit = 3 },
		.done = on_silent_done,
		.ctx = &d,
	};

	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(sink, (struct sockaddr *)&dst, sizeof(dst)), 0);
	cr_assert_eq(getsockname(sink, (struct sockaddr *)&dst, &len), 0);
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(path_probe_start(&loop, &o, &p), 0);
	cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	cr_assert_eq(d.calls, 1);
	cr_assert_not(d.cancelled);
	cr_assert_eq(d.status, PATH_TRACE_GAP);
	cr_assert_eq(d.packets, 3 * 2);
	cr_assert_eq(d.answered, 0);
	cr_assert_eq(uv_loop_close(&loop), 0);
	close(sink);
}

Test(path_trace, probe_cancel_calls_back_once)
{
	uv_loop_t loop;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct path_probe *p;
	struct silent_ctx d = { 0 };
	struct path_probe_opts o = { .dst = (struct sockaddr *)&dst, .done = on_silent_done,
				     .ctx = &d };

	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(path_probe_start(&loop, &o, &p), 0);
	path_probe_cancel(p);
	cr_assert_eq(d.calls, 1);
	cr_assert(d.cancelled);
	cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	cr_assert_eq(d.calls, 1, "no second callback");
	cr_assert_eq(uv_loop_close(&loop), 0);
}
