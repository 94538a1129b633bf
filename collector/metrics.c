/* collector/metrics.c - the state behind /metrics: counters, and series
 * (RTT histograms, newest probe results, agents' last reports) in one
 * chained hash table keyed by labels that the inventory bounds. The text
 * exposition is collector/metrics_render.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/metrics_impl.h"

const double metrics_rtt_bounds_ms[METRICS_N_BUCKETS] = { 1,   2,   5,    10,   20,  50,  100,
							  200, 300, 500, 1000, 2000, 5000 };

const char *const metrics_event_types[METRICS_N_EVENT_TYPES] = {
	"catchment_change", "outage",	"recovery", "instance_down", "instance_up",
	"unknown_instance", "flapping", "split",    "suboptimal"
};

/* Keeps the table bounded whatever the inventory's size. */
#define MAX_SERIES 200000

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static uint64_t
hash_key(enum series_kind kind, const char *agent, const char *service, int family, int target,
	 const char *instance)
{
	uint64_t h = 1469598103934665603ULL;

	h = (h ^ (uint64_t)kind) * 1099511628211ULL;
	h = fnv(fnv(fnv(h, agent), service), instance);
	h = (h ^ (uint64_t)family) * 1099511628211ULL;
	return (h ^ (uint64_t)target) * 1099511628211ULL;
}

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->n_slots = 1024;
	if ((m->table = calloc(m->n_slots, sizeof(*m->table))) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

static int
free_name(void *ctx, const char *key, void *val)
{
	(void)ctx, (void)key;
	free(val);
	return 1;
}

/* The one stored copy of s ("" for the empty string), or NULL. */
static const char *
intern(struct metrics *m, const char *s)
{
	char *v;

	if (s[0] == '\0')
		return "";
	if ((v = hashmap_get(&m->names, s)) != NULL)
		return v;
	if ((v = strdup(s)) == NULL)
		return NULL;
	if (hashmap_put(&m->names, s, v) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_slots; i++) {
		struct series *s, *next;

		for (s = m->table[i]; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
	}
	hashmap_foreach(&m->names, free_name, NULL);
	hashmap_clear(&m->names);
	free(m->table);
	free(m);
}

static void
grow(struct metrics *m)
{
	size_t n = m->n_slots * 2;
	struct series **t = calloc(n, sizeof(*t));

	if (t == NULL)
		return;
	for (size_t i = 0; i < m->n_slots; i++) {
		struct series *s, *next;

		for (s = m->table[i]; s != NULL; s = next) {
			next = s->next;
			s->next = t[s->hash % n];
			t[s->hash % n] = s;
		}
	}
	free(m->table);
	m->table = t;
	m->n_slots = n;
}

const struct series *
metrics_find(const struct metrics *m, enum series_kind kind, const char *agent,
	     const char *service, int family, int target, const char *instance)
{
	uint64_t h = hash_key(kind, agent, service, family, target, instance);

	for (struct series *s = m->table[h % m->n_slots]; s != NULL; s = s->next)
		if (s->hash == h && s->kind == kind && s->family == family &&
		    s->target == target && strcmp(s->agent, agent) == 0 &&
		    strcmp(s->service, service) == 0 && strcmp(s->instance, instance) == 0)
			return s;
	return NULL;
}

static int
agent_known(const struct inventory *inv, const char *agent)
{
	return inventory_find_agent(inv, agent) != NULL;
}

const char *
metrics_instance_label(const struct inventory *inv, const char *service, const char *name)
{
	const struct inv_service *sv = inventory_find_service(inv, service);

	if (sv == NULL || name[0] == '\0')
		return "";
	for (int i = 0; i < sv->n_instances; i++)
		if (strcmp(sv->instances[i].name, name) == 0)
			return sv->instances[i].name;
	return "";
}

/* The series of that key, created when missing (the caller checked the
 * service and instance; the agent is checked here, once per series). */
static struct series *
lookup(struct metrics *m, enum series_kind kind, const char *agent, const char *service,
       int family, int target, const char *instance)
{
	struct series *s = (struct series *)metrics_find(m, kind, agent, service, family, target,
							 instance);

	if (s != NULL)
		return s;
	if (!agent_known(m->inv, agent)) {
		m->ignored_results++;
		return NULL;
	}
	if (m->n_series >= MAX_SERIES) {
		m->dropped_series++;
		return NULL;
	}
	if (m->n_series >= m->n_slots)
		grow(m);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->agent = intern(m, agent)) == NULL || (s->service = intern(m, service)) == NULL ||
	    (s->instance = intern(m, instance)) == NULL) {
		free(s);
		return NULL;
	}
	s->shown = "";
	s->hash = hash_key(kind, agent, service, family, target, instance);
	s->kind = kind;
	s->family = family;
	s->target = target;
	s->next = m->table[s->hash % m->n_slots];
	m->table[s->hash % m->n_slots] = s;
	m->n_series++;
	return s;
}

