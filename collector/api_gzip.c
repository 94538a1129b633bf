/* collector/api_gzip.c - gzip for answers whose client asked for it
 * (Accept-Encoding: gzip): JSON, /metrics and the dashboard's files. zlib's
 * deflate with a gzip header; small bodies and failures go out as they are. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "collector/api_int.h"

#define GZIP_MIN_BYTES 1024

/* 1 when the request's Accept-Encoding lists gzip without q=0. */
static int
wants_gzip(const struct http_exchange *ex)
{
	const char *ae = http_request_header(ex, "Accept-Encoding");
	const char *p;

	if (ae == NULL)
		return 0;
	for (p = ae; (p = strcasestr(p, "gzip")) != NULL; p += 4) {
		const char *q = p + 4;

		while (*q == ' ')
			q++;
		if (*q == ';') {
			const char *v = strchr(q, '=');

			if (v != NULL && strtod(v + 1, NULL) == 0)
				continue;
		}
		return 1;
	}
	return 0;
}

char *
api_gzip(const struct http_exchange *ex, const char *body, size_t len, size_t *out_len)
{
	z_stream z;
	uLong cap;
	char *out;

	if (len < GZIP_MIN_BYTES || !wants_gzip(ex))
		return NULL;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper; level 6 (zlib's default) */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, (uLong)len);
	if ((out = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)body;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}
