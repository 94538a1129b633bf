/* collector/catchment.c - catchment tracking: copies the inventory, groups
 * results into (agent, service, round), hands complete rounds to the
 * classifier (catchment_classify.c). Snapshots: catchment_snapshot.c.
 *
 * A round is complete when it holds a record for every address of the
 * service, or a newer round of the same agent and service arrives (both in
 * catchment_observe), or when no record of it arrived for CM_QUIET_MS
 * (catchment_tick): the agent holds a round's records until the
 * round ends and reports them in order (one batch, or consecutive batches
 * sent back to back), and rounds of a service never overlap. A spooled
 * backlog is thus evaluated round by round as it arrives. Records of a round
 * already evaluated are dropped and counted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"
#include "common/log.h"

#define SEP "\x1f"

static void
set_thresholds(struct inv_thresholds *th, const struct inv_thresholds *in)
{
	*th = *in;
	/* Zero values mean "not configured": fall back to the documented defaults. */
	if (th->hysteresis < 1)
		th->hysteresis = 2;
	if (th->outage_rounds < 1)
		th->outage_rounds = 2;
	if (th->instance_down_agents < 1)
		th->instance_down_agents = 1;
	if (th->instance_down_rounds < 1)
		th->instance_down_rounds = 2;
	if (th->flap_changes < 2)
		th->flap_changes = 4;
	if (th->flap_changes > CM_CHANGES)
		th->flap_changes = CM_CHANGES; /* what a stream remembers */
	if (th->flap_window_ms <= 0)
		th->flap_window_ms = 10 * 60 * 1000;
	if (th->flap_stable_ms <= 0)
		th->flap_stable_ms = 2 * 60 * 1000;
	if (th->split_window_ms <= 0)
		th->split_window_ms = 30 * 1000;
	if (th->split_min_switches < 1)
		th->split_min_switches = 3;
	if (th->split_min_switches > CM_HIST - 1)
		th->split_min_switches = CM_HIST - 1;
	if (th->suboptimal_ms <= 0)
		th->suboptimal_ms = 20;
	if (th->suboptimal_pct <= 0)
		th->suboptimal_pct = 50;
	if (th->suboptimal_for_ms <= 0)
		th->suboptimal_for_ms = 60 * 1000;
}

static void
free_services(struct cm_service *s, int n)
{
	int i;

	for (i = 0; s != NULL && i < n; i++) {
		free(s[i].instances);
		free(s[i].targets);
	}
	free(s);
}

/* Every address the agent probes for the service: a round holding a record
 * for each is complete (see round_covered). */
static int
copy_targets(struct cm_service *cs, const struct inv_service *is)
{
	int j, k, n = is->n_address;

	for (j = 0; j < is->n_instances; j++)
		n += is->instances[j].n_management;
	if ((cs->targets = calloc(n > 0 ? (size_t)n : 1, sizeof(*cs->targets))) == NULL)
		return -ENOMEM;
	for (k = 0; k < is->n_address; k++)
		memcpy(cs->targets[cs->n_targets++], is->address[k], RESULT_ADDR_MAX);
	for (j = 0; j < is->n_instances; j++)
		for (k = 0; k < is->instances[j].n_management; k++)
			memcpy(cs->targets[cs->n_targets++], is->instances[j].management[k],
			       RESULT_ADDR_MAX);
	return 0;
}

/* Deep copy of the services; learned identities are carried over from old. */
static struct cm_service *
copy_services(const struct inventory *inv, const struct cm_service *old, int n_old)
{
	struct cm_service *s;
	const struct inv_service *is;
	int i, j, k, l;

	if ((s = calloc(inv->n_services > 0 ? inv->n_services : 1, sizeof(*s))) == NULL)
		return NULL;
	for (i = 0; i < inv->n_services; i++) {
		is = &inv->services[i];
		snprintf(s[i].name, sizeof(s[i].name), "%s", is->name);
		s[i].protocol = is->protocol;
		s[i].instances = calloc(is->n_instances > 0 ? is->n_instances : 1,
					sizeof(*s[i].instances));
		if (s[i].instances == NULL) {
			free_services(s, i + 1);
			return NULL;
		}
		s[i].n_instances = is->n_instances;
		if (copy_targets(&s[i], is) < 0) {
			free_services(s, i + 1);
			return NULL;
		}
		for (j = 0; j < is->n_instances; j++) {
			snprintf(s[i].instances[j].name, RESULT_NAME_MAX, "%s", is->instances[j].name);
			snprintf(s[i].instances[j].identity, RESULT_IDENTITY_MAX, "%s",
				 is->instances[j].identity);
			for (k = 0; k < n_old; k++) {
				if (strcmp(old[k].name, is->name) != 0)
					continue;
				for (l = 0; l < old[k].n_instances; l++)
					if (strcmp(old[k].instances[l].name, is->instances[j].name) == 0)
						memcpy(s[i].instances[j].learned,
						       old[k].instances[l].learned, RESULT_IDENTITY_MAX);
			}
		}
	}
	return s;
}

