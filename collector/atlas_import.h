/* collector/atlas_import.h - RIPE Atlas result files (a JSON array, or one
 * result per line, as Atlas downloads and the results API give them) read
 * as a stream of results, parsed into records (collector/atlas_result.h)
 * and handed on in bounded chunks; skipped results are counted by reason. */
#ifndef ANYCAST_ATLAS_IMPORT_H
#define ANYCAST_ATLAS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/inventory.h"
#include "common/result.h"

#define ATLAS_IMPORT_REASONS 32  /* distinct reasons counted; more go under "other" */
#define ATLAS_IMPORT_CHUNK 65536 /* records handed on at once */

struct atlas_import_stats {
	size_t results; /* Atlas results read (good and bad) */
	size_t records; /* records they gave */
	size_t skipped; /* results skipped */
	size_t n_reasons;
	struct {
		char reason[128];
		size_t count;
	} reasons[ATLAS_IMPORT_REASONS];
};

/* Records ready (sorted by agent, then seq; valid during the call). Returns
 * 0 to go on, or negative to stop the import with that code. */
typedef int (*atlas_records_fn)(void *ctx, const struct result *r, size_t n);
/* A skipped result (file, 1-based result number in it, reason); may be NULL. */
typedef void (*atlas_skip_fn)(void *ctx, const char *file, size_t index, const char *why);

struct atlas_import {
	const struct inventory *inv; /* borrowed */
	atlas_records_fn records;
	atlas_skip_fn skip;
	void *ctx;
	struct atlas_import_stats stats;
	struct result *buf; /* owned, grown up to ATLAS_IMPORT_CHUNK + ATLAS_SUB_MAX */
	size_t n, cap;
	size_t file_base;    /* stats.results when the current text began */
	size_t index_offset; /* added to result numbers in skips (a text's second part) */
};

/* Set up (0; memory is taken as records come) and release. */
int atlas_import_init(struct atlas_import *im, const struct inventory *inv, atlas_records_fn fn,
                      atlas_skip_fn skip, void *ctx);
void atlas_import_free(struct atlas_import *im);

/* Feed one file's text (name for messages). Invalid JSON inside a line skips
 * that line; inside an array it ends the file (counted as one skip). Returns
 * 0, -ENOMEM, or the negative code of the records callback. */
int atlas_import_text(struct atlas_import *im, const char *name, const char *text, size_t len);
/* Add src's counts to dst's (src is then left as it was). */
void atlas_import_merge(struct atlas_import_stats *dst, const struct atlas_import_stats *src);
/* Hand on the records still held. 0 or the callback's code. */
int atlas_import_flush(struct atlas_import *im);

#endif
