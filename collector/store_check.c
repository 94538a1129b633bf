/* collector/store_check.c - a damaged database is noticed: SQLite's error
 * log counted and logged once, and PRAGMA quick_check for --check-db. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "collector/store.h"
#include "collector/store_check.h"
#include "collector/store_int.h"

/* SQLite's own messages for the two codes (sqlite3_errstr), spelt out:
 * the log callback must not call into SQLite. */
static const char *
damage_reason(int code)
{
	return code == SQLITE_NOTADB ? "file is not a database" : "database disk image is malformed";
}

/* Runs on whichever thread met the error, with SQLite's mutexes held: only
 * atomics and the (thread-safe) log here. */
static void
on_sqlite_log(void *arg, int code, const char *msg)
{
	struct store_watch *w = arg;
	int primary = code & 0xff, none = 0;
	const char *path;

	if (primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB) {
		log_debug("sqlite: %s (code %d)", msg, code);
		return;
	}
	atomic_fetch_add(&w->damaged, 1);
	atomic_compare_exchange_strong(&w->first_code, &none, primary);
	if (atomic_exchange(&w->logged, 1) != 0)
		return;
	path = atomic_load(&w->path);
	log_warnx("store: %s: %s (%s); not logged again, counted in anycast_store_corrupt_total",
		  path != NULL ? path : "database", damage_reason(primary), msg);
}

int
store_watch_install(struct store_watch *w)
{
	if (sqlite3_config(SQLITE_CONFIG_LOG, on_sqlite_log, w) != SQLITE_OK)
		return -EBUSY;
	return 0;
}

void
store_watch_set_path(struct store_watch *w, const char *path)
{
	atomic_store(&w->path, path);
}

uint64_t
store_watch_damaged(struct store_watch *w, char *reason, size_t reasonlen)
{
	uint64_t n = atomic_load(&w->damaged);

	if (reason != NULL && reasonlen > 0)
		snprintf(reason, reasonlen, "%s",
			 n > 0 ? damage_reason(atomic_load(&w->first_code)) : "");
	return n;
}

int
store_quick_check(const char *path, int max_findings, void (*finding)(void *arg, const char *text),
		  void *arg, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	const char *t;
	char sql[48];
	int rc, n = 0, ret;

	/* SQLite's "unable to open database file" does not say why. */
	if (access(path, R_OK) != 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return ret;
	}
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		goto failed;
	sqlite3_busy_timeout(db, 5000);
	snprintf(sql, sizeof(sql), "PRAGMA quick_check(%d)", max_findings > 0 ? max_findings : 100);
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) != SQLITE_OK)
		goto failed;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(s, 0);
		if (t != NULL && strcmp(t, "ok") == 0)
			continue;
		n++;
		if (finding != NULL)
			finding(arg, t != NULL ? t : "(no text)");
	}
	if (rc != SQLITE_DONE)
		goto failed;
	ret = n > 0 ? 1 : 0;
	goto out;
failed:
	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
		/* Damage that stops the check itself is its finding. */
		if (finding != NULL)
			finding(arg, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		ret = 1;
	} else {
		snprintf(err, errlen, "%s", db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		ret = store_rc_errno(rc) != 0 ? store_rc_errno(rc) : -EIO;
	}
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ret;
}
