/* tests/collector/test_leader.c - the leader lock (collector/store_pg_lock.c)
 * and the election (collector/leader.c) against a real PostgreSQL: one
 * holder at a time, released with its session, lost with its connection,
 * taken over by a waiting collector. PostgreSQL only (tests/pg/run.sh sets
 * ANYCAST_TEST_PG); skipped otherwise. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "collector/leader.h"
#include "collector/store.h"
#include "collector/store_lock.h"
#include "test_db.h"

static char url[1024];

static void
setup_db(void)
{
	struct store *st;
	char err[256];

	if (!test_db_is_pg())
		cr_skip_test("the leader lock is PostgreSQL's");
	test_db_make(url, sizeof(url), NULL);
	/* Migrated, as a collector finds it. */
	st = store_open(url, NULL, err, sizeof(err));
	cr_assert_not_null(st, "%s", err);
	store_close(st);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll l until it returns want or ms passed; the last answer. */
static int
poll_until(struct store_lock *l, int want, int ms)
{
	char err[256];
	int64_t end = now_ms() + ms;
	int rc;

	while ((rc = store_lock_poll(l, err, sizeof(err))) != want && now_ms() < end)
		usleep(50000);
	return rc;
}

Test(leader, one_holder_released_with_its_session_and_lost_with_its_connection)
{
	struct store_lock *a, *b;
	char err[256], out[64];

	setup_db();
	a = store_lock_new(url);
	b = store_lock_new(url);
	cr_assert_eq(store_lock_poll(a, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(store_lock_poll(b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lock_poll(a, err, sizeof(err)), 1, "held: the session is alive");
	cr_assert_eq(store_lock_poll(b, err, sizeof(err)), 0);
	store_lock_free(a); /* the session ends: the server releases the lock */
	cr_assert_eq(poll_until(b, 1, 2000), 1);

	/* The server ends b's session: b learns it at its next poll, then
	 * reconnects and takes the lock again (nobody else wants it). */
	cr_assert_eq(test_db_query(url,
				   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
				   " WHERE application_name = 'anycast-collector leader lock'",
				   out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "1");
	cr_assert_lt(store_lock_poll(b, err, sizeof(err)), 0, "a lost session is not leader");
	cr_assert(strstr(err, "leader lock") != NULL, "%s", err);
	cr_assert_eq(poll_until(b, 1, 2000), 1);
	store_lock_free(b);
}

Test(leader, unreachable_database_is_no_leader)
{
	struct store_lock *l = store_lock_new("postgresql://nobody@/none?host=/nonexistent-dir");
	char err[256];

	cr_assert_not_null(l);
	cr_assert_lt(store_lock_poll(l, err, sizeof(err)), 0);
	cr_assert(strstr(err, "cannot connect") != NULL, "%s", err);
	store_lock_free(l);
}

struct watch {
	int changes, role;
	int64_t at_ms;
};

static void
on_role(void *ctx, int is_leader)
{
	struct watch *w = ctx;

	w->changes++;
	w->role = is_leader;
	w->at_ms = now_ms();
}

static void
on_timeout(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void
on_poll(uv_timer_t *t)
{
	struct watch *w = t->data;

	if (w->changes > 0)
		uv_stop(t->loop);
}

Test(leader, a_waiting_collector_takes_over_when_the_leader_leaves)
{
	uv_loop_t loop;
	uv_timer_t timeout, poll;
	struct watch wa = { 0 }, wb = { 0 };
	struct leader *a, *b;
	char err[256];
	int64_t t0;

	setup_db();
	uv_loop_init(&loop);
	a = leader_new(&loop, url, on_role, &wa, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	b = leader_new(&loop, url, on_role, &wb, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(leader_is_leader(a), 1, "the first one leads from the start");
	cr_assert_eq(leader_is_leader(b), 0);

	uv_timer_init(&loop, &timeout);
	uv_timer_init(&loop, &poll);
	poll.data = &wb;
	/* Nothing changes while a holds the lock. */
	uv_timer_start(&timeout, on_timeout, 2500, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(wa.changes, 0);
	cr_assert_eq(wb.changes, 0);

	t0 = now_ms();
	leader_close(a);
	uv_timer_start(&timeout, on_timeout, 5000, 0);
	uv_timer_start(&poll, on_poll, 20, 20);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(wb.changes, 1);
	cr_assert_eq(wb.role, 1);
	cr_assert_eq(leader_is_leader(b), 1);
	cr_log_info("takeover after the leader closed: %lld ms", (long long)(wb.at_ms - t0));

	leader_close(b);
	uv_close((uv_handle_t *)&timeout, NULL);
	uv_close((uv_handle_t *)&poll, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
