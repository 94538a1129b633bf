/* agent/reporter_http.c - the HTTP plumbing the reporter and the config
 * fetcher share: one libcurl easy handle per exchange with the collector's
 * token and name, TLS settings, bounded response body and the headers we
 * use; what a 403 "wrong agent" answer names. */
#include "agent/reporter.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/result.h"
#include "common/timefmt.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reporter_xfer *x = arg;
	size_t n = size * nmemb;

	if (x->resp_len + n + 1 > x->resp_max)
		return 0; /* an answer larger than any we expect: abort */
	if (x->resp_len + n + 1 > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 1024;
		while (cap < x->resp_len + n + 1)
			cap *= 2;
		char *p = realloc(x->resp, cap);
		if (!p)
			return 0;
		x->resp = p;
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, data, n);
	x->resp_len += n;
	x->resp[x->resp_len] = '\0';
	return n;
}

/* Value of header "name:" in line (not NUL-terminated), trimmed, into out. */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	const char *p = line + nl + 1, *e = line + len;
	while (p < e && isspace((unsigned char)*p))
		p++;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	size_t l = (size_t)(e - p);
	if (l >= outlen)
		return 0;
	memcpy(out, p, l);
	out[l] = '\0';
	return 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reporter_xfer *x = arg;
	size_t n = size * nmemb;
	char v[128];

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a redirect). */
		x->retry_after_ms = -1;
		x->etag[0] = '\0';
	} else if (header_value(data, n, "Retry-After", v, sizeof(v))) {
		char *end;
		long secs = strtol(v, &end, 10);
		if (end != v && *end == '\0' && secs >= 0) {
			x->retry_after_ms = (int64_t)secs * 1000;
		} else {
			time_t t = curl_getdate(v, NULL);
			if (t > 0) {
				int64_t d = (int64_t)t * 1000 - time_now_ms();
				x->retry_after_ms = d > 0 ? d : 0;
			}
		}
	} else if (header_value(data, n, "ETag", v, sizeof(v))) {
		snprintf(x->etag, sizeof(x->etag), "%s", v);
	}
	return n;
}

int reporter_xfer_setup(struct reporter_xfer *x, const struct reporter_http *h, const char *path,
                        const char *extra_header, size_t resp_max)
{
	char url[1024], auth[1024], agent[128];
	const char *base = h->base_url;
	size_t idx = 0;

	if (h->collectors) {
		idx = collector_set_pick(h->collectors, time_now_ms());
		base = collector_set_url(h->collectors, idx);
	}
	size_t bl = strlen(base);
	memset(x, 0, sizeof(*x));
	x->retry_after_ms = -1;
	x->resp_max = resp_max;
	x->base_url = base;
	x->collector = idx;
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s%s", (int)bl, base, path) >= sizeof(url))
		return -EINVAL;
	if (!(x->easy = curl_easy_init()))
		return -ENOMEM;
	if (h->token && h->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", h->token);
		x->headers = curl_slist_append(x->headers, auth);
	}
	if (h->agent_name && h->agent_name[0]) {
		if ((size_t)snprintf(agent, sizeof(agent), "X-Anycast-Agent: %s", h->agent_name) >=
		    sizeof(agent)) {
			reporter_xfer_cleanup(x);
			return -EINVAL;
		}
		x->headers = curl_slist_append(x->headers, agent);
	}
	x->headers = curl_slist_append(x->headers, "Accept: application/json");
	x->headers = curl_slist_append(x->headers, "Expect:"); /* no 100-continue round trip */
	if (extra_header)
		x->headers = curl_slist_append(x->headers, extra_header);
	if (!x->headers) {
		reporter_xfer_cleanup(x);
		return -ENOMEM;
	}
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(h->timeout_ms > 0 ? h->timeout_ms : 30000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "anycast-agent/" ANYCAST_VERSION);
	/* Certificate and host verification stay on (curl's default). */
	if (h->ca_blob) {
		/* In place of the default bundle, as a CAINFO file would be. */
		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, h->ca_blob);
	} else if (h->ca_file && h->ca_file[0]) {
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	}
	if (h->client_cert_blob) {
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, h->client_cert_blob);
		if (h->client_key_blob)
			curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, h->client_key_blob);
	} else if (h->client_cert && h->client_cert[0]) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, h->client_cert);
		if (h->client_key && h->client_key[0])
			curl_easy_setopt(e, CURLOPT_SSLKEY, h->client_key);
	}
	x->sent_ms = time_now_ms();
	return 0;
}

void reporter_xfer_cleanup(struct reporter_xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->resp);
	x->easy = NULL;
	x->headers = NULL;
	x->resp = NULL;
	x->resp_len = x->resp_cap = 0;
}

const char *reporter_xfer_error(const struct reporter_xfer *x, CURLcode rc, char *buf, size_t len)
{
	if (rc != CURLE_OK) {
		snprintf(buf, len, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
		return buf;
	}
	const char *msg = "";
	json_t *j = x->resp ? json_loadb(x->resp, x->resp_len, 0, NULL) : NULL;
	if (j && json_is_string(json_object_get(j, "error")))
		msg = json_string_value(json_object_get(j, "error"));
	snprintf(buf, len, "HTTP %ld%s%.200s", x->status, msg[0] ? ": " : "", msg);
	json_decref(j);
	return buf;
}

int reporter_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= RESULT_NAME_MAX)
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._:@-", *p))
			return 0;
	return 1;
}

int reporter_xfer_wrong_agent(const struct reporter_xfer *x, CURLcode rc, char *out, size_t len)
{
	static const char lead[] = "token belongs to agent \"";
	const char *msg, *p, *q;
	json_t *j;

	out[0] = '\0';
	if (rc != CURLE_OK || x->status != 403)
		return 0;
	j = x->resp ? json_loadb(x->resp, x->resp_len, 0, NULL) : NULL;
	msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
	if (msg && (p = strstr(msg, lead)) && (q = strchr(p + sizeof(lead) - 1, '"'))) {
		p += sizeof(lead) - 1;
		if ((size_t)(q - p) < len) {
			memcpy(out, p, (size_t)(q - p));
			out[q - p] = '\0';
		}
		if (!reporter_name_ok(out))
			out[0] = '\0'; /* not a name we would log or compare */
	}
	json_decref(j);
	return 1;
}
