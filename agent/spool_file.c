/* agent/spool_file.c - the spool's on-disk format: segment file names, a
 * bounded line reader, record validation, the state file, and the scan that
 * rebuilds the spool at open and repairs a torn tail (see spool.h). */
#include "agent/spool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int spool_file_next_line(struct spool_lreader *lr, const char **line, size_t *len, uint64_t *end)
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

uint64_t spool_file_line_seq(const char *line, size_t len)
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

void spool_file_seg_path(const struct spool *sp, uint64_t first, char *buf, size_t len)
{
	snprintf(buf, len, "%s/seg-%020" PRIu64 ".jsonl", sp->dir, first);
}

void spool_file_fsync_dir(const struct spool *sp)
{
	int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Write the state file; durable: fsync it and the directory. */
int spool_file_save_state(struct spool *sp, int durable)
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
		spool_file_fsync_dir(sp);
	/* Once per kind of failure, not at every acknowledgement. */
	if (rc < 0 && rc != sp->state_err)
		log_warnx("spool: cannot save %s: %s", path, strerror(-rc));
	sp->state_err = rc;
	return rc;
}

void spool_file_load_state(struct spool *sp)
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
	const struct spool_seg *x = a, *y = b;
	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int spool_file_push_seg(struct spool *sp, uint64_t first)
{
	if (sp->nsegs == sp->segcap) {
		size_t cap = sp->segcap ? sp->segcap * 2 : 16;
		struct spool_seg *n = realloc(sp->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		sp->segs = n;
		sp->segcap = cap;
	}
	sp->segs[sp->nsegs++] = (struct spool_seg){.first_seq = first};
	return 0;
}

/* Scan one segment at open: count valid waiting lines, cut a torn tail,
 * find the head offset (for the first segment kept). */
static int scan_seg(struct spool *sp, struct spool_seg *s, uint64_t *prev_seq)
{
	uint64_t *head_off = &s->head;
	char path[PATH_MAX];
	struct spool_lreader *lr;
	const char *line;
	size_t len;
	uint64_t end = 0, pos = 0;
	int rc, fd;

	spool_file_seg_path(sp, s->first_seq, path, sizeof(path));
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	if (!(lr = calloc(1, sizeof(*lr)))) {
		close(fd);
		return -ENOMEM;
	}
	lr->fd = fd;
	*head_off = UINT64_MAX;
	while ((rc = spool_file_next_line(lr, &line, &len, &end)) > 0) {
		uint64_t seq = rc == LR_LINE ? spool_file_line_seq(line, len) : 0;
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

int spool_file_scan(struct spool *sp)
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
		    strlen(de->d_name) == 30 && (rc = spool_file_push_seg(sp, first)) < 0)
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
	return 0;
}
