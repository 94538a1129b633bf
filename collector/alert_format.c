/* collector/alert_format.c - payloads for the webhook, Slack, Alertmanager
 * and email channels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "collector/alert_format.h"
#include "collector/incident.h"
#include "common/text.h"
#include "common/timefmt.h"

static const char *
nz(const char *s, const char *dflt)
{
	return s[0] != '\0' ? s : dflt;
}

/* The incident's opening type: the key's first component. */
static void
incident_type(const struct event *ev, char *buf, size_t len)
{
	size_t n = strcspn(ev->incident, "/");

	if (ev->incident[0] == '\0') {
		snprintf(buf, len, "%s", ev->type);
		return;
	}
	snprintf(buf, len, "%.*s", (int)n, ev->incident);
}

const char *
alert_format_severity(const char *type)
{
	if (strcmp(type, "outage") == 0 || strcmp(type, "unknown_instance") == 0 ||
	    strcmp(type, "instance_down") == 0)
		return "critical";
	if (strcmp(type, "suboptimal") == 0)
		return "info";
	return "warning";
}

static const char *
detail_str(const struct event *ev, const char *key, char *buf, size_t len)
{
	json_t *d = json_loads(ev->detail, 0, NULL), *v;

	buf[0] = '\0';
	if (d != NULL && (v = json_object_get(d, key)) != NULL) {
		if (json_is_string(v))
			snprintf(buf, len, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	}
	json_decref(d);
	return buf;
}

/* "2 m 14 s", "45 s", "3 h 2 m" */
static void
duration_text(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lld m %lld s", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%lld h %lld m", (long long)(s / 3600), (long long)(s % 3600 / 60));
}

static const char *
status_word(const struct event *ev, int resolved)
{
	return resolved ? "RESOLVED" : ev->update ? "UPDATED" : "FIRING";
}

static char *
incident_summary(const struct event *ev, int resolved, char *buf, size_t len)
{
	char dur[32] = "";

	if (resolved && ev->started_ms > 0)
		duration_text(ev->time_ms - ev->started_ms, dur, sizeof(dur));
	snprintf(buf, len, "[%s] %s: %s%s%s%s", status_word(ev, resolved), ev->type, ev->summary,
		 dur[0] ? " (resolved after " : "", dur, dur[0] ? ")" : "");
	text_neutralise(buf, ' ');
	return buf;
}