struct catchment *
catchment_new(const struct inventory *inv)
{
	struct catchment *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->services = copy_services(inv, NULL, 0)) == NULL)
		goto fail;
	c->n_services = inv->n_services;
	set_thresholds(&c->th, &inv->thresholds);
	catchment_copy_homes(c, inv);
	if (hashmap_init(&c->streams) < 0 || hashmap_init(&c->feeds) < 0 ||
	    hashmap_init(&c->mgmt) < 0 || hashmap_init(&c->insts) < 0)
		goto fail;
	return c;
fail:
	catchment_free(c);
	return NULL;
}

static int
free_feed(void *ctx, const char *key, void *val)
{
	struct catchment *c = ctx;
	struct cm_feed *f = val;
	int i;

	(void)key;
	for (i = 0; i < f->n_pending; i++)
		free(f->pending[i].r);
	cm_name_unref(&c->names, f->service);
	free(f);
	return 1;
}

static void
stream_free(struct catchment *c, struct cm_stream *st)
{
	const char *names[] = { st->agent, st->service, st->cur, st->home, st->identity,
				st->cand, st->outage_from, st->unknown_identity, st->best };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cm_name_unref(&c->names, names[i]);
	for (i = 0; i < (size_t)st->n_hist; i++)
		cm_name_unref(&c->names, st->hist[i].inst);
	c->order_valid = 0;
	free(st);
}

static int
free_stream(void *ctx, const char *key, void *val)
{
	(void)key;
	stream_free(ctx, val);
	return 1;
}

static int
free_value(void *ctx, const char *key, void *val)
{
	(void)ctx;
	(void)key;
	free(val);
	return 1;
}

void
catchment_free(struct catchment *c)
{
	if (c == NULL)
		return;
	hashmap_foreach(&c->streams, free_stream, c);
	hashmap_foreach(&c->feeds, free_feed, c);
	hashmap_foreach(&c->mgmt, free_value, NULL);
	hashmap_foreach(&c->insts, free_value, NULL);
	hashmap_clear(&c->streams);
	hashmap_clear(&c->feeds);
	hashmap_clear(&c->mgmt);
	hashmap_clear(&c->insts);
	free_services(c->services, c->n_services);
	cm_names_free(&c->names);
	free(c->order);
	free(c->homes);
	free(c);
}

