/* collector/catchment_classify.c - evaluate one complete agent round of one
 * service: management health per instance (instance_down/up across agents),
 * then per address family the catchment state machine (catchment_change with
 * hysteresis, outage, unknown_instance, split, flapping, suboptimal and their
 * recoveries). Pure logic: the round's own times are the clock.
 *
 * Choices worth knowing:
 * - The anycast address "answers" when any of its records of the round got a
 *   reply (ok, rcode, malformed, ambiguous, unknown); only timeouts and
 *   unreachables are silence. A CHAOS query timing out while the service
 *   query answered is therefore no outage.
 * - An anycast record is identified by its instance field; failing that, by
 *   its identity matched against the configured identities, then (DNS only)
 *   against the identities the instances' management addresses gave.
 * - A record with outcome ok, an identity and no instance is an unknown
 *   instance (possible hijack), raised at once.
 * - NTP: outcome ambiguous is an answer without identification. Outcome
 *   unknown with a fingerprint ("sSTRATUM/REFID/REFTIME") is one too when its
 *   stratum and refid are those an instance's management address gave (the
 *   reference time moved between the unicast and anycast probes, or two
 *   instances share an upstream), and an unknown instance when no instance
 *   has them (e.g. a rogue server with its own clock). Without any learned
 *   fingerprint it stays unidentified.
 * - Resolutions use type "recovery" (instance_up for instance_down) with the
 *   incident key of the event they close and resolves = 1. */
#include <stdio.h>
#include <string.h>

#include "collector/catchment_impl.h"
#include "common/timefmt.h"

#define MAX_INSTS 8

struct fam_sum {
	int present, answered;
	int n_insts;
	char insts[MAX_INSTS][RESULT_NAME_MAX];
	double inst_rtt[MAX_INSTS];     /* best RTT per identified instance */
	char identity[RESULT_IDENTITY_MAX];
	char unknown[RESULT_IDENTITY_MAX];
	double rtt;                     /* best RTT of any answer */
	double best_mgmt_rtt;           /* best management RTT in this family */
	char best_mgmt[RESULT_NAME_MAX];
};

struct round_ctx {
	struct catchment *c;
	struct cm_service *svc;
	const struct result *r;
	size_t n;
	const struct cm_emit *em;
	int64_t t;
	const char *agent;
};

static void
emit(const struct round_ctx *rc, const struct event *ev)
{
	if (rc->em->cb != NULL)
		rc->em->cb(rc->em->ctx, ev);
}

static int
answered(enum result_outcome o)
{
	return o != RESULT_TIMEOUT && o != RESULT_UNREACHABLE;
}

/* Length of an NTP fingerprint's stratum/refid part (up to the last '/'). */
static size_t
ntp_prefix_len(const char *id)
{
	const char *slash = strrchr(id, '/');

	return slash != NULL ? (size_t)(slash - id) : strlen(id);
}

/* NTP outcome unknown with a fingerprint: 1 when no instance ever showed
 * that stratum/refid while some instance's fingerprint is known. */
static int
ntp_foreign(const struct cm_service *svc, const struct result *r)
{
	size_t n = ntp_prefix_len(r->identity);
	int i, known = 0;

	for (i = 0; i < svc->n_instances; i++) {
		if (svc->instances[i].learned[0] == '\0')
			continue;
		known = 1;
		if (strlen(svc->instances[i].learned) == n &&
		    strncmp(svc->instances[i].learned, r->identity, n) == 0)
			return 0;
	}
	return known;
}

static const char *
identify(const struct cm_service *svc, const struct result *r)
{
	int i;

	if (r->instance[0] != '\0')
		return r->instance;
	if (r->outcome != RESULT_OK || r->identity[0] == '\0')
		return NULL;
	for (i = 0; i < svc->n_instances; i++)
		if (svc->instances[i].identity[0] != '\0' &&
		    strcmp(svc->instances[i].identity, r->identity) == 0)
			return svc->instances[i].name;
	if (svc->protocol != INV_PROTO_DNS)
		return NULL;
	for (i = 0; i < svc->n_instances; i++)
		if (svc->instances[i].identity[0] == '\0' && svc->instances[i].learned[0] != '\0' &&
		    strcmp(svc->instances[i].learned, r->identity) == 0)
			return svc->instances[i].name;
	return NULL;
}

