/* common/privdrop.h - give up root after the privileged start-up (binding a
 * low port, reading a TLS key) and run as an unprivileged user. */
#ifndef ANYCAST_PRIVDROP_H
#define ANYCAST_PRIVDROP_H

#include <stddef.h>

/* Switch the whole process (every thread) to user's uid, gid and only its
 * primary group; first give the files in own_paths (NULL-terminated, missing
 * ones skipped) to that user so the daemon can keep writing them. Verifies
 * that root cannot be regained. Returns 0, or -1 with a reason in err. Only
 * meaningful when running as root; as another user it fails unless user is
 * already the current one (then it does nothing). */
int privdrop(const char *user, const char *const *own_paths, char *err, size_t errlen);
/* Before opening files that privdrop() will hand over: each existing path
 * in paths (NULL-terminated) must be a regular file with one link, not a
 * symbolic link. 0, or -1 with the reason in err. */
int privdrop_check_files(const char *const *paths, char *err, size_t errlen);

#endif
