/* collector/store_writer.c - the writer thread: group commit of queued jobs,
 * one savepoint per job, results handed back to the loop via uv_async_send. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "collector/store_writer.h"

/* Upper bound of results committed in one transaction: keeps the answer
 * latency of the first job of a burst bounded. */
#define GROUP_MAX_RESULTS 20000
/* The writer leaves checkpoints to the checkpointer thread, so its commits
 * only append to the WAL; past this many WAL pages it checkpoints itself
 * (the checkpointer starved or failed). */
#define WRITER_AUTOCHECKPOINT_PAGES 65536
#define CHECKPOINT_INTERVAL_MS 250

/* Larger than a big ingest batch (500 results of ~300 bytes, plus indexes). */
#define HEALTH_PROBE_BYTES (512 * 1024)

struct store_writer {
	uv_loop_t *loop;
	uv_async_t async;       /* async.data = writer */
	struct store *st;       /* used by the thread only */
	struct store *ckpt_st;  /* the checkpointer's connection, NULL = none */
	pthread_t thread, ckpt_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv, ckpt_cv;
	/* protected by mu */
	struct store_job *queue, **queue_tail;
	struct store_job *done, **done_tail;
	size_t backlog;
	int stopping;
	struct store_writer_stats stats;
	/* thread only: how the last group of writes ended (0 or its first error):
	 * the health check's one-row write can fit where a batch no longer does */
	int last_group_rc;
	/* loop side */
	void (*close_cb)(void *arg);
	void *close_arg;
};

struct store_job *
store_job_new(enum store_job_kind kind)
{
	struct store_job *job = calloc(1, sizeof(*job));

	if (job != NULL) {
		job->kind = kind;
		job->now_ms = time_now_ms();
	}
	return job;
}

void
store_job_free(struct store_job *job)
{
	if (job == NULL)
		return;
	free(job->results);
	free(job->guard);
	free(job->status_json);
	free(job->stored);
	free(job->rows);
	free(job->incident_doc);
	free(job->incident_priv);
	free(job->incident_events);
	if (job->inv != NULL)
		inventory_free(job->inv);
	free(job);
}

static int
run_job(struct store *st, struct store_job *job)
{
	switch (job->kind) {
	case STORE_JOB_INGEST:
		if (job->stored == NULL && job->n_results > 0 &&
		    (job->stored = calloc(job->n_results, 1)) == NULL)
			return -ENOMEM;
		return store_insert_results(st, job->agent, job->results, job->n_results,
					    job->status_json, job->now_ms, job->stored, &job->out);
	case STORE_JOB_GUARD:
		if (job->stored == NULL && job->n_guard > 0 &&
		    (job->stored = calloc(job->n_guard, 1)) == NULL)
			return -ENOMEM;
		return store_insert_guard_actions(st, job->agent, job->guard, job->n_guard,
						  job->now_ms, job->stored, &job->out.last_seq);
	case STORE_JOB_EVENT:
		return store_insert_event(st, &job->ev);
	case STORE_JOB_CATCHMENTS:
		return store_save_catchments(st, job->rows, job->n_rows);
	case STORE_JOB_DELIVERY:
		return store_insert_delivery(st, job->now_ms, job->route,
					     job->ev.type[0] ? &job->ev : NULL, job->attempt, job->ok,
					     job->error[0] ? job->error : NULL);
	case STORE_JOB_INVENTORY:
		return job->inv ? store_sync_inventory(st, job->inv) : 0;
	case STORE_JOB_INCIDENT:
		return store_save_incident(st, &job->incident);
	default:
		return -EINVAL;
	}
}

/* Jobs that run outside the group transaction. */
static void
run_alone(struct store_writer *w, struct store_job *job)
{
	if (job->kind == STORE_JOB_WRITABLE) {
		/* Healthy only when ingest is too: after a failed group, a full
		 * disk may still take the health row but not a batch, so the
		 * check then writes a batch-sized blob; success clears the state. */
		job->rc = store_check_writable(w->st, w->last_group_rc ? HEALTH_PROBE_BYTES : 0);
		if (job->rc == 0)
			w->last_group_rc = 0;
	} else if (job->kind == STORE_JOB_RETENTION) {
		job->rc = store_begin(w->st);
		if (job->rc == 0)
			job->rc = store_retention(w->st, job->raw_before_ms, job->rollup_before_ms,
						  job->events_before_ms, job->chunk, &job->deleted);
		if (job->rc == 0)
			job->rc = store_commit(w->st);
		else
			store_rollback(w->st);
	}
}

static void
run_group(struct store_writer *w, struct store_job *jobs)
{
	struct store_job *j;
	int64_t t0;
	int rc;

	if ((rc = store_begin(w->st)) != 0) {
		log_warnx("store: begin: %s", store_errmsg(w->st));
		for (j = jobs; j != NULL; j = j->next)
			j->rc = rc;
		w->last_group_rc = rc;
		return;
	}
	w->last_group_rc = 0;
	for (j = jobs; j != NULL; j = j->next) {
		if ((rc = store_savepoint(w->st)) == 0 && (rc = run_job(w->st, j)) == 0)
			rc = store_savepoint_release(w->st);
		if (rc != 0) {
			log_warnx("store: job %d: %s", (int)j->kind, store_errmsg(w->st));
			store_savepoint_rollback(w->st);
			memset(&j->out, 0, sizeof(j->out));
			w->stats.failed_jobs++;
			if (w->last_group_rc == 0)
				w->last_group_rc = rc;
		}
		j->rc = rc;
	}
	t0 = time_mono_ns();
	if ((rc = store_commit(w->st)) != 0) {
		log_warnx("store: commit: %s", store_errmsg(w->st));
		w->stats.failed_commits++;
		w->last_group_rc = rc;
		for (j = jobs; j != NULL; j = j->next) {
			j->rc = rc;
			memset(&j->out, 0, sizeof(j->out));
		}
	}
	w->stats.commit_ns_total += (uint64_t)(time_mono_ns() - t0);
	w->stats.transactions++;
}

