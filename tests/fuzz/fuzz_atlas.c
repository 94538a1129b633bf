/* tests/fuzz/fuzz_atlas.c - libFuzzer target: the RIPE Atlas importer on
 * arbitrary text (a JSON array or JSON lines of Atlas results, abuf DNS
 * messages inside): every record it gives must be complete and in order
 * (agent "atlas:...", a configured service, sorted by agent and seq), and
 * every result is either records or one counted skip. An input starting
 * with a NUL byte is a DNS message instead: it goes into abuf of an Atlas
 * result (base64), so that ldns and the identity code see arbitrary wire. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "collector/atlas_import.h"
#include "collector/atlas_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char INV[] = "services:\n"
                          "  - name: dns\n"
                          "    protocol: dns\n"
                          "    address: [198.18.255.53, \"2001:db8:ffff::53\"]\n"
                          "    instances:\n"
                          "      - { name: site-a, management: 198.18.1.2, identity: nsd-nsid }\n"
                          "  - name: ntp\n"
                          "    protocol: ntp\n"
                          "    address: [198.18.255.123]\n"
                          "    instances:\n"
                          "      - { name: site-a, management: 198.18.1.2 }\n";

static int check(void *ctx, const struct result *r, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		if (!atlas_is_vantage(r[i].agent) || r[i].service[0] == '\0' || r[i].seq == 0 ||
		    (r[i].family != 4 && r[i].family != 6))
			abort();
		if (i > 0 && strcmp(r[i - 1].agent, r[i].agent) == 0 && r[i - 1].seq > r[i].seq)
			abort();
		if (i > 0 && strcmp(r[i - 1].agent, r[i].agent) > 0)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct inventory *inv;
	struct atlas_import im;
	char err[256];

	if (inv == NULL &&
	    (inv = inventory_parse(INV, sizeof(INV) - 1, "fuzz", err, sizeof(err))) == NULL)
		abort();
	if (atlas_import_init(&im, inv, check, NULL, NULL) != 0)
		return 0;
	if (size > 0 && data[0] == 0) {
		static const char head[] = "{\"prb_id\":7,\"msm_id\":1,\"timestamp\":1764748800,"
		                           "\"type\":\"dns\",\"dst_addr\":\"198.18.255.53\","
		                           "\"result\":{\"rt\":1.5,\"abuf\":\"";
		size_t n = size - 1 > 65535 ? 65535 : size - 1, len;
		char *text = malloc(sizeof(head) + (n + 2) / 3 * 4 + 8);

		if (text == NULL)
			abort();
		memcpy(text, head, sizeof(head) - 1);
		len = sizeof(head) - 1;
		len += (size_t)EVP_EncodeBlock((unsigned char *)text + len, data + 1, (int)n);
		memcpy(text + len, "\"}}", 3);
		atlas_import_text(&im, "fuzz", text, len + 3);
		free(text);
	} else {
		atlas_import_text(&im, "fuzz", (const char *)data, size);
	}
	atlas_import_flush(&im);
	if (im.stats.skipped > im.stats.results ||
	    im.stats.records < im.stats.results - im.stats.skipped)
		abort();
	atlas_import_free(&im);
	return 0;
}
