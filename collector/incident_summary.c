/* collector/incident_summary.c - the words of incidents: kind, state and
 * severity names, and the one-line human summary ("site-a dns down: br1,
 * br4 failed over to site-b") the dashboard, status and every alert show. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector/incident.h"
#include "collector/incident_impl.h"

static const char *const kind_names[INCIDENT_N_KINDS] = {
    "instance_down", "route_change", "outage",          "hijack",      "split",
    "flapping",      "suboptimal",   "branch_isolated", "agent_silent", "withdrawn",
    "serial_lag",    "inconsistent_answer", "answer_mismatch"};

const char *
incident_kind_name(enum incident_kind k)
{
	return k < INCIDENT_N_KINDS ? kind_names[k] : "unknown";
}

int
incident_kind_parse(const char *s, enum incident_kind *k)
{
	for (int i = 0; i < INCIDENT_N_KINDS; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*k = (enum incident_kind)i;
			return 0;
		}
	}
	return -1;
}

int
incident_severity_level(enum incident_kind k)
{
	switch (k) {
	case INCIDENT_INSTANCE_DOWN:
	case INCIDENT_OUTAGE:
	case INCIDENT_HIJACK:
	case INCIDENT_BRANCH_ISOLATED:
		return 2;
	case INCIDENT_SUBOPTIMAL:
		return 0;
	default:
		return 1;
	}
}

const char *
incident_severity(enum incident_kind k)
{
	static const char *const names[] = {"info", "warning", "critical"};

	return names[incident_severity_level(k)];
}

const char *
incident_state_name(enum incident_state s)
{
	return s == INCIDENT_PENDING ? "pending" : s == INCIDENT_OPEN ? "open" : "resolved";
}

/* ---- summaries ---- */

/* "br1, br4" (each agent once) of the entries for which pick() holds. */
static void
agent_list(const struct incident *inc, int (*pick)(const struct incident_agent *, const char *),
	   const char *arg, char *buf, size_t len)
{
	size_t i, j, off = 0;
	int shown = 0, more = 0;

	buf[0] = '\0';
	for (i = 0; i < inc->n_agents; i++) {
		const struct incident_agent *a = &inc->agents[i];

		if (pick != NULL && !pick(a, arg))
			continue;
		for (j = 0; j < i; j++)
			if (strcmp(inc->agents[j].agent, a->agent) == 0 &&
			    (pick == NULL || pick(&inc->agents[j], arg)))
				break;
		if (j < i)
			continue;
		if (shown == 6) {
			more++;
			continue;
		}
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
					shown ? ", " : "", a->agent);
		shown++;
	}
	if (more > 0 && off < len)
		snprintf(buf + off, len - off, " and %d more", more);
}

static int
pick_to(const struct incident_agent *a, const char *to)
{
	return strcmp(a->to, to) == 0;
}

int
incident_agent_count(const struct incident *inc)
{
	int n = 0;

	for (size_t i = 0; i < inc->n_agents; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(inc->agents[j].agent, inc->agents[i].agent) == 0)
				break;
		n += j == i;
	}
	return n;
}

static void
services_text(const struct incident *inc, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < inc->n_services; i++)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
					i ? ", " : "", inc->services[i]);
}

/* "br1, br4 failed over to site-b; br2 gets no answer" */
static void
moves_text(const struct incident *inc, const char *moved, char *buf, size_t len)
{
	char tos[8][RESULT_NAME_MAX], list[160];
	size_t off = 0, i;
	int n_to = 0, k;

	buf[0] = '\0';
	for (i = 0; i < inc->n_agents && n_to < 8; i++) {
		for (k = 0; k < n_to; k++)
			if (strcmp(tos[k], inc->agents[i].to) == 0)
				break;
		if (k == n_to)
			snprintf(tos[n_to++], RESULT_NAME_MAX, "%s", inc->agents[i].to);
	}
	for (k = 0; k < n_to; k++) {
		int one;

		agent_list(inc, pick_to, tos[k], list, sizeof(list));
		one = strchr(list, ',') == NULL && strstr(list, " and ") == NULL;
		if (tos[k][0] == '\0')
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
						"%s%s %s no answer", k ? "; " : "", list,
						one ? "gets" : "get");
		else
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s %s %s",
						k ? "; " : "", list, moved, tos[k]);
	}
}

/* snprintf into the summary (truncation is fine: it is one line). */
static void say(struct incident *inc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct incident *inc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(inc->summary, sizeof(inc->summary), fmt, ap);
	va_end(ap);
}

void
incident_summarize(struct incident *inc)
{
	char svcs[160], moves[200], list[160];
	const char *from = inc->n_agents > 0 ? inc->agents[0].from : "";

	services_text(inc, svcs, sizeof(svcs));
	agent_list(inc, NULL, NULL, list, sizeof(list));
	moves_text(inc,
		   inc->kind == INCIDENT_INSTANCE_DOWN || inc->kind == INCIDENT_WITHDRAWN
			   ? "failed over to"
			   : "moved to",
		   moves, sizeof(moves));
	switch (inc->kind) {
	case INCIDENT_INSTANCE_DOWN:
		say(inc, "%s %s down%s%s", inc->instance, svcs,
			 moves[0] ? ": " : "", moves);
		break;
	case INCIDENT_ROUTE_CHANGE:
		say(inc, "%s route change: %s (from %s)", svcs,
			 moves, from[0] ? from : "?");
		break;
	case INCIDENT_OUTAGE:
		say(inc, "%s outage: %s %s no answer%s%s%s", svcs, list,
		    incident_agent_count(inc) == 1 ? "gets" : "get", from[0] ? " (last served by " : "",
		    from, from[0] ? ")" : "");
		break;
	case INCIDENT_HIJACK:
		say(inc,
			 "%s possible hijack: unknown identity \"%s\" answers %s", svcs, inc->identity,
			 list);
		break;
	case INCIDENT_SPLIT:
		say(inc,
			 "%s split: answers to %s alternate between instances", svcs, list);
		break;
	case INCIDENT_FLAPPING:
		say(inc, "%s flapping: catchment of %s keeps changing",
			 svcs, list);
		break;
	case INCIDENT_SUBOPTIMAL:
		say(inc, "%s sub-optimal: %s served by a slower instance",
			 svcs, list);
		break;
	case INCIDENT_BRANCH_ISOLATED:
		say(inc,
			 "branch %s isolated: no anycast and no management address answers (%s)", list,
			 svcs);
		break;
	case INCIDENT_AGENT_SILENT:
		say(inc, "agent %s silent: no reports", list);
		break;
	case INCIDENT_WITHDRAWN:
		say(inc, "%s %s withdrawn by its guard: %s%s%s", inc->instance, svcs,
		    inc->reason[0] ? inc->reason : "no reason given", moves[0] ? "; " : "", moves);
		break;
	case INCIDENT_SERIAL_LAG:
		say(inc, "%s %s serves an old zone serial%s%s", inc->instance, svcs,
		    list[0] ? ": " : "", list);
		break;
	case INCIDENT_INCONSISTENT_ANSWER:
		say(inc, "%s %s answers differ from other instances with the same serial%s%s",
		    inc->instance, svcs, list[0] ? ": " : "", list);
		break;
	case INCIDENT_ANSWER_MISMATCH:
		say(inc, "%s anycast answer differs from %s's own answer for %s", svcs,
		    inc->instance, list);
		break;
	default:
		say(inc, "%s", incident_kind_name(inc->kind));
	}
	for (char *p = inc->summary; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

