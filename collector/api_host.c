/* collector/api_host.c - the Host names an open read API answers to. With no
 * read token, anything that can reach the port can read the API; a web page
 * elsewhere could too, through DNS rebinding (its own name made to resolve
 * to the collector), unless requests that name another host are refused.
 * Served: IP address literals, localhost, this machine's name and the host of
 * --external-url. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "collector/api_int.h"

/* Copy the host part of a Host header value (no port, no brackets, no
 * trailing dot) into out, lower-cased. -1 when it does not fit. */
static int
host_part(const char *v, char *out, size_t outlen, int *is_v6)
{
	const char *end;
	size_t n;

	*is_v6 = v[0] == '[';
	if (*is_v6) {
		v++;
		if ((end = strchr(v, ']')) == NULL)
			return -1;
	} else {
		end = strchr(v, ':');
		if (end == NULL)
			end = v + strlen(v);
	}
	n = (size_t)(end - v);
	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[n] = '\0';
	return 0;
}

void
api_host_init(struct collector *c, const char *external_url)
{
	const char *p;
	int v6;

	c->host_name[0] = c->external_host[0] = '\0';
	if (gethostname(c->host_name, sizeof(c->host_name)) != 0)
		c->host_name[0] = '\0';
	c->host_name[sizeof(c->host_name) - 1] = '\0';
	for (char *q = c->host_name; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (external_url != NULL && (p = strstr(external_url, "://")) != NULL) {
		char auth[sizeof(c->external_host)];
		size_t n = strcspn(p + 3, "/?#");

		if (n < sizeof(auth)) {
			memcpy(auth, p + 3, n);
			auth[n] = '\0';
			if (host_part(auth, c->external_host, sizeof(c->external_host), &v6) != 0)
				c->external_host[0] = '\0';
		}
	}
}

int
api_host_served(const struct collector *c, const char *host)
{
	char h[256];
	unsigned char a[16];
	int v6;
	size_t n;

	if (host == NULL)
		return 1; /* HTTP/1.0: no name to rebind */
	if (host_part(host, h, sizeof(h), &v6) != 0 || h[0] == '\0')
		return 0;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, h, a) == 1)
		return 1;
	if (v6)
		return 0;
	n = strlen(h);
	if (strcmp(h, "localhost") == 0 || (n > 10 && strcmp(h + n - 10, ".localhost") == 0))
		return 1;
	return (c->host_name[0] != '\0' && strcmp(h, c->host_name) == 0) ||
	       (c->external_host[0] != '\0' && strcmp(h, c->external_host) == 0);
}
