/* agent/guard.c - the guard loop (see guard.h). One timer; each tick starts
 * one probe per target of every service whose previous round is over; a
 * round's verdict (every probe answered as expected) feeds guard_state. */
#include "agent/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dns_wire.h"
#include "agent/guard_action.h"
#include "agent/guard_reporter.h"
#include "agent/guard_state.h"
#include "agent/ntp_wire.h"
#include "agent/udp_probe.h"
#include "common/inventory.h"
#include "common/log.h"
#include "common/timefmt.h"

#define RETRY_MAX_MS (5 * 60 * 1000)

struct guard_svc;

struct guard_probe {
	struct guard_svc *svc;
	const char *addr;
	struct dns_wire_question q;
	uint64_t nonce;
};

struct guard_svc {
	struct guard *g;
	const struct guard_service *conf;
	struct guard_state st;
	struct guard_probe probes[2];
	int pending;                 /* probes of the current round still out */
	int round_ok;
	char round_why[192];         /* first failure of the round */
	char reason[256];            /* why the service was last withdrawn */
	int wanted_withdrawn;        /* the state the routing should have */
	int applied;                 /* the last action for the wanted state succeeded */
	int64_t retry_at_ms;         /* next attempt of a failed action */
	int64_t retry_ms;            /* current backoff */
	int64_t reassert_at_ms;
	int started;                 /* the state was asserted once since start */
};

struct guard {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct guard_config cfg;
	int dry_run;
	struct guard_reporter *rep;  /* NULL: actions are not reported */
	struct guard_svc svcs[GUARD_MAX_SERVICES];
	void (*close_cb)(void *);
	void *close_arg;
};

static int64_t mono_ms(void)
{
	return time_mono_ns() / 1000000;
}

static void emit(struct guard_svc *s, const char *type, const char *detail)
{
	const struct guard_service *c = s->conf;
	json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "type", type, "time_ms",
			      (json_int_t)time_now_ms(), "service", c->name, "address", c->anycast,
			      "action", guard_action_name(c->action), "reason", s->reason, "detail",
			      detail);
	char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (line) {
		printf("%s\n", line);
		fflush(stdout);
	}
	free(line);
	json_decref(o);
}

/* Tell the collector (when there is one) what was decided and why. */
static void report(struct guard_svc *s, int withdraw)
{
	if (s->g->rep != NULL)
		guard_reporter_action(s->g->rep, s->conf, withdraw, s->applied,
				      withdraw ? s->reason : "", time_now_ms());
}

/* Bring the routing to the wanted state; log only what changes. */
static void apply(struct guard_svc *s, int64_t now, int reassert)
{
	char msg[384];
	enum guard_action_result r =
		guard_action_apply(s->conf, s->wanted_withdrawn, s->g->dry_run, msg, sizeof(msg));

	s->reassert_at_ms = now + s->g->cfg.reassert_ms;
	if (r == GUARD_ACTION_FAILED) {
		/* Never loop on an operator's or a daemon's refusal: back off. */
		s->retry_ms = s->retry_ms ? s->retry_ms * 2 : 1000;
		if (s->retry_ms > RETRY_MAX_MS)
			s->retry_ms = RETRY_MAX_MS;
		s->retry_at_ms = now + s->retry_ms;
		if (s->applied || s->retry_ms <= 1000 || s->retry_ms == RETRY_MAX_MS)
			log_warnx("%s: %s failed, retrying in %lld ms: %s", s->conf->name,
				  s->wanted_withdrawn ? "withdraw" : "restore", (long long)s->retry_ms, msg);
		if (s->applied)
			emit(s, "guard_action_failed", msg);
		s->applied = 0;
		return;
	}
	if (!s->applied && s->retry_ms)
		log_info("%s: %s now applied: %s", s->conf->name,
			 s->wanted_withdrawn ? "withdraw" : "restore", msg);
	else if (reassert && r == GUARD_ACTION_CHANGED && s->started)
		log_warnx("%s: routing state was lost (daemon restarted?), re-asserted: %s",
			  s->conf->name, msg);
	else if (!reassert)
		log_info("%s: %s", s->conf->name, msg);
	else if (!s->started) {
		log_info("%s: announced at start: %s", s->conf->name, msg);
		/* Withdrawn when the last run ended: the collector must hear it is back. */
		if (s->g->rep != NULL && guard_reporter_withdrawn(s->g->rep, s->conf))
			guard_reporter_action(s->g->rep, s->conf, 0, 1, "", time_now_ms());
	}
	s->applied = 1;
	s->retry_ms = 0;
	s->started = 1;
}

