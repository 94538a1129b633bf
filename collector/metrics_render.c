/* collector/metrics_render.c - the Prometheus text exposition (format
 * 0.0.4) of collector/metrics.c's state and of the inputs read at render
 * time: every family with HELP and TYPE, base units, counters ending in
 * _total, each series once. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/metrics_impl.h"

#define RENDER_MAX (512u << 20)
#define ESC_MAX (2 * RESULT_NAME_MAX)
/* agent, service, family, target, anycast_instance: escaped values + names */
#define LABELS_MAX (4 * ESC_MAX + 96)

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

/* # HELP and # TYPE lines of one family. */
static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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

static const char *
target_name(int target)
{
	return target == RESULT_TARGET_MANAGEMENT ? "management" : "anycast";
}

/* agent="..",service="..",family="4",target="..",anycast_instance=".." */
static const char *
labels(const struct series *s, const char *instance, char *out, size_t outlen)
{
	char ea[ESC_MAX], es[ESC_MAX], ei[ESC_MAX];

	snprintf(out, outlen,
		 "agent=\"%s\",service=\"%s\",family=\"%d\",target=\"%s\",anycast_instance=\"%s\"",
		 esc(s->agent, ea, sizeof(ea)), esc(s->service, es, sizeof(es)), s->family,
		 target_name(s->target), esc(instance, ei, sizeof(ei)));
	return out;
}

static void
render_results(const struct metrics *m, struct buf *b)
{
	char l[LABELS_MAX];

	family(b, "anycast_rtt_seconds", "histogram",
	       "Round-trip time of answered probes, per agent, service, family, target and"
	       " answering instance.");
	for (size_t i = 0; i < m->n_slots; i++) {
		for (const struct series *s = m->table[i]; s != NULL; s = s->next) {
			uint64_t cum = 0;

			if (s->kind != SERIES_RESULTS)
				continue;
			labels(s, s->instance, l, sizeof(l));
			for (int k = 0; k < METRICS_N_BUCKETS; k++) {
				cum += s->buckets[k];
				bprintf(b, "anycast_rtt_seconds_bucket{%s,le=\"%g\"} %" PRIu64 "\n", l,
					metrics_rtt_bounds_ms[k] / 1000.0, cum);
			}
			bprintf(b,
				"anycast_rtt_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n"
				"anycast_rtt_seconds_sum{%s} %.6f\n"
				"anycast_rtt_seconds_count{%s} %" PRIu64 "\n",
				l, s->count, l, s->sum_ms / 1000.0, l, s->count);
		}
	}
	family(b, "anycast_results_total", "counter",
	       "Stored results by outcome, per agent, service, family, target and answering"
	       " instance (\"\" when none of the inventory's answered).");
	for (size_t i = 0; i < m->n_slots; i++) {
		for (const struct series *s = m->table[i]; s != NULL; s = s->next) {
			if (s->kind != SERIES_RESULTS)
				continue;
			labels(s, s->instance, l, sizeof(l));
			for (int o = 0; o < METRICS_N_OUTCOMES; o++)
				if (s->outcomes[o] > 0)
					bprintf(b, "anycast_results_total{%s,outcome=\"%s\"} %" PRIu64 "\n",
						l, result_outcome_name((enum result_outcome)o),
						s->outcomes[o]);
		}
	}
}

static void
render_probes(const struct metrics *m, struct buf *b)
{
	static const char *const names[] = { "anycast_probe_success",
					      "anycast_result_last_timestamp_seconds" };
	static const char *const helps[] = {
		"1 when the newest result for this agent, service, family and target got an"
		" answer (outcome ok, ambiguous or unknown), else 0. anycast_instance: the"
		" instance that answered it (anycast) or owns the address (management).",
		"Send time of the newest stored result, with the labels of anycast_probe_success."
	};
	char l[LABELS_MAX];

	for (int f = 0; f < 2; f++) {
		family(b, names[f], "gauge", helps[f]);
		for (size_t i = 0; i < m->n_slots; i++) {
			for (const struct series *s = m->table[i]; s != NULL; s = s->next) {
				if (s->kind != SERIES_PROBE)
					continue;
				labels(s, s->shown, l, sizeof(l));
				if (f == 0)
					bprintf(b, "%s{%s} %d\n", names[f], l, s->success);
				else
					bprintf(b, "%s{%s} %.3f\n", names[f], l,
						(double)s->last_ms / 1000.0);
			}
		}
	}
}