char *
alert_format_summary(const struct event *ev, int resolved, char *buf, size_t len)
{
	char fam[16], cause[64], extra[RESULT_IDENTITY_MAX], what[400];

	if (ev->incident_id > 0)
		return incident_summary(ev, resolved, buf, len);

	snprintf(fam, sizeof(fam), "IPv%d", ev->family);
	detail_str(ev, "cause", cause, sizeof(cause));
	if (strcmp(ev->type, "catchment_change") == 0)
		snprintf(what, sizeof(what), "agent %s reaches %s (%s) at %s instead of %s (%s)",
			 ev->agent, ev->service, fam, nz(ev->to_instance, "?"),
			 nz(ev->from_instance, "?"), cause);
	else if (strcmp(ev->type, "outage") == 0)
		snprintf(what, sizeof(what), "agent %s gets no answer from %s (%s); last instance %s",
			 ev->agent, ev->service, fam, nz(ev->from_instance, "none"));
	else if (strcmp(ev->type, "unknown_instance") == 0)
		snprintf(what, sizeof(what),
			 "agent %s gets %s (%s) answers from unknown identity \"%s\" (possible hijack)",
			 ev->agent, ev->service, fam, detail_str(ev, "identity", extra, sizeof(extra)));
	else if (strcmp(ev->type, "instance_down") == 0)
		snprintf(what, sizeof(what),
			 "%s instance %s: management address unreachable from %s agent(s)", ev->service,
			 ev->from_instance, detail_str(ev, "failing_agents", extra, sizeof(extra)));
	else if (strcmp(ev->type, "instance_up") == 0)
		snprintf(what, sizeof(what), "%s instance %s: management address answers again",
			 ev->service, ev->to_instance);
	else if (strcmp(ev->type, "flapping") == 0)
		snprintf(what, sizeof(what), "agent %s: %s (%s) catchment flapping (%s changes)",
			 ev->agent, ev->service, fam, detail_str(ev, "changes", extra, sizeof(extra)));
	else if (strcmp(ev->type, "split") == 0)
		snprintf(what, sizeof(what),
			 "agent %s: %s (%s) answers alternate between %s and %s (load sharing)",
			 ev->agent, ev->service, fam, nz(ev->from_instance, "?"),
			 nz(ev->to_instance, "?"));
	else if (strcmp(ev->type, "suboptimal") == 0)
		snprintf(what, sizeof(what), "agent %s: %s (%s) answered by %s, clearly slower than %s",
			 ev->agent, ev->service, fam, ev->from_instance, ev->to_instance);
	else if (strcmp(ev->type, "guard_withdraw") == 0)
		snprintf(what, sizeof(what), "%s instance %s withdrawn by its guard %s: %s",
			 ev->service, ev->from_instance, ev->agent,
			 detail_str(ev, "reason", extra, sizeof(extra)));
	else if (strcmp(ev->type, "guard_restore") == 0)
		snprintf(what, sizeof(what), "%s instance %s restored by its guard %s", ev->service,
			 ev->to_instance, ev->agent);
	else if (strcmp(ev->type, "serial_lag") == 0)
		snprintf(what, sizeof(what), "%s: instance %s serves serial %s, %s behind the highest",
			 ev->service, ev->to_instance, detail_str(ev, "serial", extra, sizeof(extra)),
			 detail_str(ev, "behind", cause, sizeof(cause)));
	else if (strcmp(ev->type, "inconsistent_answer") == 0)
		snprintf(what, sizeof(what),
			 "%s: instance %s answers check %s differently from instances with the same"
			 " serial",
			 ev->service, ev->to_instance, detail_str(ev, "check", extra, sizeof(extra)));
	else if (strcmp(ev->type, "answer_mismatch") == 0)
		snprintf(what, sizeof(what),
			 "agent %s: %s answer for check %s through the anycast address differs from"
			 " %s's own",
			 ev->agent, ev->service, detail_str(ev, "check", extra, sizeof(extra)),
			 ev->to_instance);
	else if (strcmp(ev->type, "recovery") == 0)
		snprintf(what, sizeof(what), "%s over: agent %s, %s (%s) answered by %s (%s)",
			 detail_str(ev, "resolved", extra, sizeof(extra)), ev->agent, ev->service, fam,
			 nz(ev->to_instance, "?"), cause);
	else
		snprintf(what, sizeof(what), "agent %s, %s (%s): %s -> %s", nz(ev->agent, "-"),
			 ev->service, fam, nz(ev->from_instance, "-"), nz(ev->to_instance, "-"));
	snprintf(buf, len, "[%s] %s: %s", resolved ? "RESOLVED" : "FIRING", ev->type, what);
	text_neutralise(buf, ' ');
	return buf;
}

static json_t *
str_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

