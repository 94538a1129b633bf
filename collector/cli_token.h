/* collector/cli_token.h - the token file of the collector's client commands
 * (status, atlas import --url). */
#ifndef ANYCAST_CLI_TOKEN_H
#define ANYCAST_CLI_TOKEN_H

#include <stddef.h>

/* The token in path into tok (len bytes), surrounding whitespace stripped.
 * 0, or -1 with a one-line reason in err (unreadable, empty). */
int cli_read_token(const char *path, char *tok, size_t len, char *err, size_t errlen);

#endif
