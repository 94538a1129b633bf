/* agent/drop_user.h - --user: an agent started as root runs as an
 * unprivileged user once what needs root is done (token, TLS files and
 * configuration read, spool open). */
#ifndef ANYCAST_DROP_USER_H
#define ANYCAST_DROP_USER_H

#include <stddef.h>

/* Give dir (NULL: none) and the regular files directly in it to user, then
 * switch the whole process to user's uid and gid (common/privdrop.c), so the
 * agent can go on creating, renaming and deleting its files there. Never
 * follows a symbolic link and leaves alone files with more than one link:
 * whoever could write the directory cannot make root hand over another file.
 * Returns 0, or -1 with a one-line reason in err. Start-up only, before any
 * thread exists. */
int drop_user(const char *user, const char *dir, char *err, size_t errlen);

#endif
