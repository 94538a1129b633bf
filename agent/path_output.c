/* agent/path_output.c - a finished trace as text or JSON (addresses via
 * inet_ntop, kinds and statuses from fixed tables: nothing needs escaping). */
#include "agent/path_output.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* The numeric address of sa ("" when it has none); its port in *port. */
static void addr_text(const struct sockaddr *sa, char *buf, size_t len, int *port)
{
	buf[0] = '\0';
	if (port != NULL)
		*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		inet_ntop(AF_INET, &s->sin_addr, buf, (socklen_t)len);
		if (port != NULL)
			*port = ntohs(s->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;

		inet_ntop(AF_INET6, &s->sin6_addr, buf, (socklen_t)len);
		if (port != NULL)
			*port = ntohs(s->sin6_port);
	}
}

static const char *end_mark(enum path_icmp_kind k)
{
	switch (k) {
	case PATH_ICMP_PORT_UNREACH:
	case PATH_ICMP_PROTO_UNREACH: return "reached";
	case PATH_ICMP_HOST_UNREACH: return "!H";
	case PATH_ICMP_NET_UNREACH: return "!N";
	case PATH_ICMP_PROHIBITED: return "!X";
	default: return "";
	}
}

static int done(FILE *f)
{
	if (ferror(f) || fflush(f) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int path_output_text(FILE *f, const struct sockaddr *dst, const struct path_trace *t)
{
	char target[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	int port;

	addr_text(dst, target, sizeof(target), &port);
	fprintf(f, "trace to %s port %d: %s", target, port, path_trace_status_name(t->status));
	if (t->status == PATH_TRACE_SEND_ERROR)
		fprintf(f, " (%s)", strerror(t->send_error));
	fprintf(f, ", %d hop(s), %d packet(s)\n", t->last_ttl, t->n_probes);
	for (int ttl = 1; ttl <= t->last_ttl; ttl++) {
		const struct path_hop *h = &t->hops[ttl];

		if (!h->answered) {
			fprintf(f, "%2d  *\n", ttl);
			continue;
		}
		addr_text((const struct sockaddr *)&h->addr, a, sizeof(a), NULL);
		fprintf(f, "%2d  %-39s %8.3f ms%s%s%s\n", ttl, a[0] ? a : "?", h->rtt_ms,
			*end_mark(h->kind) ? "  " : "", end_mark(h->kind),
			h->other_addr ? "  (other answers from other addresses)" : "");
	}
	return done(f);
}

int path_output_json(FILE *f, const struct sockaddr *dst, const struct path_trace *t)
{
	char target[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	int port;

	addr_text(dst, target, sizeof(target), &port);
	fprintf(f, "{\"target\":\"%s\",\"port\":%d,\"status\":\"%s\"", target, port,
		path_trace_status_name(t->status));
	if (t->status == PATH_TRACE_SEND_ERROR)
		fprintf(f, ",\"error\":\"%s\"", strerror(t->send_error));
	fprintf(f, ",\"packets\":%d,\"unmatched\":%llu,\"hops\":[", t->n_probes,
		(unsigned long long)t->unmatched);
	for (int ttl = 1; ttl <= t->last_ttl; ttl++) {
		const struct path_hop *h = &t->hops[ttl];

		fprintf(f, "%s{\"ttl\":%d,", ttl > 1 ? "," : "", ttl);
		if (h->answered) {
			addr_text((const struct sockaddr *)&h->addr, a, sizeof(a), NULL);
			if (a[0])
				fprintf(f, "\"address\":\"%s\",", a);
			else
				fprintf(f, "\"address\":null,");
			fprintf(f, "\"kind\":\"%s\",\"rtt_ms\":%.3f,", path_icmp_kind_name(h->kind),
				h->rtt_ms);
			if (h->other_addr)
				fprintf(f, "\"other_address\":true,");
		} else {
			fprintf(f, "\"address\":null,");
		}
		fprintf(f, "\"probes\":%d,\"replies\":%d}", h->sent, h->replies);
	}
	fprintf(f, "]}\n");
	return done(f);
}
