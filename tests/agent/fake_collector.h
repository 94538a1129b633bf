/* tests/agent/fake_collector.h - a small HTTP/1.1 collector for the agent's
 * reporting tests, on 127.0.0.1 with threads (one per connection): counts
 * every result seq it receives, answers like the real collector, or with the
 * failure the test scripted (500, 503 + Retry-After, 401, 403 "wrong agent",
 * close mid-request), puts its clock (shifted by time_skew_ms) in "time_ms",
 * serves /api/v1/agent/config with an ETag, and can go down and come back on
 * its port (fc_down, fc_up). Header-only: static functions. */
#ifndef FAKE_COLLECTOR_H
#define FAKE_COLLECTOR_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FC_MAX_SEQ (1u << 20)
#define FC_SCRIPT 64

enum fc_reply {
	FC_OK = 0,
	FC_500,
	FC_503,
	FC_429,
	FC_401,
	FC_CLOSE,
	FC_413,
	FC_STORE_CLOSE,
	FC_403, /* the collector's "token belongs to agent ..." (token_agent) */
};

struct fake_collector {
	int lfd, port, stop, conns, down;
	pthread_t thr;
	pthread_mutex_t mu;
	/* behaviour: the script first, then dflt */
	enum fc_reply script[FC_SCRIPT];
	int nscript, iscript;
	enum fc_reply dflt;
	int retry_after_s; /* for 503/429; -1 = no header */
	int max_results;   /* answer 413 to larger batches; 0 = no limit */
	int bad_seq;       /* answer 400 to any batch holding this seq; 0 = none */
	int partial;       /* store only the first N results of each batch; 0 = all */
	int drop_from;     /* drop (as an unconfigured service) every seq >= this; 0 = none */
	const char *token; /* expected bearer token, NULL = any */
	const char *token_agent; /* the agent FC_403 names; NULL: "branch-1" */
	int forbid_posts;        /* FC_403 to every POST the script lets through */
	int no_time;             /* answer without "time_ms" (an older collector) */
	int64_t time_skew_ms;    /* added to our clock in "time_ms" */
	/* what arrived */
	unsigned char *seen; /* count per seq */
	uint64_t last_seq, stored, duplicates;
	int posts, gets, not_modified, unauthorized, accepts;
	int64_t req_ms[FC_SCRIPT]; /* monotonic ms of the first requests */
	int nreq;
	int64_t post_ms[FC_SCRIPT]; /* of the first POSTs that reached fc_results */
	int nposts;
	char last_status[2048];
	char last_auth[256];
	char last_agent[128]; /* X-Anycast-Agent of the last request, "" if none */
	int with_agent, without_agent; /* requests with and without that header */
	int forbidden;                 /* 403 answers sent */
	/* config endpoint */
	char config[8192];
	char etag[64];
};

static int64_t fc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fc_read_request(int fd, char *buf, size_t cap, size_t *hlen, size_t *total, int *stop)
{
	size_t len = 0;
	for (;;) {
		char *end = memmem(buf, len, "\r\n\r\n", 4);
		if (end) {
			*hlen = (size_t)(end - buf) + 4;
			buf[*hlen - 1] = '\0';
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
			if (*hlen + body > cap)
				return -1;
			while (len < *hlen + body) {
				ssize_t n = read(fd, buf + len, cap - len);
				if (n <= 0)
					return -1;
				len += (size_t)n;
			}
			*total = *hlen + body;
			return 0;
		}
		if (len == cap)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 100);
		if (r == 0) {
			if (__atomic_load_n(stop, __ATOMIC_SEQ_CST))
				return -1;
			continue;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
}

static void fc_header(const char *req, const char *name, char *out, size_t outlen)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	const char *p = strcasestr(req, pat);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	size_t l = strcspn(p, "\r\n");
	if (l >= outlen)
		l = outlen - 1;
	memcpy(out, p, l);
	out[l] = '\0';
}

static void fc_send(int fd, int code, const char *reason, const char *extra, const char *body)
{
	char head[512];
	char date[64];
	size_t bl = strlen(body);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\n%s\r\n",
	                 code, reason, date, bl, extra ? extra : "");
	/* One write: two would meet Nagle and delayed ACKs (40 ms). */
	char *all = malloc((size_t)n + bl);
	memcpy(all, head, (size_t)n);
	memcpy(all + n, body, bl);
	if (write(fd, all, (size_t)n + bl) < 0) {
		/* the client went away: nothing to do */
	}
	free(all);
}

