/* tests/agent/test_path_icmp.c - probe payloads and error-queue decoding
 * (agent/path_icmp.c): hand-built control messages for every ICMP and
 * ICMPv6 kind, malformed ones, any alignment, and real messages the kernel
 * queues for a port unreachable on loopback. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/path_icmp.h"

#define NONCE 0xdeadbeefU

struct msg {
	union {
		uint8_t buf[256];
		struct cmsghdr align;
	} c;
	size_t len;
};

/* Append one control element. */
static void add_cmsg(struct msg *m, int level, int type, const void *data, size_t len)
{
	struct cmsghdr h = { .cmsg_len = CMSG_LEN(len), .cmsg_level = level, .cmsg_type = type };

	cr_assert_leq(m->len + CMSG_SPACE(len), sizeof(m->c.buf));
	memset(m->c.buf + m->len, 0, CMSG_SPACE(len));
	memcpy(m->c.buf + m->len, &h, sizeof(h));
	memcpy(m->c.buf + m->len + CMSG_LEN(0), data, len);
	m->len += CMSG_SPACE(len);
}

/* An IP_RECVERR / IPV6_RECVERR element with offender address off. */
static void add_err(struct msg *m, int family, uint8_t origin, uint8_t type, uint8_t code,
		    const char *off)
{
	uint8_t d[sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6)] = { 0 };
	struct sock_extended_err ee = { .ee_errno = EHOSTUNREACH, .ee_origin = origin,
					.ee_type = type, .ee_code = code };
	size_t n = sizeof(ee);

	memcpy(d, &ee, sizeof(ee));
	if (family == AF_INET) {
		struct sockaddr_in s = { .sin_family = AF_INET };

		cr_assert_eq(inet_pton(AF_INET, off, &s.sin_addr), 1);
		memcpy(d + n, &s, sizeof(s));
		n += sizeof(s);
		add_cmsg(m, SOL_IP, IP_RECVERR, d, n);
	} else {
		struct sockaddr_in6 s = { .sin6_family = AF_INET6 };

		cr_assert_eq(inet_pton(AF_INET6, off, &s.sin6_addr), 1);
		memcpy(d + n, &s, sizeof(s));
		n += sizeof(s);
		add_cmsg(m, SOL_IPV6, IPV6_RECVERR, d, n);
	}
}

static int decode(const struct msg *m, const uint8_t *payload, size_t plen,
		  struct path_icmp_error *e)
{
	return path_icmp_decode(m->c.buf, m->len, NULL, 0, payload, plen, NONCE, e);
}

static enum path_icmp_kind kind_of(int family, uint8_t type, uint8_t code)
{
	struct msg m = { 0 };
	struct path_icmp_error e;

	add_err(&m, family, family == AF_INET ? SO_EE_ORIGIN_ICMP : SO_EE_ORIGIN_ICMP6, type, code,
		family == AF_INET ? "198.18.21.1" : "2001:db8:21::1");
	cr_assert_eq(decode(&m, NULL, 0, &e), 0);
	return e.kind;
}

TestSuite(path_icmp);

Test(path_icmp, payload_round_trip)
{
	uint8_t p[PATH_PAYLOAD_LEN];
	uint16_t id = 0;
	uint8_t ttl = 0;

	path_payload_encode(p, NONCE, 0x1234, 7);
	cr_assert_eq(path_payload_decode(p, sizeof(p), NONCE, &id, &ttl), 1);
	cr_assert_eq(id, 0x1234);
	cr_assert_eq(ttl, 7);
	/* The 11 bytes that name the probe suffice; 10 do not. */
	cr_assert_eq(path_payload_decode(p, PATH_PAYLOAD_MIN, NONCE, &id, &ttl), 1);
	cr_assert_eq(path_payload_decode(p, PATH_PAYLOAD_MIN - 1, NONCE, &id, &ttl), 0);
	cr_assert_eq(path_payload_decode(p, sizeof(p), NONCE + 1, &id, &ttl), 0, "another trace");
	p[0] ^= 1;
	cr_assert_eq(path_payload_decode(p, sizeof(p), NONCE, &id, &ttl), 0, "bad magic");
	cr_assert_eq(path_payload_decode(NULL, 0, NONCE, &id, &ttl), 0);
}

Test(path_icmp, icmp4_kinds)
{
	cr_assert_eq(kind_of(AF_INET, 11, 0), PATH_ICMP_TIME_EXCEEDED);
	cr_assert_eq(kind_of(AF_INET, 11, 1), PATH_ICMP_OTHER, "reassembly time exceeded");
	cr_assert_eq(kind_of(AF_INET, 3, 3), PATH_ICMP_PORT_UNREACH);
	cr_assert_eq(kind_of(AF_INET, 3, 2), PATH_ICMP_PROTO_UNREACH);
	cr_assert_eq(kind_of(AF_INET, 3, 1), PATH_ICMP_HOST_UNREACH);
	cr_assert_eq(kind_of(AF_INET, 3, 0), PATH_ICMP_NET_UNREACH);
	cr_assert_eq(kind_of(AF_INET, 3, 13), PATH_ICMP_PROHIBITED);
	cr_assert_eq(kind_of(AF_INET, 3, 10), PATH_ICMP_PROHIBITED);
	cr_assert_eq(kind_of(AF_INET, 3, 4), PATH_ICMP_OTHER, "fragmentation needed");
	cr_assert_eq(kind_of(AF_INET, 0, 0), PATH_ICMP_OTHER, "echo reply");
}

