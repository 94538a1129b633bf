/* agent/prober.c - the round scheduler: every service's anycast addresses and
 * every instance's management addresses probed at nearly the same moment, on
 * one libuv loop, with jitter, never piling up rounds. Records of a round are
 * held until the round ends, so that anycast answers are identified against
 * the management answers of the same round.
 *
 * DNS round: one query per target (the service query, or id.server CH TXT
 * when there is none; both ask for the NSID), a TCP retry when truncated, and
 * at most one CHAOS follow-up per target and second when the answer lacked
 * the service's most preferred identity source. Answer-integrity checks due
 * in a round (every Nth round) are asked on every target in that round, with
 * the NSID, and their answers reduced to a digest and serial (dns_answer.c).
 *
 * NTP round, in phases: 0 every management address ("before"), 1 every
 * anycast address, 2 the management addresses that answered in phase 0
 * ("after"). Phase 1 starts when phase 0 is done or a grace time after its
 * first answer. An anycast answer matches an instance whose before and after
 * fingerprints are equal to it; when a candidate's fingerprint moved between
 * before and after (a clock update), the whole round is asked once more.
 *
 * The records of a round and the identification of the instances that
 * answered are in prober_record.c. */
#include "agent/prober_int.h"
#include "agent/rand_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CHAOS_MIN_GAP_MS 1000   /* BIND drops CHAOS beyond ~3/s per client /24 */
#define GRACE_MIN_MS 50         /* NTP: least wait for the other "before" answers */

static void maybe_free_prober(struct prober *p);
static void svc_close_handles(struct svc *s);

static uint32_t rnd(void)
{
	return rand_pool_u32();
}

/* Next round in interval ± 10 %, so that a fleet of agents never locks step. */
static uint64_t jittered(int64_t interval_ms)
{
	int64_t span = interval_ms / 5;
	int64_t d = interval_ms - interval_ms / 10 + (span > 0 ? (int64_t)(rnd() % (uint64_t)span) : 0);

	return d > 0 ? (uint64_t)d : 1;
}

static int add_target(struct svc *s, const char *addr, int port, int anycast, int instance)
{
	struct target *t = &s->targets[s->n_targets];
	struct sockaddr_in *in4 = (struct sockaddr_in *)&t->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->sa;

	memset(t, 0, sizeof(*t));
	if (uv_ip4_addr(addr, port, in4) == 0) {
		t->family = 4;
	} else if (uv_ip6_addr(addr, port, in6) == 0) {
		t->family = 6;
	} else {
		log_warnx("service %s: %s is not an IP address", s->cfg.name, addr);
		return -EINVAL;
	}
	t->svc = s;
	snprintf(t->address, sizeof(t->address), "%s", addr);
	t->anycast = anycast;
	t->instance = instance;
	t->last_chaos_ms = INT64_MIN / 2;
	s->n_targets++;
	return 0;
}

static void svc_free(struct svc *s)
{
	if (s == NULL)
		return;
	free(s->cfg.instances);
	free(s->targets);
	free(s->learned);
	free(s->pend);
	free(s->check_text);
	free(s);
}

static struct svc *svc_new(struct prober *p, const struct inv_service *cfg)
{
	struct svc *s = calloc(1, sizeof(*s));
	int n = cfg->n_address;

