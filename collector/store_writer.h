/* collector/store_writer.h - the writer thread: it owns the read-write
 * connection, takes jobs from the loop thread through a queue, commits
 * everything queued at that moment in one transaction (each job in its own
 * savepoint, so a bad job is undone alone), then hands the finished jobs back
 * to the loop with uv_async_send. Ingest never waits for the API and the API
 * never waits for a commit. Between groups it keeps the store small: paced
 * retention and incremental vacuum steps, a bounded WAL and a TRUNCATE
 * checkpoint once ingest is idle (docs/STORAGE.md). */
#ifndef ANYCAST_STORE_WRITER_H
#define ANYCAST_STORE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "collector/store.h"

enum store_job_kind {
	STORE_JOB_INGEST,      /* results of one agent: all or nothing */
	STORE_JOB_EVENT,       /* one event (id assigned by the loop) */
	STORE_JOB_CATCHMENTS,  /* replace the catchment snapshot */
	STORE_JOB_DELIVERY,    /* one alert delivery attempt */
	STORE_JOB_WRITABLE,    /* health check: can we take the write lock now */
	STORE_JOB_INVENTORY,   /* mirror an inventory into agents/services/instances */
	STORE_JOB_INCIDENT,    /* insert or replace one incident, mark its events */
	STORE_JOB_GUARD,       /* one guard report: its actions, by (agent, seq) */
	STORE_JOB_ATLAS,       /* RIPE Atlas records of many vantage points, sorted by agent */
};

struct store_job;
/* Runs on the loop thread once the job is committed (or failed: job->rc < 0).
 * The callback owns the job and frees it with store_job_free. */
typedef void (*store_job_done_fn)(void *arg, struct store_job *job);

struct store_job {
	enum store_job_kind kind;
	int rc;                    /* out: 0 or negative errno */
	store_job_done_fn done;    /* NULL: freed by the writer's loop side */
	void *arg;
	struct store_job *next;    /* queue link (writer's) */
	int64_t now_ms;

	/* INGEST: results owned (malloc'd), status_json owned (may be NULL).
	 * ATLAS: the same results and stored[], each record's own agent; out
	 * sums stored and duplicates over the agents. */
	char agent[RESULT_NAME_MAX];
	struct result *results;
	size_t n_results;
	char *status_json;
	unsigned char *stored;     /* out, n_results flags, owned */
	struct store_ingest_out out;

	/* GUARD: agent above, actions owned (malloc'd), stored[] and out.last_seq out */
	struct guard_action *guard;
	size_t n_guard;

	/* EVENT and DELIVERY */
	struct event ev;
	char route[RESULT_NAME_MAX];
	int attempt, ok;
	char error[256];

	/* CATCHMENTS: rows owned */
	struct catchment_row *rows;
	size_t n_rows;

	/* INVENTORY: owned, freed with the job */
	struct inventory *inv;

	/* INCIDENT: the strings and events owned (malloc'd), freed with the job */
	struct store_incident incident;
	char *incident_doc, *incident_priv;
	int64_t *incident_events;
};

/* A zeroed job of that kind; NULL on allocation failure. */
struct store_job *store_job_new(enum store_job_kind kind);
/* Frees the job and everything it owns. */
void store_job_free(struct store_job *job);

struct store_writer;

/* The store's upkeep (docs/STORAGE.md). Ingest is idle when nothing is
 * queued and no results were submitted for idle_ms. */
#define STORE_WAL_LIMIT_BYTES (64LL * 1024 * 1024) /* WAL file bound under load */
#define STORE_IDLE_MS 1000
#define STORE_RETENTION_STEP_ROWS 1000 /* rows per table per retention step */
#define STORE_RETENTION_SHARE_PCT 5    /* writer time for upkeep while ingest is busy */
#define STORE_UPKEEP_BUSY_PCT 50       /* ingest below this share of the writer: not busy */
#define STORE_VACUUM_KEEP_PAGES 2048   /* free pages kept for reuse (8 MB) */
#define STORE_VACUUM_STEP_PAGES 1024   /* pages given back per vacuum step */

struct store_writer_options {
	int64_t wal_limit_bytes; /* 0 = STORE_WAL_LIMIT_BYTES, and so on */
	int idle_ms;
	int retention_step_rows;
	int retention_share_pct;
	int vacuum_keep_pages;
	int vacuum_step_pages;
};

/* Takes ownership of st (closed by the writer). Starts the thread. NULL on
 * failure (st is then still the caller's). opt may be NULL (defaults). */
struct store_writer *store_writer_new(uv_loop_t *loop, struct store *st);
struct store_writer *store_writer_new_opts(uv_loop_t *loop, struct store *st,
					   const struct store_writer_options *opt);
/* Delete what is older than these times (Unix ms), in steps of at most
 * retention_step_rows rows per table, each in its own transaction: one step
 * after the other while nothing is queued and ingest took less than
 * STORE_UPKEEP_BUSY_PCT of the writer's last second, and otherwise paced so
 * that upkeep takes at most retention_share_pct of its time. Then give
 * back free pages beyond vacuum_keep_pages (incremental vacuum). Call again
 * with newer times as they move; the last call wins. */
void store_writer_set_retention(struct store_writer *w, int64_t raw_before_ms,
				int64_t rollup_before_ms, int64_t events_before_ms);
/* 1 while retention has rows left to delete. */
int store_writer_retention_behind(struct store_writer *w);
/* Pacing: when the next step may start after one that took step_ns and
 * ended at end_ns, for steps to take share_pct of the time. */
int64_t store_writer_pace_ns(int64_t end_ns, int64_t step_ns, int share_pct);
/* Queue a job (takes ownership). Its done callback runs later on the loop. */
void store_writer_submit(struct store_writer *w, struct store_job *job);
/* Results queued but not yet committed (for back-pressure). */
size_t store_writer_backlog(struct store_writer *w);
/* Finish every queued job (their callbacks run), stop the thread, close the
 * connection; cb runs when the async handle is closed and memory freed. */
void store_writer_close(struct store_writer *w, void (*cb)(void *arg), void *arg);

struct store_writer_stats {
	uint64_t transactions, jobs, failed_jobs, failed_commits, checkpoints;
	uint64_t commit_ns_total;  /* time inside COMMIT (fsync) */
	uint64_t retention_steps, retention_rows, vacuum_pages, wal_truncates;
	uint64_t upkeep_ns_total;  /* time in retention, vacuum and TRUNCATE */
	int retention_behind;      /* 1 while retention has rows left to delete */
};
void store_writer_get_stats(struct store_writer *w, struct store_writer_stats *st);

#endif
