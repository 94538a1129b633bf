/* collector/store_writer.c - the writer thread: group commit of queued jobs,
 * one savepoint per job, results handed back to the loop via uv_async_send;
 * between groups, the store's upkeep: paced retention and incremental vacuum
 * steps, and a TRUNCATE checkpoint of the WAL once ingest is idle. */
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
#define CHECKPOINT_INTERVAL_MS 250
/* A TRUNCATE checkpoint waits this long for a reader at most, then is tried
 * again this much later (while ingest stays idle). */
#define TRUNCATE_WAIT_MS 10
#define TRUNCATE_RETRY_MS 250

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
	struct store_writer_options opt; /* defaults filled in; constant */
	/* upkeep, protected by mu */
	int64_t ret_raw_ms, ret_rollup_ms, ret_events_ms;
	int ret_more;           /* retention may have old rows left */
	int vac_more;           /* free pages may be worth giving back */
	int64_t last_ingest_ns; /* CLOCK_MONOTONIC of the last ingest submitted */
	/* upkeep, thread only */
	int64_t upkeep_next_ns; /* while ingest is busy: earliest next step */
	int64_t truncate_next_ns;
	int wal_dirty;          /* committed since the last TRUNCATE checkpoint */
	int64_t win_start_ns, win_busy_ns; /* this second's time in ingest groups */
	int busy_pct;           /* the last full second's share in ingest groups */
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

/* Atlas records: one insert per vantage point (the records come sorted by agent). */
static int
run_atlas(struct store *st, struct store_job *job)
{
	size_t i = 0, j;
	int rc;

	if (job->stored == NULL && job->n_results > 0 &&
	    (job->stored = calloc(job->n_results, 1)) == NULL)
		return -ENOMEM;
	memset(&job->out, 0, sizeof(job->out));
	while (i < job->n_results) {
		struct store_ingest_out o;

		for (j = i + 1; j < job->n_results &&
				strcmp(job->results[j].agent, job->results[i].agent) == 0;
		     j++)
			;
		rc = store_insert_results(st, job->results[i].agent, job->results + i, j - i, NULL,
					  job->now_ms, job->stored + i, &o);
		if (rc != 0)
			return rc;
		job->out.stored += o.stored;
		job->out.duplicates += o.duplicates;
		i = j;
	}
	return 0;
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
	case STORE_JOB_ATLAS:
		return run_atlas(st, job);
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
	w->wal_dirty = 1;
}

/* Account time spent in ingest groups; roll the one-second window. */
static void
account_busy(struct store_writer *w, int64_t now, int64_t busy_ns)
{
	w->win_busy_ns += busy_ns;
	if (now - w->win_start_ns >= 1000000000) {
		w->busy_pct = (int)(w->win_busy_ns * 100 / (now - w->win_start_ns));
		w->win_start_ns = now;
		w->win_busy_ns = 0;
	}
}

/* Take one group from the queue (called with mu held; returns with mu held):
 * jobs up to GROUP_MAX_RESULTS results, or one job that must run alone. Runs
 * it with mu released and appends it to the done list. */
