/* agent/guard_bird.c - BIRD's control socket text protocol: a greeting
 * ("0001 BIRD 2.x ready."), then per command reply lines "DDDD-text"
 * (continued), " text" (continuation of the previous code) and a last line
 * "DDDD text". Codes 0xxx are success, 8xxx/9xxx errors. */
#include "agent/guard_action.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BIRD_TIMEOUT_MS 3000
#define BIRD_REPLY_MAX 16384

/* Read until a complete final line is in buf; return its code or -1. */
static int read_reply(int fd, char *text, size_t textlen)
{
	char buf[BIRD_REPLY_MAX + 1];
	size_t have = 0, line = 0;
	int cont = -1; /* code of the last "DDDD-" line: a command's result comes
			* there, followed by an empty final "0000 " line */

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		/* Look at every complete line received so far. */
		for (char *nl; (nl = memchr(buf + line, '\n', have - line)); line = nl - buf + 1) {
			const char *l = buf + line;
			size_t len = nl - l;
			int code = 0;

			if (len < 5 || (l[4] != ' ' && l[4] != '-') || sscanf(l, "%4d", &code) != 1 ||
			    l[0] < '0' || l[0] > '9')
				continue;
			if (l[4] == '-' || (code == 0 && cont > 0 && len == 5)) {
				if (l[4] == '-') {
					cont = code;
					snprintf(text, textlen, "%.*s", (int)(len - 5), l + 5);
					continue;
				}
				return cont;
			}
			snprintf(text, textlen, "%.*s", (int)(len - 5), l + 5);
			return code;
		}
		if (have == BIRD_REPLY_MAX) {
			snprintf(text, textlen, "reply longer than %d bytes", BIRD_REPLY_MAX);
			return -1;
		}
		if (poll(&pfd, 1, BIRD_TIMEOUT_MS) <= 0) {
			snprintf(text, textlen, "no reply within %d ms", BIRD_TIMEOUT_MS);
			return -1;
		}
		n = read(fd, buf + have, BIRD_REPLY_MAX - have);
		if (n <= 0) {
			snprintf(text, textlen, "%s", n == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		have += (size_t)n;
	}
}

int guard_bird_command(const char *path, const char *cmd, char *text, size_t textlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = BIRD_TIMEOUT_MS / 1000 };
	char line[512];
	int fd, code = -1;
	size_t n;

	if (strlen(path) >= sizeof(sun.sun_path) || strchr(cmd, '\n')) {
		snprintf(text, textlen, "bad socket path or command");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(text, textlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(text, textlen, "connect %s: %s", path, strerror(errno));
		goto out;
	}
	code = read_reply(fd, text, textlen);
	if (code != 1) {
		if (code >= 0)
			snprintf(text, textlen, "unexpected greeting code %04d", code);
		code = -1;
		goto out;
	}
	n = (size_t)snprintf(line, sizeof(line), "%s\n", cmd);
	if (n >= sizeof(line) || write(fd, line, n) != (ssize_t)n) {
		snprintf(text, textlen, "write %s: %s", path, n >= sizeof(line) ? "too long" : strerror(errno));
		code = -1;
		goto out;
	}
	code = read_reply(fd, text, textlen);
out:
	close(fd);
	return code;
}
