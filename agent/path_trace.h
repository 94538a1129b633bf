/* agent/path_trace.h - the state of one trace (traceroute) as pure logic:
 * which probe (TTL) to send next, with several in flight and a packet
 * budget, how ICMP errors and timeouts fill the hop list, and when the
 * trace is over. Time is passed in (monotonic ns), nothing here does I/O:
 * agent/path_probe.c drives it with a socket and a timer. */
#ifndef ANYCAST_PATH_TRACE_H
#define ANYCAST_PATH_TRACE_H

#include <stdint.h>
#include <sys/socket.h>

#include "agent/path_icmp.h"

#define PATH_TRACE_MAX_TTL 64
#define PATH_TRACE_MAX_BUDGET 256

struct path_trace_opts {
	int max_ttl;        /* highest TTL sent (1..PATH_TRACE_MAX_TTL); 0: 30 */
	int attempts;       /* probes per hop while it stays silent (1..5); 0: 3 */
	int window;         /* probes in flight at once (1..16); 0: 4 */
	int budget;         /* packets per trace (1..PATH_TRACE_MAX_BUDGET); 0: 64 */
	int gap_limit;      /* stop after this many silent hops in a row past the last
			     * answering one (1..PATH_TRACE_MAX_TTL); 0: 5 */
	int64_t timeout_ms; /* wait per probe; 0: 1000 */
};

enum path_trace_status {
	PATH_TRACE_RUNNING = 0,
	PATH_TRACE_REACHED,     /* the destination answered (port/protocol unreachable) */
	PATH_TRACE_UNREACHABLE, /* a router said host/net unreachable or prohibited */
	PATH_TRACE_GAP,         /* gap_limit silent hops in a row: stopped, not reached */
	PATH_TRACE_TOO_FAR,     /* max_ttl passed without reaching the destination */
	PATH_TRACE_BUDGET,      /* the packet budget ran out first */
	PATH_TRACE_SEND_ERROR,  /* the local stack refused to send (no route, ...) */
};

struct path_hop {
	int answered;                     /* an ICMP error named this TTL */
	enum path_icmp_kind kind;         /* of the first answer */
	struct sockaddr_storage addr;     /* who answered first */
	int other_addr;                   /* a later answer came from another address */
	double rtt_ms;                    /* of the first answer */
	int sent, replies, in_flight;
};

enum path_probe_state { PROBE_FREE = 0, PROBE_IN_FLIGHT, PROBE_ANSWERED, PROBE_LOST };

struct path_trace_probe {
	enum path_probe_state state;
	uint8_t ttl;
	int64_t sent_ns;
};

struct path_trace {
	struct path_trace_opts o;
	enum path_trace_status status;
	int send_error;                   /* SEND_ERROR: positive errno */
	struct path_hop hops[PATH_TRACE_MAX_TTL + 1]; /* by TTL, [0] unused */
	struct path_trace_probe probes[PATH_TRACE_MAX_BUDGET]; /* by probe id */
	int n_probes;                     /* = packets sent */
	int in_flight;
	int next_new_ttl;                 /* lowest TTL never sent */
	int end_ttl;                      /* TTL where the path ended (reached or !H), 0: not yet */
	int last_ttl;                     /* highest TTL in the final hop list */
	int narrow;                       /* a router quoted too little to name a probe:
					   * one probe in flight from then on */
	uint64_t unmatched;               /* errors that named no probe of ours */
};

/* Start a trace with the options (clamped to their ranges, 0 = default). */
void path_trace_init(struct path_trace *t, const struct path_trace_opts *o);

/* The next probe to send now, if any: returns 1 with its id and TTL and
 * counts it as sent at now_ns; 0 when nothing is to be sent yet (window
 * full, all TTLs asked) or the trace is over. */
int path_trace_next(struct path_trace *t, int64_t now_ns, uint16_t *probe_id, int *ttl);

/* The probe could not leave: err (positive errno) from sendmsg. A routing
 * error ends the trace as SEND_ERROR; anything else counts it lost. */
void path_trace_send_failed(struct path_trace *t, uint16_t probe_id, int err);

/* An ICMP error arrived at now_ns. Errors for no probe in flight (late,
 * duplicate, foreign) count in unmatched and change nothing else. Returns 1
 * when it was matched to a probe. */
int path_trace_on_error(struct path_trace *t, int64_t now_ns, const struct path_icmp_error *e);

/* Probes in flight for longer than the timeout are lost (their hop may be
 * retried). */
void path_trace_expire(struct path_trace *t, int64_t now_ns);

/* When path_trace_expire must run next (monotonic ns), -1 when nothing is
 * in flight. */
int64_t path_trace_deadline(const struct path_trace *t);

/* Settle the status once nothing is in flight and nothing is left to send:
 * returns 1 when the trace is over (t->status and t->last_ttl final). */
int path_trace_finish(struct path_trace *t);

const char *path_trace_status_name(enum path_trace_status s);

#endif