static void decide(struct guard_svc *s)
{
	int64_t now = mono_ms();
	enum guard_decision d = guard_state_step(&s->st, &s->g->cfg.params, s->round_ok, now);

	if (d == GUARD_WITHDRAW) {
		snprintf(s->reason, sizeof(s->reason), "%d failed probes: %.200s", s->g->cfg.params.fall,
			 s->round_why);
		s->wanted_withdrawn = 1;
		log_warnx("%s: withdrawing %s: %s (hold-down %lld ms)", s->conf->name, s->conf->anycast,
			  s->reason, (long long)s->st.hold_ms);
		s->applied = 1;
		s->retry_ms = 0;
		apply(s, now, 0);
		emit(s, "guard_withdraw", s->applied ? "applied" : "action failed");
		report(s, 1);
	} else if (d == GUARD_RESTORE) {
		s->wanted_withdrawn = 0;
		log_warnx("%s: restoring %s after %d good probes", s->conf->name, s->conf->anycast,
			  s->g->cfg.params.rise);
		s->applied = 1;
		s->retry_ms = 0;
		apply(s, now, 0);
		emit(s, "guard_restore", s->applied ? "applied" : "action failed");
		report(s, 0);
	} else if (!s->applied && now >= s->retry_at_ms) {
		apply(s, now, 0);
	} else if (s->applied && now >= s->reassert_at_ms) {
		apply(s, now, 1);
	}
}

static void probe_failed(struct guard_probe *p, const char *why)
{
	struct guard_svc *s = p->svc;

	if (s->round_ok)
		snprintf(s->round_why, sizeof(s->round_why), "%.120s on %.47s", why, p->addr);
	s->round_ok = 0;
}

static int accept_reply(void *ctx, const uint8_t *pkt, size_t len)
{
	struct guard_probe *p = ctx;
	struct dns_wire_reply r;
	struct ntp_wire_packet np;

	if (p->svc->conf->protocol == INV_PROTO_NTP)
		return ntp_wire_check(pkt, len, p->nonce, &np) != NTP_WIRE_DROP;
	return dns_wire_classify(pkt, len, &p->q, &r) != DNS_WIRE_DROP;
}

static void check_dns(struct guard_probe *p, const uint8_t *pkt, size_t len)
{
	const struct guard_service *c = p->svc->conf;
	struct dns_wire_reply r;
	char why[160];

	dns_wire_classify(pkt, len, &p->q, &r);
	if (r.verdict != DNS_WIRE_OK && r.verdict != DNS_WIRE_RCODE) {
		probe_failed(p, "malformed DNS reply");
	} else if (strcmp(r.rcode_name, c->rcode)) {
		snprintf(why, sizeof(why), "rcode %.15s, not %.15s", r.rcode_name, c->rcode);
		probe_failed(p, why);
	} else if (c->identity[0] && !c->query_name[0] && strcmp(r.txt, c->identity) &&
		   strcmp(r.nsid, c->identity)) {
		snprintf(why, sizeof(why), "identity \"%.60s\", not %.60s", r.has_txt ? r.txt : r.nsid,
			 c->identity);
		probe_failed(p, why);
	}
}

static void on_probe_done(void *ctx, const struct udp_probe_result *res)
{
	struct guard_probe *p = ctx;
	struct guard_svc *s = p->svc;
	struct ntp_wire_packet np;

	switch (res->status) {
	case UDP_PROBE_REPLY:
		if (s->conf->protocol == INV_PROTO_DNS)
			check_dns(p, res->data, res->len);
		else if (ntp_wire_check(res->data, res->len, p->nonce, &np) != NTP_WIRE_OK ||
			 np.stratum >= 16 || np.leap == 3)
			probe_failed(p, "NTP server not synchronised");
		break;
	case UDP_PROBE_TIMEOUT: probe_failed(p, "timeout"); break;
	case UDP_PROBE_UNREACHABLE: probe_failed(p, "unreachable"); break;
	default: probe_failed(p, "local error"); break;
	}
	if (--s->pending == 0 && !s->g->close_cb)
		decide(s);
}

