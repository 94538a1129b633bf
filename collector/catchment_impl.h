/* collector/catchment_impl.h - state shared by catchment.c,
 * catchment_classify.c and catchment_detail.c (private to those files).
 *
 * Ownership: struct catchment owns its service copies, its maps and every
 * value stored in them (streams, feeds, management and instance states);
 * catchment_free() releases all of it. Nothing here is thread-safe: the
 * collector calls in from its loop thread only. */
#ifndef ANYCAST_CATCHMENT_IMPL_H
#define ANYCAST_CATCHMENT_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "collector/catchment.h"
#include "common/hashmap.h"

#define CM_HIST 32               /* identified answers kept per stream (split detection) */
#define CM_CHANGES 32            /* declared change times kept (flap detection) */
#define CM_PENDING 1             /* open rounds per (agent, service): rounds never overlap */
#define CM_DONE 16               /* recently evaluated round numbers per (agent, service) */
#define CM_ROUND_MAX 256         /* records kept per round; more are dropped */
#define CM_QUIET_MS 250          /* a round with no new record for this long is complete */

/* --- shared strings (catchment_names.c): stored once, reference counted --- */
struct cm_name;
struct cm_names {
	size_t nb, n;
	struct cm_name **b;
};

/* The empty string every unset name field points to (never counted). */
extern const char cm_name_empty[1];
/* A counted reference to s ("" and NULL give cm_name_empty); NULL when out
 * of memory. */
const char *cm_name_ref(struct cm_names *t, const char *s);
/* Drop a reference taken by cm_name_ref (cm_name_empty and NULL ignored). */
void cm_name_unref(struct cm_names *t, const char *s);
/* *field = s, moving the reference; 0, or -1 out of memory (field kept). */
int cm_name_set(struct cm_names *t, const char **field, const char *s);
size_t cm_names_count(const struct cm_names *t);
void cm_names_free(struct cm_names *t);

/* --- configuration copied from the inventory --- */
struct cm_instance {
	char name[RESULT_NAME_MAX];
	char identity[RESULT_IDENTITY_MAX];     /* configured, "" = learned */
	char learned[RESULT_IDENTITY_MAX];      /* from its management address: DNS identity,
						   NTP stratum/refid ("s3/127.127.1.1") */
};

struct cm_service {
	char name[RESULT_NAME_MAX];
	enum inv_protocol protocol;
	int n_instances;
	struct cm_instance *instances;          /* owned */
	int n_targets;                          /* anycast and management addresses */
	char (*targets)[RESULT_ADDR_MAX];       /* owned */
};

/* --- one (agent, service, family): the catchment state machine --- */
struct cm_stream {
	/* Every const char * below is a reference in struct catchment's names
	 * table (cm_name_empty when unset): set with cm_name_set, released by
	 * catchment_stream_free. */
	const char *agent;
	const char *service;
	int family;
	const char *cur;                /* declared instance, "" before the first answer */
	const char *home;               /* instance the open catchment incident left */
	const char *identity;
	int64_t since_ms, last_seen_ms, last_round_ms;
	double rtt_ms;
	const char *cand;               /* candidate new instance and its streak */
	int cand_count;
	int away;                       /* catchment incident open (cur != home) */
	int silent, answered;           /* consecutive rounds without / with an answer */
	int outage;
	const char *outage_from;
	int unknown, unknown_clear;     /* unknown identity open; clean rounds since */
	const char *unknown_identity;
	struct {
		int64_t t;
		const char *inst;
	} hist[CM_HIST];                /* identified answers, oldest first */
	int n_hist;
	int split;
	int64_t split_since_ms;         /* when the open split began */
	int64_t last_switch_ms;         /* last time the answering instance differed */
	int64_t changes[CM_CHANGES];    /* declared change times, oldest first */
	int n_changes;
	int flapping;
	int64_t last_change_ms;
	int64_t bad_since_ms;           /* suboptimal streak start, 0 = none */
	int suboptimal, good_rounds;
	const char *best;               /* best instance by management RTT */
};

