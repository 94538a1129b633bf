/* collector/atlas_result.c - one RIPE Atlas result (JSON) to result records:
 * the fields Atlas publishes (prb_id, msm_id, timestamp, type, af,
 * dst_addr, result or resultset[], error), the DNS answer in abuf decoded
 * with ldns, its identity (NSID first, then the CHAOS TXT answer), and NTP
 * results (stratum, ref-id, result[].rtt). Pure logic. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>

#include "collector/atlas_result.h"

#define ABUF_MAX 65535

int atlas_is_vantage(const char *agent)
{
	return strncmp(agent, ATLAS_AGENT_PREFIX, strlen(ATLAS_AGENT_PREFIX)) == 0;
}

uint64_t atlas_seq(int64_t timestamp, int64_t msm_id, unsigned sub)
{
	return ((uint64_t)timestamp << 24) | (((uint64_t)msm_id & 0xfffff) << 4) | (sub & 0xf);
}

/* Integer field: 0 and *v, or -1 when missing or not a non-negative integer. */
static int get_uint(const json_t *o, const char *key, int64_t *v)
{
	const json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*v = json_integer_value(x);
	return 0;
}

/* Printable identity (a TXT string or NSID payload): 1 when every byte is
 * a printable ASCII character and it fits. */
static int printable(const uint8_t *p, size_t n)
{
	if (n == 0 || n >= RESULT_IDENTITY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* NSID from the reply's EDNS options: 1 found, 0 none, -1 garbage. */
static int nsid_of(const ldns_pkt *pkt, char *out, size_t outlen)
{
	ldns_edns_option_list *l = ldns_pkt_edns_get_option_list((ldns_pkt *)pkt);
	size_t n = l ? ldns_edns_option_list_get_count(l) : 0;

	for (size_t i = 0; i < n; i++) {
		ldns_edns_option *o = ldns_edns_option_list_get_option(l, i);

		if (ldns_edns_get_code(o) != LDNS_EDNS_NSID)
			continue;
		if (!printable(ldns_edns_get_data(o), ldns_edns_get_size(o)) ||
		    ldns_edns_get_size(o) >= outlen)
			return -1;
		memcpy(out, ldns_edns_get_data(o), ldns_edns_get_size(o));
		out[ldns_edns_get_size(o)] = '\0';
		return 1;
	}
	return 0;
}

/* The first CHAOS TXT answer's first string: 1 found, 0 none, -1 garbage. */
static int txt_of(const ldns_pkt *pkt, char *out, size_t outlen)
{
	ldns_rr_list *an = ldns_pkt_answer(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rdf *rd;
		const uint8_t *d;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT || ldns_rr_rd_count(rr) < 1)
			continue;
		rd = ldns_rr_rdf(rr, 0);
		d = ldns_rdf_data(rd);
		if (ldns_rdf_size(rd) < 1 || (size_t)d[0] + 1 > ldns_rdf_size(rd) ||
		    !printable(d + 1, d[0]) || d[0] >= outlen)
			return -1;
		memcpy(out, d + 1, d[0]);
		out[d[0]] = '\0';
		return 1;
	}
	return 0;
}

/* What was asked, from the question: id.server, hostname.bind or service. */
static void query_of(const ldns_pkt *pkt, struct result *r)
{
	ldns_rr_list *q = ldns_pkt_question(pkt);
	char *name;

	snprintf(r->query, sizeof(r->query), "service");
	if (ldns_rr_list_rr_count(q) < 1)
		return;
	name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(q, 0)));
	if (name == NULL)
		return;
	if (strcasecmp(name, "id.server.") == 0)
		snprintf(r->query, sizeof(r->query), "id.server");
	else if (strcasecmp(name, "hostname.bind.") == 0)
		snprintf(r->query, sizeof(r->query), "hostname.bind");
	free(name);
}

/* Strict base64 (RFC 4648, padded, no whitespace) into out (len / 4 * 3
 * bytes): the decoded length, or -1. */
