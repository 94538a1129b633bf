/* collector/store.c - SQLite connection: open, WAL, migrations under
 * PRAGMA user_version, transactions, prepared statements, inventory mirror
 * and online backup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "collector/store.h"
#include "collector/store_int.h"
#include "collector/store_pg.h"
#include "collector/store_schema.h"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_INSERT_RESULT] =
		"INSERT OR IGNORE INTO results (agent_id, seq, round, time_ms, service_id, address,"
		" family, target, instance, identity, identity_source, query, transport, outcome,"
		" rcode, rtt_ms, stratum, leap, refid, reference_time_ms, offset_ms, root_delay_ms,"
		" root_dispersion_ms, kod, check_name, serial, digest, rrs, reason) VALUES (?1, ?2, ?3,"
		" ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"
		" ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
	[STMT_UPSERT_LATEST] =
		"INSERT INTO latest (agent_id, service_id, target, address, seq, time_ms, instance,"
		" identity, outcome, rcode, rtt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
		" ON CONFLICT DO UPDATE SET seq = excluded.seq, time_ms = excluded.time_ms,"
		" instance = excluded.instance, identity = excluded.identity,"
		" outcome = excluded.outcome, rcode = excluded.rcode, rtt_ms = excluded.rtt_ms"
		" WHERE excluded.seq > latest.seq",
	[STMT_UPSERT_ROLLUP] =
		"INSERT INTO rollups (minute_ms, agent_id, service_id, target, address, count,"
		" ok_count, rtt_n, rtt_min, rtt_sum, rtt_max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		" ?9, ?10, ?11) ON CONFLICT DO UPDATE SET count = count + excluded.count,"
		" ok_count = ok_count + excluded.ok_count, rtt_n = rtt_n + excluded.rtt_n,"
		" rtt_min = CASE WHEN rtt_min IS NULL THEN excluded.rtt_min"
		"   WHEN excluded.rtt_min IS NULL THEN rtt_min ELSE min(rtt_min, excluded.rtt_min) END,"
		" rtt_sum = coalesce(rtt_sum, 0) + coalesce(excluded.rtt_sum, 0),"
		" rtt_max = CASE WHEN rtt_max IS NULL THEN excluded.rtt_max"
		"   WHEN excluded.rtt_max IS NULL THEN rtt_max ELSE max(rtt_max, excluded.rtt_max) END",
	[STMT_AGENT_UPDATE] =
		"UPDATE agents SET first_seen_ms = coalesce(first_seen_ms, ?2), last_seen_ms = ?2,"
		" last_seq = max(last_seq, ?3), version = coalesce(?4, version),"
		" status = coalesce(?5, status) WHERE id = ?1",
	[STMT_AGENT_LAST_SEQ] = "SELECT last_seq FROM agents WHERE id = ?1",
	[STMT_INSERT_EVENT] =
		"INSERT INTO events (id, time_ms, type, agent, service, family, from_instance,"
		" to_instance, incident, resolves, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		" ?10, ?11)",
	[STMT_INSERT_DELIVERY] =
		"INSERT INTO alert_deliveries (time_ms, route, event_id, incident, attempt, ok, error)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_NAME_INSERT_AGENT] = "INSERT OR IGNORE INTO agents (name) VALUES (?1)",
	[STMT_NAME_SELECT_AGENT] = "SELECT id FROM agents WHERE name = ?1",
	[STMT_NAME_INSERT_SERVICE] = "INSERT OR IGNORE INTO services (name) VALUES (?1)",
	[STMT_NAME_SELECT_SERVICE] = "SELECT id FROM services WHERE name = ?1",
};

int
store_rc_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		return -EINVAL;
	default:
		return -EIO;
	}
}

const char *
store_errmsg(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_errmsg(st->pg);
	return sqlite3_errmsg(st->db);
}

sqlite3_stmt *
store_stmt(struct store *st, enum store_stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];

	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
	    SQLITE_OK) {
		log_warnx("store: prepare: %s", sqlite3_errmsg(st->db));
		return NULL;
	}
	st->stmt[id] = s;
	return s;
}

int
store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "%s", msg ? msg : sqlite3_errstr(rc));
		log_debug("store: %s: %s", sql, st->err);
		sqlite3_free(msg);
		return store_rc_errno(rc) ? store_rc_errno(rc) : -EIO;
	}
	return 0;
}

int
store_bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void
cache_clear(struct store_name_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int
name_id(struct store *st, struct store_name_cache *c, enum store_stmt_id ins,
	enum store_stmt_id sel, const char *name, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].name, name) == 0) {
			*id = c->v[i].id;
			return 0;
		}
	}
	if ((s = store_stmt(st, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		if ((s = store_stmt(st, ins)) == NULL)
			return -EIO;
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(s)) != SQLITE_DONE)
			return store_rc_errno(rc) ? store_rc_errno(rc) : -EIO;
		/* Not cached: the row would vanish if the transaction rolls back. */
		*id = sqlite3_last_insert_rowid(st->db);
		return 0;
	}
	*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct store_name_id *v = realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return 0; /* uncached is fine */
		c->v = v;
		c->cap = cap;
	}
	if ((c->v[c->n].name = strdup(name)) != NULL)
		c->v[c->n++].id = *id;
	return 0;
}

