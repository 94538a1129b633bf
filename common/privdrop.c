/* common/privdrop.c - give up root after the privileged start-up. */
#include "common/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Give path to uid:gid without following a link: whoever can write the
 * directory could otherwise plant a symbolic or hard link and have root hand
 * over another file. A missing file is fine (not created yet). */
static int
own_file(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(err, errlen, "chown %s: %s", path,
			 errno == ELOOP ? "is a symbolic link; refused" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		rc = -1;
	} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "chown %s: not a regular file with one link; refused", path);
		rc = -1;
	} else if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

int privdrop_check_files(const char *const *paths, char *err, size_t errlen)
{
	struct stat st;

	for (size_t i = 0; paths != NULL && paths[i] != NULL; i++) {
		if (lstat(paths[i], &st) < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
			snprintf(err, errlen,
				 "%s: %s; refused with --user (whoever can write its directory could"
				 " have planted it)",
				 paths[i],
				 S_ISLNK(st.st_mode) ? "is a symbolic link"
						     : "is not a regular file with one link");
			return -1;
		}
	}
	return 0;
}

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
		char why[512];

		if (own_file(own_paths[i], pw->pw_uid, pw->pw_gid, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "--user %s: %s", user, why);
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
