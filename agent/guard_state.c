/* agent/guard_state.c - rise/fall counting and the flap hold-down (see guard_state.h). */
#include "agent/guard_state.h"

void guard_params_default(struct guard_params *p)
{
	p->rise = 5;
	p->fall = 3;
	p->hold_base_ms = 10 * 1000;
	p->hold_max_ms = 10 * 60 * 1000;
	p->flap_window_ms = 10 * 60 * 1000;
}

void guard_state_init(struct guard_state *s)
{
	s->state = GUARD_ANNOUNCED;
	s->ok_run = 0;
	s->fail_run = 0;
	s->flaps = 0;
	s->changed_ms = 0;
	s->hold_ms = 0;
}

static int64_t hold_for(const struct guard_params *p, int flaps)
{
	int64_t h = p->hold_base_ms;

	if (flaps <= 0)
		return 0;
	/* Double per flap beyond the first, stopping at the cap (no overflow). */
	for (int i = 1; i < flaps && h < p->hold_max_ms; i++)
		h *= 2;
	return h > p->hold_max_ms ? p->hold_max_ms : h;
}

int64_t guard_state_hold_left(const struct guard_state *s, int64_t now_ms)
{
	int64_t end;

	if (s->state != GUARD_WITHDRAWN)
		return 0;
	end = s->changed_ms + s->hold_ms;
	return now_ms < end ? end - now_ms : 0;
}

static enum guard_decision step_announced(struct guard_state *s, const struct guard_params *p,
					  int64_t now_ms)
{
	/* Stable long enough: earlier flaps no longer count. */
	if (s->flaps > 0 && now_ms - s->changed_ms >= p->flap_window_ms)
		s->flaps = 0;
	if (s->fail_run < p->fall)
		return GUARD_NONE;
	if (s->changed_ms != 0 && now_ms - s->changed_ms < p->flap_window_ms)
		s->flaps++;
	s->hold_ms = hold_for(p, s->flaps);
	s->state = GUARD_WITHDRAWN;
	s->changed_ms = now_ms;
	s->ok_run = 0;
	return GUARD_WITHDRAW;
}

static enum guard_decision step_withdrawn(struct guard_state *s, const struct guard_params *p,
					  int64_t now_ms)
{
	if (s->ok_run < p->rise || guard_state_hold_left(s, now_ms) > 0)
		return GUARD_NONE;
	s->state = GUARD_ANNOUNCED;
	s->changed_ms = now_ms;
	s->fail_run = 0;
	return GUARD_RESTORE;
}

enum guard_decision guard_state_step(struct guard_state *s, const struct guard_params *p, int ok,
				     int64_t now_ms)
{
	if (ok) {
		s->ok_run++;
		s->fail_run = 0;
	} else {
		s->fail_run++;
		s->ok_run = 0;
	}
	switch (s->state) {
	case GUARD_ANNOUNCED:
		return step_announced(s, p, now_ms);
	case GUARD_WITHDRAWN:
		return step_withdrawn(s, p, now_ms);
	}
	return GUARD_NONE;
}