static void
summarize(const struct round_ctx *rc, int family, struct fam_sum *s)
{
	const struct result *r;
	const char *inst;
	size_t i;
	int j;

	memset(s, 0, sizeof(*s));
	s->rtt = s->best_mgmt_rtt = -1;
	for (i = 0; i < rc->n; i++) {
		r = &rc->r[i];
		if (r->family != family)
			continue;
		if (r->target == RESULT_TARGET_MANAGEMENT) {
			if (r->outcome == RESULT_OK && r->rtt_ms >= 0 && r->instance[0] != '\0' &&
			    (s->best_mgmt_rtt < 0 || r->rtt_ms < s->best_mgmt_rtt)) {
				s->best_mgmt_rtt = r->rtt_ms;
				snprintf(s->best_mgmt, sizeof(s->best_mgmt), "%s", r->instance);
			}
			continue;
		}
		s->present = 1;
		if (!answered(r->outcome))
			continue;
		s->answered = 1;
		if (r->rtt_ms >= 0 && (s->rtt < 0 || r->rtt_ms < s->rtt))
			s->rtt = r->rtt_ms;
		if ((inst = identify(rc->svc, r)) == NULL) {
			if (r->instance[0] == '\0' && r->identity[0] != '\0' &&
			    (r->outcome == RESULT_OK ||
			     (r->outcome == RESULT_UNKNOWN && rc->svc->protocol == INV_PROTO_NTP &&
			      ntp_foreign(rc->svc, r))))
				snprintf(s->unknown, sizeof(s->unknown), "%s", r->identity);
			continue;
		}
		for (j = 0; j < s->n_insts; j++)
			if (strcmp(s->insts[j], inst) == 0)
				break;
		if (j == s->n_insts) {
			if (j == MAX_INSTS)
				continue;
			snprintf(s->insts[j], RESULT_NAME_MAX, "%s", inst);
			s->inst_rtt[j] = -1;
			s->n_insts++;
			if (s->identity[0] == '\0')
				snprintf(s->identity, sizeof(s->identity), "%s", r->identity);
		}
		if (r->rtt_ms >= 0 && (s->inst_rtt[j] < 0 || r->rtt_ms < s->inst_rtt[j]))
			s->inst_rtt[j] = r->rtt_ms;
	}
}

/* ---- management addresses: learned identities and instance health ---- */

static void
instance_event(const struct round_ctx *rc, const char *inst, int down, int n_failing)
{
	struct event ev;
	json_t *extra = json_object();

	catchment_detail_event(&ev, down ? "instance_down" : "instance_up", rc->t, "",
			       rc->svc->name, 0, down ? inst : "", down ? "" : inst,
			       "instance_down", !down);
	json_object_set_new(extra, "failing_agents", json_integer(n_failing));
	json_object_set_new(extra, "required_agents",
			    json_integer(rc->c->th.instance_down_agents));
	json_object_set_new(extra, "reported_by", json_string(rc->agent));
	catchment_detail_write(&ev, down ? "management_unreachable" : "management_answers", extra,
			       rc->r, rc->n);
	json_decref(extra);
	emit(rc, &ev);
}

