/* common/hashmap.c - a string-keyed chained hash map (FNV-1a, the buckets
 * double when the load passes 1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"

struct hashmap_node {
	struct hashmap_node *next;
	void *val;
	char key[];
};

uint64_t
hashmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int
hashmap_init(struct hashmap *m)
{
	m->nb = 64;
	m->n = 0;
	m->b = calloc(m->nb, sizeof(*m->b));
	return m->b == NULL ? -ENOMEM : 0;
}

void *
hashmap_get(const struct hashmap *m, const char *key)
{
	struct hashmap_node *nd;

	if (m->b == NULL)
		return NULL;
	for (nd = m->b[hashmap_hash(key) % m->nb]; nd != NULL; nd = nd->next)
		if (strcmp(nd->key, key) == 0)
			return nd->val;
	return NULL;
}

static void
grow(struct hashmap *m)
{
	size_t nb = m->nb * 2, i, j;
	struct hashmap_node **b = calloc(nb, sizeof(*b)), *nd, *next;

	if (b == NULL)
		return; /* keep the longer chains: still correct */
	for (i = 0; i < m->nb; i++) {
		for (nd = m->b[i]; nd != NULL; nd = next) {
			next = nd->next;
			j = hashmap_hash(nd->key) % nb;
			nd->next = b[j];
			b[j] = nd;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

int
hashmap_put(struct hashmap *m, const char *key, void *val)
{
	size_t len = strlen(key) + 1, i;
	struct hashmap_node *nd;

	if (m->b == NULL && hashmap_init(m) < 0)
		return -ENOMEM;
	if ((nd = malloc(sizeof(*nd) + len)) == NULL)
		return -ENOMEM;
	memcpy(nd->key, key, len);
	nd->val = val;
	i = hashmap_hash(key) % m->nb;
	nd->next = m->b[i];
	m->b[i] = nd;
	if (++m->n > m->nb)
		grow(m);
	return 0;
}

size_t
hashmap_count(const struct hashmap *m)
{
	return m->n;
}

void
hashmap_foreach(struct hashmap *m, int (*fn)(void *ctx, const char *key, void *val), void *ctx)
{
	struct hashmap_node **pp, *nd;
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
hashmap_clear(struct hashmap *m)
{
	struct hashmap_node *nd, *next;
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
