/* collector/atlas_result.h - one RIPE Atlas measurement result (Atlas's
 * published JSON result format, types "dns" and "ntp") turned into result
 * records of the vantage point "atlas:PRB_ID": the DNS answer in "abuf" is
 * decoded with ldns, the identity taken from the EDNS NSID option or the
 * CHAOS TXT answer (id.server, hostname.bind), the service found by dst_addr
 * and the instance by the service's configured identities. Pure logic: no
 * I/O. The format and the sequence numbers are documented in docs/ATLAS.md. */
#ifndef ANYCAST_ATLAS_RESULT_H
#define ANYCAST_ATLAS_RESULT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/inventory.h"
#include "common/result.h"

#define ATLAS_AGENT_PREFIX "atlas:"
/* Records one Atlas result may give (entries of resultset[]). */
#define ATLAS_SUB_MAX 16

/* Whether an agent name is an Atlas vantage point ("atlas:..."). */
int atlas_is_vantage(const char *agent);

/* The stable per-vantage sequence number of entry sub (0..ATLAS_SUB_MAX-1)
 * of the result of measurement msm_id at timestamp (Unix seconds):
 * timestamp << 24 | (msm_id mod 2^20) << 4 | sub. Increasing with time, so
 * after_seq and last_seq keep their meaning; the same result always gets
 * the same number, which makes a repeated import store nothing twice. */
uint64_t atlas_seq(int64_t timestamp, int64_t msm_id, unsigned sub);

/* Parse one Atlas result object into at most max records (out[0..]),
 * filled completely (agent "atlas:PRB_ID", service by dst_addr, seq,
 * round, time, outcome, identity, instance or "" when no configured
 * identity matches). Returns the number of records (>= 1), or -1 when the
 * result is skipped, with a one-line reason in why ("missing field
 * prb_id", "invalid base64 in abuf", "unknown type \"ping\"", ...).
 * Timeouts and errors of the probe itself are records (outcome timeout,
 * unreachable, malformed), not skips. */
int atlas_result_parse(const json_t *obj, const struct inventory *inv, struct result *out,
                       size_t max, char *why, size_t whylen);

#endif
