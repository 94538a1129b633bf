/* tests/agent/test_prober.c - the prober end to end on loopback: local DNS
 * and NTP responders (threads) on 127.0.0.x stand in for anycast and
 * management addresses; checks identification, timeouts, ICMP port
 * unreachable, spoofed replies, TCP fallback and NTP fingerprints. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/ntp_wire.h"
#include "agent/output.h"
#include "agent/prober.h"

enum mode {
	M_NSID,        /* answer with NSID = ident */
	M_SILENT,      /* read and never answer */
	M_SPOOF_FIRST, /* wrong ID, then from another port, then the real answer */
	M_TRUNCATE,    /* UDP: TC set; TCP: full answer with NSID */
	M_TC_NO_TCP,   /* UDP: TC set; no TCP listener */
	M_NTP,         /* NTP server with reference timestamp ref */
	M_CUT,         /* DNS answer cut after 20 bytes: ours by ID, unparseable */
	M_TXT,         /* CHAOS TXT answer "<ident>-id" / "<ident>-host", no NSID */
	M_KOD,         /* NTP Kiss-o'-Death RATE */
};

struct responder {
	char addr[16];
	int port;
	enum mode mode;
	const char *ident;
	uint64_t ref;
	int fd, tcp_fd;
	atomic_int stop;
	atomic_int queries;
	atomic_int last_port;      /* source port of the last query */
	atomic_uint last_id;       /* DNS ID, or low 32 bits of the NTP nonce */
	pthread_t th;
};

/* Reply to a query of ours: echo header and question, set QR/AA, no
 * answers, one OPT with NSID ident. */
static size_t dns_reply(const uint8_t *q, size_t qlen, const char *ident, int tc, uint8_t *out)
{
	size_t off = 12, n;

	while (off < qlen && q[off] != 0)
		off += (size_t)q[off] + 1;
	off += 5; /* root label, type, class */
	if (off > qlen)
		return 0;
	memcpy(out, q, off);
	out[2] = (uint8_t)(0x84 | (tc ? 0x02 : 0)); /* QR AA [TC] */
	out[3] = 0;
	out[6] = out[7] = out[8] = out[9] = 0;
	out[10] = 0;
	out[11] = 1;
	n = off;
	out[n++] = 0;                     /* root */
	out[n++] = 0, out[n++] = 41;      /* OPT */
	out[n++] = 0x04, out[n++] = 0xd0; /* 1232 */
	memset(out + n, 0, 4), n += 4;
	size_t il = strlen(ident);
	out[n++] = (uint8_t)((il + 4) >> 8), out[n++] = (uint8_t)(il + 4);
	out[n++] = 0, out[n++] = 3;
	out[n++] = (uint8_t)(il >> 8), out[n++] = (uint8_t)il;
	memcpy(out + n, ident, il), n += il;
	return n;
}

/* Reply with one CH TXT answer naming the question, without OPT. */
static size_t txt_reply(const uint8_t *q, size_t qlen, const char *ident, uint8_t *out)
{
	char text[64];
	size_t off = 12, n, tl;

	while (off < qlen && q[off] != 0)
		off += (size_t)q[off] + 1;
	off += 5;
	if (off > qlen)
		return 0;
	snprintf(text, sizeof(text), "%s-%s", ident, q[13] == 'i' ? "id" : "host");
	tl = strlen(text);
	memcpy(out, q, off);
	out[2] = 0x84;
	out[3] = 0;
	out[6] = 0, out[7] = 1; /* ANCOUNT 1 */
	out[8] = out[9] = out[10] = out[11] = 0;
	n = off;
	out[n++] = 0xc0, out[n++] = 12;        /* the question's name */
	out[n++] = 0, out[n++] = 16;           /* TXT */
	out[n++] = 0, out[n++] = 3;            /* CH */
	memset(out + n, 0, 4), n += 4;         /* TTL */
	out[n++] = 0, out[n++] = (uint8_t)(tl + 1);
	out[n++] = (uint8_t)tl;
	memcpy(out + n, text, tl);
	return n + tl;
}

