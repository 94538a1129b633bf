/* tests/collector/test_store.c - the SQLite store: migrations (fresh and from
 * version 1), idempotent ingest, savepoint rollback, latest/rollups, events,
 * catchment snapshots, retention, backup and the writer thread. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/timefmt.h"
#include "collector/store.h"
#include "collector/store_writer.h"
#include "test_db.h"

static char dir[256], db[400];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	{
		char file[300];

		snprintf(file, sizeof(file), "%s/a.db", dir);
		test_db_make(db, sizeof(db), file);
	}
}

static void
teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

static struct result
mk(uint64_t seq, const char *service, int target, const char *instance, double rtt,
   int64_t time_ms)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.round = seq;
	r.time_ms = time_ms;
	snprintf(r.service, sizeof(r.service), "%s", service);
	snprintf(r.address, sizeof(r.address), target ? "198.18.1.2" : "198.18.255.53");
	r.family = 4;
	r.target = target ? RESULT_TARGET_MANAGEMENT : RESULT_TARGET_ANYCAST;
	snprintf(r.instance, sizeof(r.instance), "%s", instance);
	snprintf(r.identity, sizeof(r.identity), "%s.lab", instance);
	snprintf(r.identity_source, sizeof(r.identity_source), "nsid");
	snprintf(r.query, sizeof(r.query), "nsid");
	snprintf(r.transport, sizeof(r.transport), "udp");
	r.outcome = rtt >= 0 ? RESULT_OK : RESULT_TIMEOUT;
	snprintf(r.rcode, sizeof(r.rcode), "%s", rtt >= 0 ? "NOERROR" : "");
	r.rtt_ms = rtt;
	return r;
}

static struct store *
open_db(void)
{
	char err[256] = "";
	struct store *st = store_open(db, NULL, err, sizeof(err));

	cr_assert_not_null(st, "store_open: %s", err);
	return st;
}

static int
ingest(struct store *st, const char *agent, struct result *r, size_t n,
       struct store_ingest_out *out)
{
	unsigned char stored[64];
	int rc;

	cr_assert(n <= sizeof(stored));
	cr_assert_eq(store_begin(st), 0);
	rc = store_insert_results(st, agent, r, n, "{\"version\":\"1.2\",\"spool_depth\":3}",
				  time_now_ms(), stored, out);
	cr_assert_eq(store_commit(st), 0);
	return rc;
}

static json_t *
results_of(struct store *st, const char *agent, uint64_t after, int limit)
{
	struct store_results_query q = { .agent = agent, .from_ms = INT64_MIN, .to_ms = INT64_MAX,
					 .after_seq = after, .limit = limit };
	json_t *a = store_query_results(st, &q);

	cr_assert_not_null(a);
	return a;
}

Test(store, fresh_database_is_migrated_to_latest)
{
	struct store *st = open_db();

	cr_assert_eq(store_schema_version(st), store_schema_target(st));
	cr_assert_geq(store_schema_target(st), 1);
	cr_assert_eq(store_check_writable(st, 0), 0);
	cr_assert_eq(store_check_writable(st, 65536), 0);
	store_close(st);
	/* Opening again applies nothing and keeps the version. */
	st = open_db();
	cr_assert_eq(store_schema_version(st), store_schema_target(st));
	store_close(st);
}

Test(store, ingest_is_idempotent_by_agent_and_seq)
{
	struct store *st = open_db();
	struct result r[3] = { mk(1, "dns", 0, "site-a", 3.5, 1000), mk(2, "dns", 0, "site-a", 4.5, 2000),
			       mk(3, "dns", 1, "site-a", 1.0, 3000) };
	struct store_ingest_out out;
	json_t *a;

	cr_assert_eq(ingest(st, "branch-1", r, 3, &out), 0);
	cr_assert_eq(out.stored, 3);
	cr_assert_eq(out.duplicates, 0);
	cr_assert_eq(out.last_seq, 3);
	/* Re-send of 2 and 3 plus a new 4: only 4 is stored. */
	struct result again[3] = { r[1], r[2], mk(4, "dns", 0, "site-b", 9.0, 4000) };

	cr_assert_eq(ingest(st, "branch-1", again, 3, &out), 0);
	cr_assert_eq(out.stored, 1);
	cr_assert_eq(out.duplicates, 2);
	cr_assert_eq(out.last_seq, 4);
	/* The same seq from another agent is another result. */
	cr_assert_eq(ingest(st, "branch-2", r, 1, &out), 0);
	cr_assert_eq(out.stored, 1);
	cr_assert_eq(out.last_seq, 1);

	a = results_of(st, "branch-1", 0, 100);
	cr_assert_eq(json_array_size(a), 4);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 3), "instance")),
			 "site-b");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "agent")),
			 "branch-1");
	json_decref(a);
	store_close(st);
}