static void
observe_management(const struct round_ctx *rc)
{
	struct cm_service *svc = rc->svc;
	const struct inv_thresholds *th = &rc->c->th;
	struct cm_instance *ci;
	struct cm_mgmt *m;
	struct cm_inst *in;
	const struct result *r;
	double best;
	int i, seen, ok;
	size_t k;

	for (i = 0; i < svc->n_instances; i++) {
		ci = &svc->instances[i];
		seen = ok = 0;
		best = -1;
		for (k = 0; k < rc->n; k++) {
			r = &rc->r[k];
			if (r->target != RESULT_TARGET_MANAGEMENT || strcmp(r->instance, ci->name) != 0)
				continue;
			seen = 1;
			if (!answered(r->outcome))
				continue;
			ok = 1;
			if (r->rtt_ms >= 0 && (best < 0 || r->rtt_ms < best))
				best = r->rtt_ms;
			if (r->outcome != RESULT_OK || r->identity[0] == '\0')
				continue;
			if (svc->protocol == INV_PROTO_DNS)
				snprintf(ci->learned, sizeof(ci->learned), "%s", r->identity);
			else /* NTP: the stable part of the fingerprint */
				snprintf(ci->learned, sizeof(ci->learned), "%.*s",
					 (int)ntp_prefix_len(r->identity), r->identity);
		}
		if (!seen)
			continue;
		if ((m = catchment_mgmt(rc->c, rc->agent, svc->name, ci->name)) == NULL ||
		    (in = catchment_inst(rc->c, svc->name, ci->name)) == NULL)
			continue;
		m->last_ms = rc->t;
		if (ok) {
			m->last = 1;
			m->fail_rounds = 0;
			m->rtt_ms = best;
			if (m->counted) {
				m->counted = 0;
				in->n_failing--;
			}
		} else {
			m->last = 0;
			m->fail_rounds++;
			if (!m->counted && m->fail_rounds >= th->instance_down_rounds) {
				m->counted = 1;
				in->n_failing++;
			}
		}
		if (!in->down && in->n_failing >= th->instance_down_agents) {
			in->down = 1;
			in->down_since_ms = rc->t;
			instance_event(rc, ci->name, 1, in->n_failing);
		} else if (in->down && in->n_failing < th->instance_down_agents) {
			in->down = 0;
			instance_event(rc, ci->name, 0, in->n_failing);
		}
	}
}

/* ---- the per-family catchment state machine ---- */

static void
stream_event(const struct round_ctx *rc, struct cm_stream *st, const char *type,
	     const char *from, const char *to, const char *incident, int resolves, const char *cause,
	     json_t *extra)
{
	struct event ev;

	catchment_detail_event(&ev, type, rc->t, st->agent, st->service, st->family, from, to,
			       incident, resolves);
	catchment_detail_write(&ev, cause, extra, rc->r, rc->n);
	emit(rc, &ev);
}

static const char *
old_management(const struct round_ctx *rc, const char *inst)
{
	char key[3 * RESULT_NAME_MAX];
	const struct cm_mgmt *m;

	snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", rc->agent, rc->svc->name, inst);
	m = hashmap_get(&rc->c->mgmt, key);
	if (m == NULL || m->last < 0)
		return "unknown";
	return m->last ? "up" : "down";
}

/* Announce the catchment moving from prev to cur (not held). */
static void
announce(const struct round_ctx *rc, struct cm_stream *st, const char *prev)
{
	const char *mg, *cause;
	char reason[256], when[40];
	int64_t since;
	json_t *extra;

	if (st->away && strcmp(st->cur, st->home) == 0) {
		extra = json_pack("{ss}", "resolved", "catchment_change");
		stream_event(rc, st, "recovery", prev, st->cur, "catchment_change", 1,
			     "catchment_returned", extra);
		json_decref(extra);
		st->away = 0;
		return;
	}
	if (!st->away && strcmp(st->cur, st->home) == 0)
		return;
	mg = old_management(rc, prev);
	extra = json_pack("{ss ss}", "old_instance_management", mg, "home", st->home);
	if (prev[0] != '\0' &&
	    catchment_guard_withdrawn(rc->c, rc->svc->name, prev, &since, reason, sizeof(reason))) {
		/* Its guard took it out on purpose: the guard's reason is the cause. */
		json_object_set_new(extra, "guard_reason", json_string(reason));
		json_object_set_new(extra, "withdrawn_at",
				    json_string(time_format_rfc3339(since, when, sizeof(when))));
		cause = "withdrawn";
	} else {
		cause = strcmp(mg, "down") == 0 ? "failover" : "route_change";
	}
	stream_event(rc, st, "catchment_change", prev, st->cur, "catchment_change", 0, cause,
		     extra);
	json_decref(extra);
	st->away = 1;
}