int
store_agent_id(struct store *st, const char *name, int64_t *id)
{
	return name_id(st, &st->agents, STMT_NAME_INSERT_AGENT, STMT_NAME_SELECT_AGENT, name, id);
}

int
store_service_id(struct store *st, const char *name, int64_t *id)
{
	return name_id(st, &st->services, STMT_NAME_INSERT_SERVICE, STMT_NAME_SELECT_SERVICE, name,
		       id);
}

int
store_schema_latest(void)
{
	return (int)store_schema_n_files;
}

int
store_schema_target(struct store *st)
{
	return st->pg != NULL ? store_pg_schema_latest() : store_schema_latest();
}

int
store_schema_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (st->pg != NULL)
		return store_pg_schema_version(st->pg);
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int
migrate(struct store *st, char *err, size_t errlen)
{
	int have = store_schema_version(st);
	int want = store_schema_latest();
	char sql[64];

	if (have < 0) {
		snprintf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(st->db));
		return -EIO;
	}
	if (have > want) {
		snprintf(err, errlen, "database schema version %d is newer than this program's (%d)",
			 have, want);
		return -EINVAL;
	}
	for (int v = have; v < want; v++) {
		/* One transaction per migration: a failure leaves the previous version. */
		if (store_exec(st, "BEGIN IMMEDIATE") != 0 ||
		    store_exec(st, store_schema_files[v].sql) != 0) {
			snprintf(err, errlen, "migration %s: %s", store_schema_files[v].name, st->err);
			store_exec(st, "ROLLBACK");
			return -EIO;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (store_exec(st, sql) != 0 || store_exec(st, "COMMIT") != 0) {
			snprintf(err, errlen, "migration %s: %s", store_schema_files[v].name, st->err);
			store_exec(st, "ROLLBACK");
			return -EIO;
		}
		log_info("store: applied migration %s", store_schema_files[v].name);
	}
	return 0;
}

int
store_is_postgres(const char *path)
{
	return store_pg_is_url(path);
}

void
store_display_name(const char *path, char *out, size_t outlen)
{
	store_pg_redact(path, out, outlen);
}