Test(path_icmp, icmp6_kinds)
{
	cr_assert_eq(kind_of(AF_INET6, 3, 0), PATH_ICMP_TIME_EXCEEDED);
	cr_assert_eq(kind_of(AF_INET6, 1, 4), PATH_ICMP_PORT_UNREACH);
	cr_assert_eq(kind_of(AF_INET6, 1, 3), PATH_ICMP_HOST_UNREACH);
	cr_assert_eq(kind_of(AF_INET6, 1, 0), PATH_ICMP_NET_UNREACH);
	cr_assert_eq(kind_of(AF_INET6, 1, 1), PATH_ICMP_PROHIBITED);
	cr_assert_eq(kind_of(AF_INET6, 1, 6), PATH_ICMP_PROHIBITED, "reject route");
	cr_assert_eq(kind_of(AF_INET6, 2, 0), PATH_ICMP_OTHER, "packet too big");
	cr_assert_eq(kind_of(AF_INET6, 4, 0), PATH_ICMP_OTHER, "parameter problem");
}

Test(path_icmp, offender_quoted_destination_and_probe)
{
	struct msg m = { 0 };
	struct path_icmp_error e;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(33434) };
	uint8_t p[PATH_PAYLOAD_LEN];
	struct timespec ts = { 1, 2 };
	char a[INET_ADDRSTRLEN];

	inet_pton(AF_INET, "198.18.255.53", &dst.sin_addr);
	path_payload_encode(p, NONCE, 5, 3);
	/* A timestamp before the error: skipped. */
	add_cmsg(&m, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof(ts));
	add_err(&m, AF_INET, SO_EE_ORIGIN_ICMP, 11, 0, "198.18.11.2");
	cr_assert_eq(path_icmp_decode(m.c.buf, m.len, &dst, sizeof(dst), p, sizeof(p), NONCE, &e),
		     0);
	cr_assert_eq(e.family, AF_INET);
	cr_assert_eq(e.kind, PATH_ICMP_TIME_EXCEEDED);
	cr_assert_eq(e.type, 11);
	cr_assert(e.has_offender);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&e.offender)->sin_addr, a, sizeof(a));
	cr_assert_str_eq(a, "198.18.11.2");
	cr_assert(e.has_quoted_dst);
	cr_assert_eq(((struct sockaddr_in *)&e.quoted_dst)->sin_port, htons(33434));
	cr_assert(e.has_probe);
	cr_assert_eq(e.probe_id, 5);
	cr_assert_eq(e.ttl, 3);
	cr_assert_eq(e.quoted_len, sizeof(p));
}

Test(path_icmp, short_quote_names_no_probe)
{
	struct msg m = { 0 };
	struct path_icmp_error e;
	uint8_t p[PATH_PAYLOAD_LEN];

	path_payload_encode(p, NONCE, 5, 3);
	add_err(&m, AF_INET, SO_EE_ORIGIN_ICMP, 11, 0, "198.18.11.2");
	cr_assert_eq(decode(&m, p, 0, &e), 0, "an RFC 792 router quotes no payload");
	cr_assert_not(e.has_probe);
	cr_assert_eq(e.quoted_len, 0);
	cr_assert_eq(e.kind, PATH_ICMP_TIME_EXCEEDED);
}

Test(path_icmp, not_icmp)
{
	struct msg m = { 0 };
	struct path_icmp_error e;
	int one = 1;

	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_NOT_ICMP, "no control data");
	add_cmsg(&m, SOL_IP, IP_TTL, &one, sizeof(one));
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_NOT_ICMP, "no error element");
	m.len = 0;
	add_err(&m, AF_INET, SO_EE_ORIGIN_LOCAL, 0, 0, "198.18.21.2");
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_NOT_ICMP, "a local error (EMSGSIZE)");
	cr_assert_eq(path_icmp_decode(NULL, 0, NULL, 0, NULL, 0, NONCE, &e), PATH_ICMP_NOT_ICMP);
}

