/* agent/dns_wire.c - DNS probe queries and reply validation and
 * classification, on the wire format itself (RFC 1035; EDNS0, RFC 6891;
 * NSID, RFC 5001). Pure: no sockets, no clocks, no globals. */
#include "agent/dns_wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER_LEN 12
#define NAME_MAX_WIRE 255
#define LABEL_MAX 63
#define TYPE_TXT 16
#define TYPE_OPT 41
#define CLASS_IN 1
#define CLASS_CH 3
#define FLAG_QR 0x8000
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define EDNS_NSID 3

static const char *const rcode_names[] = {
    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADVERS",
};

/* Query types by mnemonic (RFC 1035 and the IANA registry). */
static const struct {
	const char *name;
	uint16_t type;
} types[] = {
    {"A", 1},           {"NS", 2},       {"MD", 3},          {"MF", 4},      {"CNAME", 5},
    {"SOA", 6},         {"MB", 7},       {"MG", 8},          {"MR", 9},      {"NULL", 10},
    {"WKS", 11},        {"PTR", 12},     {"HINFO", 13},      {"MINFO", 14},  {"MX", 15},
    {"TXT", 16},        {"RP", 17},      {"AFSDB", 18},      {"X25", 19},    {"ISDN", 20},
    {"RT", 21},         {"NSAP", 22},    {"NSAP-PTR", 23},   {"SIG", 24},    {"KEY", 25},
    {"PX", 26},         {"GPOS", 27},    {"AAAA", 28},       {"LOC", 29},    {"NXT", 30},
    {"EID", 31},        {"NIMLOC", 32},  {"SRV", 33},        {"ATMA", 34},   {"NAPTR", 35},
    {"KX", 36},         {"CERT", 37},    {"A6", 38},         {"DNAME", 39},  {"SINK", 40},
    {"OPT", 41},        {"APL", 42},     {"DS", 43},         {"SSHFP", 44},  {"IPSECKEY", 45},
    {"RRSIG", 46},      {"NSEC", 47},    {"DNSKEY", 48},     {"DHCID", 49},  {"NSEC3", 50},
    {"NSEC3PARAM", 51}, {"TLSA", 52},    {"SMIMEA", 53},     {"HIP", 55},    {"TALINK", 58},
    {"CDS", 59},        {"CDNSKEY", 60}, {"OPENPGPKEY", 61}, {"CSYNC", 62},  {"ZONEMD", 63},
    {"SVCB", 64},       {"HTTPS", 65},   {"SPF", 99},        {"NID", 104},   {"L32", 105},
    {"L64", 106},       {"LP", 107},     {"EUI48", 108},     {"EUI64", 109}, {"TKEY", 249},
    {"TSIG", 250},      {"IXFR", 251},   {"AXFR", 252},      {"MAILB", 253}, {"MAILA", 254},
    {"ANY", 255},       {"URI", 256},    {"CAA", 257},       {"DLV", 32769},
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

/* A type mnemonic (any case) or TYPEnnn (RFC 3597); 0 when unknown. */
static uint16_t type_by_name(const char *s)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(s, types[i].name) == 0)
			return types[i].type;
	if (strncasecmp(s, "TYPE", 4) == 0 && isdigit((unsigned char)s[4])) {
		char *end;
		unsigned long v = strtoul(s + 4, &end, 10);

		if (*end == '\0' && v > 0 && v <= 65535)
			return (uint16_t)v;
	}
	return 0;
}

/* Presentation name ("lab.", "lab", "a\.b.", "x\065.") to wire format, always
 * absolute. Returns the wire length, or -1 for an empty label, a label over
 * 63 octets, a name over 255, or a bad escape. */