Test(store, results_page_by_after_seq_ascending)
{
	struct store *st = open_db();
	struct result r[10];
	struct store_ingest_out out;
	json_t *a;

	for (int i = 0; i < 10; i++)
		r[i] = mk((uint64_t)(10 - i), "dns", 0, "site-a", 1.0 + i, 1000 * (10 - i));
	cr_assert_eq(ingest(st, "b", r, 10, &out), 0);
	a = results_of(st, "b", 4, 3);
	cr_assert_eq(json_array_size(a), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, i), "seq")), 5 + i);
	json_decref(a);
	a = results_of(st, "nobody", 0, 100);
	cr_assert_eq(json_array_size(a), 0);
	json_decref(a);
	/* A time window (the dashboard's first fetch) still comes by seq. */
	struct store_results_query q = { .agent = "b", .from_ms = 5000, .to_ms = 8000,
					 .limit = 100 };

	a = store_query_results(st, &q);
	cr_assert_eq(json_array_size(a), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, i), "seq")), 5 + i);
	json_decref(a);
	store_close(st);
}

Test(store, savepoint_rollback_stores_nothing_of_the_job)
{
	struct store *st = open_db();
	struct result r[2] = { mk(1, "dns", 0, "site-a", 1, 1000), mk(2, "dns", 0, "site-a", 2, 2000) };
	struct store_ingest_out out;
	unsigned char stored[2];
	json_t *a;

	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(store_savepoint(st), 0);
	cr_assert_eq(store_insert_results(st, "x", r, 1, NULL, 1, stored, &out), 0);
	cr_assert_eq(store_savepoint_release(st), 0);
	cr_assert_eq(store_savepoint(st), 0);
	cr_assert_eq(store_insert_results(st, "y", r + 1, 1, NULL, 1, stored, &out), 0);
	cr_assert_eq(store_savepoint_rollback(st), 0);
	cr_assert_eq(store_commit(st), 0);
	a = results_of(st, "x", 0, 10);
	cr_assert_eq(json_array_size(a), 1);
	json_decref(a);
	a = results_of(st, "y", 0, 10);
	cr_assert_eq(json_array_size(a), 0);
	json_decref(a);
	store_close(st);
}

Test(store, agents_latest_and_rollups)
{
	struct store *st = open_db();
	int64_t minute = 1700000040000LL; /* a minute boundary */
	struct result r[4] = { mk(1, "dns", 1, "site-a", 2.0, minute + 1000),
			       mk(2, "dns", 1, "site-a", 6.0, minute + 2000),
			       mk(3, "dns", 1, "site-a", -1, minute + 3000),
			       mk(4, "dns", 1, "site-a", 4.0, minute + 61000) };
	struct store_ingest_out out;
	json_t *a, *o;

	cr_assert_eq(ingest(st, "b1", r, 4, &out), 0);
	a = store_query_agents(st);
	cr_assert_eq(json_array_size(a), 1);
	o = json_array_get(a, 0);
	cr_assert_str_eq(json_string_value(json_object_get(o, "version")), "1.2");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "status"), "spool_depth")),
		     3);
	cr_assert_eq(json_integer_value(json_object_get(o, "last_seq")), 4);
	json_decref(a);

	a = store_query_management(st);
	cr_assert_eq(json_array_size(a), 1, "one row per (agent, service, target, address)");
	cr_assert_eq(json_real_value(json_object_get(json_array_get(a, 0), "rtt_ms")), 4.0);
	json_decref(a);

	a = store_query_rollups(st, "b1", "dns", INT64_MIN, INT64_MAX, 100);
	cr_assert_eq(json_array_size(a), 2);
	o = json_array_get(a, 0);
	cr_assert_eq(json_integer_value(json_object_get(o, "count")), 3);
	cr_assert_eq(json_integer_value(json_object_get(o, "ok")), 2);
	cr_assert_eq(json_real_value(json_object_get(o, "rtt_min")), 2.0);
	cr_assert_eq(json_real_value(json_object_get(o, "rtt_max")), 6.0);
	cr_assert_eq(json_real_value(json_object_get(o, "rtt_avg")), 4.0);
	json_decref(a);
	store_close(st);
}

