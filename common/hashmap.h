/* common/hashmap.h - a string-keyed chained hash map (FNV-1a), the one map
 * the agent and the collector share: catchment state tables, the inventory's
 * token index, the shared names table's hash.
 *
 * Ownership: the map copies every key and owns its nodes; it never frees
 * values (the caller owns them). A zeroed struct hashmap is an empty map.
 * Not thread-safe. */
#ifndef ANYCAST_HASHMAP_H
#define ANYCAST_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap_node;
struct hashmap {
	size_t nb, n;                 /* buckets, entries; the buckets double when n > nb */
	struct hashmap_node **b;
};

/* FNV-1a of a NUL-terminated string. */
uint64_t hashmap_hash(const char *s);
/* Allocates the first buckets of an empty map. 0 or -ENOMEM. Optional: put
 * does it when needed. */
int hashmap_init(struct hashmap *m);
/* The value stored under key, or NULL. */
void *hashmap_get(const struct hashmap *m, const char *key);
/* Inserts key (copied) with val. 0 or -ENOMEM. The key must not be present:
 * check with hashmap_get first when it may be. */
int hashmap_put(struct hashmap *m, const char *key, void *val);
size_t hashmap_count(const struct hashmap *m);
/* Calls fn for every entry, in no particular order; when fn returns 1 the
 * entry is removed (fn must then have released the value). */
void hashmap_foreach(struct hashmap *m, int (*fn)(void *ctx, const char *key, void *val),
		     void *ctx);
/* Frees the nodes and buckets, not the values; the map is empty again. */
void hashmap_clear(struct hashmap *m);

#endif
