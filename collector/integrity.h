/* collector/integrity.h - answer integrity from the results of DNS checks:
 * which instance serves an old zone (serial_lag), which serves other data
 * with the same serial (inconsistent_answer), and where the answer through
 * the anycast address differs from the identified instance's own answer on
 * its management address in the same round (answer_mismatch). Pure: fed
 * results and the time, emits events; no I/O. docs/INCIDENTS.md describes
 * the events and how they fold into incidents. */
#ifndef ANYCAST_INTEGRITY_H
#define ANYCAST_INTEGRITY_H

#include <stddef.h>
#include <stdint.h>

#include "collector/catchment.h"
#include "common/result.h"

struct integrity;

/* A new detector; serial_lag_ms is how long an instance's serial may stay
 * behind the highest before serial_lag (<= 0: 5 minutes). NULL on no
 * memory. Free with integrity_free. */
struct integrity *integrity_new(int64_t serial_lag_ms);
void integrity_free(struct integrity *g);
void integrity_set_threshold(struct integrity *g, int64_t serial_lag_ms);

/* Feed n stored results (r[i].agent set). Records without a check feed
 * only "which instance serves which agent now". Events (opening and
 * resolving) go to cb during the call; ev is valid during the call only. */
void integrity_observe(struct integrity *g, const struct result *r, size_t n, int64_t now_ms,
                       catchment_event_fn cb, void *ctx);
/* Time passes: a lag that has lasted long enough is raised. */
void integrity_tick(struct integrity *g, int64_t now_ms, catchment_event_fn cb, void *ctx);

/* After a restart: the condition behind an open incident's member key
 * ("serial_lag/SERVICE/CHECK/INSTANCE", "inconsistent_answer/...", or
 * "answer_mismatch/AGENT/SERVICE/CHECK" with its instance) is taken as
 * still open, so that its end is seen and resolves the incident. Other
 * keys are ignored. */
void integrity_restore_open(struct integrity *g, const char *key, const char *instance);

/* The serial and digest last seen on instance's management address for
 * (service, check), for the instances API. 1 when known (fills the outputs),
 * else 0. */
int integrity_instance_state(const struct integrity *g, const char *service, const char *check,
                             const char *instance, int *has_serial, uint32_t *serial,
                             char digest[65], int64_t *seen_ms, int64_t *behind_since_ms);

#endif
