/* agent/guard_address.c - add or remove a host address on an interface over
 * plain rtnetlink (RTM_NEWADDR / RTM_DELADDR with an ack), so that a routing
 * daemon announcing the interface's addresses withdraws or restores it. */
#include "agent/guard_action.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/timefmt.h"

struct addr_req {
	struct nlmsghdr nh;
	struct ifaddrmsg ifa;
	char attrs[64];
};

static void add_attr(struct addr_req *r, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = (unsigned short)type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Wait for the kernel's ack of seq: 0 or a negative errno. */
static int read_ack(int fd, uint32_t seq)
{
	char buf[4096] __attribute__((aligned(4)));

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EBADMSG;
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

int guard_address_set(const char *ifname, const char *addr, int prefix_len, int add)
{
	struct addr_req r;
	unsigned char bin[16];
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	size_t alen = family == AF_INET6 ? 16 : 4;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	unsigned ifindex = if_nametoindex(ifname);
	uint32_t seq = (uint32_t)time_mono_ns();
	int fd, rc;

	if (!ifindex)
		return -ENODEV;
	if (inet_pton(family, addr, bin) != 1)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	/* EXCL: an address already there is "already", not a silent replace. */
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	r.nh.nlmsg_seq = seq;
	r.ifa.ifa_family = (unsigned char)family;
	r.ifa.ifa_prefixlen = (unsigned char)prefix_len;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	r.ifa.ifa_index = ifindex;
	add_attr(&r, IFA_LOCAL, bin, alen);
	add_attr(&r, IFA_ADDRESS, bin, alen);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &r, r.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	rc = read_ack(fd, seq);
	if (add && rc == -EEXIST)
		rc = 1;
	else if (!add && rc == -EADDRNOTAVAIL)
		rc = 1;
out:
	close(fd);
	return rc;
}
