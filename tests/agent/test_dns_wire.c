/* tests/agent/test_dns_wire.c - DNS query building and reply classification
 * against real replies from NSD, Knot, BIND, Unbound and PowerDNS
 * (tests/fixtures/dns, see README.md there). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/dns_wire.h"

static size_t load(const char *rel, uint8_t *buf, size_t buflen)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/dns/%s", ANYCAST_SOURCE_DIR, rel);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "fixture %s missing", path);
	n = fread(buf, 1, buflen, f);
	fclose(f);
	return n;
}

/* The questions capture.sh asked, rebuilt with our own query builder. */
static struct dns_wire_question question(enum dns_wire_kind kind, const char *qname,
					 const char *qtype, uint16_t id)
{
	struct dns_wire_question q;
	uint8_t buf[DNS_WIRE_MAX_QUERY];

	cr_assert_gt(dns_wire_build_query(kind, qname, qtype, id, buf, sizeof(buf), &q), 0);
	return q;
}

static enum dns_wire_verdict classify_file(const char *rel, const struct dns_wire_question *q,
					   struct dns_wire_reply *r)
{
	uint8_t pkt[4096];
	size_t n = load(rel, pkt, sizeof(pkt));

	return dns_wire_classify(pkt, n, q, r);
}

TestSuite(dns_wire);

Test(dns_wire, query_carries_id_nsid_and_udp_size)
{
	uint8_t buf[DNS_WIRE_MAX_QUERY];
	struct dns_wire_question q;
	int n = dns_wire_build_query(DNS_WIRE_NSID, NULL, NULL, 0xabcd, buf, sizeof(buf), &q);

	cr_assert_gt(n, 12);
	cr_assert_eq(buf[0], 0xab);
	cr_assert_eq(buf[1], 0xcd);
	cr_assert_eq(q.qclass, 3, "CHAOS class");
	cr_assert_eq(q.qtype, 16, "TXT");
	/* OPT at the end: type 41, UDP size 1232, one NSID option of length 0. */
	cr_assert_eq(buf[n - 1], 0);
	cr_assert_eq(buf[n - 3], 3, "NSID option code");
	cr_assert_eq(buf[n - 13], 41, "OPT type");
	cr_assert_eq(buf[n - 12] << 8 | buf[n - 11], DNS_WIRE_UDP_SIZE);
}

Test(dns_wire, every_kind_asks_for_nsid)
{
	const enum dns_wire_kind kinds[] = { DNS_WIRE_SERVICE, DNS_WIRE_NSID, DNS_WIRE_ID_SERVER,
					     DNS_WIRE_HOSTNAME_BIND };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		uint8_t buf[DNS_WIRE_MAX_QUERY];
		struct dns_wire_question q;
		int n = dns_wire_build_query(kinds[i], "lab.", "SOA", 7, buf, sizeof(buf), &q);

		cr_assert_gt(n, 12);
		cr_assert_eq(buf[11], 1, "ARCOUNT 1 (OPT)");
		cr_assert_eq(buf[n - 13], 41, "OPT type");
		cr_assert_eq(buf[n - 3], 3, "NSID option in %s", dns_wire_kind_name(kinds[i]));
	}
}

Test(dns_wire, bad_service_query_rejected)
{
	uint8_t buf[DNS_WIRE_MAX_QUERY];
	struct dns_wire_question q;

	cr_assert_eq(dns_wire_build_query(DNS_WIRE_SERVICE, "lab.", "NOSUCHTYPE", 1, buf,
					  sizeof(buf), &q), -EINVAL);
	cr_assert_eq(dns_wire_build_query(DNS_WIRE_SERVICE, "", "SOA", 1, buf, sizeof(buf), &q),
		     -EINVAL);
	cr_assert_eq(dns_wire_build_query(DNS_WIRE_NSID, NULL, NULL, 1, buf, 10, &q), -ENOSPC);
}

struct server_expect {
	const char *dir, *nsid, *id_server, *hostname_bind;
};

