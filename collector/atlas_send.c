/* collector/atlas_send.c - "anycast-collector atlas import --url": each file
 * read whole, an array re-written as one result per line, sent in batches
 * (collector/atlas_send.h); the collector parses, stores and answers the
 * counts, which are summed here. */
#include "collector/atlas_send.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "anycast-collector atlas"
#define ANSWER_MAX (4u << 20)

struct buf {
	char *p;
	size_t len, cap;
};

static int
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

struct totals {
	size_t results, records, stored, duplicates, skipped;
	json_t *reasons; /* {"reason": count} */
};

struct sender {
	CURL *curl;
	struct curl_slist *hdrs;
	char url[1024];
	int verbose;
	struct totals t;
};

static size_t
on_answer(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + size * n > ANSWER_MAX || buf_add(b, p, size * n) != 0)
		return 0;
	return size * n;
}

static size_t
jsize(const json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v > 0 ? (size_t)v : 0;
}

/* POST one batch; base is the number of the file's results before it. */
static int
send_batch(struct sender *s, const char *file, const struct buf *batch, size_t base)
{
	struct buf ans = { 0 };
	char cerr[CURL_ERROR_SIZE] = "";
	long status = 0;
	json_t *j, *v;
	size_t i;
	const char *k;
	CURLcode rc;

	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, batch->p);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)batch->len);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(s->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	j = ans.p ? json_loads(ans.p, 0, NULL) : NULL;
	if (rc != CURLE_OK || status != 200 || !json_is_object(j)) {
		const char *e = json_string_value(json_object_get(j, "error"));

		if (rc != CURLE_OK)
			fprintf(stderr, PROG ": %s: %s\n", s->url, cerr[0] ? cerr : curl_easy_strerror(rc));
		else
			fprintf(stderr, PROG ": %s: HTTP %ld%s%s\n", s->url, status, e ? ": " : "",
				e ? e : "");
		json_decref(j);
		free(ans.p);
		return -1;
	}
	s->t.results += jsize(j, "results");
	s->t.records += jsize(j, "records");
	s->t.stored += jsize(j, "stored");
	s->t.duplicates += jsize(j, "duplicates");
	s->t.skipped += jsize(j, "skipped");
	json_array_foreach(json_object_get(j, "reasons"), i, v) {
		const char *r = json_string_value(json_object_get(v, "reason"));

		if (r != NULL)
			json_object_set_new(s->t.reasons, r,
					    json_integer((json_int_t)(jsize(s->t.reasons, r) +
								      jsize(v, "count"))));
	}
	if (s->verbose)
		json_array_foreach(json_object_get(j, "skips"), i, v)
			fprintf(stderr, "%s: result %zu skipped: %s\n", file, base + jsize(v, "index"),
				(k = json_string_value(json_object_get(v, "reason"))) ? k : "?");
	json_decref(j);
	free(ans.p);
	return 0;
}

/* Add one result (a line without its newline) to the batch; send when full. */
static int
add_line(struct sender *s, const char *file, struct buf *b, size_t *n, size_t *base,
	 const char *line, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_add(b, line, len) != 0 || buf_add(b, "\n", 1) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	if (++*n < ATLAS_SEND_RESULTS && b->len < ATLAS_SEND_BYTES)
		return 0;
	if (send_batch(s, file, b, *base) != 0)
		return -1;
	*base += *n;
	*n = 0;
	b->len = 0;
	return 0;
}

static int
send_file(struct sender *s, const char *file)
{
	struct buf text = { 0 }, b = { 0 };
	size_t n = 0, base = 0, i = 0;
	char chunk[65536];
	FILE *f = fopen(file, "rb");
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", file, strerror(errno));
		return -1;
	}
	while ((i = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&text, chunk, i) != 0)
			goto out;
	if (ferror(f)) {
		fprintf(stderr, PROG ": %s: %s\n", file, strerror(errno));
		goto out;
	}
	for (i = 0; i < text.len && strchr(" \t\r\n", text.p[i]); i++)
		;
	if (i < text.len && text.p[i] == '[') {
		json_error_t e;
		json_t *arr = json_loadb(text.p, text.len, 0, &e), *v;
		size_t k;

		if (!json_is_array(arr)) {
			fprintf(stderr, PROG ": %s: line %d: %s\n", file, e.line, e.text);
			json_decref(arr);
			goto out;
		}
		json_array_foreach(arr, k, v) {
			char *line = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			int r = line ? add_line(s, file, &b, &n, &base, line, strlen(line)) : -1;

			free(line);
			if (r != 0) {
				json_decref(arr);
				goto out;
			}
		}
		json_decref(arr);
	} else {
		for (char *p = text.p; p != NULL && p < text.p + text.len;) {
			char *nl = memchr(p, '\n', (size_t)(text.p + text.len - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(text.p + text.len - p);

			while (len > 0 && strchr(" \t\r", p[len - 1]))
				len--;
			if (add_line(s, file, &b, &n, &base, p, len) != 0)
				goto out;
			p = nl ? nl + 1 : NULL;
		}
	}
	rc = n > 0 ? send_batch(s, file, &b, base) : 0;
out:
	fclose(f);
	free(text.p);
	free(b.p);
	return rc;
}

int
atlas_send_files(const char *base_url, const char *token, int verbose, char **files, int nfiles)
{
	struct sender s = { .verbose = verbose };
	char auth[4200];
	const char *r;
	json_t *v;
	int rc = 2;

	size_t blen = strlen(base_url);

	snprintf(s.url, sizeof(s.url), "%.*s/api/v1/atlas/results",
		 (int)(blen > 0 && base_url[blen - 1] == '/' ? blen - 1 : blen), base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	if ((s.t.reasons = json_object()) == NULL || (s.curl = curl_easy_init()) == NULL ||
	    (s.hdrs = curl_slist_append(NULL, auth)) == NULL ||
	    curl_slist_append(s.hdrs, "Content-Type: application/x-ndjson") == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	curl_slist_append(s.hdrs, "Expect:");
	curl_easy_setopt(s.curl, CURLOPT_URL, s.url);
	curl_easy_setopt(s.curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s.curl, CURLOPT_HTTPHEADER, s.hdrs);
	curl_easy_setopt(s.curl, CURLOPT_USERAGENT, "anycast-collector-atlas/" ANYCAST_VERSION);
	curl_easy_setopt(s.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s.curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(s.curl, CURLOPT_TIMEOUT_MS, 300000L);
	curl_easy_setopt(s.curl, CURLOPT_WRITEFUNCTION, on_answer);
	for (int i = 0; i < nfiles; i++)
		if (send_file(&s, files[i]) != 0)
			goto out;
	printf("%zu results, %zu records: %zu stored, %zu duplicates, %zu results skipped\n",
	       s.t.results, s.t.records, s.t.stored, s.t.duplicates, s.t.skipped);
	json_object_foreach(s.t.reasons, r, v)
		printf("  skipped %zu: %s\n", (size_t)json_integer_value(v), r);
	rc = s.t.skipped > 0 ? 1 : 0;
out:
	curl_slist_free_all(s.hdrs);
	if (s.curl != NULL)
		curl_easy_cleanup(s.curl);
	json_decref(s.t.reasons);
	return rc;
}
