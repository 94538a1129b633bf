/* tests/fuzz/fuzz_ntp.c - libFuzzer target: arbitrary bytes as an NTP reply
 * (agent/ntp_wire.c) and the fingerprint built from it (agent/identify.c).
 * The nonce is taken from the input's origin field so that validation goes
 * past the origin check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/identify.h"
#include "agent/ntp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ntp_wire_packet p;
	uint64_t nonce = 0;
	enum ntp_wire_verdict v;
	char refid[16], fp_text[64];
	double offset, delay;

	if (size >= 32)
		for (int i = 0; i < 8; i++)
			nonce = nonce << 8 | data[24 + i];
	v = ntp_wire_check(data, size, nonce, &p);
	if (size < NTP_WIRE_LEN && v != NTP_WIRE_DROP)
		__builtin_trap();
	if (v == NTP_WIRE_DROP)
		return 0;
	ntp_wire_refid_text(p.stratum, p.refid, refid, sizeof(refid));
	if (memchr(refid, '\0', sizeof(refid)) == NULL)
		__builtin_trap();
	ntp_wire_offset_delay(1795665000000000000LL, &p, 1795665000001000000LL, &offset, &delay);
	(void)ntp_wire_to_unix_ns(p.reference);
	{
		struct identify_fp fp = { 1, p.stratum, p.refid, p.reference };
		struct identify_ntp_candidate c = { fp, fp };
		int idx;

		identify_fp_format(&fp, fp_text, sizeof(fp_text));
		if (v == NTP_WIRE_OK && identify_ntp(&fp, &c, 1, &idx) != IDENTIFY_MATCH)
			__builtin_trap();
	}
	return 0;
}
