/* bench/report/bench_report.c - the agent's reporting path under load:
 * synthetic results -> result_to_line -> spool (write per loop iteration,
 * fdatasync before each POST and every second) -> reporter -> a fake
 * collector in a child process on 127.0.0.1. Prints results/s, CPU per
 * result and bytes per result for the agent side alone.
 * Usage: bench_report [results] [rate/s, 0 = as fast as possible]
 *        bench_report sync   (cost of write and fdatasync per batch) */
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../../tests/agent/fake_collector.h"

#include "agent/reporter.h"
#include "agent/spool.h"
#include "common/curl_uv.h"
#include "common/log.h"
#include "common/result.h"
#include "common/timefmt.h"

struct bench {
	uv_loop_t loop;
	uv_timer_t gen, sync;
	uv_check_t check;
	struct spool *sp;
	struct curl_uv *cu;
	struct reporter *rep;
	uint64_t total, made, rate;
	uint64_t start_ns, made_ns, done_ns;
	struct result r;
	int closed;
};

static void make_result(struct result *r, uint64_t i)
{
	memset(r, 0, sizeof(*r));
	r->round = i / 8;
	r->time_ms = time_now_ms();
	snprintf(r->service, sizeof(r->service), "dns");
	snprintf(r->address, sizeof(r->address), "198.18.255.53");
	r->family = 4;
	r->target = i % 4 ? RESULT_TARGET_MANAGEMENT : RESULT_TARGET_ANYCAST;
	snprintf(r->instance, sizeof(r->instance), "site-%c", (int)('a' + i % 3));
	snprintf(r->identity, sizeof(r->identity), "s%d.lab", (int)(i % 3) + 1);
	snprintf(r->identity_source, sizeof(r->identity_source), "nsid");
	snprintf(r->query, sizeof(r->query), "nsid");
	snprintf(r->transport, sizeof(r->transport), "udp");
	r->outcome = RESULT_OK;
	snprintf(r->rcode, sizeof(r->rcode), "NOERROR");
	r->rtt_ms = 0.8 + (double)(i % 100) / 10;
}

/* As the agent's central.c does per result. */
static void produce(struct bench *b, uint64_t n)
{
	char line[SPOOL_LINE_MAX];
	for (uint64_t k = 0; k < n && b->made < b->total; k++, b->made++) {
		make_result(&b->r, b->made);
		b->r.seq = spool_next_seq(b->sp);
		int len = result_to_line(&b->r, line, sizeof(line));
		if (len < 0 || spool_append(b->sp, b->r.seq, line, (size_t)len) < 0) {
			fprintf(stderr, "append failed\n");
			exit(1);
		}
		reporter_kick(b->rep);
	}
	if (b->made == b->total && !b->made_ns)
		b->made_ns = uv_hrtime();
}

static void on_gen(uv_timer_t *t)
{
	struct bench *b = t->data;
	/* Rate mode: per 1 ms tick; flat out: 2000 per iteration. */
	uint64_t n = b->rate ? b->rate / 1000 : 2000;
	if (b->rate) {
		uint64_t due = (uv_hrtime() - b->start_ns) / 1000 * b->rate / 1000000;
		n = due > b->made ? due - b->made : 0;
	}
	produce(b, n);
	struct spool_stats ss;
	spool_get_stats(b->sp, &ss);
	if (b->made == b->total && ss.depth == 0) {
		b->done_ns = uv_hrtime();
		uv_stop(&b->loop);
	}
}

static void on_check(uv_check_t *h)
{
	struct bench *b = h->data;
	spool_flush(b->sp);
}

static void on_synced(void *arg, int status)
{
	(void)arg;
	(void)status;
}

static void on_sync(uv_timer_t *t)
{
	struct bench *b = t->data;
	spool_sync_async(b->sp, &b->loop, on_synced, b);
}

static void on_closed(void *arg)
{
	((struct bench *)arg)->closed++;
}

static void on_cu_closed(void *arg)
{
	struct bench *b = arg;
	reporter_close(b->rep, on_closed, b);
}

static pid_t start_collector(int *port)
{
	int p[2];
	if (pipe(p) < 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		struct fake_collector *fc = fc_start();
		if (!fc || write(p[1], &fc->port, sizeof(int)) != sizeof(int))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], port, sizeof(int)) != sizeof(int))
		exit(1);
	close(p[0]);
	return pid;
}

