/* agent/token_file.h - reading the bearer token the agent (and the guard)
 * sends to the collector. */
#ifndef ANYCAST_TOKEN_FILE_H
#define ANYCAST_TOKEN_FILE_H

#include <stddef.h>

#define TOKEN_FILE_MAX 4096 /* a token buffer's size */

/* The token in path into out (outlen bytes): a regular file nobody else can
 * read, surrounding whitespace stripped, one word of printable ASCII (it goes
 * in a header). Start-up only: exits with a one-line reason on any problem. */
void token_file_read(const char *path, char *out, size_t outlen);

#endif
