/* collector/catchment_names.c - the catchment state's shared strings: agent,
 * service and instance names and server identities, each stored once with a
 * reference count and freed when the last stream lets go of it.
 *
 * 10,000 streams each holding a dozen names and 32 history entries would
 * otherwise carry ~3.6 KB of fixed-size arrays apiece; here a stream holds
 * pointers and the table holds each distinct string once. Identities come
 * from the network (a rogue server may send a new one every round), so the
 * table never keeps a string nobody refers to. */
#include <stdlib.h>
#include <string.h>

#include "collector/catchment_impl.h"

struct cm_name {
	struct cm_name *next;
	uint64_t hash;
	size_t refs;
	char s[];
};

const char cm_name_empty[1] = "";

static struct cm_name *
entry_of(const char *s)
{
	return (struct cm_name *)(void *)(s - offsetof(struct cm_name, s));
}

static void
grow(struct cm_names *t)
{
	size_t nb = t->nb == 0 ? 64 : t->nb * 2, i;
	struct cm_name **b = calloc(nb, sizeof(*b)), *e, *next;

	if (b == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash % nb];
			b[e->hash % nb] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

const char *
cm_name_ref(struct cm_names *t, const char *s)
{
	uint64_t h;
	size_t len;
	struct cm_name *e;

	if (s == NULL || s[0] == '\0')
		return cm_name_empty;
	if (t->n >= t->nb)
		grow(t);
	if (t->b == NULL)
		return NULL;
	h = hashmap_hash(s);
	for (e = t->b[h % t->nb]; e != NULL; e = e->next) {
		if (e->hash == h && strcmp(e->s, s) == 0) {
			e->refs++;
			return e->s;
		}
	}
	len = strlen(s) + 1;
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		return NULL;
	memcpy(e->s, s, len);
	e->hash = h;
	e->refs = 1;
	e->next = t->b[h % t->nb];
	t->b[h % t->nb] = e;
	t->n++;
	return e->s;
}

void
cm_name_unref(struct cm_names *t, const char *s)
{
	struct cm_name *e, **pp;

	if (s == NULL || s == cm_name_empty)
		return;
	e = entry_of(s);
	if (--e->refs > 0)
		return;
	for (pp = &t->b[e->hash % t->nb]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			t->n--;
			free(e);
			return;
		}
	}
}

int
cm_name_set(struct cm_names *t, const char **field, const char *s)
{
	const char *nv;

	if (*field != NULL && strcmp(*field, s != NULL ? s : "") == 0)
		return 0;
	if ((nv = cm_name_ref(t, s)) == NULL)
		return -1; /* out of memory: the old value stays */
	cm_name_unref(t, *field);
	*field = nv;
	return 0;
}

size_t
cm_names_count(const struct cm_names *t)
{
	return t->n;
}

size_t
catchment_strings(const struct catchment *c)
{
	return cm_names_count(&c->names);
}

void
cm_names_free(struct cm_names *t)
{
	struct cm_name *e, *next;
	size_t i;

	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}
