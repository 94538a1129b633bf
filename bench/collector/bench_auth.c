/* bench/collector/bench_auth.c - the cost of authenticating one request at
 * 100, 1,000 and 10,000 agents: the former scan (every agent's hash compared
 * with CRYPTO_memcmp, no early exit) against the token index
 * (inventory_find_agent_by_hash), in one run, interleaved so that the load
 * of a shared machine hits both alike. Each request hashes its bearer token
 * first, as bearer_hash() does; both figures include that SHA-256.
 *
 *   cmake --build build-rel --target bench_auth && build-rel/bench_auth [ROUNDS] */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/inventory.h"

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static struct inventory *
make_inventory(int n)
{
	size_t cap = (size_t)n * 120 + 256, len;
	char *y = malloc(cap), err[256], tok[32], hash[65];
	struct inventory *inv;

	len = (size_t)snprintf(y, cap, "services:\n  - name: dns\n    protocol: dns\n"
				       "    address: [198.18.255.53]\n    instances:\n"
				       "      - { name: a, management: 198.18.1.2 }\nagents:\n");
	for (int i = 0; i < n; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		inventory_token_hash(tok, strlen(tok), hash);
		len += (size_t)snprintf(y + len, cap - len, "  - { name: b%d, token_sha256: %s }\n",
					i, hash);
	}
	inv = inventory_parse(y, len, "bench", err, sizeof(err));
	if (inv == NULL)
		fprintf(stderr, "%s\n", err), exit(1);
	free(y);
	return inv;
}

/* What api_auth_agent() did before the index. */
static const struct inv_agent *
scan(const struct inventory *inv, const char *hash)
{
	const struct inv_agent *found = NULL;

	for (int i = 0; i < inv->n_agents; i++) {
		const struct inv_agent *a = &inv->agents[i];

		if (strlen(a->token_sha256) == 64 && CRYPTO_memcmp(a->token_sha256, hash, 64) == 0)
			found = a;
	}
	return found;
}

/* ns per request over reqs requests, tokens spread over every agent. */
static double
run(const struct inventory *inv, int indexed, int reqs)
{
	char tok[32], hash[65];
	const struct inv_agent *a;
	double t0 = now_ns();

	for (int r = 0; r < reqs; r++) {
		int i = (int)(((unsigned)r * 2654435761u) % (unsigned)inv->n_agents);

		snprintf(tok, sizeof(tok), "token-%d", i);
		inventory_token_hash(tok, strlen(tok), hash);
		a = indexed ? inventory_find_agent_by_hash(inv, hash) : scan(inv, hash);
		if (a == NULL || a != &inv->agents[i])
			fprintf(stderr, "wrong agent for %s\n", tok), exit(1);
	}
	return (now_ns() - t0) / reqs;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const int sizes[] = { 100, 1000, 10000 };
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	double old_ns[16], new_ns[16];

	if (rounds < 1 || rounds > 16)
		rounds = 7;
	printf("| agents | scan ns/request | index ns/request | scan / index |\n");
	printf("|---:|---:|---:|---:|\n");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct inventory *inv = make_inventory(sizes[s]);
		/* about 20 ms of scanning per round at every size */
		int reqs = 20000000 / sizes[s] / 30 + 2000;

		for (int r = 0; r < rounds; r++) {
			old_ns[r] = run(inv, 0, reqs);
			new_ns[r] = run(inv, 1, reqs);
		}
		qsort(old_ns, (size_t)rounds, sizeof(double), cmp_double);
		qsort(new_ns, (size_t)rounds, sizeof(double), cmp_double);
		printf("| %d | %.0f | %.0f | %.1fx |\n", sizes[s], old_ns[rounds / 2],
		       new_ns[rounds / 2], old_ns[rounds / 2] / new_ns[rounds / 2]);
		inventory_free(inv);
	}
	printf("(medians of %d interleaved rounds; both include the token's SHA-256)\n", rounds);
	return 0;
}