struct cm_service *
catchment_find_service(struct catchment *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_services; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

static int
has_instance(const struct cm_service *s, const char *name)
{
	int i;

	for (i = 0; i < s->n_instances; i++)
		if (strcmp(s->instances[i].name, name) == 0)
			return 1;
	return 0;
}

/* Drop state of services (and instances) that left the inventory. */
static int
prune_stream(void *ctx, const char *key, void *val)
{
	struct cm_stream *st = val;

	(void)key;
	if (catchment_find_service(ctx, st->service) != NULL)
		return 0;
	stream_free(ctx, st);
	return 1;
}

static int
prune_feed(void *ctx, const char *key, void *val)
{
	struct cm_feed *f = val;

	if (catchment_find_service(ctx, f->service) != NULL)
		return 0;
	return free_feed(ctx, key, val);
}

static int
prune_keyed(void *ctx, const char *key, void *val)
{
	struct catchment *c = ctx;
	char buf[3 * RESULT_NAME_MAX], *svc, *inst;
	struct cm_service *s;

	/* keys: agent SEP service SEP instance (mgmt) or service SEP instance */
	snprintf(buf, sizeof(buf), "%s", key);
	inst = strrchr(buf, SEP[0]);
	if (inst == NULL)
		return 0;
	*inst++ = '\0';
	svc = strrchr(buf, SEP[0]);
	svc = svc != NULL ? svc + 1 : buf;
	if ((s = catchment_find_service(c, svc)) != NULL && has_instance(s, inst))
		return 0;
	free(val);
	return 1;
}

void
catchment_set_inventory(struct catchment *c, const struct inventory *inv)
{
	struct cm_service *s;

	if ((s = copy_services(inv, c->services, c->n_services)) == NULL) {
		log_warnx("catchment: out of memory reloading the inventory; keeping the old one");
		return;
	}
	free_services(c->services, c->n_services);
	c->services = s;
	c->n_services = inv->n_services;
	set_thresholds(&c->th, &inv->thresholds);
	catchment_copy_homes(c, inv);
	hashmap_foreach(&c->streams, prune_stream, c);
	hashmap_foreach(&c->feeds, prune_feed, c);
	hashmap_foreach(&c->mgmt, prune_keyed, c);
	hashmap_foreach(&c->insts, prune_keyed, c);
}

struct cm_stream *
catchment_stream(struct catchment *c, const char *agent, const char *service, int family)
{
	char key[3 * RESULT_NAME_MAX];
	struct cm_stream *st;

	snprintf(key, sizeof(key), "%s" SEP "%s" SEP "%d", agent, service, family);
	if ((st = hashmap_get(&c->streams, key)) != NULL)
		return st;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->agent = st->service = st->cur = st->home = st->identity = st->cand =
		st->outage_from = st->unknown_identity = st->best = cm_name_empty;
	st->family = family;
	st->rtt_ms = -1;
	if (cm_name_set(&c->names, &st->agent, agent) < 0 ||
	    cm_name_set(&c->names, &st->service, service) < 0 ||
	    hashmap_put(&c->streams, key, st) < 0) {
		stream_free(c, st);
		return NULL;
	}
	c->order_valid = 0;
	return st;
}

void
catchment_stream_set(struct catchment *c, const char **field, const char *s)
{
	if (cm_name_set(&c->names, field, s) < 0)
		log_warnx("catchment: out of memory keeping \"%s\"; the old value stays", s);
}

struct cm_mgmt *
catchment_mgmt(struct catchment *c, const char *agent, const char *service, const char *instance)
{
	char key[3 * RESULT_NAME_MAX];
	struct cm_mgmt *m;

	snprintf(key, sizeof(key), "%s" SEP "%s" SEP "%s", agent, service, instance);
	if ((m = hashmap_get(&c->mgmt, key)) != NULL)
		return m;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->last = -1;
	m->rtt_ms = -1;
	if (hashmap_put(&c->mgmt, key, m) < 0) {
		free(m);
		return NULL;
	}
	return m;
}

struct cm_inst *
catchment_inst(struct catchment *c, const char *service, const char *instance)
{
	char key[2 * RESULT_NAME_MAX];
	struct cm_inst *in;

	snprintf(key, sizeof(key), "%s" SEP "%s", service, instance);
	if ((in = hashmap_get(&c->insts, key)) != NULL)
		return in;
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	if (hashmap_put(&c->insts, key, in) < 0) {
		free(in);
		return NULL;
	}
	return in;
}

static struct cm_feed *
get_feed(struct catchment *c, const char *agent, const char *service)
{
	char key[2 * RESULT_NAME_MAX];
	struct cm_feed *f;

	snprintf(key, sizeof(key), "%s" SEP "%s", agent, service);
	if ((f = hashmap_get(&c->feeds, key)) != NULL)
		return f;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->service = cm_name_ref(&c->names, service)) == NULL ||
	    hashmap_put(&c->feeds, key, f) < 0) {
		cm_name_unref(&c->names, f->service);
		free(f);
		return NULL;
	}
	return f;
}

/* Evaluate and forget the oldest open round of f. */
static void
flush_oldest(struct catchment *c, struct cm_feed *f, const struct cm_emit *em)
{
	struct cm_round rd = f->pending[0];
	struct cm_service *svc;

	memmove(&f->pending[0], &f->pending[1], (size_t)(f->n_pending - 1) * sizeof(f->pending[0]));
	f->n_pending--;
	f->done[f->done_next] = rd.round;
	f->done_next = (f->done_next + 1) % CM_DONE;
	if (f->n_done < CM_DONE)
		f->n_done++;
	if ((svc = catchment_find_service(c, f->service)) != NULL && rd.n > 0)
		catchment_classify_round(c, svc, rd.r, rd.n, em);
	free(rd.r);
}

