/* tests/collector/test_db.h - the database a store or API test runs on.
 * By default an SQLite file in the test's temp dir; with ANYCAST_TEST_PG
 * set (a postgresql:// URL of a maintenance database whose role may create
 * databases, as tests/pg/run.sh exports) a fresh PostgreSQL database per
 * test, created with psql, so the same tests cover both backends. */
#ifndef ANYCAST_TEST_DB_H
#define ANYCAST_TEST_DB_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline int
test_db_is_pg(void)
{
	const char *u = getenv("ANYCAST_TEST_PG");

	return u != NULL && u[0] != '\0';
}

/* Skip the running test on PostgreSQL (it checks an SQLite file itself). */
#define TEST_SQLITE_ONLY()                                                                         \
	do {                                                                                       \
		if (test_db_is_pg())                                                               \
			cr_skip_test("SQLite file checks: not for PostgreSQL");                     \
	} while (0)

/* Into out: sqlite_path, or the URL of a new empty PostgreSQL database. */
static inline void
test_db_make(char *out, size_t outlen, const char *sqlite_path)
{
	const char *admin = getenv("ANYCAST_TEST_PG");
	static unsigned counter;
	char name[64], cmd[1400];
	const char *slash, *q;

	if (!test_db_is_pg()) {
		snprintf(out, outlen, "%s", sqlite_path);
		return;
	}
	snprintf(name, sizeof(name), "t_%ld_%ld_%u", (long)getpid(), (long)time(NULL), counter++);
	snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 '%s' -c 'CREATE DATABASE %s' >&2",
		 admin, name);
	cr_assert_eq(system(cmd), 0, "cannot create database %s", name);
	/* postgresql://user:pw@host/DB?opts: replace DB with name. */
	slash = strchr(strstr(admin, "://") + 3, '/');
	cr_assert_not_null(slash, "ANYCAST_TEST_PG has no database part");
	q = strchr(slash, '?');
	snprintf(out, outlen, "%.*s/%s%s", (int)(slash - admin), admin, name, q ? q : "");
}

/* Run sql on the test database (psql for PostgreSQL, sqlite3 for a file);
 * the first line of output into out (may be NULL). 0 on success. */
static inline int
test_db_query(const char *db, const char *sql, char *out, size_t outlen)
{
	char cmd[2048];
	FILE *p;
	int rc;

	if (strncmp(db, "postgres", 8) == 0)
		snprintf(cmd, sizeof(cmd), "psql -X -q -A -t -v ON_ERROR_STOP=1 '%s' -c \"%s\"", db,
			 sql);
	else
		snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"%s\"", db, sql);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (out != NULL) {
		out[0] = '\0';
		if (fgets(out, (int)outlen, p) != NULL)
			out[strcspn(out, "\n")] = '\0';
	}
	while (fgetc(p) != EOF)
		;
	rc = pclose(p);
	return rc == 0 ? 0 : -1;
}

#endif