/* Handle one POST /api/v1/results under fc->mu. Returns the HTTP code sent. */
static int fc_results(struct fake_collector *fc, int fd, const char *body, size_t len)
{
	if (fc->nposts < FC_SCRIPT)
		fc->post_ms[fc->nposts++] = fc_now_ms();
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *res = j ? json_object_get(j, "results") : NULL;
	if (!json_is_array(res)) {
		json_decref(j);
		fc_send(fd, 400, "Bad Request", NULL, "{\"error\":\"no results\"}");
		return 400;
	}
	if (fc->max_results && (int)json_array_size(res) > fc->max_results) {
		json_decref(j);
		fc_send(fd, 413, "Too Large", NULL, "{\"error\":\"too large\"}");
		return 413;
	}
	size_t i;
	json_t *r;
	json_array_foreach(res, i, r)
	{
		json_int_t seq = json_integer_value(json_object_get(r, "seq"));
		if (seq <= 0 || seq >= (json_int_t)FC_MAX_SEQ ||
		    (fc->bad_seq && seq == fc->bad_seq)) {
			json_decref(j);
			fc_send(fd, 400, "Bad Request", NULL, "{\"error\":\"bad seq\"}");
			return 400;
		}
	}
	uint64_t stored = 0, dups = 0, dropped = 0;
	json_array_foreach(res, i, r)
	{
		json_int_t seq = json_integer_value(json_object_get(r, "seq"));
		if (fc->partial && (int)i >= fc->partial)
			break;
		if (fc->drop_from && seq >= fc->drop_from) {
			dropped++;
			continue;
		}
		if (fc->seen[seq]++ == 0) {
			stored++;
			if ((uint64_t)seq > fc->last_seq)
				fc->last_seq = (uint64_t)seq;
		} else {
			dups++;
		}
	}
	fc->stored += stored;
	fc->duplicates += dups;
	json_t *st = json_object_get(j, "status");
	char *s = st ? json_dumps(st, JSON_COMPACT) : NULL;
	snprintf(fc->last_status, sizeof(fc->last_status), "%s", s ? s : "");
	free(s);
	json_decref(j);
	char ans[200], tm[48] = "";
	if (!fc->no_time) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(tm, sizeof(tm), ",\"time_ms\":%lld",
		         (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + fc->time_skew_ms);
	}
	snprintf(ans, sizeof(ans),
	         "{\"stored\":%llu,\"duplicates\":%llu,\"dropped\":%llu,\"last_seq\":%llu%s}",
	         (unsigned long long)stored, (unsigned long long)dups, (unsigned long long)dropped,
	         (unsigned long long)fc->last_seq, tm);
	fc_send(fd, 200, "OK", NULL, ans);
	return 200;
}