static const struct server_expect servers[] = {
	{ "nsd", "nsd-nsid", "nsd.fixture", "nsd.fixture" },
	{ "knot", "knot-nsid", "knot.fixture", "knot.fixture" },
	{ "bind", "bind-nsid", "bind-nsid", "bind.fixture" },
	{ "unbound", "unbound-nsid", "unbound.fixture", "unbound.fixture" },
	{ "pdns", "pdns-nsid", "pdns-nsid", NULL /* REFUSED */ },
};

Test(dns_wire, nsid_query_gives_nsid_and_txt_on_every_server)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);

	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		struct dns_wire_reply r;
		char rel[64];

		snprintf(rel, sizeof(rel), "%s/nsid.bin", servers[i].dir);
		cr_assert_eq(classify_file(rel, &q, &r), DNS_WIRE_OK, "%s", rel);
		cr_assert_str_eq(r.rcode_name, "NOERROR");
		cr_assert(r.has_nsid, "%s has NSID", rel);
		cr_assert_str_eq(r.nsid, servers[i].nsid, "%s", rel);
		cr_assert(r.has_txt);
		cr_assert_str_eq(r.txt, servers[i].id_server, "%s", rel);
	}
}

Test(dns_wire, chaos_identities)
{
	struct dns_wire_question qi = question(DNS_WIRE_ID_SERVER, NULL, NULL, 0x1002);
	struct dns_wire_question qh = question(DNS_WIRE_HOSTNAME_BIND, NULL, NULL, 0x1003);

	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		struct dns_wire_reply r;
		char rel[64];

		snprintf(rel, sizeof(rel), "%s/id_server.bin", servers[i].dir);
		cr_assert_eq(classify_file(rel, &qi, &r), DNS_WIRE_OK, "%s", rel);
		cr_assert_not(r.has_nsid, "NSID was not asked for");
		cr_assert_str_eq(r.txt, servers[i].id_server, "%s", rel);

		snprintf(rel, sizeof(rel), "%s/hostname_bind.bin", servers[i].dir);
		if (servers[i].hostname_bind == NULL) {
			cr_assert_eq(classify_file(rel, &qh, &r), DNS_WIRE_RCODE, "%s", rel);
			cr_assert_str_eq(r.rcode_name, "REFUSED");
			cr_assert_not(r.has_txt);
		} else {
			cr_assert_eq(classify_file(rel, &qh, &r), DNS_WIRE_OK, "%s", rel);
			cr_assert_str_eq(r.txt, servers[i].hostname_bind, "%s", rel);
		}
	}
}

Test(dns_wire, service_query_and_rcodes)
{
	struct dns_wire_question soa = question(DNS_WIRE_SERVICE, "lab.", "SOA", 0x1004);
	struct dns_wire_question nx = question(DNS_WIRE_SERVICE, "nope.lab.", "A", 0x1005);
	struct dns_wire_question ref = question(DNS_WIRE_SERVICE, "example.org.", "SOA", 0x1006);

	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		struct dns_wire_reply r;
		char rel[64];

		snprintf(rel, sizeof(rel), "%s/service_soa.bin", servers[i].dir);
		cr_assert_eq(classify_file(rel, &soa, &r), DNS_WIRE_OK, "%s", rel);
		cr_assert_str_eq(r.nsid, servers[i].nsid, "service query carries NSID: %s", rel);

		snprintf(rel, sizeof(rel), "%s/nxdomain.bin", servers[i].dir);
		cr_assert_eq(classify_file(rel, &nx, &r), DNS_WIRE_RCODE, "%s", rel);
		cr_assert_str_eq(r.rcode_name, "NXDOMAIN");
		cr_assert_eq(r.rcode, 3);

		snprintf(rel, sizeof(rel), "%s/refused.bin", servers[i].dir);
		cr_assert_eq(classify_file(rel, &ref, &r), DNS_WIRE_RCODE, "%s", rel);
		/* Unbound recurses and cannot reach the root from the capture host. */
		cr_assert_str_eq(r.rcode_name, strcmp(servers[i].dir, "unbound") == 0 ? "SERVFAIL"
										 : "REFUSED");
	}
}

