/* tests/collector/test_store_upkeep.c - the SQLite store's upkeep: the WAL
 * file stays near its bound under continuous commits and is emptied once
 * ingest is idle; retention deletes in bounded steps on the writer thread,
 * then incremental vacuum shrinks the file; an existing database is
 * converted to incremental vacuum offline only. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/timefmt.h"
#include "collector/store.h"
#include "collector/store_writer.h"

static char dir[256], db[400], wal[410];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store_upkeep.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/a.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
}

static void
teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store_upkeep, .init = setup, .fini = teardown, .timeout = 120);

static long long
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void
fill(struct result *r, size_t n, uint64_t first_seq, int64_t time_ms)
{
	for (size_t i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].seq = first_seq + i;
		r[i].round = r[i].seq;
		r[i].time_ms = time_ms + (int64_t)i;
		snprintf(r[i].service, sizeof(r[i].service), "dns");
		snprintf(r[i].address, sizeof(r[i].address), "198.18.255.53");
		r[i].family = 4;
		snprintf(r[i].instance, sizeof(r[i].instance), "site-a");
		snprintf(r[i].identity, sizeof(r[i].identity), "site-a.lab padding %zu", i);
		snprintf(r[i].rcode, sizeof(r[i].rcode), "NOERROR");
		r[i].outcome = RESULT_OK;
		r[i].rtt_ms = 1.5;
	}
}

static struct store *
open_db(void)
{
	char err[256] = "";
	struct store_options o = { .sync = STORE_SYNC_NORMAL };
	struct store *st = store_open(db, &o, err, sizeof(err));

	cr_assert_not_null(st, "store_open: %s", err);
	return st;
}

static void
ingest(struct store *st, const char *agent, uint64_t first_seq, size_t n, int64_t time_ms)
{
	static struct result r[100];
	unsigned char stored[100];
	struct store_ingest_out out;

	cr_assert(n <= 100);
	fill(r, n, first_seq, time_ms);
	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(store_insert_results(st, agent, r, n, NULL, time_now_ms(), stored, &out), 0);
	cr_assert_eq(store_commit(st), 0);
}

/* One integer from the database through the sqlite3 program. */
__attribute__((format(printf, 1, 2))) static long long
query_int(const char *fmt, ...)
{
	char cmd[1300], sql[400], line[64] = "";
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"%s\"", db, sql);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f), "no answer to %s", sql);
	pclose(f);
	return atoll(line);
}

/* Under continuous commits (no idle time) the WAL file stays near the
 * bound: the connection checkpoints itself at that many pages and the log
 * then restarts, cut back to the limit. SQLite's default lets it reach
 * 4 MB here and never shrink. */
Test(store_upkeep, wal_file_stays_near_its_bound_under_continuous_commits)
{
	struct store *st = open_db();
	const long long limit = 256 * 1024;
	long long max = 0;

	cr_assert_eq(store_bound_wal(st, limit), 0);
	for (int c = 0; c < 400; c++) {
		ingest(st, c % 2 ? "b1" : "b2", (uint64_t)c * 100 + 1, 100, 1700000000000 + c);
		if (file_size(wal) > max)
			max = file_size(wal);
	}
	cr_assert_gt(max, 0, "no WAL at all?");
	/* One commit's frames beyond the limit at most (a 100-result commit
	 * writes ~20 pages here). */
	cr_assert_leq(max, limit + 256 * 1024, "WAL reached %lld bytes, bound %lld", max, limit);
	store_close(st);
}

struct wctx {
	int done, failed;
};

static void
job_done(void *arg, struct store_job *job)
{
	struct wctx *c = arg;

	c->done++;
	if (job->rc != 0)
		c->failed++;
	store_job_free(job);
}

static void
submit_ingest(struct store_writer *w, struct wctx *ctx, const char *agent, uint64_t first_seq,
	      size_t n, int64_t time_ms)
{
	struct store_job *job = store_job_new(STORE_JOB_INGEST);

	cr_assert_not_null(job);
	snprintf(job->agent, sizeof(job->agent), "%s", agent);
	job->n_results = n;
	job->results = calloc(n, sizeof(struct result));
	fill(job->results, n, first_seq, time_ms);
	job->done = job_done;
	job->arg = ctx;
	store_writer_submit(w, job);
}

