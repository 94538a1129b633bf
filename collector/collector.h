/* collector/collector.h - the collector process: one struct collector owns the
 * loop's handles, the HTTP server, the store (writer thread + read
 * connection), catchment tracking, the alerter, metrics and the inventory.
 * Everything here runs on the loop thread. */
#ifndef ANYCAST_COLLECTOR_H
#define ANYCAST_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/hashmap.h"
#include "common/inventory.h"
#include "collector/alert.h"
#include "collector/catchment.h"
#include "collector/event.h"
#include "collector/http_server.h"
#include "collector/incident.h"
#include "collector/integrity.h"
#include "collector/leader.h"
#include "collector/metrics.h"
#include "collector/sse.h"
#include "collector/store.h"
#include "collector/store_check.h"
#include "collector/store_writer.h"

#define COLLECTOR_DEFAULT_LISTEN "127.0.0.1:8053"
#define COLLECTOR_DEFAULT_DB "anycast.db"
#define COLLECTOR_PATH_MAX 4096

/* Start-up settings; flags override the inventory's listen:, db:, tls_*. */
struct collector_options {
	const char *config_path;  /* required */
	const char *listen;       /* NULL: inventory's, else COLLECTOR_DEFAULT_LISTEN */
	const char *db;           /* NULL: inventory's, else COLLECTOR_DEFAULT_DB */
	const char *web_dir;      /* NULL: <bindir>/../share/anycast/web, else the source tree's */
	const char *tls_cert, *tls_key;
	enum store_sync sync;     /* default FULL */
	size_t max_body_bytes;    /* 0: 16 MiB */
	double rate_per_client;   /* 0: unlimited */
	int max_conns_per_source; /* 0: 64; < 0: no per-source cap */
	struct store_watch *watch; /* installed reports of a damaged database; NULL: none */
	int refuse_links;          /* --user: the database files must not be links */
	int64_t alert_resend_ms;   /* --alertmanager-resend; 0: 60 s */
	const char *external_url;  /* --external-url: base of links in alerts; NULL: http://LISTEN/ */
};

/* When an agent last reported (arrival time) and whether agent_silent is open. */
struct agent_watch {
	char name[RESULT_NAME_MAX];
	int64_t last_ms;
	int silent;
};

struct collector {
	uv_loop_t *loop;
	char config_path[COLLECTOR_PATH_MAX];
	char listen[128];
	char db_path[COLLECTOR_PATH_MAX];
	char web_dir[COLLECTOR_PATH_MAX];     /* realpath, "" when missing */
	size_t max_body_bytes;
	struct store_watch *watch;            /* not owned; NULL: damage not watched */

	struct inventory *inv;                /* owned; replaced on SIGHUP */
	struct http_server *server;
	struct store *reader;                 /* loop-thread read connection */
	struct store_writer *writer;
	struct catchment *catchment;
	struct integrity *integrity;    /* serial_lag, inconsistent_answer, answer_mismatch */
	struct alerter *alerter;
	struct metrics *metrics;
	struct incidents *incidents;          /* incident engine (collector_incidents.c) */
	struct hashmap agents_seen;           /* agent name -> struct agent_watch, owned */

	uv_timer_t tick_timer;                /* 1 s: catchment_tick, snapshots, SSE pings */
	uv_timer_t retention_timer;           /* 60 s */
	uv_signal_t sighup, sigterm, sigint;

	int64_t start_ms;
	int64_t next_event_id;
	struct catchment_row *snap;           /* sorted rows for reads, owned */
	size_t n_snap, snap_cap;
	int snap_valid;                       /* 0 after an event and each tick */
	int64_t snap_read_ms;                 /* last read of snap (freed when idle) */
	uint64_t catchment_sig;               /* signature of the last snapshot */
	int64_t snapshot_saved_ms;
	int snapshot_dirty;
	uint64_t results_unannounced;         /* stored since the last "results" push */
	int64_t results_announced_ms;
	struct sse *sse;                      /* the event stream's clients and ring */

	/* Role (collector/collector_role.c): several collectors may share one
	 * PostgreSQL store; only the leader classifies, runs incidents, alerts. */
	int shared_store;                     /* PostgreSQL: others may share it */
	struct leader *leader;                /* the election; NULL on SQLite */
	int is_leader;                        /* acting as leader (always 1 on SQLite) */
	int lead_pending;                     /* lock held, state not rebuilt yet */
	uint64_t role_changes;
	int64_t follower_refresh_ms;          /* last catchment refresh as follower */
	struct hashmap feed;                  /* agent -> highest seq classified (collector_feed.c) */
	uint64_t feed_results;                /* results classified from other collectors */
	char alert_url[600];                  /* the alerter's settings, kept to reopen it */
	int64_t alert_resend_ms;

	char host_name[256];                  /* gethostname(), lower case (api_host.c) */
	char external_host[256];              /* host of --external-url, "" when none */