static struct event
mkev(int64_t id, const char *type, const char *service)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = id;
	ev.time_ms = 1700000000000LL + id * 1000;
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	snprintf(ev.agent, sizeof(ev.agent), "b1");
	snprintf(ev.service, sizeof(ev.service), "%s", service);
	ev.family = 4;
	snprintf(ev.from_instance, sizeof(ev.from_instance), "site-a");
	snprintf(ev.to_instance, sizeof(ev.to_instance), "site-b");
	snprintf(ev.detail, sizeof(ev.detail), "{\"cause\":\"failover\"}");
	return ev;
}

Test(store, events_newest_first_with_filters)
{
	struct store *st = open_db();
	struct store_events_query q = { .since_ms = INT64_MIN, .limit = 100 };
	json_t *a;

	cr_assert_eq(store_max_event_id(st), 0);
	cr_assert_eq(store_begin(st), 0);
	for (int i = 1; i <= 5; i++) {
		struct event ev = mkev(i, i % 2 ? "catchment_change" : "outage", "dns");

		cr_assert_eq(store_insert_event(st, &ev), 0);
	}
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(store_max_event_id(st), 5);
	a = store_query_events(st, &q);
	cr_assert_eq(json_array_size(a), 5);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "id")), 5);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(a, 0), "detail"), "cause")),
			 "failover");
	json_decref(a);
	q.type = "outage";
	a = store_query_events(st, &q);
	cr_assert_eq(json_array_size(a), 2);
	json_decref(a);
	q.type = NULL;
	q.since_ms = 1700000000000LL + 4000;
	a = store_query_events(st, &q);
	cr_assert_eq(json_array_size(a), 2);
	json_decref(a);
	store_close(st);
}

Test(store, catchment_snapshot_round_trip)
{
	struct store *st = open_db();
	struct catchment_row rows[2], *back = NULL;
	size_t n = 0;

	memset(rows, 0, sizeof(rows));
	for (int i = 0; i < 2; i++) {
		snprintf(rows[i].agent, sizeof(rows[i].agent), "b%d", i);
		snprintf(rows[i].service, sizeof(rows[i].service), "dns");
		rows[i].family = 4;
		snprintf(rows[i].status, sizeof(rows[i].status), i ? "outage" : "ok");
		snprintf(rows[i].instance, sizeof(rows[i].instance), "%s", i ? "" : "site-a");
		rows[i].since_ms = 1000 + i;
		rows[i].last_seen_ms = 2000 + i;
		rows[i].rtt_ms = i ? -1 : 3.25;
		rows[i].flapping = i;
	}
	cr_assert_eq(store_save_catchments(st, rows, 2), 0);
	cr_assert_eq(store_save_catchments(st, rows, 2), 0, "saving again replaces");
	cr_assert_eq(store_load_catchments(st, &back, &n), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		int k = strcmp(back[i].agent, "b0") == 0 ? 0 : 1;

		cr_assert_str_eq(back[i].status, rows[k].status);
		cr_assert_str_eq(back[i].instance, rows[k].instance);
		cr_assert_eq(back[i].rtt_ms, rows[k].rtt_ms);
		cr_assert_eq(back[i].since_ms, rows[k].since_ms);
		cr_assert_eq(back[i].flapping, rows[k].flapping);
	}
	free(back);
	store_close(st);
}