static char *
dump(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/* {"status", "kind", "severity", "incident_id", "incident": {...}, "summary",
 *  "started", "ended", "duration_s", "service", "agent", "route"} */
static char *
incident_webhook(const struct event *ev, int resolved, const char *route)
{
	char t[32], line[600];
	json_t *o = json_object(), *d = json_loads(ev->detail, 0, NULL);
	enum incident_kind k = INCIDENT_OUTAGE;

	incident_kind_parse(ev->type, &k);
	json_object_set_new(o, "status", json_string(resolved ? "resolved" : ev->update ? "updated"
										       : "firing"));
	json_object_set_new(o, "kind", json_string(ev->type));
	json_object_set_new(o, "type", json_string(ev->type));
	json_object_set_new(o, "severity", json_string(incident_severity(k)));
	json_object_set_new(o, "incident_id", json_integer(ev->incident_id));
	json_object_set_new(o, "incident", d != NULL ? d : json_object());
	json_object_set_new(o, "summary",
			    json_string(alert_format_summary(ev, resolved, line, sizeof(line))));
	json_object_set_new(o, "service", str_or_null(ev->service));
	json_object_set_new(o, "agent", str_or_null(ev->agent));
	json_object_set_new(o, "started", json_string(time_format_rfc3339(ev->started_ms, t, sizeof(t))));
	json_object_set_new(o, "ended", resolved ? json_string(time_format_rfc3339(ev->time_ms, t,
										    sizeof(t)))
						 : json_null());
	json_object_set_new(o, "duration_s", resolved ? json_real((double)(ev->time_ms -
									    ev->started_ms) / 1000.0)
						      : json_null());
	json_object_set_new(o, "route", json_string(route));
	return dump(o);
}

char *
alert_format_webhook(const struct event *ev, int resolved, const char *route)
{
	char t[32], line[600];
	json_t *o, *d;

	if (ev->incident_id > 0)
		return incident_webhook(ev, resolved, route);
	o = json_object();
	d = json_loads(ev->detail, 0, NULL);

	time_format_rfc3339(ev->time_ms, t, sizeof(t));
	json_object_set_new(o, "status", json_string(resolved ? "resolved" : "firing"));
	json_object_set_new(o, "id", json_integer(ev->id));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "type", json_string(ev->type));
	json_object_set_new(o, "agent", str_or_null(ev->agent));
	json_object_set_new(o, "service", json_string(ev->service));
	json_object_set_new(o, "family", ev->family != 0 ? json_integer(ev->family) : json_null());
	json_object_set_new(o, "from_instance", str_or_null(ev->from_instance));
	json_object_set_new(o, "to_instance", str_or_null(ev->to_instance));
	json_object_set_new(o, "incident", json_string(ev->incident));
	json_object_set_new(o, "resolves", json_boolean(ev->resolves));
	json_object_set_new(o, "detail", d != NULL ? d : json_object());
	json_object_set_new(o, "summary",
			    json_string(alert_format_summary(ev, resolved, line, sizeof(line))));
	json_object_set_new(o, "route", json_string(route));
	return dump(o);
}

/* Slack reads &, < and > as markup (mentions, links): escape them, so a
 * server's identity can never become a mention or a link. */
/* src with every control character replaced by a space. */
static const char *
clean(const char *src, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)(src != NULL ? src : "");
	size_t o = 0;
	int n;

	for (; *p != '\0' && o + 1 < len; p += n > 0 ? n : 1) {
		n = (int)text_hidden_len((const char *)p);
		buf[o++] = n > 0 ? ' ' : (char)*p;
	}
	buf[o] = '\0';
	return buf;
}

/* Append src to dst (room for 5 bytes per byte of src) with &, < and >
 * escaped; in_code also turns ` into ' so the text cannot leave a code span. */
static size_t
slack_escape(char *dst, size_t o, const char *src, int in_code)
{
	for (const char *p = src; *p != '\0'; p++) {
		const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;

		if (rep != NULL) {
			memcpy(dst + o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			dst[o++] = in_code && *p == '`' ? '\'' : *p;
		}
	}
	dst[o] = '\0';
	return o;
}

char *
alert_format_slack(const struct event *ev, int resolved)
{
	char line[600], id[RESULT_IDENTITY_MAX], clean_id[RESULT_IDENTITY_MAX];
	char esc[sizeof(line) * 5 + sizeof(id) * 5 + 32];
	size_t o;

	alert_format_summary(ev, resolved, line, sizeof(line));
	o = slack_escape(esc, 0, line, 0);
	/* A server's identity once more, as code: shown as the bytes it is. */
	detail_str(ev, "identity", id, sizeof(id));
	if (id[0] != '\0') {
		clean(id, clean_id, sizeof(clean_id));
		memcpy(esc + o, "\nidentity: `", 12);
		o = slack_escape(esc, o + 12, clean_id, 1);
		esc[o++] = '`';
		esc[o] = '\0';
	}
	return dump(json_pack("{ss}", "text", esc));
}

/* "instance_down" -> "AnycastInstanceDown" */
static void
alertname(const char *kind, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "Anycast");
	int up = 1;

	for (; *kind != '\0' && o + 1 < len; kind++) {
		if (*kind == '_') {
			up = 1;
			continue;
		}
		buf[o++] = up && *kind >= 'a' && *kind <= 'z' ? (char)(*kind - 32) : *kind;
		up = 0;
	}
	buf[o] = '\0';
}


