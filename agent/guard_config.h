/* agent/guard_config.h - the guard's configuration file (anycast-agent
 * --guard FILE): global timing, then one "service NAME" block per guarded
 * service with its probe and its withdrawal action. Line-based text, one
 * "key value" per line, '#' comments; the format is in anycast-agent(8).
 * Pure parsing: text in, struct out. */
#ifndef ANYCAST_GUARD_CONFIG_H
#define ANYCAST_GUARD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "agent/guard_state.h"
#include "common/result.h"

#define GUARD_MAX_SERVICES 8
#define GUARD_MAX_ARGV 16
#define GUARD_ARG_MAX 256

enum guard_action_kind { GUARD_ACTION_BIRD = 0, GUARD_ACTION_ADDRESS, GUARD_ACTION_COMMAND };

struct guard_argv {
	int argc;
	char argv[GUARD_MAX_ARGV][GUARD_ARG_MAX];
};

struct guard_service {
	char name[RESULT_NAME_MAX];
	char report_as[RESULT_NAME_MAX];      /* the inventory's service name in reports
	                                         ("inventory_service"), default name */
	int protocol;                         /* INV_PROTO_DNS or INV_PROTO_NTP */
	char anycast[RESULT_ADDR_MAX];        /* the anycast address on this server */
	char management[RESULT_ADDR_MAX];     /* the server's own address, "" = none */
	int port;                             /* default 53 / 123 */
	char identity[RESULT_IDENTITY_MAX];   /* expected id.server/NSID, "" = any */
	char query_name[256];                 /* optional check query, "" = id.server CH TXT */
	char query_type[12];
	char rcode[16];                       /* expected rcode, default NOERROR */
	enum guard_action_kind action;
	char bird_socket[108];                /* bird: control socket path */
	char bird_protocol[64];               /* bird: protocol to disable/enable */
	char interface[32];                   /* address: interface holding the prefix */
	int prefix_len;                       /* address: 32 / 128 by default */
	struct guard_argv withdraw, restore;  /* command */
	struct guard_argv check;              /* command: optional, exit 0 = restored */
};

struct guard_config {
	int64_t interval_ms;                  /* default 1 s, minimum 100 ms */
	int64_t timeout_ms;                   /* default 500 ms */
	int64_t reassert_ms;                  /* how often the wanted state is checked, default 10 s */
	struct guard_params params;           /* rise, fall, hold_down, hold_max, flap_window */
	/* Reporting to the collector (all "" = not reported): */
	char collector[2048];                 /* URL, or several comma-separated */
	char agent_name[RESULT_NAME_MAX];     /* "name": the guard's agent in the inventory */
	char instance[RESULT_NAME_MAX];       /* the inventory instance this server is */
	char token_file[512];
	char spool[512];                      /* where reports wait for the collector */
	char ca_file[512];                    /* "" = the system's CAs */
	int n_services;
	struct guard_service services[GUARD_MAX_SERVICES];
};

/* Parse text/len (need not be NUL-terminated). Returns 0, or -1 with
 * "FNAME:LINE: reason" in err. cfg is fully written either way. */
int guard_config_parse(const char *text, size_t len, const char *fname, struct guard_config *cfg,
		       char *err, size_t errlen);

/* Read and parse a file (at most 64 KiB). Same return as guard_config_parse(). */
int guard_config_load(const char *path, struct guard_config *cfg, char *err, size_t errlen);

/* Split a command line into argv: whitespace separates, double quotes group,
 * backslash escapes the next character; no shell, no expansion. 0 or -1. */
int guard_argv_split(const char *s, struct guard_argv *out);

const char *guard_action_name(enum guard_action_kind k);

#endif