/* After flapping or split ended: report where the catchment now is. */
static void
reconcile(const struct round_ctx *rc, struct cm_stream *st)
{
	if (st->flapping || st->split)
		return;
	if (strcmp(st->cur, st->home) != 0 && !st->away)
		announce(rc, st, st->home);
	else if (strcmp(st->cur, st->home) == 0 && st->away)
		announce(rc, st, st->cur);
}

static void
declare_change(const struct round_ctx *rc, struct cm_stream *st, const char *to,
	       const char *identity)
{
	const struct inv_thresholds *th = &rc->c->th;
	char prev[RESULT_NAME_MAX];
	json_t *extra;
	int i, j;

	snprintf(prev, sizeof(prev), "%s", st->cur);
	catchment_stream_set(rc->c, &st->cur, to);
	catchment_stream_set(rc->c, &st->identity, identity);
	st->since_ms = rc->t;
	st->cand_count = 0;
	st->last_change_ms = rc->t;
	for (i = 0, j = 0; i < st->n_changes; i++)
		if (rc->t - st->changes[i] < th->flap_window_ms)
			st->changes[j++] = st->changes[i];
	st->n_changes = j;
	if (st->n_changes == CM_CHANGES) {
		memmove(&st->changes[0], &st->changes[1], (CM_CHANGES - 1) * sizeof(st->changes[0]));
		st->n_changes--;
	}
	st->changes[st->n_changes++] = rc->t;
	/* Inside a split the changes are load sharing, not flapping routes. */
	if (!st->flapping && !st->split && st->n_changes >= th->flap_changes) {
		st->flapping = 1;
		extra = json_pack("{si sI}", "changes", st->n_changes, "window_ms",
				  (json_int_t)th->flap_window_ms);
		stream_event(rc, st, "flapping", prev, st->cur, "flapping", 0, "flapping", extra);
		json_decref(extra);
		return;
	}
	if (st->flapping || st->split)
		return; /* held: one flapping/split event stands for all of them */
	announce(rc, st, prev);
}

static int
has_name(const json_t *list, const char *name)
{
	size_t k;

	for (k = 0; k < json_array_size(list); k++)
		if (strcmp(json_string_value(json_array_get(list, k)), name) == 0)
			return 1;
	return 0;
}

