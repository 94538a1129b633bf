/* collector/store_lock.h - the leader lock of several collectors sharing one
 * PostgreSQL store: a session advisory lock held on a connection of its own
 * (not the writer's or the reader's), so it lives exactly as long as that
 * session. The calls block on the network: collector/leader.c runs them on a
 * thread of its own. docs/SCALING.md describes the election. */
#ifndef ANYCAST_STORE_LOCK_H
#define ANYCAST_STORE_LOCK_H

#include <stddef.h>

/* pg_try_advisory_lock key of the leader: "anycastL" in ASCII (distinct
 * from the migrations' transaction lock, "anycast"). */
#define STORE_LOCK_LEADER_KEY 0x616e79636173744cLL

struct store_lock;

/* A lock on the database at url (a postgresql:// URL), not yet connected.
 * NULL out of memory. Caller frees with store_lock_free. */
struct store_lock *store_lock_new(const char *url);
/* Close the connection: the server releases the lock with the session. */
void store_lock_free(struct store_lock *l);

/* One step of the election: connect when there is no connection; if the
 * lock is held, prove the session is alive (a round trip); else try to take
 * it (pg_try_advisory_lock, never waits). Returns 1 when this session holds
 * the lock now, 0 when another session holds it, negative (-ENOTCONN) when
 * the connection failed or was lost: then the lock is not held, the
 * connection is dropped and the next call reconnects. err gets a one-line
 * reason when negative. */
int store_lock_poll(struct store_lock *l, char *err, size_t errlen);

#endif
