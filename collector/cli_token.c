/* collector/cli_token.c - the token file of the collector's client commands
 * (status, atlas import --url). */
#include "collector/cli_token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cli_read_token(const char *path, char *tok, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n, s = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(tok, 1, len - 1, f);
	fclose(f);
	tok[n] = '\0';
	while (n > 0 && strchr(" \t\r\n", tok[n - 1]))
		tok[--n] = '\0';
	while (tok[s] && strchr(" \t\r\n", tok[s]))
		s++;
	memmove(tok, tok + s, n - s + 1);
	if (tok[0] == '\0') {
		snprintf(err, errlen, "%s: empty token file", path);
		return -1;
	}
	return 0;
}
