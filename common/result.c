/* common/result.c - the probe result record as JSON: a fast line encoder for the
 * agent's hot path, a jansson encoder, and a validating decoder for ingest. */
#include "common/result.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"

/* RTTs and NTP offsets beyond a day are nonsense; reject them at ingest. */
#define RESULT_MS_LIMIT 86400000.0
/* An NTP clock offset can be up to half an era (68 years) off. */
#define RESULT_OFFSET_LIMIT 3e12

static const char *const outcome_names[] = {
    [RESULT_OK] = "ok",
    [RESULT_TIMEOUT] = "timeout",
    [RESULT_UNREACHABLE] = "unreachable",
    [RESULT_RCODE] = "rcode",
    [RESULT_MALFORMED] = "malformed",
    [RESULT_AMBIGUOUS] = "ambiguous",
    [RESULT_UNKNOWN] = "unknown",
};
#define N_OUTCOMES ((int)(sizeof(outcome_names) / sizeof(outcome_names[0])))

static const char *const identity_sources[] = {"nsid", "id.server", "hostname.bind",
                                               "ntp-fingerprint"};

const char *result_outcome_name(enum result_outcome o)
{
	if ((int)o < 0 || (int)o >= N_OUTCOMES)
		return "unknown";
	return outcome_names[o];
}

int result_outcome_parse(const char *name, enum result_outcome *o)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < N_OUTCOMES; i++) {
		if (strcmp(name, outcome_names[i]) == 0) {
			*o = (enum result_outcome)i;
			return 0;
		}
	}
	return -1;
}

static const char *target_name(enum result_target t)
{
	return t == RESULT_TARGET_MANAGEMENT ? "management" : "anycast";
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s starts an
 * invalid one (overlong forms, surrogates and code points > U+10FFFF included). */
static int utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Output cursor for result_to_line: every append checks the room left. */
struct out {
	char *p;
	char *end;
	int overflow;
};

static void out_raw(struct out *o, const char *s, size_t n)
{
	if (o->overflow || (size_t)(o->end - o->p) <= n) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void out_str(struct out *o, const char *s)
{
	out_raw(o, s, strlen(s));
}

static void out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p, (size_t)(o->end - o->p), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= o->end - o->p)
		o->overflow = 1;
	else
		o->p += n;
}

/* A JSON string literal, or null for "". Invalid UTF-8 becomes U+FFFD so the
 * line stays valid JSON whatever a server put in its identity. */
static void out_jstr(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;

	if (*s == '\0') {
		out_raw(o, "null", 4);
		return;
	}
	out_raw(o, "\"", 1);
	while (*u && !o->overflow) {
		const unsigned char *run = u;
		/* copy plain ASCII in one go: the common case */
		while (*u >= 0x20 && *u < 0x80 && *u != '"' && *u != '\\')
			u++;
		if (u > run)
			out_raw(o, (const char *)run, (size_t)(u - run));
		if (*u == '\0')
			break;
		if (*u == '"' || *u == '\\') {
			char esc[2] = {'\\', (char)*u};
			out_raw(o, esc, 2);
			u++;
		} else if (*u == '\n' || *u == '\r' || *u == '\t') {
			char esc[2] = {'\\', *u == '\n' ? 'n' : *u == '\r' ? 'r' : 't'};
			out_raw(o, esc, 2);
			u++;
		} else if (*u < 0x20) {
			char esc[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};
			out_raw(o, esc, 6);
			u++;
		} else {
			int n = utf8_seq_len(u);
			if (n == 0) {
				out_raw(o, "\\ufffd", 6);
				u++;
			} else {
				out_raw(o, (const char *)u, (size_t)n);
				u += n;
			}
		}
	}
	out_raw(o, "\"", 1);
}

/* Decimal digits by hand: snprintf dominated the encoder's profile. */
static void out_u64(struct out *o, uint64_t v)
{
	char d[20];
	int i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	out_raw(o, d + i, sizeof(d) - (size_t)i);
}

static void out_int(struct out *o, int64_t v)
{
	if (v < 0) {
		out_raw(o, "-", 1);
		out_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		out_u64(o, (uint64_t)v);
	}
}

/* x rounded to the nearest integer, halves away from zero: round() without
 * libm, which the agent would otherwise map for this alone (~0.3 MB RSS).
 * Exact: below 2^52 the fraction x - trunc(x) is representable, and from
 * 2^52 on every double is an integer. */
static double round_half_away(double x)
{
	if (!(fabs(x) < 4503599627370496.0)) /* 2^52; also NaN and infinities */
		return x;
	double t = (double)(int64_t)x;
	if (x - t >= 0.5)
		t += 1.0;
	else if (x - t <= -0.5)
		t -= 1.0;
	return t;
}

