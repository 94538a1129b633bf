/* agent/ntp_wire.c - NTPv4 client packets: request encoding, reply decoding
 * and validation, timestamp arithmetic. Pure: no sockets, no clocks. */
#include "agent/ntp_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NTP_UNIX_OFFSET 2208988800LL /* seconds from 1900 to 1970 */

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get64(const uint8_t *b)
{
	return (uint64_t)get32(b) << 32 | get32(b + 4);
}

static void put64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

int ntp_wire_encode_request(uint64_t nonce, uint8_t *buf)
{
	memset(buf, 0, NTP_WIRE_LEN);
	buf[0] = 0 << 6 | 4 << 3 | 3; /* LI 0, VN 4, mode 3 (client) */
	put64(buf + 40, nonce);
	return NTP_WIRE_LEN;
}

int ntp_wire_decode(const uint8_t *buf, size_t len, struct ntp_wire_packet *p)
{
	if (buf == NULL || len < NTP_WIRE_LEN)
		return -EINVAL;
	p->leap = buf[0] >> 6;
	p->version = (buf[0] >> 3) & 7;
	p->mode = buf[0] & 7;
	p->stratum = buf[1];
	p->poll = (int8_t)buf[2];
	p->precision = (int8_t)buf[3];
	p->root_delay = get32(buf + 4);
	p->root_dispersion = get32(buf + 8);
	p->refid = get32(buf + 12);
	p->reference = get64(buf + 16);
	p->origin = get64(buf + 24);
	p->receive = get64(buf + 32);
	p->transmit = get64(buf + 40);
	return 0;
}

enum ntp_wire_verdict ntp_wire_check(const uint8_t *buf, size_t len, uint64_t nonce,
				     struct ntp_wire_packet *p)
{
	memset(p, 0, sizeof(*p));
	if (ntp_wire_decode(buf, len, p) < 0)
		return NTP_WIRE_DROP;
	/* The origin timestamp echoes our random transmit timestamp: anything
	 * else is a stale, duplicated or spoofed packet. */
	if (p->origin != nonce)
		return NTP_WIRE_DROP;
	if (p->mode != 4 || (p->version != 3 && p->version != 4))
		return NTP_WIRE_MALFORMED;
	if (p->stratum == 0)
		return NTP_WIRE_KOD;
	if (p->transmit == 0)
		return NTP_WIRE_MALFORMED;
	return NTP_WIRE_OK;
}

uint64_t ntp_wire_from_unix_ns(int64_t unix_ns)
{
	int64_t sec = unix_ns / 1000000000LL;
	int64_t nsec = unix_ns % 1000000000LL;
	uint64_t frac;

	if (nsec < 0) {
		nsec += 1000000000LL;
		sec--;
	}
	frac = ((uint64_t)nsec << 32) / 1000000000ULL;
	return (uint64_t)(uint32_t)(sec + NTP_UNIX_OFFSET) << 32 | frac;
}

int64_t ntp_wire_to_unix_ns(uint64_t ts)
{
	int64_t sec = (int64_t)(ts >> 32);
	uint64_t frac = ts & 0xffffffffULL;

	/* Era 0 ends in 2036: small values belong to era 1. The pivot (1968)
	 * keeps every time between 1968 and 2104 right. */
	if (sec < 0x80000000LL)
		sec += 0x100000000LL;
	sec -= NTP_UNIX_OFFSET;
	return sec * 1000000000LL + (int64_t)((frac * 1000000000ULL) >> 32);
}

void ntp_wire_offset_delay(int64_t t1_ns, const struct ntp_wire_packet *p, int64_t t4_ns,
			   double *offset_ms, double *delay_ms)
{
	/* Differences of 64-bit timestamps are taken modulo 2^64 so that an era
	 * boundary between the four times does no harm. */
	uint64_t t1 = ntp_wire_from_unix_ns(t1_ns), t4 = ntp_wire_from_unix_ns(t4_ns);
	int64_t a = (int64_t)(p->receive - t1);  /* T2 - T1 */
	int64_t b = (int64_t)(p->transmit - t4); /* T3 - T4 */
	/* A lying server may put any values in T2/T3: subtract unsigned so
	 * that nothing overflows, then read the result as signed. */
	int64_t d = (int64_t)((t4 - t1) - (p->transmit - p->receive));
	const double scale = 1000.0 / 4294967296.0;

	*offset_ms = ((double)a + (double)b) / 2.0 * scale;
	*delay_ms = (double)d * scale;
}

double ntp_wire_short_ms(uint32_t v)
{
	return (double)v * 1000.0 / 65536.0;
}

char *ntp_wire_refid_text(int stratum, uint32_t refid, char *out, size_t outlen)
{
	if (stratum <= 1) {
		char s[5];
		size_t n = 0;

		for (int i = 0; i < 4; i++) {
			unsigned char c = (unsigned char)(refid >> (24 - 8 * i));

			if (c == 0)
				break;
			s[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		s[n] = '\0';
		snprintf(out, outlen, "%s", s);
	} else {
		snprintf(out, outlen, "%u.%u.%u.%u", refid >> 24, (refid >> 16) & 0xff,
			 (refid >> 8) & 0xff, refid & 0xff);
	}
	return out;
}
