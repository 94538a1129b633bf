/* agent/ntp_wire.h - NTPv4 client packets: request encoding, reply decoding
 * and validation, timestamp arithmetic. Pure: no sockets, no clocks. */
#ifndef ANYCAST_NTP_WIRE_H
#define ANYCAST_NTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define NTP_WIRE_LEN 48

/* NTP timestamps are 64-bit: 32 bits of seconds since 1900, 32 of fraction. */
struct ntp_wire_packet {
	int leap, version, mode, stratum, poll, precision;
	uint32_t root_delay;       /* 16.16 seconds */
	uint32_t root_dispersion;  /* 16.16 seconds */
	uint32_t refid;            /* host order */
	uint64_t reference;
	uint64_t origin;
	uint64_t receive;
	uint64_t transmit;
};

enum ntp_wire_verdict {
	NTP_WIRE_DROP = 0,   /* not ours: too short, or origin != our nonce */
	NTP_WIRE_OK,         /* a valid server reply */
	NTP_WIRE_KOD,        /* Kiss-o'-Death (stratum 0): kod code in refid */
	NTP_WIRE_MALFORMED,  /* ours (origin echoed) but bad mode/version or zero transmit */
};

/* Encode a mode 3, version 4 request whose transmit timestamp is nonce.
 * buf must hold NTP_WIRE_LEN bytes. Returns NTP_WIRE_LEN. */
int ntp_wire_encode_request(uint64_t nonce, uint8_t *buf);

/* Decode the first 48 bytes. 0, or -EINVAL when len < NTP_WIRE_LEN. */
int ntp_wire_decode(const uint8_t *buf, size_t len, struct ntp_wire_packet *p);

/* Decode and validate a reply to the request carrying nonce. p is filled
 * whenever the packet was long enough. */
enum ntp_wire_verdict ntp_wire_check(const uint8_t *buf, size_t len, uint64_t nonce,
				     struct ntp_wire_packet *p);

/* Unix nanoseconds <-> NTP timestamps (era chosen around 1968-2104). */
uint64_t ntp_wire_from_unix_ns(int64_t unix_ns);
int64_t ntp_wire_to_unix_ns(uint64_t ts);

/* Offset and delay in ms from the client's send (t1) and receive (t4) wall
 * times (Unix ns) and the server's receive/transmit timestamps. */
void ntp_wire_offset_delay(int64_t t1_ns, const struct ntp_wire_packet *p, int64_t t4_ns,
			   double *offset_ms, double *delay_ms);

/* 16.16 short format to ms. */
double ntp_wire_short_ms(uint32_t v);

/* Refid as text into out (>= 16 bytes): ASCII for stratum 0/1 (KoD code or
 * reference clock), dotted quad otherwise. Returns out. */
char *ntp_wire_refid_text(int stratum, uint32_t refid, char *out, size_t outlen);

#endif
