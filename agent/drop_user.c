/* agent/drop_user.c - hand the spool directory to the --user user and become
 * that user (see drop_user.h). */
#include "agent/drop_user.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privdrop.h"

/* One entry of the directory: opened without following a link, checked on
 * the inode actually opened, so a swap after readdir() changes nothing. */
static int own_entry(int dfd, const char *name, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc = 0;

	/* Not even open what is not a plain file (a FIFO, a device). */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* gone */
	if (!S_ISREG(st.st_mode)) {
		log_warnx("--user: leaving %s alone (not a regular file)", name);
		return 0;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOENT)
			return 0; /* a symbolic link, or gone: not ours to hand over */
		snprintf(err, errlen, "%.200s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%.200s: %s", name, strerror(errno));
		rc = -1;
	} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		log_warnx("--user: leaving %s alone (not a regular file with one link)", name);
	} else if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
		snprintf(err, errlen, "chown %.200s: %s", name, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

static int own_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;
	char why[256] = "";

	struct stat st;

	/* With O_DIRECTORY, O_NOFOLLOW says ENOTDIR for a link to a directory:
	 * ask first, for a clear message; the open still refuses a link. */
	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "--user: %s: a symbolic link, refused", dir);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "--user: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fchown(dfd, uid, gid) < 0) {
		snprintf(err, errlen, "--user: chown %s: %s", dir, strerror(errno));
		close(dfd);
		return -1;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "--user: %s: %s", dir, strerror(errno));
		close(dfd);
		return -1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = own_entry(dfd, de->d_name, uid, gid, why, sizeof(why));
	}
	if (rc == 0 && errno != 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "--user: %s: %s", dir, why);
	closedir(d); /* closes dfd */
	return rc;
}

int drop_user(const char *user, const char *dir, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "--user %s: %s", user,
		         errno ? strerror(errno) : "no such user");
		return -1;
	}
	/* Already that user (e.g. under systemd's User=): nothing to hand over. */
	if (dir != NULL && geteuid() == 0 && pw->pw_uid != 0 &&
	    own_dir(dir, pw->pw_uid, pw->pw_gid, err, errlen) < 0)
		return -1;
	return privdrop(user, NULL, err, errlen);
}
