/* agent/spool.c - the durable result spool: segment files of JSON lines,
 * sequence numbers, acknowledgement and the size bound (see spool.h). */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define WBUF_FLUSH_AT (1u << 20)  /* flush inside spool_append() beyond this */
#define WBUF_MAX (16u << 20)      /* refuse records when this much cannot be written */
#define SEG_MIN (64u * 1024)
#define SEG_MAX (16u << 20)
#define READ_BUF (64u * 1024)

struct seg {
	uint64_t first_seq; /* from the file name */
	uint64_t size;      /* logical size: on disk plus buffered (last segment) */
	uint64_t waiting;   /* valid records not yet acknowledged */
	uint64_t head;      /* at open: offset of its first waiting record */
};

struct spool {
	char dir[PATH_MAX - 64];
	uint64_t max_bytes, seg_max;
	struct seg *segs; /* oldest first */
	size_t nsegs, segcap;
	uint64_t head_off; /* offset in segs[0] of the first waiting record */
	int cur_fd;        /* last segment, append only; -1 when none is open */
	int cur_dirty;     /* written since the last fdatasync */
	char *wbuf;
	size_t wlen, wcap;
	uint64_t next_seq, acked, dropped, corrupt, depth, bytes, syncs;
};

/* Reads a file line by line from an offset with a fixed buffer. */
struct lreader {
	int fd;
	uint64_t off; /* file offset of buf[0] */
	size_t len, pos;
	int eof, skipping;
	char buf[READ_BUF];
};

enum { LR_EOF = 0, LR_LINE = 1, LR_TORN = 2, LR_LONG = 3 };

/* Next line: LR_LINE with the line and its length (no newline) and *end (offset after the
 * newline), LR_LONG for an over-long line (skipped, *end set), LR_TORN for a
 * last line without newline (*end = its start), LR_EOF, or -errno. */
static int lr_next(struct lreader *lr, const char **line, size_t *len, uint64_t *end)
{
	for (;;) {
		char *nl = memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos);
		if (nl) {
			size_t l = (size_t)(nl - (lr->buf + lr->pos));
			*line = lr->buf + lr->pos;
			*len = l;
			lr->pos += l + 1;
			*end = lr->off + lr->pos;
			if (lr->skipping) {
				lr->skipping = 0;
				return LR_LONG;
			}
			return LR_LINE;
		}
		if (lr->eof) {
			*end = lr->off + lr->pos;
			return lr->pos < lr->len ? LR_TORN : LR_EOF;
		}
		if (lr->pos == 0 && lr->len == sizeof(lr->buf)) {
			lr->off += lr->len; /* over-long line: forget what we have */
			lr->len = 0;
			lr->skipping = 1;
		} else if (lr->pos > 0) {
			memmove(lr->buf, lr->buf + lr->pos, lr->len - lr->pos);
			lr->off += lr->pos;
			lr->len -= lr->pos;
			lr->pos = 0;
		}
		ssize_t n = pread(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len,
				  (off_t)(lr->off + lr->len));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			lr->eof = 1;
		lr->len += (size_t)n;
	}
}

/* The record's "seq", or 0 when the line is not a plausible record. */
static uint64_t line_seq(const char *line, size_t len)
{
	static const char key[] = "\"seq\":";

	if (len < 2 || line[0] != '{' || line[len - 1] != '}')
		return 0;
	const char *p = memmem(line, len, key, sizeof(key) - 1);
	if (!p)
		return 0;
	p += sizeof(key) - 1;
	const char *e = line + len;
	while (p < e && *p == ' ')
		p++;
	uint64_t v = 0;
	int digits = 0;
	for (; p < e && *p >= '0' && *p <= '9'; p++, digits++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0 || p == e || (*p != ',' && *p != '}' && *p != ' '))
		return 0;
	return v;
}

static void seg_path(const struct spool *sp, uint64_t first, char *buf, size_t len)
{
	snprintf(buf, len, "%s/seg-%020" PRIu64 ".jsonl", sp->dir, first);
}

