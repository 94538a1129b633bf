/* collector/alert_format.h - the payloads of the alert channels: generic JSON
 * webhook, Slack-compatible text, Alertmanager v2 alerts and a plain-text
 * email. Pure functions: the event (and, for a resolution, the event that
 * opened the incident) in, a malloc'd payload out (caller frees), NULL on
 * allocation failure. */
#ifndef ANYCAST_ALERT_FORMAT_H
#define ANYCAST_ALERT_FORMAT_H

#include <stddef.h>
#include "collector/event.h"

/* One readable line, e.g. "[FIRING] outage: agent br1 gets no answer from dns
 * (IPv4); last instance site-a". Control characters are replaced, so the line
 * is safe in a mail header. Returns buf. */
char *alert_format_summary(const struct event *ev, int resolved, char *buf, size_t len);

/* {"status": "firing"|"resolved", "id", "time", "type", "agent", "service",
 *  "family", "from_instance", "to_instance", "incident", "resolves",
 *  "detail": {...}, "summary", "route"} */
char *alert_format_webhook(const struct event *ev, int resolved, const char *route);

/* {"text": "<summary>"} with & < > escaped. */
char *alert_format_slack(const struct event *ev, int resolved);

/* [{"labels": {alertname, agent, service, instance, family, severity, incident},
 *   "annotations": {summary, description}, "startsAt", "endsAt" (resolved only),
 *   "generatorURL"}]. Labels come from open (the event that opened the
 * incident) so the resolution matches the firing alert; startsAt is open's
 * time and endsAt ev's. */
char *alert_format_alertmanager(const struct event *open, const struct event *ev, int resolved,
				const char *base_url);

/* RFC 5322 message with CRLF line ends; *len set. */
char *alert_format_email(const struct event *ev, int resolved, const char *from, const char *to,
			 size_t *len);

/* "critical" (outage, unknown_instance, instance_down), "warning" or "info"
 * (suboptimal), by the incident's opening type. */
const char *alert_format_severity(const char *incident_type);

#endif