static int start_probe(struct guard_svc *s, struct guard_probe *p, const char *addr)
{
	const struct guard_service *c = s->conf;
	struct sockaddr_storage ss = { 0 };
	uint8_t q[DNS_WIRE_MAX_QUERY];
	int qlen;
	struct udp_probe_opts o = { .dst = (struct sockaddr *)&ss, .query = q,
				    .timeout_ms = s->g->cfg.timeout_ms, .accept = accept_reply,
				    .done = on_probe_done, .ctx = p };
	struct udp_probe *up;

	p->svc = s;
	p->addr = addr;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)c->port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)c->port);
		inet_pton(AF_INET, addr, &a->sin_addr);
	}
	if (c->protocol == INV_PROTO_NTP) {
		p->nonce = ((uint64_t)arc4random() << 32) | arc4random();
		qlen = ntp_wire_encode_request(p->nonce, q);
	} else {
		qlen = dns_wire_build_query(c->query_name[0] ? DNS_WIRE_SERVICE : DNS_WIRE_NSID,
					    c->query_name, c->query_type, (uint16_t)arc4random(), q,
					    sizeof(q), &p->q);
	}
	if (qlen < 0)
		return qlen;
	o.query_len = (size_t)qlen;
	return udp_probe_start(s->g->loop, &o, &up);
}

static void start_round(struct guard_svc *s)
{
	const struct guard_service *c = s->conf;
	/* With the address action the anycast address is gone while withdrawn:
	 * probing it would reach another site, so only the management address counts. */
	int skip_anycast = s->wanted_withdrawn && c->action == GUARD_ACTION_ADDRESS && c->management[0];
	const char *targets[2] = { skip_anycast ? NULL : c->anycast, c->management[0] ? c->management : NULL };

	s->round_ok = 1;
	s->round_why[0] = '\0';
	for (int i = 0; i < 2; i++) {
		if (!targets[i])
			continue;
		if (start_probe(s, &s->probes[i], targets[i]) < 0) {
			probe_failed(&s->probes[i], "could not send");
			continue;
		}
		s->pending++;
	}
	if (s->pending == 0)
		decide(s);
}

static void on_tick(uv_timer_t *t)
{
	struct guard *g = t->data;

	for (int i = 0; i < g->cfg.n_services; i++)
		if (g->svcs[i].pending == 0)
			start_round(&g->svcs[i]);
}

struct guard *guard_new(uv_loop_t *loop, const struct guard_config *cfg, int dry_run)
{
	struct guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->loop = loop;
	g->cfg = *cfg;
	g->dry_run = dry_run;
	for (int i = 0; i < g->cfg.n_services; i++) {
		struct guard_svc *s = &g->svcs[i];

		s->g = g;
		s->conf = &g->cfg.services[i];
		guard_state_init(&s->st);
		s->applied = 1;
		/* Re-assert "announced" at the first tick past the interval. */
		s->reassert_at_ms = 0;
	}
	uv_timer_init(loop, &g->timer);
	g->timer.data = g;
	return g;
}

void guard_set_reporter(struct guard *g, struct guard_reporter *rep)
{
	g->rep = rep;
}

int guard_start(struct guard *g)
{
	for (int i = 0; i < g->cfg.n_services; i++) {
		const struct guard_service *c = g->svcs[i].conf;

		log_info("guarding %s on %s (%s action, fall %d, rise %d, every %lld ms)%s", c->name,
			 c->anycast, guard_action_name(c->action), g->cfg.params.fall,
			 g->cfg.params.rise, (long long)g->cfg.interval_ms, g->dry_run ? ", dry run" : "");
	}
	return uv_timer_start(&g->timer, on_tick, 0, (uint64_t)g->cfg.interval_ms);
}

static void on_closed(uv_handle_t *h)
{
	struct guard *g = h->data;
	void (*cb)(void *) = g->close_cb;
	void *arg = g->close_arg;

	free(g);
	if (cb)
		cb(arg);
}

void guard_close(struct guard *g, void (*cb)(void *arg), void *arg)
{
	g->close_cb = cb ? cb : (void (*)(void *))free;
	g->close_arg = cb ? arg : NULL;
	uv_timer_stop(&g->timer);
	uv_close((uv_handle_t *)&g->timer, on_closed);
}
