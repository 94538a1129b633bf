/* agent/trace_run.h - `anycast-agent --trace ADDRESS`: one trace on its own
 * loop, printed as text or JSON. */
#ifndef ANYCAST_TRACE_RUN_H
#define ANYCAST_TRACE_RUN_H

#include "agent/path_trace.h"

struct trace_run_opts {
	const char *address;          /* numeric IPv4 or IPv6 address */
	int port;                     /* destination port, 0: the default */
	int json;                     /* 1: one JSON object instead of text */
	struct path_trace_opts trace; /* 0 fields: defaults */
};

/* Run the trace and print it on stdout. Returns the exit status: 0 when
 * the destination answered, 1 when it did not (unreachable, silent, budget,
 * send error), 2 for a bad address. */
int trace_run(const struct trace_run_opts *o);

#endif
