/* bench/collector/loadgen.c - ingest load generator: T threads, each with a
 * keep-alive libcurl handle, POST batches of B results for agents
 * bench-1..bench-N (token "bench-token-<i>") to /api/v1/results for D
 * seconds, then print results/s and request latency percentiles.
 * Build: cc -O2 -o loadgen loadgen.c -lcurl -lpthread */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
	const char *url;
	int agents, threads, batch, services, seconds;
	unsigned long long seq_base; /* first seq is seq_base + 1 */
};

struct worker {
	const struct opts *o;
	int id;
	uint64_t *seq;      /* per agent, this worker's agents only */
	uint64_t results, stored, requests, errors;
	double *lat;        /* ms per request */
	size_t nlat, caplat;
	pthread_t th;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink {
	char buf[256];
	size_t len;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t k = sz * n;

	if (s->len + k < sizeof(s->buf)) {
		memcpy(s->buf + s->len, p, k);
		s->len += k;
		s->buf[s->len] = '\0';
	}
	return k;
}

/* One batch for agent a: rounds of (anycast + two management) per service. */
static size_t
make_batch(const struct opts *o, int a, uint64_t *seq, char *buf, size_t cap)
{
	static const char *inst[] = { "site-a", "site-b" };
	size_t len = 0;
	time_t t = time(NULL);
	struct tm tm;
	char ts[40];

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	len += (size_t)snprintf(buf + len, cap - len, "{\"results\":[");
	for (int i = 0; i < o->batch; i++) {
		uint64_t s = ++*seq;
		int svc = (int)((s / 3) % (uint64_t)o->services);
		int kind = (int)(s % 3); /* 0 anycast, 1 mgmt a, 2 mgmt b */
		const char *in = kind == 0 ? inst[a % 2] : inst[kind - 1];

		len += (size_t)snprintf(
			buf + len, cap - len,
			"%s{\"seq\":%llu,\"round\":%llu,\"time\":\"%s\",\"service\":\"svc%d\","
			"\"address\":\"%s\",\"family\":4,\"target\":\"%s\",\"instance\":\"%s\","
			"\"identity\":\"%s.lab\",\"identity_source\":\"nsid\",\"query\":\"nsid\","
			"\"transport\":\"udp\",\"outcome\":\"ok\",\"rcode\":\"NOERROR\",\"rtt_ms\":%.3f}",
			i ? "," : "", (unsigned long long)s, (unsigned long long)(s / (3ULL * o->services)),
			ts, svc, kind == 0 ? "198.18.255.53" : (kind == 1 ? "198.18.1.2" : "198.18.2.2"),
			kind == 0 ? "anycast" : "management", in, in, 1.0 + (double)(s % 50));
	}
	len += (size_t)snprintf(buf + len, cap - len,
				"],\"status\":{\"version\":\"bench\",\"spool_depth\":0}}");
	return len;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	size_t cap = (size_t)o->batch * 512 + 256;
	char *body = malloc(cap), url[512], auth[128];
	CURL *e = curl_easy_init();
	struct sink sink;
	double end = now_s() + o->seconds;
	int a = w->id;

	snprintf(url, sizeof(url), "%s/api/v1/results", o->url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	while (now_s() < end) {
		struct curl_slist *h = NULL;
		size_t len = make_batch(o, a + 1, &w->seq[a / o->threads], body, cap);
		double t0 = now_s();
		long status = 0;

		snprintf(auth, sizeof(auth), "Authorization: Bearer bench-token-%d", a + 1);
		h = curl_slist_append(h, auth);
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
		sink.len = 0;
		sink.buf[0] = '\0';
		if (curl_easy_perform(e) == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(h);
		w->requests++;
		if (status != 200) {
			w->errors++;
			if (w->errors < 5)
				fprintf(stderr, "loadgen: status %ld: %s\n", status, sink.buf);
		} else {
			const char *p = strstr(sink.buf, "\"stored\":");

			w->results += (uint64_t)o->batch;
			if (p != NULL)
				w->stored += strtoull(p + 9, NULL, 10);
		}
		if (w->nlat == w->caplat) {
			w->caplat = w->caplat ? w->caplat * 2 : 4096;
			w->lat = realloc(w->lat, w->caplat * sizeof(double));
		}
		w->lat[w->nlat++] = (now_s() - t0) * 1000.0;
		a += o->threads;
		if (a >= o->agents)
			a = w->id;
	}
	curl_easy_cleanup(e);
	free(body);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct opts o = { "http://127.0.0.1:8053", 100, 4, 100, 10, 10, 0 };
	struct worker *w;
	uint64_t results = 0, stored = 0, reqs = 0, errs = 0;
	double t0, el, *all;
	size_t nall = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--url"))
			o.url = argv[i + 1];
		else if (!strcmp(argv[i], "--agents"))
			o.agents = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			o.threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--batch"))
			o.batch = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--services"))
			o.services = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seq-base"))
			o.seq_base = strtoull(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "loadgen: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (o.threads > o.agents)
		o.threads = o.agents;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	w = calloc((size_t)o.threads, sizeof(*w));
	t0 = now_s();
	for (int i = 0; i < o.threads; i++) {
		w[i].o = &o;
		w[i].id = i;
		w[i].seq = calloc((size_t)o.agents / (size_t)o.threads + 1, sizeof(uint64_t));
		for (int k = 0; k <= o.agents / o.threads; k++)
			w[i].seq[k] = o.seq_base;
		pthread_create(&w[i].th, NULL, work, &w[i]);
	}
	for (int i = 0; i < o.threads; i++) {
		pthread_join(w[i].th, NULL);
		results += w[i].results;
		stored += w[i].stored;
		reqs += w[i].requests;
		errs += w[i].errors;
		nall += w[i].nlat;
	}
	el = now_s() - t0;
	all = malloc(nall * sizeof(double) + 1);
	nall = 0;
	for (int i = 0; i < o.threads; i++) {
		memcpy(all + nall, w[i].lat, w[i].nlat * sizeof(double));
		nall += w[i].nlat;
	}
	qsort(all, nall, sizeof(double), cmp);
	printf("requests %llu errors %llu results_acked %llu stored %llu seconds %.2f\n",
	       (unsigned long long)reqs, (unsigned long long)errs, (unsigned long long)results,
	       (unsigned long long)stored, el);
	printf("rate %.0f results/s, %.0f requests/s; latency ms p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
	       (double)stored / el, (double)reqs / el, nall ? all[nall / 2] : 0,
	       nall ? all[nall * 95 / 100] : 0, nall ? all[nall * 99 / 100] : 0,
	       nall ? all[nall - 1] : 0);
	return errs ? 1 : 0;
}