Test(dns_wire, truncated_answers_ask_for_tcp)
{
	struct dns_wire_question q = question(DNS_WIRE_SERVICE, "big.lab.", "TXT", 0x1007);

	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		struct dns_wire_reply r;
		char rel[64];

		snprintf(rel, sizeof(rel), "%s/big_txt.bin", servers[i].dir);
		cr_assert_eq(classify_file(rel, &q, &r), DNS_WIRE_TRUNCATED, "%s", rel);
	}
}

Test(dns_wire, spoofed_replies_are_dropped)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);
	struct dns_wire_question other = question(DNS_WIRE_NSID, NULL, NULL, 0x1002);
	struct dns_wire_reply r;

	cr_assert_eq(classify_file("spoof/wrong_id.bin", &q, &r), DNS_WIRE_DROP);
	cr_assert_eq(classify_file("spoof/wrong_qname.bin", &q, &r), DNS_WIRE_DROP);
	cr_assert_eq(classify_file("spoof/wrong_qtype.bin", &q, &r), DNS_WIRE_DROP);
	cr_assert_eq(classify_file("spoof/not_response.bin", &q, &r), DNS_WIRE_DROP);
	/* A real reply, but to another query of ours. */
	cr_assert_eq(classify_file("nsd/nsid.bin", &other, &r), DNS_WIRE_DROP);
	/* A hostname.bind answer is not an answer to id.server. */
	cr_assert_eq(classify_file("knot/hostname_bind.bin", &q, &r), DNS_WIRE_DROP);
	cr_assert_eq(dns_wire_classify(NULL, 0, &q, &r), DNS_WIRE_DROP);
}

Test(dns_wire, qname_case_does_not_matter)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);
	struct dns_wire_reply r;

	cr_assert_eq(classify_file("spoof/case_0x20.bin", &q, &r), DNS_WIRE_OK);
	cr_assert_str_eq(r.nsid, "nsd-nsid");
}

Test(dns_wire, malformed_replies)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);
	struct dns_wire_reply r;

	cr_assert_eq(classify_file("malformed/cut_answer.bin", &q, &r), DNS_WIRE_MALFORMED);
	cr_assert_eq(classify_file("malformed/nsid_overrun.bin", &q, &r), DNS_WIRE_MALFORMED);
	cr_assert_eq(classify_file("malformed/ancount_lie.bin", &q, &r), DNS_WIRE_MALFORMED);
	/* Twelve bytes with QDCOUNT 1 but no question: ours by ID, unparseable. */
	cr_assert_eq(classify_file("malformed/header_only.bin", &q, &r), DNS_WIRE_MALFORMED);
}

Test(dns_wire, nsid_binary_shown_as_hex)
{
	/* NSD's nsid reply with the NSID bytes replaced by non-printable ones. */
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);
	struct dns_wire_reply r;
	uint8_t pkt[512];
	size_t n = load("nsd/nsid.bin", pkt, sizeof(pkt));

	memcpy(pkt + n - 8, "\x01\x02\xfe\xff\x00\x10\x20\x30", 8);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_OK);
	cr_assert_str_eq(r.nsid, "0102feff00102030");
}

Test(dns_wire, every_prefix_of_a_real_reply_is_safe)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);
	struct dns_wire_reply r;
	uint8_t pkt[512];
	size_t n = load("bind/nsid.bin", pkt, sizeof(pkt));

	for (size_t len = 0; len < n; len++) {
		enum dns_wire_verdict v = dns_wire_classify(pkt, len, &q, &r);

		cr_assert(v == DNS_WIRE_DROP || v == DNS_WIRE_MALFORMED,
			  "prefix %zu of %zu gave verdict %d", len, n, v);
	}
}

