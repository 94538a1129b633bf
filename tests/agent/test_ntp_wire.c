/* tests/agent/test_ntp_wire.c - NTP request encoding, reply validation and
 * arithmetic, against a real chronyd reply (tests/fixtures/ntp). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/fixture.h"
#include "agent/ntp_wire.h"

#define NONCE 0x1122334455667788ULL /* the transmit timestamp capture.sh sent */

static enum ntp_wire_verdict check_file(const char *name, struct ntp_wire_packet *p)
{
	uint8_t buf[128];
	size_t n = fixture_load("ntp", name, buf, sizeof(buf));

	return ntp_wire_check(buf, n, NONCE, p);
}

TestSuite(ntp_wire);

Test(ntp_wire, request_is_v4_mode3_with_nonce)
{
	uint8_t buf[NTP_WIRE_LEN];
	struct ntp_wire_packet p;

	cr_assert_eq(ntp_wire_encode_request(0x0102030405060708ULL, buf), NTP_WIRE_LEN);
	cr_assert_eq(buf[0], 0x23);
	cr_assert_eq(ntp_wire_decode(buf, sizeof(buf), &p), 0);
	cr_assert_eq(p.transmit, 0x0102030405060708ULL);
	cr_assert_eq(p.origin, 0);
	cr_assert_eq(p.stratum, 0);
}

Test(ntp_wire, chrony_reply_is_valid)
{
	struct ntp_wire_packet p;
	char refid[16];

	cr_assert_eq(check_file("chrony_reply.bin", &p), NTP_WIRE_OK);
	cr_assert_eq(p.mode, 4);
	cr_assert_eq(p.version, 4);
	cr_assert_eq(p.stratum, 3, "local stratum 3 in capture.sh");
	cr_assert_eq(p.origin, NONCE);
	cr_assert_neq(p.transmit, 0);
	cr_assert_neq(p.reference, 0);
	/* chrony's local reference: refid 127.127.1.1 */
	cr_assert_str_eq(ntp_wire_refid_text(p.stratum, p.refid, refid, sizeof(refid)),
			 "127.127.1.1");
	/* The capture ran in 2026. */
	cr_assert_gt(ntp_wire_to_unix_ns(p.transmit), 1767225600LL * 1000000000LL);
	cr_assert_lt(ntp_wire_to_unix_ns(p.transmit), 1798761600LL * 1000000000LL);
}

Test(ntp_wire, version3_is_accepted)
{
	struct ntp_wire_packet p;

	cr_assert_eq(check_file("version3.bin", &p), NTP_WIRE_OK);
	cr_assert_eq(p.version, 3);
}

Test(ntp_wire, spoofed_and_bad_replies)
{
	struct ntp_wire_packet p;

	cr_assert_eq(check_file("wrong_origin.bin", &p), NTP_WIRE_DROP);
	cr_assert_eq(check_file("short.bin", &p), NTP_WIRE_DROP);
	cr_assert_eq(check_file("bad_mode.bin", &p), NTP_WIRE_MALFORMED);
	cr_assert_eq(check_file("bad_version.bin", &p), NTP_WIRE_MALFORMED);
	cr_assert_eq(check_file("zero_transmit.bin", &p), NTP_WIRE_MALFORMED);
	cr_assert_eq(ntp_wire_check(NULL, 0, NONCE, &p), NTP_WIRE_DROP);
}

Test(ntp_wire, kiss_of_death)
{
	struct ntp_wire_packet p;
	char refid[16];

	cr_assert_eq(check_file("chrony_kod.bin", &p), NTP_WIRE_KOD);
	cr_assert_eq(p.stratum, 0);
	cr_assert_str_eq(ntp_wire_refid_text(p.stratum, p.refid, refid, sizeof(refid)), "RATE");
}