	if (s == NULL)
		return NULL;
	s->p = p;
	s->cfg = *cfg;
	s->cfg.instances = NULL;
	for (int i = 0; i < cfg->n_instances; i++)
		n += cfg->instances[i].n_management;
	s->cfg.instances = calloc((size_t)cfg->n_instances + 1, sizeof(*cfg->instances));
	s->targets = calloc((size_t)n + 1, sizeof(*s->targets));
	s->learned = calloc((size_t)cfg->n_instances + 1, sizeof(*s->learned));
	/* Room for a few records per target; grows when CHAOS follow-ups,
	 * TCP retries or the NTP retry pass need more. */
	s->cap_pend = n * 4 + 16 < MAX_PENDING ? n * 4 + 16 : MAX_PENDING;
	s->pend = calloc((size_t)s->cap_pend, sizeof(*s->pend));
	if (s->cfg.instances == NULL || s->targets == NULL || s->learned == NULL || s->pend == NULL)
		goto fail;
	memcpy(s->cfg.instances, cfg->instances, (size_t)cfg->n_instances * sizeof(*cfg->instances));
	if (s->cfg.interval_ms < 500)
		s->cfg.interval_ms = 500;
	if (s->cfg.timeout_ms <= 0)
		s->cfg.timeout_ms = 1000;
	if (s->cfg.protocol == INV_PROTO_DNS && s->cfg.query_name[0] != '\0') {
		/* Refuse a service query we could never send, once, here. */
		uint8_t buf[DNS_WIRE_MAX_QUERY];
		struct dns_wire_question q;

		if (dns_wire_build_query(DNS_WIRE_SERVICE, s->cfg.query_name, s->cfg.query_type, 0,
					 buf, sizeof(buf), &q) < 0) {
			log_warnx("service %s: cannot build the query \"%s %s\"", s->cfg.name,
				  s->cfg.query_name, s->cfg.query_type);
			goto fail;
		}
	}
	for (int i = 0; i < s->cfg.n_checks; i++) {
		uint8_t buf[DNS_WIRE_MAX_QUERY];
		struct dns_wire_question q;
		const struct inv_check *ck = &s->cfg.checks[i];

		if (s->cfg.protocol != INV_PROTO_DNS ||
		    dns_wire_build_query(DNS_WIRE_SERVICE, ck->query_name, ck->query_type, 0, buf,
					 sizeof(buf), &q) < 0) {
			log_warnx("service %s: cannot build check %s \"%s %s\"", s->cfg.name,
				  ck->name, ck->query_name, ck->query_type);
			goto fail;
		}
		s->check_rounds[i] = inventory_check_rounds(&s->cfg, ck);
	}
	if (s->cfg.n_checks > 0 &&
	    (s->check_text = calloc((size_t)n * (size_t)s->cfg.n_checks + 1,
				    sizeof(*s->check_text))) == NULL)
		goto fail;
	for (int i = 0; i < cfg->n_address; i++)
		if (add_target(s, cfg->address[i], cfg->port, 1, -1) < 0)
			goto fail;
	for (int i = 0; i < cfg->n_instances; i++)
		for (int j = 0; j < cfg->instances[i].n_management; j++)
			if (add_target(s, cfg->instances[i].management[j], cfg->port, 0, i) < 0)
				goto fail;
	return s;
fail:
	svc_free(s);
	return NULL;
}

/* ---- queries ---- */

/* A check's reply: digest and serial; the RRs' text (a third of the cost)
 * only when the digest differs from this target's last answer. */
static void digest_answer(struct query *qr, const uint8_t *pkt, size_t len)
{
	struct svc *s = qr->svc;
	struct check_text *ct =
	    &s->check_text[(qr->t - s->targets) * s->cfg.n_checks + qr->check];

	qr->answer_rc = dns_answer_digest_flags(pkt, len, DNS_ANSWER_NO_TEXT, &qr->answer);
	if (qr->answer_rc < 0)
		return;
	if (strcmp(ct->digest, qr->answer.digest) == 0) {
		memcpy(qr->answer.rrs, ct->rrs, sizeof(ct->rrs));
		return;
	}
	qr->answer_rc = dns_answer_digest(pkt, len, &qr->answer);
	if (qr->answer_rc == 0) {
		memcpy(ct->digest, qr->answer.digest, sizeof(ct->digest));
		memcpy(ct->rrs, qr->answer.rrs, sizeof(ct->rrs));
	}
}

static int accept_reply(void *ctx, const uint8_t *pkt, size_t len)
{
	struct query *qr = ctx;

	if (qr->ntp) {
		qr->verdict = ntp_wire_check(pkt, len, qr->nonce, &qr->np);
		return qr->verdict != NTP_WIRE_DROP;
	}
	qr->verdict = dns_wire_classify(pkt, len, &qr->q, &qr->dr);
	if (qr->check >= 0 && qr->verdict == DNS_WIRE_OK)
		digest_answer(qr, pkt, len);
	return qr->verdict != DNS_WIRE_DROP;
}

static void query_done(void *ctx, const struct udp_probe_result *res);

