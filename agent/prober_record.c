/* agent/prober_record.c - a round's records: one per query, filled from the
 * reply (DNS rcode and identity, NTP fields and fingerprint), and at the end
 * of the round the instance that answered each anycast query (see
 * prober_int.h; the scheduling is in prober.c). */
#include "agent/prober_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending *prober_record_new(struct query *qr, const struct udp_probe_result *res)
{
	struct svc *s = qr->svc;
	struct pending *pe;
	struct result *r;

	if (s->n_pend >= s->cap_pend) {
		int cap = s->cap_pend * 2 < MAX_PENDING ? s->cap_pend * 2 : MAX_PENDING;
		struct pending *np;

		if (cap <= s->n_pend)
			return NULL;
		np = realloc(s->pend, (size_t)cap * sizeof(*np));
		if (np == NULL)
			return NULL;
		s->pend = np;
		s->cap_pend = cap;
	}
	pe = &s->pend[s->n_pend++];
	memset(pe, 0, sizeof(*pe));
	pe->t = qr->t;
	r = &pe->r;
	r->round = s->round;
	r->time_ms = res->sent_real_ns / 1000000;
	snprintf(r->service, sizeof(r->service), "%s", s->cfg.name);
	snprintf(r->address, sizeof(r->address), "%s", qr->t->address);
	r->family = qr->t->family;
	r->target = qr->t->anycast ? RESULT_TARGET_ANYCAST : RESULT_TARGET_MANAGEMENT;
	if (!qr->t->anycast)
		snprintf(r->instance, sizeof(r->instance), "%s",
		         s->cfg.instances[qr->t->instance].name);
	snprintf(r->query, sizeof(r->query), "%s",
	         qr->ntp ? "ntp" : qr->check >= 0 ? "check" : dns_wire_kind_name(qr->kind));
	if (qr->check >= 0)
		snprintf(r->check, sizeof(r->check), "%s", s->cfg.checks[qr->check].name);
	snprintf(r->transport, sizeof(r->transport), "%s", qr->tcp ? "tcp" : "udp");
	r->rtt_ms = res->status == UDP_PROBE_REPLY ? res->rtt_ms : -1;
	switch (res->status) {
	case UDP_PROBE_REPLY:
		r->outcome = RESULT_OK;
		break;
	case UDP_PROBE_UNREACHABLE:
		r->outcome = RESULT_UNREACHABLE;
		break;
	default:
		r->outcome = RESULT_TIMEOUT;
		break;
	}
	return pe;
}

void prober_record_fill_dns(struct query *qr, struct pending *pe)
{
	struct svc *s = qr->svc;
	struct result *r = &pe->r;
	const char *txt_id = NULL, *txt_host = NULL;
	int src;

	if (qr->verdict == DNS_WIRE_MALFORMED) {
		r->outcome = RESULT_MALFORMED;
		return;
	}
	snprintf(r->rcode, sizeof(r->rcode), "%s", qr->dr.rcode_name);
	if (qr->verdict == DNS_WIRE_RCODE)
		r->outcome = RESULT_RCODE;
	if (qr->check >= 0 && qr->verdict == DNS_WIRE_OK) {
		if (qr->answer_rc < 0) {
			r->outcome = RESULT_MALFORMED;
			snprintf(r->reason, sizeof(r->reason), "%s", qr->answer.reason);
		} else {
			r->has_serial = qr->answer.has_serial;
			r->serial = qr->answer.serial;
			snprintf(r->digest, sizeof(r->digest), "%s", qr->answer.digest);
			snprintf(r->rrs, sizeof(r->rrs), "%s", qr->answer.rrs);
		}
	}
	if (qr->dr.has_txt) {
		if (qr->kind == DNS_WIRE_HOSTNAME_BIND)
			txt_host = qr->dr.txt;
		else if (qr->kind != DNS_WIRE_SERVICE)
			txt_id = qr->dr.txt;
	}
	src = identify_pick_source((const char(*)[16])s->cfg.identify, s->cfg.n_identify,
	                           qr->dr.has_nsid ? qr->dr.nsid : NULL, txt_id, txt_host);
	if (src < 0)
		return;
	snprintf(r->identity_source, sizeof(r->identity_source), "%s", s->cfg.identify[src]);
	if (strcmp(s->cfg.identify[src], "nsid") == 0)
		snprintf(r->identity, sizeof(r->identity), "%s", qr->dr.nsid);
	else
		snprintf(r->identity, sizeof(r->identity), "%s", txt_id ? txt_id : txt_host);
}

