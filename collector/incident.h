/* collector/incident.h - incidents: the events one cause produced, across
 * agents and services, told as one story with a lifecycle (pending -> open ->
 * resolved). Pure logic: events and the clock in, incident changes out through
 * a callback; the world's state (is a branch cut off?) is asked through
 * function pointers. The grouping rules are in docs/INCIDENTS.md.
 *
 * Ownership: the engine owns its incidents; a struct incident passed to a
 * callback is valid during the call only. Loop thread only. */
#ifndef ANYCAST_INCIDENT_H
#define ANYCAST_INCIDENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/inventory.h"
#include "collector/event.h"

enum incident_kind {
	INCIDENT_INSTANCE_DOWN = 0,
	INCIDENT_ROUTE_CHANGE,
	INCIDENT_OUTAGE,
	INCIDENT_HIJACK,
	INCIDENT_SPLIT,
	INCIDENT_FLAPPING,
	INCIDENT_SUBOPTIMAL,
	INCIDENT_BRANCH_ISOLATED,
	INCIDENT_AGENT_SILENT,
	INCIDENT_WITHDRAWN,           /* its guard took an instance out of the routing */
	INCIDENT_SERIAL_LAG,          /* an instance serves an old zone */
	INCIDENT_INCONSISTENT_ANSWER, /* an instance serves other data with the same serial */
	INCIDENT_ANSWER_MISMATCH,     /* the anycast answer is not the instance's own */
	INCIDENT_N_KINDS
};

enum incident_state { INCIDENT_PENDING = 0, INCIDENT_OPEN, INCIDENT_RESOLVED };

/* What a callback is told. */
enum incident_change { INCIDENT_OPENED = 0, INCIDENT_UPDATED, INCIDENT_RESOLVED_NOW,
		       INCIDENT_CHANGED /* stored state moved, nothing to announce */ };

#define INCIDENT_KEY_MAX 160
#define INCIDENT_EVENTS_MAX 512   /* event ids kept per incident (the first ones) */

/* One affected agent, per service and family. */
struct incident_agent {
	char agent[RESULT_NAME_MAX];
	char service[RESULT_NAME_MAX];
	int family;                        /* 4, 6, or 0 */
	char from[RESULT_NAME_MAX];        /* "" = null */
	char to[RESULT_NAME_MAX];
	int64_t started_ms, ended_ms;      /* ended 0 = still affected */
};

/* A raw incident key (event.incident) that must close before the incident
 * resolves: "outage/br1/dns/4", "instance_down/dns/site-a", ... */
struct incident_member {
	char key[INCIDENT_KEY_MAX];
	int open;
};

/* An event of the incident and the agent it is about ("" for none). */
struct incident_event {
	int64_t id;
	char agent[RESULT_NAME_MAX];
};

struct incident {
	int64_t id;
	enum incident_kind kind;
	enum incident_state state;
	char service[RESULT_NAME_MAX];     /* the first service; "" for agent_silent */
	char services[4][RESULT_NAME_MAX]; /* every service it touches (first 4) */
	int n_services;
	char instance[RESULT_NAME_MAX];    /* the cause, when one is ("" = null) */
	char identity[RESULT_IDENTITY_MAX];/* hijack: the foreign identity */
	char reason[256];                  /* withdrawn: the guard's reason */
	int64_t started_ms, updated_ms, ended_ms;
	int64_t publish_ms;                /* pending: announce at this time */
	int64_t instance_up_ms;            /* instance_down: when its member closed */
	int64_t notified_ms;               /* last announcement */
	int grew;                          /* agents added since the last announcement */
	size_t n_agents, cap_agents;
	struct incident_agent *agents;
	size_t n_members, cap_members;
	struct incident_member *members;
	size_t n_events, cap_events;
	struct incident_event *events;
	char summary[256];
};

struct incident_world {
	/* 1 when the agent reaches nothing at all right now: no anycast answer
	 * and no management answer of any service in its last rounds. */
	int (*agent_dark)(void *ctx, const char *agent);
	/* Agents reporting and not dark (isolation needs a witness). */
	int (*agents_lit)(void *ctx);
	/* Agents that currently see instance's management address fail: their
	 * names into names[0..max), returns the count (may exceed max). */
	size_t (*failing_agents)(void *ctx, const char *service, const char *instance,
				 char (*names)[RESULT_NAME_MAX], size_t max);
	void *ctx;
};

typedef void (*incident_fn)(void *ctx, const struct incident *inc, enum incident_change what);

struct incidents;

/* hold_ms: how long a new incident gathers events before it is announced
 * (hijack, split, flapping, suboptimal and agent_silent are announced at
 * once: their events are already the end of a window). next_id: the first
 * id to give. NULL on allocation failure. */
struct incidents *incidents_new(int64_t hold_ms, int64_t next_id, const struct incident_world *w,
				incident_fn cb, void *ctx);
void incidents_free(struct incidents *e);
void incidents_set_hold(struct incidents *e, int64_t hold_ms);
/* Minimum time between two update announcements of one incident. */
void incidents_set_update_interval(struct incidents *e, int64_t ms);

/* Attribute one stored event (ev->id set). Returns the id of the incident
 * it joined, 0 for none (yet: pending incidents may still be dropped). */
int64_t incidents_event(struct incidents *e, const struct event *ev, int64_t now_ms);
/* Time-driven: announce pending incidents whose hold ended, send due
 * updates, resolve incidents whose stragglers waited long enough. */
void incidents_tick(struct incidents *e, int64_t now_ms);

/* Restore an open incident after a restart (copied; state must be OPEN). */
int incidents_restore(struct incidents *e, const struct incident *inc);
/* Calls fn for every open incident (for re-sending alerts). */
void incidents_each_open(struct incidents *e, void (*fn)(void *ctx, const struct incident *inc),
			 void *ctx);
size_t incidents_count_open(const struct incidents *e, enum incident_kind kind);

const char *incident_kind_name(enum incident_kind k);
int incident_kind_parse(const char *s, enum incident_kind *k);
/* "critical", "warning" or "info" */
const char *incident_severity(enum incident_kind k);
int incident_severity_level(enum incident_kind k); /* 2, 1, 0 */
const char *incident_state_name(enum incident_state s);
/* Distinct agent names among the entries. */
int incident_agent_count(const struct incident *inc);

/* ---- JSON (collector/incident_json.c) ---- */
/* The API's object (see docs/API.md): id, kind, state, severity, service,
 * instance, identity, agents[], started, updated, ended, duration_s,
 * summary, events[]. New reference. */
json_t *incident_to_json(const struct incident *inc);
/* The engine's private state (members) for storage, and back: members into
 * inc (which must be zeroed or freed first). 0 or -1. */
json_t *incident_members_json(const struct incident *inc);
int incident_from_json(struct incident *inc, const json_t *doc, const json_t *members);
/* Frees what inc owns (not inc). */
void incident_clear(struct incident *inc);

#endif
