/* tests/agent/test_spool.c - the durable spool: append, peek, acknowledge,
 * reopen, torn tails after a crash, the size bound and persistent seqs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/spool.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/test_spool.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	strcat(dir, "/spool"); /* spool_open creates it */
}

static void teardown(void)
{
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(spool, .init = setup, .fini = teardown);

/* A record line like the agent's, padded to about pad bytes. */
static int make_line(char *buf, size_t len, uint64_t seq, int pad)
{
	return snprintf(buf, len, "{\"seq\":%" PRIu64 ",\"service\":\"dns\",\"pad\":\"%*s\"}", seq,
	                pad, "x");
}

static void append_n(struct spool *sp, int n, int pad)
{
	char line[1024];
	for (int i = 0; i < n; i++) {
		uint64_t seq = spool_next_seq(sp);
		int len = make_line(line, sizeof(line), seq, pad);
		cr_assert_eq(spool_append(sp, seq, line, (size_t)len), 0, "append seq %" PRIu64,
		             seq);
	}
}

/* Peek everything waiting and check the seqs are first..first+n-1 in order. */
static size_t peek_all(struct spool *sp, uint64_t *first, uint64_t *last)
{
	static char out[1 << 20];
	size_t n;
	cr_assert_eq(spool_sync(sp), 0);
	long len = spool_peek(sp, 100000, out, sizeof(out), &n, first, last);
	cr_assert_geq(len, 0);
	uint64_t expect = *first;
	for (char *p = out; p < out + len;) {
		char *nl = memchr(p, '\n', (size_t)(out + len - p));
		cr_assert_not_null(nl);
		uint64_t seq = strtoull(p + 7, NULL, 10);
		cr_assert_eq(seq, expect, "got seq %" PRIu64 " want %" PRIu64, seq, expect);
		expect++;
		p = nl + 1;
	}
	return n;
}

Test(spool, append_peek_ack_reopen)
{
	struct spool *sp = spool_open(dir, 0);
	struct spool_stats st;
	char out[SPOOL_LINE_MAX * 4];
	uint64_t first, last;
	size_t n;

	cr_assert_not_null(sp);
	cr_assert_eq(spool_next_seq(sp), 1, "a new spool starts at seq 1");
	append_n(sp, 10, 20);
	spool_peek(sp, 4, out, sizeof(out), &n, &first, &last);
	cr_assert_eq(n, 0, "nothing is handed out before it is on disk");
	cr_assert_eq(spool_sync(sp), 0);
	long len = spool_peek(sp, 4, out, sizeof(out), &n, &first, &last);
	cr_assert_gt(len, 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(first, 1);
	cr_assert_eq(last, 4);
	cr_assert(strncmp(out, "{\"seq\":1,", 9) == 0);
	/* peek does not consume */
	spool_peek(sp, 4, out, sizeof(out), &n, &first, &last);
	cr_assert_eq(first, 1);
	cr_assert_eq(spool_ack(sp, 4), 0);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, 6);
	cr_assert_eq(st.acked, 4);
	spool_close(sp);

	sp = spool_open(dir, 0);
	cr_assert_not_null(sp);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, 6, "reopen keeps the 6 unacknowledged results");
	cr_assert_eq(spool_next_seq(sp), 11);
	cr_assert_eq(peek_all(sp, &first, &last), 6);
	cr_assert_eq(first, 5);
	cr_assert_eq(last, 10);
	cr_assert_eq(spool_ack(sp, 10), 0);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, 0);
	spool_peek(sp, 4, out, sizeof(out), &n, &first, &last);
	cr_assert_eq(n, 0);
	spool_close(sp);
}

Test(spool, rejects_bad_records)
{
	struct spool *sp = spool_open(dir, 0);
	cr_assert_not_null(sp);
	cr_assert_eq(spool_append(sp, 2, "{\"seq\":2}", 9), -EINVAL, "seq must be next_seq");
	cr_assert_eq(spool_append(sp, 1, "{\"seq\":2}", 9), -EINVAL, "line must carry the seq");
	cr_assert_eq(spool_append(sp, 1, "{\"seq\":1,\n}", 11), -EINVAL, "no newline inside");
	cr_assert_eq(spool_append(sp, 1, "{\"seq\":1}", 9), 0);
	cr_assert_eq(spool_next_seq(sp), 2);
	spool_close(sp);
}