static void serve_tcp(struct responder *r)
{
	int c = accept(r->tcp_fd, NULL, NULL);
	uint8_t buf[1024], out[1100];
	ssize_t n;
	size_t len;

	if (c < 0)
		return;
	n = recv(c, buf, sizeof(buf), 0);
	if (n > 2) {
		len = dns_reply(buf + 2, (size_t)n - 2, r->ident, 0, out + 2);
		out[0] = (uint8_t)(len >> 8);
		out[1] = (uint8_t)len;
		send(c, out, len + 2, 0);
		atomic_fetch_add(&r->queries, 1);
	}
	close(c);
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd pf[2] = { { r->fd, POLLIN, 0 }, { r->tcp_fd, POLLIN, 0 } };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		uint8_t buf[1024], out[1100];
		ssize_t n;
		size_t len;

		if (poll(pf, r->tcp_fd >= 0 ? 2 : 1, 50) <= 0)
			continue;
		if (r->tcp_fd >= 0 && (pf[1].revents & POLLIN)) {
			serve_tcp(r);
			continue;
		}
		n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		atomic_fetch_add(&r->queries, 1);
		atomic_store(&r->last_port, ntohs(from.sin_port));
		if (n >= 48 && (r->mode == M_NTP || r->mode == M_KOD))
			atomic_store(&r->last_id, (unsigned)buf[44] << 24 | (unsigned)buf[45] << 16 |
							  (unsigned)buf[46] << 8 | buf[47]);
		else if (n >= 2)
			atomic_store(&r->last_id, (unsigned)(buf[0] << 8 | buf[1]));
		switch (r->mode) {
		case M_SILENT:
			break;
		case M_NSID:
		case M_TRUNCATE:
		case M_TC_NO_TCP:
		case M_CUT:
			len = dns_reply(buf, (size_t)n, r->ident,
					r->mode == M_TRUNCATE || r->mode == M_TC_NO_TCP, out);
			if (r->mode == M_CUT)
				len = 20;
			sendto(r->fd, out, len, 0, (struct sockaddr *)&from, fl);
			break;
		case M_SPOOF_FIRST: {
			int other = socket(AF_INET, SOCK_DGRAM, 0);
			struct sockaddr_in me = { .sin_family = AF_INET };

			len = dns_reply(buf, (size_t)n, "spoofed", 0, out);
			out[0] ^= 0x55; /* wrong ID */
			sendto(r->fd, out, len, 0, (struct sockaddr *)&from, fl);
			out[0] ^= 0x55; /* right ID, wrong source port */
			inet_pton(AF_INET, r->addr, &me.sin_addr);
			bind(other, (struct sockaddr *)&me, sizeof(me));
			sendto(other, out, len, 0, (struct sockaddr *)&from, fl);
			close(other);
			usleep(20000);
			len = dns_reply(buf, (size_t)n, r->ident, 0, out);
			sendto(r->fd, out, len, 0, (struct sockaddr *)&from, fl);
			break;
		}
		case M_TXT:
			len = txt_reply(buf, (size_t)n, r->ident, out);
			sendto(r->fd, out, len, 0, (struct sockaddr *)&from, fl);
			break;
		case M_KOD:
		case M_NTP: {
			struct ntp_wire_packet q;

			if (ntp_wire_decode(buf, (size_t)n, &q) < 0)
				break;
			memset(out, 0, 48);
			out[0] = 0x24; /* v4 mode 4 */
			out[1] = 2;
			memcpy(out + 12, "\xc6\x12\xff\x7b", 4); /* same upstream for all */
			for (int i = 0; i < 8; i++) {
				uint64_t now = ntp_wire_from_unix_ns(1795665000000000000LL);

				out[16 + i] = (uint8_t)(r->ref >> (56 - 8 * i));
				out[24 + i] = (uint8_t)(q.transmit >> (56 - 8 * i));
				out[32 + i] = (uint8_t)(now >> (56 - 8 * i));
				out[40 + i] = (uint8_t)(now >> (56 - 8 * i));
			}
			if (r->mode == M_KOD) {
				out[1] = 0;
				memcpy(out + 12, "RATE", 4);
			}
			sendto(r->fd, out, 48, 0, (struct sockaddr *)&from, fl);
			break;
		}
		}
	}
	return NULL;
}

