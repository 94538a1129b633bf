/* agent/guard_config.c - parse the guard's "key value" configuration (see guard_config.h). */
#include "agent/guard_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"
#include "common/timefmt.h"

#define LINE_MAX_LEN 1024
#define FILE_MAX_LEN (64 * 1024)

struct parse {
	struct guard_config *cfg;
	struct guard_service *svc;  /* current "service" block, NULL before the first */
	const char *fname;
	int line;
	char *err;
	size_t errlen;
};

const char *guard_action_name(enum guard_action_kind k)
{
	switch (k) {
	case GUARD_ACTION_BIRD: return "bird";
	case GUARD_ACTION_ADDRESS: return "address";
	case GUARD_ACTION_COMMAND: return "command";
	}
	return "?";
}

__attribute__((format(printf, 2, 3))) static int fail(struct parse *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->fname, p->line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->fname, msg);
	return -1;
}

int guard_argv_split(const char *s, struct guard_argv *out)
{
	memset(out, 0, sizeof(*out));
	while (*s) {
		size_t n = 0;
		int quoted = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (out->argc == GUARD_MAX_ARGV)
			return -1;
		for (; *s && (quoted || (*s != ' ' && *s != '\t')); s++) {
			char c = *s;

			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (c == '\\') {
				if (!s[1])
					return -1;
				c = *++s;
			}
			if (n + 1 >= GUARD_ARG_MAX)
				return -1;
			out->argv[out->argc][n++] = c;
		}
		if (quoted)
			return -1;
		out->argv[out->argc][n] = '\0';
		out->argc++;
	}
	return out->argc > 0 ? 0 : -1;
}

static int copy_str(struct parse *p, const char *key, const char *val, char *dst, size_t dstlen)
{
	size_t n = strlen(val);

	if (n == 0 || n >= dstlen)
		return fail(p, "%s: empty or longer than %zu characters", key, dstlen - 1);
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)val[i]))
			return fail(p, "%s: non-printable character", key);
	memcpy(dst, val, n + 1);
	return 0;
}

static int parse_int(struct parse *p, const char *key, const char *val, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < lo || v > hi)
		return fail(p, "%s: not an integer in %d..%d: %s", key, lo, hi, val);
	*out = (int)v;
	return 0;
}

static int parse_dur(struct parse *p, const char *key, const char *val, int64_t lo, int64_t *out)
{
	int64_t ms;

	if (duration_parse_ms(val, &ms) < 0 || ms < lo || ms > 24LL * 3600 * 1000)
		return fail(p, "%s: not a duration of at least %lld ms (\"500ms\", \"1s\", \"5m\"): %s",
			    key, (long long)lo, val);
	*out = ms;
	return 0;
}

static int parse_addr(struct parse *p, const char *key, const char *val, char *dst)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, val, buf) != 1 && inet_pton(AF_INET6, val, buf) != 1)
		return fail(p, "%s: not an IPv4 or IPv6 address: %s", key, val);
	snprintf(dst, RESULT_ADDR_MAX, "%s", val);
	return 0;
}

static int name_ok(const char *s);

static int copy_val(struct parse *p, const char *key, const char *val, char *dst, size_t len)
{
	if (strlen(val) >= len)
		return fail(p, "%s: longer than %zu characters", key, len - 1);
	snprintf(dst, len, "%s", val);
	return 0;
}

static int copy_name(struct parse *p, const char *key, const char *val, char *dst)
{
	if (!name_ok(val))
		return fail(p, "%s: a name is 1-63 of [A-Za-z0-9._-]: %s", key, val);
	snprintf(dst, RESULT_NAME_MAX, "%s", val);
	return 0;
}

static int global_key(struct parse *p, const char *key, const char *val)
{
	struct guard_config *c = p->cfg;

	if (!strcmp(key, "interval"))
		return parse_dur(p, key, val, 100, &c->interval_ms);
	if (!strcmp(key, "timeout"))
		return parse_dur(p, key, val, 10, &c->timeout_ms);
	if (!strcmp(key, "reassert"))
		return parse_dur(p, key, val, 1000, &c->reassert_ms);
	if (!strcmp(key, "rise"))
		return parse_int(p, key, val, 1, 1000, &c->params.rise);
	if (!strcmp(key, "fall"))
		return parse_int(p, key, val, 1, 1000, &c->params.fall);
	if (!strcmp(key, "hold_down"))
		return parse_dur(p, key, val, 0, &c->params.hold_base_ms);
	if (!strcmp(key, "hold_max"))
		return parse_dur(p, key, val, 0, &c->params.hold_max_ms);
	if (!strcmp(key, "flap_window"))
		return parse_dur(p, key, val, 1000, &c->params.flap_window_ms);
	if (!strcmp(key, "collector"))
		return copy_val(p, key, val, c->collector, sizeof(c->collector));
	if (!strcmp(key, "name"))
		return copy_name(p, key, val, c->agent_name);
	if (!strcmp(key, "instance"))
		return copy_name(p, key, val, c->instance);
	if (!strcmp(key, "token_file"))
		return copy_val(p, key, val, c->token_file, sizeof(c->token_file));
	if (!strcmp(key, "spool"))
		return copy_val(p, key, val, c->spool, sizeof(c->spool));
	if (!strcmp(key, "ca_file"))
		return copy_val(p, key, val, c->ca_file, sizeof(c->ca_file));
	return fail(p, "unknown key %s (before the first \"service\" block)", key);
}

