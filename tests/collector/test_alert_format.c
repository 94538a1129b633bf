/* tests/collector/test_alert_format.c - the payloads of incident alerts:
 * webhook status and duration, Slack escaping of server-given text,
 * Alertmanager names, labels and links, and e-mail that no field can break. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "collector/alert_format.h"

#define T0 1700000000000LL

static struct event
incident_event(const char *kind, const char *summary, int resolved)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = ev.incident_id = 7;
	snprintf(ev.type, sizeof(ev.type), "%s", kind);
	snprintf(ev.service, sizeof(ev.service), "dns");
	snprintf(ev.from_instance, sizeof(ev.from_instance), "site-a");
	snprintf(ev.incident, sizeof(ev.incident), "%s/7", kind);
	snprintf(ev.summary, sizeof(ev.summary), "%s", summary);
	snprintf(ev.detail, sizeof(ev.detail),
		 "{\"id\":7,\"kind\":\"%s\",\"services\":[\"dns\"],\"agents\":[{\"agent\":\"br1\","
		 "\"service\":\"dns\",\"family\":4,\"from_instance\":\"site-a\",\"to_instance\":\"site-b\"}]}",
		 kind);
	ev.started_ms = T0;
	ev.time_ms = resolved ? T0 + 134000 : T0;
	ev.resolves = resolved;
	return ev;
}

Test(alert_format, webhook_tells_firing_updated_resolved_with_duration)
{
	struct event ev = incident_event("instance_down", "site-a dns down: br1 failed over to site-b", 0);
	char *p;
	json_t *o;

	p = alert_format_webhook(&ev, 0, "hook");
	o = json_loads(p, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "firing");
	cr_assert_eq(json_integer_value(json_object_get(o, "incident_id")), 7);
	cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "instance_down");
	cr_assert(json_is_null(json_object_get(o, "duration_s")));
	json_decref(o);
	free(p);
	ev.update = 1;
	p = alert_format_webhook(&ev, 0, "hook");
	o = json_loads(p, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "updated");
	json_decref(o);
	free(p);
	ev = incident_event("instance_down", "site-a dns down", 1);
	p = alert_format_webhook(&ev, 1, "hook");
	o = json_loads(p, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "resolved");
	cr_assert_float_eq(json_real_value(json_object_get(o, "duration_s")), 134.0, 1e-9);
	cr_assert(strstr(json_string_value(json_object_get(o, "summary")),
			 "(resolved after 2 m 14 s)") != NULL);
	json_decref(o);
	free(p);
}

Test(alert_format, slack_cannot_mention_or_link)
{
	struct event ev = incident_event(
	    "hijack", "dns possible hijack: unknown identity \"<!channel> <https://evil.example/x|Re-auth>\"", 0);
	char *p;
	json_t *o;
	const char *text;

	snprintf(ev.detail, sizeof(ev.detail),
		 "{\"identity\":\"<!channel> `x` <https://evil.example/x|Re-auth>\"}");
	p = alert_format_slack(&ev, 0);
	o = json_loads(p, 0, NULL);
	text = json_string_value(json_object_get(o, "text"));
	cr_assert(strchr(text, '<') == NULL && strchr(text, '>') == NULL, "%s", text);
	cr_assert(strstr(text, "&lt;!channel&gt;") != NULL, "%s", text);
	/* the identity once more as code, with no way out of the code span */
	cr_assert(strstr(text, "\nidentity: `&lt;!channel&gt; 'x' &lt;https://evil.example/x|Re-auth&gt;`") !=
		      NULL,
		  "%s", text);
	json_decref(o);
	free(p);
}

