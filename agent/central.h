/* agent/central.h - central mode: the agent takes its probe list from the
 * collector (GET /api/v1/agent/config, cached on disk), spools every result
 * durably and reports batches to the collector. */
#ifndef ANYCAST_CENTRAL_H
#define ANYCAST_CENTRAL_H

#include <stdint.h>
#include "common/inventory.h"

struct central_options {
	const char *collector_url;   /* "http://198.18.250.10:8053" or https:// */
	const char *name;            /* agent name (informational; the token decides) */
	const char *token_file;      /* must not be group/world readable */
	const char *spool_dir;       /* default "./spool" */
	uint64_t spool_max_bytes;    /* default 100 MB */
	const char *ca_file, *client_cert, *client_key; /* optional TLS */
	const char *user;            /* NULL, or run as this user once set up (--user) */
	const struct inventory *local; /* optional: services from --config, used until the
					   collector answers; NULL in pure central mode */
};

/* Runs a loop until SIGTERM/SIGINT, then flushes or spools everything.
 * Returns the process exit code. */
int central_run(const struct central_options *opt);

#endif