static int bind_udp(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void responder_start(struct responder *r, const char *addr, int port, enum mode mode,
			    const char *ident)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->port = port;
	r->mode = mode;
	r->ident = ident;
	r->tcp_fd = -1;
	r->fd = bind_udp(addr, port);
	cr_assert_geq(r->fd, 0, "bind %s:%d", addr, port);
	if (mode == M_TRUNCATE) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int on = 1;

		r->tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(r->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		inet_pton(AF_INET, addr, &sa.sin_addr);
		cr_assert_eq(bind(r->tcp_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		listen(r->tcp_fd, 8);
	}
	pthread_create(&r->th, NULL, responder_main, r);
}

static void responder_stop(struct responder *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->th, NULL);
	close(r->fd);
	if (r->tcp_fd >= 0)
		close(r->tcp_fd);
}

/* A port free on 127.0.0.1-4 for UDP and TCP. */
static int free_port(void)
{
	for (int tries = 0; tries < 100; tries++) {
		int port = 20000 + (int)(arc4random() % 30000), ok = 1;

		for (int i = 1; i <= 4 && ok; i++) {
			char a[16];
			int fd;

			snprintf(a, sizeof(a), "127.0.0.%d", i);
			fd = bind_udp(a, port);
			if (fd < 0)
				ok = 0;
			else
				close(fd);
		}
		if (ok)
			return port;
	}
	cr_assert_fail("no free port");
	return -1;
}

/* ---- running the prober ---- */

struct run {
	struct result res[64];
	int n;
	int rounds_left;
	int anycast_ok;
	struct prober *p;
	struct prober_stats st;
};

static void on_result(void *ctx, struct result *r)
{
	struct run *run = ctx;

	if (run->n < 64)
		run->res[run->n++] = *r;
}

static void on_closed(void *arg)
{
	(void)arg;
}

static void on_round(void *ctx, const char *service, uint64_t round, int anycast_ok)
{
	struct run *run = ctx;

	(void)service;
	cr_assert_eq(round, 1);
	run->anycast_ok = anycast_ok;
	if (--run->rounds_left == 0) {
		prober_get_stats(run->p, &run->st);
		prober_close(run->p, on_closed, NULL);
	}
}

static void run_once(struct inventory *inv, struct run *run)
{
	uv_loop_t loop;

	memset(run, 0, sizeof(*run));
	run->rounds_left = inv->n_services;
	cr_assert_eq(uv_loop_init(&loop), 0);
	run->p = prober_new(&loop, inv, on_result, on_round, run);
	cr_assert_not_null(run->p);
	prober_start(run->p, 1);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

static struct inv_instance insts[3];
static struct inv_service svc;
static struct inventory inv;

static void setup_service(enum inv_protocol proto, int port, int n_inst)
{
	memset(&svc, 0, sizeof(svc));
	memset(insts, 0, sizeof(insts));
	memset(&inv, 0, sizeof(inv));
	snprintf(svc.name, sizeof(svc.name), "%s", proto == INV_PROTO_DNS ? "dns" : "ntp");
	svc.protocol = proto;
	svc.n_address = 1;
	snprintf(svc.address[0], sizeof(svc.address[0]), "127.0.0.1");
	svc.port = port;
	svc.interval_ms = 1000;
	svc.timeout_ms = 300;
	svc.n_identify = 3;
	snprintf(svc.identify[0], 16, "nsid");
	snprintf(svc.identify[1], 16, "id.server");
	snprintf(svc.identify[2], 16, "hostname.bind");
	for (int i = 0; i < n_inst; i++) {
		snprintf(insts[i].name, sizeof(insts[i].name), "site-%c", 'a' + i);
		insts[i].n_management = 1;
		snprintf(insts[i].management[0], RESULT_ADDR_MAX, "127.0.0.%d", 2 + i);
	}
	svc.n_instances = n_inst;
	svc.instances = insts;
	inv.n_services = 1;
	inv.services = &svc;
}

static const struct result *find(const struct run *run, const char *addr, const char *query)
{
	for (int i = 0; i < run->n; i++)
		if (strcmp(run->res[i].address, addr) == 0 &&
		    (query == NULL || strcmp(run->res[i].query, query) == 0))
			return &run->res[i];
	cr_assert_fail("no record for %s %s", addr, query ? query : "");
	return NULL;
}

TestSuite(prober, .timeout = 30);

Test(prober, identifies_configured_and_learned_instances)
{
	int port = free_port();
	struct responder any, a, b;
	struct run run;
	const struct result *r;

	setup_service(INV_PROTO_DNS, port, 2);
	snprintf(insts[0].identity, RESULT_IDENTITY_MAX, "a.lab"); /* site-b: learned */
	responder_start(&any, "127.0.0.1", port, M_NSID, "b.lab");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	responder_start(&b, "127.0.0.3", port, M_NSID, "b.lab");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	responder_stop(&b);

	cr_assert_eq(run.n, 3, "one query per target when NSID identifies");
	r = find(&run, "127.0.0.1", "nsid");
	cr_assert_eq(r->target, RESULT_TARGET_ANYCAST);
	cr_assert_eq(r->outcome, RESULT_OK);
	cr_assert_str_eq(r->identity, "b.lab");
	cr_assert_str_eq(r->identity_source, "nsid");
	cr_assert_str_eq(r->instance, "site-b", "learned from site-b's management answer");
	cr_assert_gt(r->rtt_ms, 0.0);
	cr_assert_lt(r->rtt_ms, 300.0);
	cr_assert_eq(r->round, 1);
	r = find(&run, "127.0.0.2", NULL);
	cr_assert_eq(r->target, RESULT_TARGET_MANAGEMENT);
	cr_assert_str_eq(r->instance, "site-a");
	cr_assert_str_eq(r->identity, "a.lab");
	cr_assert_eq(run.anycast_ok, 1);
}

Test(prober, unknown_identity_is_ok_without_instance)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	const struct result *r;

	setup_service(INV_PROTO_DNS, port, 1);
	snprintf(insts[0].identity, RESULT_IDENTITY_MAX, "a.lab");
	responder_start(&any, "127.0.0.1", port, M_NSID, "rogue.example");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);

	r = find(&run, "127.0.0.1", NULL);
	cr_assert_eq(r->outcome, RESULT_OK);
	cr_assert_str_eq(r->identity, "rogue.example");
	cr_assert_str_eq(r->instance, "");
}