static int open_seg_read(const struct spool *sp, size_t i)
{
	char path[PATH_MAX];

	seg_path(sp, sp->segs[i].first_seq, path, sizeof(path));
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void fsync_dir(const struct spool *sp)
{
	int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Write the state file; durable: fsync it and the directory. */
static int save_state(struct spool *sp, int durable)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[256];
	int fd, len, rc = 0;

	snprintf(path, sizeof(path), "%s/state", sp->dir);
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", sp->dir);
	len = snprintf(text, sizeof(text),
		       "next_seq %" PRIu64 "\nacked %" PRIu64 "\ndropped %" PRIu64
		       "\ncorrupt %" PRIu64 "\n",
		       sp->next_seq, sp->acked, sp->dropped, sp->corrupt);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len || (durable && fsync(fd) < 0))
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		fsync_dir(sp);
	if (rc < 0)
		log_warnx("spool: cannot save %s: %s", path, strerror(-rc));
	return rc;
}

static void load_state(struct spool *sp)
{
	char path[PATH_MAX], key[32];
	uint64_t v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/state", sp->dir);
	if (!(f = fopen(path, "re")))
		return;
	while (fscanf(f, "%31s %" SCNu64, key, &v) == 2) {
		if (strcmp(key, "next_seq") == 0)
			sp->next_seq = v;
		else if (strcmp(key, "acked") == 0)
			sp->acked = v;
		else if (strcmp(key, "dropped") == 0)
			sp->dropped = v;
		else if (strcmp(key, "corrupt") == 0)
			sp->corrupt = v;
	}
	fclose(f);
	/* Standalone mode keeps its last seq in "seq": never go below it. */
	snprintf(path, sizeof(path), "%s/seq", sp->dir);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%" SCNu64, &v) == 1 && v + 1 > sp->next_seq)
			sp->next_seq = v + 1;
		fclose(f);
	}
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;
	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