/* Readable lines: summary, then one line per affected agent; the only line
 * breaks are ours. */
static char *
incident_description(const struct event *ev, char *buf, size_t len)
{
	json_t *d = json_loads(ev->detail, 0, NULL), *agents;
	char f[4][RESULT_NAME_MAX * 2];
	size_t o, i;

	o = (size_t)snprintf(buf, len, "%s", clean(ev->summary, f[0], sizeof(f[0])));
	agents = d != NULL ? json_object_get(d, "agents") : NULL;
	for (i = 0; i < json_array_size(agents) && o < len; i++) {
		json_t *a = json_array_get(agents, i);
		const char *from = json_string_value(json_object_get(a, "from_instance"));
		const char *to = json_string_value(json_object_get(a, "to_instance"));

		o += (size_t)snprintf(buf + o, len - o, "\n%s %s IPv%lld: %s -> %s",
				      clean(json_string_value(json_object_get(a, "agent")), f[0],
					    sizeof(f[0])),
				      clean(json_string_value(json_object_get(a, "service")), f[1],
					    sizeof(f[1])),
				      (long long)json_integer_value(json_object_get(a, "family")),
				      from ? clean(from, f[2], sizeof(f[2])) : "-",
				      to ? clean(to, f[3], sizeof(f[3])) : "no answer");
	}
	json_decref(d);
	return buf;
}

static char *
incident_alertmanager(const struct event *open, const struct event *ev, int resolved,
		      const char *base)
{
	char t[32], name[64], line[600], desc[2048], url[700], id[24];
	json_t *labels = json_object(), *ann = json_object(), *a = json_object(), *arr;
	enum incident_kind k = INCIDENT_OUTAGE;

	incident_kind_parse(open->type, &k);
	alertname(open->type, name, sizeof(name));
	json_object_set_new(labels, "alertname", json_string(name));
	json_object_set_new(labels, "kind", json_string(open->type));
	if (open->service[0] != '\0')
		json_object_set_new(labels, "service", json_string(open->service));
	if ((k == INCIDENT_INSTANCE_DOWN || k == INCIDENT_WITHDRAWN) && open->from_instance[0] != '\0')
		json_object_set_new(labels, "anycast_instance", json_string(open->from_instance));
	if (open->agent[0] != '\0')
		json_object_set_new(labels, "agent", json_string(open->agent));
	json_object_set_new(labels, "severity", json_string(incident_severity(k)));
	snprintf(id, sizeof(id), "%lld", (long long)open->incident_id);
	json_object_set_new(labels, "incident", json_string(id));
	json_object_set_new(ann, "summary",
			    json_string(alert_format_summary(ev, resolved, line, sizeof(line))));
	json_object_set_new(ann, "description",
			    json_string(incident_description(ev, desc, sizeof(desc))));
	json_object_set_new(a, "labels", labels);
	json_object_set_new(a, "annotations", ann);
	json_object_set_new(a, "startsAt",
			    json_string(time_format_rfc3339(open->started_ms, t, sizeof(t))));
	if (resolved)
		json_object_set_new(a, "endsAt",
				    json_string(time_format_rfc3339(ev->time_ms, t, sizeof(t))));
	snprintf(url, sizeof(url), "%s#/incident/%lld", base != NULL && base[0] ? base : "/",
		 (long long)open->incident_id);
	json_object_set_new(a, "generatorURL", json_string(url));
	arr = json_array();
	json_array_append_new(arr, a);
	return dump(arr);
}

