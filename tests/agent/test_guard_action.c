/* tests/agent/test_guard_action.c - the BIRD control-socket exchange against
 * a fake BIRD speaking the reply format of BIRD 2 on a Unix socket, and the
 * shell-free command runner. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/guard_action.h"

struct fake_bird {
	int lfd;
	const char *greeting;
	const char *reply;
	char got[128];
};

static void *serve(void *arg)
{
	struct fake_bird *b = arg;
	int fd = accept(b->lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return NULL;
	(void)!write(fd, b->greeting, strlen(b->greeting));
	n = read(fd, b->got, sizeof(b->got) - 1);
	if (n > 0) {
		b->got[n] = '\0';
		(void)!write(fd, b->reply, strlen(b->reply));
	}
	close(fd);
	return NULL;
}

static int run(const char *greeting, const char *reply, const char *cmd, char *text, char *got)
{
	struct fake_bird b = { .greeting = greeting, .reply = reply };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/gbirdXXXXXX";
	pthread_t t;
	int code;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/bird.ctl", dir);
	b.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(b.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(b.lfd, 1), 0);
	pthread_create(&t, NULL, serve, &b);
	code = guard_bird_command(sun.sun_path, cmd, text, 256);
	shutdown(b.lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(b.lfd);
	unlink(sun.sun_path);
	rmdir(dir);
	if (got)
		strcpy(got, b.got);
	return code;
}

TestSuite(guard_action);

Test(guard_action, bird_disable_reply_code_from_the_continued_line)
{
	char text[256], got[128];

	cr_assert_eq(run("0001 BIRD 2.0.12 ready.\n", "0009-anycast_dns: disabled\n0000 \n",
			 "disable anycast_dns", text, got), 9);
	cr_assert_str_eq(got, "disable anycast_dns\n");
	cr_assert_str_eq(text, "anycast_dns: disabled");
	cr_assert_eq(run("0001 BIRD 2.0.12 ready.\n", "0008-anycast_dns: already disabled\n0000 \n",
			 "disable anycast_dns", text, NULL), 8);
}

Test(guard_action, bird_errors)
{
	char text[256];

	cr_assert_eq(run("0001 BIRD ready.\n", "8003 No protocols match\n", "enable nope", text, NULL),
		     8003);
	cr_assert_str_eq(text, "No protocols match");
	cr_assert_eq(run("9999 go away\n", "", "enable x", text, NULL), -1);
	cr_assert(strstr(text, "greeting"), "%s", text);
	cr_assert_eq(run("0001 BIRD ready.\n", "garbage without newline", "enable x", text, NULL), -1);
	cr_assert_eq(guard_bird_command("/nonexistent/bird.ctl", "enable x", text, sizeof(text)), -1);
	cr_assert(strstr(text, "connect"), "%s", text);
}

Test(guard_action, command_runs_without_a_shell)
{
	struct guard_argv a;
	char msg[256];

	cr_assert_eq(guard_argv_split("/bin/sh -c \"exit 3\"", &a), 0);
	cr_assert_eq(guard_command_run(&a, 5000, msg, sizeof(msg)), 3);
	cr_assert_eq(guard_argv_split("/bin/true $(false) ;", &a), 0);
	cr_assert_eq(guard_command_run(&a, 5000, msg, sizeof(msg)), 0);
	cr_assert_eq(guard_argv_split("/bin/sleep 5", &a), 0);
	cr_assert_eq(guard_command_run(&a, 100, msg, sizeof(msg)), -1);
	cr_assert(strstr(msg, "killed"), "%s", msg);
	cr_assert_eq(guard_argv_split("/nonexistent/prog", &a), 0);
	cr_assert_eq(guard_command_run(&a, 100, msg, sizeof(msg)), -1);
}

Test(guard_action, dry_run_changes_nothing)
{
	struct guard_service s = { .name = "dns", .action = GUARD_ACTION_BIRD,
				   .bird_socket = "/nonexistent", .bird_protocol = "p" };
	char msg[256];

	cr_assert_eq(guard_action_apply(&s, 1, 1, msg, sizeof(msg)), GUARD_ACTION_ALREADY);
	cr_assert(strstr(msg, "would withdraw"), "%s", msg);
	cr_assert_eq(guard_action_apply(&s, 1, 0, msg, sizeof(msg)), GUARD_ACTION_FAILED);
}