/* An answer came, whether or not it named a known instance. */
static int
answered(enum result_outcome o)
{
	return o == RESULT_OK || o == RESULT_AMBIGUOUS || o == RESULT_UNKNOWN;
}

void
metrics_observe_result(struct metrics *m, const struct result *r)
{
	const char *inst;
	struct series *s;
	int target = (int)r->target;

	if (m->inv == NULL || inventory_find_service(m->inv, r->service) == NULL ||
	    (r->family != 4 && r->family != 6) ||
	    (target != RESULT_TARGET_ANYCAST && target != RESULT_TARGET_MANAGEMENT)) {
		m->ignored_results++;
		return;
	}
	inst = metrics_instance_label(m->inv, r->service, r->instance);
	if ((s = lookup(m, SERIES_RESULTS, r->agent, r->service, r->family, target, inst)) == NULL)
		return;
	if ((unsigned)r->outcome < METRICS_N_OUTCOMES)
		s->outcomes[r->outcome]++;
	if (r->rtt_ms >= 0) {
		s->count++;
		s->sum_ms += r->rtt_ms;
		for (int i = 0; i < METRICS_N_BUCKETS; i++) {
			if (r->rtt_ms <= metrics_rtt_bounds_ms[i]) {
				s->buckets[i]++;
				break;
			}
		}
	}
	s = lookup(m, SERIES_PROBE, r->agent, r->service, r->family, target,
		   target == RESULT_TARGET_ANYCAST ? "" : inst);
	/* Spooled results may arrive late: only a newer one replaces it. */
	if (s == NULL || r->time_ms < s->last_ms)
		return;
	s->last_ms = r->time_ms;
	s->success = answered(r->outcome);
	if ((inst = intern(m, inst)) != NULL)
		s->shown = inst;
}

void
metrics_agent_report(struct metrics *m, const char *agent, int64_t now_ms)
{
	struct series *s;

	if (m->inv == NULL || !agent_known(m->inv, agent) ||
	    (s = lookup(m, SERIES_AGENT, agent, "", 0, 0, "")) == NULL)
		return;
	if (now_ms > s->last_ms)
		s->last_ms = now_ms;
}

/* Does the inventory still have every name of s? */
static int
still_known(const struct inventory *inv, struct series *s)
{
	if (!agent_known(inv, s->agent))
		return 0;
	if (s->kind == SERIES_AGENT)
		return 1;
	if (inventory_find_service(inv, s->service) == NULL)
		return 0;
	if (s->instance[0] != '\0' && metrics_instance_label(inv, s->service, s->instance)[0] == '\0')
		return 0;
	if (metrics_instance_label(inv, s->service, s->shown)[0] == '\0')
		s->shown = "";
	return 1;
}

void
metrics_set_inventory(struct metrics *m, const struct inventory *inv)
{
	m->inv = inv;
	for (size_t i = 0; i < m->n_slots; i++) {
		struct series **pp = &m->table[i], *s;

		while ((s = *pp) != NULL) {
			if (still_known(inv, s)) {
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			free(s);
			m->n_series--;
		}
	}
}

void
metrics_config_reloaded(struct metrics *m, int ok, int64_t now_ms)
{
	m->reload_ok = ok != 0;
	if (ok)
		m->reload_ok_ms = now_ms;
}

void
metrics_count_ingest(struct metrics *m, uint64_t stored, uint64_t duplicates, uint64_t rejected)
{
	m->stored += stored;
	m->duplicates += duplicates;
	m->rejected += rejected;
}

void
metrics_count_unconfigured(struct metrics *m, uint64_t n)
{
	m->unconfigured += n;
}

void
metrics_count_http(struct metrics *m, int status)
{
	if (status >= 100 && status < 600) {
		m->http[status / 100]++;
		m->http_code[status]++;
	} else {
		m->http[0]++;
	}
}

void
metrics_count_event(struct metrics *m, const char *type)
{
	size_t i;

	for (i = 0; i < METRICS_N_EVENT_TYPES; i++)
		if (strcmp(metrics_event_types[i], type) == 0)
			break;
	m->events[i]++;
}

void
metrics_count_delivery(struct metrics *m, int ok)
{
	if (ok)
		m->deliveries_ok++;
	else
		m->deliveries_failed++;
}
