/* agent/guard_reporter.h - the guard tells the collector what it did: each
 * withdrawal and restoration becomes one record in the guard's own spool
 * (made durable before anything else happens), sent by the agent's reporter
 * as POST /api/v1/guard ({"actions": [...]}) with the guard's token, retried
 * with backoff until the collector acknowledges it, and kept across restarts:
 * an action taken while the collector is unreachable is not lost. */
#ifndef ANYCAST_GUARD_REPORTER_H
#define ANYCAST_GUARD_REPORTER_H

#include <stdint.h>
#include <uv.h>

#include "agent/guard_config.h"

struct guard_reporter;

/* Set up reporting for cfg (cfg->collector must be set): token, spool,
 * libcurl. Start-up only: exits with a one-line reason on failure. cfg is
 * copied. */
struct guard_reporter *guard_reporter_new(uv_loop_t *loop, const struct guard_config *cfg);
/* One action of service s at time_ms (Unix ms): withdraw 1 or restore 0,
 * applied 0 when the routing action failed. reason may be "" for a restore.
 * Spooled and synced before this returns; 0 or -errno (logged). */
int guard_reporter_action(struct guard_reporter *gr, const struct guard_service *s, int withdraw,
			  int applied, const char *reason, int64_t time_ms);
/* 1 when the last action reported for s (in this run or an earlier one: the
 * spool directory remembers) was a withdrawal, else 0. A guard that starts
 * by announcing such a service reports the restore. */
int guard_reporter_withdrawn(const struct guard_reporter *gr, const struct guard_service *s);
/* Send what waits (at most timeout_ms), then free everything; cb runs once
 * on the loop. What was not sent stays spooled for the next start. */
void guard_reporter_close(struct guard_reporter *gr, int64_t timeout_ms, void (*cb)(void *arg),
			  void *arg);

#endif
