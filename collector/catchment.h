/* collector/catchment.h - catchment tracking and event classification: pure
 * logic (no I/O, the clock is a parameter). Fed with stored results, it keeps
 * per (agent, service, family) which instance answers and raises events. */
#ifndef ANYCAST_CATCHMENT_H
#define ANYCAST_CATCHMENT_H

#include <stddef.h>
#include <stdint.h>
#include "common/inventory.h"
#include "common/result.h"
#include "collector/event.h"

struct catchment;

typedef void (*catchment_event_fn)(void *ctx, const struct event *ev);

/* Copies services, instances and thresholds from inv. NULL on alloc failure. */
struct catchment *catchment_new(const struct inventory *inv);
void catchment_free(struct catchment *c);
/* Inventory reload: keeps state for services/instances that still exist. */
void catchment_set_inventory(struct catchment *c, const struct inventory *inv);

/* Feed results (r[i].agent set). Results of one agent round are grouped by
 * (agent, service, round); a round is evaluated when it holds a record for
 * every address of the service, when a later round of that agent and service
 * arrives, or by catchment_tick once no record came for 250 ms. Events via cb
 * (ev valid during the call; time_ms is the round's time). */
void catchment_observe(struct catchment *c, const struct result *r, size_t n, int64_t now_ms,
		       catchment_event_fn cb, void *ctx);
/* Time-driven evaluation: rounds whose records stopped arriving. (Flapping,
 * split and the other incidents end on the rounds that follow; an agent gone
 * silent leaves its state as it was, with last_seen_ms telling its age.) */
void catchment_tick(struct catchment *c, int64_t now_ms, catchment_event_fn cb, void *ctx);

struct catchment_row {
	char agent[RESULT_NAME_MAX];
	char service[RESULT_NAME_MAX];
	int family;
	char instance[RESULT_NAME_MAX];  /* "" = null */
	char identity[RESULT_IDENTITY_MAX];
	char status[20];                 /* ok | outage | unknown_instance | split */
	int64_t since_ms;
	int64_t last_seen_ms;
	double rtt_ms;                   /* < 0 none */
	int suboptimal, flapping;
	char home[RESULT_NAME_MAX];      /* the agent's usual instance, "" = not known */
	int away;                        /* instance set and not home */
	int64_t last_round_ms;           /* last round of the agent for this row */
	int n_split;                     /* status split: instances seen in the window */
	struct {
		char instance[RESULT_NAME_MAX];
		double share;
	} split[4];
};

/* Snapshot of every tracked (agent, service, family), sorted by agent,
 * service and family. *rows is malloc'd (caller frees; not NULL even for 0
 * rows unless out of memory); returns the count. */
size_t catchment_snapshot(struct catchment *c, struct catchment_row **rows);
/* The same rows written into rows[0..cap) (no allocation, the order is kept
 * between calls); returns the count. catchment_row_bound() rows always fit. */
size_t catchment_rows(struct catchment *c, struct catchment_row *rows, size_t cap);
size_t catchment_row_bound(const struct catchment *c);
/* Order-independent hash of what the rows show a dashboard (agent, service,
 * family, instance, status, flags, since), without building them; *n_rows
 * (may be NULL) gets the number of rows a snapshot would have. */
uint64_t catchment_signature(const struct catchment *c, size_t *n_rows);
/* Distinct strings the state holds (names, identities); for tests and
 * diagnostics. */
size_t catchment_strings(const struct catchment *c);
/* The world as incidents need it (collector/catchment_world.c). */
/* 1 when the agent's last round of every service it probes got no answer
 * on the anycast addresses and none on any management address. */
int catchment_agent_dark(struct catchment *c, const char *agent);
/* 1 when some agent's last round of some service got an answer (a witness
 * that the services themselves are reachable), else 0. */
size_t catchment_agents_lit(struct catchment *c);
/* Agents that count instance's management address as failing; names of
 * the first max into names; returns the total. */
size_t catchment_failing_agents(struct catchment *c, const char *service, const char *instance,
				char (*names)[RESULT_NAME_MAX], size_t max);

/* A guard withdrew (withdrawn = 1, with its reason) or restored (0) an
 * instance of service at time_ms. A catchment change away from a withdrawn
 * instance then has cause "withdrawn" (detail.guard_reason, withdrawn_at)
 * instead of failover or route_change. Unknown names are ignored. */
void catchment_guard(struct catchment *c, const char *service, const char *instance,
		     int withdrawn, int64_t time_ms, const char *reason);
/* 1 when instance of service stands withdrawn by its guard (*since_ms and
 * reason, either may be NULL, filled), else 0. */
int catchment_guard_withdrawn(struct catchment *c, const char *service, const char *instance,
			      int64_t *since_ms, char *reason, size_t len);

/* Seed state after a restart (rows as stored by a previous snapshot). */
void catchment_restore(struct catchment *c, const struct catchment_row *rows, size_t n);

#endif