/* Every agent of the inventory, 0 for one never heard of. */
static void
render_agents(const struct metrics *m, struct buf *b)
{
	char ea[ESC_MAX];

	family(b, "anycast_agent_last_seen_timestamp_seconds", "gauge",
	       "Last report received from each agent of the inventory (kept in the database"
	       " across restarts; 0: never).");
	for (int i = 0; m->inv != NULL && i < m->inv->n_agents; i++) {
		const char *name = m->inv->agents[i].name;
		const struct series *s = metrics_find(m, SERIES_AGENT, name, "", 0, 0, "");

		bprintf(b, "anycast_agent_last_seen_timestamp_seconds{agent=\"%s\"} %.3f\n",
			esc(name, ea, sizeof(ea)), s != NULL ? (double)s->last_ms / 1000.0 : 0.0);
	}
}

static int
row_known(const struct inventory *inv, const struct catchment_row *r)
{
	if (inv == NULL || inventory_find_service(inv, r->service) == NULL)
		return 0;
	return inventory_find_agent(inv, r->agent) != NULL;
}

static void
render_catchments(const struct metrics *m, const struct metrics_inputs *in, struct buf *b)
{
	char ea[ESC_MAX], es[ESC_MAX], ei[ESC_MAX], st[ESC_MAX];

	family(b, "anycast_catchment_info", "gauge",
	       "The instance each agent reaches, per service and family, with the catchment's"
	       " status (ok, outage, unknown_instance, split).");
	for (size_t i = 0; i < in->n_rows; i++) {
		const struct catchment_row *r = &in->rows[i];

		if (!row_known(m->inv, r))
			continue;
		bprintf(b,
			"anycast_catchment_info{agent=\"%s\",service=\"%s\",family=\"%d\","
			"anycast_instance=\"%s\",status=\"%s\"} 1\n",
			esc(r->agent, ea, sizeof(ea)), esc(r->service, es, sizeof(es)), r->family,
			esc(metrics_instance_label(m->inv, r->service, r->instance), ei, sizeof(ei)),
			esc(r->status, st, sizeof(st)));
	}
	family(b, "anycast_catchment_last_seen_timestamp_seconds", "gauge",
	       "Last answer seen from the anycast address, per agent, service and family.");
	for (size_t i = 0; i < in->n_rows; i++) {
		const struct catchment_row *r = &in->rows[i];

		if (!row_known(m->inv, r))
			continue;
		bprintf(b,
			"anycast_catchment_last_seen_timestamp_seconds{agent=\"%s\",service=\"%s\","
			"family=\"%d\"} %.3f\n",
			esc(r->agent, ea, sizeof(ea)), esc(r->service, es, sizeof(es)), r->family,
			(double)r->last_seen_ms / 1000.0);
	}
}