/* The cost of durability alone: append 500 results and write them, with
 * and without fdatasync, 200 times. */
static int sync_cost(void)
{
	char dir[] = "/tmp/bench_sync.XXXXXX", line[SPOOL_LINE_MAX], cmd[128];
	struct result r;

	if (!mkdtemp(dir))
		return 1;
	struct spool *sp = spool_open(dir, 0);
	for (int with_sync = 0; with_sync < 2; with_sync++) {
		uint64_t t0 = uv_hrtime();
		for (int i = 0; i < 200; i++) {
			for (int k = 0; k < 500; k++) {
				make_result(&r, (uint64_t)k);
				r.seq = spool_next_seq(sp);
				int len = result_to_line(&r, line, sizeof(line));
				spool_append(sp, r.seq, line, (size_t)len);
			}
			with_sync ? spool_sync(sp) : spool_flush(sp);
		}
		printf("200 x (500 appends + %s): %.2f ms per batch\n",
		       with_sync ? "write + fdatasync" : "write",
		       (double)(uv_hrtime() - t0) / 200e6);
	}
	spool_close(sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	struct reporter_options o = {0};
	struct rusage ru0, ru1;
	char dir[] = "/tmp/bench_report.XXXXXX", url[64], cmd[128];
	int port;

	if (argc > 1 && strcmp(argv[1], "sync") == 0)
		return sync_cost();
	b.total = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
	b.rate = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	log_init("bench", 0, 0);
	pid_t pid = start_collector(&port);
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&b.loop);
	b.sp = spool_open(dir, 0);
	b.cu = curl_uv_new(&b.loop, 4);
	o.http.base_url = url;
	o.http.token = "bench";
	o.name = "bench";
	o.batch_max = getenv("BENCH_BATCH") ? strtoul(getenv("BENCH_BATCH"), NULL, 10) : 0;
	b.rep = reporter_new(&b.loop, b.cu, b.sp, &o);
	if (!b.sp || !b.cu || !b.rep)
		return 1;
	uv_timer_init(&b.loop, &b.gen);
	uv_timer_init(&b.loop, &b.sync);
	uv_check_init(&b.loop, &b.check);
	b.gen.data = b.sync.data = b.check.data = &b;
	getrusage(RUSAGE_SELF, &ru0);
	b.start_ns = uv_hrtime();
	uv_timer_start(&b.gen, on_gen, 0, 1);
	uv_timer_start(&b.sync, on_sync, 1000, 1000);
	uv_check_start(&b.check, on_check);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	getrusage(RUSAGE_SELF, &ru1);

	struct reporter_stats rs;
	struct spool_stats ss;
	reporter_get_stats(b.rep, &rs);
	spool_get_stats(b.sp, &ss);
	double wall = (double)(b.done_ns - b.start_ns) / 1e9;
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	             (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	printf("results        %" PRIu64 " (rate %s)\n", b.total,
	       b.rate ? argv[2] : "as fast as possible");
	printf("wall           %.2f s, all acknowledged: %.0f results/s\n", wall,
	       (double)b.total / wall);
	printf("agent cpu      %.2f s = %.1f us per result (%.0f%% of one core)\n", cpu,
	       cpu * 1e6 / (double)b.total, cpu * 100 / wall);
	printf("posts          %" PRIu64 " (%.0f results each), %" PRIu64 " errors\n", rs.posts,
	       (double)rs.results_sent / (double)(rs.posts ? rs.posts : 1), rs.send_errors);
	printf("bytes on wire  %.1f per result (request bodies)\n",
	       (double)rs.bytes_sent / (double)b.total);
	printf("fdatasync      %" PRIu64 " calls\n", ss.syncs);

	curl_uv_close(b.cu, on_cu_closed, &b);
	uv_close((uv_handle_t *)&b.gen, NULL);
	uv_close((uv_handle_t *)&b.sync, NULL);
	uv_close((uv_handle_t *)&b.check, NULL);
	while (b.closed < 1)
		uv_run(&b.loop, UV_RUN_ONCE);
	uv_run(&b.loop, UV_RUN_NOWAIT);
	uv_loop_close(&b.loop);
	spool_close(b.sp);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
