/* agent/prober.h - the round scheduler: every service's anycast addresses and
 * every instance's management addresses probed at nearly the same moment, on
 * one libuv loop, with jitter, never piling up rounds. Emits one struct result
 * per query sent. */
#ifndef ANYCAST_PROBER_H
#define ANYCAST_PROBER_H

#include <stdint.h>
#include <uv.h>
#include "common/inventory.h"
#include "common/result.h"

struct prober;

/* One result, on the loop thread. r is valid during the call only; the callee
 * may set r->seq before storing/printing it. */
typedef void (*prober_result_fn)(void *ctx, struct result *r);
/* A service's round is complete: anycast_ok is 1 when every anycast address
 * of the service gave an answer (any identity), else 0. */
typedef void (*prober_round_fn)(void *ctx, const char *service, uint64_t round, int anycast_ok);

/* Copies what it needs from inv (services only). NULL on bad input/alloc. */
struct prober *prober_new(uv_loop_t *loop, const struct inventory *inv, prober_result_fn on_result,
			  prober_round_fn on_round, void *ctx);
/* Replace the services (config reload) without losing rounds in flight. 0 or -errno. */
int prober_set_services(struct prober *p, const struct inventory *inv);
/* Start periodic rounds (once != 0: a single round per service, then idle). */
int prober_start(struct prober *p, int once);
void prober_close(struct prober *p, void (*cb)(void *arg), void *arg);

struct prober_stats {
	uint64_t sent, answered, timeouts, unreachable, dropped_unmatched, malformed;
	uint64_t skipped_rounds; /* rounds not started because the previous one still ran */
};
void prober_get_stats(const struct prober *p, struct prober_stats *st);

#endif
