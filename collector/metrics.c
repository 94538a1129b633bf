/* collector/metrics.c - Prometheus counters and RTT histograms, and their
 * text exposition. Series live in one chained hash table keyed by labels. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "collector/metrics.h"

#define N_BUCKETS 13
static const double rtt_bounds[N_BUCKETS] = { 1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 1000,
					      2000, 5000 };

static const char *const event_types[] = { "catchment_change", "outage", "recovery",
					   "instance_down", "instance_up", "unknown_instance",
					   "flapping", "split", "suboptimal" };
#define N_EVENT_TYPES (sizeof(event_types) / sizeof(event_types[0]))
#define N_OUTCOMES (RESULT_UNKNOWN + 1)
/* Keeps a hostile or broken agent from growing the table without bound. */
#define MAX_SERIES 200000
#define RENDER_MAX (512u << 20)

struct series {
	struct series *next;
	uint64_t hash;
	char agent[RESULT_NAME_MAX];
	char service[RESULT_NAME_MAX];
	int target;
	uint64_t buckets[N_BUCKETS]; /* non-cumulative */
	uint64_t count, outcomes[N_OUTCOMES];
	double sum;
	int64_t last_seen_ms;
};

struct metrics {
	struct series **table;
	size_t n_slots, n_series;
	uint64_t dropped_series;
	uint64_t stored, duplicates, rejected;
	uint64_t http[6];             /* by status class 1xx..5xx, [0] other */
	uint64_t http_code[600];
	uint64_t events[N_EVENT_TYPES + 1];
	uint64_t deliveries_ok, deliveries_failed;
};

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = cap <= RENDER_MAX ? realloc(b->p, cap) : NULL;

		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* Label values: escape backslash, quote and newline. */
