/* common/privdrop.c - give up root after the privileged start-up. */
#include "common/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int privdrop(const char *user, const char *const *own_paths, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "--user %s: %s", user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (geteuid() == pw->pw_uid && getegid() == pw->pw_gid)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "--user %s: only root can change user", user);
		return -1;
	}
	for (size_t i = 0; own_paths != NULL && own_paths[i] != NULL; i++) {
		if (chown(own_paths[i], pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "--user %s: chown %s: %s", user, own_paths[i],
				 strerror(errno));
			return -1;
		}
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "--user %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "--user %s: root could be regained", user);
		return -1;
	}
	return 0;
}
