/* collector/atlas_cli.c - "anycast-collector atlas import": files read with
 * mmap, results parsed against the inventory's services, each chunk of
 * records stored in one transaction, one probe's records at a time (the
 * store's idempotent (agent, seq) insert makes a repeated import store
 * nothing twice). Parsing costs more than storing: a large file of JSON
 * lines is cut in two at a line boundary and the second part parsed by a
 * second thread; the store takes one chunk at a time under a mutex. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "collector/atlas_send.h"
#include "collector/cli_token.h"
#include "collector/collector.h"
#include "collector/store.h"

#define PROG "anycast-collector atlas"

/* Files of JSON lines at least this large are parsed by two threads. */
#define SPLIT_MIN (1u << 20)

struct cli {
	pthread_mutex_t mu; /* the store, the counts and flags below */
	const struct inventory *inv;
	struct store *st;
	int verbose;
	size_t stored, duplicates;
	unsigned char *flags; /* ATLAS_IMPORT_CHUNK + ATLAS_SUB_MAX */
	char err[256];
};

static int store_chunk(void *ctx, const struct result *r, size_t n)
{
	struct cli *c = ctx;
	int64_t now = time_now_ms();
	size_t i = 0, j;
	int rc;

	pthread_mutex_lock(&c->mu);
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
	if ((rc = store_commit(c->st)) == 0) {
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
fail:
	snprintf(c->err, sizeof(c->err), "%s", store_errmsg(c->st));
	pthread_mutex_unlock(&c->mu);
	return rc < 0 ? rc : -EIO;
}

struct part {
	struct atlas_import im;
	const char *path, *text;
	size_t len;
	int rc;
};

static void *part_run(void *arg)
{
	struct part *p = arg;

	p->rc = atlas_import_text(&p->im, p->path, p->text, p->len);
	if (p->rc == 0)
		p->rc = atlas_import_flush(&p->im);
	return NULL;
}

/* text in two parts at a line boundary, the second parsed by a thread;
 * one part when it is small, an array, or has no line boundary. */
static int import_parts(struct atlas_import *im, const char *path, const char *t, size_t len,
                        struct cli *c)
{
	struct part b = {.path = path};
	const char *nl;
	size_t i = 0, mid, lines = 0;
	pthread_t th;
	int rc;

	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'))
		i++;
	if (len < SPLIT_MIN || (i < len && t[i] == '[') ||
	    (nl = memchr(t + len / 2, '\n', len - len / 2)) == NULL)
		return atlas_import_text(im, path, t, len);
	mid = (size_t)(nl - t) + 1;
	for (const char *p = t; (p = memchr(p, '\n', (size_t)(t + mid - p))) != NULL; p++)
		lines++;
	if (atlas_import_init(&b.im, c->inv, store_chunk, im->skip, c) != 0)
		return atlas_import_text(im, path, t, len);
	b.im.index_offset = lines;
	b.text = t + mid;
	b.len = len - mid;
	if (pthread_create(&th, NULL, part_run, &b) != 0) {
		atlas_import_free(&b.im);
		return atlas_import_text(im, path, t, len);
	}
	rc = atlas_import_text(im, path, t, mid);
	pthread_join(th, NULL);
	atlas_import_merge(&im->stats, &b.im.stats);
	atlas_import_free(&b.im);
	return rc != 0 ? rc : b.rc;
}

static void on_skip(void *ctx, const char *file, size_t index, const char *why)
{
	struct cli *c = ctx;

	if (c->verbose)
		fprintf(stderr, "%s: result %zu skipped: %s\n", file, index, why);
}

static int import_file(struct atlas_import *im, const char *path, struct cli *c)
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
	rc = import_parts(im, path, map, (size_t)sb.st_size, c);
	munmap(map, (size_t)sb.st_size);
	if (rc != 0)
		fprintf(stderr, PROG ": %s: database: %s\n", path, c->err);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: " PROG " import --url URL --token-file FILE [--verbose] FILE...\n"
	                "       " PROG " import --config INVENTORY [--db FILE] [--verbose] FILE...\n");
	return 2;
}

/* --url: to a running collector, with an "atlas: true" agent's token. */
static int send_main(const char *url, const char *token_file, int verbose, char **files, int n)
{
	char token[4096], err[512];

	if (token_file == NULL) {
		fprintf(stderr, PROG ": --url needs --token-file (see --help)\n");
		return 2;
	}
	if (cli_read_token(token_file, token, sizeof(token), err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	return atlas_send_files(url, token, verbose, files, n);
}

int atlas_cli_main(int argc, char **argv)
{
	const char *config = NULL, *db = NULL, *url = NULL, *token_file = NULL;
	char **files = NULL;
	int nfiles = 0;
	struct store_options so = {.sync = STORE_SYNC_NORMAL};
	struct inventory *inv = NULL;
	struct atlas_import im;
	struct cli c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	char err[512];
	int i, first = 0, rc = 2;

	if (argc < 2 || strcmp(argv[1], "import") != 0)
		return usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--token-file") == 0 && i + 1 < argc)
			token_file = argv[++i];
		else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
			c.verbose = 1;
		else if (argv[i][0] == '-')
			return usage();
		else if (first == 0)
			first = i;
	}
	if (first == 0 || (url != NULL) == (config != NULL))
		return usage();
	if (url != NULL) {
		if ((files = calloc((size_t)argc, sizeof(*files))) == NULL)
			return 2;
		for (i = first; i < argc; i++) {
			if (argv[i][0] == '-') {
				i += strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--token-file") == 0;
				continue;
			}
			files[nfiles++] = argv[i];
		}
		rc = send_main(url, token_file, c.verbose, files, nfiles);
		free(files);
		return rc;
	}
	if ((inv = inventory_load(config, err, sizeof(err))) == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	c.inv = inv;
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
		printf("  skipped %zu: %s\n", im.stats.reasons[k].count,
		       im.stats.reasons[k].reason);
	rc = im.stats.skipped > 0 ? 1 : 0;
out_im:
	atlas_import_free(&im);
out:
	free(c.flags);
	store_close(c.st);
	inventory_free(inv);
	return rc;
}