char *
alert_format_alertmanager(const struct event *open, const struct event *ev, int resolved,
			  const char *base_url)
{
	char t[32], type[32], line[600];
	json_t *labels, *ann, *a, *arr;
	const char *inst = open->from_instance[0] != '\0' ? open->from_instance : open->to_instance;

	if (open->incident_id > 0)
		return incident_alertmanager(open, ev, resolved, base_url);
	labels = json_object();
	ann = json_object();
	a = json_object();

	incident_type(open, type, sizeof(type));
	json_object_set_new(labels, "alertname", json_string(type));
	if (open->agent[0] != '\0')
		json_object_set_new(labels, "agent", json_string(open->agent));
	json_object_set_new(labels, "service", json_string(open->service));
	if (inst[0] != '\0')
		json_object_set_new(labels, "instance", json_string(inst));
	if (open->family != 0) {
		snprintf(t, sizeof(t), "%d", open->family);
		json_object_set_new(labels, "family", json_string(t));
	}
	json_object_set_new(labels, "severity", json_string(alert_format_severity(type)));
	json_object_set_new(labels, "incident", json_string(open->incident));
	json_object_set_new(ann, "summary",
			    json_string(alert_format_summary(ev, resolved, line, sizeof(line))));
	json_object_set_new(ann, "description", json_string(ev->detail));
	json_object_set_new(a, "labels", labels);
	json_object_set_new(a, "annotations", ann);
	json_object_set_new(a, "startsAt", json_string(time_format_rfc3339(open->time_ms, t, sizeof(t))));
	if (resolved)
		json_object_set_new(a, "endsAt",
				    json_string(time_format_rfc3339(ev->time_ms, t, sizeof(t))));
	json_object_set_new(a, "generatorURL", json_string("/api/v1/events"));
	arr = json_array();
	json_array_append_new(arr, a);
	return dump(arr);
}

/* Copy src to dst as plain text lines: every control byte (C0 but LF, DEL,
 * C1 in UTF-8) becomes a space and every LF becomes CRLF, so no field can
 * end the SMTP DATA or smuggle a command. Returns the bytes written. */
static size_t
mail_text(char *dst, size_t cap, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0;
	int n;

	for (; *p != '\0' && o + 3 < cap; p += n > 0 ? n : 1) {
		n = *p == '\n' ? 0 : (int)text_hidden_len((const char *)p);
		if (*p == '\n') {
			dst[o++] = '\r';
			dst[o++] = '\n';
		} else {
			dst[o++] = n > 0 ? ' ' : (char)*p;
		}
	}
	dst[o] = '\0';
	return o;
}

/* An incident mail: the summary as subject, the description as body. */
/* A Subject header value: ASCII as it is; otherwise RFC 2047 encoded words
 * (=?UTF-8?B?...?=, at most 45 bytes of text each, cut between UTF-8
 * characters), folded onto continuation lines. out needs 2.5x text. */
static char *
subject_header(const char *text, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = strlen(text), o = 0;
	int ascii = 1;

	for (size_t i = 0; i < n; i++)
		ascii &= p[i] < 0x80;
	if (ascii) {
		snprintf(out, outlen, "%s", text);
		return out;
	}
	out[0] = '\0';
	for (size_t i = 0; i < n;) {
		unsigned char b64[64];
		size_t k = n - i < 45 ? n - i : 45;

		size_t whole = k;

		while (k > 0 && i + k < n && (p[i + k] & 0xc0) == 0x80)
			k--; /* not inside a character */
		if (k == 0)
			k = whole; /* not UTF-8 at all: cut anywhere */
		EVP_EncodeBlock(b64, p + i, (int)k);
		o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s=?UTF-8?B?%s?=",
				      i ? "\r\n " : "", b64);
		i += k;
	}
	return out;
}