Test(alert_format, alertmanager_names_labels_and_link)
{
	struct event ev = incident_event("branch_isolated", "branch br4 isolated", 0);
	char *p = alert_format_alertmanager(&ev, &ev, 0, "https://noc.example/anycast/");
	json_t *arr = json_loads(p, 0, NULL), *a = json_array_get(arr, 0);
	json_t *labels = json_object_get(a, "labels");

	cr_assert_str_eq(json_string_value(json_object_get(labels, "alertname")),
			 "AnycastBranchIsolated");
	cr_assert_str_eq(json_string_value(json_object_get(labels, "incident")), "7");
	cr_assert_str_eq(json_string_value(json_object_get(labels, "severity")), "critical");
	cr_assert_null(json_object_get(labels, "instance"), "Prometheus owns \"instance\"");
	cr_assert_str_eq(json_string_value(json_object_get(a, "generatorURL")),
			 "https://noc.example/anycast/#/incident/7");
	cr_assert_null(json_object_get(a, "endsAt"));
	cr_assert(strstr(json_string_value(json_object_get(json_object_get(a, "annotations"),
							   "description")),
			 "br1 dns IPv4: site-a -> site-b") != NULL);
	json_decref(arr);
	free(p);

	ev = incident_event("instance_down", "site-a dns down", 1);
	p = alert_format_alertmanager(&ev, &ev, 1, "http://127.0.0.1:8053/");
	arr = json_loads(p, 0, NULL);
	a = json_array_get(arr, 0);
	labels = json_object_get(a, "labels");
	cr_assert_str_eq(json_string_value(json_object_get(labels, "alertname")), "AnycastInstanceDown");
	cr_assert_str_eq(json_string_value(json_object_get(labels, "anycast_instance")), "site-a");
	cr_assert_not_null(json_object_get(a, "endsAt"));
	json_decref(arr);
	free(p);
}

Test(alert_format, email_fields_cannot_end_the_message)
{
	struct event ev = incident_event("hijack", "x\n.\r\nMAIL FROM:<evil@example>\r\n", 0);
	size_t len = 0;
	char *p;

	snprintf(ev.detail, sizeof(ev.detail),
		 "{\"agents\":[{\"agent\":\"br1\\n.\\r\\nRCPT TO:<x>\",\"family\":4}]}");
	/* the incident mail, and the mail of an event outside any incident */
	for (int k = 0; k < 2; k++) {
		if (k == 1) {
			ev.incident_id = 0;
			snprintf(ev.from_instance, sizeof(ev.from_instance), "a\n.\r\nDATA");
			snprintf(ev.agent, sizeof(ev.agent), "b\r\nMAIL FROM:<e@x>");
		}
		p = alert_format_email(&ev, 0, "monitor@example", "ops@example", &len);
		cr_assert_not_null(p);
		cr_assert_eq(strlen(p), len);
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '\n')
				cr_assert(i > 0 && p[i - 1] == '\r', "mail %d: bare LF at %zu", k, i);
			if (p[i] == '\r')
				cr_assert(p[i + 1] == '\n', "mail %d: bare CR at %zu", k, i);
		}
		cr_assert_null(strstr(p, "\r\n.\r\n"), "a lone dot line would end DATA");
		cr_assert_null(strstr(p, "\r\nMAIL FROM"), "%s", p);
		cr_assert_null(strstr(p, "\r\nRCPT TO"), "%s", p);
		cr_assert_null(strstr(p, "\r\nDATA"), "%s", p);
		free(p);
	}
}

/* U+202E (right-to-left override), U+2066, U+200B and C1 NEL in a server's
 * identity: none of them reaches Slack, Alertmanager, a webhook's summary or a mail,
 * so "evil" spelled backwards cannot read as a real site's name. */
Test(alert_format, bidi_zero_width_and_c1_never_reach_people)
{
	struct event ev = incident_event(
	    "hijack", "dns possible hijack: unknown identity \"\xe2\x80\xae" "b-etis\xe2\x81\xa6z\xe2\x80\x8by\xc2\x85\"", 0);
	const char *hidden[] = { "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x80\x8b", "\xc2\x85" };
	char *out[4];
	size_t len = 0;

	snprintf(ev.detail, sizeof(ev.detail),
		 "{\"agents\":[{\"agent\":\"br1\xe2\x80\xae\",\"service\":\"dns\",\"family\":4}]}");
	out[0] = alert_format_slack(&ev, 0);
	out[1] = alert_format_webhook(&ev, 0, "r");
	out[2] = alert_format_alertmanager(&ev, &ev, 0, "http://c:8053");
	out[3] = alert_format_email(&ev, 0, "monitor@example", "ops@example", &len);
	for (size_t i = 0; i < 4; i++) {
		cr_assert_not_null(out[i]);
		/* JSON may carry them escaped: decode those first */
		json_t *o = json_loads(out[i], JSON_DECODE_ANY, NULL);
		/* a webhook's incident object is data for programs, as received;
		 * its summary is the part people read */
		json_t *shown = i == 1 ? json_object_get(o, "summary") : o;
		char *text = shown != NULL ? json_dumps(shown, JSON_ENCODE_ANY) : NULL;
		const char *plain = text != NULL ? text : out[i];
		for (size_t h = 0; h < 4; h++)
			cr_assert_null(strstr(plain, hidden[h]), "payload %zu carries hidden character %zu: %s", i,
				       h, plain);
		cr_assert_not_null(strstr(plain, "b-etis"), "%s", plain);
		free(text);
		json_decref(o);
		free(out[i]);
	}
}

