/* agent/dns_answer.h - canonical digest of a DNS reply's answer section for
 * answer-integrity checks: the same data in any order, owner-name case or TTL
 * gives the same digest; any RDATA change gives another. Pure: no sockets,
 * no clocks, no globals. */
#ifndef ANYCAST_DNS_ANSWER_H
#define ANYCAST_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define DNS_ANSWER_DIGEST_HEX 65 /* SHA-256 as lower-case hex, incl. NUL */
#define DNS_ANSWER_RRS_MAX 512   /* presentation text of the RRs, truncated, incl. NUL */
#define DNS_ANSWER_REASON_MAX 128

struct dns_answer {
	int has_serial;    /* an SOA record was in the answer */
	uint32_t serial;   /* its serial */
	unsigned rr_count; /* answer RRs digested */
	char digest[DNS_ANSWER_DIGEST_HEX];
	char rrs[DNS_ANSWER_RRS_MAX]; /* one RR a line, TTLs left out; truncated with "..." */
	int rrs_truncated;
	char reason[DNS_ANSWER_REASON_MAX]; /* why the reply is malformed ("" when not) */
};

/* Digest the answer section of the reply pkt/len into out. The digest is
 * SHA-256 over the RRs in DNSSEC canonical form (RFC 4034 6.2: lower-cased
 * owner and embedded names) with TTL 0, sorted in canonical order (6.3),
 * each in wire form. Returns 0, or -1 when the reply cannot be parsed
 * (out->reason says why; the other fields are then empty). Never crashes
 * on any input. */
int dns_answer_digest(const uint8_t *pkt, size_t len, struct dns_answer *out);

/* Flags of dns_answer_digest_flags. */
#define DNS_ANSWER_NO_TEXT 1 /* leave out->rrs empty: the text costs a third of the work */

/* dns_answer_digest with flags (0 or DNS_ANSWER_NO_TEXT); the same
 * digest, serial and errors either way. */
int dns_answer_digest_flags(const uint8_t *pkt, size_t len, int flags, struct dns_answer *out);

#endif
