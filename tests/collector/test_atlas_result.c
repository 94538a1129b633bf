/* tests/collector/test_atlas_result.c - the RIPE Atlas result parser on the
 * fixtures of tests/fixtures/atlas/ (answers captured from NSD, Knot, BIND,
 * Unbound and PowerDNS, wrapped in Atlas's result format): identities,
 * instances, outcomes, stable sequence numbers, and every bad line skipped
 * with its reason. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/atlas_result.h"

static struct inventory *inv_new(void)
{
	char err[256];
	struct inventory *inv = inventory_load("tests/fixtures/atlas/inventory.yaml", err, sizeof(err));

	cr_assert_not_null(inv, "%s", err);
	return inv;
}

static json_t *load(const char *name)
{
	char path[256];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "tests/fixtures/atlas/%s", name);
	j = json_load_file(path, 0, &e);
	cr_assert_not_null(j, "%s: %s", path, e.text);
	return j;
}

struct expect {
	const char *agent, *service, *outcome, *identity, *source, *instance, *rcode;
	int family;
	double rtt;
};

static const struct expect GOOD[] = {
    {"atlas:1001", "dns", "ok", "nsd-nsid", "nsid", "site-a", "NOERROR", 4, 11.4},
    {"atlas:1001", "dns", "ok", "nsd-nsid", "nsid", "site-a", "NOERROR", 4, 12.0},
    {"atlas:1002", "dns", "ok", "knot.fixture", "hostname.bind", "site-b", "NOERROR", 4, 23.9},
    {"atlas:1003", "dns", "ok", "bind-nsid", "id.server", "site-c", "NOERROR", 6, 40.2},
    {"atlas:1004", "dns", "timeout", "", "", "", "", 4, -1},
    {"atlas:1004", "dns", "unreachable", "", "", "", "", 4, -1},
    {"atlas:1005", "dns", "ok", "unbound-nsid", "nsid", "", "NOERROR", 4, 3.1},
    {"atlas:1006", "dns", "rcode", "", "", "", "REFUSED", 4, 8.8},
    {"atlas:1007", "dns", "ok", "nsd.fixture", "id.server", "site-d", "NOERROR", 4, 9.5},
    {"atlas:1007", "dns", "timeout", "", "", "", "", 4, -1},
    {"atlas:1008", "ntp", "unknown", "", "", "", "", 4, 17.2},
    {"atlas:1009", "ntp", "timeout", "", "", "", "", 4, -1},
};

Test(atlas_result, fixtures_become_records)
{
	struct inventory *inv = inv_new();
	json_t *arr = load("results.json");
	struct result r[ATLAS_SUB_MAX];
	size_t i, k = 0, n = sizeof(GOOD) / sizeof(GOOD[0]);
	char why[256];

	for (i = 0; i < json_array_size(arr); i++) {
		int got = atlas_result_parse(json_array_get(arr, i), inv, r, ATLAS_SUB_MAX, why,
		                             sizeof(why));

		cr_assert_gt(got, 0, "result %zu skipped: %s", i, why);
		for (int j = 0; j < got; j++, k++) {
			const struct expect *e = &GOOD[k];

			cr_assert_lt(k, n);
			cr_expect_str_eq(r[j].agent, e->agent, "record %zu", k);
			cr_expect_str_eq(r[j].service, e->service, "record %zu", k);
			cr_expect_str_eq(result_outcome_name(r[j].outcome), e->outcome,
			                 "record %zu", k);
			cr_expect_str_eq(r[j].identity, e->identity, "record %zu", k);
			cr_expect_str_eq(r[j].identity_source, e->source, "record %zu", k);
			cr_expect_str_eq(r[j].instance, e->instance, "record %zu", k);
			cr_expect_str_eq(r[j].rcode, e->rcode, "record %zu", k);
			cr_expect_eq(r[j].family, e->family, "record %zu", k);
			cr_expect_float_eq(r[j].rtt_ms, e->rtt, 1e-9, "record %zu", k);
			cr_expect_eq(r[j].target, RESULT_TARGET_ANYCAST);
		}
	}
	cr_expect_eq(k, n);
	json_decref(arr);
	inventory_free(inv);
}

/* The same result always gets the same seq; results of one probe get
 * distinct, time-ordered ones; the jsonl fixture is the same data. */
Test(atlas_result, seq_stable_and_distinct)
{
	struct inventory *inv = inv_new();
	json_t *arr = load("results.json"), *again = load("results.json");
	struct result a[ATLAS_SUB_MAX], b[ATLAS_SUB_MAX];
	char why[256];
	uint64_t seqs[64];
	char agents[64][RESULT_NAME_MAX];
	size_t ns = 0;

	for (size_t i = 0; i < json_array_size(arr); i++) {
		int n = atlas_result_parse(json_array_get(arr, i), inv, a, ATLAS_SUB_MAX, why,
		                           sizeof(why));
		int m = atlas_result_parse(json_array_get(again, i), inv, b, ATLAS_SUB_MAX, why,
		                           sizeof(why));

		cr_assert_eq(n, m);
		for (int j = 0; j < n; j++) {
			cr_expect_eq(a[j].seq, b[j].seq);
			cr_expect_gt(a[j].seq, 0);
			for (size_t x = 0; x < ns; x++)
				cr_expect(strcmp(agents[x], a[j].agent) != 0 || seqs[x] != a[j].seq,
				          "seq %llu repeated for %s", (unsigned long long)a[j].seq,
				          a[j].agent);
			seqs[ns] = a[j].seq;
			snprintf(agents[ns++], RESULT_NAME_MAX, "%s", a[j].agent);
		}
	}
	cr_expect_lt(atlas_seq(1764748800, 70001, 0), atlas_seq(1764749040, 70001, 0));
	cr_expect_neq(atlas_seq(1764748800, 70001, 0), atlas_seq(1764748800, 70002, 0));
	cr_expect_neq(atlas_seq(1764748800, 70001, 0), atlas_seq(1764748800, 70001, 1));
	json_decref(arr);
	json_decref(again);
	inventory_free(inv);
}

/* Every line of bad.jsonl that is JSON is skipped with the reason its
 * "expect" field names. */
Test(atlas_result, bad_input_skipped_with_reason)
{
	struct inventory *inv = inv_new();
	FILE *f = fopen("tests/fixtures/atlas/bad.jsonl", "r");
	char line[8192], why[256];
	struct result r[ATLAS_SUB_MAX];
	int n_checked = 0, n_not_json = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *o = json_loads(line, 0, NULL);
		const char *expect;

		if (o == NULL) {
			n_not_json++;
			continue;
		}
		why[0] = '\0';
		cr_expect_eq(atlas_result_parse(o, inv, r, ATLAS_SUB_MAX, why, sizeof(why)), -1,
		             "accepted: %s", line);
		expect = json_string_value(json_object_get(o, "expect"));
		if (expect == NULL)
			expect = "not a JSON object";
		cr_expect_str_eq(why, expect);
		n_checked++;
		json_decref(o);
	}
	fclose(f);
	cr_expect_eq(n_checked, 11);
	cr_expect_eq(n_not_json, 1);
	inventory_free(inv);
}

Test(atlas_result, vantage_names)
{
	cr_expect(atlas_is_vantage("atlas:1001"));
	cr_expect_not(atlas_is_vantage("branch-1"));
	cr_expect_not(atlas_is_vantage("atlas"));
}