/* Take one group from the queue (called with mu held; returns with mu held):
 * jobs up to GROUP_MAX_RESULTS results, or one job that must run alone. Runs
 * it with mu released and appends it to the done list. */
static void
process_once(struct store_writer *w)
{
	struct store_job *group = NULL, **tail = &group, *alone = NULL;
	size_t nres = 0;

	while (w->queue != NULL) {
		struct store_job *j = w->queue;
		int solo = j->kind == STORE_JOB_WRITABLE || j->kind == STORE_JOB_RETENTION;

		if (solo && group != NULL)
			break;
		if (!solo && group != NULL && nres + j->n_results > GROUP_MAX_RESULTS)
			break;
		w->queue = j->next;
		if (w->queue == NULL)
			w->queue_tail = &w->queue;
		j->next = NULL;
		if (solo) {
			alone = j;
			break;
		}
		nres += j->n_results;
		*tail = j;
		tail = &j->next;
	}
	pthread_mutex_unlock(&w->mu);

	if (alone != NULL) {
		run_alone(w, alone);
		group = alone;
		tail = &alone->next;
	} else {
		run_group(w, group);
	}

	pthread_mutex_lock(&w->mu);
	for (struct store_job *j = group; j != NULL; j = j->next) {
		w->stats.jobs++;
		w->backlog -= j->n_results;
	}
	*w->done_tail = group;
	w->done_tail = tail;
}

static void *
writer_main(void *arg)
{
	struct store_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->queue == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->queue == NULL)
			break;
		process_once(w);
		pthread_mutex_unlock(&w->mu);
		uv_async_send(&w->async);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Passive checkpoints from a second connection: copying WAL pages into the
 * database (and its fsync) happens beside the writer, not inside its commits. */
static void *
checkpoint_main(void *arg)
{
	struct store_writer *w = arg;
	struct timespec ts;

	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += CHECKPOINT_INTERVAL_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&w->ckpt_cv, &w->mu, &ts);
		if (w->stopping)
			break;
		pthread_mutex_unlock(&w->mu);
		int pages = 0, done = 0, rc = store_checkpoint(w->ckpt_st, &pages, &done);

		pthread_mutex_lock(&w->mu);
		if (rc == 0 && done > 0)
			w->stats.checkpoints++;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
deliver_done(struct store_writer *w)
{
	struct store_job *list, *next;

	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = NULL;
		if (list->done != NULL)
			list->done(list->arg, list);
		else
			store_job_free(list);
	}
}

static void
on_async(uv_async_t *h)
{
	deliver_done(h->data);
}

static void
start_checkpointer(struct store_writer *w)
{
	char err[256];

	/* Without it the writer checkpoints itself, as SQLite does by default. */
	if ((w->ckpt_st = store_reopen(w->st, err, sizeof(err))) == NULL) {
		log_warnx("store: no checkpointer: %s", err);
		return;
	}
	if (pthread_create(&w->ckpt_thread, NULL, checkpoint_main, w) != 0) {
		store_close(w->ckpt_st);
		w->ckpt_st = NULL;
		return;
	}
	store_set_autocheckpoint(w->st, WRITER_AUTOCHECKPOINT_PAGES);
}

static void
stop_checkpointer(struct store_writer *w)
{
	if (w->ckpt_st == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->ckpt_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->ckpt_thread, NULL);
	store_close(w->ckpt_st);
	w->ckpt_st = NULL;
}

static void
free_on_close(uv_handle_t *h)
{
	struct store_writer *w = h->data;

	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->ckpt_cv);
	free(w);
}

struct store_writer *
store_writer_new(uv_loop_t *loop, struct store *st)
{
	struct store_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->loop = loop;
	w->st = st;
	w->queue_tail = &w->queue;
	w->done_tail = &w->done;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->ckpt_cv, NULL);
	if (uv_async_init(loop, &w->async, on_async) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		pthread_cond_destroy(&w->ckpt_cv);
		free(w);
		return NULL;
	}
	w->async.data = w;
	start_checkpointer(w);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		stop_checkpointer(w);
		/* The handle must still be closed through the loop. */
		uv_close((uv_handle_t *)&w->async, free_on_close);
		return NULL;
	}
	return w;
}

void
store_writer_submit(struct store_writer *w, struct store_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->queue_tail = job;
	w->queue_tail = &job->next;
	w->backlog += job->n_results;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

size_t
store_writer_backlog(struct store_writer *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->backlog;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void
store_writer_get_stats(struct store_writer *w, struct store_writer_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->stats;
	pthread_mutex_unlock(&w->mu);
}

static void
on_closed(uv_handle_t *h)
{
	struct store_writer *w = h->data;
	void (*cb)(void *) = w->close_cb;
	void *arg = w->close_arg;

	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->ckpt_cv);
	free(w);
	if (cb != NULL)
		cb(arg);
}

void
store_writer_close(struct store_writer *w, void (*cb)(void *arg), void *arg)
{
	stop_checkpointer(w);
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	/* The thread drains the queue before it exits. Callbacks may queue more
	 * (events raised by the last results): run those here, on this thread. */
	pthread_join(w->thread, NULL);
	for (;;) {
		deliver_done(w);
		pthread_mutex_lock(&w->mu);
		if (w->queue == NULL) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		process_once(w);
		pthread_mutex_unlock(&w->mu);
	}
	store_close(w->st);
	w->st = NULL;
	w->close_cb = cb;
	w->close_arg = arg;
	uv_close((uv_handle_t *)&w->async, on_closed);
}