/* Milliseconds with three decimals (microseconds): rounds to the nearest
 * microsecond, so decoding and re-encoding gives the same text. */
static void out_ms(struct out *o, double v)
{
	if (!isfinite(v)) {
		out_raw(o, "null", 4);
		return;
	}
	if (fabs(v) >= 1e15) {
		out_fmt(o, "%.3f", v);
		return;
	}
	int64_t us = (int64_t)round_half_away(v * 1000.0);
	uint64_t a = us < 0 ? (uint64_t)-us : (uint64_t)us;
	char frac[4] = {(char)('0' + a / 100 % 10), (char)('0' + a / 10 % 10), (char)('0' + a % 10),
	                '\0'};
	if (us < 0)
		out_raw(o, "-", 1);
	out_u64(o, a / 1000);
	out_raw(o, ".", 1);
	out_raw(o, frac, 3);
}

int result_to_line(const struct result *r, char *buf, size_t buflen)
{
	struct out o = {buf, buf + buflen, 0};
	char ts[32];

	if (buflen == 0)
		return -1;
	out_str(&o, "{\"seq\":");
	out_u64(&o, r->seq);
	out_str(&o, ",\"round\":");
	out_u64(&o, r->round);
	out_str(&o, ",\"time\":\"");
	out_str(&o, time_format_rfc3339(r->time_ms, ts, sizeof(ts)));
	out_str(&o, "\",");
	if (r->agent[0]) {
		out_str(&o, "\"agent\":");
		out_jstr(&o, r->agent);
		out_raw(&o, ",", 1);
	}
	out_str(&o, "\"service\":");
	out_jstr(&o, r->service);
	out_str(&o, ",\"address\":");
	out_jstr(&o, r->address);
	out_str(&o, ",\"family\":");
	out_int(&o, r->family);
	out_str(&o, r->target == RESULT_TARGET_MANAGEMENT
	                ? ",\"target\":\"management\",\"instance\":"
	                : ",\"target\":\"anycast\",\"instance\":");
	out_jstr(&o, r->instance);
	out_str(&o, ",\"identity\":");
	out_jstr(&o, r->identity);
	out_str(&o, ",\"identity_source\":");
	out_jstr(&o, r->identity_source);
	out_str(&o, ",\"query\":");
	out_jstr(&o, r->query);
	out_str(&o, ",\"transport\":");
	out_jstr(&o, r->transport);
	out_str(&o, ",\"outcome\":\"");
	out_str(&o, result_outcome_name(r->outcome));
	out_str(&o, "\",\"rcode\":");
	out_jstr(&o, r->rcode);
	out_str(&o, ",\"rtt_ms\":");
	if (r->rtt_ms < 0)
		out_raw(&o, "null", 4);
	else
		out_ms(&o, r->rtt_ms);
	if (r->has_ntp) {
		out_str(&o, ",\"stratum\":");
		out_int(&o, r->stratum);
		out_str(&o, ",\"leap\":");
		out_int(&o, r->leap);
		out_str(&o, ",\"refid\":");
		out_jstr(&o, r->refid);
		out_str(&o, ",\"reference_time\":\"");
		out_str(&o, time_format_rfc3339(r->reference_time_ms, ts, sizeof(ts)));
		out_str(&o, "\",\"offset_ms\":");
		out_ms(&o, r->offset_ms);
		out_str(&o, ",\"root_delay_ms\":");
		out_ms(&o, r->root_delay_ms);
		out_str(&o, ",\"root_dispersion_ms\":");
		out_ms(&o, r->root_dispersion_ms);
		out_str(&o, ",\"kod\":");
		out_jstr(&o, r->kod);
	}
	out_raw(&o, "}", 1);
	if (o.overflow)
		return -1;
	*o.p = '\0';
	return (int)(o.p - buf);
}

/* A JSON string for s (valid UTF-8 guaranteed), or null for "". */
static json_t *jstr_or_null(const char *s)
{
	char clean[RESULT_IDENTITY_MAX * 3];
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;

	if (*s == '\0')
		return json_null();
	while (*u && n + 4 < sizeof(clean)) {
		int len = utf8_seq_len(u);
		if (len == 0) {
			memcpy(clean + n, "\xef\xbf\xbd", 3);
			n += 3;
			u++;
		} else {
			memcpy(clean + n, u, (size_t)len);
			n += (size_t)len;
			u += len;
		}
	}
	return json_stringn(clean, n);
}

static json_t *jms(double v)
{
	if (!isfinite(v))
		return json_null();
	return json_real(round_half_away(v * 1000.0) / 1000.0);
}

