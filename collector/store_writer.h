/* collector/store_writer.h - the writer thread: it owns the read-write
 * connection, takes jobs from the loop thread through a queue, commits
 * everything queued at that moment in one transaction (each job in its own
 * savepoint, so a bad job is undone alone), then hands the finished jobs back
 * to the loop with uv_async_send. Ingest never waits for the API and the API
 * never waits for a commit. */
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
	STORE_JOB_RETENTION,   /* one chunk of retention deletes, own transaction */
	STORE_JOB_WRITABLE,    /* health check: can we take the write lock now */
	STORE_JOB_INVENTORY,   /* mirror an inventory into agents/services/instances */
	STORE_JOB_INCIDENT,    /* insert or replace one incident, mark its events */
	STORE_JOB_GUARD,       /* one guard report: its actions, by (agent, seq) */
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

	/* INGEST: results owned (malloc'd), status_json owned (may be NULL) */
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

	/* RETENTION */
	int64_t raw_before_ms, rollup_before_ms, events_before_ms;
	int chunk;
	size_t deleted;            /* out */

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

/* Takes ownership of st (closed by the writer). Starts the thread. NULL on
 * failure (st is then still the caller's). */
struct store_writer *store_writer_new(uv_loop_t *loop, struct store *st);
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
};
void store_writer_get_stats(struct store_writer *w, struct store_writer_stats *st);

#endif
