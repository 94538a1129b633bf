/* tests/agent/test_guard_state.c - the guard's rise/fall counting and the
 * exponential flap hold-down, on virtual time. */
#include <criterion/criterion.h>

#include "agent/guard_state.h"

static struct guard_params params(void)
{
	struct guard_params p = { .rise = 5, .fall = 3, .hold_base_ms = 10000, .hold_max_ms = 40000,
				  .flap_window_ms = 600000 };
	return p;
}

/* Feed n identical verdicts one second apart from *now; return the last
 * non-NONE decision and the step (1-based) it came at in *at. */
static enum guard_decision feed(struct guard_state *s, const struct guard_params *p, int ok, int n,
				int64_t *now, int *at)
{
	enum guard_decision last = GUARD_NONE;

	*at = 0;
	for (int i = 1; i <= n; i++) {
		enum guard_decision d = guard_state_step(s, p, ok, *now);

		*now += 1000;
		if (d != GUARD_NONE) {
			last = d;
			*at = i;
		}
	}
	return last;
}

TestSuite(guard_state);

Test(guard_state, withdraws_after_fall_failures)
{
	struct guard_params p = params();
	struct guard_state s;
	int64_t now = 1000;
	int at;

	guard_state_init(&s);
	cr_assert_eq(feed(&s, &p, 1, 10, &now, &at), GUARD_NONE);
	cr_assert_eq(feed(&s, &p, 0, 2, &now, &at), GUARD_NONE);
	cr_assert_eq(s.state, GUARD_ANNOUNCED);
	cr_assert_eq(feed(&s, &p, 0, 1, &now, &at), GUARD_WITHDRAW);
	cr_assert_eq(s.state, GUARD_WITHDRAWN);
	/* Further failures do not withdraw twice. */
	cr_assert_eq(feed(&s, &p, 0, 5, &now, &at), GUARD_NONE);
}

Test(guard_state, one_success_resets_the_failure_count)
{
	struct guard_params p = params();
	struct guard_state s;
	int64_t now = 1000;
	int at;

	guard_state_init(&s);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(feed(&s, &p, 0, 2, &now, &at), GUARD_NONE);
		cr_assert_eq(feed(&s, &p, 1, 1, &now, &at), GUARD_NONE);
	}
	cr_assert_eq(s.state, GUARD_ANNOUNCED);
}

Test(guard_state, restores_after_rise_successes_without_hold_down)
{
	struct guard_params p = params();
	struct guard_state s;
	int64_t now = 1000;
	int at;

	guard_state_init(&s);
	cr_assert_eq(feed(&s, &p, 0, 3, &now, &at), GUARD_WITHDRAW);
	cr_assert_eq(s.hold_ms, 0, "the first withdrawal is not a flap");
	cr_assert_eq(feed(&s, &p, 1, 4, &now, &at), GUARD_NONE);
	cr_assert_eq(feed(&s, &p, 0, 1, &now, &at), GUARD_NONE, "a failure restarts the rise count");
	cr_assert_eq(feed(&s, &p, 1, 5, &now, &at), GUARD_RESTORE);
	cr_assert_eq(at, 5);
	cr_assert_eq(s.state, GUARD_ANNOUNCED);
}

Test(guard_state, flapping_doubles_the_hold_down_up_to_the_cap)
{
	struct guard_params p = params();
	struct guard_state s;
	int64_t now = 1000;
	int64_t expect[] = { 0, 10000, 20000, 40000, 40000 };
	int at;

	guard_state_init(&s);
	for (int round = 0; round < 5; round++) {
		int64_t withdrawn_at;

		cr_assert_eq(feed(&s, &p, 0, 3, &now, &at), GUARD_WITHDRAW, "round %d", round);
		withdrawn_at = now - 1000;
		cr_assert_eq(s.hold_ms, expect[round], "round %d: hold %lld", round,
			     (long long)s.hold_ms);
		/* Healthy again at once: the restore waits for rise and the hold-down. */
		cr_assert_eq(feed(&s, &p, 1, 100, &now, &at), GUARD_RESTORE);
		int64_t restored_at = withdrawn_at + (int64_t)at * 1000;
		int64_t min_wait = expect[round] > 5000 ? expect[round] : 5000;
		cr_assert_geq(restored_at - withdrawn_at, min_wait, "round %d", round);
		cr_assert_leq(restored_at - withdrawn_at, min_wait + 1000, "round %d", round);
	}
	cr_assert_eq(s.flaps, 4);
}

Test(guard_state, a_stable_service_forgets_its_flaps)
{
	struct guard_params p = params();
	struct guard_state s;
	int64_t now = 1000;
	int at;

	guard_state_init(&s);
	for (int i = 0; i < 3; i++) {
		feed(&s, &p, 0, 3, &now, &at);
		feed(&s, &p, 1, 100, &now, &at);
	}
	cr_assert_eq(s.flaps, 2);
	now += p.flap_window_ms;
	cr_assert_eq(feed(&s, &p, 1, 1, &now, &at), GUARD_NONE);
	cr_assert_eq(s.flaps, 0);
	cr_assert_eq(feed(&s, &p, 0, 3, &now, &at), GUARD_WITHDRAW);
	cr_assert_eq(s.hold_ms, 0);
}

Test(guard_state, hold_left_counts_down)
{
	struct guard_params p = params();
	struct guard_state s;
	int64_t now = 1000;
	int at;

	guard_state_init(&s);
	feed(&s, &p, 0, 3, &now, &at);
	feed(&s, &p, 1, 5, &now, &at);
	feed(&s, &p, 0, 3, &now, &at);
	cr_assert_eq(s.hold_ms, 10000);
	cr_assert_eq(guard_state_hold_left(&s, s.changed_ms), 10000);
	cr_assert_eq(guard_state_hold_left(&s, s.changed_ms + 4000), 6000);
	cr_assert_eq(guard_state_hold_left(&s, s.changed_ms + 20000), 0);
}

Test(guard_state, defaults)
{
	struct guard_params p;

	guard_params_default(&p);
	cr_assert_eq(p.rise, 5);
	cr_assert_eq(p.fall, 3);
	cr_assert_gt(p.hold_max_ms, p.hold_base_ms);
}
