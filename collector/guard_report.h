/* collector/guard_report.h - what a guard (anycast-agent --guard on an
 * anycast server) reports: each withdrawal and restoration of its instance,
 * as POST /api/v1/guard carries them (docs/API.md). Pure validation: body
 * text and the inventory in, actions out. */
#ifndef ANYCAST_GUARD_REPORT_H
#define ANYCAST_GUARD_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/inventory.h"
#include "common/result.h"

#define GUARD_REPORT_MAX_ACTIONS 1000 /* actions per POST */
#define GUARD_REASON_MAX 256          /* reason text, NUL included */

struct guard_action {
	uint64_t seq;                      /* the guard's sequence number, from 1 */
	int64_t time_ms;                   /* when the guard decided */
	char service[RESULT_NAME_MAX];
	char instance[RESULT_NAME_MAX];
	int withdraw;                      /* 1 withdraw, 0 restore */
	int applied;                       /* 0: the routing action failed (retried by the guard) */
	char method[16];                   /* bird | address | command | "" */
	char address[RESULT_ADDR_MAX];     /* the anycast address, "" = not given */
	char reason[GUARD_REASON_MAX];     /* why (withdraw: the failed probes), hidden
	                                      characters replaced by '?' */
};

/* Parse body/len ({"actions": [...], "status": {...}}) from agent a of inv:
 * every action must name a service of inv that has the instance a guards
 * (a->guard), and not be more than a day ahead of now_ms. On success *out
 * (malloc'd, caller frees; NULL when there are none) and *n are set and 0 is
 * returned; otherwise -1 with a one-line reason in msg ("actions[2]: action:
 * must be \"withdraw\" or \"restore\"") and nothing to free. */
int guard_report_parse(const char *body, size_t len, const struct inventory *inv,
		       const struct inv_agent *a, int64_t now_ms, struct guard_action **out,
		       size_t *n, char *msg, size_t msglen);

/* "guard_withdraw" or "guard_restore". */
const char *guard_action_event_type(const struct guard_action *g);

#endif