static void *fc_conn(void *arg)
{
	struct fake_collector *fc = ((void **)arg)[0];
	int fd = (int)(intptr_t)((void **)arg)[1];
	size_t cap = 8u << 20, hlen, total;
	char *buf = malloc(cap);
	free(arg);
	while (!__atomic_load_n(&fc->stop, __ATOMIC_SEQ_CST) &&
	       fc_read_request(fd, buf, cap, &hlen, &total, &fc->stop) == 0) {
		char auth[256], inm[128], extra[128], agent[128];
		fc_header(buf, "Authorization", auth, sizeof(auth));
		fc_header(buf, "If-None-Match", inm, sizeof(inm));
		fc_header(buf, "X-Anycast-Agent", agent, sizeof(agent));
		pthread_mutex_lock(&fc->mu);
		snprintf(fc->last_auth, sizeof(fc->last_auth), "%s", auth);
		snprintf(fc->last_agent, sizeof(fc->last_agent), "%s", agent);
		agent[0] ? fc->with_agent++ : fc->without_agent++;
		enum fc_reply rep =
		    fc->iscript < fc->nscript ? fc->script[fc->iscript++] : fc->dflt;
		int is_post = strncmp(buf, "POST /api/v1/results ", 21) == 0;
		int is_cfg = strncmp(buf, "GET /api/v1/agent/config ", 25) == 0;
		is_post ? fc->posts++ : fc->gets++;
		if (fc->nreq < FC_SCRIPT)
			fc->req_ms[fc->nreq++] = fc_now_ms();
		char want[300];
		snprintf(want, sizeof(want), "Bearer %s", fc->token ? fc->token : "");
		if (fc->token && strcmp(auth, want) != 0)
			rep = FC_401;
		else if (fc->forbid_posts && is_post && rep == FC_OK)
			rep = FC_403;
		extra[0] = '\0';
		if (fc->retry_after_s >= 0)
			snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", fc->retry_after_s);
		int close_now = 0;
		switch (rep) {
		case FC_CLOSE:
			close_now = 1;
			break;
		case FC_STORE_CLOSE: {
			/* Stored, but the answer is lost: the agent must send again. */
			int devnull = open("/dev/null", O_WRONLY);
			if (is_post)
				fc_results(fc, devnull, buf + hlen, total - hlen);
			close(devnull);
			close_now = 1;
			break;
		}
		case FC_500:
			fc_send(fd, 500, "Internal", NULL, "{\"error\":\"boom\"}");
			break;
		case FC_503:
			fc_send(fd, 503, "Unavailable", extra, "{\"error\":\"not ready\"}");
			break;
		case FC_429:
			fc_send(fd, 429, "Too Many", extra, "{\"error\":\"slow down\"}");
			break;
		case FC_413:
			fc_send(fd, 413, "Too Large", NULL, "{\"error\":\"too large\"}");
			break;
		case FC_403: {
			char b[256];
			fc->forbidden++;
			snprintf(b, sizeof(b),
			         "{\"error\":\"token belongs to agent \\\"%s\\\", not \\\"%s\\\"\"}",
			         fc->token_agent ? fc->token_agent : "branch-1", agent);
			fc_send(fd, 403, "Forbidden", NULL, b);
			break;
		}
		case FC_401:
			fc->unauthorized++;
			fc_send(fd, 401, "Unauthorized", NULL, "{\"error\":\"bad token\"}");
			break;
		case FC_OK:
			if (is_post) {
				fc_results(fc, fd, buf + hlen, total - hlen);
			} else if (is_cfg && fc->etag[0] && strcmp(inm, fc->etag) == 0) {
				fc->not_modified++;
				fc_send(fd, 304, "Not Modified", NULL, "");
			} else if (is_cfg) {
				char h[128];
				snprintf(h, sizeof(h), "ETag: %s\r\n", fc->etag);
				fc_send(fd, 200, "OK", h, fc->config);
			} else {
				fc_send(fd, 404, "Not Found", NULL, "{\"error\":\"no such path\"}");
			}
			break;
		}
		pthread_mutex_unlock(&fc->mu);
		if (close_now)
			break;
	}
	close(fd);
	free(buf);
	__atomic_fetch_sub(&fc->conns, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *fc_accept(void *arg)
{
	struct fake_collector *fc = arg;
	while (!__atomic_load_n(&fc->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd p = {.fd = fc->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(fc->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		void **a = malloc(2 * sizeof(void *));
		a[0] = fc;
		a[1] = (void *)(intptr_t)fd;
		pthread_t t;
		__atomic_fetch_add(&fc->conns, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&fc->accepts, 1, __ATOMIC_SEQ_CST);
		pthread_create(&t, NULL, fc_conn, a);
		pthread_detach(t);
	}
	return NULL;
}

/* Start on 127.0.0.1, an ephemeral port. NULL on failure. */
static struct fake_collector *fc_start(void)
{
	struct fake_collector *fc = calloc(1, sizeof(*fc));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	fc->seen = calloc(FC_MAX_SEQ, 1);
	fc->retry_after_s = -1;
	pthread_mutex_init(&fc->mu, NULL);
	int one = 1;
	fc->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* fc_up binds the port again while closed connections linger. */
	setsockopt(fc->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fc->lfd < 0 || bind(fc->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fc->lfd, 16) < 0 || getsockname(fc->lfd, (struct sockaddr *)&sa, &sl) < 0)
		return NULL;
	fc->port = ntohs(sa.sin_port);
	pthread_create(&fc->thr, NULL, fc_accept, fc);
	return fc;
}

/* Go down like a killed collector: the port refuses connections and open
 * ones are closed. What was stored stays. */
static __attribute__((unused)) void fc_down(struct fake_collector *fc)
{
	if (fc->down)
		return;
	__atomic_store_n(&fc->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(fc->thr, NULL);
	close(fc->lfd);
	while (__atomic_load_n(&fc->conns, __ATOMIC_SEQ_CST) > 0)
		usleep(10000);
	fc->down = 1;
}

/* Back on the same port after fc_down. 0, or -1 when the port is taken. */
static __attribute__((unused)) int fc_up(struct fake_collector *fc)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                         .sin_port = htons((uint16_t)fc->port)};
	int one = 1;

	if (!fc->down)
		return 0;
	fc->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fc->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fc->lfd < 0 || bind(fc->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fc->lfd, 16) < 0)
		return -1;
	fc->down = 0;
	__atomic_store_n(&fc->stop, 0, __ATOMIC_SEQ_CST);
	pthread_create(&fc->thr, NULL, fc_accept, fc);
	return 0;
}

static void fc_stop(struct fake_collector *fc)
{
	fc_down(fc);
	free(fc->seen);
	pthread_mutex_destroy(&fc->mu);
	free(fc);
}

/* Script the next replies (appended to what is left of the script). */
static __attribute__((unused)) void fc_script(struct fake_collector *fc, int n,
                                              const enum fc_reply *r)
{
	pthread_mutex_lock(&fc->mu);
	for (int i = 0; i < n && fc->nscript < FC_SCRIPT; i++)
		fc->script[fc->nscript++] = r[i];
	pthread_mutex_unlock(&fc->mu);
}

#endif
