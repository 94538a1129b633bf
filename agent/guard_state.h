/* agent/guard_state.h - the guard's rise/fall state machine with an
 * exponential hold-down after repeated flaps. Pure: probe verdicts and a
 * monotonic time in, a decision out; no sockets, no clocks, no globals.
 *
 * Transitions (one call of guard_state_step() per probe round):
 *   ANNOUNCED --fall consecutive failures--> WITHDRAWN   (returns GUARD_WITHDRAW)
 *   WITHDRAWN --rise consecutive successes, and hold-down over--> ANNOUNCED
 *                                                         (returns GUARD_RESTORE)
 * A withdrawal that comes within flap_window_ms of the previous restore is a
 * flap: the hold-down doubles (hold_base_ms, 2x, 4x ... capped at hold_max_ms).
 * A service that stays announced for flap_window_ms forgets its flaps. */
#ifndef ANYCAST_GUARD_STATE_H
#define ANYCAST_GUARD_STATE_H

#include <stdint.h>

enum guard_state_kind { GUARD_ANNOUNCED = 0, GUARD_WITHDRAWN };

enum guard_decision { GUARD_NONE = 0, GUARD_WITHDRAW, GUARD_RESTORE };

struct guard_params {
	int rise;                 /* successes needed to restore, >= 1 */
	int fall;                 /* failures needed to withdraw, >= 1 */
	int64_t hold_base_ms;     /* minimum time withdrawn after a flap, >= 0 */
	int64_t hold_max_ms;      /* cap of the doubled hold-down, >= hold_base_ms */
	int64_t flap_window_ms;   /* a withdrawal this soon after a restore is a flap */
};

struct guard_state {
	enum guard_state_kind state;
	int ok_run;               /* consecutive successes */
	int fail_run;             /* consecutive failures */
	int flaps;                /* withdrawals that came soon after a restore */
	int64_t changed_ms;       /* time of the last transition (0: never) */
	int64_t hold_ms;          /* hold-down of the current withdrawal */
};

/* Defaults: rise 5, fall 3, hold-down 10 s doubling up to 10 min, flap window 10 min. */
void guard_params_default(struct guard_params *p);

/* Start announced, no history. */
void guard_state_init(struct guard_state *s);

/* Feed one probe verdict (ok != 0: the service answered as expected) at
 * monotonic time now_ms. Returns what to do; the state already reflects it. */
enum guard_decision guard_state_step(struct guard_state *s, const struct guard_params *p, int ok,
				     int64_t now_ms);

/* While withdrawn: ms left of the hold-down at now_ms (0 when over or announced). */
int64_t guard_state_hold_left(const struct guard_state *s, int64_t now_ms);

#endif
