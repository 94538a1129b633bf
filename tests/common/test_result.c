/* tests/common/test_result.c - the result record: JSON line and jansson encoders,
 * the validating decoder, and the line encoder's speed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/result.h"
#include "common/timefmt.h"

TestSuite(result);

static void dns_sample(struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = 42;
	r->round = 7;
	r->time_ms = 1795664795123LL;
	strcpy(r->service, "dns");
	strcpy(r->address, "198.18.255.53");
	r->family = 4;
	r->target = RESULT_TARGET_ANYCAST;
	strcpy(r->instance, "site-a");
	strcpy(r->identity, "s1.lab");
	strcpy(r->identity_source, "nsid");
	strcpy(r->query, "nsid");
	strcpy(r->transport, "udp");
	r->outcome = RESULT_OK;
	strcpy(r->rcode, "NOERROR");
	r->rtt_ms = 1.234;
}

static void ntp_sample(struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = 9000000000ULL;
	r->round = 3;
	r->time_ms = 1795664795000LL;
	strcpy(r->service, "ntp");
	strcpy(r->address, "2001:db8:ffff::123");
	r->family = 6;
	r->target = RESULT_TARGET_MANAGEMENT;
	strcpy(r->instance, "site-b");
	strcpy(r->identity_source, "ntp-fingerprint");
	strcpy(r->identity, "2/198.18.0.1/1795664790.5");
	strcpy(r->query, "ntp");
	strcpy(r->transport, "udp");
	r->outcome = RESULT_OK;
	r->rtt_ms = 0.25;
	r->has_ntp = 1;
	r->stratum = 2;
	r->leap = 0;
	strcpy(r->refid, "198.18.0.1");
	r->reference_time_ms = 1795664790500LL;
	r->offset_ms = -0.125;
	r->root_delay_ms = 12.5;
	r->root_dispersion_ms = 3.75;
}

static void assert_same(const struct result *a, const struct result *b)
{
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->round, b->round);
	cr_assert_eq(a->time_ms, b->time_ms);
	cr_assert_str_eq(a->agent, b->agent);
	cr_assert_str_eq(a->service, b->service);
	cr_assert_str_eq(a->address, b->address);
	cr_assert_eq(a->family, b->family);
	cr_assert_eq(a->target, b->target);
	cr_assert_str_eq(a->instance, b->instance);
	cr_assert_str_eq(a->identity, b->identity);
	cr_assert_str_eq(a->identity_source, b->identity_source);
	cr_assert_str_eq(a->query, b->query);
	cr_assert_str_eq(a->transport, b->transport);
	cr_assert_eq(a->outcome, b->outcome);
	cr_assert_str_eq(a->rcode, b->rcode);
	cr_assert_eq(a->rtt_ms < 0, b->rtt_ms < 0);
	if (a->rtt_ms >= 0)
		cr_assert_float_eq(a->rtt_ms, b->rtt_ms, 1e-9);
	cr_assert_eq(a->has_ntp, b->has_ntp);
	if (!a->has_ntp)
		return;
	cr_assert_eq(a->stratum, b->stratum);
	cr_assert_eq(a->leap, b->leap);
	cr_assert_str_eq(a->refid, b->refid);
	cr_assert_eq(a->reference_time_ms, b->reference_time_ms);
	cr_assert_float_eq(a->offset_ms, b->offset_ms, 1e-9);
	cr_assert_float_eq(a->root_delay_ms, b->root_delay_ms, 1e-9);
	cr_assert_float_eq(a->root_dispersion_ms, b->root_dispersion_ms, 1e-9);
	cr_assert_str_eq(a->kod, b->kod);
}

static void line_round_trip(const struct result *r)
{
	char line[2048], err[128];
	json_error_t jerr;
	struct result back;

	int n = result_to_line(r, line, sizeof(line));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(line));
	json_t *j = json_loads(line, 0, &jerr);
	cr_assert_not_null(j, "not JSON: %s (%s)", line, jerr.text);
	cr_assert_eq(result_from_json(j, &back, err, sizeof(err)), 0, "%s: %s", line, err);
	json_decref(j);
	/* the decoder ignores "agent": the collector sets it from the token */
	strcpy(back.agent, r->agent);
	assert_same(r, &back);
}

