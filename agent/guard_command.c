/* agent/guard_command.c - run a withdraw/restore command: posix_spawn with
 * argv (no shell, no PATH search), stdin from /dev/null, killed when it
 * outlives its timeout. */
#include "agent/guard_action.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int guard_command_run(const struct guard_argv *a, int timeout_ms, char *msg, size_t msglen)
{
	char *argv[GUARD_MAX_ARGV + 1];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc, status;

	for (int i = 0; i < a->argc; i++)
		argv[i] = (char *)a->argv[i];
	argv[a->argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	/* stdout carries the guard's JSON lines: the command writes to stderr. */
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(msg, msglen, "%s: %s", argv[0], strerror(rc));
		return -1;
	}
	for (int waited = 0;; waited += 10) {
		struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			snprintf(msg, msglen, "%s: waitpid: %s", argv[0], strerror(errno));
			return -1;
		}
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(msg, msglen, "%s: killed after %d ms", argv[0], timeout_ms);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (!WIFEXITED(status)) {
		snprintf(msg, msglen, "%s: killed by signal %d", argv[0], WTERMSIG(status));
		return -1;
	}
	snprintf(msg, msglen, "%s exited %d", argv[0], WEXITSTATUS(status));
	return WEXITSTATUS(status);
}