Test(prober, timeout_and_icmp_port_unreachable_differ)
{
	int port = free_port();
	struct responder any;
	struct run run;
	const struct result *r;

	/* Anycast: bound but silent. site-a (127.0.0.2): nothing bound, so the
	 * kernel answers ICMP port unreachable. */
	setup_service(INV_PROTO_DNS, port, 1);
	responder_start(&any, "127.0.0.1", port, M_SILENT, NULL);
	run_once(&inv, &run);
	responder_stop(&any);

	r = find(&run, "127.0.0.1", NULL);
	cr_assert_eq(r->outcome, RESULT_TIMEOUT);
	cr_assert_lt(r->rtt_ms, 0.0);
	r = find(&run, "127.0.0.2", NULL);
	cr_assert_eq(r->outcome, RESULT_UNREACHABLE);
	cr_assert_eq(run.anycast_ok, 0);
	cr_assert_eq(run.st.timeouts, 1);
	cr_assert_eq(run.st.unreachable, 1);
	cr_assert_geq(atomic_load(&any.queries), 1);
}

Test(prober, spoofed_replies_dropped_and_counted)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	const struct result *r;

	setup_service(INV_PROTO_DNS, port, 1);
	responder_start(&any, "127.0.0.1", port, M_SPOOF_FIRST, "a.lab");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);

	r = find(&run, "127.0.0.1", NULL);
	cr_assert_eq(r->outcome, RESULT_OK);
	cr_assert_str_eq(r->identity, "a.lab", "the spoofed identity never got in");
	cr_assert_str_eq(r->instance, "site-a");
	cr_assert_geq(r->rtt_ms, 20.0, "the real answer came 20 ms after the spoofs");
	cr_assert_eq(run.st.dropped_unmatched, 2, "wrong ID and wrong source port");
}

Test(prober, truncated_answer_retried_over_tcp)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	const struct result *udp = NULL, *tcp = NULL;

	setup_service(INV_PROTO_DNS, port, 1);
	snprintf(svc.query_name, sizeof(svc.query_name), "big.lab.");
	snprintf(svc.query_type, sizeof(svc.query_type), "TXT");
	responder_start(&any, "127.0.0.1", port, M_TRUNCATE, "a.lab");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);

	for (int i = 0; i < run.n; i++)
		if (strcmp(run.res[i].address, "127.0.0.1") == 0) {
			if (strcmp(run.res[i].transport, "tcp") == 0)
				tcp = &run.res[i];
			else
				udp = &run.res[i];
		}
	cr_assert_not_null(udp);
	cr_assert_not_null(tcp, "TC answer retried over TCP");
	cr_assert_str_eq(tcp->query, "service");
	cr_assert_eq(tcp->outcome, RESULT_OK);
	cr_assert_str_eq(tcp->identity, "a.lab");
	cr_assert_str_eq(tcp->instance, "site-a");
}

