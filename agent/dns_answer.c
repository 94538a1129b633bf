/* agent/dns_answer.c - canonical answer-section digest and SOA serial of a
 * DNS reply (ldns parses, canonicalises, sorts and hashes). */
#include "agent/dns_answer.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>

static void set_reason(struct dns_answer *out, const char *what, const char *detail)
{
	snprintf(out->reason, sizeof(out->reason), "%s%s%s", what, detail ? ": " : "",
	         detail ? detail : "");
}

/* Append one RR's presentation text (TTL 0 already set) to out->rrs. */
static void append_text(struct dns_answer *out, const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	size_t used = strlen(out->rrs), n;

	if (s == NULL || out->rrs_truncated)
		goto done;
	n = strlen(s);
	if (used + n + 1 > sizeof(out->rrs)) {
		out->rrs_truncated = 1;
		if (used + 4 <= sizeof(out->rrs))
			memcpy(out->rrs + used, "...", 4);
		goto done;
	}
	memcpy(out->rrs + used, s, n + 1);
done:
	LDNS_FREE(s);
}

static void hex(const unsigned char *bin, size_t n, char *dst)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[bin[i] >> 4];
		dst[2 * i + 1] = digits[bin[i] & 15];
	}
	dst[2 * n] = '\0';
}

int dns_answer_digest(const uint8_t *pkt, size_t len, struct dns_answer *out)
{
	return dns_answer_digest_flags(pkt, len, 0, out);
}

int dns_answer_digest_flags(const uint8_t *pkt, size_t len, int flags, struct dns_answer *out)
{
	ldns_pkt *p = NULL;
	ldns_rr_list *list = NULL;
	ldns_buffer *wire = NULL;
	unsigned char sum[LDNS_SHA256_DIGEST_LENGTH];
	ldns_status st;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (pkt == NULL || len < LDNS_HEADER_SIZE) {
		set_reason(out, "reply shorter than a DNS header", NULL);
		return -1;
	}
	st = ldns_wire2pkt(&p, pkt, len);
	if (st != LDNS_STATUS_OK) {
		set_reason(out, "answer section unparseable", ldns_get_errorstr_by_id(st));
		return -1;
	}
	/* The packet is ours: canonicalise and sort its own answer list. */
	list = ldns_pkt_answer(p);
	wire = ldns_buffer_new(4096);
	if (list == NULL || wire == NULL) {
		set_reason(out, "out of memory", NULL);
		goto done;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);

		ldns_rr2canonical(rr);
		ldns_rr_set_ttl(rr, 0);
	}
	ldns_rr_list_sort(list);
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);

		if (ldns_rr2buffer_wire_canonical(wire, rr, LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK) {
			set_reason(out, "answer RR cannot be encoded", NULL);
			goto done;
		}
		if (!out->has_serial && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
		    ldns_rr_rd_count(rr) >= 3 && ldns_rr_rdf(rr, 2) != NULL &&
		    ldns_rdf_size(ldns_rr_rdf(rr, 2)) == 4) {
			out->has_serial = 1;
			out->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		}
		if (!(flags & DNS_ANSWER_NO_TEXT))
			append_text(out, rr);
	}
	if (ldns_buffer_status(wire) != LDNS_STATUS_OK) {
		set_reason(out, "answer section too large", NULL);
		goto done;
	}
	out->rr_count = (unsigned)ldns_rr_list_rr_count(list);
	ldns_sha256(ldns_buffer_begin(wire), (unsigned)ldns_buffer_position(wire), sum);
	hex(sum, sizeof(sum), out->digest);
	rc = 0;
done:
	if (rc != 0) {
		char keep[DNS_ANSWER_REASON_MAX];

		memcpy(keep, out->reason, sizeof(keep));
		memset(out, 0, sizeof(*out));
		memcpy(out->reason, keep, sizeof(keep));
	}
	ldns_buffer_free(wire);
	ldns_pkt_free(p);
	return rc;
}
