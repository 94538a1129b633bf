/* collector/api_instances.c - GET /api/v1/instances: each configured
 * instance with the health every agent sees through its management address.
 * With 1,000 agents the answer holds tens of thousands of rows, so it is
 * written as JSON text straight from the database rows (no jansson tree:
 * measured 5-10x faster, see bench/collector/RESULTS.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "collector/api_int.h"

#define ANSWER_MAX (256u << 20)

/* A growing text buffer with a hard maximum. */
struct tbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
tb_add(struct tbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > ANSWER_MAX || (p = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Grow to cap at once (an estimate: tb_add still grows past it if needed). */
static void
tb_reserve(struct tbuf *b, size_t cap)
{
	char *p;

	if (b->failed || cap <= b->cap || cap > ANSWER_MAX || (p = realloc(b->p, cap)) == NULL)
		return;
	b->p = p;
	b->cap = cap;
}

static void
tb_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tb_printf(struct tbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		b->failed = 1;
	else
		tb_add(b, tmp, (size_t)n);
}

/* A JSON string, or null for "". Stored strings came in as JSON, so they
 * are valid UTF-8: only quotes, backslashes and controls need escaping. */
static void
tb_str(struct tbuf *b, const char *s)
{
	const char *run = s;

	if (s[0] == '\0') {
		tb_add(b, "null", 4);
		return;
	}
	tb_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		tb_add(b, run, (size_t)(s - run));
		if (ch == '"' || ch == '\\')
			tb_printf(b, "\\%c", ch);
		else
			tb_printf(b, "\\u%04x", ch);
		run = s + 1;
	}
	tb_add(b, run, (size_t)(s - run));
	tb_add(b, "\"", 1);
}

struct inst_acc {
	struct tbuf agents; /* "{...},{...}" */
	int ok, failed;
};

struct file_ctx {
	const struct inventory *inv;
	const int *base;        /* first acc index of each service */
	struct inst_acc *acc;
	const struct inv_service *s; /* last service looked up */
	int si;
};

static void
file_row(void *arg, const struct store_mgmt_row *r)
{
	struct file_ctx *f = arg;
	const struct inv_instance *in;
	struct inst_acc *a;
	char t[40];

	if (f->s == NULL || strcmp(f->s->name, r->service) != 0) {
		for (f->si = 0; f->si < f->inv->n_services; f->si++)
			if (strcmp(f->inv->services[f->si].name, r->service) == 0)
				break;
		f->s = f->si < f->inv->n_services ? &f->inv->services[f->si] : NULL;
	}
	if (f->s == NULL || (in = inventory_instance_by_management(f->s, r->address)) == NULL)
		return;
	a = &f->acc[f->base[f->si] + (int)(in - f->s->instances)];
	if (strcmp(r->outcome, "ok") == 0)
		a->ok++;
	else
		a->failed++;
	tb_add(&a->agents, a->agents.len ? ",{\"agent\":" : "{\"agent\":", a->agents.len ? 10 : 9);
	tb_str(&a->agents, r->agent);
	tb_add(&a->agents, ",\"address\":", 11);
	tb_str(&a->agents, r->address);
	tb_add(&a->agents, ",\"time\":", 8);
	tb_str(&a->agents, r->time_ms > 0 ? time_format_rfc3339(r->time_ms, t, sizeof(t)) : "");
	tb_add(&a->agents, ",\"outcome\":", 11);
	tb_str(&a->agents, r->outcome);
	tb_add(&a->agents, ",\"rcode\":", 9);
	tb_str(&a->agents, r->rcode);
	if (r->rtt_ms >= 0)
		tb_printf(&a->agents, ",\"rtt_ms\":%.10g", r->rtt_ms);
	else
		tb_add(&a->agents, ",\"rtt_ms\":null", 14);
	tb_add(&a->agents, ",\"identity\":", 12);
	tb_str(&a->agents, r->identity);
	tb_add(&a->agents, "}", 1);
}

/* "checks":[{check, serial, digest, seen, behind_since}] as the collector
 * last saw the instance answer each answer-integrity check on its
 * management address (collector/integrity.c); [] when it has none. */
static void
write_checks(struct tbuf *out, const struct integrity *g, const struct inv_service *s,
	     const struct inv_instance *in)
{
	char digest[65], t[40];
	int has_serial, first = 1;
	uint32_t serial;
	int64_t seen, behind;

	tb_add(out, ",\"checks\":[", 11);
	for (int k = 0; g != NULL && k < s->n_checks; k++) {
		if (!integrity_instance_state(g, s->name, s->checks[k].name, in->name, &has_serial,
					      &serial, digest, &seen, &behind))
			continue;
		tb_add(out, first ? "{\"check\":" : ",{\"check\":", first ? 9 : 10);
		first = 0;
		tb_str(out, s->checks[k].name);
		if (has_serial)
			tb_printf(out, ",\"serial\":%u", serial);
		else
			tb_add(out, ",\"serial\":null", 14);
		tb_add(out, ",\"digest\":", 10);
		tb_str(out, digest);
		tb_add(out, ",\"seen\":", 8);
		tb_str(out, time_format_rfc3339(seen, t, sizeof(t)));
		tb_add(out, ",\"behind_since\":", 16);
		tb_str(out, behind > 0 ? time_format_rfc3339(behind, t, sizeof(t)) : "");
		tb_add(out, "}", 1);
	}
	tb_add(out, "]", 1);
}

static void
write_instance(struct collector *c, struct tbuf *out, const struct inv_service *s,
	       const struct inv_instance *in, const struct inst_acc *a, int with_agents)
{
	char reason[256], when[40];
	int64_t since;

	tb_add(out, "{\"service\":", 11);
	tb_str(out, s->name);
	tb_add(out, ",\"instance\":", 12);
	tb_str(out, in->name);
	tb_add(out, ",\"management\":[", 15);
	for (int m = 0; m < in->n_management; m++) {
		if (m > 0)
			tb_add(out, ",", 1);
		tb_str(out, in->management[m]);
	}
	tb_add(out, "],\"identity\":", 13);
	tb_str(out, in->identity);
	write_checks(out, c->integrity, s, in);
	tb_printf(out, ",\"status\":\"%s\",\"agents_ok\":%d,\"agents_failed\":%d,",
		  a->ok > 0 ? (a->failed ? "partial" : "up") : (a->failed ? "down" : "unknown"),
		  a->ok, a->failed);
	/* "withdrawn": null, or when and why its guard took it out. */
	if (catchment_guard_withdrawn(c->catchment, s->name, in->name, &since, reason,
				      sizeof(reason))) {
		tb_add(out, "\"withdrawn\":{\"since\":", 21);
		tb_str(out, time_format_rfc3339(since, when, sizeof(when)));
		tb_add(out, ",\"reason\":", 10);
		tb_str(out, reason);
		tb_add(out, "},", 2);
	} else {
		tb_add(out, "\"withdrawn\":null,", 17);
	}
	if (!with_agents) {
		tb_add(out, "\"agents\":null}", 14);
		return;
	}
	tb_add(out, "\"agents\":[", 10);
	if (a->agents.len > 0)
		tb_add(out, a->agents.p, a->agents.len);
	tb_add(out, "]}", 2);
}

void
api_get_instances(struct collector *c, struct http_exchange *ex, const struct http_request *req)
{
	char sbuf[RESULT_NAME_MAX * 3], ibuf[RESULT_NAME_MAX * 3], abuf[8];
	const char *service, *instance, *agents;
	const struct inventory *inv = c->inv;
	struct file_ctx f = { .inv = inv };
	struct tbuf out = { 0 };
	int *base, total, limit, n = 0, rc;

	if (api_param(c, ex, req, "service", sbuf, sizeof(sbuf), &service) != 0 ||
	    api_param(c, ex, req, "instance", ibuf, sizeof(ibuf), &instance) != 0 ||
	    api_param(c, ex, req, "agents", abuf, sizeof(abuf), &agents) != 0 ||
	    api_param_limit(c, ex, req, &limit) != 0)
		return;
	/* agents=0: the instances without every agent's view of them (the
	 * dashboard's names and colours need only that) */
	if (agents != NULL && strcmp(agents, "0") != 0 && strcmp(agents, "1") != 0) {
		api_error(c, ex, 400, "agents: must be 0 or 1");
		return;
	}
	if ((base = calloc((size_t)inv->n_services + 1, sizeof(*base))) == NULL) {
		api_error(c, ex, 503, "out of memory");
		return;
	}
	for (int i = 0; i < inv->n_services; i++)
		base[i + 1] = base[i] + inv->services[i].n_instances;
	total = base[inv->n_services];
	if ((f.acc = calloc((size_t)total + 1, sizeof(*f.acc))) == NULL) {
		free(base);
		api_error(c, ex, 503, "out of memory");
		return;
	}
	f.base = base;
	rc = store_each_management(c->reader, file_row, &f);
	{
		/* One allocation for the answer instead of doubling to twice its
		 * size (3 MB with 1,000 agents x 20 instances). */
		size_t need = 64;

		for (int i = 0; i < total; i++)
			need += f.acc[i].agents.len + 1024;
		tb_reserve(&out, need);
	}
	tb_add(&out, "{\"instances\":[", 14);
	for (int i = 0; i < inv->n_services; i++) {
		const struct inv_service *s = &inv->services[i];

		for (int j = 0; j < s->n_instances; j++) {
			if ((service && strcmp(service, s->name) != 0) ||
			    (instance && strcmp(instance, s->instances[j].name) != 0) || n >= limit)
				continue;
			if (n++ > 0)
				tb_add(&out, ",", 1);
			write_instance(c, &out, s, &s->instances[j], &f.acc[base[i] + j],
				       agents == NULL || agents[0] == '1');
			/* copied into out: let it go before the next one grows out */
			free(f.acc[base[i] + j].agents.p);
			f.acc[base[i] + j].agents.p = NULL;
		}
	}
	tb_add(&out, "]}", 2);
	for (int i = 0; i < total; i++) {
		out.failed |= f.acc[i].agents.failed;
		free(f.acc[i].agents.p);
	}
	free(f.acc);
	free(base);
	if (rc != 0)
		api_error(c, ex, 503, "database query failed");
	else if (out.failed)
		api_error(c, ex, 503, "answer too large or out of memory");
	else {
		api_respond_take(c, ex, 200, "application/json", NULL, out.p, out.len);
		out.p = NULL;
	}
	free(out.p);
}
