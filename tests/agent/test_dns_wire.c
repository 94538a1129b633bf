/* tests/agent/test_dns_wire.c - DNS query building and reply classification
 * against real replies from NSD, Knot, BIND, Unbound and PowerDNS
 * (tests/fixtures/dns, see README.md there). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/fixture.h"
#include "agent/dns_wire.h"

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
	size_t n = fixture_load("dns", rel, pkt, sizeof(pkt));

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
	size_t n = fixture_load("dns", "nsd/nsid.bin", pkt, sizeof(pkt));

	memcpy(pkt + n - 8, "\x01\x02\xfe\xff\x00\x10\x20\x30", 8);
	cr_assert_eq(dns_wire_classify(pkt, n, &q, &r), DNS_WIRE_OK);
	cr_assert_str_eq(r.nsid, "0102feff00102030");
}

Test(dns_wire, every_prefix_of_a_real_reply_is_safe)
{
	struct dns_wire_question q = question(DNS_WIRE_NSID, NULL, NULL, 0x1001);
	struct dns_wire_reply r;
	uint8_t pkt[512];
	size_t n = fixture_load("dns", "bind/nsid.bin", pkt, sizeof(pkt));

	for (size_t len = 0; len < n; len++) {
		enum dns_wire_verdict v = dns_wire_classify(pkt, len, &q, &r);

		cr_assert(v == DNS_WIRE_DROP || v == DNS_WIRE_MALFORMED,
			  "prefix %zu of %zu gave verdict %d", len, n, v);
	}
}