static void jansson_round_trip(const struct result *r)
{
	char err[128];
	struct result back;

	json_t *j = result_to_json(r);
	cr_assert_not_null(j);
	cr_assert_eq(result_from_json(j, &back, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
	strcpy(back.agent, r->agent);
	assert_same(r, &back);
}

Test(result, dns_line_has_spec_fields)
{
	struct result r;
	char line[1024];

	dns_sample(&r);
	cr_assert_gt(result_to_line(&r, line, sizeof(line)), 0);
	cr_assert_str_eq(line,
	                 "{\"seq\":42,\"round\":7,\"time\":\"2026-11-26T03:46:35.123Z\","
	                 "\"service\":\"dns\",\"address\":\"198.18.255.53\",\"family\":4,"
	                 "\"target\":\"anycast\",\"instance\":\"site-a\",\"identity\":\"s1.lab\","
	                 "\"identity_source\":\"nsid\",\"query\":\"nsid\",\"transport\":\"udp\","
	                 "\"outcome\":\"ok\",\"rcode\":\"NOERROR\",\"rtt_ms\":1.234}");
}

Test(result, empty_strings_and_negative_rtt_are_null)
{
	struct result r;
	char line[1024];

	dns_sample(&r);
	r.instance[0] = r.identity[0] = r.identity_source[0] = r.rcode[0] = '\0';
	r.outcome = RESULT_TIMEOUT;
	r.rtt_ms = -1;
	cr_assert_gt(result_to_line(&r, line, sizeof(line)), 0);
	cr_assert(strstr(line, "\"instance\":null,\"identity\":null,\"identity_source\":null"));
	cr_assert(strstr(line, "\"outcome\":\"timeout\",\"rcode\":null,\"rtt_ms\":null"));

	json_t *j = result_to_json(&r);
	cr_assert(json_is_null(json_object_get(j, "instance")));
	cr_assert(json_is_null(json_object_get(j, "rtt_ms")));
	cr_assert_null(json_object_get(j, "stratum"), "NTP fields on a DNS record");
	cr_assert_null(json_object_get(j, "agent"));
	json_decref(j);
	line_round_trip(&r);
	jansson_round_trip(&r);
}

Test(result, round_trips)
{
	struct result r;

	dns_sample(&r);
	line_round_trip(&r);
	jansson_round_trip(&r);
	strcpy(r.agent, "branch-1");
	line_round_trip(&r);
	jansson_round_trip(&r);
	ntp_sample(&r);
	line_round_trip(&r);
	jansson_round_trip(&r);
	r.stratum = 0;
	strcpy(r.kod, "RATE");
	strcpy(r.refid, "RATE");
	r.outcome = RESULT_AMBIGUOUS;
	line_round_trip(&r);
	jansson_round_trip(&r);
}

Test(result, milliseconds_have_three_decimals)
{
	struct result r;
	char line[1024];

	ntp_sample(&r);
	r.rtt_ms = 12345.6789;
	r.offset_ms = -0.0004;
	r.root_delay_ms = 0;
	r.root_dispersion_ms = -1234567.25;
	cr_assert_gt(result_to_line(&r, line, sizeof(line)), 0);
	cr_assert(strstr(line, "\"rtt_ms\":12345.679,"), "%s", line);
	cr_assert(strstr(line, "\"offset_ms\":0.000,"), "%s", line);
	cr_assert(strstr(line, "\"root_delay_ms\":0.000,"), "%s", line);
	cr_assert(strstr(line, "\"root_dispersion_ms\":-1234567.250,"), "%s", line);
	r.offset_ms = NAN;
	cr_assert_gt(result_to_line(&r, line, sizeof(line)), 0);
	cr_assert(strstr(line, "\"offset_ms\":null,"), "%s", line);
	json_t *j = json_loads(line, 0, NULL);
	cr_assert_not_null(j, "%s", line);
	json_decref(j);
}

Test(result, agent_only_when_set)
{
	struct result r;
	char line[1024];

	dns_sample(&r);
	strcpy(r.agent, "branch-1");
	result_to_line(&r, line, sizeof(line));
	cr_assert(strstr(line, "\"agent\":\"branch-1\""));
	json_t *j = result_to_json(&r);
	cr_assert_str_eq(json_string_value(json_object_get(j, "agent")), "branch-1");
	json_decref(j);
}

Test(result, hostile_identity_stays_valid_json)
{
	struct result r, back;
	char line[2048], err[128];

	dns_sample(&r);
	/* quote, backslash, control bytes, valid UTF-8, and invalid UTF-8 */
	strcpy(r.identity, "a\"b\\c\n\x01\x7f\xc3\xa9\xff\xc0\xafz");
	cr_assert_gt(result_to_line(&r, line, sizeof(line)), 0);
	cr_assert(
	    strstr(line,
	           "\"identity\":\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\\ufffd\\ufffd\\ufffdz\""),
	    "%s", line);
	json_t *j = json_loads(line, 0, NULL);
	cr_assert_not_null(j, "invalid JSON: %s", line);
	cr_assert_eq(result_from_json(j, &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(back.identity,
	                 "a\"b\\c\n\x01\x7f\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	json_decref(j);

	j = result_to_json(&r);
	cr_assert_not_null(j);
	cr_assert_str_eq(json_string_value(json_object_get(j, "identity")), back.identity);
	json_decref(j);
}

Test(result, line_reports_overflow)
{
	struct result r;
	char line[1024];
	int n;

	dns_sample(&r);
	n = result_to_line(&r, line, sizeof(line));
	cr_assert_gt(n, 0);
	cr_assert_eq(result_to_line(&r, line, (size_t)n), -1, "no room for the NUL");
	cr_assert_eq(result_to_line(&r, line, (size_t)n + 1), n);
	cr_assert_eq(result_to_line(&r, line, 10), -1);
	cr_assert_eq(result_to_line(&r, line, 0), -1);
}

Test(result, outcome_names)
{
	enum result_outcome o;
	static const char *names[] = {"ok",        "timeout",   "unreachable", "rcode",
	                              "malformed", "ambiguous", "unknown"};

	for (int i = 0; i < 7; i++) {
		cr_assert_str_eq(result_outcome_name((enum result_outcome)i), names[i]);
		cr_assert_eq(result_outcome_parse(names[i], &o), 0);
		cr_assert_eq((int)o, i);
	}
	cr_assert_eq(result_outcome_parse("OK", &o), -1);
	cr_assert_eq(result_outcome_parse("", &o), -1);
	cr_assert_eq(result_outcome_parse(NULL, &o), -1);
}

/* Starting from a valid record, each change must be rejected naming the field. */
static void assert_rejected(const char *key, json_t *value, const char *field)
{
	struct result r;
	char err[256];

	dns_sample(&r);
	json_t *j = result_to_json(&r);
	if (value)
		json_object_set_new(j, key, value);
	else
		json_object_del(j, key);
	err[0] = '\0';
	cr_assert_eq(result_from_json(j, &r, err, sizeof(err)), -1, "accepted bad %s", key);
	cr_assert_eq(strncmp(err, field, strlen(field)), 0, "error \"%s\" does not name %s", err,
	             field);
	cr_assert_eq(err[strlen(field)], ':', "error \"%s\"", err);
	json_decref(j);
}

Test(result, validation_names_the_field)
{
	char big[300];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_rejected("seq", NULL, "seq");
	assert_rejected("seq", json_integer(0), "seq");
	assert_rejected("seq", json_integer(-5), "seq");
	/* 2^63-1 would leave no room for the next seq: the range ends at 2^62 */
	assert_rejected("seq", json_integer(INT64_MAX), "seq");
	assert_rejected("seq", json_integer((json_int_t)RESULT_SEQ_MAX + 1), "seq");
	assert_rejected("seq", json_string("1"), "seq");
	assert_rejected("seq", json_real(1.5), "seq");
	assert_rejected("round", json_integer(-1), "round");
	assert_rejected("time", NULL, "time");
	assert_rejected("time", json_string("yesterday"), "time");
	assert_rejected("time", json_integer(1795664795), "time");
	assert_rejected("service", NULL, "service");
	assert_rejected("service", json_string(""), "service");
	assert_rejected("service", json_string(big), "service");
	assert_rejected("address", json_string("not-an-ip"), "address");
	assert_rejected("address", json_string("2001:db8::1"), "address"); /* family 4 */
	assert_rejected("family", json_integer(5), "family");
	assert_rejected("family", json_string("4"), "family");
	assert_rejected("family", NULL, "family");
	assert_rejected("target", json_string("unicast"), "target");
	assert_rejected("target", json_null(), "target");
	assert_rejected("instance", json_integer(1), "instance");
	assert_rejected("instance", json_string(big), "instance");
	assert_rejected("identity", json_true(), "identity");
	assert_rejected("identity_source", json_string("guess"), "identity_source");
	assert_rejected("transport", json_string("quic"), "transport");
	assert_rejected("outcome", json_string("fine"), "outcome");
	assert_rejected("outcome", NULL, "outcome");
	assert_rejected("rcode", json_string("NOTAREALRCODE_TOO_LONG"), "rcode");
	assert_rejected("rtt_ms", json_real(-3), "rtt_ms");
	assert_rejected("rtt_ms", json_string("3"), "rtt_ms");
	assert_rejected("stratum", json_integer(256), "stratum");
	assert_rejected("stratum", json_string("2"), "stratum");
	assert_rejected("query", json_stringn("a\0b", 3), "query");
}

Test(result, ntp_validation)
{
	struct result r;
	char err[256];

	ntp_sample(&r);
	json_t *j = result_to_json(&r);
	json_object_set_new(j, "leap", json_integer(4));
	cr_assert_eq(result_from_json(j, &r, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "leap: out of range [0, 3]");
	json_object_set_new(j, "leap", json_integer(3));
	json_object_set_new(j, "reference_time", json_string("soon"));
	cr_assert_eq(result_from_json(j, &r, err, sizeof(err)), -1);
	cr_assert(strncmp(err, "reference_time:", 15) == 0, "%s", err);
	json_object_set_new(j, "reference_time", json_null());
	json_object_set_new(j, "kod", json_string("TOOLONGKOD"));
	cr_assert_eq(result_from_json(j, &r, err, sizeof(err)), -1);
	cr_assert(strncmp(err, "kod:", 4) == 0, "%s", err);
	json_decref(j);
}

Test(result, decoder_ignores_unknown_and_agent)
{
	struct result r;
	char err[128];
	json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "seq", 1, "time",
	                      "2026-11-26T03:46:35Z", "service", "dns", "address", "2001:db8::53",
	                      "family", 6, "target", "anycast", "outcome", "timeout", "agent",
	                      "someone-else", "future_field", "x");

	cr_assert_eq(result_from_json(j, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(r.agent, "");
	cr_assert_lt(r.rtt_ms, 0);
	cr_assert_eq(r.has_ntp, 0);
	cr_assert_eq(r.outcome, RESULT_TIMEOUT);
	json_decref(j);
	j = json_array();
	cr_assert_eq(result_from_json(j, &r, err, sizeof(err)), -1);
	json_decref(j);
}

/* The agent encodes every probe on its loop thread: keep the encoder cheap.
 * Measured here: result_to_line ~1 us per record vs. several for jansson. */
Test(result, line_encoder_is_fast)
{
	struct result r;
	char line[1024];
	const int n = 20000;
	size_t total = 0;

	ntp_sample(&r);
	int64_t t0 = time_mono_ns();
	for (int i = 0; i < n; i++) {
		r.seq++;
		total += (size_t)result_to_line(&r, line, sizeof(line));
	}
	int64_t t1 = time_mono_ns();
	for (int i = 0; i < n; i++) {
		json_t *j = result_to_json(&r);
		char *s = json_dumps(j, JSON_COMPACT);
		total += strlen(s);
		free(s);
		json_decref(j);
	}
	int64_t t2 = time_mono_ns();
	double line_us = (double)(t1 - t0) / n / 1000.0,
	       jansson_us = (double)(t2 - t1) / n / 1000.0;
	cr_log_info("result_to_line %.2f us/record, jansson %.2f us/record", line_us, jansson_us);
	cr_assert_gt(total, 0);
	cr_assert_lt(line_us, jansson_us, "line encoder slower than jansson");
	/* generous bound even under ASan on a busy machine */
	cr_assert_lt(line_us, 50.0);
}
