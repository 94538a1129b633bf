/* tests/collector/test_store_check.c - a damaged database is noticed: SQLite's
 * reports counted by the watch, PRAGMA quick_check findings for --check-db.
 * Each test runs in its own process (Criterion's default), so each may
 * install the watch before its first database. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "collector/store.h"
#include "collector/store_check.h"

static char dir[256], db[400];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store_check.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/a.db", dir);
}

static void
teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store_check, .init = setup, .fini = teardown, .timeout = 60);

/* A database with n results of one agent, closed cleanly (no WAL left). */
static void
make_db(int n)
{
	static struct result r[50];
	unsigned char stored[50];
	struct store_ingest_out out;
	char err[256] = "";
	struct store *st = store_open(db, NULL, err, sizeof(err));
	struct stat sb;

	cr_assert_not_null(st, "store_open: %s", err);
	for (int b = 0; b < n / 50; b++) {
		for (int i = 0; i < 50; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].seq = (uint64_t)(b * 50 + i + 1);
			r[i].time_ms = 1700000000000 + (int64_t)r[i].seq;
			snprintf(r[i].service, sizeof(r[i].service), "dns");
			snprintf(r[i].address, sizeof(r[i].address), "198.18.255.53");
			r[i].family = 4;
			snprintf(r[i].instance, sizeof(r[i].instance), "site-a");
			snprintf(r[i].identity, sizeof(r[i].identity), "s1.lab with some padding %d", i);
			r[i].outcome = RESULT_OK;
			r[i].rtt_ms = 1.5;
		}
		cr_assert_eq(store_begin(st), 0);
		cr_assert_eq(store_insert_results(st, "branch-1", r, 50, NULL, time_now_ms(), stored,
						  &out), 0);
		cr_assert_eq(store_commit(st), 0);
	}
	store_close(st);
	cr_assert(stat(db, &sb) == 0 && (n < 1000 || sb.st_size > 40 * 4096),
		  "database too small to damage");
}

/* Overwrite the 4 KB pages from..to (1-based) with a byte pattern. */
static void
damage_pages(long from, long to)
{
	char junk[4096];
	int fd = open(db, O_WRONLY);

	cr_assert_geq(fd, 0);
	memset(junk, 0x5a, sizeof(junk));
	for (long p = from; p <= to; p++)
		cr_assert_eq(pwrite(fd, junk, sizeof(junk), (p - 1) * 4096), (ssize_t)sizeof(junk));
	close(fd);
}

static long
pages(void)
{
	struct stat sb;

	cr_assert_eq(stat(db, &sb), 0);
	return (long)(sb.st_size / 4096);
}

struct findings {
	int n;
	char first[512];
};

static void
on_finding(void *arg, const char *text)
{
	struct findings *f = arg;

	if (f->n++ == 0)
		snprintf(f->first, sizeof(f->first), "%s", text);
}

Test(store_check, intact_database_passes_quick_check)
{
	struct findings f = { 0 };
	char err[256] = "";

	make_db(1000);
	cr_assert_eq(store_quick_check(db, 100, on_finding, &f, err, sizeof(err)), 0, "%s %s", err,
		     f.first);
	cr_assert_eq(f.n, 0);
}

Test(store_check, damaged_pages_are_findings)
{
	struct findings f = { 0 };
	char err[256] = "";
	long n;

	make_db(4000);
	n = pages();
	damage_pages(n / 2, n / 2 + 3);
	cr_assert_eq(store_quick_check(db, 100, on_finding, &f, err, sizeof(err)), 1, "%s", err);
	cr_assert_gt(f.n, 0);
}

Test(store_check, not_a_database_and_missing_file)
{
	struct findings f = { 0 };
	char err[256] = "", path[450];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/garbage.db", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	for (int i = 0; i < 65536; i++)
		fputc(i * 7 % 251, fp);
	fclose(fp);
	cr_assert_eq(store_quick_check(path, 100, on_finding, &f, err, sizeof(err)), 1, "%s", err);
	cr_assert_str_eq(f.first, "file is not a database");
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	cr_assert_eq(store_quick_check(path, 100, on_finding, &f, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, strerror(ENOENT));
	cr_assert_neq(access(path, F_OK), 0, "the check created the file");
}

Test(store_check, watch_counts_damage_met_by_a_read)
{
	struct store_watch w;
	struct store_options ro = { .no_migrate = 1 };
	struct store_results_query q = { .agent = "branch-1", .from_ms = INT64_MIN,
					 .to_ms = INT64_MAX, .limit = 1000 };
	char err[256] = "", reason[64];
	struct store *st;
	json_t *a;
	int reads = 0;
	long n;

	memset(&w, 0, sizeof(w));
	cr_assert_eq(store_watch_install(&w), 0);
	store_watch_set_path(&w, db);
	make_db(4000);
	cr_assert_eq(store_watch_damaged(&w, reason, sizeof(reason)), 0, "an intact database");
	cr_assert_str_eq(reason, "");
	/* Every page but the first (header and schema) and the last few. */
	n = pages();
	damage_pages(2, n - 2);
	st = store_open(db, &ro, err, sizeof(err));
	if (st != NULL) {
		/* Page through every result: some read must fail. */
		while ((a = store_query_results(st, &q)) != NULL && json_array_size(a) > 0) {
			q.after_seq = (uint64_t)json_integer_value(
				json_object_get(json_array_get(a, json_array_size(a) - 1), "seq"));
			json_decref(a);
			reads++;
		}
		cr_assert_null(a, "every page read back after %d reads", reads);
		store_close(st);
	}
	cr_assert_gt(store_watch_damaged(&w, reason, sizeof(reason)), 0);
	cr_assert_str_eq(reason, "database disk image is malformed");
}

Test(store_check, watch_cannot_be_installed_once_sqlite_runs)
{
	struct store_watch w;

	make_db(50); /* SQLite is initialised now */
	memset(&w, 0, sizeof(w));
	cr_assert_eq(store_watch_install(&w), -EBUSY);
}
