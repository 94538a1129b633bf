/* agent/udp_probe.h - one query/reply exchange on the libuv loop: UDP from a
 * fresh socket (kernel-chosen random source port) or TCP with the DNS 2-byte
 * length prefix, with a timeout, ICMP errors read from the socket error queue
 * (IP_RECVERR/IPV6_RECVERR) and kernel receive timestamps (SO_TIMESTAMPNS). */
#ifndef ANYCAST_UDP_PROBE_H
#define ANYCAST_UDP_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define UDP_PROBE_MAX_QUERY 512

enum udp_probe_status {
	UDP_PROBE_REPLY = 0,    /* a packet the accept function took */
	UDP_PROBE_TIMEOUT,      /* nothing acceptable before the timeout */
	UDP_PROBE_UNREACHABLE,  /* ICMP unreachable for our destination, or TCP refused */
	UDP_PROBE_ERROR,        /* local failure (error says which) */
	UDP_PROBE_CANCELLED,    /* udp_probe_cancel() */
};

struct udp_probe_result {
	enum udp_probe_status status;
	int error;              /* positive errno for UNREACHABLE/ERROR, else 0 */
	const uint8_t *data;    /* REPLY: the accepted packet, valid during the callback */
	size_t len;
	int64_t sent_real_ns;   /* wall clock just before the query left */
	int64_t recv_real_ns;   /* REPLY: wall clock of arrival (kernel timestamp if any) */
	double rtt_ms;          /* REPLY: monotonic round-trip time, else -1 */
};

/* Called for every packet from the destination's address and port: return 1
 * to take it as the reply, 0 to drop it (it is counted in *dropped). */
typedef int (*udp_probe_accept_fn)(void *ctx, const uint8_t *pkt, size_t len);
/* Called exactly once per started probe, on the loop thread. */
typedef void (*udp_probe_done_fn)(void *ctx, const struct udp_probe_result *res);

struct udp_probe_opts {
	const struct sockaddr *dst;   /* copied */
	const uint8_t *query;         /* copied; at most UDP_PROBE_MAX_QUERY bytes */
	size_t query_len;
	int64_t timeout_ms;
	int tcp;                      /* 1: DNS over TCP */
	udp_probe_accept_fn accept;
	udp_probe_done_fn done;
	void *ctx;
	uint64_t *dropped;            /* borrowed counter, may be NULL */
};

struct udp_probe;

/* Send the query and wait for the reply. Returns 0 and the probe in *out
 * (valid until its done callback returns), or a negative errno; on failure
 * the done callback is never called. The probe frees itself. */
int udp_probe_start(uv_loop_t *loop, const struct udp_probe_opts *o, struct udp_probe **out);

/* Stop a probe early: its done callback runs now with UDP_PROBE_CANCELLED. */
void udp_probe_cancel(struct udp_probe *p);

#endif