Test(store, retention_deletes_old_results_in_chunks)
{
	struct store *st = open_db();
	struct result r[30];
	struct store_ingest_out out;
	size_t deleted;
	json_t *a;

	TEST_SQLITE_ONLY();
	for (int i = 0; i < 30; i++)
		r[i] = mk((uint64_t)i + 1, "dns", 0, "site-a", 1, i < 25 ? 1000 + i : 900000);
	cr_assert_eq(ingest(st, "b", r, 30, &out), 0);
	cr_assert_eq(store_retention(st, 500000, 0, 0, 10, &deleted), 0);
	cr_assert_eq(deleted, 10);
	cr_assert_eq(store_retention(st, 500000, 0, 0, 10, &deleted), 0);
	cr_assert_eq(store_retention(st, 500000, 0, 0, 10, &deleted), 0);
	cr_assert_eq(deleted, 5);
	a = results_of(st, "b", 0, 100);
	cr_assert_eq(json_array_size(a), 5);
	json_decref(a);
	/* Rollups outlive raw results. */
	a = store_query_rollups(st, "b", NULL, INT64_MIN, INT64_MAX, 100);
	cr_assert_eq(json_array_size(a), 2);
	json_decref(a);
	/* Events go with the rollup horizon. */
	struct event old = mkev(1, "outage", "dns"), recent = mkev(2, "outage", "dns");
	struct store_events_query q = { .since_ms = INT64_MIN, .limit = 10 };

	old.time_ms = 1000;
	recent.time_ms = 2000000;
	cr_assert_eq(store_insert_event(st, &old), 0);
	cr_assert_eq(store_insert_event(st, &recent), 0);
	cr_assert_eq(store_retention(st, 0, 1000000, 1000000, 10, &deleted), 0);
	a = store_query_events(st, &q);
	cr_assert_eq(json_array_size(a), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "id")), 2);
	json_decref(a);
	/* Resolved incidents go with the events; open ones stay however old. */
	struct store_incident in[3] = {
		{ .id = 1, .kind = "outage", .state = "resolved", .started_ms = 10, .updated_ms = 20,
		  .ended_ms = 20, .doc = "{\"id\":1}" },
		{ .id = 2, .kind = "outage", .state = "open", .started_ms = 10, .updated_ms = 20,
		  .doc = "{\"id\":2}" },
		{ .id = 3, .kind = "outage", .state = "resolved", .started_ms = 10, .updated_ms = 20,
		  .ended_ms = 3000000, .doc = "{\"id\":3}" },
	};
	struct store_incidents_query iq = { .since_ms = INT64_MIN, .limit = 10 };

	for (int i = 0; i < 3; i++)
		cr_assert_eq(store_save_incident(st, &in[i]), 0);
	cr_assert_eq(store_retention(st, 0, 0, 1000000, 10, &deleted), 0);
	a = store_query_incidents(st, &iq);
	cr_assert_eq(json_array_size(a), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "id")), 3);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 1), "id")), 2);
	json_decref(a);
	store_close(st);
}

static void
sqlite_cli(int version, const char *extra)
{
	char cmd[1024];

	/* Released migrations are never edited: the first `version` of them
	 * build exactly the database an older collector left behind. */
	cr_assert(version >= 1 && version <= 9);
	snprintf(cmd, sizeof(cmd), "cat schema/00[1-%d]_*.sql | sqlite3 '%s' && sqlite3 '%s' \"%s\"",
		 version, db, db, extra);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(store, migrates_a_version_1_database_keeping_data)
{
	struct store *st;
	json_t *a;

	TEST_SQLITE_ONLY();
	sqlite_cli(1,
		   "INSERT INTO agents (id, name, last_seq) VALUES (1, 'old', 7);"
		   " INSERT INTO services (id, name) VALUES (1, 'dns');"
		   " INSERT INTO results (agent_id, seq, time_ms, service_id, address, family, target,"
		   " outcome, rtt_ms) VALUES (1, 7, 1000, 1, '198.18.255.53', 4, 0, 'ok', 2.5);"
		   " PRAGMA user_version = 1;");
	st = open_db();
	cr_assert_eq(store_schema_version(st), store_schema_latest());
	a = results_of(st, "old", 0, 10);
	cr_assert_eq(json_array_size(a), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 7);
	json_decref(a);
	/* Tables of version 2 work. */
	a = store_query_rollups(st, NULL, NULL, INT64_MIN, INT64_MAX, 10);
	cr_assert_not_null(a);
	json_decref(a);
	struct result r = mk(8, "dns", 0, "site-a", 1, 2000);
	struct store_ingest_out out;

	cr_assert_eq(ingest(st, "old", &r, 1, &out), 0);
	cr_assert_eq(out.last_seq, 8);
	store_close(st);
}

Test(store, refuses_a_newer_schema)
{
	char err[256] = "", cmd[600];
	struct store *st;

	if (test_db_is_pg()) {
		char out[64];

		cr_assert_eq(test_db_query(db, "CREATE TABLE schema_version (version int PRIMARY KEY,"
					       " applied_ms bigint NOT NULL);"
					       " INSERT INTO schema_version VALUES (99, 0)", NULL, 0), 0);
		st = store_open(db, NULL, err, sizeof(err));
		cr_assert_null(st);
		cr_assert(strstr(err, "newer") != NULL, "%s", err);
		cr_assert(strchr(err, '\n') == NULL, "one line: %s", err);
		/* Nothing written: no table of migration 1 appeared. */
		cr_assert_eq(test_db_query(db, "SELECT count(*) FROM pg_tables WHERE tablename ="
					       " 'agents'", out, sizeof(out)), 0);
		cr_assert_str_eq(out, "0");
		(void)cmd;
		return;
	}
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA user_version = 99;'", db);
	cr_assert_eq(system(cmd), 0);
	st = store_open(db, NULL, err, sizeof(err));
	cr_assert_null(st);
	cr_assert(strstr(err, "newer") != NULL, "%s", err);
}

/* PostgreSQL retention drops whole daily partitions of results: a day
 * goes once all of it is older than the horizon, newer days stay whole. */
Test(store, pg_retention_drops_whole_days)
{
	struct store *st;
	struct result r[30];
	struct store_ingest_out out;
	size_t deleted;
	char n[64];
	json_t *a;

	if (!test_db_is_pg())
		cr_skip_test("PostgreSQL partitions");
	st = open_db();
	/* 10 results on each of days 100, 101 and 102 after the epoch. */
	for (int i = 0; i < 30; i++)
		r[i] = mk((uint64_t)i + 1, "dns", 0, "site-a", 1,
			  (int64_t)(100 + i / 10) * 86400000 + 1000 * (i % 10));
	cr_assert_eq(ingest(st, "b", r, 30, &out), 0);
	cr_assert_eq(out.stored, 30);
	cr_assert_eq(test_db_query(db, "SELECT count(*) FROM pg_inherits WHERE inhparent ="
				       " 'results'::regclass", n, sizeof(n)), 0);
	cr_assert_geq(atoi(n), 3);
	/* Horizon inside day 101: only day 100 is wholly older. */
	cr_assert_eq(store_retention(st, (int64_t)101 * 86400000 + 5000, 0, 0, 10, &deleted), 0);
	cr_assert_eq(deleted, 1);
	a = results_of(st, "b", 0, 100);
	cr_assert_eq(json_array_size(a), 20);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 11);
	json_decref(a);
	cr_assert_eq(test_db_query(db, "SELECT to_regclass('results_19700411') IS NULL", n, sizeof(n)),
		     0);
	cr_assert_str_eq(n, "t");
	/* A replay of a kept day stores nothing. */
	cr_assert_eq(ingest(st, "b", r + 10, 10, &out), 0);
	cr_assert_eq(out.duplicates, 10);
	store_close(st);
}

