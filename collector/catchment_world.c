/* collector/catchment_world.c - what the catchment state says about the
 * world beyond one stream, for incidents: is a branch cut off from
 * everything, which agents see an instance fail; the agents' configured
 * homes; and which instances their guards withdrew. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"

static int
home_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cm_home *)a)->agent, ((const struct cm_home *)b)->agent);
}

void
catchment_copy_homes(struct catchment *c, const struct inventory *inv)
{
	struct cm_home *h;
	size_t n = 0;
	int i;

	for (i = 0; i < inv->n_agents; i++)
		n += inv->agents[i].home[0] != '\0';
	if ((h = calloc(n > 0 ? n : 1, sizeof(*h))) == NULL)
		return; /* keep the old ones */
	for (i = 0, n = 0; i < inv->n_agents; i++) {
		if (inv->agents[i].home[0] == '\0')
			continue;
		snprintf(h[n].agent, sizeof(h[n].agent), "%s", inv->agents[i].name);
		snprintf(h[n].home, sizeof(h[n].home), "%s", inv->agents[i].home);
		n++;
	}
	qsort(h, n, sizeof(*h), home_cmp);
	free(c->homes);
	c->homes = h;
	c->n_homes = n;
}

const char *
catchment_configured_home(const struct catchment *c, const char *agent)
{
	struct cm_home key;
	const struct cm_home *h;

	if (c->n_homes == 0)
		return "";
	snprintf(key.agent, sizeof(key.agent), "%s", agent);
	h = bsearch(&key, c->homes, c->n_homes, sizeof(*h), home_cmp);
	return h != NULL ? h->home : "";
}

struct dark_ctx {
	const char *agent;
	size_t len;
	int streams, lit;
};

/* Keys start with "agent\x1f". */
static int
key_of_agent(const struct dark_ctx *d, const char *key)
{
	return strncmp(key, d->agent, d->len) == 0 && key[d->len] == '\x1f';
}

static int
dark_stream(void *ctx, const char *key, void *val)
{
	struct dark_ctx *d = ctx;
	const struct cm_stream *st = val;

	if (!key_of_agent(d, key) || st->last_round_ms == 0)
		return 0;
	d->streams++;
	if (st->silent == 0)
		d->lit = 1;
	return 0;
}

static int
dark_mgmt(void *ctx, const char *key, void *val)
{
	struct dark_ctx *d = ctx;
	const struct cm_mgmt *m = val;

	if (key_of_agent(d, key) && m->last == 1)
		d->lit = 1;
	return 0;
}

int
catchment_agent_dark(struct catchment *c, const char *agent)
{
	struct dark_ctx d = { agent, strlen(agent), 0, 0 };

	hashmap_foreach(&c->streams, dark_stream, &d);
	if (d.streams == 0 || d.lit)
		return 0;
	hashmap_foreach(&c->mgmt, dark_mgmt, &d);
	return !d.lit;
}

static int
lit_stream(void *ctx, const char *key, void *val)
{
	size_t *n = ctx;
	const struct cm_stream *st = val;

	(void)key;
	if (st->last_round_ms != 0 && st->silent == 0)
		*n = 1;
	return 0;
}

size_t
catchment_agents_lit(struct catchment *c)
{
	size_t n = 0;

	hashmap_foreach(&c->streams, lit_stream, &n);
	return n;
}

struct failing_ctx {
	char suffix[2 * RESULT_NAME_MAX + 2];
	size_t slen;
	char (*names)[RESULT_NAME_MAX];
	size_t max, n;
};

/* mgmt keys are "agent\x1fservice\x1finstance". */
static int
failing_mgmt(void *ctx, const char *key, void *val)
{
	struct failing_ctx *f = ctx;
	const struct cm_mgmt *m = val;
	size_t klen = strlen(key);

	if (!m->counted || klen <= f->slen || strcmp(key + klen - f->slen, f->suffix) != 0)
		return 0;
	if (f->n < f->max)
		snprintf(f->names[f->n], RESULT_NAME_MAX, "%.*s", (int)(klen - f->slen), key);
	f->n++;
	return 0;
}

size_t
catchment_failing_agents(struct catchment *c, const char *service, const char *instance,
			 char (*names)[RESULT_NAME_MAX], size_t max)
{
	struct failing_ctx f;

	memset(&f, 0, sizeof(f));
	f.slen = (size_t)snprintf(f.suffix, sizeof(f.suffix), "\x1f%s\x1f%s", service, instance);
	f.names = names;
	f.max = max;
	hashmap_foreach(&c->mgmt, failing_mgmt, &f);
	return f.n;
}

static int
has_instance(const struct catchment *c, const char *service, const char *instance)
{
	for (int i = 0; i < c->n_services; i++) {
		const struct cm_service *s = &c->services[i];

		if (strcmp(s->name, service) != 0)
			continue;
		for (int k = 0; k < s->n_instances; k++)
			if (strcmp(s->instances[k].name, instance) == 0)
				return 1;
	}
	return 0;
}

void
catchment_guard(struct catchment *c, const char *service, const char *instance, int withdrawn,
		int64_t time_ms, const char *reason)
{
	struct cm_inst *in;

	if (!has_instance(c, service, instance) ||
	    (in = catchment_inst(c, service, instance)) == NULL)
		return;
	in->withdrawn = withdrawn != 0;
	in->withdrawn_ms = time_ms;
	snprintf(in->withdrawn_reason, sizeof(in->withdrawn_reason), "%s",
		 withdrawn && reason != NULL ? reason : "");
}

int
catchment_guard_withdrawn(struct catchment *c, const char *service, const char *instance,
			  int64_t *since_ms, char *reason, size_t len)
{
	char key[2 * RESULT_NAME_MAX];
	const struct cm_inst *in;

	snprintf(key, sizeof(key), "%s\x1f%s", service, instance);
	if ((in = hashmap_get(&c->insts, key)) == NULL || !in->withdrawn)
		return 0;
	if (since_ms != NULL)
		*since_ms = in->withdrawn_ms;
	if (reason != NULL && len > 0)
		snprintf(reason, len, "%s", in->withdrawn_reason);
	return 1;
}