static void
process_once(struct store_writer *w)
{
	struct store_job *group = NULL, **tail = &group, *alone = NULL;
	int64_t t0 = time_mono_ns();
	size_t nres = 0;

	while (w->queue != NULL) {
		struct store_job *j = w->queue;
		int solo = j->kind == STORE_JOB_WRITABLE;

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
	account_busy(w, time_mono_ns(), time_mono_ns() - t0);
	for (struct store_job *j = group; j != NULL; j = j->next) {
		w->stats.jobs++;
		w->backlog -= j->n_results;
	}
	*w->done_tail = group;
	w->done_tail = tail;
}

enum upkeep { UPKEEP_NONE, UPKEEP_RETENTION, UPKEEP_VACUUM, UPKEEP_TRUNCATE };

/* Ingest is idle: nothing queued and no results submitted for idle_ms. */
static int
ingest_idle(const struct store_writer *w, int64_t now)
{
	return w->queue == NULL && now - w->last_ingest_ns >= (int64_t)w->opt.idle_ms * 1000000;
}

/* Nothing queued and ingest kept the writer below STORE_UPKEEP_BUSY_PCT busy
 * the last second: the writer has room, a step only delays the next job. */
static int
writer_has_room(struct store_writer *w, int64_t now)
{
	account_busy(w, now, 0);
	return w->queue == NULL && w->busy_pct < STORE_UPKEEP_BUSY_PCT;
}

/* What upkeep to run now (mu held). Retention and vacuum run step after step
 * while the writer has room, and paced by upkeep_next_ns while ingest keeps
 * it busy; the TRUNCATE checkpoint only once ingest is idle and they are
 * done. */
static enum upkeep
upkeep_due(struct store_writer *w, int64_t now)
{
	int idle = ingest_idle(w, now);

	if (w->stopping)
		return UPKEEP_NONE;
	if (w->ret_more || w->vac_more) {
		if (!idle && now < w->upkeep_next_ns && !writer_has_room(w, now))
			return UPKEEP_NONE;
		return w->ret_more ? UPKEEP_RETENTION : UPKEEP_VACUUM;
	}
	if (w->wal_dirty && idle && now >= w->truncate_next_ns)
		return UPKEEP_TRUNCATE;
	return UPKEEP_NONE;
}

/* When upkeep_due may change without a submit (mu held): 0 = never. */
static int64_t
upkeep_wake_ns(const struct store_writer *w)
{
	int64_t idle_at = w->last_ingest_ns + (int64_t)w->opt.idle_ms * 1000000, t;

	if (w->ret_more || w->vac_more)
		return w->upkeep_next_ns < idle_at ? w->upkeep_next_ns : idle_at;
	if (!w->wal_dirty)
		return 0;
	t = w->truncate_next_ns > idle_at ? w->truncate_next_ns : idle_at;
	return t;
}

int64_t
store_writer_pace_ns(int64_t end_ns, int64_t step_ns, int share_pct)
{
	if (share_pct <= 0 || share_pct >= 100)
		return end_ns;
	/* step / (step + pause) = share */
	return end_ns + step_ns * (100 - share_pct) / share_pct;
}

/* One retention or vacuum step in its own transaction (mu not held). */
static void
run_step(struct store_writer *w, enum upkeep what)
{
	int64_t t0 = time_mono_ns(), raw, rollup, events, t1;
	size_t deleted = 0;
	int freed = 0, rc, more;

	pthread_mutex_lock(&w->mu);
	raw = w->ret_raw_ms;
	rollup = w->ret_rollup_ms;
	events = w->ret_events_ms;
	pthread_mutex_unlock(&w->mu);
	rc = store_begin(w->st);
	if (rc == 0 && what == UPKEEP_RETENTION)
		rc = store_retention(w->st, raw, rollup, events, w->opt.retention_step_rows,
				     &deleted);
	else if (rc == 0)
		rc = store_vacuum_step(w->st, w->opt.vacuum_keep_pages, w->opt.vacuum_step_pages,
				       &freed);
	if (rc == 0)
		rc = store_commit(w->st);
	else
		store_rollback(w->st);
	if (rc != 0) {
		log_warnx("store: %s: %s", what == UPKEEP_RETENTION ? "retention" : "vacuum",
			  store_errmsg(w->st));
		deleted = 0;
		freed = 0;
	}
	w->wal_dirty = 1;
	t1 = time_mono_ns();
	pthread_mutex_lock(&w->mu);
	/* Fewer rows than a step allows: nothing older is left. A failed step
	 * is tried again at the next pace (or the next set_retention). */
	more = rc != 0 || deleted >= (size_t)w->opt.retention_step_rows;
	if (what == UPKEEP_RETENTION) {
		w->ret_more = more;
		if (deleted > 0)
			w->vac_more = 1;
		w->stats.retention_steps++;
		w->stats.retention_rows += deleted;
	} else {
		w->vac_more = rc == 0 && freed > 0;
		w->stats.vacuum_pages += (uint64_t)freed;
	}
	w->stats.upkeep_ns_total += (uint64_t)(t1 - t0);
	/* While ingest keeps the writer busy, upkeep gets retention_share_pct
	 * of the time. */
	w->upkeep_next_ns = store_writer_pace_ns(t1, t1 - t0, w->opt.retention_share_pct);
	pthread_mutex_unlock(&w->mu);
}

static void
run_truncate(struct store_writer *w)
{
	int64_t t0 = time_mono_ns();
	int rc = store_checkpoint_truncate(w->st, TRUNCATE_WAIT_MS);

	pthread_mutex_lock(&w->mu);
	if (rc == 0 || rc == -EOPNOTSUPP)
		w->wal_dirty = 0;
	if (rc == 0)
		w->stats.wal_truncates++;
	w->truncate_next_ns = time_mono_ns() + (int64_t)TRUNCATE_RETRY_MS * 1000000;
	w->stats.upkeep_ns_total += (uint64_t)(time_mono_ns() - t0);
	pthread_mutex_unlock(&w->mu);
}

static void
wait_until(struct store_writer *w, int64_t mono_ns)
{
	struct timespec ts;
	int64_t d = mono_ns - time_mono_ns();

	if (d <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(d / 1000000000);
	ts.tv_nsec += (long)(d % 1000000000);
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

static void *
writer_main(void *arg)
{
	struct store_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		enum upkeep u = upkeep_due(w, time_mono_ns());

		if (u != UPKEEP_NONE) {
			pthread_mutex_unlock(&w->mu);
			if (u == UPKEEP_TRUNCATE)
				run_truncate(w);
			else
				run_step(w, u);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->queue != NULL) {
			process_once(w);
			pthread_mutex_unlock(&w->mu);
			uv_async_send(&w->async);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->stopping)
			break;
		int64_t wake = upkeep_wake_ns(w);

		if (wake > 0)
			wait_until(w, wake);
		else
			pthread_cond_wait(&w->cv, &w->mu);
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

static void
fill_defaults(struct store_writer_options *o)
{
	if (o->wal_limit_bytes <= 0)
		o->wal_limit_bytes = STORE_WAL_LIMIT_BYTES;
	if (o->idle_ms <= 0)
		o->idle_ms = STORE_IDLE_MS;
	if (o->retention_step_rows <= 0)
		o->retention_step_rows = STORE_RETENTION_STEP_ROWS;
	if (o->retention_share_pct <= 0 || o->retention_share_pct > 100)
		o->retention_share_pct = STORE_RETENTION_SHARE_PCT;
	if (o->vacuum_keep_pages <= 0)
		o->vacuum_keep_pages = STORE_VACUUM_KEEP_PAGES;
	if (o->vacuum_step_pages <= 0)
		o->vacuum_step_pages = STORE_VACUUM_STEP_PAGES;
}

struct store_writer *
store_writer_new(uv_loop_t *loop, struct store *st)
{
	return store_writer_new_opts(loop, st, NULL);
}

struct store_writer *
store_writer_new_opts(uv_loop_t *loop, struct store *st, const struct store_writer_options *opt)
{
	struct store_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if (opt != NULL)
		w->opt = *opt;
	fill_defaults(&w->opt);
	/* Commits only append to the WAL (the checkpointer thread copies it
	 * back); the file is bounded all the same, and emptied once idle. */
	if (store_bound_wal(st, w->opt.wal_limit_bytes) != 0)
		log_warnx("store: cannot bound the WAL: %s", store_errmsg(st));
	if (store_auto_vacuum(st) == 0)
		log_info("store: auto_vacuum is off: space retention frees is reused but the"
			 " file does not shrink; `anycast-collector vacuum --db FILE` (collector"
			 " stopped) converts it");
	w->last_ingest_ns = w->win_start_ns = time_mono_ns();
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
	if (job->kind == STORE_JOB_INGEST || job->kind == STORE_JOB_ATLAS)
		w->last_ingest_ns = time_mono_ns();
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
store_writer_set_retention(struct store_writer *w, int64_t raw_before_ms, int64_t rollup_before_ms,
			   int64_t events_before_ms)
{
	pthread_mutex_lock(&w->mu);
	w->ret_raw_ms = raw_before_ms;
	w->ret_rollup_ms = rollup_before_ms;
	w->ret_events_ms = events_before_ms;
	w->ret_more = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int
store_writer_retention_behind(struct store_writer *w)
{
	int v;

	pthread_mutex_lock(&w->mu);
	v = w->ret_more;
	pthread_mutex_unlock(&w->mu);
	return v;
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
	st->retention_behind = w->ret_more;
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