Test(dns_wire, query_names_and_types)
{
	uint8_t a[DNS_WIRE_MAX_QUERY], b[DNS_WIRE_MAX_QUERY];
	struct dns_wire_question qa, qb;
	char name[300];

	/* Names are absolute with or without the final dot; escapes as in zone files. */
	int na = dns_wire_build_query(DNS_WIRE_SERVICE, "lab", "SOA", 1, a, sizeof(a), &qa);
	int nb = dns_wire_build_query(DNS_WIRE_SERVICE, "lab.", "soa", 1, b, sizeof(b), &qb);
	cr_assert_gt(na, 0);
	cr_assert_eq(na, nb);
	cr_assert_arr_eq(a, b, (size_t)na);
	cr_assert_eq(qa.qname_len, 5);
	cr_assert_arr_eq(qa.qname, "\3lab\0", 5);
	cr_assert_gt(dns_wire_build_query(DNS_WIRE_SERVICE, "a\\.b.\\065.", "TYPE65", 1, a, sizeof(a),
					  &qa), 0);
	cr_assert_eq(qa.qtype, 65);
	cr_assert_eq(qa.qname_len, 7);
	cr_assert_arr_eq(qa.qname, "\3a.b\1A\0", 7);
	cr_assert_gt(dns_wire_build_query(DNS_WIRE_SERVICE, ".", "NS", 1, a, sizeof(a), &qa), 0);
	cr_assert_eq(qa.qname_len, 1);
	/* Labels up to 63 octets, names up to 255. */
	memset(name, 'x', 63);
	strcpy(name + 63, ".lab.");
	cr_assert_gt(dns_wire_build_query(DNS_WIRE_SERVICE, name, "A", 1, a, sizeof(a), &qa), 0);
	memset(name, 'x', 64);
	strcpy(name + 64, ".lab.");
	cr_assert_eq(dns_wire_build_query(DNS_WIRE_SERVICE, name, "A", 1, a, sizeof(a), &qa), -EINVAL);
	for (int i = 0; i < 4; i++) {
		memset(name + 64 * i, 'x', 63);
		name[64 * i + 63] = '.';
	}
	name[253] = '\0'; /* 63.63.63.61: 255 octets on the wire */
	cr_assert_gt(dns_wire_build_query(DNS_WIRE_SERVICE, name, "A", 1, a, sizeof(a), &qa), 0);
	cr_assert_eq(qa.qname_len, 255);
	name[253] = 'x'; /* one more */
	name[254] = '\0';
	cr_assert_eq(dns_wire_build_query(DNS_WIRE_SERVICE, name, "A", 1, a, sizeof(a), &qa), -EINVAL);
	const char *bad_names[] = { "a..b.", "..", "a\\", "a\\1.", "a\\999." };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		cr_assert_eq(dns_wire_build_query(DNS_WIRE_SERVICE, bad_names[i], "A", 1, a, sizeof(a),
						  &qa), -EINVAL, "%s", bad_names[i]);
	const char *bad_types[] = { "TYPE0", "TYPE65536", "TYPE1x", "TYPE", " A", "CLASS1" };
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++)
		cr_assert_eq(dns_wire_build_query(DNS_WIRE_SERVICE, "lab.", bad_types[i], 1, a,
						  sizeof(a), &qa), -EINVAL, "%s", bad_types[i]);
}

/* A reply to q: its header and question with QR and AA, then the answer
 * records in an (wire format, ancount of them), then an OPT record with
 * nsid. Returns the length. */
static size_t reply(const struct dns_wire_question *q, const uint8_t *an, size_t an_len,
		    int ancount, const char *nsid, uint8_t *out)
{
	size_t o = 0, nl = strlen(nsid);
	const uint8_t hdr[12] = { (uint8_t)(q->id >> 8), (uint8_t)q->id, 0x84, 0, 0, 1,
				  0, (uint8_t)ancount, 0, 0, 0, 1 };
	const uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, (uint8_t)(nl + 4) };

	memcpy(out, hdr, sizeof(hdr));
	o = sizeof(hdr);
	memcpy(out + o, q->qname, q->qname_len);
	o += q->qname_len;
	out[o++] = (uint8_t)(q->qtype >> 8);
	out[o++] = (uint8_t)q->qtype;
	out[o++] = (uint8_t)(q->qclass >> 8);
	out[o++] = (uint8_t)q->qclass;
	if (an_len > 0)
		memcpy(out + o, an, an_len);
	o += an_len;
	memcpy(out + o, opt, sizeof(opt));
	o += sizeof(opt);
	out[o++] = 0;
	out[o++] = 3; /* NSID */
	out[o++] = 0;
	out[o++] = (uint8_t)nl;
	memcpy(out + o, nsid, nl);
	return o + nl;
}

