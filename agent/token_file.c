/* agent/token_file.c - the agent's bearer token file (see token_file.h). */
#include "agent/token_file.h"

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* Read the bearer token: a regular file nobody else can read, surrounding
 * whitespace stripped, printable ASCII without spaces (it goes in a header).
 * Start-up only: exits with a one-line reason on any problem. */
void token_file_read(const char *path, char *out, size_t outlen)
{
	struct stat sb;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fatal("token file %s", path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		fatalx("token file %s: not a regular file", path);
	if (sb.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))
		fatalx("token file %s is group- or world-accessible (mode %04o): chmod 600 it",
		       path, (unsigned)(sb.st_mode & 07777));
	if ((n = read(fd, out, outlen - 1)) < 0)
		fatal("token file %s", path);
	close(fd);
	out[n] = '\0';
	char *p = out, *e = out + n;
	while (p < e && isspace((unsigned char)*p))
		p++;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	memmove(out, p, (size_t)(e - p) + 1);
	if (out[0] == '\0')
		fatalx("token file %s is empty", path);
	for (p = out; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			fatalx("token file %s: the token must be one word of printable ASCII",
			       path);
}

