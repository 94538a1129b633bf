/* common/inventory.h - the YAML inventory (collector) and agent configuration:
 * services, their instances, agents, alert routes and classification thresholds.
 * The agent's standalone config uses the same "services:" section plus
 * collector:, name:, token_file:, spool:. The services part also travels as
 * JSON from GET /api/v1/agent/config to agents. */
#ifndef ANYCAST_INVENTORY_H
#define ANYCAST_INVENTORY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/hashmap.h"
#include "common/result.h"

#define INV_MAX_ADDRS 4
#define INV_MAX_IDENTIFY 3
#define INV_MAX_EVENTS 16
#define INV_MAX_CHECKS 8
#define INV_CHECK_NAME_MAX 32

/* An answer-integrity check of a DNS service ("checks:"): one question asked
 * through every anycast address and on every instance's management address
 * in the same round, every every_ms (0: every 10th round). */
struct inv_check {
	char name[INV_CHECK_NAME_MAX];
	char query_name[256];
	char query_type[12];
	int64_t every_ms;
};

enum inv_protocol { INV_PROTO_DNS = 0, INV_PROTO_NTP = 1 };

struct inv_instance {
	char name[RESULT_NAME_MAX];
	int n_management;
	char management[INV_MAX_ADDRS][RESULT_ADDR_MAX]; /* "management:" string or list */
	char identity[RESULT_IDENTITY_MAX];             /* expected identity, "" = learn it */
};

struct inv_service {
	char name[RESULT_NAME_MAX];
	enum inv_protocol protocol;
	int n_address;
	char address[INV_MAX_ADDRS][RESULT_ADDR_MAX];   /* anycast addresses, v4 and/or v6 */
	int port;                                       /* default 53 (dns) / 123 (ntp) */
	int64_t interval_ms;                            /* default 5000; minimum 500 */
	int64_t timeout_ms;                             /* default 1000 */
	int n_identify;
	char identify[INV_MAX_IDENTIFY][16];            /* default nsid, id.server, hostname.bind */
	char query_name[256];    /* optional service check ("query: example.lab SOA"), "" = none */
	char query_type[12];
	int n_checks;
	struct inv_check checks[INV_MAX_CHECKS];       /* answer-integrity checks (dns only) */
	int n_instances;
	struct inv_instance *instances;                 /* owned */
};

struct inv_agent {
	char name[RESULT_NAME_MAX];
	char token_sha256[65];                          /* lowercase hex */
	char home[RESULT_NAME_MAX];   /* "home:" instance that usually serves it, "" = learned */
	char guard[RESULT_NAME_MAX];  /* "guard:" the instance whose server it guards, "" = none:
	                                 only then may it report guard actions */
	int atlas;                    /* "atlas: true": may send RIPE Atlas results */
};

enum inv_alert_type { INV_ALERT_WEBHOOK = 0, INV_ALERT_SLACK, INV_ALERT_ALERTMANAGER, INV_ALERT_EMAIL };

struct inv_alert {
	char name[RESULT_NAME_MAX];
	enum inv_alert_type type;
	char url[512];                 /* webhook/slack/alertmanager base URL, or smtp://host:port */
	int n_events;                  /* 0 = every event type */
	char events[INV_MAX_EVENTS][24];
	int n_services;                /* 0 = every service */
	char services[INV_MAX_EVENTS][RESULT_NAME_MAX];
	int n_kinds;                   /* "kinds:" incident kinds; 0 = by events:, or every kind */
	char kinds[INV_MAX_EVENTS][24];
	int min_severity;              /* "severity:" 0 info (default), 1 warning, 2 critical */
	char mail_from[128];           /* email only */
	char mail_to[256];
};

