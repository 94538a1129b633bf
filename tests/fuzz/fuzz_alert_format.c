/* tests/fuzz/fuzz_alert_format.c - libFuzzer target: every alert payload
 * built from events whose names, summary and detail are arbitrary bytes (an
 * agent or a rogue server chose them). The webhook, Slack and Alertmanager
 * payloads must be JSON; Slack text must carry no markup (no < or >, every &
 * an entity); the e-mail must end lines only with CRLF and hold no other
 * control byte (libcurl dot-stuffs a "." after CRLF, so only a bare LF or CR
 * could end SMTP DATA early); the summary no control byte at all. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "collector/alert_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TYPES[] = { "catchment_change", "outage", "recovery",
				     "instance_down", "instance_up", "unknown_instance",
				     "flapping", "split", "suboptimal", "agent_silent" };

/* The next NUL-separated field of the input into dst (always terminated). */
static void
field(const uint8_t **p, const uint8_t *end, char *dst, size_t len)
{
	const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
	size_t n = (size_t)((nul ? nul : end) - *p);

	if (n >= len)
		n = len - 1;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p = nul ? nul + 1 : end;
}

static void
must_be_json(char *s)
{
	json_t *j;

	if (s == NULL)
		return;
	if ((j = json_loads(s, 0, NULL)) == NULL)
		abort();
	json_decref(j);
}

static void
check_slack(char *s)
{
	json_t *j;
	const char *t;

	if (s == NULL)
		return;
	if ((j = json_loads(s, 0, NULL)) == NULL || (t = json_string_value(json_object_get(j, "text"))) == NULL)
		abort();
	for (const char *p = t; *p != '\0'; p++) {
		if (*p == '<' || *p == '>')
			abort();
		if (*p == '&' && strncmp(p, "&amp;", 5) != 0 && strncmp(p, "&lt;", 4) != 0 &&
		    strncmp(p, "&gt;", 4) != 0)
			abort();
	}
	json_decref(j);
}

static void
check_email(const char *m, size_t len)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)m[i];

		if (c == '\n') {
			if (i == 0 || m[i - 1] != '\r')
				abort(); /* a bare LF */
		} else if (c == '\r') {
			if (i + 1 >= len || m[i + 1] != '\n')
				abort(); /* a bare CR */
		} else if (c < 0x20 && c != '\t') {
			abort();
		} else if (c == 0x7f) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct event open, ev;
	char sum[600], *s;
	size_t len = 0;

	if (size < 2)
		return 0;
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.type, sizeof(ev.type), "%s", TYPES[p[0] % (sizeof(TYPES) / sizeof(TYPES[0]))]);
	ev.resolves = p[1] & 1;
	ev.update = (p[1] >> 1) & 1;
	ev.incident_id = (p[1] >> 2) & 1 ? 42 : 0;
	ev.family = (p[1] >> 3) & 1 ? 6 : 4;
	ev.id = 7;
	ev.time_ms = 1764748800000LL;
	ev.started_ms = ev.time_ms - 60000;
	p += 2;
	field(&p, end, ev.agent, sizeof(ev.agent));
	field(&p, end, ev.service, sizeof(ev.service));
	field(&p, end, ev.from_instance, sizeof(ev.from_instance));
	field(&p, end, ev.to_instance, sizeof(ev.to_instance));
	field(&p, end, ev.incident, sizeof(ev.incident));
	field(&p, end, ev.summary, sizeof(ev.summary));
	field(&p, end, ev.detail, sizeof(ev.detail));
	open = ev;

	alert_format_summary(&ev, ev.resolves, sum, sizeof(sum));
	for (const char *q = sum; *q != '\0'; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			abort();
	s = alert_format_webhook(&ev, ev.resolves, "route");
	must_be_json(s);
	free(s);
	s = alert_format_slack(&ev, ev.resolves);
	check_slack(s);
	free(s);
	s = alert_format_alertmanager(&open, &ev, ev.resolves, "http://127.0.0.1:8053/");
	must_be_json(s);
	free(s);
	s = alert_format_email(&ev, ev.resolves, "monitor@example.net", "noc@example.net", &len);
	check_email(s, len);
	free(s);
	return 0;
}