void prober_record_fill_ntp(struct query *qr, struct pending *pe,
                            const struct udp_probe_result *res)
{
	struct result *r = &pe->r;
	const struct ntp_wire_packet *np = &qr->np;

	if (qr->verdict == NTP_WIRE_MALFORMED) {
		r->outcome = RESULT_MALFORMED;
		return;
	}
	r->has_ntp = 1;
	r->stratum = np->stratum;
	r->leap = np->leap;
	ntp_wire_refid_text(np->stratum, np->refid, r->refid, sizeof(r->refid));
	r->reference_time_ms = np->reference ? ntp_wire_to_unix_ns(np->reference) / 1000000 : 0;
	r->root_delay_ms = ntp_wire_short_ms(np->root_delay);
	r->root_dispersion_ms = ntp_wire_short_ms(np->root_dispersion);
	if (qr->verdict == NTP_WIRE_KOD) {
		snprintf(r->kod, sizeof(r->kod), "%.4s", r->refid);
		return;
	}
	{
		double delay;

		ntp_wire_offset_delay(res->sent_real_ns, np, res->recv_real_ns, &r->offset_ms,
		                      &delay);
	}
	pe->fp.valid = 1;
	pe->fp.stratum = np->stratum;
	pe->fp.refid = np->refid;
	pe->fp.reference = np->reference;
	{
		char text[64];

		snprintf(r->identity, sizeof(r->identity), "%s",
		         identify_fp_format(&pe->fp, text, sizeof(text)));
		snprintf(r->identity_source, sizeof(r->identity_source), "ntp-fingerprint");
	}
}

/* Index of an identity source: 0 nsid, 1 id.server, 2 hostname.bind; -1. */
static int source_index(const char *src)
{
	static const char *const names[3] = {"nsid", "id.server", "hostname.bind"};

	for (int i = 0; i < 3; i++)
		if (strcmp(src, names[i]) == 0)
			return i;
	return -1;
}

void prober_record_identify_dns(struct svc *s)
{
	struct identify_dns_candidate c[64];
	int n = s->cfg.n_instances < 64 ? s->cfg.n_instances : 64;

	/* Learn first, so that an anycast answer can use a management answer
	 * of the same round. */
	for (int k = 0; k < s->n_pend; k++) {
		const struct pending *pe = &s->pend[k];
		int src = source_index(pe->r.identity_source);

		if (!pe->t->anycast && src >= 0 && pe->r.identity[0] != '\0' &&
		    (pe->r.outcome == RESULT_OK || pe->r.outcome == RESULT_RCODE))
			snprintf(s->learned[pe->t->instance][src], RESULT_IDENTITY_MAX, "%s",
			         pe->r.identity);
	}
	for (int k = 0; k < s->n_pend; k++) {
		struct pending *pe = &s->pend[k];
		int idx, src = source_index(pe->r.identity_source);

		if (!pe->t->anycast || pe->r.identity[0] == '\0' || src < 0)
			continue;
		for (int i = 0; i < n; i++) {
			c[i].configured = s->cfg.instances[i].identity;
			c[i].learned = s->learned[i][src];
		}
		idx = identify_dns(pe->r.identity, c, n);
		if (idx >= 0)
			snprintf(pe->r.instance, sizeof(pe->r.instance), "%s",
			         s->cfg.instances[idx].name);
	}
}

int prober_record_identify_ntp(struct svc *s)
{
	struct identify_ntp_candidate c[64];
	int owner[64], n = 0, unstable = 0;

	for (int i = 0; i < s->cfg.n_instances && n < 64; i++) {
		/* One management target per instance: its first with replies. */
		for (int j = 0; j < s->n_targets; j++) {
			struct target *t = &s->targets[j];

			if (!t->anycast && t->instance == i && t->fp[0].valid) {
				c[n].before = t->fp[0];
				c[n].after = t->fp[2];
				owner[n++] = i;
				break;
			}
		}
	}
	for (int k = 0; k < s->n_pend; k++) {
		struct pending *pe = &s->pend[k];
		int idx;

		if (pe->ntp_pass_done || !pe->t->anycast || pe->r.outcome != RESULT_OK)
			continue;
		pe->ntp_pass_done = 1;
		if (!pe->fp.valid) /* KoD: answered, but no fingerprint */
			continue;
		switch (identify_ntp(&pe->fp, c, n, &idx)) {
		case IDENTIFY_MATCH:
			snprintf(pe->r.instance, sizeof(pe->r.instance), "%s",
			         s->cfg.instances[owner[idx]].name);
			break;
		case IDENTIFY_AMBIGUOUS:
			pe->r.outcome = RESULT_AMBIGUOUS;
			break;
		case IDENTIFY_UNSTABLE:
			/* A clock update between our queries: not a match, not
			 * a stranger either. */
			pe->r.outcome = RESULT_AMBIGUOUS;
			unstable = 1;
			break;
		case IDENTIFY_UNKNOWN:
			pe->r.outcome = RESULT_UNKNOWN;
			break;
		}
	}
	return unstable;
}
