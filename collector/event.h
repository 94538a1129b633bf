/* collector/event.h - an event raised by catchment tracking, as stored, served
 * by the API and sent as an alert. Types: docs/API.md, docs/INCIDENTS.md. */
#ifndef ANYCAST_EVENT_H
#define ANYCAST_EVENT_H

#include <stdint.h>
#include "common/result.h"

#define EVENT_DETAIL_MAX 2048

struct event {
	int64_t id;                         /* assigned by the store; 0 before */
	int64_t time_ms;
	char type[24];      /* catchment_change outage recovery instance_down instance_up
			       unknown_instance flapping split suboptimal */
	char agent[RESULT_NAME_MAX];        /* "" for events not tied to one agent (instance_down) */
	char service[RESULT_NAME_MAX];
	int family;                         /* 4, 6, or 0 */
	char from_instance[RESULT_NAME_MAX];/* "" = null */
	char to_instance[RESULT_NAME_MAX];
	char incident[160];  /* stable key of the incident this event opens or closes
				(e.g. "outage/branch-1/dns/4"): alerts dedupe and resolve on it */
	int resolves;        /* 1 when this event ends the incident named above */
	int64_t incident_id; /* the announced incident (collector/incident.h) it joined; 0 none */
	/* Alerts for incidents only: when it started, its one-line summary, and
	 * 1 for an update of an open incident (scope grew). */
	int64_t started_ms;
	char summary[256];
	int update;
	char detail[EVENT_DETAIL_MAX];      /* JSON object text: cause, evidence, agents, ... */
};

#endif