static int parse_action(struct parse *p, const char *val, struct guard_service *s)
{
	if (!strcmp(val, "bird"))
		s->action = GUARD_ACTION_BIRD;
	else if (!strcmp(val, "address"))
		s->action = GUARD_ACTION_ADDRESS;
	else if (!strcmp(val, "command"))
		s->action = GUARD_ACTION_COMMAND;
	else
		return fail(p, "action: bird, address or command, not %s", val);
	return 0;
}

static int parse_query(struct parse *p, const char *val, struct guard_service *s)
{
	char name[256], type[12];

	if (sscanf(val, "%255s %11s", name, type) != 2)
		return fail(p, "query: \"NAME TYPE\", e.g. \"example.lab SOA\"");
	snprintf(s->query_name, sizeof(s->query_name), "%s", name);
	snprintf(s->query_type, sizeof(s->query_type), "%s", type);
	return 0;
}

static int parse_cmd(struct parse *p, const char *key, const char *val, struct guard_argv *dst)
{
	if (guard_argv_split(val, dst) < 0)
		return fail(p, "%s: empty, unbalanced quotes, or more than %d arguments", key,
			    GUARD_MAX_ARGV);
	if (dst->argv[0][0] != '/')
		return fail(p, "%s: the program must be an absolute path: %s", key, dst->argv[0]);
	return 0;
}