int
store_create_private(const char *path)
{
	int fd;

	if (path[0] == '\0' || path[0] == ':' || strncmp(path, "file:", 5) == 0)
		return 0; /* in-memory, temporary or URI databases: SQLite's business */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

struct store *
store_open(const char *path, const struct store_options *opt, char *err, size_t errlen)
{
	static const struct store_options defaults = { .sync = STORE_SYNC_FULL };
	struct store *st;
	char cache_sql[48];
	int rc;

	if (opt == NULL)
		opt = &defaults;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (store_pg_is_url(path)) {
		char shown[256];

		st->sync = opt->sync;
		if ((st->pg = store_pg_open(path, opt, err, errlen)) == NULL) {
			/* Name the database without its password. */
			char why[512];

			store_pg_redact(path, shown, sizeof(shown));
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s: %s", shown, why);
			free(st);
			return NULL;
		}
		return st;
	}
	st->sync = opt->sync;
	/* Created 0600 whatever the umask: the file holds results and token
	 * hashes, and SQLite gives the -wal and -shm files the database's mode. */
	if ((rc = store_create_private(path)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto fail;
	}
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 1);
	/* 8 MB of page cache by default: ingest cost per result measured the
	 * same as with 32 MB on a 10 M-row database (bench/collector/RESULTS.md),
	 * for 24 MB less memory per connection. */
	snprintf(cache_sql, sizeof(cache_sql), "PRAGMA cache_size = -%d",
		 opt->cache_kb > 0 ? opt->cache_kb : 8192);
	/* Incremental vacuum lets retention give space back a step at a time
	 * (store_vacuum_step). It can only be chosen before the first table
	 * exists, so this applies to new databases; on an existing one it does
	 * nothing and `anycast-collector vacuum` converts it offline. It must
	 * come before journal_mode: switching to WAL writes the header. */
	if (store_exec(st, "PRAGMA auto_vacuum = INCREMENTAL") != 0 ||
	    store_exec(st, "PRAGMA journal_mode = WAL") != 0 ||
	    store_exec(st, opt->sync == STORE_SYNC_FULL ? "PRAGMA synchronous = FULL"
							: "PRAGMA synchronous = NORMAL") != 0 ||
	    store_exec(st, "PRAGMA foreign_keys = OFF") != 0 ||
	    store_exec(st, cache_sql) != 0) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		goto fail;
	}
	if (!opt->no_migrate && migrate(st, err, errlen) != 0)
		goto fail;
	if (opt->no_migrate && store_schema_version(st) != store_schema_latest()) {
		snprintf(err, errlen, "%s: schema version %d, expected %d", path,
			 store_schema_version(st), store_schema_latest());
		goto fail;
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

struct store *
store_reopen(struct store *st, char *err, size_t errlen)
{
	struct store_options so = { .sync = st->sync, .no_migrate = 1 };
	const char *path;

	if (st->pg != NULL) {
		struct store *n = calloc(1, sizeof(*n));

		if (n == NULL) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		n->sync = st->sync;
		if ((n->pg = store_pg_reopen(st->pg, err, errlen)) == NULL) {
			free(n);
			return NULL;
		}
		return n;
	}
	path = sqlite3_db_filename(st->db, "main");
	return store_open(path ? path : "", &so, err, errlen);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->pg != NULL) {
		store_pg_close(st->pg);
		free(st);
		return;
	}
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	cache_clear(&st->agents);
	cache_clear(&st->services);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(st->db));
	free(st);
}

int
store_begin(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_begin(st->pg);
	return store_exec(st, "BEGIN IMMEDIATE");
}

int
store_commit(struct store *st)
{
	int rc;

	if (st->pg != NULL)
		return store_pg_commit(st->pg);
	rc = store_exec(st, "COMMIT");
	if (rc != 0) {
		/* A failed COMMIT (disk full, I/O error) may already have rolled
		 * back; a second ROLLBACK would then fail and its message replace
		 * the real reason in store_errmsg(). */
		if (!sqlite3_get_autocommit(st->db))
			store_exec(st, "ROLLBACK");
		/* Cached ids may name rows that were never committed. */
		cache_clear(&st->agents);
		cache_clear(&st->services);
	}
	return rc;
}

int
store_rollback(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_rollback(st->pg);
	cache_clear(&st->agents);
	cache_clear(&st->services);
	return store_exec(st, "ROLLBACK");
}

int
store_savepoint(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_savepoint(st->pg);
	return store_exec(st, "SAVEPOINT job");
}

int
store_savepoint_release(struct store *st)
{
	if (st->pg != NULL)
		return store_pg_savepoint_release(st->pg);
	return store_exec(st, "RELEASE job");
}

int
store_savepoint_rollback(struct store *st)
{
	int rc;

	if (st->pg != NULL)
		return store_pg_savepoint_rollback(st->pg);
	rc = store_exec(st, "ROLLBACK TO job");
	cache_clear(&st->agents);
	cache_clear(&st->services);
	if (rc == 0)
		rc = store_exec(st, "RELEASE job");
	return rc;
}

int
store_set_autocheckpoint(struct store *st, int pages)
{
	if (st->pg != NULL)
		return 0; /* the server checkpoints its own WAL */
	return store_rc_errno(sqlite3_wal_autocheckpoint(st->db, pages));
}