/* Send one query to t: NTP, or DNS of kind; check >= 0 asks that
 * answer-integrity check (kind DNS_WIRE_SERVICE) instead of the service
 * query. */
static int send_query_check(struct svc *s, struct target *t, int ntp, enum dns_wire_kind kind,
			    int tcp, int ntp_phase, int check)
{
	struct prober *p = s->p;
	struct query *qr = calloc(1, sizeof(*qr));
	uint8_t buf[DNS_WIRE_MAX_QUERY];
	struct udp_probe_opts o = { 0 };
	int len, rc;

	if (qr == NULL)
		return -ENOMEM;
	qr->svc = s;
	qr->t = t;
	qr->ntp = ntp;
	qr->kind = kind;
	qr->tcp = tcp;
	qr->ntp_phase = ntp_phase;
	qr->check = check;
	if (ntp) {
		rand_pool_bytes(&qr->nonce, sizeof(qr->nonce));
		len = ntp_wire_encode_request(qr->nonce, buf);
	} else if (check >= 0) {
		len = dns_wire_build_query(DNS_WIRE_SERVICE, s->cfg.checks[check].query_name,
					   s->cfg.checks[check].query_type, (uint16_t)rnd(), buf,
					   sizeof(buf), &qr->q);
	} else {
		len = dns_wire_build_query(kind, s->cfg.query_name, s->cfg.query_type,
					   (uint16_t)rnd(), buf, sizeof(buf), &qr->q);
	}
	if (len < 0) {
		free(qr);
		return len;
	}
	o.dst = (struct sockaddr *)&t->sa;
	o.query = buf;
	o.query_len = (size_t)len;
	o.timeout_ms = s->cfg.timeout_ms;
	o.tcp = tcp;
	o.accept = accept_reply;
	o.done = query_done;
	o.ctx = qr;
	o.dropped = &p->st.dropped_unmatched;
	rc = udp_probe_start(p->loop, &o, &qr->probe);
	if (rc < 0) {
		log_warnx("%s %s: cannot send: %s", s->cfg.name, t->address, uv_strerror(rc));
		free(qr);
		return rc;
	}
	p->st.sent++;
	s->in_flight++;
	if (ntp)
		s->phase_pending[ntp_phase]++;
	qr->next = p->queries;
	if (p->queries)
		p->queries->prev = qr;
	p->queries = qr;
	return 0;
}

static int send_query(struct svc *s, struct target *t, int ntp, enum dns_wire_kind kind, int tcp,
		      int ntp_phase)
{
	return send_query_check(s, t, ntp, kind, tcp, ntp_phase, -1);
}

/* A CHAOS query after the primary one, when the primary's answer did not
 * carry the most preferred identity: one per target, at most every second. */
static void maybe_chaos_followup(struct query *qr, const struct pending *pe)
{
	struct svc *s = qr->svc;
	int64_t now = (int64_t)uv_now(s->p->loop);
	int best = -1;

	if (pe->r.outcome != RESULT_OK && pe->r.outcome != RESULT_RCODE)
		return;
	if (pe->r.identity_source[0] != '\0')
		for (int i = 0; i < s->cfg.n_identify; i++)
			if (strcmp(s->cfg.identify[i], pe->r.identity_source) == 0)
				best = i;
	if (best == 0 || now - qr->t->last_chaos_ms < CHAOS_MIN_GAP_MS)
		return;
	for (int i = 0; i < (best < 0 ? s->cfg.n_identify : best); i++) {
		enum dns_wire_kind k;

		if (strcmp(s->cfg.identify[i], "id.server") == 0)
			k = DNS_WIRE_ID_SERVER;
		else if (strcmp(s->cfg.identify[i], "hostname.bind") == 0)
			k = DNS_WIRE_HOSTNAME_BIND;
		else
			continue;
		/* The nsid query already asked id.server. */
		if (k == DNS_WIRE_ID_SERVER && qr->kind == DNS_WIRE_NSID)
			continue;
		qr->t->last_chaos_ms = now;
		send_query(s, qr->t, 0, k, 0, 0);
		return;
	}
}

