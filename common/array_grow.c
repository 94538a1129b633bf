/* common/array_grow.c - doubling growth of bounded arrays (common/array_grow.h). */
#include "common/array_grow.h"

#include <stdlib.h>

int array_grow(void **p, size_t *cap, size_t n, size_t size, size_t max)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -1;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > max)
		ncap = max;
	if ((q = realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = q;
	*cap = ncap;
	return 0;
}
