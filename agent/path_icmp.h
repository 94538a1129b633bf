/* agent/path_icmp.h - the pure part of the path probe: the payload that
 * names a probe, and the decoding of one message read from a UDP socket's
 * error queue (recvmsg MSG_ERRQUEUE with IP_RECVERR / IPV6_RECVERR) into an
 * ICMP or ICMPv6 error: its kind, the router that sent it, the destination
 * it quotes and the probe it is about. No I/O: the caller passes the bytes
 * recvmsg returned. */
#ifndef ANYCAST_PATH_ICMP_H
#define ANYCAST_PATH_ICMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Probe payload: "ACPT", the trace's 32-bit nonce, the probe id (16 bits),
 * the TTL it was sent with, padding; all in network order. Every probe of a
 * trace leaves with the same ports (one connected socket): the probe is named
 * by the payload, which a router quotes back after the UDP header (RFC 1812
 * routers quote up to 576 bytes, ICMPv6 up to 1280). */
#define PATH_PAYLOAD_LEN 16
#define PATH_PAYLOAD_MIN 11 /* bytes that must be quoted to name a probe */

void path_payload_encode(uint8_t out[PATH_PAYLOAD_LEN], uint32_t nonce, uint16_t probe_id,
			 uint8_t ttl);

/* 1 and the id and TTL when p (the quoted payload, len bytes, possibly cut
 * short by the router) is a probe of the trace with this nonce; 0 when it is
 * too short to tell or not ours. */
int path_payload_decode(const uint8_t *p, size_t len, uint32_t nonce, uint16_t *probe_id,
			uint8_t *ttl);

enum path_icmp_kind {
	PATH_ICMP_TIME_EXCEEDED = 1, /* TTL / hop limit exceeded in transit: a hop */
	PATH_ICMP_PORT_UNREACH,      /* the destination host answered: reached */
	PATH_ICMP_PROTO_UNREACH,     /* ICMPv4 protocol unreachable: the host too */
	PATH_ICMP_HOST_UNREACH,      /* host / address unreachable (!H) */
	PATH_ICMP_NET_UNREACH,       /* network unreachable, no route (!N) */
	PATH_ICMP_PROHIBITED,        /* administratively prohibited, policy, reject (!X) */
	PATH_ICMP_OTHER,             /* too big, parameter problem, ...: not a hop */
};

struct path_icmp_error {
	enum path_icmp_kind kind;
	int family;                          /* AF_INET (ICMP) or AF_INET6 (ICMPv6) */
	uint8_t type, code;                  /* as on the wire */
	uint32_t ee_errno;                   /* the kernel's errno for it */
	int has_offender;                    /* 0: the kernel gave no sender address */
	struct sockaddr_storage offender;    /* the router or host that sent the error */
	int has_quoted_dst;
	struct sockaddr_storage quoted_dst;  /* destination (address, port) of the quoted datagram */
	int has_probe;                       /* the quoted payload named one of our probes */
	uint16_t probe_id;
	uint8_t ttl;                         /* TTL the probe was sent with (from the payload) */
	size_t quoted_len;                   /* payload bytes the router quoted */
};

/* path_icmp_decode results (negative errno style). */
#define PATH_ICMP_NOT_ICMP (-1)   /* a well-formed message that is no ICMP error (local error, ...) */
#define PATH_ICMP_MALFORMED (-2)  /* control data that does not parse */

/* Decode one error-queue message: control (msg_control, control_len bytes =
 * the msg_controllen recvmsg returned), name (msg_name, name_len bytes =
 * msg_namelen) and the data (payload, payload_len bytes). Any alignment is
 * accepted. The nonce tells our probes' payloads. Returns 0 and fills *out,
 * or PATH_ICMP_NOT_ICMP / PATH_ICMP_MALFORMED (then *out is undefined). */
int path_icmp_decode(const void *control, size_t control_len, const void *name, size_t name_len,
		     const uint8_t *payload, size_t payload_len, uint32_t nonce,
		     struct path_icmp_error *out);

/* "time_exceeded", "port_unreachable", ... (static string). */
const char *path_icmp_kind_name(enum path_icmp_kind k);

#endif
