/* bench/probe/responder.c - a fast loopback DNS responder for the probe
 * benchmark: answers every query with QR/AA set and an NSID ("bench"), and
 * an IN SOA question with one SOA record (serial 2026120301) as well,
 * batching with recvmmsg/sendmmsg. Usage: responder PORT (binds 0.0.0.0 and
 * [::]; IPv4 answers leave from the address the query went to, via
 * IP_PKTINFO, so any 127.x.y.z works as a target). Runs until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define NSID "bench"

/* An SOA answer for the question's name (compressed), 36 bytes. */
static size_t soa_answer(uint8_t *p)
{
	static const uint8_t rr[] = {
		0xc0, 12, 0, 6, 0, 1, 0, 0, 0x0e, 0x10, 0, 24, 0xc0, 12, 0xc0, 12,
		0x78, 0xc4, 0x24, 0x6d, /* 2026120301 */
		0, 0, 0x0e, 0x10, 0, 0, 0x03, 0x84, 0, 0x09, 0x3a, 0x80, 0, 0, 0x01, 0x2c,
	};

	memcpy(p, rr, sizeof(rr));
	return sizeof(rr);
}

/* Answer in place: header flags, drop the query's OPT, add ours with NSID. */
static size_t answer(uint8_t *p, size_t len)
{
	size_t off = 12;
	int soa;

	if (len < 12)
		return 0;
	while (off < len && p[off] != 0)
		off += (size_t)p[off] + 1;
	off += 5;
	if (off > len || off + 36 + 11 + 4 + sizeof(NSID) > 512)
		return 0;
	soa = p[off - 4] == 0 && p[off - 3] == 6 && p[off - 2] == 0 && p[off - 1] == 1;
	p[2] = 0x84;
	p[3] = 0;
	p[6] = p[7] = p[8] = p[9] = p[10] = 0;
	p[11] = 1;
	if (soa) {
		p[7] = 1;
		off += soa_answer(p + off);
	}
	p[off++] = 0;
	p[off++] = 0, p[off++] = 41;
	p[off++] = 0x04, p[off++] = 0xd0;
	p[off++] = 0, p[off++] = 0, p[off++] = 0, p[off++] = 0;
	p[off++] = 0, p[off++] = 4 + sizeof(NSID) - 1;
	p[off++] = 0, p[off++] = 3;
	p[off++] = 0, p[off++] = sizeof(NSID) - 1;
	memcpy(p + off, NSID, sizeof(NSID) - 1);
	return off + sizeof(NSID) - 1;
}

static int bind_any(int family, int port)
{
	struct sockaddr_storage ss = { 0 };
	int fd = socket(family, SOCK_DGRAM, 0), on = 1, sz = 8 << 20;

	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&ss, family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6)) < 0) {
		perror("bind");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t bufs[BATCH][512];
	static struct sockaddr_storage from[BATCH];
	static char ctl[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct pollfd pf[2];
	int port = argc > 1 ? atoi(argv[1]) : 5353;

	pf[0] = (struct pollfd){ bind_any(AF_INET, port), POLLIN, 0 };
	pf[1] = (struct pollfd){ bind_any(AF_INET6, port), POLLIN, 0 };
	for (;;) {
		if (poll(pf, 2, -1) <= 0)
			continue;
		for (int s = 0; s < 2; s++) {
			int n, m = 0;

			if (!(pf[s].revents & POLLIN))
				continue;
			for (int i = 0; i < BATCH; i++) {
				iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
				msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
								   .msg_namelen = sizeof(from[i]),
								   .msg_iov = &iov[i], .msg_iovlen = 1,
								   .msg_control = ctl[i],
								   .msg_controllen = sizeof(ctl[i]) };
			}
			n = recvmmsg(pf[s].fd, msgs, BATCH, MSG_DONTWAIT, NULL);
			for (int i = 0; i < n; i++) {
				size_t len = answer(bufs[i], msgs[i].msg_len);

				if (len == 0)
					continue;
				iov[m] = (struct iovec){ bufs[i], len };
				msgs[m].msg_hdr.msg_name = &from[i];
				msgs[m].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
				msgs[m].msg_hdr.msg_iov = &iov[m];
				msgs[m].msg_hdr.msg_iovlen = 1;
				/* Reply from the address the query was sent to. */
				msgs[m].msg_hdr.msg_control = msgs[i].msg_hdr.msg_controllen ? ctl[i] : NULL;
				msgs[m].msg_hdr.msg_controllen = msgs[i].msg_hdr.msg_controllen;
				if (msgs[m].msg_hdr.msg_control) {
					struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[m].msg_hdr);

					if (c && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
						struct in_pktinfo *pi = (void *)CMSG_DATA(c);

						pi->ipi_spec_dst = pi->ipi_addr;
						pi->ipi_ifindex = 0;
					}
				}
				m++;
			}
			if (m > 0)
				sendmmsg(pf[s].fd, msgs, (unsigned)m, 0);
		}
	}
}