/* --- one (agent, service, instance): management address seen by one agent --- */
struct cm_mgmt {
	int fail_rounds;                /* consecutive failed rounds */
	int last;                       /* 1 answered, 0 failed, -1 never seen */
	int64_t last_ms;
	double rtt_ms;
	int counted;                    /* counted in its cm_inst.n_failing */
};

/* --- one (service, instance): health across agents --- */
struct cm_inst {
	int n_failing;                  /* agents with fail_rounds >= instance_down_rounds */
	int down;
	int64_t down_since_ms;
	int withdrawn;                  /* its guard withdrew it (and has not restored it) */
	int64_t withdrawn_ms;           /* when (the guard's time) */
	char withdrawn_reason[256];     /* the guard's reason */
};

/* --- one (agent, service): the rounds still being collected --- */
struct cm_round {
	uint64_t round;
	int64_t last_arrival_ms;
	size_t n, cap;
	struct result *r;               /* owned */
};

struct cm_feed {
	const char *service;            /* a reference in the names table */
	struct cm_round pending[CM_PENDING]; /* arrival order */
	int n_pending;
	uint64_t done[CM_DONE];
	int n_done, done_next;
};

struct catchment {
	int n_services;
	struct cm_service *services;    /* owned */
	struct inv_thresholds th;
	struct hashmap streams;   /* "agent\x1fservice\x1ffamily" -> cm_stream */
	struct hashmap feeds;     /* "agent\x1fservice" -> cm_feed */
	struct hashmap mgmt;      /* "agent\x1fservice\x1finstance" -> cm_mgmt */
	struct hashmap insts;     /* "service\x1finstance" -> cm_inst */
	struct cm_names names;          /* strings the streams and feeds refer to */
	struct cm_stream **order;       /* streams by (agent, service, family), owned */
	size_t n_order;
	int order_valid;                /* 0 after a stream was added or removed */
	uint64_t dropped;               /* records ignored: unknown service, late, overflow */
	size_t n_homes;                 /* configured "home:" per agent, sorted by agent */
	struct cm_home {
		char agent[RESULT_NAME_MAX];
		char home[RESULT_NAME_MAX];
	} *homes;                       /* owned */
};

/* Copy the inventory's agent homes (catchment_world.c). */
void catchment_copy_homes(struct catchment *c, const struct inventory *inv);
/* The configured home of agent, "" when none. */
const char *catchment_configured_home(const struct catchment *c, const char *agent);

/* An event sink and the clock of the round being evaluated. */
struct cm_emit {
	catchment_event_fn cb;
	void *ctx;
};

struct cm_service *catchment_find_service(struct catchment *c, const char *name);
/* Get or create; NULL on allocation failure. */
struct cm_stream *catchment_stream(struct catchment *c, const char *agent, const char *service,
				   int family);
/* Set one of a stream's name fields (see struct cm_stream). */
void catchment_stream_set(struct catchment *c, const char **field, const char *s);
struct cm_mgmt *catchment_mgmt(struct catchment *c, const char *agent, const char *service,
			       const char *instance);
struct cm_inst *catchment_inst(struct catchment *c, const char *service, const char *instance);

/* Evaluate one complete round of one agent for one service (catchment_classify.c). */
void catchment_classify_round(struct catchment *c, struct cm_service *svc, const struct result *r,
			      size_t n, const struct cm_emit *em);

/* Fill the common fields of an event (catchment_detail.c). */
void catchment_detail_event(struct event *ev, const char *type, int64_t time_ms, const char *agent,
			    const char *service, int family, const char *from, const char *to,
			    const char *incident_type, int resolves);
/* Write detail JSON: {"cause": cause, <extra fields>, "evidence": [...]}.
 * extra is a JSON object (borrowed, may be NULL). Evidence: the anycast records
 * of the family (family 0: none) and the management records of from/to. */
void catchment_detail_write(struct event *ev, const char *cause, json_t *extra,
			    const struct result *r, size_t n);

#endif
