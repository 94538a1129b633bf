/* collector/metrics_process.c - the process_* metrics' values, read from
 * /proc/self (CPU time, memory, start time) and the file descriptor limit,
 * as Prometheus's own client libraries read them on Linux. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "collector/metrics.h"

/* Boot time (Unix seconds) from /proc/stat's btime line. */
static int
boot_time(unsigned long long *btime)
{
	char line[256];
	FILE *f = fopen("/proc/stat", "r");
	int rc = -ENOENT;

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %llu", btime) == 1) {
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static int64_t
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int64_t n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the one opendir used */
}

int
metrics_process_read(struct metrics_process *p)
{
	char buf[1024], *q;
	unsigned long long utime, stime, start, vsize, btime;
	long long rss;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	size_t n;
	FILE *f;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((f = fopen("/proc/self/stat", "r")) == NULL)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields that follow start after the last ')'. */
	if ((q = strrchr(buf, ')')) == NULL || tck <= 0 || page <= 0)
		return -EINVAL;
	if (sscanf(q + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d"
		   " %llu %llu %lld",
		   &utime, &stime, &start, &vsize, &rss) != 5)
		return -EINVAL;
	if ((rc = boot_time(&btime)) != 0)
		return rc;
	p->cpu_seconds = (double)(utime + stime) / (double)tck;
	p->virtual_bytes = vsize;
	p->resident_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
	p->start_time_seconds = (double)btime + (double)start / (double)tck;
	p->open_fds = count_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
	else
		p->max_fds = -1;
	return 0;
}
