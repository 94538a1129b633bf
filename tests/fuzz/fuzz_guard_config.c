/* tests/fuzz/fuzz_guard_config.c - libFuzzer target: arbitrary bytes as a
 * guard configuration file (agent/guard_config.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/guard_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guard_config cfg;
	char err[256];

	if (guard_config_parse((const char *)data, size, "fuzz", &cfg, err, sizeof(err)) == 0) {
		if (cfg.n_services < 1 || cfg.n_services > GUARD_MAX_SERVICES)
			__builtin_trap();
		for (int i = 0; i < cfg.n_services; i++)
			if (!memchr(cfg.services[i].anycast, '\0', sizeof(cfg.services[i].anycast)) ||
			    !cfg.services[i].anycast[0])
				__builtin_trap();
	} else if (!memchr(err, '\0', sizeof(err))) {
		__builtin_trap();
	}
	return 0;
}
