/* agent/path_output.h - a finished trace as text (one line per hop, as
 * tracepath prints it) or as one JSON object, for `anycast-agent --trace`. */
#ifndef ANYCAST_PATH_OUTPUT_H
#define ANYCAST_PATH_OUTPUT_H

#include <stdio.h>
#include <sys/socket.h>

#include "agent/path_trace.h"

/* Write the trace to dst (address and port) to f. 0 or -errno. */
int path_output_text(FILE *f, const struct sockaddr *dst, const struct path_trace *t);

/* One JSON object and a newline:
 * {"target","port","status","error"?,"packets","unmatched",
 *  "hops":[{"ttl","address"|null,"kind"?,"rtt_ms"?,"probes","replies","other_address"?}]}
 * 0 or -errno. */
int path_output_json(FILE *f, const struct sockaddr *dst, const struct path_trace *t);

#endif
