/* agent/guard_action.h - the guard's withdrawal actions: a BIRD protocol
 * disabled/enabled over BIRD's control socket, the anycast host address
 * removed/added on an interface over rtnetlink, or a withdraw/restore
 * command run without a shell. Each call is bounded in time (a few seconds
 * at most) and blocks the caller for that long. */
#ifndef ANYCAST_GUARD_ACTION_H
#define ANYCAST_GUARD_ACTION_H

#include <stddef.h>
#include "agent/guard_config.h"

enum guard_action_result {
	GUARD_ACTION_CHANGED = 0,  /* the routing state was changed now */
	GUARD_ACTION_ALREADY,      /* it already was as wanted (nothing changed) */
	GUARD_ACTION_FAILED,       /* could not apply it (msg says why) */
};

/* Apply the wanted state (withdrawn != 0: withdraw, else restore) for s.
 * dry_run != 0 only describes what would be done (returns ALREADY).
 * A one-line description of what happened goes into msg. */
enum guard_action_result guard_action_apply(const struct guard_service *s, int withdrawn,
					    int dry_run, char *msg, size_t msglen);

/* Internal to the action files, exported for their tests. */

/* One BIRD control-socket exchange: send "cmd\n" to the socket at path and
 * read the reply up to its last line ("DDDD text", a space after the code).
 * Returns that last line's code (0..9999) with its text in text, or -1 with
 * the reason in text. */
int guard_bird_command(const char *path, const char *cmd, char *text, size_t textlen);

/* Add (add != 0) or remove addr/prefix_len on interface ifname. Returns 0
 * when changed, 1 when it already was so, or a negative errno. */
int guard_address_set(const char *ifname, const char *addr, int prefix_len, int add);

/* Run argv (argv[0] an absolute path) with no shell, stdin from /dev/null,
 * killed after timeout_ms. Returns its exit status (0..255), or -1 (did not
 * start, killed, or signalled) with the reason in msg. */
int guard_command_run(const struct guard_argv *a, int timeout_ms, char *msg, size_t msglen);

#endif
