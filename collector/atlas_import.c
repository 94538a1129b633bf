/* collector/atlas_import.c - a stream of Atlas results out of one text (a
 * JSON array or JSON lines), one value parsed at a time with jansson (a
 * day of results never sits in memory as one JSON tree), records sorted by
 * vantage point and handed on in chunks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/atlas_import.h"
#include "collector/atlas_result.h"

int atlas_import_init(struct atlas_import *im, const struct inventory *inv, atlas_records_fn fn,
                      atlas_skip_fn skip, void *ctx)
{
	memset(im, 0, sizeof(*im));
	im->inv = inv;
	im->records = fn;
	im->skip = skip;
	im->ctx = ctx;
	return 0;
}

/* Room for one more result's records. */
static int reserve(struct atlas_import *im)
{
	size_t cap = im->cap ? im->cap * 2 : 256;
	struct result *nb;

	if (im->n + ATLAS_SUB_MAX <= im->cap)
		return 0;
	if (cap > ATLAS_IMPORT_CHUNK + ATLAS_SUB_MAX)
		cap = ATLAS_IMPORT_CHUNK + ATLAS_SUB_MAX;
	if ((nb = realloc(im->buf, cap * sizeof(*nb))) == NULL)
		return -ENOMEM;
	im->buf = nb;
	im->cap = cap;
	return 0;
}

void atlas_import_free(struct atlas_import *im)
{
	free(im->buf);
	im->buf = NULL;
}

static int by_agent_seq(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	int c = strcmp(x->agent, y->agent);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int atlas_import_flush(struct atlas_import *im)
{
	int rc = 0;

	if (im->n == 0)
		return 0;
	qsort(im->buf, im->n, sizeof(*im->buf), by_agent_seq);
	if (im->records != NULL)
		rc = im->records(im->ctx, im->buf, im->n);
	im->n = 0;
	return rc;
}

static void count_reason(struct atlas_import_stats *st, const char *why, size_t count)
{
	size_t i;
	/* Each distinct text apart; past the bound the last slot becomes "other". */
	for (i = 0; i < st->n_reasons; i++)
		if (strcmp(st->reasons[i].reason, why) == 0)
			break;
	if (i == st->n_reasons) {
		if (st->n_reasons == ATLAS_IMPORT_REASONS)
			i = ATLAS_IMPORT_REASONS - 1; /* the last slot collects the rest */
		else
			snprintf(st->reasons[st->n_reasons++].reason, sizeof(st->reasons[0].reason),
			         "%s", why);
		if (i == ATLAS_IMPORT_REASONS - 1 && strcmp(st->reasons[i].reason, why) != 0)
			snprintf(st->reasons[i].reason, sizeof(st->reasons[0].reason), "other");
	}
	st->reasons[i].count += count;
}

static void count_skip(struct atlas_import *im, const char *name, size_t index, const char *why)
{
	im->stats.skipped++;
	if (im->skip != NULL)
		im->skip(im->ctx, name, index - im->file_base + im->index_offset, why);
	count_reason(&im->stats, why, 1);
}

void atlas_import_merge(struct atlas_import_stats *dst, const struct atlas_import_stats *src)
{
	dst->results += src->results;
	dst->records += src->records;
	dst->skipped += src->skipped;
	for (size_t i = 0; i < src->n_reasons; i++)
		count_reason(dst, src->reasons[i].reason, src->reasons[i].count);
}

static int one(struct atlas_import *im, const char *name, const json_t *o)
{
	char why[256];
	int n;

	if (reserve(im) != 0)
		return -ENOMEM;
	im->stats.results++;
	n = atlas_result_parse(o, im->inv, im->buf + im->n, ATLAS_SUB_MAX, why, sizeof(why));
	if (n < 0) {
		count_skip(im, name, im->stats.results, why);
		return 0;
	}
	im->n += (size_t)n;
	im->stats.records += (size_t)n;
	return im->n >= ATLAS_IMPORT_CHUNK ? atlas_import_flush(im) : 0;
}

static size_t skip_space(const char *t, size_t len, size_t p)
{
	while (p < len && (t[p] == ' ' || t[p] == '\t' || t[p] == '\r' || t[p] == '\n'))
		p++;
	return p;
}

int atlas_import_text(struct atlas_import *im, const char *name, const char *t, size_t len)
{
	size_t p = skip_space(t, len, 0);
	int array = p < len && t[p] == '[', rc;
	json_error_t e;

	im->file_base = im->stats.results;
	if (array)
		p = skip_space(t, len, p + 1);
	while (p < len) {
		json_t *o;

		if (array && t[p] == ']')
			return 0;
		o = json_loadb(t + p, len - p, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &e);
		if (o == NULL) {
			char why[256];
			const char *nl;

			im->stats.results++;
			snprintf(why, sizeof(why), "invalid JSON: %s", e.text);
			count_skip(im, name, im->stats.results, why);
			if (array)
				return 0;
			if ((nl = memchr(t + p, '\n', len - p)) == NULL)
				return 0;
			p = skip_space(t, len, (size_t)(nl - t) + 1);
			continue;
		}
		p += e.position;
		rc = one(im, name, o);
		json_decref(o);
		if (rc != 0)
			return rc;
		p = skip_space(t, len, p);
		if (array && p < len && t[p] == ',')
			p = skip_space(t, len, p + 1);
	}
	return 0;
}