static void
track_split(const struct round_ctx *rc, struct cm_stream *st, const struct fam_sum *s)
{
	const struct inv_thresholds *th = &rc->c->th;
	int i, switches = 0;
	const char *other;
	json_t *extra, *list;

	for (i = 0; i < s->n_insts; i++) {
		if (st->n_hist == CM_HIST) {
			cm_name_unref(&rc->c->names, st->hist[0].inst);
			memmove(&st->hist[0], &st->hist[1], (CM_HIST - 1) * sizeof(st->hist[0]));
			st->n_hist--;
		}
		if (st->n_hist > 0 && strcmp(st->hist[st->n_hist - 1].inst, s->insts[i]) != 0)
			st->last_switch_ms = rc->t;
		st->hist[st->n_hist].t = rc->t;
		st->hist[st->n_hist].inst = cm_name_empty;
		catchment_stream_set(rc->c, &st->hist[st->n_hist].inst, s->insts[i]);
		st->n_hist++;
	}
	for (i = 1; i < st->n_hist; i++)
		if (rc->t - st->hist[i].t < th->split_window_ms &&
		    strcmp(st->hist[i].inst, st->hist[i - 1].inst) != 0)
			switches++;
	if (!st->split && switches >= th->split_min_switches) {
		st->split = 1;
		st->split_since_ms = rc->t;
		list = json_array();
		other = NULL;
		for (i = 0; i < st->n_hist; i++) {
			if (rc->t - st->hist[i].t >= th->split_window_ms || has_name(list, st->hist[i].inst))
				continue;
			json_array_append_new(list, json_string(st->hist[i].inst));
			if (other == NULL && strcmp(st->hist[i].inst, st->cur) != 0)
				other = st->hist[i].inst;
		}
		extra = json_pack("{si so sI}", "switches", switches, "instances", list, "window_ms",
				  (json_int_t)th->split_window_ms);
		stream_event(rc, st, "split", st->cur, other != NULL ? other : "", "split", 0,
			     s->n_insts > 1 ? "answers_mixed_in_round" : "answers_alternate", extra);
		json_decref(extra);
	} else if (st->split && s->n_insts == 1 && rc->t - st->last_switch_ms >= th->split_window_ms) {
		st->split = 0;
		extra = json_pack("{ss}", "resolved", "split");
		stream_event(rc, st, "recovery", st->cur, s->insts[0], "split", 1, "single_instance",
			     extra);
		json_decref(extra);
	}
}

static void
track_suboptimal(const struct round_ctx *rc, struct cm_stream *st, const struct fam_sum *s)
{
	const struct inv_thresholds *th = &rc->c->th;
	double a = s->inst_rtt[0], m = s->best_mgmt_rtt;
	int bad;
	json_t *extra;

	if (s->n_insts != 1 || s->unknown[0] != '\0' || a < 0 || m < 0)
		return; /* no verdict from this round */
	bad = strcmp(s->best_mgmt, s->insts[0]) != 0 && a - m >= th->suboptimal_ms &&
	      (m <= 0 || (a - m) * 100.0 / m >= th->suboptimal_pct);
	if (bad) {
		st->good_rounds = 0;
		if (st->bad_since_ms == 0)
			st->bad_since_ms = rc->t;
		if (!st->suboptimal && rc->t - st->bad_since_ms >= th->suboptimal_for_ms) {
			st->suboptimal = 1;
			catchment_stream_set(rc->c, &st->best, s->best_mgmt);
			extra = json_pack("{sf sf sI}", "anycast_rtt_ms", a, "best_management_rtt_ms",
					  m, "for_ms", (json_int_t)(rc->t - st->bad_since_ms));
			stream_event(rc, st, "suboptimal", s->insts[0], s->best_mgmt, "suboptimal", 0,
				     "slower_than_best_instance", extra);
			json_decref(extra);
		}
		return;
	}
	st->bad_since_ms = 0;
	if (st->suboptimal && ++st->good_rounds >= th->hysteresis) {
		st->suboptimal = 0;
		extra = json_pack("{ss sf sf}", "resolved", "suboptimal", "anycast_rtt_ms", a,
				  "best_management_rtt_ms", m);
		stream_event(rc, st, "recovery", s->insts[0], s->best_mgmt, "suboptimal", 1,
			     "rtt_normal", extra);
		json_decref(extra);
	}
}

static void
silent_round(const struct round_ctx *rc, struct cm_stream *st)
{
	json_t *extra;

	st->answered = 0;
	st->silent++;
	if (!st->outage && st->silent >= rc->c->th.outage_rounds) {
		st->outage = 1;
		catchment_stream_set(rc->c, &st->outage_from, st->cur);
		st->since_ms = rc->t;
		extra = json_pack("{si}", "silent_rounds", st->silent);
		stream_event(rc, st, "outage", st->cur, "", "outage", 0, "no_answer", extra);
		json_decref(extra);
	}
}

