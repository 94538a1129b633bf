/* tests/fuzz/fuzz_guard_report.c - libFuzzer target: arbitrary bytes as a
 * guard report body (POST /api/v1/guard, collector/guard_report.c). Accepted
 * actions must hold only what the validator promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/guard_report.h"
#include "common/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct inventory inv;
	static struct inv_service svc;
	static struct inv_instance insts[2];
	static struct inv_agent guard;
	struct guard_action *g;
	size_t n;
	char msg[512];

	if (inv.n_services == 0) {
		snprintf(svc.name, sizeof(svc.name), "dns");
		snprintf(insts[0].name, sizeof(insts[0].name), "site-a");
		snprintf(insts[1].name, sizeof(insts[1].name), "site-b");
		svc.instances = insts;
		svc.n_instances = 2;
		inv.services = &svc;
		inv.n_services = 1;
		snprintf(guard.name, sizeof(guard.name), "guard-b");
		snprintf(guard.guard, sizeof(guard.guard), "site-b");
	}
	if (guard_report_parse((const char *)data, size, &inv, &guard, 1780000000000LL, &g, &n, msg,
			       sizeof(msg)) != 0) {
		if (msg[0] == '\0' || memchr(msg, '\0', sizeof(msg)) == NULL)
			abort(); /* every refusal says why */
		return 0;
	}
	if (n > GUARD_REPORT_MAX_ACTIONS || (n > 0) != (g != NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (g[i].seq < 1 || (i > 0 && g[i].seq <= g[i - 1].seq))
			abort();
		if (strcmp(g[i].service, "dns") != 0 || strcmp(g[i].instance, "site-b") != 0)
			abort();
		if (g[i].withdraw && g[i].reason[0] == '\0')
			abort();
		for (const char *p = g[i].reason; *p; p++)
			if (text_hidden_len(p) != 0)
				abort(); /* reached alerts raw */
	}
	free(g);
	return 0;
}
