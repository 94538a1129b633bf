/* collector/status_cli.h - "anycast-collector status": the catchment matrix and latest events as text */
#ifndef ANYCAST_STATUS_CLI_H
#define ANYCAST_STATUS_CLI_H

#include <stdio.h>
#include <jansson.h>

/* Entry point of `anycast-collector status [--url URL] [--json] [--token-file F]
 * [--events N]`. argv[0] is the subcommand (or the program name followed by
 * "status"). Fetches GET /api/v1/catchments and /api/v1/events from the
 * collector (default http://127.0.0.1:8053) with libcurl, blocking, and prints
 * them as aligned text, or as one JSON object {"catchments": [...],
 * "events": [...]} with --json. Returns the process exit status: 0, 1 when
 * the collector cannot be reached or answers an error (one-line reason on
 * stderr), 2 on bad usage. */
int status_cli_main(int argc, char **argv);

/* Write the text view of the two API answers (borrowed; either may be NULL)
 * to out: the matrix of agents x services with instance names and marks for
 * outage, unknown instance, split, sub-optimal and flapping, then the events
 * newest first. Strings from the collector are sanitised (no control
 * characters reach the terminal). color != 0 adds ANSI colours. Returns 0,
 * or -EIO when writing failed. */
int status_cli_render(FILE *out, const json_t *catchments, const json_t *events, int color);

#endif