/* Poll the loop (callbacks) for up to seconds until cond(w) holds. */
static int
wait_for(uv_loop_t *loop, struct store_writer *w, int (*cond)(struct store_writer *), int seconds)
{
	for (int i = 0; i < seconds * 100; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		if (cond(w))
			return 1;
		usleep(10000);
	}
	return 0;
}

static int
wal_empty(struct store_writer *w)
{
	struct store_writer_stats ws;

	/* The counter moves just after the file is cut: wait for both. */
	store_writer_get_stats(w, &ws);
	return file_size(wal) == 0 && ws.wal_truncates >= 1;
}

/* Once no results arrive for idle_ms, the writer runs a TRUNCATE
 * checkpoint: the WAL file on disk goes back to zero bytes. */
Test(store_upkeep, wal_is_truncated_once_ingest_is_idle)
{
	struct store_writer_options o = { .idle_ms = 1000 };
	struct store_writer_stats ws;
	struct wctx ctx = { 0 };
	struct store_writer *w;
	uv_loop_t loop;
	long long after_ingest;

	cr_assert_eq(uv_loop_init(&loop), 0);
	w = store_writer_new_opts(&loop, open_db(), &o);
	cr_assert_not_null(w);
	for (int j = 0; j < 60; j++)
		submit_ingest(w, &ctx, j % 3 ? "b1" : "b2", (uint64_t)j * 100 + 1, 100,
			      1700000000000 + j);
	while (ctx.done < 60)
		uv_run(&loop, UV_RUN_ONCE);
	cr_assert_eq(ctx.failed, 0);
	after_ingest = file_size(wal);
	cr_assert_gt(after_ingest, 64 * 1024, "ingest left a %lld-byte WAL", after_ingest);
	cr_assert(wait_for(&loop, w, wal_empty, 20), "WAL still %lld bytes after idle",
		  file_size(wal));
	store_writer_get_stats(w, &ws);
	cr_assert_geq(ws.wal_truncates, 1);
	/* Nothing lost on the way. */
	cr_assert_eq(query_int("SELECT count(*) FROM results"), 6000);
	store_writer_close(w, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

static int
retention_done(struct store_writer *w)
{
	return !store_writer_retention_behind(w);
}

static int
vacuumed(struct store_writer *w)
{
	(void)w;
	return query_int("PRAGMA freelist_count") <= 1;
}

/* Retention on the writer thread: old rows go in steps of at most
 * retention_step_rows per table, recent ones stay; then incremental vacuum
 * gives the freed pages back and the file shrinks. */
Test(store_upkeep, retention_deletes_in_bounded_steps_then_vacuum_shrinks_the_file)
{
	struct store_writer_options o = { .idle_ms = 50, .retention_step_rows = 250,
					  .vacuum_keep_pages = 1, .vacuum_step_pages = 64 };
	struct store *st = open_db();
	struct store_writer_stats ws;
	struct store_writer *w;
	uv_loop_t loop;
	int64_t now = time_now_ms(), old = now - 10LL * 86400000;
	long long old_rollups, pages_before, size_before;
	static const char *const agents[3] = { "b1", "b2", "b3" };

	cr_assert_eq(store_auto_vacuum(st), 2, "new databases use incremental vacuum");
	for (int a = 0; a < 3; a++) {
		for (int b = 0; b < 20; b++) /* 2,000 old results per agent */
			ingest(st, agents[a], (uint64_t)b * 100 + 1, 100, old + b * 60000);
		ingest(st, agents[a], 2001, 50, now); /* 50 recent ones */
	}
	store_close(st);
	old_rollups = query_int("SELECT count(*) FROM rollups WHERE minute_ms < %lld",
				(long long)(now - 86400000));
	cr_assert_gt(old_rollups, 0);
	pages_before = query_int("PRAGMA page_count");
	size_before = file_size(db);

	cr_assert_eq(uv_loop_init(&loop), 0);
	w = store_writer_new_opts(&loop, open_db(), &o);
	cr_assert_not_null(w);
	store_writer_set_retention(w, now - 86400000, now - 86400000, now - 86400000);
	cr_assert(wait_for(&loop, w, retention_done, 60), "retention did not finish");
	store_writer_get_stats(w, &ws);
	cr_assert_eq(ws.retention_rows, 6000 + (uint64_t)old_rollups);
	/* Bounded steps: at least 6,000 / 250 of them, not one big delete. */
	cr_assert_geq(ws.retention_steps, 24, "only %llu steps",
		      (unsigned long long)ws.retention_steps);
	cr_assert_eq(query_int("SELECT count(*) FROM results"), 150);
	cr_assert_eq(query_int("SELECT count(*) FROM results WHERE time_ms < %lld",
				(long long)(now - 86400000)), 0);
	cr_assert(wait_for(&loop, w, vacuumed, 60), "free pages left: %lld",
		  query_int("PRAGMA freelist_count"));
	store_writer_get_stats(w, &ws);
	cr_assert_gt(ws.vacuum_pages, 0);
	cr_assert_lt(query_int("PRAGMA page_count"), pages_before);
	store_writer_close(w, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
	cr_assert_lt(file_size(db), size_before, "file %lld bytes, was %lld", file_size(db),
		     size_before);
}

Test(store_upkeep, busy_ingest_paces_upkeep_to_its_share)
{
	/* A 10 ms step at 5 % waits 190 ms before the next one. */
	cr_assert_eq(store_writer_pace_ns(1000000000, 10000000, 5), 1000000000 + 190000000);
	cr_assert_eq(store_writer_pace_ns(1000000000, 10000000, 50), 1000000000 + 10000000);
	cr_assert_eq(store_writer_pace_ns(5, 10, 100), 5);
}

/* While ingest never pauses long enough to count as idle, retention still
 * advances between the ingest groups (not starved) and every job commits. */
Test(store_upkeep, retention_advances_while_ingest_is_busy)
{
	struct store_writer_options o = { .idle_ms = 60000, .retention_step_rows = 100 };
	struct store *st = open_db();
	struct store_writer_stats ws;
	struct wctx ctx = { 0 };
	struct store_writer *w;
	uv_loop_t loop;
	int64_t now = time_now_ms(), old = now - 10LL * 86400000;
	int submitted = 0;

	for (int b = 0; b < 20; b++)
		ingest(st, "b1", (uint64_t)b * 100 + 1, 100, old + b * 60000);
	store_close(st);
	cr_assert_eq(uv_loop_init(&loop), 0);
	w = store_writer_new_opts(&loop, open_db(), &o);
	cr_assert_not_null(w);
	store_writer_set_retention(w, now - 86400000, now - 86400000, now - 86400000);
	/* idle_ms is a minute: every step below ran beside ingest. */
	for (int i = 0; i < 3000; i++) {
		submit_ingest(w, &ctx, "b2", (uint64_t)i * 10 + 1, 10, now);
		submitted++;
		while (ctx.done < submitted - 4)
			uv_run(&loop, UV_RUN_ONCE);
		store_writer_get_stats(w, &ws);
		if (ws.retention_steps >= 3)
			break;
	}
	while (ctx.done < submitted)
		uv_run(&loop, UV_RUN_ONCE);
	cr_assert_eq(ctx.failed, 0);
	store_writer_get_stats(w, &ws);
	cr_assert_geq(ws.retention_steps, 3, "retention starved by ingest");
	cr_assert_geq(ws.retention_rows, 300);
	store_writer_close(w, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

/* A database made before incremental vacuum is converted offline, and only
 * when nothing else has it open. */
Test(store_upkeep, vacuum_command_converts_an_old_database_only_when_unused)
{
	char cmd[1200], err[256] = "";
	sqlite3 *other;

	snprintf(cmd, sizeof(cmd),
		 "cat schema/0*.sql | sqlite3 '%s' && sqlite3 '%s' 'PRAGMA journal_mode=WAL;"
		 " PRAGMA user_version = %d' >/dev/null",
		 db, db, store_schema_latest());
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(query_int("PRAGMA auto_vacuum"), 0);
	cr_assert_eq(sqlite3_open(db, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "SELECT count(*) FROM results", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_neq(store_convert_incremental(db, err, sizeof(err)), 0);
	cr_assert(strstr(err, "in use") != NULL, "%s", err);
	cr_assert_eq(query_int("PRAGMA auto_vacuum"), 0);
	sqlite3_close(other);
	cr_assert_eq(store_convert_incremental(db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(query_int("PRAGMA auto_vacuum"), 2);
	cr_assert_eq(query_int("SELECT count(*) FROM agents"), 0);
}
