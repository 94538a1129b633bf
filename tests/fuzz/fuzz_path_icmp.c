/* tests/fuzz/fuzz_path_icmp.c - libFuzzer target: arbitrary bytes as one
 * error-queue message (agent/path_icmp.c: control data, msg_name, quoted
 * payload), and every decoded error fed to a trace with probes in flight
 * (agent/path_trace.c: matching an error to its probe).
 * Input: byte 0 = control length, byte 1 = name length, then the control
 * bytes, the name bytes, and the rest as the quoted payload. The nonce is
 * the one the seeds' payloads carry. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/path_icmp.h"
#include "agent/path_trace.h"

#define NONCE 0x01020304U

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct path_trace t;
	struct path_icmp_error e;
	size_t clen, nlen;
	uint16_t id;
	int ttl, rc;

	if (size < 2)
		return 0;
	clen = data[0];
	nlen = data[1];
	data += 2;
	size -= 2;
	if (clen > size)
		clen = size;
	if (nlen > size - clen)
		nlen = size - clen;
	rc = path_icmp_decode(data, clen, data + clen, nlen, data + clen + nlen,
			      size - clen - nlen, NONCE, &e);
	if (rc != 0) {
		if (rc != PATH_ICMP_NOT_ICMP && rc != PATH_ICMP_MALFORMED)
			__builtin_trap();
		return 0;
	}
	if (e.family != AF_INET && e.family != AF_INET6)
		__builtin_trap();
	if (e.kind < PATH_ICMP_TIME_EXCEEDED || e.kind > PATH_ICMP_OTHER)
		__builtin_trap();
	if (e.has_probe && e.quoted_len < PATH_PAYLOAD_MIN)
		__builtin_trap();
	if (e.has_offender && e.offender.ss_family != e.family)
		__builtin_trap();
	(void)path_icmp_kind_name(e.kind);

	/* Four probes (TTL 1..4) in flight, then this error, twice. */
	path_trace_init(&t, &(struct path_trace_opts){ .window = 4 });
	while (path_trace_next(&t, 0, &id, &ttl))
		;
	for (int i = 0; i < 2; i++) {
		path_trace_on_error(&t, 1000, &e);
		if (t.in_flight < 0 || t.in_flight > t.o.window)
			__builtin_trap();
	}
	path_trace_expire(&t, (int64_t)2e9);
	if (t.in_flight != 0)
		__builtin_trap();
	(void)path_trace_finish(&t);
	for (int i = 1; i <= PATH_TRACE_MAX_TTL; i++)
		if (t.hops[i].in_flight < 0)
			__builtin_trap();
	return 0;
}