static const char *
esc(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static uint64_t
hash_key(const char *agent, const char *service, int target)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = agent; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = service; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (h ^ (uint64_t)target) * 1099511628211ULL;
}

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->n_slots = 1024;
	if ((m->table = calloc(m->n_slots, sizeof(*m->table))) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_slots; i++) {
		struct series *s, *next;

		for (s = m->table[i]; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(m->table);
	free(m);
}

static void
grow(struct metrics *m)
{
	size_t n = m->n_slots * 2;
	struct series **t = calloc(n, sizeof(*t));

	if (t == NULL)
		return;
	for (size_t i = 0; i < m->n_slots; i++) {
		struct series *s, *next;

		for (s = m->table[i]; s != NULL; s = next) {
			next = s->next;
			s->next = t[s->hash % n];
			t[s->hash % n] = s;
		}
	}
	free(m->table);
	m->table = t;
	m->n_slots = n;
}

static struct series *
lookup(struct metrics *m, const char *agent, const char *service, int target)
{
	uint64_t h = hash_key(agent, service, target);
	struct series *s;

	for (s = m->table[h % m->n_slots]; s != NULL; s = s->next)
		if (s->hash == h && s->target == target && strcmp(s->agent, agent) == 0 &&
		    strcmp(s->service, service) == 0)
			return s;
	if (m->n_series >= MAX_SERIES) {
		m->dropped_series++;
		return NULL;
	}
	if (m->n_series >= m->n_slots)
		grow(m);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->hash = h;
	s->target = target;
	snprintf(s->agent, sizeof(s->agent), "%s", agent);
	snprintf(s->service, sizeof(s->service), "%s", service);
	s->next = m->table[h % m->n_slots];
	m->table[h % m->n_slots] = s;
	m->n_series++;
	return s;
}

void
metrics_observe_result(struct metrics *m, const struct result *r)
{
	struct series *s = lookup(m, r->agent, r->service, (int)r->target);

	if (s == NULL)
		return;
	if ((unsigned)r->outcome < N_OUTCOMES)
		s->outcomes[r->outcome]++;
	if (r->time_ms > s->last_seen_ms)
		s->last_seen_ms = r->time_ms;
	if (r->rtt_ms < 0)
		return;
	s->count++;
	s->sum += r->rtt_ms;
	for (int i = 0; i < N_BUCKETS; i++) {
		if (r->rtt_ms <= rtt_bounds[i]) {
			s->buckets[i]++;
			break;
		}
	}
}

void
metrics_agent_report(struct metrics *m, const char *agent, int64_t now_ms)
{
	struct series *s = lookup(m, agent, "", -1);

	if (s != NULL)
		s->last_seen_ms = now_ms;
}

void
metrics_count_ingest(struct metrics *m, uint64_t stored, uint64_t duplicates, uint64_t rejected)
{
	m->stored += stored;
	m->duplicates += duplicates;
	m->rejected += rejected;
}

void
metrics_count_http(struct metrics *m, int status)
{
	if (status >= 100 && status < 600) {
		m->http[status / 100]++;
		m->http_code[status]++;
	} else {
		m->http[0]++;
	}
}

void
metrics_count_event(struct metrics *m, const char *type)
{
	size_t i;

	for (i = 0; i < N_EVENT_TYPES; i++)
		if (strcmp(event_types[i], type) == 0)
			break;
	m->events[i]++;
}

void
metrics_count_delivery(struct metrics *m, int ok)
{
	if (ok)
		m->deliveries_ok++;
	else
		m->deliveries_failed++;
}

static void
render_series(struct metrics *m, struct buf *b)
{
	char ea[2 * RESULT_NAME_MAX], es[2 * RESULT_NAME_MAX];

	bprintf(b, "# HELP anycast_rtt_ms Round-trip time of answered probes, per agent, service"
		   " and target.\n# TYPE anycast_rtt_ms histogram\n");
	for (size_t i = 0; i < m->n_slots; i++) {
		for (struct series *s = m->table[i]; s != NULL; s = s->next) {
			const char *t = s->target ? "management" : "anycast";
			uint64_t cum = 0;

			if (s->target < 0)
				continue;
			esc(s->agent, ea, sizeof(ea));
			esc(s->service, es, sizeof(es));
			for (int k = 0; k < N_BUCKETS; k++) {
				cum += s->buckets[k];
				bprintf(b,
					"anycast_rtt_ms_bucket{agent=\"%s\",service=\"%s\",target=\"%s\","
					"le=\"%g\"} %" PRIu64 "\n",
					ea, es, t, rtt_bounds[k], cum);
			}
			bprintf(b,
				"anycast_rtt_ms_bucket{agent=\"%s\",service=\"%s\",target=\"%s\","
				"le=\"+Inf\"} %" PRIu64 "\n"
				"anycast_rtt_ms_sum{agent=\"%s\",service=\"%s\",target=\"%s\"} %.3f\n"
				"anycast_rtt_ms_count{agent=\"%s\",service=\"%s\",target=\"%s\"} %" PRIu64
				"\n",
				ea, es, t, s->count, ea, es, t, s->sum, ea, es, t, s->count);
		}
	}
	bprintf(b, "# HELP anycast_agent_last_seen_timestamp_seconds Last report received from"
		   " each agent.\n# TYPE anycast_agent_last_seen_timestamp_seconds gauge\n");
	for (size_t i = 0; i < m->n_slots; i++)
		for (struct series *s = m->table[i]; s != NULL; s = s->next)
			if (s->target < 0)
				bprintf(b, "anycast_agent_last_seen_timestamp_seconds{agent=\"%s\"} %.3f\n",
					esc(s->agent, ea, sizeof(ea)), (double)s->last_seen_ms / 1000.0);
	bprintf(b, "# HELP anycast_results_total Stored results by outcome.\n"
		   "# TYPE anycast_results_total counter\n");
	for (size_t i = 0; i < m->n_slots; i++) {
		for (struct series *s = m->table[i]; s != NULL; s = s->next) {
			if (s->target < 0)
				continue;
			esc(s->agent, ea, sizeof(ea));
			esc(s->service, es, sizeof(es));
			for (int o = 0; o < N_OUTCOMES; o++)
				if (s->outcomes[o] > 0)
					bprintf(b,
						"anycast_results_total{agent=\"%s\",service=\"%s\","
						"target=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
						ea, es, s->target ? "management" : "anycast",
						result_outcome_name((enum result_outcome)o), s->outcomes[o]);
		}
	}
	bprintf(b, "# HELP anycast_result_last_time_seconds Send time of the newest stored result.\n"
		   "# TYPE anycast_result_last_time_seconds gauge\n");
	for (size_t i = 0; i < m->n_slots; i++) {
		for (struct series *s = m->table[i]; s != NULL; s = s->next) {
			if (s->target < 0)
				continue;
			esc(s->agent, ea, sizeof(ea));
			esc(s->service, es, sizeof(es));
			bprintf(b,
				"anycast_result_last_time_seconds{agent=\"%s\",service=\"%s\","
				"target=\"%s\"} %.3f\n",
				ea, es, s->target ? "management" : "anycast",
				(double)s->last_seen_ms / 1000.0);
		}
	}
}

static void
render_catchments(const struct metrics_inputs *in, struct buf *b)
{
	char ea[2 * RESULT_NAME_MAX], es[2 * RESULT_NAME_MAX], ei[2 * RESULT_NAME_MAX];

	bprintf(b, "# HELP anycast_catchment_info The instance each agent reaches, per service and"
		   " family.\n# TYPE anycast_catchment_info gauge\n");
	for (size_t i = 0; i < in->n_rows; i++) {
		const struct catchment_row *r = &in->rows[i];

		bprintf(b,
			"anycast_catchment_info{agent=\"%s\",service=\"%s\",family=\"%d\","
			"instance=\"%s\",status=\"%s\"} 1\n",
			esc(r->agent, ea, sizeof(ea)), esc(r->service, es, sizeof(es)), r->family,
			esc(r->instance, ei, sizeof(ei)), r->status);
	}
	bprintf(b, "# HELP anycast_catchment_last_seen_timestamp_seconds Last answer seen"
		   " from the anycast address, per agent, service and family.\n"
		   "# TYPE anycast_catchment_last_seen_timestamp_seconds gauge\n");
	for (size_t i = 0; i < in->n_rows; i++) {
		const struct catchment_row *r = &in->rows[i];

		bprintf(b,
			"anycast_catchment_last_seen_timestamp_seconds{agent=\"%s\",service=\"%s\","
			"family=\"%d\"} %.3f\n",
			esc(r->agent, ea, sizeof(ea)), esc(r->service, es, sizeof(es)), r->family,
			(double)r->last_seen_ms / 1000.0);
	}
}

char *
metrics_render(struct metrics *m, const struct metrics_inputs *in, size_t *len)
{
	static const struct metrics_inputs none;
	struct buf b = { .cap = 65536 };

	if (in == NULL)
		in = &none;
	if ((b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	bprintf(&b, "# HELP anycast_ingest_results_total Results received by outcome of storing.\n"
		    "# TYPE anycast_ingest_results_total counter\n"
		    "anycast_ingest_results_total{outcome=\"stored\"} %" PRIu64 "\n"
		    "anycast_ingest_results_total{outcome=\"duplicate\"} %" PRIu64 "\n"
		    "anycast_ingest_results_total{outcome=\"rejected\"} %" PRIu64 "\n",
		m->stored, m->duplicates, m->rejected);
	bprintf(&b, "# HELP anycast_http_responses_total HTTP answers by status code.\n"
		    "# TYPE anycast_http_responses_total counter\n");
	for (int c = 100; c < 600; c++)
		if (m->http_code[c] > 0)
			bprintf(&b, "anycast_http_responses_total{code=\"%d\"} %" PRIu64 "\n", c,
				m->http_code[c]);
	if (in->http != NULL)
		bprintf(&b, "# TYPE anycast_http_requests_total counter\n"
			    "anycast_http_requests_total %" PRIu64 "\n"
			    "# HELP anycast_http_rejected_total Refused by the server: limit (413, 431,"
			    " 429, 503 at the connection cap or body budget), timeout (408, or closed"
			    " before a request), source_limit (503 at the per-source connection cap).\n"
			    "# TYPE anycast_http_rejected_total counter\n"
			    "anycast_http_rejected_total{reason=\"limit\"} %" PRIu64 "\n"
			    "anycast_http_rejected_total{reason=\"timeout\"} %" PRIu64 "\n"
			    "anycast_http_rejected_total{reason=\"source_limit\"} %" PRIu64 "\n"
			    "# TYPE anycast_http_connections gauge\n"
			    "anycast_http_connections %d\n",
			in->http->requests, in->http->rejected_limit, in->http->timeouts,
			in->http->rejected_source, in->http->connections);
	bprintf(&b, "# HELP anycast_events_total Events raised by type.\n"
		    "# TYPE anycast_events_total counter\n");
	for (size_t i = 0; i < N_EVENT_TYPES; i++)
		bprintf(&b, "anycast_events_total{type=\"%s\"} %" PRIu64 "\n", event_types[i],
			m->events[i]);
	bprintf(&b, "# HELP anycast_alert_deliveries_total Alert delivery attempts by result.\n"
		    "# TYPE anycast_alert_deliveries_total counter\n"
		    "anycast_alert_deliveries_total{result=\"ok\"} %" PRIu64 "\n"
		    "anycast_alert_deliveries_total{result=\"failed\"} %" PRIu64 "\n",
		m->deliveries_ok, m->deliveries_failed);
	if (in->alerts != NULL)
		bprintf(&b, "# TYPE anycast_alerts_queued_total counter\n"
			    "anycast_alerts_queued_total %" PRIu64 "\n"
			    "# TYPE anycast_alerts_deduplicated_total counter\n"
			    "anycast_alerts_deduplicated_total %" PRIu64 "\n"
			    "# TYPE anycast_alerts_pending gauge\n"
			    "anycast_alerts_pending %" PRIu64 "\n",
			in->alerts->queued, in->alerts->deduplicated, in->alerts->pending);
	if (in->writer != NULL)
		bprintf(&b, "# TYPE anycast_store_transactions_total counter\n"
			    "anycast_store_transactions_total %" PRIu64 "\n"
			    "# TYPE anycast_store_failed_commits_total counter\n"
			    "anycast_store_failed_commits_total %" PRIu64 "\n"
			    "# TYPE anycast_store_checkpoints_total counter\n"
			    "anycast_store_checkpoints_total %" PRIu64 "\n"
			    "# TYPE anycast_store_commit_seconds_total counter\n"
			    "anycast_store_commit_seconds_total %.6f\n"
			    "# TYPE anycast_store_backlog_results gauge\n"
			    "anycast_store_backlog_results %zu\n",
			in->writer->transactions, in->writer->failed_commits, in->writer->checkpoints,
			(double)in->writer->commit_ns_total / 1e9, in->writer_backlog);
	if (in->store_watched)
		bprintf(&b, "# HELP anycast_store_corrupt_total Reports from SQLite of a damaged"
			    " database (SQLITE_CORRUPT, SQLITE_NOTADB) since start; /healthz answers"
			    " 503 once there is one.\n"
			    "# TYPE anycast_store_corrupt_total counter\n"
			    "anycast_store_corrupt_total %" PRIu64 "\n",
			in->store_corrupt);
	bprintf(&b, "# TYPE anycast_metrics_dropped_series_total counter\n"
		    "anycast_metrics_dropped_series_total %" PRIu64 "\n",
		m->dropped_series);
	if (in->start_ms > 0)
		bprintf(&b, "# TYPE anycast_collector_start_time_seconds gauge\n"
			    "anycast_collector_start_time_seconds %.3f\n",
			(double)in->start_ms / 1000.0);
	render_catchments(in, &b);
	render_series(m, &b);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
