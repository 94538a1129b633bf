/* agent/spool.c - the durable result spool: the write path, acknowledgement
 * and the size bound (see spool.h; the file format is in spool_file.c). */
#include "agent/spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define WBUF_FLUSH_AT (1u << 20) /* flush inside spool_append() beyond this */
#define WBUF_MAX (16u << 20)     /* refuse records when this much cannot be written */
#define SEG_MIN (64u * 1024)
#define SEG_MAX (16u << 20)

static int open_seg_read(const struct spool *sp, size_t i)
{
	char path[PATH_MAX];

	spool_file_seg_path(sp, sp->segs[i].first_seq, path, sizeof(path));
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void remove_seg0(struct spool *sp)
{
	char path[PATH_MAX];

	spool_file_seg_path(sp, sp->segs[0].first_seq, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("spool: unlink %s", path);
	sp->bytes -= sp->segs[0].size;
	sp->depth -= sp->segs[0].waiting;
	memmove(sp->segs, sp->segs + 1, (sp->nsegs - 1) * sizeof(*sp->segs));
	sp->nsegs--;
	sp->head_off = 0;
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
	spool_file_load_state(sp);
	if ((rc = spool_file_scan(sp)) < 0)
		goto fail;
	/* Segments with nothing waiting go, except the newest. */
	while (sp->nsegs > 1 && sp->segs[0].waiting == 0)
		remove_seg0(sp);
	if (sp->nsegs > 0)
		sp->head_off = sp->segs[0].head;
	if (sp->nsegs > 0) {
		char path[PATH_MAX];
		spool_file_seg_path(sp, sp->segs[sp->nsegs - 1].first_seq, path, sizeof(path));
		if ((sp->cur_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	/* What survived the last run is as durable as it gets. */
	sp->written_seq = sp->durable_seq = sp->next_seq - 1;
	spool_file_save_state(sp, 1);
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
		spool_file_save_state(sp, 1);
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
	}
	if (sp->wlen == 0)
		sp->written_seq = sp->next_seq - 1;
	return rc;
}

int spool_sync(struct spool *sp)
{
	uint64_t target;
	int rc;

	if ((rc = spool_flush(sp)) < 0)
		return rc;
	target = sp->written_seq;
	if (target > sp->durable_seq && sp->cur_fd >= 0) {
		/* Older segments were synced when they were closed (rotate). */
		if (fdatasync(sp->cur_fd) < 0)
			return -errno;
		sp->durable_seq = target;
		sp->syncs++;
	}
	return 0;
}

struct sync_req {
	uv_fs_t req;
	struct spool *sp;
	uint64_t target;
	int fd;
	void (*cb)(void *arg, int status);
	void *arg;
};

static void on_synced(uv_fs_t *req)
{
	struct sync_req *s = req->data;
	int status = (int)req->result;

	close(s->fd);
	if (status == 0) {
		if (s->target > s->sp->durable_seq)
			s->sp->durable_seq = s->target;
		s->sp->syncs++;
	}
	uv_fs_req_cleanup(req);
	s->cb(s->arg, status < 0 ? status : 0);
	free(s);
}

int spool_sync_async(struct spool *sp, uv_loop_t *loop, void (*cb)(void *arg, int status),
                     void *arg)
{
	struct sync_req *s;
	int rc;

	if ((rc = spool_flush(sp)) < 0)
		return rc;
	if (sp->written_seq <= sp->durable_seq || sp->cur_fd < 0)
		return 1;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	/* Our own descriptor: rotate() may close cur_fd while the pool works. */
	if ((s->fd = dup(sp->cur_fd)) < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	s->sp = sp;
	s->target = sp->written_seq;
	s->cb = cb;
	s->arg = arg;
	s->req.data = s;
	if ((rc = uv_fs_fdatasync(loop, &s->req, s->fd, on_synced)) < 0) {
		close(s->fd);
		free(s);
		return rc;
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
	spool_file_seg_path(sp, seq, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((rc = spool_file_push_seg(sp, seq)) < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	if (sp->cur_fd >= 0)
		close(sp->cur_fd);
	sp->cur_fd = fd;
	spool_file_fsync_dir(sp);
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
	spool_file_save_state(sp, 1);
}

int spool_append(struct spool *sp, uint64_t seq, const char *line, size_t len)
{
	int rc;

	if (len + 1 > SPOOL_LINE_MAX)
		return -E2BIG;
	if (seq != sp->next_seq || spool_file_line_seq(line, len) != seq || memchr(line, '\n', len))
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
	struct spool_lreader *lr = malloc(sizeof(*lr));
	int rc = 0, stop = 0;

	if (!lr)
		return -ENOMEM;
	for (size_t i = 0; i < sp->nsegs && !stop;) {
		int fd = open_seg_read(sp, i);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		memset(lr, 0, offsetof(struct spool_lreader, buf));
		lr->fd = fd;
		lr->off = i == 0 ? sp->head_off : 0;
		const char *line;
		size_t len;
		uint64_t end;
		int r;
		while ((r = spool_file_next_line(lr, &line, &len, &end)) > 0 && r != LR_TORN) {
			uint64_t seq = r == LR_LINE ? spool_file_line_seq(line, len) : 0;
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
	uint64_t first, last, limit;
};

static int peek_one(void *arg, uint64_t seq, const char *line, size_t len)
{
	struct peek_ctx *c = arg;

	if (c->n >= c->max || c->used + len + 1 > c->outlen || seq > c->limit)
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
	struct peek_ctx c = {.out = out,
	                     .outlen = outlen,
	                     .max = max_records ? max_records : 1,
	                     .limit = sp->durable_seq};
	int rc;

	*n = 0;
	*first_seq = *last_seq = 0;
	if (sp->depth == 0 || sp->durable_seq <= sp->acked)
		return 0;
	if ((rc = walk(sp, 0, peek_one, &c)) < 0)
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
	spool_file_save_state(sp, 0);
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
	spool_file_save_state(sp, 1);
	return 0;
}

void spool_raise_seq(struct spool *sp, uint64_t seq)
{
	if (seq < sp->next_seq)
		return;
	sp->next_seq = seq + 1;
	spool_file_save_state(sp, 1);
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