Test(prober, ntp_fingerprint_identifies_instance)
{
	int port = free_port();
	struct responder any, a, b;
	struct run run;
	const struct result *r;
	int n_mgmt_a = 0;

	setup_service(INV_PROTO_NTP, port, 2);
	responder_start(&any, "127.0.0.1", port, M_NTP, NULL);
	responder_start(&a, "127.0.0.2", port, M_NTP, NULL);
	responder_start(&b, "127.0.0.3", port, M_NTP, NULL);
	a.ref = 0xeeb22c1d00000000ULL;
	b.ref = 0xeeb22c2100000000ULL;
	any.ref = b.ref; /* the anycast address reaches site-b */
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	responder_stop(&b);

	r = find(&run, "127.0.0.1", NULL);
	cr_assert_eq(r->outcome, RESULT_OK);
	cr_assert_str_eq(r->instance, "site-b");
	cr_assert_str_eq(r->identity_source, "ntp-fingerprint");
	cr_assert_str_eq(r->identity, "s2/198.18.255.123/eeb22c2100000000");
	cr_assert_eq(r->has_ntp, 1);
	cr_assert_eq(r->stratum, 2);
	cr_assert_str_eq(r->refid, "198.18.255.123");
	for (int i = 0; i < run.n; i++)
		if (strcmp(run.res[i].address, "127.0.0.2") == 0)
			n_mgmt_a++;
	cr_assert_eq(n_mgmt_a, 2, "management queried before and after the anycast query");
}

Test(prober, ntp_shared_fingerprint_is_ambiguous_and_stranger_unknown)
{
	int port = free_port();
	struct responder any, a, b;
	struct run run;

	setup_service(INV_PROTO_NTP, port, 2);
	responder_start(&any, "127.0.0.1", port, M_NTP, NULL);
	responder_start(&a, "127.0.0.2", port, M_NTP, NULL);
	responder_start(&b, "127.0.0.3", port, M_NTP, NULL);
	a.ref = b.ref = any.ref = 0xeeb22c1d00000000ULL;
	run_once(&inv, &run);
	cr_assert_eq(find(&run, "127.0.0.1", NULL)->outcome, RESULT_AMBIGUOUS);
	cr_assert_str_eq(find(&run, "127.0.0.1", NULL)->instance, "");

	any.ref = 0x1234;
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	responder_stop(&b);
	cr_assert_eq(find(&run, "127.0.0.1", NULL)->outcome, RESULT_UNKNOWN);
	cr_assert_eq(run.anycast_ok, 1, "an unknown server still answered");
}

/* ---- periodic rounds ---- */

struct timed {
	struct run *run;
	struct inventory *next_inv; /* services swapped in at the first tick */
	int ticks;
	int64_t swap_ms;
};

static void on_periodic_round(void *ctx, const char *service, uint64_t round, int anycast_ok)
{
	(void)ctx, (void)service, (void)round, (void)anycast_ok;
}

static void on_tick(uv_timer_t *t)
{
	struct timed *tm = t->data;

	if (tm->ticks++ == 0 && tm->next_inv != NULL) {
		tm->swap_ms = (int64_t)uv_now(t->loop);
		cr_assert_eq(prober_set_services(tm->run->p, tm->next_inv), 0);
		return;
	}
	prober_get_stats(tm->run->p, &tm->run->st);
	prober_close(tm->run->p, on_closed, NULL);
	uv_close((uv_handle_t *)t, NULL);
}

/* Periodic rounds for total_ms; with next_inv, services are replaced at
 * swap_at_ms. */
