/* collector/store_check.h - noticing a damaged database: SQLite's error log
 * watched for SQLITE_CORRUPT and SQLITE_NOTADB on every connection of the
 * process (reader, writer thread, checkpointer), and the PRAGMA quick_check
 * behind anycast-collector --check-db. */
#ifndef ANYCAST_STORE_CHECK_H
#define ANYCAST_STORE_CHECK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Written by whichever thread SQLite reports on, read by the loop thread:
 * every field is atomic. Owned by the caller of store_watch_install. */
struct store_watch {
	atomic_uint_least64_t damaged;  /* reports of damage since install */
	atomic_int first_code;          /* primary result code of the first report, 0: none */
	atomic_int logged;              /* the warning has been logged */
	_Atomic(const char *) path;     /* database named in the warning; NULL: not known yet */
};

/* Route SQLite's error log (one per process) to w: each SQLITE_CORRUPT or
 * SQLITE_NOTADB report is counted and the first one logged at warn level with
 * the database path and SQLite's message; other reports go to the debug log.
 * Must run before the process opens its first database: SQLite takes the
 * setting only then. w must outlive every connection; zero it first.
 * Returns 0, or -EBUSY when SQLite is already in use. */
int store_watch_install(struct store_watch *w);
/* The database the warning names (the collector has one). path is not
 * copied and must stay valid while connections are open. */
void store_watch_set_path(struct store_watch *w, const char *path);
/* Reports of damage so far (0: none). When reason is not NULL it gets
 * SQLite's message for the first one, e.g. "database disk image is malformed". */
uint64_t store_watch_damaged(struct store_watch *w, char *reason, size_t reasonlen);

/* Run PRAGMA quick_check on the database at path, opened read-only (never
 * created; safe beside a running collector). finding() is called for each
 * problem found (at most max_findings), including a file SQLite cannot read
 * as a database at all ("file is not a database"). Returns 0 when the
 * database is intact, 1 when damaged, or a negative errno when it could not
 * be checked (missing, unreadable, locked), with the reason in err. */
int store_quick_check(const char *path, int max_findings,
		      void (*finding)(void *arg, const char *text), void *arg, char *err,
		      size_t errlen);

#endif