json_t *result_to_json(const struct result *r)
{
	json_t *o = json_object();
	char ts[32];

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
	json_object_set_new(o, "round", json_integer((json_int_t)r->round));
	json_object_set_new(o, "time",
	                    json_string(time_format_rfc3339(r->time_ms, ts, sizeof(ts))));
	if (r->agent[0])
		json_object_set_new(o, "agent", jstr_or_null(r->agent));
	json_object_set_new(o, "service", jstr_or_null(r->service));
	json_object_set_new(o, "address", jstr_or_null(r->address));
	json_object_set_new(o, "family", json_integer(r->family));
	json_object_set_new(o, "target", json_string(target_name(r->target)));
	json_object_set_new(o, "instance", jstr_or_null(r->instance));
	json_object_set_new(o, "identity", jstr_or_null(r->identity));
	json_object_set_new(o, "identity_source", jstr_or_null(r->identity_source));
	json_object_set_new(o, "query", jstr_or_null(r->query));
	json_object_set_new(o, "transport", jstr_or_null(r->transport));
	json_object_set_new(o, "outcome", json_string(result_outcome_name(r->outcome)));
	json_object_set_new(o, "rcode", jstr_or_null(r->rcode));
	json_object_set_new(o, "rtt_ms", r->rtt_ms < 0 ? json_null() : jms(r->rtt_ms));
	if (r->has_ntp) {
		json_object_set_new(o, "stratum", json_integer(r->stratum));
		json_object_set_new(o, "leap", json_integer(r->leap));
		json_object_set_new(o, "refid", jstr_or_null(r->refid));
		json_object_set_new(
		    o, "reference_time",
		    json_string(time_format_rfc3339(r->reference_time_ms, ts, sizeof(ts))));
		json_object_set_new(o, "offset_ms", jms(r->offset_ms));
		json_object_set_new(o, "root_delay_ms", jms(r->root_delay_ms));
		json_object_set_new(o, "root_dispersion_ms", jms(r->root_dispersion_ms));
		json_object_set_new(o, "kod", jstr_or_null(r->kod));
	}
	return o;
}

/* ---- decoding ---- */

static int fail(char *err, size_t errlen, const char *field, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", field, why);
	return -1;
}

/* Copies a string field into dst (size dstlen). required: absent/null is an
 * error; otherwise absent/null gives "". Over-long strings are errors. */
static int get_str(const json_t *obj, const char *key, char *dst, size_t dstlen, int required,
                   char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	size_t n;

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return required ? fail(err, errlen, key, "missing") : 0;
	if (!json_is_string(v))
		return fail(err, errlen, key, "must be a string");
	n = json_string_length(v);
	if (n >= dstlen)
		return fail(err, errlen, key, "too long");
	if (memchr(json_string_value(v), '\0', n) != NULL)
		return fail(err, errlen, key, "contains NUL");
	if (required && n == 0)
		return fail(err, errlen, key, "empty");
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

/* Integer field in [lo, hi]; absent gives def unless required. */
static int get_int(const json_t *obj, const char *key, json_int_t lo, json_int_t hi, json_int_t def,
                   int required, json_int_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	char why[96];

	if (v == NULL || json_is_null(v)) {
		if (required)
			return fail(err, errlen, key, "missing");
		*out = def;
		return 0;
	}
	if (!json_is_integer(v))
		return fail(err, errlen, key, "must be an integer");
	if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(why, sizeof(why), "out of range [%lld, %lld]", (long long)lo,
		         (long long)hi);
		return fail(err, errlen, key, why);
	}
	*out = json_integer_value(v);
	return 0;
}

/* Number (integer or real) in [lo, hi]; absent/null gives null_value. */
static int get_num(const json_t *obj, const char *key, double lo, double hi, double null_value,
                   double *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v)) {
		*out = null_value;
		return 0;
	}
	if (!json_is_number(v))
		return fail(err, errlen, key, "must be a number");
	double d = json_number_value(v);
	if (!isfinite(d) || d < lo || d > hi)
		return fail(err, errlen, key, "out of range");
	*out = d;
	return 0;
}

static int get_time(const json_t *obj, const char *key, int required, int64_t *out, char *err,
                    size_t errlen)
{
	char s[64];

	if (get_str(obj, key, s, sizeof(s), required, err, errlen) < 0)
		return -1;
	if (s[0] == '\0') {
		*out = 0;
		return 0;
	}
	if (time_parse_rfc3339(s, out) < 0)
		return fail(err, errlen, key, "not an RFC 3339 time");
	return 0;
}