static void end_round(struct svc *s);
static void ntp_next_phase(struct svc *s);
static void ntp_progress(struct svc *s, int phase, const struct udp_probe_result *res);

static void unlink_query(struct prober *p, struct query *qr)
{
	if (qr->prev)
		qr->prev->next = qr->next;
	else
		p->queries = qr->next;
	if (qr->next)
		qr->next->prev = qr->prev;
}

static void query_done(void *ctx, const struct udp_probe_result *res)
{
	struct query *qr = ctx;
	struct svc *s = qr->svc;
	struct prober *p = s->p;
	struct pending *pe = NULL;

	unlink_query(p, qr);
	s->in_flight--;
	if (qr->ntp)
		s->phase_pending[qr->ntp_phase]--;
	if (res->status != UDP_PROBE_CANCELLED) {
		if (res->status == UDP_PROBE_REPLY)
			p->st.answered++;
		else if (res->status == UDP_PROBE_UNREACHABLE)
			p->st.unreachable++;
		else
			p->st.timeouts++;
		if (res->status == UDP_PROBE_REPLY &&
		    qr->verdict == (qr->ntp ? (int)NTP_WIRE_MALFORMED : (int)DNS_WIRE_MALFORMED))
			p->st.malformed++;
		pe = prober_record_new(qr, res);
	}
	if (pe != NULL && res->status == UDP_PROBE_REPLY) {
		if (qr->ntp)
			prober_record_fill_ntp(qr, pe, res);
		else
			prober_record_fill_dns(qr, pe);
	}
	/* Any reply counts as an answer, a malformed one too: only silence
	 * (timeout, unreachable) is not. */
	if (pe != NULL && pe->r.outcome != RESULT_TIMEOUT && pe->r.outcome != RESULT_UNREACHABLE)
		qr->t->answered = 1;
	if (pe != NULL && qr->ntp)
		qr->t->fp[qr->ntp_phase] = pe->fp;
	if (pe != NULL && !qr->ntp && !p->closing) {
		if (qr->verdict == DNS_WIRE_TRUNCATED && !qr->tcp && res->status == UDP_PROBE_REPLY)
			send_query_check(s, qr->t, 0, qr->kind, 1, 0, qr->check);
		else if (qr->check < 0 &&
			 (qr->kind == DNS_WIRE_SERVICE || qr->kind == DNS_WIRE_NSID))
			maybe_chaos_followup(qr, pe);
	}
	if (qr->ntp && s->in_round && !p->closing)
		ntp_progress(s, qr->ntp_phase, res);
	else if (s->in_flight == 0 && s->in_round)
		end_round(s);
	free(qr);
}

/* ---- NTP: management before, anycast, management after ---- */

static void ntp_send_phase(struct svc *s)
{
	/* A pass starts from nothing: no fingerprint of an earlier pass or
	 * round may pose as "before" or "after". */
	if (s->ntp_phase == 0)
		for (int i = 0; i < s->n_targets; i++)
			memset(s->targets[i].fp, 0, sizeof(s->targets[i].fp));
	for (int i = 0; i < s->n_targets; i++) {
		struct target *t = &s->targets[i];

		if (t->anycast != (s->ntp_phase == 1))
			continue;
		/* "After" only where "before" gave a fingerprint: a silent
		 * server would only make the round wait out its timeout again. */
		if (s->ntp_phase == 2 && !t->fp[0].valid)
			continue;
		t->fp[s->ntp_phase].valid = 0;
		send_query(s, t, 1, 0, 0, s->ntp_phase);
	}
}

static void ntp_next_phase(struct svc *s)
{
	uv_timer_stop(&s->grace);
	s->ntp_phase++;
	ntp_send_phase(s);
	if (s->phase_pending[s->ntp_phase] == 0) { /* nothing sent in that phase */
		if (s->ntp_phase < 2)
			ntp_next_phase(s);
		else if (s->in_flight == 0)
			end_round(s);
	}
}

static void on_grace(uv_timer_t *t)
{
	struct svc *s = t->data;

	/* Some management address is slow or dead: do not hold the anycast
	 * query for its timeout. Its late answer still counts as "before". */
	if (s->in_round && s->ntp_phase == 0 && !s->p->closing)
		ntp_next_phase(s);
}

