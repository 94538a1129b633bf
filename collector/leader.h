/* collector/leader.h - leader election among collectors sharing one
 * PostgreSQL store. A thread of its own keeps trying for the leader lock
 * (collector/store_lock.h) every second and, once it holds it, proves its
 * session alive every second. The loop side turns that into a role: leader
 * while the lock was confirmed within the lease (3 s), follower otherwise, so
 * a leader whose lock connection breaks or stalls steps down at once or
 * within the lease, even while the thread is stuck on the network. */
#ifndef ANYCAST_LEADER_H
#define ANYCAST_LEADER_H

#include <uv.h>

#define LEADER_RETRY_MS 1000 /* lock attempts and liveness checks */
#define LEADER_LEASE_MS 3000 /* a role not confirmed for this long is given up */

struct leader;

/* The role changed: is_leader 1 (gained) or 0 (lost). Runs on the loop. */
typedef void (*leader_fn)(void *ctx, int is_leader);

/* Take one attempt now (blocking, so a collector alone on its database is
 * leader from its first second), then start the thread. cb runs on later
 * changes only: the first role is leader_is_leader's. NULL with a reason in
 * err when the thread or handles cannot start. */
struct leader *leader_new(uv_loop_t *loop, const char *url, leader_fn cb, void *ctx, char *err,
			  size_t errlen);
/* The role the loop last took: 1 leader, 0 follower. */
int leader_is_leader(const struct leader *l);
/* Stop the thread (waits for its current attempt), close the lock's
 * connection (the server releases the lock: another collector takes over),
 * close the handles; memory is freed in the last close callback. cb is
 * never called afterwards. */
void leader_close(struct leader *l);

#endif
