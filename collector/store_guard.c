/* collector/store_guard.c - guard reports in SQLite (table guard_actions,
 * migration 007); PostgreSQL's are in store_pg_event.c. Rare writes: the
 * statements are prepared per call. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/guard_report.h"
#include "collector/store_int.h"
#include "collector/store_pg.h"

static void
set_err(struct store *st)
{
	snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
}

int
store_insert_guard_actions(struct store *st, const char *agent, const struct guard_action *g,
			   size_t n, int64_t now_ms, unsigned char *stored, uint64_t *last_seq)
{
	sqlite3_stmt *s = NULL, *q = NULL;
	int rc = -EIO;

	if (st->pg != NULL)
		return store_pg_insert_guard_actions(st->pg, agent, g, n, now_ms, stored, last_seq);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR IGNORE INTO guard_actions (agent, seq, time_ms, received_ms,"
			       " service, instance, action, applied, method, address, reason)"
			       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "SELECT coalesce(max(seq), 0) FROM guard_actions WHERE agent = ?", -1,
			       &q, NULL) != SQLITE_OK) {
		set_err(st);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)g[i].seq);
		sqlite3_bind_int64(s, 3, g[i].time_ms);
		sqlite3_bind_int64(s, 4, now_ms);
		sqlite3_bind_text(s, 5, g[i].service, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, g[i].instance, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, g[i].withdraw ? "withdraw" : "restore", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 8, g[i].applied != 0);
		store_bind_text_or_null(s, 9, g[i].method);
		store_bind_text_or_null(s, 10, g[i].address);
		store_bind_text_or_null(s, 11, g[i].reason);
		if (sqlite3_step(s) != SQLITE_DONE) {
			set_err(st);
			goto out;
		}
		stored[i] = sqlite3_changes(st->db) > 0;
		sqlite3_reset(s);
	}
	sqlite3_bind_text(q, 1, agent, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_ROW) {
		set_err(st);
		goto out;
	}
	*last_seq = (uint64_t)sqlite3_column_int64(q, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(q);
	return rc;
}

static void
copy_col(sqlite3_stmt *s, int col, char *dst, size_t len)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	snprintf(dst, len, "%s", v != NULL ? (const char *)v : "");
}

int
store_each_guard_latest(struct store *st,
			void (*fn)(void *ctx, const char *agent, const struct guard_action *g),
			void *ctx)
{
	sqlite3_stmt *s;
	struct guard_action g;
	char agent[RESULT_NAME_MAX];
	int r;

	if (st->pg != NULL)
		return store_pg_each_guard_latest(st->pg, fn, ctx);
	/* The row with the largest time_ms of each (service, instance); SQLite
	 * takes the bare columns from that row. */
	if (sqlite3_prepare_v2(st->db,
			       "SELECT agent, seq, max(time_ms), service, instance, action, applied,"
			       " method, address, reason FROM guard_actions GROUP BY service, instance"
			       " ORDER BY 3",
			       -1, &s, NULL) != SQLITE_OK) {
		set_err(st);
		return -EIO;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&g, 0, sizeof(g));
		copy_col(s, 0, agent, sizeof(agent));
		g.seq = (uint64_t)sqlite3_column_int64(s, 1);
		g.time_ms = sqlite3_column_int64(s, 2);
		copy_col(s, 3, g.service, sizeof(g.service));
		copy_col(s, 4, g.instance, sizeof(g.instance));
		g.withdraw = strcmp((const char *)sqlite3_column_text(s, 5), "withdraw") == 0;
		g.applied = sqlite3_column_int(s, 6);
		copy_col(s, 7, g.method, sizeof(g.method));
		copy_col(s, 8, g.address, sizeof(g.address));
		copy_col(s, 9, g.reason, sizeof(g.reason));
		fn(ctx, agent, &g);
	}
	if (r != SQLITE_DONE)
		set_err(st);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}
