/* agent/dns_wire.c - DNS probe queries (ldns) and reply validation and
 * classification. Pure: no sockets, no clocks, no globals. */
#include "agent/dns_wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#define EDNS_NSID 3

static const char *const rcode_names[] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
	"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13",
	"RCODE14", "RCODE15", "BADVERS",
};

const char *dns_wire_rcode_name(int rcode)
{
	if (rcode < 0 || (size_t)rcode >= sizeof(rcode_names) / sizeof(rcode_names[0]))
		return NULL;
	return rcode_names[rcode];
}

const char *dns_wire_kind_name(enum dns_wire_kind kind)
{
	switch (kind) {
	case DNS_WIRE_SERVICE:
		return "service";
	case DNS_WIRE_NSID:
		return "nsid";
	case DNS_WIRE_ID_SERVER:
		return "id.server";
	case DNS_WIRE_HOSTNAME_BIND:
		return "hostname.bind";
	}
	return "?";
}

int dns_wire_build_query(enum dns_wire_kind kind, const char *qname, const char *qtype, uint16_t id,
			 uint8_t *buf, size_t buflen, struct dns_wire_question *q)
{
	ldns_rdf *name = NULL;
	ldns_pkt *pkt = NULL;
	ldns_edns_option_list *opts = NULL;
	ldns_edns_option *nsid;
	ldns_rr_type type = LDNS_RR_TYPE_TXT;
	ldns_rr_class class = LDNS_RR_CLASS_CH;
	uint16_t flags = 0;
	uint8_t *wire = NULL;
	size_t wire_len = 0;
	int rc = -EINVAL;

	switch (kind) {
	case DNS_WIRE_SERVICE:
		if (qname == NULL || qname[0] == '\0' || qtype == NULL)
			return -EINVAL;
		type = ldns_get_rr_type_by_name(qtype);
		if (type == 0)
			return -EINVAL;
		class = LDNS_RR_CLASS_IN;
		flags = LDNS_RD;
		break;
	case DNS_WIRE_NSID:
	case DNS_WIRE_ID_SERVER:
		qname = "id.server.";
		break;
	case DNS_WIRE_HOSTNAME_BIND:
		qname = "hostname.bind.";
		break;
	default:
		return -EINVAL;
	}
	name = ldns_dname_new_frm_str(qname);
	if (name == NULL || ldns_rdf_size(name) > sizeof(q->qname))
		goto out;
	pkt = ldns_pkt_query_new(name, type, class, flags);
	if (pkt == NULL)
		goto out;
	name = NULL; /* owned by pkt now */
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_edns_udp_size(pkt, DNS_WIRE_UDP_SIZE);
	/* NSID on every query: any answer may identify the server. */
	opts = ldns_edns_option_list_new();
	nsid = ldns_edns_new_from_data(LDNS_EDNS_NSID, 0, NULL);
	if (opts == NULL || nsid == NULL || !ldns_edns_option_list_push(opts, nsid)) {
		if (nsid != NULL)
			ldns_edns_deep_free(nsid);
		rc = -ENOMEM;
		goto out;
	}
	ldns_pkt_set_edns_option_list(pkt, opts);
	opts = NULL; /* owned by pkt now */
	if (ldns_pkt2wire(&wire, pkt, &wire_len) != LDNS_STATUS_OK) {
		rc = -ENOMEM;
		goto out;
	}
	if (wire_len > buflen) {
		rc = -ENOSPC;
		goto out;
	}
	memcpy(buf, wire, wire_len);
	{
		const ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
		const ldns_rdf *owner = ldns_rr_owner(qrr);

		q->id = id;
		q->qtype = (uint16_t)type;
		q->qclass = (uint16_t)class;
		q->qname_len = ldns_rdf_size(owner);
		memcpy(q->qname, ldns_rdf_data(owner), q->qname_len);
	}
	rc = (int)wire_len;
out:
	free(wire);
	if (opts != NULL)
		ldns_edns_option_list_deep_free(opts);
	if (name != NULL)
		ldns_rdf_deep_free(name);
	if (pkt != NULL)
		ldns_pkt_free(pkt);
	return rc;
}

/* Wire names compare case-insensitively; length octets (< 64) never fall in
 * 'A'..'Z', so folding the whole buffer is safe. */
static int wire_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (tolower(a[i]) != tolower(b[i]))
			return 0;
	return 1;
}

/* Printable text from raw bytes: printable ASCII as is, others as \DDD. */
static void escape_text(const uint8_t *data, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outlen; i++) {
		if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\')
			out[o++] = (char)data[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\%03u", data[i]);
	}
	out[o] = '\0';
}

