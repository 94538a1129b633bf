/* bench/probe/bench_trace.c - traces per CPU second of the agent's path
 * probe (agent/path_probe.c) on one loop: TOTAL traces to ADDR, CONCURRENCY
 * of them at a time, each a new socket and flow. Prints traces, how many
 * reached, packets sent, CPU seconds (user + system) and wall seconds.
 * Usage: bench_trace ADDR TOTAL CONCURRENCY */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "agent/path_probe.h"

struct bench {
	uv_loop_t *loop;
	struct sockaddr_storage dst;
	int left, running, done, reached;
	long packets;
};

static void start_one(struct bench *b);

static void on_done(void *ctx, const struct path_trace *t, int cancelled)
{
	struct bench *b = ctx;

	(void)cancelled;
	b->running--;
	b->done++;
	b->packets += t->n_probes;
	if (t->status == PATH_TRACE_REACHED)
		b->reached++;
	if (b->left > 0)
		start_one(b);
}

static void start_one(struct bench *b)
{
	struct path_probe_opts o = { .dst = (struct sockaddr *)&b->dst, .done = on_done, .ctx = b };
	struct path_probe *p;

	b->left--;
	if (path_probe_start(b->loop, &o, &p) < 0) {
		fprintf(stderr, "bench_trace: cannot start a trace\n");
		exit(1);
	}
	b->running++;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	int conc;
	double c0, w0;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_trace ADDR TOTAL CONCURRENCY\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &((struct sockaddr_in *)&b.dst)->sin_addr) == 1)
		b.dst.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, argv[1], &((struct sockaddr_in6 *)&b.dst)->sin6_addr) == 1)
		b.dst.ss_family = AF_INET6;
	else
		return 2;
	b.left = atoi(argv[2]);
	conc = atoi(argv[3]);
	b.loop = uv_default_loop();
	c0 = cpu_s();
	w0 = wall_s();
	for (int i = 0; i < conc && b.left > 0; i++)
		start_one(&b);
	uv_run(b.loop, UV_RUN_DEFAULT);
	printf("traces %d reached %d packets %ld cpu_s %.4f wall_s %.4f\n", b.done, b.reached,
	       b.packets, cpu_s() - c0, wall_s() - w0);
	return 0;
}