/* An NTP query of phase finished: move the round on. The anycast phase
 * starts when every "before" query is done, or a grace time after the first
 * "before" answer (four times its RTT, at least GRACE_MIN_MS). */
static void ntp_progress(struct svc *s, int phase, const struct udp_probe_result *res)
{
	if (s->ntp_phase == 0 && phase == 0) {
		if (s->phase_pending[0] == 0) {
			ntp_next_phase(s);
		} else if (res->status == UDP_PROBE_REPLY && !uv_is_active((uv_handle_t *)&s->grace)) {
			int64_t g = (int64_t)(res->rtt_ms * 4) + GRACE_MIN_MS;

			if (g > s->cfg.timeout_ms)
				g = s->cfg.timeout_ms;
			uv_timer_start(&s->grace, on_grace, (uint64_t)g, 0);
		}
		return;
	}
	if (s->ntp_phase == 1 && s->phase_pending[1] == 0) {
		ntp_next_phase(s);
		return;
	}
	if (s->ntp_phase == 2 && s->in_flight == 0)
		end_round(s);
}

/* ---- rounds ---- */

static void end_round(struct svc *s)
{
	struct prober *p = s->p;
	int anycast_ok = 1;

	if (s->cfg.protocol == INV_PROTO_NTP && !p->closing) {
		if (prober_record_identify_ntp(s) && !s->ntp_retried) {
			s->ntp_retried = 1;
			s->ntp_phase = 0;
			ntp_send_phase(s);
			if (s->phase_pending[0] == 0)
				ntp_next_phase(s);
			if (s->in_round && s->in_flight > 0)
				return;
			if (!s->in_round) /* the pass ended already, inside ntp_next_phase */
				return;
		}
	} else if (s->cfg.protocol == INV_PROTO_NTP) {
		/* Closing mid-round: an anycast answer whose "after" queries
		 * never ran cannot be matched; it is no stranger either. */
		for (int k = 0; k < s->n_pend; k++)
			if (s->pend[k].t->anycast && !s->pend[k].ntp_pass_done &&
			    s->pend[k].r.outcome == RESULT_OK && s->pend[k].fp.valid)
				s->pend[k].r.outcome = RESULT_AMBIGUOUS;
	} else {
		prober_record_identify_dns(s);
	}
	s->in_round = 0;
	for (int k = 0; k < s->n_pend; k++)
		p->on_result(p->ctx, &s->pend[k].r);
	s->n_pend = 0;
	for (int i = 0; i < s->n_targets; i++)
		if (s->targets[i].anycast && !s->targets[i].answered)
			anycast_ok = 0;
	if (!p->closing && p->on_round)
		p->on_round(p->ctx, s->cfg.name, s->round, anycast_ok);
	if (s->retired)
		svc_close_handles(s);
}

static void start_round(struct svc *s)
{
	s->round++;
	s->in_round = 1;
	s->n_pend = 0;
	for (int i = 0; i < s->n_targets; i++)
		s->targets[i].answered = 0;
	if (s->cfg.protocol == INV_PROTO_NTP) {
		s->ntp_phase = 0;
		s->ntp_retried = 0;
		ntp_send_phase(s);
		if (s->phase_pending[0] == 0)
			ntp_next_phase(s);
		return;
	}
	for (int i = 0; i < s->n_targets; i++)
		send_query(s, &s->targets[i], 0,
			   s->cfg.query_name[0] != '\0' ? DNS_WIRE_SERVICE : DNS_WIRE_NSID, 0, 0);
	/* Due checks go to every target in the same round, so that an anycast
	 * answer can be compared with its instance's own answer. */
	for (int c = 0; c < s->cfg.n_checks; c++)
		if ((s->round - 1) % (uint64_t)s->check_rounds[c] == 0)
			for (int i = 0; i < s->n_targets; i++)
				send_query_check(s, &s->targets[i], 0, DNS_WIRE_SERVICE, 0, 0, c);
	if (s->in_flight == 0)
		end_round(s);
}