Test(spool, torn_tail_after_crash_is_cut)
{
	struct spool *sp = spool_open(dir, 0);
	struct spool_stats st;
	uint64_t first, last;

	cr_assert_not_null(sp);
	append_n(sp, 5, 30);
	cr_assert_eq(spool_sync(sp), 0);
	spool_close(sp);
	/* A crash in the middle of the write of record 6. */
	char path[256];
	snprintf(path, sizeof(path), "%s/seg-%020d.jsonl", dir, 1);
	int fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "{\"seq\":6,\"serv", 14), 14);
	close(fd);

	sp = spool_open(dir, 0);
	cr_assert_not_null(sp);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, 5);
	cr_assert_eq(st.corrupt, 1, "the torn line is counted");
	cr_assert_eq(spool_next_seq(sp), 6);
	append_n(sp, 2, 30);
	cr_assert_eq(peek_all(sp, &first, &last), 7, "1..7 each once, no torn bytes");
	cr_assert_eq(first, 1);
	cr_assert_eq(last, 7);
	spool_close(sp);
}

Test(spool, corrupt_line_in_the_middle_is_skipped)
{
	struct spool *sp = spool_open(dir, 0);
	struct spool_stats st;
	uint64_t first, last;
	char path[256];

	append_n(sp, 3, 10);
	spool_close(sp);
	snprintf(path, sizeof(path), "%s/seg-%020d.jsonl", dir, 1);
	int fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "\0\0\0\0garbage\n", 12), 12);
	close(fd);
	sp = spool_open(dir, 0);
	append_n(sp, 2, 10);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, 5);
	cr_assert_eq(st.corrupt, 1);
	cr_assert_eq(peek_all(sp, &first, &last), 5);
	cr_assert_eq(last, 5);
	spool_close(sp);
}

Test(spool, killed_process_loses_nothing_flushed)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct spool *sp = spool_open(dir, 0);
		append_n(sp, 1000, 100);
		spool_flush(sp);
		_exit(0); /* no spool_close(): as after kill -9 */
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct spool *sp = spool_open(dir, 0);
	uint64_t first, last;
	cr_assert_not_null(sp);
	cr_assert_eq(spool_next_seq(sp), 1001);
	cr_assert_eq(peek_all(sp, &first, &last), 1000);
	spool_close(sp);
}

Test(spool, size_bound_drops_oldest_and_counts)
{
	const uint64_t max = 512 * 1024;
	struct spool *sp = spool_open(dir, max);
	struct spool_stats st;
	uint64_t first, last;

	cr_assert_not_null(sp);
	append_n(sp, 10000, 200); /* about 2.3 MB */
	spool_get_stats(sp, &st);
	cr_assert_leq(st.bytes, max);
	cr_assert_gt(st.dropped, 0);
	cr_assert_eq(st.depth + st.dropped, 10000, "every result is waiting or counted dropped");
	cr_assert_eq(peek_all(sp, &first, &last), st.depth);
	cr_assert_eq(first, st.dropped + 1, "the oldest ones were dropped");
	cr_assert_eq(last, 10000, "the newest are kept");
	uint64_t dropped = st.dropped;
	spool_close(sp);

	sp = spool_open(dir, max);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.dropped, dropped, "the drop count survives a restart");
	cr_assert_eq(st.depth, 10000 - dropped);
	spool_close(sp);
}

Test(spool, seq_never_goes_back)
{
	struct spool *sp = spool_open(dir, 64 * 1024);
	struct spool_stats st;

	append_n(sp, 2000, 100); /* several segments */
	cr_assert_eq(spool_ack(sp, 2000), 0);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, 0);
	cr_assert_eq(st.segments, 1, "acknowledged segments are deleted, not the current one");
	spool_close(sp);

	sp = spool_open(dir, 64 * 1024);
	cr_assert_eq(spool_next_seq(sp), 2001);
	spool_raise_seq(sp, 5000);
	cr_assert_eq(spool_next_seq(sp), 5001);
	spool_close(sp);
	sp = spool_open(dir, 64 * 1024);
	cr_assert_eq(spool_next_seq(sp), 5001, "a raised seq persists");
	spool_close(sp);
}

