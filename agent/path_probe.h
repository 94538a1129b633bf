/* agent/path_probe.h - one unprivileged trace (traceroute) on the libuv
 * loop: UDP probes of increasing TTL from one connected socket, ICMP /
 * ICMPv6 errors read from its error queue (IP_RECVERR / IPV6_RECVERR). No
 * raw socket and no capability: it runs as any user. Every probe of a trace
 * has the same source and destination address and ports (one flow, so that
 * per-flow ECMP keeps it on one path); the scheduling is agent/path_trace.c,
 * the decoding agent/path_icmp.c. */
#ifndef ANYCAST_PATH_PROBE_H
#define ANYCAST_PATH_PROBE_H

#include <sys/socket.h>
#include <uv.h>

#include "agent/path_trace.h"

#define PATH_PROBE_DEFAULT_PORT 33434

/* Called exactly once per started trace, on the loop thread; the trace
 * (hops, status, packets) is valid during the callback only. cancelled is
 * 1 after path_probe_cancel() (the trace is then incomplete). */
typedef void (*path_probe_done_fn)(void *ctx, const struct path_trace *t, int cancelled);

struct path_probe_opts {
	const struct sockaddr *dst;   /* copied; its port is the flow's destination port
				       * (0: PATH_PROBE_DEFAULT_PORT) */
	struct path_trace_opts trace; /* 0 fields: defaults */
	path_probe_done_fn done;
	void *ctx;
};

struct path_probe;

/* Open the socket and start sending. Returns 0 and the trace in *out (valid
 * until its done callback returns), or a negative errno; on failure the done
 * callback is never called. The trace frees itself after its callback. */
int path_probe_start(uv_loop_t *loop, const struct path_probe_opts *o, struct path_probe **out);

/* Stop early: the done callback runs now with cancelled = 1. */
void path_probe_cancel(struct path_probe *p);

#endif