static void
run_stream(const struct round_ctx *rc, struct cm_stream *st, const struct fam_sum *s)
{
	const struct inv_thresholds *th = &rc->c->th;
	json_t *extra;
	const char *x;

	st->last_round_ms = rc->t;
	if (!s->answered) {
		silent_round(rc, st);
		return;
	}
	st->silent = 0;
	st->answered++;
	st->last_seen_ms = rc->t;
	st->rtt_ms = s->rtt;

	if (s->unknown[0] != '\0') {
		st->unknown_clear = 0;
		st->cand_count = 0;
		if (!st->unknown) {
			st->unknown = 1;
			catchment_stream_set(rc->c, &st->unknown_identity, s->unknown);
			extra = json_pack("{ss}", "identity", s->unknown);
			stream_event(rc, st, "unknown_instance", st->cur, "", "unknown_instance", 0,
				     "identity_not_configured", extra);
			json_decref(extra);
		}
	} else if (st->unknown && ++st->unknown_clear >= th->hysteresis) {
		st->unknown = 0;
		extra = json_pack("{ss ss}", "resolved", "unknown_instance", "identity",
				  st->unknown_identity);
		stream_event(rc, st, "recovery", "", s->n_insts > 0 ? s->insts[0] : "",
			     "unknown_instance", 1, "identity_gone", extra);
		json_decref(extra);
		catchment_stream_set(rc->c, &st->unknown_identity, "");
	}

	if (st->outage && st->answered >= th->hysteresis) {
		st->outage = 0;
		st->since_ms = rc->t;
		extra = json_pack("{ss}", "resolved", "outage");
		stream_event(rc, st, "recovery", st->outage_from, s->n_insts > 0 ? s->insts[0] : "",
			     "outage", 1, "answers_again", extra);
		json_decref(extra);
	}

	track_split(rc, st, s);

	if (s->n_insts == 1 && s->unknown[0] == '\0') {
		x = s->insts[0];
		if (st->cur[0] == '\0') {
			catchment_stream_set(rc->c, &st->cur, x);
			catchment_stream_set(rc->c, &st->home, x);
			catchment_stream_set(rc->c, &st->identity, s->identity);
			st->since_ms = rc->t;
		} else if (strcmp(x, st->cur) == 0) {
			st->cand_count = 0;
		} else {
			if (st->cand_count > 0 && strcmp(x, st->cand) == 0) {
				st->cand_count++;
			} else {
				catchment_stream_set(rc->c, &st->cand, x);
				st->cand_count = 1;
			}
			if (st->cand_count >= th->hysteresis)
				declare_change(rc, st, x, s->identity);
		}
	} else if (s->n_insts > 1) {
		st->cand_count = 0;
	}

	if (st->flapping && rc->t - st->last_change_ms >= th->flap_stable_ms) {
		st->flapping = 0;
		extra = json_pack("{ss sI}", "resolved", "flapping", "stable_ms",
				  (json_int_t)(rc->t - st->last_change_ms));
		stream_event(rc, st, "recovery", st->cur, st->cur, "flapping", 1, "stable", extra);
		json_decref(extra);
	}
	/* after flapping or split ended, or once held changes settled */
	reconcile(rc, st);
	track_suboptimal(rc, st, s);
}

void
catchment_classify_round(struct catchment *c, struct cm_service *svc, const struct result *r,
			 size_t n, const struct cm_emit *em)
{
	struct round_ctx rc = { c, svc, r, n, em, r[0].time_ms, r[0].agent };
	struct cm_stream *st;
	struct fam_sum s;
	size_t i;
	int fam;

	for (i = 1; i < n; i++)
		if (r[i].time_ms < rc.t)
			rc.t = r[i].time_ms;
	observe_management(&rc);
	for (fam = 4; fam <= 6; fam += 2) {
		summarize(&rc, fam, &s);
		if (!s.present)
			continue;
		if ((st = catchment_stream(c, rc.agent, svc->name, fam)) == NULL)
			continue;
		run_stream(&rc, st, &s);
	}
}
