/* collector/atlas_send.h - "anycast-collector atlas import --url": RIPE Atlas
 * result files sent to a running collector (POST /api/v1/atlas/results) in
 * batches of one result per line. */
#ifndef ANYCAST_ATLAS_SEND_H
#define ANYCAST_ATLAS_SEND_H

#define ATLAS_SEND_RESULTS 5000      /* results per request at most */
#define ATLAS_SEND_BYTES (8u << 20) /* bytes per request at most (below --max-body) */

/* Send every file (a JSON array or JSON lines) to the collector at base_url
 * with the bearer token; prints the summary line the --db import prints,
 * with the skipped results' reasons, and with verbose each skipped result
 * ("FILE: result N skipped: REASON") on stderr. Returns the exit status: 0,
 * 1 when results were skipped, 2 when a file or the collector failed (a
 * one-line reason on stderr). */
int atlas_send_files(const char *base_url, const char *token, int verbose, char **files,
                     int nfiles);

#endif
