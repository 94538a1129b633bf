/* collector/leader.c - the election thread and the role it gives the loop.
 *
 * The thread owns the lock's connection: it polls the lock every
 * LEADER_RETRY_MS and publishes (held, time of the last confirmation) under
 * a mutex, waking the loop when "held" changes. The loop owns the role:
 * leader = held and confirmed within LEADER_LEASE_MS, evaluated when woken
 * and every half second. Transitions (follower <-> leader) are reported to
 * the owner's callback, one per change. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "collector/leader.h"
#include "collector/store_lock.h"

#define CHECK_MS 500

struct leader {
	uv_loop_t *loop;
	uv_async_t wake;
	uv_timer_t check;
	int closing_handles;
	leader_fn cb;
	void *ctx;
	int role;                 /* loop thread only */

	struct store_lock *lock;  /* the thread's once it runs */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;                 /* under mu */
	int held;                 /* under mu */
	int64_t confirmed_ns;     /* under mu: CLOCK_MONOTONIC of the last confirmation */
	char last_err[256];       /* thread only: the last reason logged */
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One poll, published; the loop is woken when the lock came or went. */
static void
poll_once(struct leader *l)
{
	char err[256] = "";
	int rc = store_lock_poll(l->lock, err, sizeof(err)), changed;

	if (rc < 0 && strcmp(err, l->last_err) != 0) {
		log_warnx("%s", err);
		snprintf(l->last_err, sizeof(l->last_err), "%s", err);
	} else if (rc >= 0) {
		l->last_err[0] = '\0';
	}
	pthread_mutex_lock(&l->mu);
	changed = l->held != (rc == 1);
	l->held = rc == 1;
	if (rc == 1)
		l->confirmed_ns = mono_ns();
	pthread_mutex_unlock(&l->mu);
	if (changed)
		uv_async_send(&l->wake);
}

static void *
run(void *arg)
{
	struct leader *l = arg;
	struct timespec until;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += LEADER_RETRY_MS / 1000;
		until.tv_nsec += (long)(LEADER_RETRY_MS % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!l->stop && pthread_cond_timedwait(&l->cond, &l->mu, &until) != ETIMEDOUT)
			;
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		poll_once(l);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* The role as the lease allows it now. */
static int
current_role(struct leader *l)
{
	int held;
	int64_t age;

	pthread_mutex_lock(&l->mu);
	held = l->held;
	age = mono_ns() - l->confirmed_ns;
	pthread_mutex_unlock(&l->mu);
	return held && age < (int64_t)LEADER_LEASE_MS * 1000000;
}

static void
evaluate(struct leader *l)
{
	int role = current_role(l);

	if (role == l->role || l->closing_handles)
		return;
	l->role = role;
	log_info(role ? "leader: holding the leader lock, acting as leader"
		      : "leader: leader lock lost or not confirmed, stepping down to follower");
	if (l->cb != NULL)
		l->cb(l->ctx, role);
}

static void
on_wake(uv_async_t *a)
{
	evaluate(a->data);
}

static void
on_check(uv_timer_t *t)
{
	evaluate(t->data);
}

static void
handle_closed(uv_handle_t *h)
{
	struct leader *l = h->data;

	if (--l->closing_handles > 0)
		return;
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

struct leader *
leader_new(uv_loop_t *loop, const char *url, leader_fn cb, void *ctx, char *err, size_t errlen)
{
	struct leader *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->lock = store_lock_new(url)) == NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->loop = loop;
	l->cb = cb;
	l->ctx = ctx;
	pthread_mutex_init(&l->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&l->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	uv_timer_init(loop, &l->check);
	l->check.data = l;
	if (uv_async_init(loop, &l->wake, on_wake) != 0) {
		snprintf(err, errlen, "cannot start the leader election");
		store_lock_free(l->lock);
		l->closing_handles = 1;
		uv_close((uv_handle_t *)&l->check, handle_closed);
		return NULL;
	}
	l->wake.data = l;
	poll_once(l);
	l->role = current_role(l);
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		snprintf(err, errlen, "cannot start the leader election thread");
		store_lock_free(l->lock);
		l->closing_handles = 2;
		uv_close((uv_handle_t *)&l->wake, handle_closed);
		uv_close((uv_handle_t *)&l->check, handle_closed);
		return NULL;
	}
	uv_timer_start(&l->check, on_check, CHECK_MS, CHECK_MS);
	log_info("leader: %s", l->role ? "acting as leader" : "follower (another collector leads)");
	return l;
}

int
leader_is_leader(const struct leader *l)
{
	return l->role;
}

void
leader_close(struct leader *l)
{
	if (l == NULL || l->closing_handles)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	store_lock_free(l->lock);
	l->lock = NULL;
	l->cb = NULL;
	l->closing_handles = 2;
	uv_close((uv_handle_t *)&l->wake, handle_closed);
	uv_close((uv_handle_t *)&l->check, handle_closed);
}
