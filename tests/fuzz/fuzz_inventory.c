/* tests/fuzz/fuzz_inventory.c - libFuzzer target: inventory_parse on arbitrary
 * bytes. Whatever it accepts must survive the services JSON round trip used by
 * GET /api/v1/agent/config unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct inventory *inv =
	    inventory_parse((const char *)data, size, "fuzz.yaml", err, sizeof(err));

	if (inv == NULL) {
		/* every rejection names the file */
		if (strncmp(err, "fuzz.yaml", 9) != 0)
			abort();
		return 0;
	}
	json_t *j = inventory_services_to_json(inv);
	if (j == NULL)
		abort();
	struct inventory *back = inventory_services_from_json(j, err, sizeof(err));
	if (back == NULL)
		abort(); /* the agent would refuse what the collector serves */
	json_t *j2 = inventory_services_to_json(back);
	char *a = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	char *b = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
	if (a == NULL || b == NULL || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
	inventory_free(back);
	inventory_free(inv);
	return 0;
}