int
store_checkpoint(struct store *st, int *wal_pages, int *done)
{
	int log = 0, ckpt = 0;
	int rc = st->pg != NULL ? SQLITE_OK
				: sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
							    &log, &ckpt);

	if (wal_pages != NULL)
		*wal_pages = log;
	if (done != NULL)
		*done = ckpt;
	return store_rc_errno(rc);
}

int
store_bound_wal(struct store *st, int64_t limit_bytes)
{
	char sql[64];
	int page = 4096, rc;
	sqlite3_stmt *s;

	if (st->pg != NULL)
		return 0;
	if (limit_bytes <= 0)
		return -EINVAL;
	if (sqlite3_prepare_v2(st->db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0)
			page = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	/* After a checkpoint that copied the whole WAL back, the next commit
	 * restarts the log at its start and cuts the file to this size. */
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %lld", (long long)limit_bytes);
	if ((rc = store_exec(st, sql)) != 0)
		return rc;
	/* Past that many pages this connection checkpoints itself after its
	 * commit (passive): mostly pages the checkpointer thread already
	 * copied, so the log can restart and the file shrinks to the limit. */
	return store_rc_errno(
		sqlite3_wal_autocheckpoint(st->db, (int)(limit_bytes / page > 0 ? limit_bytes / page : 1)));
}

int
store_checkpoint_truncate(struct store *st, int wait_ms)
{
	int rc;

	if (st->pg != NULL)
		return -EOPNOTSUPP; /* the server manages its WAL */
	/* Waits for readers through the busy handler: shortened so a reader in
	 * the middle of a query makes this fail (try again later) instead of
	 * holding up the writer. */
	sqlite3_busy_timeout(st->db, wait_ms);
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(st->db, 5000);
	if (rc != SQLITE_OK)
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
	return store_rc_errno(rc);
}

static int64_t
pragma_int(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

int
store_auto_vacuum(struct store *st)
{
	if (st->pg != NULL)
		return -1;
	return (int)pragma_int(st, "PRAGMA auto_vacuum");
}

int
store_vacuum_step(struct store *st, int keep_pages, int max_pages, int *freed)
{
	int64_t free_pages, before, after;
	sqlite3_stmt *s;
	char sql[64];
	int rc;

	*freed = 0;
	if (st->pg != NULL || store_auto_vacuum(st) != 2)
		return 0;
	if ((free_pages = pragma_int(st, "PRAGMA freelist_count")) < 0)
		return -EIO;
	if (free_pages <= keep_pages)
		return 0;
	if (free_pages - keep_pages < max_pages)
		max_pages = (int)(free_pages - keep_pages);
	before = pragma_int(st, "PRAGMA page_count");
	/* Each row of the pragma is one page given back. */
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", max_pages);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
		return -EIO;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
		return store_rc_errno(rc) ? store_rc_errno(rc) : -EIO;
	}
	after = pragma_int(st, "PRAGMA page_count");
	if (before > 0 && after >= 0 && before > after)
		*freed = (int)(before - after);
	return 0;
}

int
store_check_writable(struct store *st, int probe_bytes)
{
	char sql[160];
	int rc;

	if (st->pg != NULL)
		return store_pg_check_writable(st->pg, probe_bytes);
	rc = store_exec(st, "BEGIN IMMEDIATE");
	if (rc != 0)
		return rc;
	/* A committed write: the only proof the disk takes one now. With
	 * probe_bytes, a blob that size proves room for a batch too. */
	if (probe_bytes > 0)
		snprintf(sql, sizeof(sql),
			 "INSERT OR REPLACE INTO health (id, checked_ms, probe) VALUES (1, %lld, zeroblob(%d))",
			 (long long)time(NULL) * 1000, probe_bytes);
	else
		snprintf(sql, sizeof(sql),
			 "INSERT OR REPLACE INTO health (id, checked_ms, probe) VALUES (1, %lld, NULL)",
			 (long long)time(NULL) * 1000);
	if ((rc = store_exec(st, sql)) != 0) {
		if (!sqlite3_get_autocommit(st->db))
			store_exec(st, "ROLLBACK");
		return rc;
	}
	return store_commit(st);
}