Test(spool, refused_record_can_be_dropped)
{
	struct spool *sp = spool_open(dir, 0);
	struct spool_stats st;
	uint64_t first, last;

	append_n(sp, 3, 10);
	cr_assert_eq(spool_drop_oldest_record(sp), 0);
	cr_assert_eq(peek_all(sp, &first, &last), 2);
	cr_assert_eq(first, 2);
	spool_close(sp);
	sp = spool_open(dir, 0);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.dropped, 1);
	cr_assert_eq(st.depth, 2);
	spool_close(sp);
}

Test(spool, ack_after_the_batch_was_dropped_by_the_bound)
{
	const uint64_t max = 256 * 1024;
	struct spool *sp = spool_open(dir, max);
	struct spool_stats st;
	char out[64 * 1024];
	uint64_t first, last;
	size_t n;

	append_n(sp, 100, 200);
	spool_sync(sp);
	cr_assert_gt(spool_peek(sp, 50, out, sizeof(out), &n, &first, &last), 0);
	cr_assert_eq(last, 50);
	/* While that batch is on the wire, the collector being slow, the spool
	 * fills up and drops its oldest segment, batch included. */
	append_n(sp, 2000, 200);
	spool_get_stats(sp, &st);
	cr_assert_gt(st.dropped, 50);
	uint64_t depth = st.depth;
	cr_assert_eq(spool_ack(sp, last), 0, "a late answer for dropped results is harmless");
	spool_get_stats(sp, &st);
	cr_assert_eq(st.depth, depth, "nothing still waiting is forgotten");
	cr_assert_eq(peek_all(sp, &first, &last), depth);
	cr_assert_eq(first, st.dropped + 1);
	cr_assert_eq(last, 2100);
	spool_close(sp);
}

Test(spool, standalone_seq_file_is_respected)
{
	char path[256];
	struct spool *sp = spool_open(dir, 0);
	spool_close(sp);
	snprintf(path, sizeof(path), "%s/seq", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "700\n");
	fclose(f);
	sp = spool_open(dir, 0);
	cr_assert_eq(spool_next_seq(sp), 701, "seqs used in standalone mode are not reused");
	spool_close(sp);
}

Test(spool, overlong_garbage_is_skipped)
{
	struct spool *sp = spool_open(dir, 0);
	struct spool_stats st;
	uint64_t first, last;
	char path[256];
	static char junk[200 * 1024];

	append_n(sp, 2, 10);
	spool_close(sp);
	/* 200 KB without a newline (more than the reader's buffer), then one. */
	memset(junk, 'x', sizeof(junk));
	junk[sizeof(junk) - 1] = '\n';
	snprintf(path, sizeof(path), "%s/seg-%020d.jsonl", dir, 1);
	int fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	sp = spool_open(dir, 0);
	append_n(sp, 2, 10);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.corrupt, 1);
	cr_assert_eq(st.depth, 4);
	cr_assert_eq(peek_all(sp, &first, &last), 4);
	cr_assert_eq(first, 1);
	cr_assert_eq(last, 4);
	spool_close(sp);
}

static void on_synced(void *arg, int status)
{
	cr_assert_eq(status, 0);
	(*(int *)arg)++;
}

Test(spool, async_sync_makes_records_available)
{
	struct spool *sp = spool_open(dir, 0);
	struct spool_stats st;
	uv_loop_t loop;
	char out[SPOOL_LINE_MAX * 4];
	uint64_t first, last;
	size_t n;
	int done = 0;

	uv_loop_init(&loop);
	append_n(sp, 5, 10);
	cr_assert_eq(spool_sync_async(sp, &loop, on_synced, &done), 0);
	append_n(sp, 5, 10); /* written after the sync started: not covered */
	spool_flush(sp);
	spool_peek(sp, 100, out, sizeof(out), &n, &first, &last);
	cr_assert_eq(n, 0, "not durable until the thread pool reports back");
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(done, 1);
	spool_peek(sp, 100, out, sizeof(out), &n, &first, &last);
	cr_assert_eq(n, 5, "exactly the records written before the sync began");
	cr_assert_eq(last, 5);
	cr_assert_eq(spool_sync_async(sp, &loop, on_synced, &done), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(spool_sync_async(sp, &loop, on_synced, &done), 1, "nothing new to sync");
	spool_peek(sp, 100, out, sizeof(out), &n, &first, &last);
	cr_assert_eq(n, 10);
	spool_get_stats(sp, &st);
	cr_assert_eq(st.syncs, 2);
	cr_assert_eq(uv_loop_close(&loop), 0);
	spool_close(sp);
}