static int decode_ntp(const json_t *obj, struct result *r, char *err, size_t errlen)
{
	json_int_t v;

	r->has_ntp = 1;
	if (get_int(obj, "stratum", 0, 255, 0, 1, &v, err, errlen) < 0)
		return -1;
	r->stratum = (int)v;
	if (get_int(obj, "leap", 0, 3, 0, 0, &v, err, errlen) < 0)
		return -1;
	r->leap = (int)v;
	if (get_str(obj, "refid", r->refid, sizeof(r->refid), 0, err, errlen) < 0 ||
	    get_time(obj, "reference_time", 0, &r->reference_time_ms, err, errlen) < 0 ||
	    get_num(obj, "offset_ms", -RESULT_OFFSET_LIMIT, RESULT_OFFSET_LIMIT, 0, &r->offset_ms,
	            err, errlen) < 0 ||
	    get_num(obj, "root_delay_ms", -RESULT_MS_LIMIT, RESULT_MS_LIMIT, 0, &r->root_delay_ms,
	            err, errlen) < 0 ||
	    get_num(obj, "root_dispersion_ms", -RESULT_MS_LIMIT, RESULT_MS_LIMIT, 0,
	            &r->root_dispersion_ms, err, errlen) < 0 ||
	    get_str(obj, "kod", r->kod, sizeof(r->kod), 0, err, errlen) < 0)
		return -1;
	return 0;
}

int result_from_json(const json_t *obj, struct result *r, char *err, size_t errlen)
{
	char s[32];
	json_int_t v;
	unsigned char sa[sizeof(struct in6_addr)];
	const json_t *st;

	memset(r, 0, sizeof(*r));
	r->rtt_ms = -1;
	if (!json_is_object(obj))
		return fail(err, errlen, "record", "must be an object");
	if (get_int(obj, "seq", 1, (json_int_t)RESULT_SEQ_MAX, 0, 1, &v, err, errlen) < 0)
		return -1;
	r->seq = (uint64_t)v;
	if (get_int(obj, "round", 0, INT64_MAX, 0, 0, &v, err, errlen) < 0)
		return -1;
	r->round = (uint64_t)v;
	if (get_time(obj, "time", 1, &r->time_ms, err, errlen) < 0)
		return -1;
	if (get_str(obj, "service", r->service, sizeof(r->service), 1, err, errlen) < 0 ||
	    get_str(obj, "address", r->address, sizeof(r->address), 1, err, errlen) < 0)
		return -1;
	if (get_int(obj, "family", 4, 6, 0, 1, &v, err, errlen) < 0)
		return -1;
	if (v != 4 && v != 6)
		return fail(err, errlen, "family", "must be 4 or 6");
	r->family = (int)v;
	if (inet_pton(r->family == 4 ? AF_INET : AF_INET6, r->address, sa) != 1)
		return fail(err, errlen, "address", "not an address of that family");

	if (get_str(obj, "target", s, sizeof(s), 1, err, errlen) < 0)
		return -1;
	if (strcmp(s, "anycast") == 0)
		r->target = RESULT_TARGET_ANYCAST;
	else if (strcmp(s, "management") == 0)
		r->target = RESULT_TARGET_MANAGEMENT;
	else
		return fail(err, errlen, "target", "must be anycast or management");

	if (get_str(obj, "instance", r->instance, sizeof(r->instance), 0, err, errlen) < 0 ||
	    get_str(obj, "identity", r->identity, sizeof(r->identity), 0, err, errlen) < 0 ||
	    get_str(obj, "identity_source", r->identity_source, sizeof(r->identity_source), 0, err,
	            errlen) < 0)
		return -1;
	if (r->identity_source[0]) {
		size_t i;
		for (i = 0; i < sizeof(identity_sources) / sizeof(identity_sources[0]); i++)
			if (strcmp(r->identity_source, identity_sources[i]) == 0)
				break;
		if (i == sizeof(identity_sources) / sizeof(identity_sources[0]))
			return fail(err, errlen, "identity_source", "unknown source");
	}
	if (get_str(obj, "query", r->query, sizeof(r->query), 0, err, errlen) < 0 ||
	    get_str(obj, "transport", r->transport, sizeof(r->transport), 0, err, errlen) < 0)
		return -1;
	if (r->transport[0] && strcmp(r->transport, "udp") != 0 && strcmp(r->transport, "tcp") != 0)
		return fail(err, errlen, "transport", "must be udp or tcp");

	if (get_str(obj, "outcome", s, sizeof(s), 1, err, errlen) < 0)
		return -1;
	if (result_outcome_parse(s, &r->outcome) < 0)
		return fail(err, errlen, "outcome", "unknown outcome");
	if (get_str(obj, "rcode", r->rcode, sizeof(r->rcode), 0, err, errlen) < 0)
		return -1;
	if (get_num(obj, "rtt_ms", 0, RESULT_MS_LIMIT, -1, &r->rtt_ms, err, errlen) < 0)
		return -1;

	st = json_object_get(obj, "stratum");
	if (st != NULL && !json_is_null(st) && decode_ntp(obj, r, err, errlen) < 0)
		return -1;
	return 0;
}
