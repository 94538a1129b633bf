/* agent/guard.h - anycast-agent --guard: probe the local instance of each
 * guarded service every interval, feed guard_state, withdraw/restore with the
 * service's action (retried with backoff when it fails, re-asserted every
 * reassert interval so that a restarted routing daemon gets the wanted state
 * back), one log line per change and one JSON line per action on stdout. */
#ifndef ANYCAST_GUARD_H
#define ANYCAST_GUARD_H

#include <uv.h>
#include "agent/guard_config.h"

struct guard;

/* Copies cfg. dry_run != 0: log actions, change nothing. NULL on alloc failure. */
struct guard *guard_new(uv_loop_t *loop, const struct guard_config *cfg, int dry_run);
/* Report every withdrawal and restoration through rep (borrowed: it must
 * outlive g; NULL: none). */
struct guard_reporter;
void guard_set_reporter(struct guard *g, struct guard_reporter *rep);
/* Start the probe timer. 0 or a negative UV error. */
int guard_start(struct guard *g);
/* Stop; cb runs once every handle is closed and g is freed. */
void guard_close(struct guard *g, void (*cb)(void *arg), void *arg);

/* anycast-agent --guard FILE: load the file, then run the guard until
 * SIGTERM/SIGINT (check != 0: only validate the file). Exit status. */
int guard_run(const char *path, int dry_run, int check);

#endif
