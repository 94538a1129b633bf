/* tests/agent/test_prober_checks.c - answer-integrity checks in the prober,
 * end to end on loopback: DNS responders (threads) on 127.0.0.x answer the
 * check's SOA question with their own serial and NSID; the records must
 * carry the check, serial and digest, the anycast one attributed to its
 * instance, and checks must run only in their rounds. */
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

#include "agent/prober.h"

struct responder {
	char addr[16];
	const char *ident;
	uint32_t serial;
	uint32_t ttl;
	int cut_answer; /* ANCOUNT 1, RR cut short: ours, but unparseable */
	int fd;
	atomic_int stop;
	atomic_int soa_queries;
	pthread_t th;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16), put16(p + 2, v & 0xffff);
}

/* Echo the question; for an IN SOA question one SOA answer with serial
 * (names compressed to the question), then an OPT with NSID ident. */
static size_t reply(const struct responder *r, const uint8_t *q, size_t qlen, uint8_t *out)
{
	size_t off = 12, n, il = strlen(r->ident);
	int soa;

	while (off < qlen && q[off] != 0)
		off += (size_t)q[off] + 1;
	off += 5;
	if (off > qlen)
		return 0;
	soa = q[off - 4] == 0 && q[off - 3] == 6;
	memcpy(out, q, off);
	out[2] = 0x84, out[3] = 0;
	put16(out + 6, soa ? 1 : 0);
	put16(out + 8, 0);
	put16(out + 10, 1);
	n = off;
	if (soa) {
		out[n++] = 0xc0, out[n++] = 12;
		put16(out + n, 6), put16(out + n + 2, 1), n += 4;
		put32(out + n, r->ttl), n += 4;
		put16(out + n, 24), n += 2;
		out[n++] = 0xc0, out[n++] = 12; /* mname */
		out[n++] = 0xc0, out[n++] = 12; /* rname */
		put32(out + n, r->serial), n += 4;
		for (int i = 0; i < 4; i++)
			put32(out + n, 3600), n += 4;
		if (r->cut_answer)
			return n - 10;
	}
	out[n++] = 0;
	put16(out + n, 41), put16(out + n + 2, 1232), n += 4;
	memset(out + n, 0, 4), n += 4;
	put16(out + n, (unsigned)il + 4), n += 2;
	put16(out + n, 3), put16(out + n + 2, (unsigned)il), n += 4;
	memcpy(out + n, r->ident, il);
	return n + il;
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd pf = {r->fd, POLLIN, 0};
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		uint8_t buf[1024], out[1200];
		ssize_t n;
		size_t len;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n <= 12)
			continue;
		len = reply(r, buf, (size_t)n, out);
		if (len > 12 && out[7] == 1)
			atomic_fetch_add(&r->soa_queries, 1);
		if (len > 0)
			sendto(r->fd, out, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int bind_udp(const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int free_port(void)
{
	for (int tries = 0; tries < 100; tries++) {
		int port = 20000 + (int)(arc4random() % 30000), ok = 1;

		for (int i = 1; i <= 3 && ok; i++) {
			char a[16];
			int fd;

			snprintf(a, sizeof(a), "127.0.0.%d", i);
			if ((fd = bind_udp(a, port)) < 0)
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

static void responder_start(struct responder *r, int i, int port, const char *ident,
                            uint32_t serial, uint32_t ttl)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->addr, sizeof(r->addr), "127.0.0.%d", i);
	r->ident = ident;
	r->serial = serial;
	r->ttl = ttl;
	r->fd = bind_udp(r->addr, port);
	cr_assert_geq(r->fd, 0);
}

static void responder_run(struct responder *r)
{
	pthread_create(&r->th, NULL, responder_main, r);
}

static void responder_stop(struct responder *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->th, NULL);
	close(r->fd);
}

/* ---- the prober over a few rounds ---- */

#define MAX_RES 128

struct run {
	struct result res[MAX_RES];
	int n;
	int rounds_left;
	struct prober *p;
};

static void on_result(void *ctx, struct result *r)
{
	struct run *run = ctx;

	if (run->n < MAX_RES)
		run->res[run->n++] = *r;
}

static void on_closed(void *arg)
{
	(void)arg;
}

static void on_round(void *ctx, const char *service, uint64_t round, int anycast_ok)
{
	struct run *run = ctx;

	(void)service, (void)round, (void)anycast_ok;
	if (--run->rounds_left == 0)
		prober_close(run->p, on_closed, NULL);
}

static void run_rounds(struct inventory *inv, struct run *run, int rounds)
{
	uv_loop_t loop;

	memset(run, 0, sizeof(*run));
	run->rounds_left = rounds;
	cr_assert_eq(uv_loop_init(&loop), 0);
	run->p = prober_new(&loop, inv, on_result, on_round, run);
	cr_assert_not_null(run->p);
	prober_start(run->p, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

static struct inv_instance insts[2];
static struct inv_service svc;
static struct inventory inv;

static void setup(int port, int64_t interval_ms, int64_t every_ms)
{
	memset(&svc, 0, sizeof(svc));
	memset(insts, 0, sizeof(insts));
	memset(&inv, 0, sizeof(inv));
	snprintf(svc.name, sizeof(svc.name), "dns");
	svc.protocol = INV_PROTO_DNS;
	svc.n_address = 1;
	snprintf(svc.address[0], sizeof(svc.address[0]), "127.0.0.1");
	svc.port = port;
	svc.interval_ms = interval_ms;
	svc.timeout_ms = 300;
	svc.n_identify = 1;
	snprintf(svc.identify[0], 16, "nsid");
	for (int i = 0; i < 2; i++) {
		snprintf(insts[i].name, sizeof(insts[i].name), "site-%c", 'a' + i);
		insts[i].n_management = 1;
		snprintf(insts[i].management[0], RESULT_ADDR_MAX, "127.0.0.%d", 2 + i);
	}
	svc.n_instances = 2;
	svc.instances = insts;
	svc.n_checks = 1;
	snprintf(svc.checks[0].name, sizeof(svc.checks[0].name), "soa");
	snprintf(svc.checks[0].query_name, sizeof(svc.checks[0].query_name), "lab.test");
	snprintf(svc.checks[0].query_type, sizeof(svc.checks[0].query_type), "SOA");
	svc.checks[0].every_ms = every_ms;
	inv.n_services = 1;
	inv.services = &svc;
}

static const struct result *check_of(const struct run *run, uint64_t round, const char *addr)
{
	for (int i = 0; i < run->n; i++)
		if (run->res[i].round == round && strcmp(run->res[i].address, addr) == 0 &&
		    strcmp(run->res[i].query, "check") == 0)
			return &run->res[i];
	return NULL;
}

TestSuite(prober_checks, .timeout = 30);

Test(prober_checks, anycast_and_management_answers_digested_in_the_same_round)
{
	struct responder any, a, b;
	struct run run;
	int port = free_port();

	/* the anycast address reaches site-a (same data, another TTL); site-b
	 * is one serial behind */
	responder_start(&any, 1, port, "s-a", 2026120301, 300);
	responder_start(&a, 2, port, "s-a", 2026120301, 3600);
	responder_start(&b, 3, port, "s-b", 2026120300, 3600);
	responder_run(&any), responder_run(&a), responder_run(&b);
	setup(port, 500, 0);
	run_rounds(&inv, &run, 1);
	responder_stop(&any), responder_stop(&a), responder_stop(&b);

	const struct result *ra = check_of(&run, 1, "127.0.0.1");
	const struct result *ma = check_of(&run, 1, "127.0.0.2");
	const struct result *mb = check_of(&run, 1, "127.0.0.3");
	cr_assert(ra && ma && mb, "a check record per target");
	cr_assert_str_eq(ra->check, "soa");
	cr_assert_eq(ra->outcome, RESULT_OK);
	cr_assert_str_eq(ra->instance, "site-a", "the anycast check answer names its instance");
	cr_assert(ra->has_serial && ra->serial == 2026120301);
	cr_assert(mb->has_serial && mb->serial == 2026120300);
	cr_assert_eq(strlen(ra->digest), 64);
	cr_assert_str_eq(ra->digest, ma->digest, "TTL left out of the digest");
	cr_assert_str_neq(ma->digest, mb->digest);
	cr_assert(strstr(ra->rrs, "lab.test.") != NULL && strstr(ra->rrs, "SOA") != NULL, "%s",
	          ra->rrs);
	/* identity probes are still there, and carry no check */
	for (int i = 0; i < run.n; i++)
		if (strcmp(run.res[i].query, "check") != 0)
			cr_assert_str_empty(run.res[i].check);

	char line[4096];
	cr_assert_gt(result_to_line(ra, line, sizeof(line)), 0);
	cr_assert(strstr(line, "\"check\":\"soa\",\"serial\":2026120301,\"digest\":\"") != NULL,
	          "%s", line);
}

Test(prober_checks, checks_run_only_in_their_rounds)
{
	struct responder any, a, b;
	struct run run;
	int port = free_port();

	responder_start(&any, 1, port, "s-a", 7, 60);
	responder_start(&a, 2, port, "s-a", 7, 60);
	responder_start(&b, 3, port, "s-b", 7, 60);
	responder_run(&any), responder_run(&a), responder_run(&b);
	setup(port, 500, 1000); /* every 2nd round */
	run_rounds(&inv, &run, 4);
	responder_stop(&any), responder_stop(&a), responder_stop(&b);

	cr_assert_not_null(check_of(&run, 1, "127.0.0.1"));
	cr_assert_not_null(check_of(&run, 1, "127.0.0.3"));
	cr_assert_null(check_of(&run, 2, "127.0.0.1"));
	cr_assert_null(check_of(&run, 2, "127.0.0.2"));
	cr_assert_not_null(check_of(&run, 3, "127.0.0.2"));
	cr_assert_null(check_of(&run, 4, "127.0.0.3"));
	cr_assert_eq(atomic_load(&any.soa_queries), 2);
	/* the same answer again: its text comes from the last one's */
	const struct result *r1 = check_of(&run, 1, "127.0.0.2"),
	                    *r3 = check_of(&run, 3, "127.0.0.2");
	cr_assert_str_eq(r1->digest, r3->digest);
	cr_assert(strstr(r3->rrs, "SOA") != NULL, "round 3 text: \"%s\"", r3->rrs);
	cr_assert_str_eq(r1->rrs, r3->rrs);
}

Test(prober_checks, unparseable_answer_section_is_malformed_with_a_reason)
{
	struct responder any, a, b;
	struct run run;
	int port = free_port();

	responder_start(&any, 1, port, "s-a", 7, 60);
	responder_start(&a, 2, port, "s-a", 7, 60);
	responder_start(&b, 3, port, "s-b", 7, 60);
	b.cut_answer = 1;
	responder_run(&any), responder_run(&a), responder_run(&b);
	setup(port, 500, 0);
	run_rounds(&inv, &run, 1);
	responder_stop(&any), responder_stop(&a), responder_stop(&b);

	const struct result *mb = check_of(&run, 1, "127.0.0.3");
	cr_assert_not_null(mb);
	cr_assert_eq(mb->outcome, RESULT_MALFORMED);
	cr_assert_str_empty(mb->digest);
	cr_assert_eq(mb->has_serial, 0);
	cr_assert_eq(check_of(&run, 1, "127.0.0.2")->outcome, RESULT_OK);
}
