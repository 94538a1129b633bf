/* agent/rand_pool.h - random bytes for query IDs and NTP nonces from the
 * kernel's CSPRNG, fetched in blocks so that a probe does not cost a
 * getrandom() system call of its own. Per thread; never reused. */
#ifndef ANYCAST_RAND_POOL_H
#define ANYCAST_RAND_POOL_H

#include <stddef.h>
#include <stdint.h>

/* Fill out with n random bytes (aborts only if the kernel refuses getrandom). */
void rand_pool_bytes(void *out, size_t n);
uint32_t rand_pool_u32(void);

#endif
