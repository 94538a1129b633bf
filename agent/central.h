/* agent/central.h - central mode: the agent takes its probe list from the
 * collector (GET /api/v1/agent/config, cached on disk), spools every result
 * durably and reports batches to the collector. */
#ifndef ANYCAST_CENTRAL_H
#define ANYCAST_CENTRAL_H

#include <stdint.h>
#include "common/inventory.h"

struct central_options {
	const char *collector_url;   /* "http://198.18.250.10:8053" or https://; several,
					comma-separated, in order of preference */
	int64_t collector_return_ms; /* retry the first collector this long after it
					failed; 0: 60 s */
	const char *name;            /* agent name: sent with every request; the agent
					stops when the collector says the token is
					another agent's. NULL: not checked */
	const char *token_file;      /* must not be group/world readable */
	const char *spool_dir;       /* default "./spool" */
	uint64_t spool_max_bytes;    /* default 100 MB */
	const char *ca_file, *client_cert, *client_key; /* optional TLS */
	const char *user;            /* NULL, or run as this user once set up (--user) */
	const struct inventory *local; /* optional: services from --config, used until the
					   collector answers; NULL in pure central mode */
};

/* Exit code when the token belongs to another agent than opt->name
 * (sysexits.h's EX_CONFIG: systemd's unit does not restart on it). */
#define CENTRAL_EXIT_WRONG_AGENT 78

/* Runs a loop until SIGTERM/SIGINT, then flushes or spools everything; or
 * until the collector says the token is another agent's: then one line is
 * logged, nothing more is sent, the spool is kept and the result is
 * CENTRAL_EXIT_WRONG_AGENT. Returns the process exit code. */
int central_run(const struct central_options *opt);

#endif
