/* collector/atlas_cli.c - "anycast-collector atlas import": files read with
 * mmap, results parsed against the inventory's services, each chunk of
 * records stored in one transaction, one probe's records at a time (the
 * store's idempotent (agent, seq) insert makes a repeated import store
 * nothing twice). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "collector/atlas_cli.h"
#include "collector/atlas_import.h"
#include "collector/atlas_result.h"
#include "collector/collector.h"
#include "collector/store.h"

#define PROG "anycast-collector atlas"

struct cli {
	struct store *st;
	int verbose;
	size_t stored, duplicates;
	unsigned char *flags; /* ATLAS_IMPORT_CHUNK + ATLAS_SUB_MAX */
	char err[256];
};

static int
store_chunk(void *ctx, const struct result *r, size_t n)
{
	struct cli *c = ctx;
	int64_t now = time_now_ms();
	size_t i = 0, j;
	int rc;

	if ((rc = store_begin(c->st)) != 0)
		goto fail;
	while (i < n) {
		struct store_ingest_out out;

		for (j = i + 1; j < n && strcmp(r[j].agent, r[i].agent) == 0; j++)
			;
		rc = store_insert_results(c->st, r[i].agent, r + i, j - i, NULL, now, c->flags + i,
					  &out);
		if (rc != 0) {
			store_rollback(c->st);
			goto fail;
		}
		c->stored += out.stored;
		c->duplicates += out.duplicates;
		i = j;
	}
	if ((rc = store_commit(c->st)) == 0)
		return 0;
fail:
	snprintf(c->err, sizeof(c->err), "%s", store_errmsg(c->st));
	return rc < 0 ? rc : -EIO;
}

static void
on_skip(void *ctx, const char *file, size_t index, const char *why)
{
	struct cli *c = ctx;

	if (c->verbose)
		fprintf(stderr, "%s: result %zu skipped: %s\n", file, index, why);
}

static int
import_file(struct atlas_import *im, const char *path, struct cli *c)
{
	struct stat sb;
	void *map;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sb.st_size == 0) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
	rc = atlas_import_text(im, path, map, (size_t)sb.st_size);
	munmap(map, (size_t)sb.st_size);
	if (rc != 0)
		fprintf(stderr, PROG ": %s: database: %s\n", path, c->err);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: " PROG " import --config INVENTORY [--db FILE] [--verbose] FILE...\n");
	return 2;
}

int
atlas_cli_main(int argc, char **argv)
{
	const char *config = NULL, *db = NULL;
	struct store_options so = { .sync = STORE_SYNC_NORMAL };
	struct inventory *inv = NULL;
	struct atlas_import im;
	struct cli c = { 0 };
	char err[512];
	int i, first = 0, rc = 2;

	if (argc < 2 || strcmp(argv[1], "import") != 0)
		return usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
			c.verbose = 1;
		else if (argv[i][0] == '-')
			return usage();
		else if (first == 0)
			first = i;
	}
	if (config == NULL || first == 0)
		return usage();
	if ((inv = inventory_load(config, err, sizeof(err))) == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	if (db == NULL)
		db = inv->db[0] ? inv->db : COLLECTOR_DEFAULT_DB;
	if ((c.st = store_open(db, &so, err, sizeof(err))) == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", db, err);
		goto out;
	}
	if ((c.flags = malloc(ATLAS_IMPORT_CHUNK + ATLAS_SUB_MAX)) == NULL ||
	    atlas_import_init(&im, inv, store_chunk, on_skip, &c) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	for (i = first; i < argc; i++) {
		if (argv[i][0] == '-') {
			i += strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--db") == 0;
			continue;
		}
		if (import_file(&im, argv[i], &c) != 0)
			goto out_im;
	}
	if (atlas_import_flush(&im) != 0) {
		fprintf(stderr, PROG ": database: %s\n", c.err);
		goto out_im;
	}
	printf("%zu results, %zu records: %zu stored, %zu duplicates, %zu results skipped\n",
	       im.stats.results, im.stats.records, c.stored, c.duplicates, im.stats.skipped);
	for (size_t k = 0; k < im.stats.n_reasons; k++)
		printf("  skipped %zu: %s\n", im.stats.reasons[k].count, im.stats.reasons[k].reason);
	rc = im.stats.skipped > 0 ? 1 : 0;
out_im:
	atlas_import_free(&im);
out:
	free(c.flags);
	store_close(c.st);
	inventory_free(inv);
	return rc;
}