static char *
incident_email(const struct event *ev, int resolved, const char *from, const char *to,
	       size_t *len)
{
	char line[600], desc[2048], body[4200], subj[700], subj_hdr[1800], date[64], hdr_to[256],
		*out;
	struct tm tm;
	time_t secs = (time_t)(ev->time_ms / 1000);
	size_t cap;
	int n;

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	alert_format_summary(ev, resolved, line, sizeof(line));
	mail_text(subj, sizeof(subj), line);
	snprintf(hdr_to, sizeof(hdr_to), "%s", to);
	mail_text(hdr_to, sizeof(hdr_to), to);
	incident_description(ev, desc, sizeof(desc));
	mail_text(body, sizeof(body), desc);
	subject_header(subj, subj_hdr, sizeof(subj_hdr));
	cap = 1024 + strlen(subj_hdr) + strlen(body) + strlen(hdr_to) + strlen(from);
	if ((out = malloc(cap)) == NULL)
		return NULL;
	n = snprintf(out, cap,
		     "Date: %s\r\nFrom: <%s>\r\nTo: %s\r\nSubject: %s\r\n"
		     "Message-ID: <incident.%lld.%s.%lld@anycast-monitor>\r\nMIME-Version: 1.0\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n\r\nincident: %lld\r\n"
		     "status: %s\r\n",
		     date, from, hdr_to, subj_hdr, (long long)ev->incident_id,
		     resolved ? "resolved" : ev->update ? "updated" : "firing", (long long)ev->time_ms,
		     body, (long long)ev->incident_id,
		     resolved ? "resolved" : ev->update ? "updated" : "firing");
	if (n < 0 || (size_t)n >= cap) {
		free(out);
		return NULL;
	}
	*len = (size_t)n;
	return out;
}

char *
alert_format_email(const struct event *ev, int resolved, const char *from, const char *to,
		   size_t *len)
{
	char line[600], subj_hdr[1800], date[64], t[32], hdr_to[256], *out = NULL, *p;
	struct tm tm;
	time_t secs = (time_t)(ev->time_ms / 1000);

	if (ev->incident_id > 0)
		return incident_email(ev, resolved, from, to, len);
	size_t cap;
	int n;

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	alert_format_summary(ev, resolved, line, sizeof(line));
	snprintf(hdr_to, sizeof(hdr_to), "%s", to);
	for (p = hdr_to; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	time_format_rfc3339(ev->time_ms, t, sizeof(t));
	cap = 3072 + strlen(line) + strlen(ev->detail) + strlen(hdr_to) + strlen(from) +
	      sizeof(ev->incident) * 2 + 4 * RESULT_NAME_MAX;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	/* Every interpolated field without control bytes: an agent's names and
	 * a server's identities must not end a line or the DATA of the mail. */
	char f_agent[RESULT_NAME_MAX], f_svc[RESULT_NAME_MAX], f_from[RESULT_NAME_MAX],
		f_to[RESULT_NAME_MAX], f_inc[sizeof(ev->incident)], f_type[sizeof(ev->type)],
		f_detail[EVENT_DETAIL_MAX];
	n = snprintf(out, cap,
		     "Date: %s\r\nFrom: <%s>\r\nTo: %s\r\nSubject: %s\r\n"
		     "Message-ID: <%lld.%s.%d@anycast-monitor>\r\nMIME-Version: 1.0\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n\r\n"
		     "%s\r\n\r\ntime: %s\r\ntype: %s\r\nagent: %s\r\nservice: %s\r\nfamily: %d\r\n"
		     "from: %s\r\nto: %s\r\nincident: %s\r\nstatus: %s\r\n\r\ndetail: %s\r\n",
		     date, from, hdr_to, subject_header(line, subj_hdr, sizeof(subj_hdr)),
		     (long long)ev->time_ms,
		     clean(ev->type, f_type, sizeof(f_type)), resolved, line, t, f_type,
		     clean(nz(ev->agent, "-"), f_agent, sizeof(f_agent)),
		     clean(ev->service, f_svc, sizeof(f_svc)), ev->family,
		     clean(nz(ev->from_instance, "-"), f_from, sizeof(f_from)),
		     clean(nz(ev->to_instance, "-"), f_to, sizeof(f_to)),
		     clean(ev->incident, f_inc, sizeof(f_inc)), resolved ? "resolved" : "firing",
		     clean(ev->detail, f_detail, sizeof(f_detail)));
	if (n < 0 || (size_t)n >= cap) {
		free(out);
		return NULL;
	}
	*len = (size_t)n;
	return out;
}
