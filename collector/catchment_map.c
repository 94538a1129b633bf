/* collector/catchment_map.c - a small string-keyed chained hash map for the
 * catchment state tables (FNV-1a, doubles when the load passes 1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"

struct cm_node {
	struct cm_node *next;
	void *val;
	char key[];
};

uint64_t
catchment_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int
catchment_map_init(struct catchment_map *m)
{
	m->nb = 64;
	m->n = 0;
	m->b = calloc(m->nb, sizeof(*m->b));
	return m->b == NULL ? -ENOMEM : 0;
}

void *
catchment_map_get(const struct catchment_map *m, const char *key)
{
	struct cm_node *nd;

	if (m->b == NULL)
		return NULL;
	for (nd = m->b[catchment_hash(key) % m->nb]; nd != NULL; nd = nd->next)
		if (strcmp(nd->key, key) == 0)
			return nd->val;
	return NULL;
}

static void
grow(struct catchment_map *m)
{
	size_t nb = m->nb * 2, i;
	struct cm_node **b = calloc(nb, sizeof(*b)), *nd, *next;

	if (b == NULL)
		return; /* keep the longer chains: still correct */
	for (i = 0; i < m->nb; i++) {
		for (nd = m->b[i]; nd != NULL; nd = next) {
			next = nd->next;
			nd->next = b[catchment_hash(nd->key) % nb];
			b[catchment_hash(nd->key) % nb] = nd;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

int
catchment_map_put(struct catchment_map *m, const char *key, void *val)
{
	size_t len = strlen(key) + 1, i;
	struct cm_node *nd;

	if (m->b == NULL && catchment_map_init(m) < 0)
		return -ENOMEM;
	if ((nd = malloc(sizeof(*nd) + len)) == NULL)
		return -ENOMEM;
	memcpy(nd->key, key, len);
	nd->val = val;
	i = catchment_hash(key) % m->nb;
	nd->next = m->b[i];
	m->b[i] = nd;
	if (++m->n > m->nb)
		grow(m);
	return 0;
}

void
catchment_map_foreach(struct catchment_map *m, int (*fn)(void *ctx, const char *key, void *val),
		      void *ctx)
{
	struct cm_node **pp, *nd;
	size_t i;

	if (m->b == NULL)
		return;
	for (i = 0; i < m->nb; i++) {
		pp = &m->b[i];
		while ((nd = *pp) != NULL) {
			if (fn(ctx, nd->key, nd->val) == 1) {
				*pp = nd->next;
				free(nd);
				m->n--;
			} else {
				pp = &nd->next;
			}
		}
	}
}

void
catchment_map_clear(struct catchment_map *m)
{
	struct cm_node *nd, *next;
	size_t i;

	if (m->b == NULL)
		return;
	for (i = 0; i < m->nb; i++) {
		for (nd = m->b[i]; nd != NULL; nd = next) {
			next = nd->next;
			free(nd);
		}
	}
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}