static void
render_process(const struct metrics *m, const struct metrics_inputs *in, struct buf *b)
{
	const struct metrics_process *p = in->process;

	family(b, "anycast_build_info", "gauge", "Always 1; the collector's version as a label.");
	bprintf(b, "anycast_build_info{version=\"%s\"} 1\n", ANYCAST_VERSION);
	if (in->start_ms > 0) {
		family(b, "anycast_collector_start_time_seconds", "gauge",
		       "When the collector started (Unix time).");
		bprintf(b, "anycast_collector_start_time_seconds %.3f\n",
			(double)in->start_ms / 1000.0);
	}
	if (in->role != NULL) {
		family(b, "anycast_collector_leader", "gauge",
		       "1 when this collector is the leader (classifies catchments, runs incidents"
		       " and alerts), 0 when a follower.");
		bprintf(b, "anycast_collector_leader %d\n", in->role->leader);
		family(b, "anycast_collector_role_changes_total", "counter",
		       "Times this collector became leader or stepped down.");
		bprintf(b, "anycast_collector_role_changes_total %llu\n",
			(unsigned long long)in->role->changes);
		family(b, "anycast_collector_feed_results_total", "counter",
		       "Results another collector stored that this one classified as leader.");
		bprintf(b, "anycast_collector_feed_results_total %llu\n",
			(unsigned long long)in->role->feed_results);
	}
	family(b, "anycast_config_last_reload_successful", "gauge",
	       "1 when the last load of the inventory (start or SIGHUP) succeeded, else 0.");
	bprintf(b, "anycast_config_last_reload_successful %d\n", m->reload_ok);
	family(b, "anycast_config_last_reload_success_timestamp_seconds", "gauge",
	       "When the inventory was last loaded successfully (Unix time).");
	bprintf(b, "anycast_config_last_reload_success_timestamp_seconds %.3f\n",
		(double)m->reload_ok_ms / 1000.0);
	if (p == NULL)
		return;
	family(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	bprintf(b, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
	family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	bprintf(b, "process_resident_memory_bytes %" PRIu64 "\n", p->resident_bytes);
	family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	bprintf(b, "process_virtual_memory_bytes %" PRIu64 "\n", p->virtual_bytes);
	family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	bprintf(b, "process_open_fds %" PRId64 "\n", p->open_fds);
	family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
	if (p->max_fds < 0)
		bprintf(b, "process_max_fds +Inf\n");
	else
		bprintf(b, "process_max_fds %" PRId64 "\n", p->max_fds);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	bprintf(b, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}

static void
render_http(const struct metrics *m, const struct metrics_inputs *in, struct buf *b)
{
	const struct http_server_stats *h = in->http;

	family(b, "anycast_http_responses_total", "counter", "HTTP answers by status code.");
	for (int c = 100; c < 600; c++)
		if (m->http_code[c] > 0)
			bprintf(b, "anycast_http_responses_total{code=\"%d\"} %" PRIu64 "\n", c,
				m->http_code[c]);
	if (h == NULL)
		return;
	family(b, "anycast_http_requests_total", "counter",
	       "Complete HTTP requests parsed, rate-limited ones included.");
	bprintf(b, "anycast_http_requests_total %" PRIu64 "\n", h->requests);
	family(b, "anycast_http_rejected_total", "counter",
	       "Refused by the server: limit (413, 431, 429, 503 at the connection cap or body"
	       " budget), timeout (408, or closed before a request), source_limit (503 at the"
	       " per-source connection cap).");
	bprintf(b,
		"anycast_http_rejected_total{reason=\"limit\"} %" PRIu64 "\n"
		"anycast_http_rejected_total{reason=\"timeout\"} %" PRIu64 "\n"
		"anycast_http_rejected_total{reason=\"source_limit\"} %" PRIu64 "\n",
		h->rejected_limit, h->timeouts, h->rejected_source);
	family(b, "anycast_http_connections", "gauge", "HTTP connections open now.");
	bprintf(b, "anycast_http_connections %d\n", h->connections);
}

static void
render_stream(const struct sse_stats *st, struct buf *b)
{
	family(b, "anycast_stream_clients", "gauge", "Event stream (/api/v1/stream) clients now.");
	bprintf(b, "anycast_stream_clients %d\n", st->clients);
	family(b, "anycast_stream_messages_total", "counter", "Event stream messages broadcast.");
	bprintf(b, "anycast_stream_messages_total %" PRIu64 "\n", st->messages);
	family(b, "anycast_stream_replayed_total", "counter",
	       "Messages sent again to clients that reconnected with Last-Event-ID.");
	bprintf(b, "anycast_stream_replayed_total %" PRIu64 "\n", st->replayed);
	family(b, "anycast_stream_resets_total", "counter",
	       "Reconnects told to refetch: their Last-Event-ID was older than the buffer, or"
	       " unknown.");
	bprintf(b, "anycast_stream_resets_total %" PRIu64 "\n", st->resets);
	family(b, "anycast_stream_lagging_total", "counter",
	       "Streams ended because the client did not keep up (it reconnects and catches up).");
	bprintf(b, "anycast_stream_lagging_total %" PRIu64 "\n", st->lagging);
}

static void
render_store(const struct metrics_inputs *in, struct buf *b)
{
	const struct store_writer_stats *w = in->writer;

	if (w != NULL) {
		family(b, "anycast_store_transactions_total", "counter",
		       "Transactions committed by the database writer.");
		bprintf(b, "anycast_store_transactions_total %" PRIu64 "\n", w->transactions);
		family(b, "anycast_store_failed_commits_total", "counter",
		       "Transactions whose COMMIT failed.");
		bprintf(b, "anycast_store_failed_commits_total %" PRIu64 "\n", w->failed_commits);
		family(b, "anycast_store_checkpoints_total", "counter", "WAL checkpoints run.");
		bprintf(b, "anycast_store_checkpoints_total %" PRIu64 "\n", w->checkpoints);
		family(b, "anycast_store_retention_rows_total", "counter",
		       "Rows deleted by retention.");
		bprintf(b, "anycast_store_retention_rows_total %" PRIu64 "\n", w->retention_rows);
		family(b, "anycast_store_retention_behind", "gauge",
		       "1 while retention still has old rows to delete.");
		bprintf(b, "anycast_store_retention_behind %d\n", w->retention_behind);
		family(b, "anycast_store_vacuum_pages_total", "counter",
		       "Database pages given back to the file system by incremental vacuum.");
		bprintf(b, "anycast_store_vacuum_pages_total %" PRIu64 "\n", w->vacuum_pages);
		family(b, "anycast_store_wal_truncations_total", "counter",
		       "TRUNCATE checkpoints that emptied the WAL file while ingest was idle.");
		bprintf(b, "anycast_store_wal_truncations_total %" PRIu64 "\n", w->wal_truncates);
		family(b, "anycast_store_upkeep_seconds_total", "counter",
		       "Writer time spent in retention, vacuum and WAL truncation.");
		bprintf(b, "anycast_store_upkeep_seconds_total %.6f\n",
			(double)w->upkeep_ns_total / 1e9);
		family(b, "anycast_store_commit_seconds_total", "counter",
		       "Time spent inside COMMIT (fsync included).");
		bprintf(b, "anycast_store_commit_seconds_total %.6f\n",
			(double)w->commit_ns_total / 1e9);
		family(b, "anycast_store_backlog_results", "gauge",
		       "Results waiting for the database writer.");
		bprintf(b, "anycast_store_backlog_results %zu\n", in->writer_backlog);
	}
	if (in->store_watched) {
		family(b, "anycast_store_corrupt_total", "counter",
		       "Reports from SQLite of a damaged database (SQLITE_CORRUPT, SQLITE_NOTADB)"
		       " since start; /healthz answers 503 once there is one.");
		bprintf(b, "anycast_store_corrupt_total %" PRIu64 "\n", in->store_corrupt);
	}
}

static void
render_counters(const struct metrics *m, const struct metrics_inputs *in, struct buf *b)
{
	family(b, "anycast_ingest_results_total", "counter",
	       "Results received by outcome of storing.");
	bprintf(b,
		"anycast_ingest_results_total{outcome=\"stored\"} %" PRIu64 "\n"
		"anycast_ingest_results_total{outcome=\"duplicate\"} %" PRIu64 "\n"
		"anycast_ingest_results_total{outcome=\"rejected\"} %" PRIu64 "\n"
		"anycast_ingest_results_total{outcome=\"unconfigured\"} %" PRIu64 "\n",
		m->stored, m->duplicates, m->rejected, m->unconfigured);
	render_http(m, in, b);
	family(b, "anycast_events_total", "counter", "Events raised by type.");
	for (size_t i = 0; i < METRICS_N_EVENT_TYPES; i++)
		bprintf(b, "anycast_events_total{type=\"%s\"} %" PRIu64 "\n",
			metrics_event_types[i], m->events[i]);
	family(b, "anycast_alert_deliveries_total", "counter",
	       "Alert delivery attempts by result.");
	bprintf(b,
		"anycast_alert_deliveries_total{result=\"ok\"} %" PRIu64 "\n"
		"anycast_alert_deliveries_total{result=\"failed\"} %" PRIu64 "\n",
		m->deliveries_ok, m->deliveries_failed);
	if (in->alerts != NULL) {
		family(b, "anycast_alerts_queued_total", "counter", "Alerts queued for delivery.");
		bprintf(b, "anycast_alerts_queued_total %" PRIu64 "\n", in->alerts->queued);
		family(b, "anycast_alerts_deduplicated_total", "counter",
		       "Alerts not sent again: their incident was already firing on that route.");
		bprintf(b, "anycast_alerts_deduplicated_total %" PRIu64 "\n",
			in->alerts->deduplicated);
		family(b, "anycast_alerts_pending", "gauge", "Alerts waiting for delivery now.");
		bprintf(b, "anycast_alerts_pending %" PRIu64 "\n", in->alerts->pending);
	}
	render_store(in, b);
	if (in->stream != NULL)
		render_stream(in->stream, b);
	family(b, "anycast_metrics_dropped_series_total", "counter",
	       "Results not in the metrics because the series table was full.");
	bprintf(b, "anycast_metrics_dropped_series_total %" PRIu64 "\n", m->dropped_series);
	family(b, "anycast_metrics_ignored_results_total", "counter",
	       "Stored results not in the metrics: their agent or service is not in the"
	       " inventory.");
	bprintf(b, "anycast_metrics_ignored_results_total %" PRIu64 "\n", m->ignored_results);
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
	render_process(m, in, &b);
	render_counters(m, in, &b);
	render_catchments(m, in, &b);
	render_agents(m, &b);
	render_probes(m, &b);
	render_results(m, &b);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
