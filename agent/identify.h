/* agent/identify.h - which instance answered: DNS identities against the
 * configured (or learned) identities, NTP fingerprints against the
 * management addresses' replies of the same round. Pure: values in, values out. */
#ifndef ANYCAST_IDENTIFY_H
#define ANYCAST_IDENTIFY_H

#include <stddef.h>
#include <stdint.h>

/* What distinguishes NTP servers that sync from the same upstream: the
 * reference timestamp changes at every clock update of that server. */
struct identify_fp {
	int valid;            /* 0: no usable reply */
	int stratum;
	uint32_t refid;
	uint64_t reference;   /* NTP timestamp */
};

/* One instance's management-address fingerprints, queried just before and
 * just after the anycast query. */
struct identify_ntp_candidate {
	struct identify_fp before, after;
};

enum identify_verdict {
	IDENTIFY_MATCH = 0,   /* exactly one stable candidate matches */
	IDENTIFY_AMBIGUOUS,   /* several stable candidates share the fingerprint */
	IDENTIFY_UNKNOWN,     /* no candidate matches (and none was unstable) */
	IDENTIFY_UNSTABLE,    /* no stable match, but a candidate whose fingerprint changed
			       * between before and after matches one of them: ask again */
};

int identify_fp_equal(const struct identify_fp *a, const struct identify_fp *b);

/* Printable fingerprint "s<stratum>/<refid>/<reference hex>" into out
 * (>= 48 bytes). Returns out. */
char *identify_fp_format(const struct identify_fp *fp, char *out, size_t outlen);

/* Match the anycast fingerprint against n candidates. A candidate counts only
 * when both its fingerprints are valid and equal (no clock update in between).
 * On IDENTIFY_MATCH, *index is the matching candidate; otherwise -1. */
enum identify_verdict identify_ntp(const struct identify_fp *anycast,
				   const struct identify_ntp_candidate *c, int n, int *index);

/* One instance for DNS identification: its configured identity ("" when not
 * configured) and the identity its own management address gave for the same
 * source (nsid, id.server or hostname.bind) in this or an earlier round (""
 * when none yet). Pointers are borrowed. */
struct identify_dns_candidate {
	const char *configured;
	const char *learned;
};

/* Index of the instance whose configured identity equals identity exactly;
 * failing that, of the instance whose management address gave that identity
 * for the same source (a server's id.server may differ from its NSID, and an
 * instance may have no configured identity at all); -1 when none does. A
 * configured identity always wins over a learned one. */
int identify_dns(const char *identity, const struct identify_dns_candidate *c, int n);

/* Pick the identity source by the service's identify order (names "nsid",
 * "id.server", "hostname.bind"): each value is NULL or "" when that source
 * gave nothing. Returns the index into order of the first available, or -1. */
int identify_pick_source(const char (*order)[16], int n_order, const char *nsid,
			 const char *id_server, const char *hostname_bind);

#endif
