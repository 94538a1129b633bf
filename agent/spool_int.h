/* agent/spool_int.h - the spool's internals shared by spool.c (the API and
 * the write path) and spool_file.c (the on-disk format: segment names, the line
 * reader, record validation, the state file, the scan at open). Not for use
 * outside the spool. */
#ifndef ANYCAST_SPOOL_INT_H
#define ANYCAST_SPOOL_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/spool.h"

#define SPOOL_READ_BUF (64u * 1024)

/* One segment file. */
struct spool_seg {
	uint64_t first_seq; /* from the file name */
	uint64_t size;      /* logical size: on disk plus buffered (last segment) */
	uint64_t waiting;   /* valid records not yet acknowledged */
	uint64_t head;      /* at open: offset of its first waiting record */
};

/* Owned by its user through spool_open()/spool_close(). */
struct spool {
	char dir[PATH_MAX - 64];
	uint64_t max_bytes, seg_max;
	struct spool_seg *segs; /* oldest first */
	size_t nsegs, segcap;
	uint64_t head_off;    /* offset in segs[0] of the first waiting record */
	int cur_fd;           /* last segment, append only; -1 when none is open */
	uint64_t written_seq; /* last seq handed to write() in full */
	uint64_t durable_seq; /* last seq known on disk: fdatasync returned after its write */
	char *wbuf;
	size_t wlen, wcap;
	uint64_t next_seq, acked, dropped, corrupt, depth, bytes, syncs;
	int state_err; /* last error saving the state file, 0 after a success */
};

/* Reads a file line by line from an offset with a fixed buffer. */
struct spool_lreader {
	int fd;
	uint64_t off; /* file offset of buf[0] */
	size_t len, pos;
	int eof, skipping;
	char buf[SPOOL_READ_BUF];
};

enum { LR_EOF = 0, LR_LINE = 1, LR_TORN = 2, LR_LONG = 3 };

/* Next line: LR_LINE with the line and its length (no newline) and *end (offset after the
 * newline), LR_LONG for an over-long line (skipped, *end set), LR_TORN for a
 * last line without newline (*end = its start), LR_EOF, or -errno. */
int spool_file_next_line(struct spool_lreader *lr, const char **line, size_t *len, uint64_t *end);
/* The record's "seq", or 0 when the line is not a plausible record. */
uint64_t spool_file_line_seq(const char *line, size_t len);
/* Path of the segment whose first record is first. */
void spool_file_seg_path(const struct spool *sp, uint64_t first, char *buf, size_t len);
void spool_file_fsync_dir(const struct spool *sp);
/* Write the state file; durable: fsync it and the directory. 0 or -errno. */
int spool_file_save_state(struct spool *sp, int durable);
/* Read the state file (and standalone mode's "seq"), if any. */
void spool_file_load_state(struct spool *sp);
/* Append a segment entry (no file is touched). 0 or -ENOMEM. */
int spool_file_push_seg(struct spool *sp, uint64_t first);
/* List, sort and scan the segments: counts, sizes, next seq, head offsets;
 * cuts torn tails. 0 or -errno. */
int spool_file_scan(struct spool *sp);

#endif