static void run_periodic(struct inventory *first, struct inventory *next_inv, uint64_t swap_at_ms,
			 uint64_t total_ms, struct run *run)
{
	uv_loop_t loop;
	uv_timer_t t;
	struct timed tm = { .run = run, .next_inv = next_inv };

	memset(run, 0, sizeof(*run));
	cr_assert_eq(uv_loop_init(&loop), 0);
	run->p = prober_new(&loop, first, on_result, on_periodic_round, run);
	cr_assert_not_null(run->p);
	prober_start(run->p, 0);
	uv_timer_init(&loop, &t);
	t.data = &tm;
	if (next_inv != NULL)
		uv_timer_start(&t, on_tick, swap_at_ms, total_ms - swap_at_ms);
	else
		uv_timer_start(&t, on_tick, total_ms, 0);
	if (next_inv == NULL)
		tm.ticks = 1;
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

Test(prober, slow_rounds_are_skipped_not_stacked)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	uint64_t last_round = 0;

	/* NTP: neither site-a's management address nor the anycast address
	 * answers, so each round waits twice for the 400 ms timeout (before,
	 * then anycast): longer than the 500 ms interval. */
	setup_service(INV_PROTO_NTP, port, 1);
	svc.interval_ms = 500;
	svc.timeout_ms = 400;
	responder_start(&any, "127.0.0.1", port, M_SILENT, NULL);
	responder_start(&a, "127.0.0.2", port, M_SILENT, NULL);
	run_periodic(&inv, NULL, 0, 2700, &run);
	responder_stop(&any);
	responder_stop(&a);

	cr_assert_geq(run.n, 4, "at least two complete rounds");
	cr_assert_geq(run.st.skipped_rounds, 1);
	for (int i = 0; i < run.n; i++) {
		cr_assert(run.res[i].round == last_round || run.res[i].round == last_round + 1,
			  "rounds come complete and in order");
		if (run.res[i].round != last_round && i > 0)
			/* A round starts only after the previous one's last query. */
			cr_assert_geq(run.res[i].time_ms, run.res[i - 1].time_ms);
		last_round = run.res[i].round;
		cr_assert_eq(run.res[i].outcome, RESULT_TIMEOUT);
		/* No "after" query to a management address that was silent
		 * "before": one record per round each. */
		if (i > 0 && run.res[i].round == run.res[i - 1].round)
			cr_assert_neq(strcmp(run.res[i].address, run.res[i - 1].address), 0);
	}
}

Test(prober, replacing_services_keeps_the_round_in_flight)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	static struct inv_service svc2;
	static struct inventory inv2;
	int old_after = 0, n_new = 0, per_round[16] = { 0 };

	setup_service(INV_PROTO_DNS, port, 1);
	svc.interval_ms = 500;
	svc.timeout_ms = 400;
	svc2 = svc;
	snprintf(svc2.name, sizeof(svc2.name), "dns-new");
	inv2 = inv;
	inv2.services = &svc2;
	responder_start(&any, "127.0.0.1", port, M_SILENT, NULL); /* rounds take 400 ms */
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	run_periodic(&inv, &inv2, 700, 1800, &run); /* old rounds start by 650 ms */
	responder_stop(&any);
	responder_stop(&a);

	for (int i = 0; i < run.n; i++) {
		if (strcmp(run.res[i].service, "dns-new") == 0) {
			n_new++;
			continue;
		}
		cr_assert_str_eq(run.res[i].service, "dns");
		if (run.res[i].round < 16)
			per_round[run.res[i].round]++;
		if (run.res[i].round > 2)
			old_after++;
	}
	cr_assert_gt(n_new, 0, "the new service probes");
	cr_assert_eq(old_after, 0, "the old service starts no round after the swap");
	for (int r = 1; r < 16; r++)
		cr_assert(per_round[r] == 0 || per_round[r] == 2,
			  "round %d of the old service is complete (%d records)", r, per_round[r]);
}

Test(prober, malformed_answer_and_kiss_of_death)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	const struct result *r;

	setup_service(INV_PROTO_DNS, port, 1);
	responder_start(&any, "127.0.0.1", port, M_CUT, "a.lab");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	r = find(&run, "127.0.0.1", NULL);
	cr_assert_eq(r->outcome, RESULT_MALFORMED);
	cr_assert_eq(run.st.malformed, 1);
	cr_assert_eq(run.anycast_ok, 1, "a broken answer is still an answer, not silence");

	port = free_port();
	setup_service(INV_PROTO_NTP, port, 1);
	responder_start(&any, "127.0.0.1", port, M_KOD, NULL);
	responder_start(&a, "127.0.0.2", port, M_NTP, NULL);
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	r = find(&run, "127.0.0.1", NULL);
	cr_assert_eq(r->outcome, RESULT_OK, "the server answered, if only to say no");
	cr_assert_str_eq(r->kod, "RATE");
	cr_assert_eq(r->stratum, 0);
	cr_assert_str_eq(r->instance, "", "a KoD carries no fingerprint");
	cr_assert_str_eq(r->identity, "");
}