static void on_timer(uv_timer_t *t)
{
	struct svc *s = t->data;

	if (s->in_round) {
		/* The previous round is still waiting on slow targets: skip
		 * this one rather than stacking rounds. */
		s->skipped++;
		s->p->st.skipped_rounds++;
		log_debug("service %s: round %llu still running, skipped (%llu so far)",
			  s->cfg.name, (unsigned long long)s->round, (unsigned long long)s->skipped);
	} else {
		start_round(s);
	}
	if (!s->p->once && !s->retired)
		uv_timer_start(&s->timer, on_timer, jittered(s->cfg.interval_ms), 0);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct svc *s = h->data;
	struct prober *p = s->p;

	p->open_timers--;
	if (--s->handles_open == 0) {
		svc_free(s);
		maybe_free_prober(p);
	}
}

/* Close both timers; the service is freed when both have closed. */
static void svc_close_handles(struct svc *s)
{
	if (!s->timer_open)
		return;
	s->timer_open = 0;
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->grace, on_handle_closed);
}

static int add_services(struct prober *p, const struct inventory *inv, int start)
{
	for (int i = 0; i < inv->n_services; i++) {
		struct svc *s = svc_new(p, &inv->services[i]);

		if (s == NULL)
			return -EINVAL;
		uv_timer_init(p->loop, &s->timer);
		uv_timer_init(p->loop, &s->grace);
		s->timer.data = s->grace.data = s;
		s->timer_open = 1;
		s->handles_open = 2;
		p->open_timers += 2;
		s->next = p->svcs;
		p->svcs = s;
		if (start)
			uv_timer_start(&s->timer, on_timer, rnd() % 100, 0);
	}
	return 0;
}

struct prober *prober_new(uv_loop_t *loop, const struct inventory *inv, prober_result_fn on_result,
			  prober_round_fn on_round, void *ctx)
{
	struct prober *p;

	if (loop == NULL || inv == NULL || on_result == NULL)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->loop = loop;
	p->on_result = on_result;
	p->on_round = on_round;
	p->ctx = ctx;
	if (add_services(p, inv, 0) < 0) {
		for (struct svc *s = p->svcs; s; s = s->next)
			s->retired = 1;
		prober_close(p, NULL, NULL);
		return NULL;
	}
	return p;
}

static void retire(struct svc *s)
{
	s->retired = 1;
	uv_timer_stop(&s->timer);
	if (!s->in_round)
		svc_close_handles(s);
}

int prober_set_services(struct prober *p, const struct inventory *inv)
{
	struct svc *old = p->svcs;

	p->svcs = NULL;
	if (add_services(p, inv, 1) < 0) {
		log_warnx("prober: new services rejected, keeping the old ones");
		while (p->svcs) {
			struct svc *s = p->svcs;

			p->svcs = s->next;
			s->next = NULL;
			retire(s);
		}
		p->svcs = old;
		return -EINVAL;
	}
	/* Old services finish their round in flight, then go. */
	while (old) {
		struct svc *s = old;

		old = s->next;
		retire(s);
	}
	return 0;
}

int prober_start(struct prober *p, int once)
{
	p->once = once;
	for (struct svc *s = p->svcs; s; s = s->next)
		uv_timer_start(&s->timer, on_timer, once ? 0 : rnd() % 100, 0);
	return 0;
}

static void maybe_free_prober(struct prober *p)
{
	if (p->closing && p->open_timers == 0 && p->queries == NULL) {
		void (*cb)(void *) = p->close_cb;
		void *arg = p->close_arg;

		free(p);
		if (cb)
			cb(arg);
	}
}

void prober_close(struct prober *p, void (*cb)(void *arg), void *arg)
{
	p->closing = 1;
	p->close_cb = cb;
	p->close_arg = arg;
	/* Cancelled queries call back synchronously and produce no record. */
	while (p->queries)
		udp_probe_cancel(p->queries->probe);
	for (struct svc *s = p->svcs; s; s = s->next) {
		s->in_round = 0;
		s->retired = 1;
		uv_timer_stop(&s->timer);
		svc_close_handles(s);
	}
	p->svcs = NULL;
	if (p->open_timers == 0)
		maybe_free_prober(p);
}

void prober_get_stats(const struct prober *p, struct prober_stats *st)
{
	*st = p->st;
}
