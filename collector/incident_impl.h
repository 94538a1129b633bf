/* collector/incident_impl.h - shared by incident.c and incident_summary.c
 * (private to them). */
#ifndef ANYCAST_INCIDENT_IMPL_H
#define ANYCAST_INCIDENT_IMPL_H

#include "collector/incident.h"

/* Rewrite inc->summary from its kind, services, instance and agents. */
void incident_summarize(struct incident *inc);

#endif