	int stopping;
	int exit_code;
	void (*stopped_cb)(struct collector *c);
};

/* Load the inventory, open the database (migrating it), restore catchment
 * state, start the writer, the HTTP server, timers and signal handlers.
 * Returns 0, or -1 with a one-line reason in err (everything undone). */
int collector_start(struct collector *c, uv_loop_t *loop, const struct collector_options *opt,
		    char *err, size_t errlen);

/* Graceful stop: end streams, stop accepting, finish in-flight requests and
 * writes, save catchment state, close everything. stopped runs at the end
 * (the loop then has no handles of ours). Idempotent. */
void collector_stop(struct collector *c, void (*stopped)(struct collector *c));

/* Re-read the inventory. On error the old one stays and the reason is logged
 * and copied to err. 0 or -1. */
int collector_reload(struct collector *c, char *err, size_t errlen);

/* The catchment snapshot, sorted by agent, service, family: at most one tick
 * (1 s) old and never older than the last event. Valid until the next call
 * or the next tick. */
size_t collector_catchments(struct collector *c, const struct catchment_row **rows);

/* A batch was committed: feed the new results to metrics and catchment
 * tracking (events follow from there). stored[i] != 0 marks new results. */
void collector_results_stored(struct collector *c, const struct result *r,
			      const unsigned char *stored, size_t n);

/* Internal: the timers' and alerter's callbacks (collector/collector_events.c)
 * that collector.c installs, and saving a snapshot (takes ownership of rows). */
void collector_on_tick(uv_timer_t *t);
void collector_on_retention(uv_timer_t *t);
void collector_on_delivery(void *ctx, const char *route, const struct event *ev, int attempt,
			   int ok, const char *error);
void collector_save_snapshot(struct collector *c, struct catchment_row *rows, size_t n);

/* An event from outside catchment tracking (agent_silent): stored, pushed,
 * attributed to an incident like the others. */
void collector_raise_event(struct collector *c, const struct event *ev);
/* A guard's action was stored (collector/collector_guard.c): tell the
 * catchment tracker and raise guard_withdraw / guard_restore. */
struct guard_action;
void collector_guard_action(struct collector *c, const char *agent, const struct guard_action *g);
/* Seed the catchment tracker with the last stored action of each instance. */
void collector_guard_restore(struct collector *c, struct store *st);
/* Push a message to every event-stream client (data: borrowed). */
void collector_broadcast(struct collector *c, const char *name, json_t *data);

/* Start the alerter with the saved settings and re-send open incidents to
 * it (Alertmanager must hear of them again). NULL alerter when it fails. */
void collector_alerter_open(struct collector *c);

/* Roles (collector/collector_role.c). start: after the store opened: on
 * PostgreSQL, join the election (a follower drops the incidents it
 * restored); on SQLite, leader. tick: each second, before classification:
 * the leader reads other collectors' results, a follower refreshes its
 * catchment rows from the store. stop: leave the election (releases the
 * lock) once the last writes are committed. */
int collector_role_start(struct collector *c, char *err, size_t errlen);
void collector_role_tick(struct collector *c, int64_t now_ms);
void collector_role_stop(struct collector *c);

/* Results for classification (collector/collector_feed.c). claim: 1 when r
 * is to be classified (its seq is above its agent's cursor, which moves to
 * it), 0 when it was already; always 1 on SQLite. start: cursors at every
 * stored agent's last seq. poll: classify what other collectors stored
 * since. clear: forget the cursors. */
int collector_feed_claim(struct collector *c, const struct result *r);
int collector_feed_start(struct collector *c);
int collector_feed_poll(struct collector *c, int64_t now_ms);
void collector_feed_clear(struct collector *c);

/* Incidents (collector/collector_incidents.c). start: the engine, open
 * incidents restored from st (the writer's connection, before the writer
 * runs). resend: tell the alerter about every open incident (Alertmanager
 * routes get them again at once). reload: the inventory changed. */
int collector_incidents_start(struct collector *c, struct store *st);
void collector_incidents_resend(struct collector *c);
void collector_incidents_reload(struct collector *c);
/* The hold (thresholds.incident_hold, or 2 intervals of the fastest
 * service + 5 s) and the silence after which an agent is silent. */
int64_t collector_incident_hold_ms(const struct inventory *inv);
int64_t collector_agent_silent_after_ms(const struct inventory *inv);
/* An authenticated agent request arrived / each tick: agent_silent and
 * its recovery. */
void collector_agent_reported(struct collector *c, const char *agent, int64_t now_ms);
void collector_watch_silence(struct collector *c, int64_t now_ms);
void collector_watch_free(struct collector *c);
int collector_agent_is_silent(const struct collector *c, const char *agent);
/* Whether a catchment row of agent shows "agent silent". */
int collector_agent_row_silent(const struct collector *c, const char *agent, int64_t last_round_ms,
			       int64_t now_ms);

#endif
