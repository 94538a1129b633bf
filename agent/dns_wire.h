/* agent/dns_wire.h - DNS probe queries (ldns) and reply validation and
 * classification. Pure: no sockets, no clocks, no globals. */
#ifndef ANYCAST_DNS_WIRE_H
#define ANYCAST_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_WIRE_MAX_QUERY 512   /* our queries are small: one question plus OPT */
#define DNS_WIRE_TEXT_MAX 256    /* identity text (NSID or TXT) incl. NUL */
#define DNS_WIRE_UDP_SIZE 1232   /* EDNS0 UDP payload size we advertise */

enum dns_wire_kind {
	DNS_WIRE_SERVICE = 0,   /* the service's own query (class IN), with NSID */
	DNS_WIRE_NSID,          /* the identity query when there is no service query:
				 * id.server CH TXT (NSID and TXT in one answer) */
	DNS_WIRE_ID_SERVER,     /* id.server CH TXT (a CHAOS follow-up) */
	DNS_WIRE_HOSTNAME_BIND, /* hostname.bind CH TXT */
};

/* The question of a query we sent: what a reply must echo. */
struct dns_wire_question {
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	uint8_t qname[256];     /* wire-format owner name (lowercase not required) */
	size_t qname_len;
};

enum dns_wire_verdict {
	DNS_WIRE_DROP = 0,      /* not a reply to our question (spoofed/stale): drop and count */
	DNS_WIRE_OK,            /* NOERROR answer */
	DNS_WIRE_RCODE,         /* answer with another rcode (rcode set) */
	DNS_WIRE_TRUNCATED,     /* TC set: retry over TCP */
	DNS_WIRE_MALFORMED,     /* ours (ID and QR match) but unparseable or inconsistent */
};

struct dns_wire_reply {
	enum dns_wire_verdict verdict;
	int rcode;                      /* numeric rcode, -1 when unknown */
	char rcode_name[16];            /* "NOERROR", "REFUSED", ... ("" when malformed) */
	int has_nsid;
	char nsid[DNS_WIRE_TEXT_MAX];   /* printable: ASCII as is, else hex */
	int has_txt;
	char txt[DNS_WIRE_TEXT_MAX];    /* first TXT answer for the CHAOS name, escaped */
};

/* The record name of a kind: "service", "nsid", "id.server", "hostname.bind". */
const char *dns_wire_kind_name(enum dns_wire_kind kind);

/* Build a query of kind with the given ID into buf. For DNS_WIRE_SERVICE,
 * qname and qtype ("SOA", "A", ...) name the question; they are ignored for
 * the CHAOS kinds. Every query carries EDNS0 with a UDP size of
 * DNS_WIRE_UDP_SIZE and asks for the NSID.
 * Fills q with what a reply must match. Returns the length, or a negative
 * errno (-EINVAL for a bad name or type, -ENOSPC when buf is too small). */
int dns_wire_build_query(enum dns_wire_kind kind, const char *qname, const char *qtype, uint16_t id,
			 uint8_t *buf, size_t buflen, struct dns_wire_question *q);

/* Validate and classify the reply pkt/len against the question q. Never
 * trusts the packet: every length is checked. Fills out and returns its
 * verdict. A reply whose ID, QR or question does not match is DNS_WIRE_DROP. */
enum dns_wire_verdict dns_wire_classify(const uint8_t *pkt, size_t len,
					const struct dns_wire_question *q,
					struct dns_wire_reply *out);

/* Rcode mnemonic ("NOERROR", "NXDOMAIN", ...), or NULL for an unknown code. */
const char *dns_wire_rcode_name(int rcode);

#endif