static int b64_decode(const char *in, size_t len, uint8_t *out)
{
	size_t pad = 0;
	int n;

	if (len == 0 || len % 4 != 0)
		return -1;
	while (pad < 2 && in[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!isalnum((unsigned char)in[i]) && in[i] != '+' && in[i] != '/')
			return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	return n < 0 ? -1 : n - (int)pad;
}

/* Decode abuf into r (outcome, rcode, identity). -1 with why: skip. */
static int dns_answer(const char *abuf, struct result *r, char *why, size_t whylen)
{
	size_t len = strlen(abuf);
	uint8_t *wire;
	ldns_pkt *pkt = NULL;
	char id[RESULT_IDENTITY_MAX];
	int n, rc = -1;

	if (len == 0 || len > (ABUF_MAX + 2) / 3 * 4) {
		snprintf(why, whylen, "abuf: empty or too long");
		return -1;
	}
	if ((wire = malloc(len / 4 * 3 + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	n = b64_decode(abuf, len, wire);
	if (n <= 0) {
		snprintf(why, whylen, "abuf: invalid base64");
		goto out;
	}
	if (ldns_wire2pkt(&pkt, wire, (size_t)n) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "abuf: truncated or malformed DNS message");
		goto out;
	}
	query_of(pkt, r);
	if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
		char *s = ldns_pkt_rcode2str(ldns_pkt_get_rcode(pkt));

		r->outcome = RESULT_RCODE;
		snprintf(r->rcode, sizeof(r->rcode), "%s", s ? s : "unknown");
		free(s);
	} else {
		r->outcome = RESULT_OK;
		snprintf(r->rcode, sizeof(r->rcode), "NOERROR");
	}
	if ((n = nsid_of(pkt, id, sizeof(id))) == 1) {
		snprintf(r->identity, sizeof(r->identity), "%s", id);
		snprintf(r->identity_source, sizeof(r->identity_source), "nsid");
	} else if (n == 0 && (n = txt_of(pkt, id, sizeof(id))) == 1 &&
	           strcmp(r->query, "service") != 0) {
		snprintf(r->identity, sizeof(r->identity), "%s", id);
		memcpy(r->identity_source, r->query, sizeof(r->identity_source) - 1);
	}
	if (n < 0) {
		snprintf(why, whylen, "garbage identity (not printable ASCII) in the answer");
		goto out;
	}
	rc = 0;
out:
	ldns_pkt_free(pkt);
	free(wire);
	return rc;
}

/* One DNS answer-or-error object (a result's, or a resultset entry's). */
static int dns_entry(const json_t *e, struct result *r, char *why, size_t whylen)
{
	const json_t *res = json_object_get(e, "result"), *err = json_object_get(e, "error");
	const json_t *abuf, *rt;

	if (json_is_object(err)) {
		if (json_object_get(err, "timeout") != NULL)
			r->outcome = RESULT_TIMEOUT;
		else if (json_object_get(err, "socket") != NULL)
			r->outcome = RESULT_UNREACHABLE;
		else
			r->outcome = RESULT_MALFORMED;
		return 0;
	}
	if (!json_is_object(res)) {
		snprintf(why, whylen, "missing field result (or error)");
		return -1;
	}
	abuf = json_object_get(res, "abuf");
	if (!json_is_string(abuf)) {
		snprintf(why, whylen, "missing field result.abuf");
		return -1;
	}
	rt = json_object_get(res, "rt");
	if (rt != NULL && (!json_is_number(rt) || json_number_value(rt) < 0)) {
		snprintf(why, whylen, "result.rt: not a non-negative number");
		return -1;
	}
	r->rtt_ms = rt ? json_number_value(rt) : -1;
	return dns_answer(json_string_value(abuf), r, why, whylen);
}

/* NTP: the first reply of result[] ({"rtt", "offset"}; {"x": "*"} is a
 * timeout), stratum and ref-id of the result. */
static int ntp_entry(const json_t *o, struct result *r, char *why, size_t whylen)
{
	const json_t *res = json_object_get(o, "result"), *x;
	size_t i;

	if (!json_is_array(res)) {
		snprintf(why, whylen, "missing field result");
		return -1;
	}
	r->outcome = RESULT_TIMEOUT;
	snprintf(r->query, sizeof(r->query), "ntp");
	json_array_foreach(res, i, x)
	{
		const json_t *rtt = json_object_get(x, "rtt"), *off = json_object_get(x, "offset");
		int64_t st;

		if (!json_is_number(rtt))
			continue;
		r->outcome = RESULT_UNKNOWN; /* no management replies to fingerprint against */
		r->rtt_ms = json_number_value(rtt) >= 0 ? json_number_value(rtt) : -1;
		r->has_ntp = 1;
		r->offset_ms = json_is_number(off) ? json_number_value(off) * 1000 : 0;
		if (get_uint(o, "stratum", &st) == 0 && st <= 16)
			r->stratum = (int)st;
		x = json_object_get(o, "ref-id");
		if (json_is_string(x) &&
		    printable((const uint8_t *)json_string_value(x), strlen(json_string_value(x))))
			snprintf(r->refid, sizeof(r->refid), "%s", json_string_value(x));
		break;
	}
	return 0;
}

/* Common fields of one record: agent, service by dst_addr, family. */
static int vantage(const json_t *o, const json_t *e, const struct inventory *inv, int64_t prb,
                   struct result *r, char *why, size_t whylen)
{
	const json_t *dst = json_object_get(e, "dst_addr");
	int64_t af;

	if (!json_is_string(dst))
		dst = json_object_get(o, "dst_addr");
	if (!json_is_string(dst) || strlen(json_string_value(dst)) >= RESULT_ADDR_MAX) {
		snprintf(why, whylen, "missing field dst_addr");
		return -1;
	}
	if (get_uint(e, "af", &af) != 0 && get_uint(o, "af", &af) != 0)
		af = strchr(json_string_value(dst), ':') ? 6 : 4;
	if (af != 4 && af != 6) {
		snprintf(why, whylen, "af: must be 4 or 6");
		return -1;
	}
	snprintf(r->agent, sizeof(r->agent), ATLAS_AGENT_PREFIX "%" PRId64, prb);
	snprintf(r->address, sizeof(r->address), "%s", json_string_value(dst));
	r->family = (int)af;
	r->target = RESULT_TARGET_ANYCAST;
	for (int i = 0; i < inv->n_services; i++)
		for (int k = 0; k < inv->services[i].n_address; k++)
			if (strcmp(inv->services[i].address[k], r->address) == 0) {
				snprintf(r->service, sizeof(r->service), "%s",
				         inv->services[i].name);
				return 0;
			}
	snprintf(why, whylen, "dst_addr %s is no service's address", r->address);
	return -1;
}

static void map_instance(const struct inventory *inv, struct result *r)
{
	const struct inv_service *s = inventory_find_service(inv, r->service);
	const struct inv_instance *in;

	if (s != NULL && r->identity[0] != '\0' &&
	    (in = inventory_instance_by_identity(s, r->identity)) != NULL)
		snprintf(r->instance, sizeof(r->instance), "%s", in->name);
}

int atlas_result_parse(const json_t *o, const struct inventory *inv, struct result *out, size_t max,
                       char *why, size_t whylen)
{
	const json_t *type = json_object_get(o, "type"), *set;
	int64_t prb, msm, ts;
	int dns;
	size_t n = 0, i, count;

	if (!json_is_object(o)) {
		snprintf(why, whylen, "not a JSON object");
		return -1;
	}
	if (get_uint(o, "prb_id", &prb) != 0 || prb == 0) {
		snprintf(why, whylen, "missing field prb_id");
		return -1;
	}
	if (get_uint(o, "msm_id", &msm) != 0) {
		snprintf(why, whylen, "missing field msm_id");
		return -1;
	}
	/* 2^35 s is the year 3058: larger is garbage, and the seq needs the room. */
	if (get_uint(o, "timestamp", &ts) != 0 || ts >= (INT64_C(1) << 35)) {
		snprintf(why, whylen, "missing field timestamp");
		return -1;
	}
	if (!json_is_string(type)) {
		snprintf(why, whylen, "missing field type");
		return -1;
	}
	if (strcmp(json_string_value(type), "dns") == 0)
		dns = 1;
	else if (strcmp(json_string_value(type), "ntp") == 0)
		dns = 0;
	else {
		snprintf(why, whylen, "unknown type \"%.32s\"", json_string_value(type));
		return -1;
	}
	set = json_object_get(o, "resultset");
	count = dns && json_is_array(set) ? json_array_size(set) : 1;
	if (count == 0 || count > ATLAS_SUB_MAX || count > max) {
		snprintf(why, whylen, "resultset: %zu entries (1..%d)", count, ATLAS_SUB_MAX);
		return -1;
	}
	for (i = 0; i < count; i++) {
		const json_t *e = dns && json_is_array(set) ? json_array_get(set, i) : o;
		struct result *r = &out[n];
		int64_t t;

		if (!json_is_object(e)) {
			snprintf(why, whylen, "resultset[%zu]: not an object", i);
			return -1;
		}
		memset(r, 0, sizeof(*r));
		r->rtt_ms = -1;
		if (vantage(o, e, inv, prb, r, why, whylen) != 0)
			return -1;
		if ((dns ? dns_entry(e, r, why, whylen) : ntp_entry(e, r, why, whylen)) != 0)
			return -1;
		r->seq = atlas_seq(ts, msm, (unsigned)i);
		r->round = r->seq >> 4;
		t = get_uint(e, "time", &t) == 0 && t < (INT64_C(1) << 35) ? t : ts;
		r->time_ms = t * 1000;
		snprintf(
		    r->transport, sizeof(r->transport), "%s",
		    json_is_string(json_object_get(o, "proto")) &&
		            strcasecmp(json_string_value(json_object_get(o, "proto")), "TCP") == 0
		        ? "tcp"
		        : "udp");
		map_instance(inv, r);
		n++;
	}
	return (int)n;
}
