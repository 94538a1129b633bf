/* agent/rand_pool.c - random bytes for query IDs and NTP nonces from the
 * kernel's CSPRNG (getrandom), fetched 512 bytes at a time per thread. Every
 * byte is handed out once and wiped from the buffer; a process that forks
 * must not use the pool in both halves (the agent does not fork). */
#include "agent/rand_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define POOL_BYTES 512

static _Thread_local uint8_t pool[POOL_BYTES];
static _Thread_local size_t pool_left;

static void refill(void)
{
	size_t got = 0;

	while (got < sizeof(pool)) {
		ssize_t n = getrandom(pool + got, sizeof(pool) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort(); /* no kernel randomness: no safe query ID either */
		}
		got += (size_t)n;
	}
	pool_left = sizeof(pool);
}

void rand_pool_bytes(void *out, size_t n)
{
	uint8_t *o = out;

	while (n > 0) {
		size_t take;

		if (pool_left == 0)
			refill();
		take = n < pool_left ? n : pool_left;
		memcpy(o, pool + sizeof(pool) - pool_left, take);
		memset(pool + sizeof(pool) - pool_left, 0, take);
		pool_left -= take;
		o += take;
		n -= take;
	}
}

uint32_t rand_pool_u32(void)
{
	uint32_t v;

	rand_pool_bytes(&v, sizeof(v));
	return v;
}
