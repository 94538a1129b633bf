/* common/result.h - the probe result record: what the agent measures, prints as
 * JSON lines, spools and reports, and what the collector ingests and stores.
 * The JSON shape is the contract in docs/API.md ("Result record"). */
#ifndef ANYCAST_RESULT_H
#define ANYCAST_RESULT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define RESULT_NAME_MAX 64      /* service, instance and agent names, incl. NUL */
#define RESULT_ADDR_MAX 48      /* textual IPv4/IPv6 address, incl. NUL */
#define RESULT_IDENTITY_MAX 256 /* identity string a server gave, incl. NUL */
/* Highest seq a record may carry: far beyond any agent's count and the
 * Atlas numbering (below 2^56), far enough below 2^63 that no seq + 1
 * overflows a JSON integer. */
#define RESULT_SEQ_MAX ((uint64_t)1 << 62)

enum result_target { RESULT_TARGET_ANYCAST = 0, RESULT_TARGET_MANAGEMENT = 1 };

enum result_outcome {
	RESULT_OK = 0,      /* an answer (NOERROR, or NTP reply) */
	RESULT_TIMEOUT,     /* nothing came back in time */
	RESULT_UNREACHABLE, /* ICMP port/host/net unreachable, or connect refused */
	RESULT_RCODE,       /* DNS answer with a non-NOERROR rcode (rcode field set) */
	RESULT_MALFORMED,   /* a reply that matched but could not be parsed/validated */
	RESULT_AMBIGUOUS,   /* NTP: two instances share the anycast reply's fingerprint */
	RESULT_UNKNOWN,     /* NTP: no instance's fingerprint matches the anycast reply */
};

/* One probe = one query sent. Strings are NUL-terminated; an empty string
 * means JSON null. rtt_ms < 0 means null. */
struct result {
	uint64_t seq;          /* per agent, from 1, strictly increasing across restarts */
	uint64_t round;        /* agent's round counter: records of one round share it */
	int64_t time_ms;       /* Unix time in ms at which the query was sent */
	char agent[RESULT_NAME_MAX];    /* set by the collector from the token; "" at the agent */
	char service[RESULT_NAME_MAX];
	char address[RESULT_ADDR_MAX];  /* the address probed */
	int family;                     /* 4 or 6 */
	enum result_target target;
	char instance[RESULT_NAME_MAX]; /* anycast: identified instance; management: owner */
	char identity[RESULT_IDENTITY_MAX];
	char identity_source[16];       /* nsid | id.server | hostname.bind | ntp-fingerprint | "" */
	char query[24];                 /* what was asked: nsid | id.server | hostname.bind | service | ntp */
	char transport[4];              /* udp | tcp */
	enum result_outcome outcome;
	char rcode[16];                 /* DNS rcode mnemonic, "" when none */
	double rtt_ms;                  /* < 0: none */
	/* NTP only (has_ntp != 0) */
	int has_ntp;
	int stratum;
	int leap;
	char refid[16];                 /* dotted quad, or ASCII for stratum 0/1 */
	int64_t reference_time_ms;      /* Unix ms */
	double offset_ms;
	double root_delay_ms;
	double root_dispersion_ms;
	char kod[8];                    /* Kiss-o'-Death code, "" when none */
};

const char *result_outcome_name(enum result_outcome o);
/* Returns 0 and sets *o, or -1 for an unknown name. */
int result_outcome_parse(const char *name, enum result_outcome *o);

/* Encode one record as a JSON object (caller owns the reference). Includes
 * "agent" only when r->agent is non-empty. */
json_t *result_to_json(const struct result *r);

/* Encode as one compact JSON line without the trailing newline into buf.
 * Returns the length, or -1 if it does not fit. */
int result_to_line(const struct result *r, char *buf, size_t buflen);

/* Decode and validate one record. Unknown fields are ignored; "agent" is
 * ignored (the collector sets it from the token). Returns 0, or -1 with a
 * one-line reason in err naming the field. Never trusts sizes: over-long
 * strings are rejected, not truncated. */
int result_from_json(const json_t *obj, struct result *r, char *err, size_t errlen);

#endif
