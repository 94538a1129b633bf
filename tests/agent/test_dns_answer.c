/* tests/agent/test_dns_answer.c - canonical answer digest and SOA serial
 * (agent/dns_answer.c): order, owner case and TTL do not change the digest,
 * RDATA does; truncated or lying replies are malformed with a reason. */
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>

#include "tests/fixture.h"
#include "agent/dns_answer.h"

/* Build a reply whose answer section holds the given RRs (presentation
 * text) in the given order; returns its wire length in buf. */
static size_t reply(const char *const *rrs, size_t n, uint8_t *buf, size_t buflen)
{
	ldns_pkt *p = ldns_pkt_new();
	uint8_t *wire = NULL;
	size_t len = 0;

	cr_assert_not_null(p);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_id(p, 4242);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;

		cr_assert_eq(ldns_rr_new_frm_str(&rr, rrs[i], 3600, NULL, NULL), LDNS_STATUS_OK,
		             "bad test RR %s", rrs[i]);
		cr_assert(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
	}
	cr_assert_eq(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	cr_assert_leq(len, buflen);
	memcpy(buf, wire, len);
	LDNS_FREE(wire);
	ldns_pkt_free(p);
	return len;
}

static struct dns_answer digest_of(const char *const *rrs, size_t n)
{
	uint8_t buf[4096];
	size_t len = reply(rrs, n, buf, sizeof(buf));
	struct dns_answer a;

	cr_assert_eq(dns_answer_digest(buf, len, &a), 0, "digest failed: %s", a.reason);
	return a;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const base[] = {
    "www.lab.test. 300 IN A 198.18.0.10",
    "www.lab.test. 300 IN A 198.18.0.11",
    "www.lab.test. 300 IN AAAA 2001:db8::10",
};

Test(dns_answer, same_data_other_order_and_case_same_digest)
{
	static const char *const other[] = {
	    "WWW.Lab.TEST. 300 IN AAAA 2001:db8::10",
	    "www.LAB.test. 300 IN A 198.18.0.11",
	    "Www.lab.test. 300 IN A 198.18.0.10",
	};
	struct dns_answer a = digest_of(base, N(base)), b = digest_of(other, N(other));

	cr_assert_eq(strlen(a.digest), 64);
	cr_assert_str_eq(a.digest, b.digest);
	cr_assert_eq(a.rr_count, 3);
	cr_assert_str_eq(a.rrs, b.rrs, "display text follows the canonical order");
}

Test(dns_answer, ttl_change_same_digest)
{
	static const char *const ttl[] = {
	    "www.lab.test. 5 IN A 198.18.0.10",
	    "www.lab.test. 86400 IN A 198.18.0.11",
	    "www.lab.test. 1 IN AAAA 2001:db8::10",
	};

	cr_assert_str_eq(digest_of(base, N(base)).digest, digest_of(ttl, N(ttl)).digest);
}

Test(dns_answer, rdata_change_other_digest)
{
	static const char *const changed[] = {
	    "www.lab.test. 300 IN A 198.18.0.10",
	    "www.lab.test. 300 IN A 198.18.0.12",
	    "www.lab.test. 300 IN AAAA 2001:db8::10",
	};
	static const char *const fewer[] = {
	    "www.lab.test. 300 IN A 198.18.0.10",
	    "www.lab.test. 300 IN A 198.18.0.11",
	};
	const char *d = digest_of(base, N(base)).digest;

	cr_assert_str_neq(d, digest_of(changed, N(changed)).digest);
	cr_assert_str_neq(d, digest_of(fewer, N(fewer)).digest);
}

Test(dns_answer, soa_serial_and_embedded_names)
{
	static const char *const soa1[] = {
	    "lab.test. 300 IN SOA ns1.lab.test. hostmaster.lab.test. 2026120301 3600 900 604800 "
	    "300",
	};
	static const char *const soa1_case[] = {
	    "LAB.test. 60 IN SOA NS1.Lab.Test. Hostmaster.LAB.test. 2026120301 3600 900 604800 300",
	};
	static const char *const soa2[] = {
	    "lab.test. 300 IN SOA ns1.lab.test. hostmaster.lab.test. 2026120302 3600 900 604800 "
	    "300",
	};
	struct dns_answer a = digest_of(soa1, 1), b = digest_of(soa1_case, 1),
	                  c = digest_of(soa2, 1);

	cr_assert(a.has_serial);
	cr_assert_eq(a.serial, 2026120301u);
	cr_assert_eq(c.serial, 2026120302u);
	cr_assert_str_eq(a.digest, b.digest, "names inside SOA RDATA are case-folded too");
	cr_assert_str_neq(a.digest, c.digest);
	cr_assert_not(digest_of(base, N(base)).has_serial);
}

Test(dns_answer, rrs_text_truncated)
{
	const char *many[40];
	char text[40][64];
	struct dns_answer a;

	for (int i = 0; i < 40; i++) {
		snprintf(text[i], sizeof(text[i]), "host%02d.lab.test. 300 IN A 198.18.1.%d", i, i);
		many[i] = text[i];
	}
	a = digest_of(many, 40);
	cr_assert(a.rrs_truncated);
	cr_assert_eq(a.rr_count, 40);
	cr_assert_lt(strlen(a.rrs), sizeof(a.rrs));
	cr_assert(strstr(a.rrs, "...") != NULL);
}

Test(dns_answer, empty_answer_has_digest)
{
	uint8_t buf[512];
	size_t len = reply(NULL, 0, buf, sizeof(buf));
	struct dns_answer a;

	cr_assert_eq(dns_answer_digest(buf, len, &a), 0);
	cr_assert_eq(a.rr_count, 0);
	cr_assert_eq(strlen(a.digest), 64);
}

Test(dns_answer, real_nsd_soa_reply)
{
	uint8_t buf[4096];
	size_t len = fixture_load("dns", "nsd/service_soa.bin", buf, sizeof(buf));
	struct dns_answer a;

	cr_assert_eq(dns_answer_digest(buf, len, &a), 0, "%s", a.reason);
	cr_assert(a.has_serial);
	cr_assert_geq(a.rr_count, 1);
}

Test(dns_answer, malformed_replies_have_reason)
{
	static const char *const bad[] = {"malformed/ancount_lie.bin", "malformed/cut_answer.bin"};
	uint8_t buf[4096];
	struct dns_answer a;

	for (size_t i = 0; i < N(bad); i++) {
		size_t len = fixture_load("dns", bad[i], buf, sizeof(buf));

		cr_assert_eq(dns_answer_digest(buf, len, &a), -1, "%s accepted", bad[i]);
		cr_assert_neq(a.reason[0], '\0');
		cr_assert_eq(a.digest[0], '\0');
	}
	cr_assert_eq(dns_answer_digest(buf, 5, &a), -1);
	cr_assert_neq(a.reason[0], '\0');
	cr_assert_eq(dns_answer_digest(NULL, 0, &a), -1);
}

Test(dns_answer, every_cut_of_a_reply_is_handled)
{
	uint8_t buf[4096];
	size_t len = reply(base, N(base), buf, sizeof(buf));
	struct dns_answer a;

	for (size_t cut = 0; cut < len; cut++)
		cr_assert_eq(dns_answer_digest(buf, cut, &a), -1, "cut at %zu accepted", cut);
}

Test(dns_answer, without_text_same_digest_and_serial)
{
	uint8_t buf[4096];
	size_t len = fixture_load("dns", "nsd/service_soa.bin", buf, sizeof(buf));
	struct dns_answer a, b;

	cr_assert_eq(dns_answer_digest(buf, len, &a), 0, "%s", a.reason);
	cr_assert_eq(dns_answer_digest_flags(buf, len, DNS_ANSWER_NO_TEXT, &b), 0, "%s", b.reason);
	cr_assert_str_eq(a.digest, b.digest);
	cr_assert_eq(a.serial, b.serial);
	cr_assert_eq(a.rr_count, b.rr_count);
	cr_assert_str_empty(b.rrs);
	cr_assert_str_neq(a.rrs, "");
}