Test(prober, ipv6_and_tcp_refusals_are_unreachable)
{
	int port = free_port();
	struct responder a;
	struct run run;
	const struct result *r, *tcp = NULL;

	/* Anycast ::1 has nothing on the port: ICMPv6 port unreachable. The
	 * management address answers with TC but has no TCP listener: the TCP
	 * retry is refused. */
	setup_service(INV_PROTO_DNS, port, 1);
	snprintf(svc.address[0], sizeof(svc.address[0]), "::1");
	responder_start(&a, "127.0.0.2", port, M_TC_NO_TCP, "a.lab");
	run_once(&inv, &run);
	responder_stop(&a);

	r = find(&run, "::1", NULL);
	cr_assert_eq(r->family, 6);
	cr_assert_eq(r->outcome, RESULT_UNREACHABLE);
	for (int i = 0; i < run.n; i++)
		if (strcmp(run.res[i].transport, "tcp") == 0)
			tcp = &run.res[i];
	cr_assert_not_null(tcp);
	cr_assert_str_eq(tcp->address, "127.0.0.2");
	cr_assert_eq(tcp->outcome, RESULT_UNREACHABLE);
}

Test(prober, chaos_identities_without_nsid)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	const struct result *r;

	/* Default order: the identity query's own TXT (id.server) serves. */
	setup_service(INV_PROTO_DNS, port, 1);
	snprintf(insts[0].identity, RESULT_IDENTITY_MAX, "a.lab-id");
	responder_start(&any, "127.0.0.1", port, M_TXT, "a.lab");
	responder_start(&a, "127.0.0.2", port, M_TXT, "a.lab");
	run_once(&inv, &run);
	cr_assert_eq(run.n, 2, "no CHAOS follow-up: nothing better to ask for");
	r = find(&run, "127.0.0.1", "nsid");
	cr_assert_str_eq(r->identity, "a.lab-id");
	cr_assert_str_eq(r->identity_source, "id.server");
	cr_assert_str_eq(r->instance, "site-a");

	/* hostname.bind preferred: one paced follow-up per target. */
	svc.n_identify = 2;
	snprintf(svc.identify[0], 16, "hostname.bind");
	snprintf(svc.identify[1], 16, "id.server");
	snprintf(insts[0].identity, RESULT_IDENTITY_MAX, "a.lab-host");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	cr_assert_eq(run.n, 4);
	r = find(&run, "127.0.0.1", "hostname.bind");
	cr_assert_eq(r->outcome, RESULT_OK);
	cr_assert_str_eq(r->identity, "a.lab-host");
	cr_assert_str_eq(r->identity_source, "hostname.bind");
	cr_assert_str_eq(r->instance, "site-a");
	r = find(&run, "127.0.0.1", "nsid");
	cr_assert_str_eq(r->identity_source, "id.server");
	cr_assert_str_eq(r->instance, "site-a",
			 "a.lab-id is what site-a's management address says for id.server");
}

/* The line of text containing needle, into out. */
static void row(const char *text, const char *needle, char *out, size_t outlen)
{
	const char *p = strstr(text, needle), *start, *end;

	cr_assert_not_null(p, "no row with %s in:\n%s", needle, text);
	for (start = p; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(p, '\n');
	snprintf(out, outlen, "%.*s", (int)(end ? end - start : (long)strlen(start)), start);
}

Test(prober, once_table_shows_answering_instance_and_states)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	struct output_table *t = output_table_new();
	char *text = NULL, line_buf[256];
	size_t len = 0;
	FILE *f;

	/* site-a answers on both addresses; site-b's management address has
	 * nothing on the port. */
	setup_service(INV_PROTO_DNS, port, 2);
	snprintf(insts[0].identity, RESULT_IDENTITY_MAX, "a.lab");
	responder_start(&any, "127.0.0.1", port, M_NSID, "a.lab");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);

	cr_assert_not_null(t);
	for (int i = 0; i < run.n; i++)
		output_table_add(t, &run.res[i]);
	f = open_memstream(&text, &len);
	output_table_print(t, f);
	fclose(f);
	output_table_free(t);

	/* One row per target: the anycast row names the instance and the
	 * identity with its source, the dead management address its state. */
	row(text, "anycast", line_buf, sizeof(line_buf));
	cr_assert_not_null(strstr(line_buf, "127.0.0.1"), "%s", text);
	cr_assert_not_null(strstr(line_buf, "site-a"), "%s", text);
	cr_assert_not_null(strstr(line_buf, "a.lab (nsid)"), "%s", text);
	cr_assert_not_null(strstr(line_buf, " ms "), "RTT shown: %s", text);
	cr_assert_eq(strncmp(line_buf, "dns ", 4), 0, "service opens its first row: %s", text);
	row(text, "127.0.0.3", line_buf, sizeof(line_buf));
	cr_assert_not_null(strstr(line_buf, "management"), "%s", text);
	cr_assert_not_null(strstr(line_buf, "site-b"), "%s", text);
	cr_assert_not_null(strstr(line_buf, "unreachable"), "%s", text);
	free(text);
}

