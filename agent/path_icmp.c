/* agent/path_icmp.c - the pure part of the path probe: probe payloads, and
 * error-queue messages (struct sock_extended_err, the offender address that
 * follows it, the quoted destination in msg_name, the quoted payload)
 * decoded into ICMP / ICMPv6 errors. The control buffer is walked by hand
 * with memcpy rather than with CMSG_NXTHDR so that any bytes, at any
 * alignment, are checked and never dereferenced out of bounds. */
#include "agent/path_icmp.h"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t magic[4] = { 'A', 'C', 'P', 'T' };

void path_payload_encode(uint8_t out[PATH_PAYLOAD_LEN], uint32_t nonce, uint16_t probe_id,
			 uint8_t ttl)
{
	memset(out, 0, PATH_PAYLOAD_LEN);
	memcpy(out, magic, sizeof(magic));
	out[4] = (uint8_t)(nonce >> 24);
	out[5] = (uint8_t)(nonce >> 16);
	out[6] = (uint8_t)(nonce >> 8);
	out[7] = (uint8_t)nonce;
	out[8] = (uint8_t)(probe_id >> 8);
	out[9] = (uint8_t)probe_id;
	out[10] = ttl;
}

int path_payload_decode(const uint8_t *p, size_t len, uint32_t nonce, uint16_t *probe_id,
			uint8_t *ttl)
{
	uint32_t n;

	if (p == NULL || len < PATH_PAYLOAD_MIN || memcmp(p, magic, sizeof(magic)) != 0)
		return 0;
	n = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	if (n != nonce)
		return 0;
	*probe_id = (uint16_t)(p[8] << 8 | p[9]);
	*ttl = p[10];
	return 1;
}

static enum path_icmp_kind classify4(uint8_t type, uint8_t code)
{
	if (type == 11)
		return code == 0 ? PATH_ICMP_TIME_EXCEEDED : PATH_ICMP_OTHER;
	if (type != 3)
		return PATH_ICMP_OTHER;
	switch (code) {
	case 0: case 6: case 11: return PATH_ICMP_NET_UNREACH;
	case 1: case 5: case 7: case 8: case 12: return PATH_ICMP_HOST_UNREACH;
	case 2: return PATH_ICMP_PROTO_UNREACH;
	case 3: return PATH_ICMP_PORT_UNREACH;
	case 9: case 10: case 13: case 14: case 15: return PATH_ICMP_PROHIBITED;
	default: return PATH_ICMP_OTHER; /* 4: fragmentation needed */
	}
}

static enum path_icmp_kind classify6(uint8_t type, uint8_t code)
{
	if (type == 3)
		return code == 0 ? PATH_ICMP_TIME_EXCEEDED : PATH_ICMP_OTHER;
	if (type != 1)
		return PATH_ICMP_OTHER; /* 2: packet too big, 4: parameter problem */
	switch (code) {
	case 0: case 2: return PATH_ICMP_NET_UNREACH;
	case 3: case 7: return PATH_ICMP_HOST_UNREACH;
	case 4: return PATH_ICMP_PORT_UNREACH;
	case 1: case 5: case 6: return PATH_ICMP_PROHIBITED;
	default: return PATH_ICMP_OTHER;
	}
}

/* A socket address of family AF_INET or AF_INET6 from len bytes at p.
 * 1: copied to *out; 0: none there (AF_UNSPEC, nothing); -1: malformed. */
static int read_sockaddr(const uint8_t *p, size_t len, struct sockaddr_storage *out)
{
	sa_family_t fam;

	if (len < sizeof(fam))
		return 0;
	memcpy(&fam, p, sizeof(fam));
	memset(out, 0, sizeof(*out));
	if (fam == AF_UNSPEC)
		return 0;
	if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(out, p, sizeof(struct sockaddr_in));
		return 1;
	}
	if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(out, p, sizeof(struct sockaddr_in6));
		return 1;
	}
	return -1;
}

/* The IP_RECVERR / IPV6_RECVERR element of the control buffer: its data
 * and length. 1 found, 0 none, -1 malformed. */
static int find_recverr(const uint8_t *c, size_t len, const uint8_t **data, size_t *data_len)
{
	size_t off = 0;

	while (len - off >= sizeof(struct cmsghdr)) {
		struct cmsghdr h;
		size_t step;

		memcpy(&h, c + off, sizeof(h));
		if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > len - off)
			return -1;
		if ((h.cmsg_level == SOL_IP && h.cmsg_type == IP_RECVERR) ||
		    (h.cmsg_level == SOL_IPV6 && h.cmsg_type == IPV6_RECVERR)) {
			*data = c + off + CMSG_LEN(0);
			*data_len = h.cmsg_len - CMSG_LEN(0);
			return 1;
		}
		step = CMSG_ALIGN(h.cmsg_len);
		if (step > len - off)
			break; /* the last element, without trailing padding */
		off += step;
	}
	return 0;
}

int path_icmp_decode(const void *control, size_t control_len, const void *name, size_t name_len,
		     const uint8_t *payload, size_t payload_len, uint32_t nonce,
		     struct path_icmp_error *out)
{
	const uint8_t *d = NULL;
	size_t dlen = 0;
	struct sock_extended_err ee;
	int rc;

	if (control == NULL)
		return PATH_ICMP_NOT_ICMP;
	rc = find_recverr(control, control_len, &d, &dlen);
	if (rc < 0)
		return PATH_ICMP_MALFORMED;
	if (rc == 0)
		return PATH_ICMP_NOT_ICMP;
	if (dlen < sizeof(ee))
		return PATH_ICMP_MALFORMED;
	memcpy(&ee, d, sizeof(ee));
	memset(out, 0, sizeof(*out));
	if (ee.ee_origin == SO_EE_ORIGIN_ICMP)
		out->family = AF_INET;
	else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6)
		out->family = AF_INET6;
	else
		return PATH_ICMP_NOT_ICMP;
	out->type = ee.ee_type;
	out->code = ee.ee_code;
	out->ee_errno = ee.ee_errno;
	out->kind = out->family == AF_INET ? classify4(ee.ee_type, ee.ee_code)
					   : classify6(ee.ee_type, ee.ee_code);
	/* SO_EE_OFFENDER(): the sender's address right after the structure. */
	rc = read_sockaddr(d + sizeof(ee), dlen - sizeof(ee), &out->offender);
	if (rc < 0 || (rc == 1 && out->offender.ss_family != out->family))
		return PATH_ICMP_MALFORMED;
	out->has_offender = rc;
	if (name != NULL) {
		rc = read_sockaddr(name, name_len, &out->quoted_dst);
		if (rc < 0)
			return PATH_ICMP_MALFORMED;
		out->has_quoted_dst = rc;
	}
	out->quoted_len = payload != NULL ? payload_len : 0;
	out->has_probe = path_payload_decode(payload, out->quoted_len, nonce, &out->probe_id,
					     &out->ttl);
	return 0;
}

const char *path_icmp_kind_name(enum path_icmp_kind k)
{
	switch (k) {
	case PATH_ICMP_TIME_EXCEEDED: return "time_exceeded";
	case PATH_ICMP_PORT_UNREACH: return "port_unreachable";
	case PATH_ICMP_PROTO_UNREACH: return "protocol_unreachable";
	case PATH_ICMP_HOST_UNREACH: return "host_unreachable";
	case PATH_ICMP_NET_UNREACH: return "net_unreachable";
	case PATH_ICMP_PROHIBITED: return "prohibited";
	case PATH_ICMP_OTHER: return "other";
	}
	return "other";
}