Test(store, backup_copies_a_live_database)
{
	struct store *st = open_db(), *copy;
	struct result r[2] = { mk(1, "dns", 0, "site-a", 1, 1000), mk(2, "dns", 0, "site-a", 2, 2000) };
	struct store_ingest_out out;
	char err[256] = "", dst[300];
	json_t *a;

	TEST_SQLITE_ONLY();
	cr_assert_eq(ingest(st, "b", r, 2, &out), 0);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	cr_assert_eq(store_backup(db, dst, err, sizeof(err)), 0, "%s", err);
	store_close(st);
	snprintf(db, sizeof(db), "%s", dst);
	copy = open_db();
	a = results_of(copy, "b", 0, 10);
	cr_assert_eq(json_array_size(a), 2);
	json_decref(a);
	store_close(copy);
}

struct wctx {
	int done, failed;
	size_t stored, duplicates;
};

static void
job_done(void *arg, struct store_job *job)
{
	struct wctx *w = arg;

	w->done++;
	if (job->rc != 0)
		w->failed++;
	w->stored += job->out.stored;
	w->duplicates += job->out.duplicates;
	store_job_free(job);
}

Test(store, writer_thread_commits_and_calls_back_on_the_loop)
{
	struct store *st = open_db(), *reader;
	struct store_options ro = { .no_migrate = 1 };
	uv_loop_t loop;
	struct store_writer *w;
	struct wctx ctx = { 0 };
	char err[256];
	json_t *a;

	cr_assert_eq(uv_loop_init(&loop), 0);
	w = store_writer_new(&loop, st);
	cr_assert_not_null(w);
	for (int j = 0; j < 20; j++) {
		struct store_job *job = store_job_new(STORE_JOB_INGEST);

		snprintf(job->agent, sizeof(job->agent), "w");
		job->n_results = 5;
		job->results = calloc(5, sizeof(struct result));
		for (int i = 0; i < 5; i++)
			job->results[i] = mk((uint64_t)(j % 10) * 5 + i + 1, "dns", 0, "s", 1, 1000);
		job->done = job_done;
		job->arg = &ctx;
		store_writer_submit(w, job);
	}
	while (ctx.done < 20)
		uv_run(&loop, UV_RUN_ONCE);
	cr_assert_eq(ctx.failed, 0);
	cr_assert_eq(ctx.stored, 50);
	cr_assert_eq(ctx.duplicates, 50);
	reader = store_open(db, &ro, err, sizeof(err));
	cr_assert_not_null(reader, "%s", err);
	a = results_of(reader, "w", 0, 1000);
	cr_assert_eq(json_array_size(a), 50);
	json_decref(a);
	store_close(reader);
	store_writer_close(w, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(store, read_queries_stop_at_their_time_budget)
{
	struct store *st = open_db();
	struct result *r = calloc(1000, sizeof(*r));
	unsigned char *stored = calloc(1000, 1);
	struct store_ingest_out out;
	struct store_results_query q = { .from_ms = 5000, .to_ms = INT64_MAX, .limit = 10 };
	json_t *a;

	cr_assert_eq(store_begin(st), 0);
	for (int b = 0; b < 100; b++) {
		for (int i = 0; i < 1000; i++)
			r[i] = mk((uint64_t)b * 1000 + i + 1, "dns", 0, "site-a", 1, 1000);
		cr_assert_eq(store_insert_results(st, "big", r, 1000, NULL, 1, stored, &out), 0);
	}
	cr_assert_eq(store_commit(st), 0);
	/* Every row is older than from and no agent is named: the walk covers
	 * all 100,000 rows. */
	store_set_query_budget(st, 1);
	cr_assert_null(store_query_results(st, &q), "a 1 ms budget must stop a full scan");
	store_set_query_budget(st, 0);
	a = store_query_results(st, &q);
	cr_assert_not_null(a);
	cr_assert_eq(json_array_size(a), 0);
	json_decref(a);
	/* Bounded queries are unaffected by a tight budget. */
	store_set_query_budget(st, 50);
	a = results_of(st, "big", 99990, 100);
	cr_assert_eq(json_array_size(a), 10);
	json_decref(a);
	free(r);
	free(stored);
	store_close(st);
}

Test(store, migrates_a_version_2_database_to_the_agent_time_index)
{
	struct store *st;
	char cmd[1024];
	json_t *a;

	TEST_SQLITE_ONLY();
	sqlite_cli(2,
		   "INSERT INTO agents (id, name, last_seq) VALUES (1, 'old', 3);"
		   " INSERT INTO services (id, name) VALUES (1, 'dns');"
		   " INSERT INTO results (agent_id, seq, time_ms, service_id, address, family, target,"
		   " outcome) VALUES (1, 3, 5000, 1, '198.18.255.53', 4, 0, 'timeout');"
		   " INSERT INTO rollups VALUES (0, 1, 1, 0, '198.18.255.53', 1, 0, 0, NULL, NULL, NULL);"
		   " PRAGMA user_version = 2;");
	st = open_db();
	cr_assert_eq(store_schema_version(st), store_schema_latest());
	a = results_of(st, "old", 0, 10);
	cr_assert_eq(json_array_size(a), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "outcome")),
			 "timeout");
	json_decref(a);
	a = store_query_rollups(st, "old", NULL, INT64_MIN, INT64_MAX, 10);
	cr_assert_eq(json_array_size(a), 1);
	json_decref(a);
	store_close(st);
	snprintf(cmd, sizeof(cmd),
		 "test \"$(sqlite3 '%s' \"SELECT group_concat(name) FROM sqlite_master"
		 " WHERE type = 'index' AND name LIKE 'results_%%'\")\" = results_agent_time", db);
	cr_assert_eq(system(cmd), 0, "the (service, time) index is replaced by (agent, time)");
}

Test(store, database_wal_and_backup_are_private_under_umask_022)
{
	TEST_SQLITE_ONLY();
	mode_t old = umask(022);
	struct store *st = open_db();
	struct result r = mk(1, "dns", 0, "site-a", 12.5, time_now_ms());
	struct store_ingest_out out;
	char path[512], err[256] = "";
	struct stat sb;

	cr_assert_eq(ingest(st, "br1", &r, 1, &out), 0);
	const char *suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffix[i]);
		cr_assert_eq(stat(path, &sb), 0, "%s", path);
		cr_assert_eq(sb.st_mode & 077, 0, "%s has mode %o", path, sb.st_mode & 0777);
	}
	snprintf(path, sizeof(path), "%s.backup", db);
	cr_assert_eq(store_backup(db, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 077, 0, "backup has mode %o", sb.st_mode & 0777);
	unlink(path);
	store_close(st);
	umask(old);
}
