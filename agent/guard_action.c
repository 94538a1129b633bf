/* agent/guard_action.c - apply a withdraw/restore with the service's action. */
#include "agent/guard_action.h"

#include <stdio.h>
#include <string.h>

#define COMMAND_TIMEOUT_MS 5000

static enum guard_action_result bird(const struct guard_service *s, int withdrawn, char *msg,
				     size_t msglen)
{
	char cmd[128], text[256];
	int code;

	snprintf(cmd, sizeof(cmd), "%s %s", withdrawn ? "disable" : "enable", s->bird_protocol);
	code = guard_bird_command(s->bird_socket, cmd, text, sizeof(text));
	snprintf(msg, msglen, "bird %s: %s: %04d %s", s->bird_socket, cmd, code < 0 ? 0 : code, text);
	/* 0008 already disabled, 0009 disabled, 0010 already enabled, 0011 enabled. */
	if (code == (withdrawn ? 9 : 11))
		return GUARD_ACTION_CHANGED;
	if (code == (withdrawn ? 8 : 10))
		return GUARD_ACTION_ALREADY;
	if (code < 0)
		snprintf(msg, msglen, "bird %s: %s: %s", s->bird_socket, cmd, text);
	return GUARD_ACTION_FAILED;
}

static enum guard_action_result address(const struct guard_service *s, int withdrawn, char *msg,
					size_t msglen)
{
	int rc = guard_address_set(s->interface, s->anycast, s->prefix_len, !withdrawn);

	snprintf(msg, msglen, "%s %s/%d %s %s%s%s", withdrawn ? "remove" : "add", s->anycast,
		 s->prefix_len, withdrawn ? "from" : "to", s->interface, rc < 0 ? ": " : "",
		 rc < 0 ? strerror(-rc) : rc == 1 ? " (already so)" : "");
	return rc < 0 ? GUARD_ACTION_FAILED : rc == 1 ? GUARD_ACTION_ALREADY : GUARD_ACTION_CHANGED;
}

static enum guard_action_result command(const struct guard_service *s, int withdrawn, char *msg,
					size_t msglen)
{
	int rc;

	/* An optional check says whether the state already is as wanted
	 * (exit 0: restored), so a re-assertion does not rerun the command. */
	if (s->check.argc) {
		char why[256];
		int st = guard_command_run(&s->check, COMMAND_TIMEOUT_MS, why, sizeof(why));

		if (st >= 0 && (st == 0) == !withdrawn) {
			snprintf(msg, msglen, "check: %s (already so)", why);
			return GUARD_ACTION_ALREADY;
		}
	}
	rc = guard_command_run(withdrawn ? &s->withdraw : &s->restore, COMMAND_TIMEOUT_MS, msg, msglen);
	return rc == 0 ? GUARD_ACTION_CHANGED : GUARD_ACTION_FAILED;
}

enum guard_action_result guard_action_apply(const struct guard_service *s, int withdrawn,
					    int dry_run, char *msg, size_t msglen)
{
	if (dry_run) {
		snprintf(msg, msglen, "dry run: would %s %s with action %s", withdrawn ? "withdraw" : "restore",
			 s->name, guard_action_name(s->action));
		return GUARD_ACTION_ALREADY;
	}
	switch (s->action) {
	case GUARD_ACTION_BIRD: return bird(s, withdrawn, msg, msglen);
	case GUARD_ACTION_ADDRESS: return address(s, withdrawn, msg, msglen);
	case GUARD_ACTION_COMMAND: return command(s, withdrawn, msg, msglen);
	}
	snprintf(msg, msglen, "unknown action");
	return GUARD_ACTION_FAILED;
}