Test(alert_format, a_guard_withdrawal_names_the_guard_and_the_instance)
{
	struct event ev = incident_event("withdrawn",
					 "site-a dns withdrawn by its guard: 3 failed probes: timeout "
					 "on 198.18.255.53; br1 failed over to site-b",
					 0);
	char *p = alert_format_alertmanager(&ev, &ev, 0, "https://noc.example/anycast/");
	json_t *arr = json_loads(p, 0, NULL), *a = json_array_get(arr, 0);
	json_t *labels = json_object_get(a, "labels");

	cr_assert_str_eq(json_string_value(json_object_get(labels, "alertname")), "AnycastWithdrawn");
	cr_assert_str_eq(json_string_value(json_object_get(labels, "anycast_instance")), "site-a");
	cr_assert_str_eq(json_string_value(json_object_get(labels, "severity")), "warning");
	cr_assert(strstr(json_string_value(json_object_get(json_object_get(a, "annotations"),
							   "summary")),
			 "site-a dns withdrawn by its guard: 3 failed probes") != NULL);
	json_decref(arr);
	free(p);
	p = alert_format_slack(&ev, 0);
	cr_assert(strstr(p, "[FIRING] withdrawn: site-a dns withdrawn by its guard: 3 failed probes: "
			    "timeout on 198.18.255.53; br1 failed over to site-b") != NULL,
		  "%s", p);
	free(p);
}

/* A non-ASCII summary goes into Subject as RFC 2047 encoded words that
 * decode to it; an ASCII one stays as it is. */
Test(alert_format, email_subject_is_rfc2047_when_not_ascii)
{
	struct event ev = incident_event(
	    "instance_down", "site-é dns down: br1 failed over to site-b, 2001:db8::53 — ça va", 0);
	char *p, *s, *e, decoded[512] = "", chunk[200];
	size_t len = 0, o = 0;

	p = alert_format_email(&ev, 0, "monitor@example", "ops@example", &len);
	cr_assert_not_null(p);
	s = strstr(p, "\r\nSubject: ");
	cr_assert_not_null(s);
	s += 11;
	/* every encoded word on the (folded) Subject decodes to a piece of the text */
	while ((s = strstr(s, "=?UTF-8?B?")) != NULL && s < strstr(p, "\r\nMessage-ID")) {
		unsigned char out[200];
		int n;

		s += 10;
		e = strstr(s, "?=");
		cr_assert_not_null(e);
		snprintf(chunk, sizeof(chunk), "%.*s", (int)(e - s), s);
		n = EVP_DecodeBlock(out, (const unsigned char *)chunk, (int)strlen(chunk));
		cr_assert_gt(n, 0);
		while (n > 0 && out[n - 1] == '\0' && chunk[strlen(chunk) - 1] == '=')
			n--; /* the padding EVP_DecodeBlock keeps */
		memcpy(decoded + o, out, (size_t)n);
		o += (size_t)n;
		s = e + 2;
	}
	decoded[o] = '\0';
	cr_assert(strstr(decoded, "site-é dns down") != NULL && strstr(decoded, "— ça va") != NULL,
		  "decoded [%s] from %s", decoded, p);
	for (size_t i = 0; p[i] != '\0' && strncmp(p + i, "\r\n\r\n", 4) != 0; i++)
		cr_assert((unsigned char)p[i] < 0x80, "non-ASCII byte in the header at %zu", i);
	free(p);
	ev = incident_event("instance_down", "site-a dns down", 0);
	p = alert_format_email(&ev, 0, "monitor@example", "ops@example", &len);
	cr_assert_not_null(strstr(p, "\r\nSubject: [FIRING]"), "%s", p);
	free(p);
	/* not UTF-8 at all (60 continuation bytes, found by the fuzzer: it looped) */
	char junk[61];

	memset(junk, 0x80, 60);
	junk[60] = '\0';
	ev = incident_event("instance_down", junk, 0);
	p = alert_format_email(&ev, 0, "monitor@example", "ops@example", &len);
	cr_assert_not_null(p);
	cr_assert_not_null(strstr(p, "=?UTF-8?B?"));
	free(p);
}
