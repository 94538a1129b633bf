/* collector/status_impl.h - what the files of "anycast-collector status" share:
 * sanitised text that fits a width, tables narrowed to the terminal, colours, and
 * the three sections (incidents, matrix, events). Internal to the status command. */
#ifndef ANYCAST_STATUS_IMPL_H
#define ANYCAST_STATUS_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "collector/status_cli.h"

#define CELL_MAX 192
#define RESOLVED_SHOWN 3        /* recently resolved incidents shown after the open ones */
#define GAP 2                   /* spaces between columns */
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, one column */

/* colour of a cell */
enum ink {
	INK_NONE = 0,
	INK_HEAD,
	INK_OUTAGE,
	INK_UNKNOWN,
	INK_SPLIT,
	INK_SILENT,
	INK_CRITICAL,
	INK_WARNING,
	INK_RESOLVED
};

/* Row 0 is the header. Cells are filled by the caller; table_fit narrows the
 * columns until a line fits, table_print writes them, cutting what is too long. */
struct table {
	size_t ncol, nrow;
	char (*cell)[CELL_MAX]; /* nrow * ncol */
	unsigned char *ink;     /* enum ink per cell */
	int *w, *minw;
};

/* ---- text (status_text.c) ---- */

void status_sanitise(char *dst, size_t dstlen, const char *src);
int status_text_width(const char *s);
void status_pad(FILE *out, int n);
void status_put_fit(FILE *out, const char *s, int w, int fill);
const char *status_jstr(const json_t *o, const char *key);
int status_jfamily(const json_t *o);
void status_fmt_rtt(char *buf, size_t len, const json_t *v);
void status_fmt_duration(char *buf, size_t len, int64_t s);
void status_fmt_time(char *buf, size_t len, const char *rfc3339);
int64_t status_seconds_since(const char *rfc3339, int64_t until_ms);
const char *status_ink_code(enum ink k);
void status_heading(FILE *out, int color, const char *title, const char *rest);
int status_table_init(struct table *t, size_t ncol, size_t nrow);
void status_table_free(struct table *t);
char *status_table_cell(struct table *t, size_t r, size_t c);
size_t status_table_fit(struct table *t, int width);
void status_table_print(FILE *out, const struct table *t, size_t shown, int color);

/* ---- sections; each returns 0, or -ENOMEM ---- */

/* Open incidents, then the RESOLVED_SHOWN most recently resolved. */
int status_render_incidents(FILE *out, const struct status_view *v, int width);
/* Agents x (service, family) with the instance each reaches and its marks. */
int status_render_matrix(FILE *out, const json_t *rows, int width, int color, int64_t now_ms);
/* The latest events, newest first. */
int status_render_events(FILE *out, const json_t *evs, int width, int color);

#endif
