/* agent/spool.h - the durable result spool: JSON lines in segment files under
 * one directory, per-agent sequence numbers that never go back, acknowledgement
 * up to a sequence number, and a size bound that drops the oldest segment.
 *
 * Layout of the directory (all files owned by the spool):
 *   seg-<first seq, 20 digits>.jsonl  one record per line, seq strictly increasing
 *   state                             "next_seq N\nacked A\ndropped D\ncorrupt C\n"
 *   seq                               read only: standalone mode's last seq, never gone below
 * A record is appended to a memory buffer by spool_append(), written with one
 * write() per spool_flush() (the agent calls it once per loop iteration) and
 * made durable by spool_sync() (fdatasync, blocking) or spool_sync_async() (on
 * libuv's thread pool). spool_peek() hands out durable records only: nothing
 * leaves the agent before it is on disk.
 * On reopen a torn last line (crash during write) is cut off, lines that are
 * not a record with a larger seq than the previous one are skipped and counted.
 * No locking: one spool per directory and process, used on one thread. */
#ifndef ANYCAST_SPOOL_H
#define ANYCAST_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SPOOL_DEFAULT_MAX_BYTES (100ull * 1024 * 1024)
#define SPOOL_LINE_MAX 8192 /* longest record line accepted, newline included */

struct spool;

struct spool_stats {
	uint64_t next_seq; /* seq the next appended record gets */
	uint64_t acked;    /* highest seq acknowledged by the collector */
	uint64_t depth;    /* records waiting (appended, not acknowledged, not dropped) */
	uint64_t bytes;    /* bytes on disk and in the write buffer, all segments */
	uint64_t dropped;  /* records dropped by the size bound, total, persisted */
	uint64_t corrupt;  /* unreadable lines skipped on reopen, total, persisted */
	uint64_t segments; /* segment files */
	uint64_t syncs;    /* fdatasync calls made by this process */
};

/* Open or create the spool in dir (created with mode 0700 when missing);
 * max_bytes 0 means SPOOL_DEFAULT_MAX_BYTES. Scans the segments, repairs a
 * torn tail. NULL with errno set on failure (logged). Caller frees with
 * spool_close(). */
struct spool *spool_open(const char *dir, uint64_t max_bytes);
/* Flush, sync, persist the state and free. NULL is a no-op. */
void spool_close(struct spool *sp);

/* The seq the next spool_append() must carry (from 1; strictly increasing
 * across restarts). */
uint64_t spool_next_seq(const struct spool *sp);

/* Append one record: line (without newline, len bytes, no '\n' inside) must be
 * a JSON object whose "seq" is spool_next_seq(). Copies line; on success the
 * next seq is advanced. When the bound is exceeded the oldest segment is
 * dropped and counted. Returns 0, -EINVAL (bad line or seq), -E2BIG (line too
 * long) or a negative errno from the file system. */
int spool_append(struct spool *sp, uint64_t seq, const char *line, size_t len);

/* Write buffered records to the current segment (one write()). 0 or -errno;
 * on error the records stay buffered and the next call tries again. */
int spool_flush(struct spool *sp);
/* Flush, then fdatasync what was written since the last sync, on this
 * thread. 0 or -errno. */
int spool_sync(struct spool *sp);
/* Flush, then fdatasync on libuv's thread pool: cb(arg, 0 or -errno) runs on
 * the loop when the records written so far are durable. Returns 0 (cb will
 * run), 1 when they already are (cb will not run), or -errno (cb will not
 * run). Several may be in flight; the spool must stay open until each cb. */
int spool_sync_async(struct spool *sp, uv_loop_t *loop, void (*cb)(void *arg, int status),
                     void *arg);

/* The oldest waiting durable records (see spool_sync), at most max_records
 * and at most outlen bytes (outlen >= SPOOL_LINE_MAX: at least one record),
 * each line followed by '\n' in out (caller's buffer). Sets *n, *first_seq
 * and *last_seq; *n = 0 when nothing durable waits. Returns the bytes put in
 * out, or -errno. Does not consume: spool_ack() does. */
long spool_peek(struct spool *sp, size_t max_records, char *out, size_t outlen, size_t *n,
                uint64_t *first_seq, uint64_t *last_seq);

/* The collector has every record up to seq: forget them, delete segments that
 * are entirely acknowledged (never the one being written). Seqs already
 * acknowledged or dropped are ignored. 0 or -errno. */
int spool_ack(struct spool *sp, uint64_t seq);

/* Drop the oldest waiting record without acknowledgement (the collector
 * refuses it); counted in dropped. 0, or -ENOENT when nothing waits. */
int spool_drop_oldest_record(struct spool *sp);

/* Make sure future records get seqs above seq (the collector knows a higher
 * one: the spool directory was lost). Waiting records keep theirs. */
void spool_raise_seq(struct spool *sp, uint64_t seq);

void spool_get_stats(const struct spool *sp, struct spool_stats *st);

#endif
