/* collector/status_cli.h - "anycast-collector status": incidents, the catchment matrix and latest
 * events as text */
#ifndef ANYCAST_STATUS_CLI_H
#define ANYCAST_STATUS_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#define STATUS_CLI_WIDTH 100 /* the text view fits this many columns, or $COLUMNS when wider */
#define STATUS_CLI_WIDTH_MAX 1000

/* Entry point of `anycast-collector status [--url URL] [--json] [--token-file F]
 * [--events N] [--no-color]`. argv[0] is the subcommand (or the program name
 * followed by "status"). Fetches, from the collector (default
 * http://127.0.0.1:8053) with libcurl, blocking: GET /api/v1/catchments, the
 * open and a few recently resolved incidents (/api/v1/incidents; a collector
 * that answers 404 there has none, and the view goes without them) and
 * /api/v1/events. Prints them as text (status_cli_render, width from
 * $COLUMNS), or as one JSON object {"incidents": [...], "catchments": [...],
 * "events": [...]} with --json ("incidents" only when the collector has them).
 * Returns the process exit status: 0, 1 when the collector cannot be reached
 * or answers an error (one-line reason on stderr), 2 on bad usage. */
int status_cli_main(int argc, char **argv);

/* What status_cli_render draws. The JSON objects are borrowed, any may be
 * NULL: catchments {"catchments": [...]}, events {"events": [...]},
 * open and resolved {"incidents": [...]} (both NULL: the collector keeps no
 * incidents, and the section is left out). */
struct status_view {
	const json_t *catchments;
	const json_t *events;
	const json_t *open;
	const json_t *resolved;
	int width;      /* columns; below STATUS_CLI_WIDTH counts as STATUS_CLI_WIDTH */
	int color;      /* != 0: ANSI colours */
	int64_t now_ms; /* "now" for durations of open incidents and outages */
};

/* Write the text view to out: open incidents (severity, kind, start, how
 * long, agents, summary), then the recently resolved ones with their
 * duration; the matrix of agents x services with instance names and marks
 * for outage, unknown instance, split (every instance with its share), away
 * from home, silent agent, sub-optimal and flapping; then the events newest
 * first. No line is wider than v->width columns: columns are narrowed and
 * long texts cut with an ellipsis. Strings from the collector are sanitised
 * (no control characters reach the terminal). Returns 0, -ENOMEM, or -EIO
 * when writing failed. */
int status_cli_render(FILE *out, const struct status_view *v);

/* The width to draw at: STATUS_CLI_WIDTH, or the value of columns (the
 * $COLUMNS string, may be NULL) when it is a number above it (capped at
 * STATUS_CLI_WIDTH_MAX). */
int status_cli_width(const char *columns);

#endif