static int name_to_wire(const char *s, uint8_t *out)
{
	size_t o = 1, lab = 0; /* out[lab] is the current label's length octet */

	if (strcmp(s, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		unsigned c = (unsigned char)*s++;

		if (c == '.') {
			if (o - lab - 1 == 0)
				return -1; /* empty label */
			out[lab] = (uint8_t)(o - lab - 1);
			lab = o++;
			if (*s == '\0')
				break;
			continue;
		}
		if (c == '\\') {
			if (isdigit((unsigned char)s[0])) {
				if (!isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
					return -1;
				c = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 +
				               (s[2] - '0'));
				if (c > 255)
					return -1;
				s += 3;
			} else if (*s != '\0') {
				c = (unsigned char)*s++;
			} else {
				return -1;
			}
		}
		if (o - lab - 1 >= LABEL_MAX || o >= NAME_MAX_WIRE)
			return -1;
		out[o++] = (uint8_t)c;
	}
	if (o - lab - 1 > 0) { /* no trailing dot: close the last label */
		out[lab] = (uint8_t)(o - lab - 1);
		lab = o++;
	}
	if (o > NAME_MAX_WIRE)
		return -1;
	out[lab] = 0;
	return (int)o;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

int dns_wire_build_query(enum dns_wire_kind kind, const char *qname, const char *qtype, uint16_t id,
                         uint8_t *buf, size_t buflen, struct dns_wire_question *q)
{
	uint8_t name[NAME_MAX_WIRE + 1];
	uint16_t type = TYPE_TXT, class = CLASS_CH, flags = 0;
	int name_len;
	size_t len;
	uint8_t *p;

	switch (kind) {
	case DNS_WIRE_SERVICE:
		if (qname == NULL || qname[0] == '\0' || qtype == NULL)
			return -EINVAL;
		if ((type = type_by_name(qtype)) == 0)
			return -EINVAL;
		class = CLASS_IN;
		flags = FLAG_RD;
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
	if ((name_len = name_to_wire(qname, name)) < 0)
		return -EINVAL;
	/* Header, question, and an OPT record asking for the NSID. */
	len = HEADER_LEN + (size_t)name_len + 4 + 11 + 4;
	if (len > buflen)
		return -ENOSPC;
	p = put16(buf, id);
	p = put16(p, flags);
	p = put16(p, 1); /* QDCOUNT */
	p = put16(p, 0);
	p = put16(p, 0);
	p = put16(p, 1); /* ARCOUNT: the OPT record */
	memcpy(p, name, (size_t)name_len);
	p += name_len;
	p = put16(p, type);
	p = put16(p, class);
	*p++ = 0; /* OPT: root owner */
	p = put16(p, TYPE_OPT);
	p = put16(p, DNS_WIRE_UDP_SIZE);
	p = put16(p, 0); /* extended rcode, version */
	p = put16(p, 0); /* flags: no DO */
	p = put16(p, 4); /* RDLENGTH */
	p = put16(p, EDNS_NSID);
	put16(p, 0); /* empty: a request */
	q->id = id;
	q->qtype = type;
	q->qclass = class;
	q->qname_len = (size_t)name_len;
	memcpy(q->qname, name, (size_t)name_len);
	return (int)len;
}

/* ---- replies ---- */

struct reader {
	const uint8_t *pkt;
	size_t len, pos;
};

static int get16(struct reader *r, uint16_t *v)
{
	if (r->len - r->pos < 2)
		return -1;
	*v = (uint16_t)(r->pkt[r->pos] << 8 | r->pkt[r->pos + 1]);
	r->pos += 2;
	return 0;
}

/* Read a possibly compressed name at r->pos into out (wire format, at most
 * 255 octets) and move past it. Compression pointers may go anywhere in the
 * packet but offset 0; MAX_POINTERS hops end any loop. Returns the length
 * or -1. */
#define MAX_POINTERS 128
static int read_name(struct reader *r, uint8_t *out)
{
	size_t pos = r->pos, o = 0, end = 0;
	int hops = 0;

	for (;;) {
		unsigned c;

		if (pos >= r->len)
			return -1;
		c = r->pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (r->len - pos < 2 || ++hops > MAX_POINTERS)
				return -1;
			target = (size_t)((c & 0x3f) << 8 | r->pkt[pos + 1]);
			if (target == 0 || target >= r->len)
				return -1;
			if (hops == 1)
				end = pos + 2;
			pos = target;
			continue;
		}
		if (c & 0xc0)
			return -1; /* extended and reserved label types */
		if (c > r->len - pos - 1 || o + c + 1 > NAME_MAX_WIRE)
			return -1;
		memcpy(out + o, r->pkt + pos, c + 1);
		o += c + 1;
		pos += c + 1;
		if (c == 0)
			break;
	}
	r->pos = hops > 0 ? end : pos;
	return (int)o;
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

/* The EDNS options of an OPT record. Returns 0 (NSID copied when present) or
 * -1 when they do not fill the record exactly. */
static int find_nsid(const uint8_t *d, size_t len, struct dns_wire_reply *out)
{
	size_t off = 0;

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

/* TXT RDATA: character-strings that fill it exactly. */
static int txt_valid(const uint8_t *d, size_t len)
{
	size_t off = 0;

	while (off < len) {
		if ((size_t)d[off] + 1 > len - off)
			return -1;
		off += (size_t)d[off] + 1;
	}
	return 0;
}

/* What the sections tell us. */
struct parsed {
	uint8_t ext_rcode;       /* from the last OPT record */
	const uint8_t *opt_data; /* options of the last OPT record that has any */
	size_t opt_len;
	int has_txt;
	const uint8_t *txt; /* first TXT answer owned by the question name */
	size_t txt_len;
};

/* Walk the answer, authority and additional sections: every record must
 * fit. Returns 0 or -1 (malformed). */
static int read_records(struct reader *r, const struct dns_wire_question *q, struct parsed *ps)
{
	uint16_t count[3];

	for (int i = 0; i < 3; i++)
		count[i] = (uint16_t)(r->pkt[6 + 2 * i] << 8 | r->pkt[7 + 2 * i]);
	for (int sec = 0; sec < 3; sec++) {
		for (unsigned i = 0; i < count[sec]; i++) {
			uint8_t owner[NAME_MAX_WIRE + 1];
			uint16_t type, class, ttl_hi, ttl_lo, rdlen;
			const uint8_t *rd;
			int owner_len = read_name(r, owner);

			if (owner_len < 0 || get16(r, &type) < 0 || get16(r, &class) < 0 ||
			    get16(r, &ttl_hi) < 0 || get16(r, &ttl_lo) < 0 ||
			    get16(r, &rdlen) < 0 || rdlen > r->len - r->pos)
				return -1;
			rd = r->pkt + r->pos;
			r->pos += rdlen;
			if (type == TYPE_TXT && txt_valid(rd, rdlen) < 0)
				return -1;
			if (sec == 0 && type == TYPE_TXT && !ps->has_txt && rdlen > 0 &&
			    wire_name_equal(owner, (size_t)owner_len, q->qname, q->qname_len)) {
				ps->has_txt = 1;
				ps->txt = rd;
				ps->txt_len = rdlen;
			}
			if (sec == 2 && type == TYPE_OPT) {
				ps->ext_rcode = (uint8_t)(ttl_hi >> 8);
				if (rdlen > 0) {
					ps->opt_data = rd;
					ps->opt_len = rdlen;
				}
			}
		}
	}
	return 0;
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
	struct reader r = {.pkt = pkt, .len = len, .pos = HEADER_LEN};
	struct parsed ps = {0};
	uint8_t qname[NAME_MAX_WIRE + 1];
	uint16_t flags, qtype, qclass;
	const char *name;
	int qname_len, rcode;

	memset(out, 0, sizeof(*out));
	out->rcode = -1;
	/* Header first: ID and QR decide whether the packet is ours at all. */
	if (pkt == NULL || len < HEADER_LEN)
		return set_verdict(out, DNS_WIRE_DROP);
	flags = (uint16_t)(pkt[2] << 8 | pkt[3]);
	if ((uint16_t)(pkt[0] << 8 | pkt[1]) != q->id || !(flags & FLAG_QR))
		return set_verdict(out, DNS_WIRE_DROP);
	if ((pkt[4] << 8 | pkt[5]) != 1)
		return set_verdict(out, DNS_WIRE_DROP);
	/* Then the question: a reply to another question is not ours, however
	 * the rest of it looks. */
	if ((qname_len = read_name(&r, qname)) < 0 || get16(&r, &qtype) < 0 ||
	    get16(&r, &qclass) < 0)
		return set_verdict(out, DNS_WIRE_MALFORMED);
	if (qtype != q->qtype || qclass != q->qclass ||
	    !wire_name_equal(qname, (size_t)qname_len, q->qname, q->qname_len))
		return set_verdict(out, DNS_WIRE_DROP);
	/* The whole packet must parse before any part of it counts. */
	if (read_records(&r, q, &ps) < 0)
		return set_verdict(out, DNS_WIRE_MALFORMED);
	rcode = (flags & 0x000f) | ps.ext_rcode << 4;
	out->rcode = rcode;
	name = dns_wire_rcode_name(rcode);
	if (name != NULL)
		snprintf(out->rcode_name, sizeof(out->rcode_name), "%s", name);
	else
		snprintf(out->rcode_name, sizeof(out->rcode_name), "RCODE%d", rcode);
	if (ps.opt_data != NULL && find_nsid(ps.opt_data, ps.opt_len, out) < 0)
		return set_verdict(out, DNS_WIRE_MALFORMED);
	if (flags & FLAG_TC)
		return set_verdict(out, DNS_WIRE_TRUNCATED);
	if (rcode != 0)
		return set_verdict(out, DNS_WIRE_RCODE);
	if (ps.has_txt) {
		out->has_txt = 1;
		escape_text(ps.txt + 1, ps.txt[0], out->txt, sizeof(out->txt));
	}
	return set_verdict(out, DNS_WIRE_OK);
}