static int
was_done(const struct cm_feed *f, uint64_t round)
{
	int i;

	for (i = 0; i < f->n_done; i++)
		if (f->done[i] == round)
			return 1;
	return 0;
}

static void
add_record(struct catchment *c, const struct result *r, int64_t now_ms, const struct cm_emit *em)
{
	struct cm_feed *f;
	struct cm_service *cs;
	struct cm_round *rd = NULL;
	struct result *nr;
	size_t cap;
	int i;

	if (r->agent[0] == '\0' || (r->family != 4 && r->family != 6) ||
	    (cs = catchment_find_service(c, r->service)) == NULL) {
		c->dropped++;
		return;
	}
	if ((f = get_feed(c, r->agent, r->service)) == NULL) {
		c->dropped++;
		return;
	}
	for (i = 0; i < f->n_pending; i++)
		if (f->pending[i].round == r->round)
			rd = &f->pending[i];
	if (rd == NULL) {
		if (was_done(f, r->round)) {
			log_debug("catchment: late record of %s %s round %llu dropped", r->agent,
				  r->service, (unsigned long long)r->round);
			c->dropped++;
			return;
		}
		/* rounds never overlap: a new round completes the open ones */
		while (f->n_pending > 0)
			flush_oldest(c, f, em);
		rd = &f->pending[f->n_pending++];
		memset(rd, 0, sizeof(*rd));
		rd->round = r->round;
	}
	rd->last_arrival_ms = now_ms;
	if (rd->n == rd->cap) {
		if (rd->cap >= CM_ROUND_MAX) {
			c->dropped++;
			return;
		}
		/* A round's first allocation holds exactly a complete round
		 * (one record per target): every (agent, service) has a round
		 * open, so this is the bulk of the memory per agent. */
		cap = rd->cap == 0 ? (cs->n_targets > 0 ? (size_t)cs->n_targets : 1) : rd->cap * 2;
		if ((nr = realloc(rd->r, cap * sizeof(*nr))) == NULL) {
			c->dropped++;
			return;
		}
		rd->r = nr;
		rd->cap = cap;
	}
	rd->r[rd->n++] = *r;
}

struct due_ctx {
	struct catchment *c;
	int64_t now_ms;
	const struct cm_emit *em;
};

static int
flush_due(void *ctx, const char *key, void *val)
{
	struct due_ctx *d = ctx;
	struct cm_feed *f = val;

	(void)key;
	while (f->n_pending > 0 && d->now_ms - f->pending[0].last_arrival_ms >= CM_QUIET_MS)
		flush_oldest(d->c, f, d->em);
	return 0;
}

static int
round_covered(const struct cm_service *svc, const struct cm_round *rd)
{
	int k;
	size_t i;

	if (svc->n_targets == 0)
		return 0;
	for (k = 0; k < svc->n_targets; k++) {
		for (i = 0; i < rd->n; i++)
			if (strcmp(rd->r[i].address, svc->targets[k]) == 0)
				break;
		if (i == rd->n)
			return 0;
	}
	return 1;
}

void
catchment_observe(struct catchment *c, const struct result *r, size_t n, int64_t now_ms,
		  catchment_event_fn cb, void *ctx)
{
	struct cm_emit em = { cb, ctx };
	char key[2 * RESULT_NAME_MAX];
	struct cm_service *svc;
	struct cm_feed *f;
	size_t i;

	for (i = 0; i < n; i++)
		add_record(c, &r[i], now_ms, &em);
	/* After the batch, not per record: a round's records come together. */
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(r[i].agent, r[i - 1].agent) == 0 &&
		    strcmp(r[i].service, r[i - 1].service) == 0)
			continue;
		snprintf(key, sizeof(key), "%s" SEP "%s", r[i].agent, r[i].service);
		if ((f = hashmap_get(&c->feeds, key)) == NULL || f->n_pending == 0 ||
		    (svc = catchment_find_service(c, f->service)) == NULL)
			continue;
		if (round_covered(svc, &f->pending[0]))
			flush_oldest(c, f, &em);
	}
}

void
catchment_tick(struct catchment *c, int64_t now_ms, catchment_event_fn cb, void *ctx)
{
	struct cm_emit em = { cb, ctx };
	struct due_ctx d = { c, now_ms, &em };

	hashmap_foreach(&c->feeds, flush_due, &d);
}