/* Classification thresholds ("thresholds:" section); defaults in brackets. */
struct inv_thresholds {
	int hysteresis;              /* [2] consecutive answers from a new instance before a change */
	int outage_rounds;           /* [2] consecutive rounds with no answer before an outage */
	int instance_down_agents;    /* [1] agents that must see a management address fail (K) */
	int instance_down_rounds;    /* [2] consecutive failed rounds per agent */
	int flap_changes;            /* [4] changes (M) ... */
	int64_t flap_window_ms;      /* [10m] ... within T */
	int64_t flap_stable_ms;      /* [2m] quiet time that ends flapping */
	int64_t split_window_ms;     /* [30s] window in which alternating answers mean split */
	int split_min_switches;      /* [3] alternations inside the window */
	double suboptimal_ms;        /* [20] X ms slower than the best management RTT ... */
	double suboptimal_pct;       /* [50] ... and Y % slower ... */
	int64_t suboptimal_for_ms;   /* [60s] ... sustained this long */
	int64_t incident_hold_ms;    /* [0 = 2 intervals of the fastest service + 5 s] how long a
					new incident waits for the events of the same cause
					before it is announced (a failover gap within it pages
					no outage) */
	int agent_silent_intervals;  /* [3] intervals of the slowest service without a report
					before agent_silent */
	int64_t serial_lag_ms;       /* [5m] an instance's SOA serial behind the highest seen
					this long before serial_lag */
};

struct inventory {
	char path[512];                 /* file it came from, "" when parsed from memory/JSON */
	/* collector side */
	char listen[128];               /* "" when absent */
	char db[512];
	char tls_cert[512], tls_key[512];
	char read_token_sha256[65];     /* optional dashboard read token, "" = open */
	int64_t retention_ms;           /* raw results; default 30 days */
	int64_t rollup_retention_ms;    /* per-minute rollups; default 400 days */
	int64_t event_retention_ms;     /* events, resolved incidents, alert log; 400 days */
	int n_services;
	struct inv_service *services;   /* owned */
	int n_agents;
	struct inv_agent *agents;       /* owned */
	struct hashmap agent_by_token;  /* token_sha256 -> &agents[i]; built at load */
	struct hashmap agent_by_name;   /* name -> &agents[i]; built at load */
	int n_alerts;
	struct inv_alert *alerts;       /* owned */
	struct inv_thresholds thresholds;
	/* agent standalone side */
	char collector[2048]; /* one URL, or several comma-separated (a YAML list) */
	char name[RESULT_NAME_MAX];
	char token_file[512];
	char spool[512];
};

/* Load a YAML file. Returns a new inventory (caller frees with inventory_free)
 * or NULL with "FILE:LINE: field: reason" in err. */
struct inventory *inventory_load(const char *path, char *err, size_t errlen);
/* Same from memory; fname is used in messages only. */
struct inventory *inventory_parse(const char *text, size_t len, const char *fname, char *err,
				  size_t errlen);
void inventory_free(struct inventory *inv);

/* The services section as the JSON the agent config endpoint serves:
 * {"services":[{name, protocol, address:[..], port, interval_ms, timeout_ms,
 *   identify:[..], query_name, query_type, checks:[{name, query_name, query_type, every_ms}],
 *   instances:[{name, management:[..], identity}]}]}.
 * Caller owns the reference. */
json_t *inventory_services_to_json(const struct inventory *inv);
/* Parse that JSON back (agent side). Returns a new inventory holding only
 * services, or NULL with a reason in err. */
struct inventory *inventory_services_from_json(const json_t *obj, char *err, size_t errlen);

/* How many rounds of s apart check ck runs: every_ms over the interval,
 * rounded up, at least 1; 10 when every_ms is 0. */
int inventory_check_rounds(const struct inv_service *s, const struct inv_check *ck);

const struct inv_service *inventory_find_service(const struct inventory *inv, const char *name);
/* The instance whose management address is addr, or NULL. */
const struct inv_instance *inventory_instance_by_management(const struct inv_service *s,
							     const char *addr);
/* The instance whose configured identity equals identity (exact), or NULL. */
const struct inv_instance *inventory_instance_by_identity(const struct inv_service *s,
							   const char *identity);
/* The agent named name, or NULL (one lookup). */
const struct inv_agent *inventory_find_agent(const struct inventory *inv, const char *name);
/* The agent whose token_sha256 is token_sha256_hex (64 hex digits, either
 * case), or NULL. One lookup in agent_by_token, whatever the number of
 * agents; the candidate found is then compared in constant time
 * (docs/SECURITY.md says why the lookup leaks nothing useful). */
const struct inv_agent *inventory_find_agent_by_hash(const struct inventory *inv,
						     const char *token_sha256_hex);

/* SHA-256 of a token (surrounding whitespace stripped) as lowercase hex (65 bytes). */
void inventory_token_hash(const char *token, size_t len, char out[65]);

#endif
