/* tests/fuzz/fuzz_result_json.c - libFuzzer target: the collector's ingest
 * decoders on arbitrary JSON: result_from_json (one record, or each record of a
 * {"results": [...]} body) and inventory_services_from_json. Accepted records
 * must re-encode to JSON that decodes to the same line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"
#include "common/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const json_t *obj)
{
	struct result r, back;
	char err[256], line[8192], line2[8192];

	if (result_from_json(obj, &r, err, sizeof(err)) < 0)
		return;
	int n = result_to_line(&r, line, sizeof(line));
	if (n < 0)
		abort();
	json_t *j = json_loads(line, 0, NULL);
	if (j == NULL || result_from_json(j, &back, err, sizeof(err)) < 0)
		abort(); /* the agent wrote a line the collector rejects */
	json_decref(j);
	if (result_to_line(&back, line2, sizeof(line2)) != n || strcmp(line, line2) != 0)
		abort();
	j = result_to_json(&r);
	if (j == NULL || result_from_json(j, &back, err, sizeof(err)) < 0)
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)data, size, 0, &jerr);
	char err[256];

	if (root == NULL)
		return 0;
	const json_t *results = json_object_get(root, "results");
	if (json_is_array(results)) {
		size_t i;
		const json_t *v;
		json_array_foreach(results, i, v)
		{
			check_record(v);
		}
	} else {
		check_record(root);
	}
	struct inventory *inv = inventory_services_from_json(root, err, sizeof(err));
	if (inv != NULL) {
		json_t *j = inventory_services_to_json(inv);
		struct inventory *back = inventory_services_from_json(j, err, sizeof(err));
		if (back == NULL)
			abort();
		inventory_free(back);
		json_decref(j);
		inventory_free(inv);
	}
	json_decref(root);
	return 0;
}
