/* tests/fuzz/fuzz_dns.c - libFuzzer target: arbitrary bytes as a DNS reply to
 * each kind of probe query (agent/dns_wire.c). The question takes the input's
 * ID so that the fuzzer reaches past the ID check. The same bytes go through
 * the answer-section digest (agent/dns_answer.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/dns_answer.h"
#include "agent/dns_wire.h"

#define NQ 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The questions are built once: building one with ldns allocates a 64 KB
 * wire buffer, which cost more than the classification being fuzzed. Only
 * the ID differs between inputs, and dns_wire_build_query() copies it into
 * the question unchanged. */
static const struct dns_wire_question *
questions(void)
{
	static const struct {
		enum dns_wire_kind kind;
		const char *qname, *qtype;
	} qs[NQ] = {
		{ DNS_WIRE_NSID, NULL, NULL },
		{ DNS_WIRE_HOSTNAME_BIND, NULL, NULL },
		{ DNS_WIRE_SERVICE, "lab.", "SOA" },
		{ DNS_WIRE_SERVICE, "big.lab.", "TXT" },
	};
	static struct dns_wire_question q[NQ];
	static int built;

	if (!built) {
		for (size_t i = 0; i < NQ; i++) {
			uint8_t buf[DNS_WIRE_MAX_QUERY];

			if (dns_wire_build_query(qs[i].kind, qs[i].qname, qs[i].qtype, 0, buf,
						 sizeof(buf), &q[i]) < 0)
				__builtin_trap();
		}
		built = 1;
	}
	return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dns_wire_question *qs = questions();
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;

	for (size_t i = 0; i < NQ; i++) {
		struct dns_wire_question q = qs[i];
		struct dns_wire_reply r;
		enum dns_wire_verdict v;

		q.id = id;
		v = dns_wire_classify(data, size, &q, &r);
		/* What the prober relies on, whatever arrived. */
		if (v != r.verdict || memchr(r.nsid, '\0', sizeof(r.nsid)) == NULL ||
		    memchr(r.txt, '\0', sizeof(r.txt)) == NULL ||
		    memchr(r.rcode_name, '\0', sizeof(r.rcode_name)) == NULL)
			__builtin_trap();
		if (v == DNS_WIRE_OK && r.rcode != 0)
			__builtin_trap();
	}
	{
		struct dns_answer a;
		int rc = dns_answer_digest(data, size, &a);

		/* malformed always says why; a digest is always 64 hex digits */
		if (memchr(a.reason, '\0', sizeof(a.reason)) == NULL ||
		    memchr(a.rrs, '\0', sizeof(a.rrs)) == NULL ||
		    (rc != 0 && (a.reason[0] == '\0' || a.digest[0] != '\0')) ||
		    (rc == 0 && strlen(a.digest) != 64))
			__builtin_trap();
		/* without the text: the same verdict, digest and serial */
		struct dns_answer b;
		int rc2 = dns_answer_digest_flags(data, size, DNS_ANSWER_NO_TEXT, &b);

		if (rc2 != rc || strcmp(a.digest, b.digest) != 0 || a.serial != b.serial ||
		    a.has_serial != b.has_serial || b.rrs[0] != '\0')
			__builtin_trap();
	}
	return 0;
}