static int service_key(struct parse *p, const char *key, const char *val)
{
	struct guard_service *s = p->svc;

	if (!strcmp(key, "protocol")) {
		if (!strcmp(val, "dns"))
			s->protocol = INV_PROTO_DNS;
		else if (!strcmp(val, "ntp"))
			s->protocol = INV_PROTO_NTP;
		else
			return fail(p, "protocol: dns or ntp, not %s", val);
		return 0;
	}
	if (!strcmp(key, "inventory_service"))
		return copy_name(p, key, val, s->report_as);
	if (!strcmp(key, "anycast"))
		return parse_addr(p, key, val, s->anycast);
	if (!strcmp(key, "management"))
		return parse_addr(p, key, val, s->management);
	if (!strcmp(key, "port"))
		return parse_int(p, key, val, 1, 65535, &s->port);
	if (!strcmp(key, "identity"))
		return copy_str(p, key, val, s->identity, sizeof(s->identity));
	if (!strcmp(key, "query"))
		return parse_query(p, val, s);
	if (!strcmp(key, "rcode"))
		return copy_str(p, key, val, s->rcode, sizeof(s->rcode));
	if (!strcmp(key, "action"))
		return parse_action(p, val, s);
	if (!strcmp(key, "bird_socket"))
		return copy_str(p, key, val, s->bird_socket, sizeof(s->bird_socket));
	if (!strcmp(key, "bird_protocol"))
		return copy_str(p, key, val, s->bird_protocol, sizeof(s->bird_protocol));
	if (!strcmp(key, "interface"))
		return copy_str(p, key, val, s->interface, sizeof(s->interface));
	if (!strcmp(key, "prefix_len"))
		return parse_int(p, key, val, 1, 128, &s->prefix_len);
	if (!strcmp(key, "withdraw"))
		return parse_cmd(p, key, val, &s->withdraw);
	if (!strcmp(key, "restore"))
		return parse_cmd(p, key, val, &s->restore);
	if (!strcmp(key, "check"))
		return parse_cmd(p, key, val, &s->check);
	return fail(p, "unknown key %s in service %s", key, s->name);
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= RESULT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

static int start_service(struct parse *p, const char *val)
{
	struct guard_config *c = p->cfg;
	struct guard_service *s;

	if (c->n_services == GUARD_MAX_SERVICES)
		return fail(p, "more than %d services", GUARD_MAX_SERVICES);
	if (!name_ok(val))
		return fail(p, "service: a name is 1-63 of [A-Za-z0-9._-]: %s", val);
	for (int i = 0; i < c->n_services; i++)
		if (!strcmp(c->services[i].name, val))
			return fail(p, "service %s given twice", val);
	s = &c->services[c->n_services++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", val);
	s->action = GUARD_ACTION_BIRD;
	s->protocol = INV_PROTO_DNS;
	snprintf(s->bird_socket, sizeof(s->bird_socket), "/run/bird/bird.ctl");
	p->svc = s;
	return 0;
}

/* One non-empty line without its comment, trimmed. */
static int parse_line(struct parse *p, char *line)
{
	char *key = line, *val;

	val = key + strcspn(key, " \t");
	if (*val) {
		*val++ = '\0';
		val += strspn(val, " \t");
	}
	if (!*val)
		return fail(p, "%s: missing value", key);
	if (!strcmp(key, "service"))
		return start_service(p, val);
	if (!p->svc)
		return global_key(p, key, val);
	return service_key(p, key, val);
}

static int check_service(struct parse *p, const struct guard_service *s)
{
	int v6 = strchr(s->anycast, ':') != NULL;

	if (!s->anycast[0])
		return fail(p, "service %s: anycast address missing", s->name);
	if (s->protocol == INV_PROTO_NTP && (s->query_name[0] || s->identity[0]))
		return fail(p, "service %s: query and identity are DNS-only", s->name);
	if (s->rcode[0] && !s->query_name[0])
		return fail(p, "service %s: rcode needs a query", s->name);
	switch (s->action) {
	case GUARD_ACTION_BIRD:
		if (!s->bird_protocol[0])
			return fail(p, "service %s: action bird needs bird_protocol", s->name);
		break;
	case GUARD_ACTION_ADDRESS:
		if (!s->interface[0])
			return fail(p, "service %s: action address needs interface", s->name);
		if (s->prefix_len && s->prefix_len != (v6 ? 128 : 32))
			return fail(p, "service %s: prefix_len %d: the guard handles only a host route (/32 or /128)", s->name, s->prefix_len);
		break;
	case GUARD_ACTION_COMMAND:
		if (!s->withdraw.argc || !s->restore.argc)
			return fail(p, "service %s: action command needs withdraw and restore", s->name);
		break;
	}
	return 0;
}

static void set_defaults(struct guard_config *c)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = 1000;
	c->timeout_ms = 500;
	c->reassert_ms = 10000;
	guard_params_default(&c->params);
	/* The first withdrawal within the window is not damped; keep the window
	 * and the cap consistent with the defaults of guard_state. */
}

static void fill_service_defaults(struct guard_service *s)
{
	if (!s->port)
		s->port = s->protocol == INV_PROTO_NTP ? 123 : 53;
	if (!s->prefix_len)
		s->prefix_len = strchr(s->anycast, ':') ? 128 : 32;
	if (!s->rcode[0])
		snprintf(s->rcode, sizeof(s->rcode), "NOERROR");
	if (!s->report_as[0])
		snprintf(s->report_as, sizeof(s->report_as), "%s", s->name);
}

int guard_config_parse(const char *text, size_t len, const char *fname, struct guard_config *cfg,
		       char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg, .fname = fname ? fname : "-", .err = err, .errlen = errlen };
	size_t pos = 0;

	set_defaults(cfg);
	while (pos < len) {
		char line[LINE_MAX_LEN];
		size_t n = 0, end;
		char *s, *e;

		p.line++;
		for (end = pos; end < len && text[end] != '\n'; end++) {
			if (text[end] == '\0')
				return fail(&p, "NUL byte");
			if (n + 1 >= sizeof(line))
				return fail(&p, "line longer than %d characters", LINE_MAX_LEN - 1);
			line[n++] = text[end];
		}
		pos = end + 1;
		line[n] = '\0';
		line[strcspn(line, "#")] = '\0';
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (*s && parse_line(&p, s) < 0)
			return -1;
	}
	p.line = 0;
	if (cfg->n_services == 0)
		return fail(&p, "no service block");
	if (cfg->params.hold_max_ms < cfg->params.hold_base_ms)
		return fail(&p, "hold_max shorter than hold_down");
	if (cfg->timeout_ms >= cfg->interval_ms)
		return fail(&p, "timeout must be shorter than interval");
	if (cfg->collector[0] && (!cfg->agent_name[0] || !cfg->instance[0] ||
				  !cfg->token_file[0] || !cfg->spool[0]))
		return fail(&p, "collector needs name, instance, token_file and spool");
	if (cfg->collector[0] && strncmp(cfg->collector, "http://", 7) &&
	    strncmp(cfg->collector, "https://", 8))
		return fail(&p, "collector: not an http:// or https:// URL: %s", cfg->collector);
	for (int i = 0; i < cfg->n_services; i++) {
		if (check_service(&p, &cfg->services[i]) < 0)
			return -1;
		fill_service_defaults(&cfg->services[i]);
	}
	return 0;
}

int guard_config_load(const char *path, struct guard_config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	set_defaults(cfg);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(FILE_MAX_LEN + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(buf, 1, FILE_MAX_LEN + 1, f);
	fclose(f);
	if (n > FILE_MAX_LEN) {
		free(buf);
		snprintf(err, errlen, "%s: larger than %d bytes", path, FILE_MAX_LEN);
		return -1;
	}
	rc = guard_config_parse(buf, n, path, cfg, err, errlen);
	free(buf);
	return rc;
}