static int push_seg(struct spool *sp, uint64_t first)
{
	if (sp->nsegs == sp->segcap) {
		size_t cap = sp->segcap ? sp->segcap * 2 : 16;
		struct seg *n = realloc(sp->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		sp->segs = n;
		sp->segcap = cap;
	}
	sp->segs[sp->nsegs++] = (struct seg){.first_seq = first};
	return 0;
}

static void remove_seg0(struct spool *sp)
{
	char path[PATH_MAX];

	seg_path(sp, sp->segs[0].first_seq, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("spool: unlink %s", path);
	sp->bytes -= sp->segs[0].size;
	sp->depth -= sp->segs[0].waiting;
	memmove(sp->segs, sp->segs + 1, (sp->nsegs - 1) * sizeof(*sp->segs));
	sp->nsegs--;
	sp->head_off = 0;
}

/* Scan one segment at open: count valid waiting lines, cut a torn tail,
 * find the head offset (for the first segment kept). */
static int scan_seg(struct spool *sp, struct seg *s, uint64_t *prev_seq)
{
	uint64_t *head_off = &s->head;
	char path[PATH_MAX];
	struct lreader *lr;
	const char *line;
	size_t len;
	uint64_t end = 0, pos = 0;
	int rc, fd;

	seg_path(sp, s->first_seq, path, sizeof(path));
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	if (!(lr = calloc(1, sizeof(*lr)))) {
		close(fd);
		return -ENOMEM;
	}
	lr->fd = fd;
	*head_off = UINT64_MAX;
	while ((rc = lr_next(lr, &line, &len, &end)) > 0) {
		uint64_t seq = rc == LR_LINE ? line_seq(line, len) : 0;
		if (rc == LR_TORN) {
			log_warnx("spool: %s: torn last line at offset %" PRIu64 " cut off", path,
				  end);
			if (ftruncate(fd, (off_t)end) < 0)
				log_warn("spool: truncate %s", path);
			sp->corrupt++;
			break;
		}
		if (seq == 0 || seq <= *prev_seq) {
			log_warnx("spool: %s: unreadable record at offset %" PRIu64 " skipped",
				  path, pos);
			sp->corrupt++;
		} else {
			*prev_seq = seq;
			if (seq > sp->acked) {
				s->waiting++;
				if (*head_off == UINT64_MAX)
					*head_off = pos;
			}
		}
		pos = end;
	}
	s->size = end;
	if (*head_off == UINT64_MAX)
		*head_off = end;
	free(lr);
	close(fd);
	return rc < 0 ? rc : 0;
}

static int load_segments(struct spool *sp)
{
	DIR *d = opendir(sp->dir);
	struct dirent *de;
	uint64_t prev = 0;
	int rc = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t first;
		char tail[8];
		if (sscanf(de->d_name, "seg-%20" SCNu64 ".jsonl%7s", &first, tail) == 1 &&
		    strlen(de->d_name) == 30 && (rc = push_seg(sp, first)) < 0)
			break;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), cmp_seg);
	for (size_t i = 0; i < sp->nsegs; i++) {
		if ((rc = scan_seg(sp, &sp->segs[i], &prev)) < 0)
			return rc;
		sp->bytes += sp->segs[i].size;
		sp->depth += sp->segs[i].waiting;
		if (sp->segs[i].first_seq > sp->next_seq)
			sp->next_seq = sp->segs[i].first_seq;
	}
	if (prev + 1 > sp->next_seq)
		sp->next_seq = prev + 1;
	/* Segments with nothing waiting go, except the newest. */
	while (sp->nsegs > 1 && sp->segs[0].waiting == 0)
		remove_seg0(sp);
	if (sp->nsegs > 0)
		sp->head_off = sp->segs[0].head;
	return 0;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	int rc;

	if (!sp)
		return NULL;
	sp->cur_fd = -1;
	sp->next_seq = 1;
	sp->max_bytes = max_bytes ? max_bytes : SPOOL_DEFAULT_MAX_BYTES;
	sp->seg_max = sp->max_bytes / 8;
	if (sp->seg_max < SEG_MIN)
		sp->seg_max = SEG_MIN;
	if (sp->seg_max > SEG_MAX)
		sp->seg_max = SEG_MAX;
	if (strlen(dir) >= sizeof(sp->dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	strcpy(sp->dir, dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	load_state(sp);
	if ((rc = load_segments(sp)) < 0)
		goto fail;
	if (sp->nsegs > 0) {
		char path[PATH_MAX];
		seg_path(sp, sp->segs[sp->nsegs - 1].first_seq, path, sizeof(path));
		if ((sp->cur_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	save_state(sp, 1);
	log_info("spool %s: %" PRIu64 " results waiting, %" PRIu64 " bytes, next seq %" PRIu64
		 ", %" PRIu64 " dropped so far",
		 dir, sp->depth, sp->bytes, sp->next_seq, sp->dropped);
	return sp;
fail:
	log_warnx("spool %s: %s", dir, strerror(-rc));
	spool_close(sp);
	errno = -rc;
	return NULL;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->cur_fd >= 0) {
		spool_sync(sp);
		save_state(sp, 1);
		close(sp->cur_fd);
	}
	free(sp->segs);
	free(sp->wbuf);
	free(sp);
}

uint64_t spool_next_seq(const struct spool *sp)
{
	return sp->next_seq;
}

int spool_flush(struct spool *sp)
{
	size_t done = 0;
	int rc = 0;

	while (done < sp->wlen) {
		ssize_t n = write(sp->cur_fd, sp->wbuf + done, sp->wlen - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (done > 0) {
		/* Keep what did not go out; lines complete on the next call. */
		memmove(sp->wbuf, sp->wbuf + done, sp->wlen - done);
		sp->wlen -= done;
		sp->cur_dirty = 1;
	}
	return rc;
}

int spool_sync(struct spool *sp)
{
	int rc;

	if ((rc = spool_flush(sp)) < 0)
		return rc;
	if (sp->cur_dirty && sp->cur_fd >= 0) {
		if (fdatasync(sp->cur_fd) < 0)
			return -errno;
		sp->cur_dirty = 0;
		sp->syncs++;
	}
	return 0;
}

/* Start a new segment whose first record is seq. */
static int rotate(struct spool *sp, uint64_t seq)
{
	char path[PATH_MAX];
	int rc, fd;

	if (sp->cur_fd >= 0) {
		if ((rc = spool_sync(sp)) < 0)
			return rc;
	}
	seg_path(sp, seq, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((rc = push_seg(sp, seq)) < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	if (sp->cur_fd >= 0)
		close(sp->cur_fd);
	sp->cur_fd = fd;
	fsync_dir(sp);
	/* The previous segment may now be entirely acknowledged. */
	if (sp->nsegs == 2 && sp->segs[0].waiting == 0)
		remove_seg0(sp);
	return 0;
}

static void drop_oldest_segment(struct spool *sp)
{
	uint64_t lost = sp->segs[0].waiting;

	sp->dropped += lost;
	log_warnx("spool full (%" PRIu64 " bytes > %" PRIu64 "): dropped %" PRIu64
		  " oldest results, %" PRIu64 " in total",
		  sp->bytes, sp->max_bytes, lost, sp->dropped);
	remove_seg0(sp);
	save_state(sp, 1);
}

int spool_append(struct spool *sp, uint64_t seq, const char *line, size_t len)
{
	int rc;

	if (len + 1 > SPOOL_LINE_MAX)
		return -E2BIG;
	if (seq != sp->next_seq || line_seq(line, len) != seq || memchr(line, '\n', len))
		return -EINVAL;
	if (sp->wlen + len + 1 > WBUF_MAX)
		return -ENOSPC;
	if (sp->nsegs == 0 || sp->segs[sp->nsegs - 1].size >= sp->seg_max) {
		if ((rc = rotate(sp, seq)) < 0)
			return rc;
	}
	if (sp->wlen + len + 1 > sp->wcap) {
		size_t cap = sp->wcap ? sp->wcap : 64 * 1024;
		while (cap < sp->wlen + len + 1)
			cap *= 2;
		char *n = realloc(sp->wbuf, cap);
		if (!n)
			return -ENOMEM;
		sp->wbuf = n;
		sp->wcap = cap;
	}
	memcpy(sp->wbuf + sp->wlen, line, len);
	sp->wbuf[sp->wlen + len] = '\n';
	sp->wlen += len + 1;
	sp->segs[sp->nsegs - 1].size += len + 1;
	sp->segs[sp->nsegs - 1].waiting++;
	sp->bytes += len + 1;
	sp->depth++;
	sp->next_seq++;
	while (sp->bytes > sp->max_bytes && sp->nsegs > 1)
		drop_oldest_segment(sp);
	if (sp->wlen >= WBUF_FLUSH_AT)
		spool_flush(sp); /* an error keeps the data buffered: retried later */
	return 0;
}

/* Walk waiting records from the head. For each valid one, fn decides: 1 take
 * it and go on, 0 stop before it. consume != 0 moves the head past taken ones. */
typedef int (*walk_fn)(void *arg, uint64_t seq, const char *line, size_t len);

static int walk(struct spool *sp, int consume, walk_fn fn, void *arg)
{
	struct lreader *lr = malloc(sizeof(*lr));
	int rc = 0, stop = 0;

	if (!lr)
		return -ENOMEM;
	for (size_t i = 0; i < sp->nsegs && !stop;) {
		int fd = open_seg_read(sp, i);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		memset(lr, 0, offsetof(struct lreader, buf));
		lr->fd = fd;
		lr->off = i == 0 ? sp->head_off : 0;
		const char *line;
		size_t len;
		uint64_t end;
		int r;
		while ((r = lr_next(lr, &line, &len, &end)) > 0 && r != LR_TORN) {
			uint64_t seq = r == LR_LINE ? line_seq(line, len) : 0;
			if (seq != 0 && seq > sp->acked) {
				if (!fn(arg, seq, line, len)) {
					stop = 1;
					break;
				}
				if (consume) {
					sp->segs[i].waiting--;
					sp->depth--;
				}
			}
			if (consume && i == 0)
				sp->head_off = end;
		}
		close(fd);
		if (r < 0) {
			rc = r;
			break;
		}
		if (stop || r == LR_TORN)
			break;
		/* Segment read to its end. */
		if (consume && i == 0 && sp->nsegs > 1 && sp->segs[0].waiting == 0)
			remove_seg0(sp); /* the next one is now segs[0] */
		else
			i++;
	}
	free(lr);
	return rc;
}

struct peek_ctx {
	char *out;
	size_t outlen, used, max, n;
	uint64_t first, last;
};

static int peek_one(void *arg, uint64_t seq, const char *line, size_t len)
{
	struct peek_ctx *c = arg;

	if (c->n >= c->max || c->used + len + 1 > c->outlen)
		return 0;
	memcpy(c->out + c->used, line, len);
	c->out[c->used + len] = '\n';
	c->used += len + 1;
	if (c->n++ == 0)
		c->first = seq;
	c->last = seq;
	return 1;
}

long spool_peek(struct spool *sp, size_t max_records, char *out, size_t outlen, size_t *n,
		uint64_t *first_seq, uint64_t *last_seq)
{
	struct peek_ctx c = {.out = out, .outlen = outlen, .max = max_records ? max_records : 1};
	int rc;

	*n = 0;
	*first_seq = *last_seq = 0;
	if (sp->depth == 0)
		return 0;
	if ((rc = spool_sync(sp)) < 0 || (rc = walk(sp, 0, peek_one, &c)) < 0)
		return rc;
	*n = c.n;
	*first_seq = c.first;
	*last_seq = c.last;
	return (long)c.used;
}

static int ack_one(void *arg, uint64_t seq, const char *line, size_t len)
{
	(void)line;
	(void)len;
	return seq <= *(uint64_t *)arg;
}

int spool_ack(struct spool *sp, uint64_t seq)
{
	int rc;

	if (seq <= sp->acked)
		return 0;
	if (seq >= sp->next_seq)
		seq = sp->next_seq - 1;
	if ((rc = spool_flush(sp)) < 0 || (rc = walk(sp, 1, ack_one, &seq)) < 0)
		return rc;
	sp->acked = seq;
	save_state(sp, 0);
	return 0;
}

static int take_one(void *arg, uint64_t seq, const char *line, size_t len)
{
	uint64_t *taken = arg;
	(void)line;
	(void)len;
	if (*taken)
		return 0;
	*taken = seq;
	return 1;
}

int spool_drop_oldest_record(struct spool *sp)
{
	uint64_t taken = 0;
	int rc;

	if (sp->depth == 0)
		return -ENOENT;
	if ((rc = spool_flush(sp)) < 0 || (rc = walk(sp, 1, take_one, &taken)) < 0)
		return rc;
	if (!taken)
		return -ENOENT;
	sp->acked = taken; /* everything before it is acknowledged or dropped */
	sp->dropped++;
	save_state(sp, 1);
	return 0;
}

void spool_raise_seq(struct spool *sp, uint64_t seq)
{
	if (seq < sp->next_seq)
		return;
	sp->next_seq = seq + 1;
	save_state(sp, 1);
}

void spool_get_stats(const struct spool *sp, struct spool_stats *st)
{
	st->next_seq = sp->next_seq;
	st->acked = sp->acked;
	st->depth = sp->depth;
	st->bytes = sp->bytes;
	st->dropped = sp->dropped;
	st->corrupt = sp->corrupt;
	st->segments = sp->nsegs;
	st->syncs = sp->syncs;
}