Test(dns_wire, records_are_framed_by_rdlength)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x2001);
	struct dns_wire_reply r;
	uint8_t pkt[512];
	/* NS whose RDLENGTH covers its name and 6 more octets: the next record
	 * starts after them, so the NSID is still read. */
	const uint8_t ns[] = { 0xc0, 12, 0, 2, 0, 3, 0, 0, 0, 60, 0, 8, 0xc0, 12, 0, 0, 0, 0, 0, 0 };
	/* A type whose data we never read, with junk in it. */
	const uint8_t junk[] = { 0xc0, 12, 0, 18, 0, 3, 0, 0, 0, 60, 0, 3, 0xff, 0xff, 0xff };
	/* TXT whose string overruns its RDLENGTH. */
	const uint8_t txt[] = { 0xc0, 12, 0, 16, 0, 3, 0, 0, 0, 60, 0, 3, 5, 'a', 'b' };
	/* RDLENGTH beyond the packet. */
	const uint8_t over[] = { 0xc0, 12, 0, 16, 0, 3, 0, 0, 0, 60, 0x10, 0 };
	size_t n;

	n = reply(&q, ns, sizeof(ns), 1, "s1", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_OK);
	cr_assert_str_eq(r.nsid, "s1");
	n = reply(&q, junk, sizeof(junk), 1, "s2", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_OK);
	cr_assert_str_eq(r.nsid, "s2");
	cr_assert_not(r.has_txt);
	n = reply(&q, txt, sizeof(txt), 1, "s3", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_MALFORMED);
	n = reply(&q, over, sizeof(over), 1, "s4", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_MALFORMED);
}

Test(dns_wire, compression_pointers)
{
	struct dns_wire_question q = question(DNS_WIRE_ID_SERVER, NULL, NULL, 0x2002);
	struct dns_wire_reply r;
	uint8_t pkt[512];
	size_t at = 12 + q.qname_len + 4; /* where the answer starts */
	/* The owner as a pointer to the question name, then "x" + pointer. */
	const uint8_t ok[] = { 0xc0, 12, 0, 16, 0, 3, 0, 0, 0, 60, 0, 3, 2, 'i', 'd' };
	uint8_t loop[] = { 0xc0, (uint8_t)at, 0, 16, 0, 3, 0, 0, 0, 60, 0, 3, 2, 'i', 'd' };
	uint8_t zero[] = { 0xc0, 0, 0, 16, 0, 3, 0, 0, 0, 60, 0, 3, 2, 'i', 'd' };
	uint8_t past[] = { 0xc0, 0xff, 0, 16, 0, 3, 0, 0, 0, 60, 0, 3, 2, 'i', 'd' };
	size_t n;

	n = reply(&q, ok, sizeof(ok), 1, "s1", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_OK);
	cr_assert_str_eq(r.txt, "id");
	n = reply(&q, loop, sizeof(loop), 1, "s1", pkt); /* points at itself */
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_MALFORMED);
	n = reply(&q, zero, sizeof(zero), 1, "s1", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_MALFORMED);
	n = reply(&q, past, sizeof(past), 1, "s1", pkt);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_MALFORMED);
}

Test(dns_wire, another_question_is_dropped_however_broken)
{
	struct dns_wire_question id = question(DNS_WIRE_ID_SERVER, NULL, NULL, 0x2003);
	struct dns_wire_question host = question(DNS_WIRE_HOSTNAME_BIND, NULL, NULL, 0x2003);
	struct dns_wire_reply r;
	uint8_t pkt[512];
	/* ANCOUNT 3 with no answers: broken after the question. */
	size_t n = reply(&id, NULL, 0, 3, "s1", pkt);

	cr_assert_eq(dns_wire_classify(pkt, n, &id, &r), DNS_WIRE_MALFORMED);
	cr_assert_eq(dns_wire_classify(pkt, n, &host, &r), DNS_WIRE_DROP);
}
