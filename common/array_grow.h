/* common/array_grow.h - room for one more element in a growable array. */
#ifndef ANYCAST_ARRAY_GROW_H
#define ANYCAST_ARRAY_GROW_H

#include <stddef.h>

/* Makes *p (an array of *cap elements of size bytes, n of them used) hold
 * at least n + 1: doubles the capacity (first 8), never beyond max
 * elements. 0, or -1 when n has reached max or memory is short (the array
 * is then unchanged). */
int array_grow(void **p, size_t *cap, size_t n, size_t size, size_t max);

#endif