/* NSID: ASCII when every byte is printable, else lowercase hex. */
static void format_nsid(const uint8_t *data, size_t len, char *out, size_t outlen)
{
	int printable = len > 0;
	size_t o = 0;

	for (size_t i = 0; i < len; i++)
		if (data[i] < 0x20 || data[i] >= 0x7f)
			printable = 0;
	if (printable) {
		escape_text(data, len, out, outlen);
		return;
	}
	for (size_t i = 0; i < len && o + 3 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", data[i]);
	out[o] = '\0';
}

/* Walk the raw EDNS option data ourselves: ldns hides malformed options.
 * Returns 0 (NSID copied when present) or -1 when the options are malformed. */
static int find_nsid(const ldns_pkt *pkt, struct dns_wire_reply *out)
{
	const ldns_rdf *rdf = ldns_pkt_edns_data(pkt);
	const uint8_t *d;
	size_t len, off = 0;

	if (rdf == NULL)
		return 0;
	d = ldns_rdf_data(rdf);
	len = ldns_rdf_size(rdf);
	while (off < len) {
		uint16_t code, olen;

		if (len - off < 4)
			return -1;
		code = (uint16_t)(d[off] << 8 | d[off + 1]);
		olen = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
		off += 4;
		if (olen > len - off)
			return -1;
		if (code == EDNS_NSID && !out->has_nsid && olen > 0) {
			out->has_nsid = 1;
			format_nsid(d + off, olen, out->nsid, sizeof(out->nsid));
		}
		off += olen;
	}
	return 0;
}

/* First TXT record in the answer section owned by the question name. */
static void find_txt(const ldns_pkt *pkt, const struct dns_wire_question *q,
		     struct dns_wire_reply *out)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		const ldns_rdf *rd;
		const uint8_t *d;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT || ldns_rr_rd_count(rr) < 1)
			continue;
		if (!wire_name_equal(ldns_rdf_data(owner), ldns_rdf_size(owner), q->qname,
				     q->qname_len))
			continue;
		rd = ldns_rr_rdf(rr, 0);
		d = ldns_rdf_data(rd);
		if (ldns_rdf_size(rd) < 1 || (size_t)d[0] + 1 > ldns_rdf_size(rd))
			continue;
		out->has_txt = 1;
		escape_text(d + 1, d[0], out->txt, sizeof(out->txt));
		return;
	}
}

static enum dns_wire_verdict set_verdict(struct dns_wire_reply *out, enum dns_wire_verdict v)
{
	out->verdict = v;
	return v;
}

enum dns_wire_verdict dns_wire_classify(const uint8_t *pkt, size_t len,
					const struct dns_wire_question *q,
					struct dns_wire_reply *out)
{
	ldns_pkt *p = NULL;
	const ldns_rr *qrr;
	const ldns_rdf *owner;
	const char *name;
	enum dns_wire_verdict v;
	int rcode;

	memset(out, 0, sizeof(*out));
	out->rcode = -1;
	/* Header first: ID and QR decide whether the packet is ours at all. */
	if (pkt == NULL || len < 12)
		return set_verdict(out, DNS_WIRE_DROP);
	if ((uint16_t)(pkt[0] << 8 | pkt[1]) != q->id || !(pkt[2] & 0x80))
		return set_verdict(out, DNS_WIRE_DROP);
	if ((pkt[4] << 8 | pkt[5]) != 1)
		return set_verdict(out, DNS_WIRE_DROP);
	if (ldns_wire2pkt(&p, pkt, len) != LDNS_STATUS_OK || p == NULL)
		return set_verdict(out, DNS_WIRE_MALFORMED);
	qrr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	if (qrr == NULL) {
		v = DNS_WIRE_MALFORMED;
		goto out;
	}
	owner = ldns_rr_owner(qrr);
	if (ldns_rr_get_type(qrr) != q->qtype || ldns_rr_get_class(qrr) != q->qclass ||
	    owner == NULL ||
	    !wire_name_equal(ldns_rdf_data(owner), ldns_rdf_size(owner), q->qname, q->qname_len)) {
		v = DNS_WIRE_DROP;
		goto out;
	}
	rcode = ldns_pkt_get_rcode(p) | (ldns_pkt_edns_extended_rcode(p) << 4);
	out->rcode = rcode;
	name = dns_wire_rcode_name(rcode);
	if (name != NULL)
		snprintf(out->rcode_name, sizeof(out->rcode_name), "%s", name);
	else
		snprintf(out->rcode_name, sizeof(out->rcode_name), "RCODE%d", rcode);
	if (find_nsid(p, out) < 0) {
		v = DNS_WIRE_MALFORMED;
		goto out;
	}
	if (ldns_pkt_tc(p)) {
		v = DNS_WIRE_TRUNCATED;
		goto out;
	}
	if (rcode != LDNS_RCODE_NOERROR) {
		v = DNS_WIRE_RCODE;
		goto out;
	}
	find_txt(p, q, out);
	v = DNS_WIRE_OK;
out:
	ldns_pkt_free(p);
	return set_verdict(out, v);
}