Test(prober, every_query_has_a_fresh_port_and_id)
{
	int port = free_port();
	struct responder any, a;
	struct run run;
	int ports[2], dns_ids[2];
	unsigned nonces[2];

	setup_service(INV_PROTO_DNS, port, 1);
	responder_start(&any, "127.0.0.1", port, M_NSID, "a.lab");
	responder_start(&a, "127.0.0.2", port, M_NSID, "a.lab");
	for (int i = 0; i < 2; i++) {
		run_once(&inv, &run);
		ports[i] = atomic_load(&any.last_port);
		dns_ids[i] = (int)atomic_load(&any.last_id);
	}
	responder_stop(&any);
	responder_stop(&a);
	/* Random 16-bit values: equal by chance once in ~30 000 runs. */
	cr_assert_neq(ports[0], ports[1], "source port %d reused", ports[0]);
	cr_assert_neq(dns_ids[0], dns_ids[1], "DNS ID %d reused", dns_ids[0]);

	port = free_port();
	setup_service(INV_PROTO_NTP, port, 1);
	responder_start(&any, "127.0.0.1", port, M_NTP, NULL);
	responder_start(&a, "127.0.0.2", port, M_NTP, NULL);
	for (int i = 0; i < 2; i++) {
		run_once(&inv, &run);
		nonces[i] = atomic_load(&any.last_id);
	}
	responder_stop(&any);
	responder_stop(&a);
	cr_assert_neq(nonces[0], nonces[1], "NTP transmit nonce reused");
}

Test(prober, dead_instance_does_not_hold_the_ntp_anycast_query)
{
	int port = free_port();
	struct responder any, a, b;
	struct run run;
	const struct result *r;
	int64_t before_b = 0;

	/* site-a is dead (silent); site-b answers and is what anycast reaches.
	 * The anycast query goes out a grace time after site-b's "before"
	 * answer, not after site-a's 800 ms timeout. */
	setup_service(INV_PROTO_NTP, port, 2);
	svc.timeout_ms = 800;
	responder_start(&any, "127.0.0.1", port, M_NTP, NULL);
	responder_start(&a, "127.0.0.2", port, M_SILENT, NULL);
	responder_start(&b, "127.0.0.3", port, M_NTP, NULL);
	b.ref = any.ref = 0xeeb22c2100000000ULL;
	run_once(&inv, &run);
	responder_stop(&any);
	responder_stop(&a);
	responder_stop(&b);

	for (int i = 0; i < run.n; i++)
		if (strcmp(run.res[i].address, "127.0.0.3") == 0 && before_b == 0)
			before_b = run.res[i].time_ms;
	r = find(&run, "127.0.0.1", NULL);
	cr_assert_str_eq(r->instance, "site-b");
	cr_assert_lt(r->time_ms - before_b, 400, "anycast sent %lld ms after site-b's before",
		     (long long)(r->time_ms - before_b));
	r = find(&run, "127.0.0.2", NULL);
	cr_assert_eq(r->outcome, RESULT_TIMEOUT);
	cr_assert_eq(run.st.sent, 4, "site-a: before only; site-b: before and after; anycast");
}

Test(prober, unsendable_service_query_is_refused_up_front)
{
	uv_loop_t loop;

	setup_service(INV_PROTO_DNS, 53, 1);
	snprintf(svc.query_name, sizeof(svc.query_name), "lab.");
	snprintf(svc.query_type, sizeof(svc.query_type), "NOTATYPE");
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_null(prober_new(&loop, &inv, on_result, on_round, NULL));
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);

	snprintf(svc.query_type, sizeof(svc.query_type), "SOA");
	snprintf(svc.address[0], sizeof(svc.address[0]), "not-an-address");
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_null(prober_new(&loop, &inv, on_result, on_round, NULL));
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
