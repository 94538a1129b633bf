/* agent/output.c - standalone output: one JSON line per result, and the
 * human table of `anycast-agent --once`. */
#include "agent/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MAX_ROWS 1024
#define LINE_MAX_LEN 8192

int output_json_line(FILE *f, const struct result *r)
{
	char line[LINE_MAX_LEN];
	int n = result_to_line(r, line, sizeof(line) - 1);

	if (n < 0)
		return -ENOSPC;
	line[n++] = '\n';
	if (fwrite(line, 1, (size_t)n, f) != (size_t)n || fflush(f) != 0)
		return -errno;
	return 0;
}

struct output_table {
	int n;
	struct result rows[TABLE_MAX_ROWS];
};

struct output_table *output_table_new(void)
{
	return calloc(1, sizeof(struct output_table));
}

void output_table_free(struct output_table *t)
{
	free(t);
}

/* How much a record tells about its target. */
static int rank(const struct result *r)
{
	switch (r->outcome) {
	case RESULT_OK:
		return r->identity[0] != '\0' ? 6 : 5;
	case RESULT_AMBIGUOUS:
	case RESULT_UNKNOWN:
		return 4;
	case RESULT_RCODE:
		return 3;
	case RESULT_MALFORMED:
		return 2;
	case RESULT_UNREACHABLE:
		return 1;
	case RESULT_TIMEOUT:
		return 0;
	}
	return 0;
}

void output_table_add(struct output_table *t, const struct result *r)
{
	/* The table shows who answers; answer-integrity checks are in --json. */
	if (r->check[0] != '\0')
		return;
	for (int i = 0; i < t->n; i++) {
		struct result *row = &t->rows[i];

		if (strcmp(row->service, r->service) == 0 && strcmp(row->address, r->address) == 0 &&
		    row->target == r->target) {
			if (rank(r) > rank(row))
				*row = *r;
			return;
		}
	}
	if (t->n < TABLE_MAX_ROWS)
		t->rows[t->n++] = *r;
}

static void print_row(FILE *f, const struct result *r, int first)
{
	char rtt[24], ident[300], state[40];
	const char *svc = first ? r->service : "";

	if (r->rtt_ms >= 0)
		snprintf(rtt, sizeof(rtt), "%.2f ms", r->rtt_ms);
	else
		snprintf(rtt, sizeof(rtt), "-");
	if (r->identity[0] != '\0')
		snprintf(ident, sizeof(ident), "%s (%s)", r->identity, r->identity_source);
	else
		snprintf(ident, sizeof(ident), "-");
	if (r->outcome == RESULT_RCODE)
		snprintf(state, sizeof(state), "rcode %s", r->rcode);
	else if (r->kod[0] != '\0')
		snprintf(state, sizeof(state), "ok (KoD %s)", r->kod);
	else
		snprintf(state, sizeof(state), "%s", result_outcome_name(r->outcome));
	fprintf(f, "%-12s %-10s %-26s %-14s %-11s %-18s %s\n", svc,
		r->target == RESULT_TARGET_ANYCAST ? "anycast" : "management", r->address,
		r->instance[0] ? r->instance : "-", rtt, state, ident);
}

void output_table_print(const struct output_table *t, FILE *f)
{
	fprintf(f, "%-12s %-10s %-26s %-14s %-11s %-18s %s\n", "SERVICE", "TARGET", "ADDRESS",
		"INSTANCE", "RTT", "STATE", "IDENTITY");
	for (int i = 0; i < t->n; i++) {
		int seen = 0;

		for (int j = 0; j < i; j++)
			if (strcmp(t->rows[j].service, t->rows[i].service) == 0)
				seen = 1;
		if (seen)
			continue;
		/* This service's rows: anycast first, then management. */
		for (int pass = 0; pass < 2; pass++) {
			for (int j = i; j < t->n; j++) {
				const struct result *r = &t->rows[j];

				if (strcmp(r->service, t->rows[i].service) != 0 ||
				    (int)r->target != pass)
					continue;
				print_row(f, r, !seen);
				seen = 1;
			}
		}
	}
}