Test(path_icmp, malformed)
{
	struct msg m = { 0 };
	struct path_icmp_error e;
	struct cmsghdr h;
	struct sock_extended_err ee = { .ee_origin = SO_EE_ORIGIN_ICMP, .ee_type = 11 };
	struct sockaddr_in6 six = { .sin6_family = AF_INET6 };
	uint8_t d[sizeof(ee) + sizeof(six)];

	add_err(&m, AF_INET, SO_EE_ORIGIN_ICMP, 11, 0, "198.18.21.1");
	memcpy(&h, m.c.buf, sizeof(h));
	h.cmsg_len = m.len + 1;
	memcpy(m.c.buf, &h, sizeof(h));
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_MALFORMED, "length past the buffer");
	h.cmsg_len = 3;
	memcpy(m.c.buf, &h, sizeof(h));
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_MALFORMED, "length below the header");

	m.len = 0;
	add_cmsg(&m, SOL_IP, IP_RECVERR, &ee, sizeof(ee) - 1);
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_MALFORMED, "truncated sock_extended_err");

	/* ICMP (IPv4) from an IPv6 offender. */
	m.len = 0;
	memcpy(d, &ee, sizeof(ee));
	memcpy(d + sizeof(ee), &six, sizeof(six));
	add_cmsg(&m, SOL_IP, IP_RECVERR, d, sizeof(d));
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_MALFORMED, "offender of another family");

	/* An offender cut short. */
	m.len = 0;
	add_cmsg(&m, SOL_IPV6, IPV6_RECVERR, d, sizeof(ee) + 8);
	cr_assert_eq(decode(&m, NULL, 0, &e), PATH_ICMP_MALFORMED, "truncated offender");

	/* A quoted destination that is no address. */
	m.len = 0;
	add_err(&m, AF_INET, SO_EE_ORIGIN_ICMP, 11, 0, "198.18.21.1");
	{
		struct sockaddr_in6 bad = { .sin6_family = AF_INET6 };

		cr_assert_eq(path_icmp_decode(m.c.buf, m.len, &bad, 10, NULL, 0, NONCE, &e),
			     PATH_ICMP_MALFORMED);
	}
}

Test(path_icmp, any_alignment)
{
	struct msg m = { 0 };
	uint8_t shifted[sizeof(m.c.buf) + 1];
	struct path_icmp_error e;

	add_err(&m, AF_INET6, SO_EE_ORIGIN_ICMP6, 3, 0, "2001:db8:11::2");
	memcpy(shifted + 1, m.c.buf, m.len);
	cr_assert_eq(path_icmp_decode(shifted + 1, m.len, NULL, 0, NULL, 0, NONCE, &e), 0);
	cr_assert_eq(e.kind, PATH_ICMP_TIME_EXCEEDED);
	cr_assert_eq(e.family, AF_INET6);
}

/* A real error from the kernel: a datagram to a closed loopback port. */
static void kernel_port_unreachable(int family)
{
	struct sockaddr_storage ss = { 0 }, from;
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_DGRAM, 0), probe = socket(family, SOCK_DGRAM, 0), on = 1;
	union {
		char buf[512];
		struct cmsghdr align;
	} cbuf;
	uint8_t p[PATH_PAYLOAD_LEN], data[64];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = cbuf.buf,
			    .msg_controllen = sizeof(cbuf.buf) };
	struct path_icmp_error e;
	ssize_t n = -1;

	/* A port nobody listens on: bind one, note it, close it. */
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	cr_assert_eq(bind(probe, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(getsockname(probe, (struct sockaddr *)&ss, &len), 0);
	close(probe);
	cr_assert_eq(setsockopt(fd, family == AF_INET ? SOL_IP : SOL_IPV6,
				family == AF_INET ? IP_RECVERR : IPV6_RECVERR, &on, sizeof(on)),
		     0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	path_payload_encode(p, NONCE, 9, 1);
	cr_assert_eq(send(fd, p, sizeof(p), 0), (ssize_t)sizeof(p));
	for (int i = 0; i < 200 && n < 0; i++) {
		n = recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0)
			usleep(5000);
	}
	cr_assert_geq(n, 0, "no error queued: %s", strerror(errno));
	cr_assert_eq(path_icmp_decode(m.msg_control, m.msg_controllen, m.msg_name, m.msg_namelen,
				      data, (size_t)n, NONCE, &e),
		     0);
	cr_assert_eq(e.family, family);
	cr_assert_eq(e.kind, PATH_ICMP_PORT_UNREACH);
	cr_assert_eq(e.ee_errno, ECONNREFUSED);
	cr_assert(e.has_offender);
	cr_assert(e.has_quoted_dst);
	cr_assert_eq(memcmp(&e.quoted_dst, &ss, len), 0, "the quoted destination is ours");
	cr_assert(e.has_probe, "the kernel hands back the quoted payload");
	cr_assert_eq(e.probe_id, 9);
	cr_assert_eq(e.ttl, 1);
	close(fd);
}

Test(path_icmp, kernel_icmp4_port_unreachable)
{
	kernel_port_unreachable(AF_INET);
}

Test(path_icmp, kernel_icmp6_port_unreachable)
{
	kernel_port_unreachable(AF_INET6);
}
