/* bench/probe/bench_probe.c - probes per second of the agent's probe path on
 * one core: DNS query building (ldns, random ID, NSID), a fresh random-port
 * UDP socket per query with IP_RECVERR and SO_TIMESTAMPNS on libuv, reply
 * validation and classification. Keeps CONCURRENCY probes in flight against
 * one address for SECONDS. With "check" as the fifth argument every probe is
 * an answer-integrity check instead ("lab.test SOA", the answer section
 * digested with dns_answer_digest; "check-notext" without the RRs' text).
 * Usage: bench_probe ADDR PORT SECONDS CONCURRENCY [check|check-notext] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "agent/dns_answer.h"
#include "agent/dns_wire.h"
#include "agent/rand_pool.h"
#include "agent/udp_probe.h"

struct bench {
	uv_loop_t *loop;
	struct sockaddr_storage dst;
	double deadline;
	unsigned long sent, ok, timeouts, other, dropped_unused;
	uint64_t dropped;
	int in_flight;
	int check;
	unsigned long digested;
};

struct q {
	struct bench *b;
	struct dns_wire_question question;
	struct dns_wire_reply reply;
	struct dns_answer answer;
	int answer_rc;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_one(struct bench *b);

static int accept_reply(void *ctx, const uint8_t *pkt, size_t len)
{
	struct q *q = ctx;

	enum dns_wire_verdict v = dns_wire_classify(pkt, len, &q->question, &q->reply);

	if (q->b->check && v == DNS_WIRE_OK)
		q->answer_rc = dns_answer_digest_flags(
		    pkt, len, q->b->check == 2 ? DNS_ANSWER_NO_TEXT : 0, &q->answer);
	return v != DNS_WIRE_DROP;
}

static void done(void *ctx, const struct udp_probe_result *res)
{
	struct q *q = ctx;
	struct bench *b = q->b;

	if (b->check && res->status == UDP_PROBE_REPLY && q->answer_rc == 0 &&
	    q->answer.has_serial && q->answer.serial == 2026120301u)
		b->digested++;
	if (res->status == UDP_PROBE_REPLY && q->reply.verdict == DNS_WIRE_OK && q->reply.has_nsid)
		b->ok++;
	else if (res->status == UDP_PROBE_TIMEOUT)
		b->timeouts++;
	else
		b->other++;
	free(q);
	b->in_flight--;
	if (now() < b->deadline)
		start_one(b);
}

static void start_one(struct bench *b)
{
	struct q *q = calloc(1, sizeof(*q));
	uint8_t buf[DNS_WIRE_MAX_QUERY];
	struct udp_probe_opts o = { 0 };
	struct udp_probe *p;
	int len = b->check ? dns_wire_build_query(DNS_WIRE_SERVICE, "lab.test", "SOA",
						  (uint16_t)rand_pool_u32(), buf, sizeof(buf),
						  &q->question)
			   : dns_wire_build_query(DNS_WIRE_NSID, NULL, NULL, (uint16_t)rand_pool_u32(),
						  buf, sizeof(buf), &q->question);

	q->b = b;
	o.dst = (struct sockaddr *)&b->dst;
	o.query = buf;
	o.query_len = (size_t)len;
	o.timeout_ms = 1000;
	o.accept = accept_reply;
	o.done = done;
	o.ctx = q;
	o.dropped = &b->dropped;
	if (udp_probe_start(b->loop, &o, &p) < 0) {
		free(q);
		b->other++;
		return;
	}
	b->sent++;
	b->in_flight++;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	struct rusage ru;
	double t0, t1, cpu;
	int conc;

	if (argc != 5 && !(argc == 6 && (strcmp(argv[5], "check") == 0 ||
					  strcmp(argv[5], "check-notext") == 0))) {
		fprintf(stderr,
			"usage: bench_probe ADDR PORT SECONDS CONCURRENCY [check|check-notext]\n");
		return 2;
	}
	b.check = argc == 6 ? (strcmp(argv[5], "check") == 0 ? 1 : 2) : 0;
	if (uv_ip4_addr(argv[1], atoi(argv[2]), (struct sockaddr_in *)&b.dst) != 0 &&
	    uv_ip6_addr(argv[1], atoi(argv[2]), (struct sockaddr_in6 *)&b.dst) != 0)
		return 2;
	conc = atoi(argv[4]);
	b.loop = uv_default_loop();
	t0 = now();
	b.deadline = t0 + atof(argv[3]);
	for (int i = 0; i < conc; i++)
		start_one(&b);
	uv_run(b.loop, UV_RUN_DEFAULT);
	t1 = now();
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("probes %lu answered %lu timeouts %lu other %lu dropped %llu wall %.2f s "
	       "cpu %.2f s rate %.0f/s per_cpu_s %.0f maxrss_kb %ld",
	       b.sent, b.ok, b.timeouts, b.other, (unsigned long long)b.dropped, t1 - t0, cpu,
	       (double)b.sent / (t1 - t0), (double)b.sent / cpu, ru.ru_maxrss);
	if (b.check)
		printf(" digested %lu", b.digested);
	printf("\n");
	return 0;
}