Test(ntp_wire, timestamps_round_trip)
{
	const int64_t times[] = { 0, 1795665292123456789LL, 2085978496000000000LL /* 2036 */,
				  2085978495999999999LL, 4000000000000000000LL };

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t back = ntp_wire_to_unix_ns(ntp_wire_from_unix_ns(times[i]));

		cr_assert_lt(llabs(back - times[i]), 2, "%lld -> %lld", (long long)times[i],
			     (long long)back);
	}
	/* 2036-02-07T06:28:16Z is the first second of era 1: seconds field 0. */
	cr_assert_eq(ntp_wire_from_unix_ns(2085978496000000000LL) >> 32, 0);
}

Test(ntp_wire, offset_and_delay)
{
	/* Client sends at 1000 s, server (clock 5 ms ahead) receives after 10 ms
	 * of path, answers 1 ms later, client receives 10 ms after that. */
	const int64_t s = 1000000000LL, ms = 1000000LL;
	int64_t t1 = 1795665000 * s;
	struct ntp_wire_packet p = { 0 };
	double offset, delay;

	p.receive = ntp_wire_from_unix_ns(t1 + 10 * ms + 5 * ms);
	p.transmit = ntp_wire_from_unix_ns(t1 + 11 * ms + 5 * ms);
	ntp_wire_offset_delay(t1, &p, t1 + 21 * ms, &offset, &delay);
	cr_assert_float_eq(offset, 5.0, 0.001);
	cr_assert_float_eq(delay, 20.0, 0.001);
}

Test(ntp_wire, offset_across_era_boundary)
{
	const int64_t s = 1000000000LL, ms = 1000000LL;
	int64_t t1 = 2085978496LL * s - 2 * ms; /* 2 ms before the 2036 rollover */
	struct ntp_wire_packet p = { 0 };
	double offset, delay;

	p.receive = ntp_wire_from_unix_ns(t1 + 3 * ms - 1 * ms);
	p.transmit = ntp_wire_from_unix_ns(t1 + 4 * ms - 1 * ms);
	ntp_wire_offset_delay(t1, &p, t1 + 7 * ms, &offset, &delay);
	cr_assert_float_eq(offset, -1.0, 0.001);
	cr_assert_float_eq(delay, 6.0, 0.001);
}

Test(ntp_wire, absurd_server_timestamps_do_not_overflow)
{
	/* Found by fuzz_ntp: receive and transmit half an era apart. */
	const int64_t s = 1000000000LL;
	int64_t t1 = 1795665000 * s;
	struct ntp_wire_packet p = { 0 };
	double offset, delay;

	p.receive = 0x6eb22c1f475a445fULL;
	p.transmit = 0xeeb22c1f47619518ULL;
	ntp_wire_offset_delay(t1, &p, t1 + 1000000, &offset, &delay);
	cr_assert(offset == offset && delay == delay, "finite numbers");
	p.receive = 0;
	p.transmit = UINT64_MAX;
	ntp_wire_offset_delay(t1, &p, t1, &offset, &delay);
	cr_assert(delay == delay);
}

Test(ntp_wire, root_delay_short_format)
{
	cr_assert_float_eq(ntp_wire_short_ms(0x00010000), 1000.0, 1e-9);
	cr_assert_float_eq(ntp_wire_short_ms(0x00008000), 500.0, 1e-9);
	cr_assert_float_eq(ntp_wire_short_ms(0), 0.0, 1e-9);
}

Test(ntp_wire, refid_text)
{
	char b[16];

	cr_assert_str_eq(ntp_wire_refid_text(1, 0x47505300, b, sizeof(b)), "GPS");
	cr_assert_str_eq(ntp_wire_refid_text(2, 0xc612ff01, b, sizeof(b)), "198.18.255.1");
	cr_assert_str_eq(ntp_wire_refid_text(0, 0x44454e59, b, sizeof(b)), "DENY");
	cr_assert_str_eq(ntp_wire_refid_text(1, 0x0a414243, b, sizeof(b)), "?ABC");
}
