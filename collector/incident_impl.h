/* collector/incident_impl.h - shared by incident.c, incident_entries.c and
 * incident_summary.c (private to them). */
#ifndef ANYCAST_INCIDENT_IMPL_H
#define ANYCAST_INCIDENT_IMPL_H

#include "collector/incident.h"

/* Rewrite inc->summary from its kind, services, instance and agents. */
void incident_summarize(struct incident *inc);

/* ---- one incident's contents (incident_entries.c) ---- */

/* Add service to the incident's list (at most 4 kept; the first is "service"). */
void incident_add_service(struct incident *inc, const char *service);
/* The member with this key ("<type>/agent/service/family" or an instance key), or NULL. */
struct incident_member *incident_find_member(const struct incident *inc, const char *key);
/* Add or update a member; open != 0 keeps the incident open. */
void incident_add_member(struct incident *inc, const char *key, int open);
/* The agent's entry for (service, family), or NULL. */
struct incident_agent *incident_find_agent(const struct incident *inc, const char *agent,
					   const char *service, int family);
/* Whether the agent has any entry. */
int incident_has_agent(const struct incident *inc, const char *agent);
/* The event's agent entry, new or reopened; from is kept when it exists. NULL
 * when the event names no agent or memory is short. */
struct incident_agent *incident_add_agent(struct incident *inc, const struct event *ev,
					  const char *from, const char *to);
/* Where the entry's agent is now served (to); a return to the instance an
 * instance_down or withdrawn incident is about keeps the failover's target. */
void incident_set_to(const struct incident *inc, struct incident_agent *a, const char *to);
/* Remember the event (id, agent) as part of the story (at most INCIDENT_EVENTS_MAX). */
void incident_add_event_ref(struct incident *inc, int64_t id, const char *agent);
/* The event joins: its service, the time span and the event reference. */
void incident_touch(struct incident *inc, const struct event *ev);
/* Whether a per-agent member key belongs to this entry. */
int incident_member_of_entry(const struct incident_member *m, const struct incident_agent *a);
/* Move entry ai of src (with its members and, when it was the agent's last
 * entry, its events) to dst. */
void incident_move_entry(struct incident *src, size_t ai, struct incident *dst);
/* Whether any open member belongs to this entry. */
int incident_entry_open(const struct incident *inc, const struct incident_agent *a);
/* End every entry still open at t. */
void incident_end_entries(struct incident *inc, int64_t t);

#endif
