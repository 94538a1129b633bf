/* collector/status_cli.c - "anycast-collector status": the catchment matrix and latest events as text */
#include "collector/status_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "common/result.h"
#include "common/timefmt.h"

#define DEFAULT_URL "http://127.0.0.1:8053"
#define MAX_BODY (16u << 20)    /* a larger answer is not a collector's */
#define MAX_COLS 64             /* (service, family) columns shown */
#define MAX_ROWS 4096           /* agents shown */
#define CELL_MAX 160
#define TOKEN_MAX 4096
#define STALE_MS 90000          /* a cell without a round for this long is old news */

struct col {
	char service[RESULT_NAME_MAX];
	int family;
	char label[RESULT_NAME_MAX + 8];
};

/* ---- text helpers ---- */

/* Copy src into dst (dstlen > 0) replacing control characters, C0 and C1 (as
 * UTF-8), with '?': a hostile identity must not drive the terminal. */
static void sanitise(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t o = 0;

	while (*s && o + 1 < dstlen) {
		if (*s < 0x20 || *s == 0x7f) {
			dst[o++] = '?';
			s++;
		} else if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
			dst[o++] = '?';
			s += 2;
		} else {
			/* do not cut a UTF-8 sequence in two */
			size_t n = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : 2;
			size_t i;
			if (o + n >= dstlen)
				break;
			for (i = 0; i < n && s[i]; i++)
				dst[o++] = (char)s[i];
			s += i;
		}
	}
	dst[o] = '\0';
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void pad(FILE *out, int n)
{
	while (n-- > 0)
		fputc(' ', out);
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static int jfamily(const json_t *o)
{
	json_int_t f = json_integer_value(json_object_get(o, "family"));
	return f == 6 ? 6 : 4;
}

static void fmt_rtt(char *buf, size_t len, const json_t *v)
{
	double ms;

	if (!json_is_number(v) || (ms = json_number_value(v)) < 0) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, ms < 10 ? "%.1fms" : "%.0fms", ms);
}

/* ---- matrix ---- */

static int col_cmp(const void *a, const void *b)
{
	const struct col *x = a, *y = b;
	int c = strcmp(x->service, y->service);
	return c ? c : x->family - y->family;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Cell text and its kind: 0 answering, 1 outage, 2 unknown instance, 3 split. */
static int cell_text(const json_t *row, char *buf, size_t len)
{
	const char *status = jstr(row, "status");
	char inst[RESULT_NAME_MAX], ident[40], rtt[24], flags[40];
	int64_t last;
	int kind = 0;

	sanitise(inst, sizeof(inst), jstr(row, "instance"));
	sanitise(ident, sizeof(ident), jstr(row, "identity"));
	fmt_rtt(rtt, sizeof(rtt), json_object_get(row, "rtt_ms"));
	snprintf(flags, sizeof(flags), "%s%s%s", json_is_true(json_object_get(row, "suboptimal")) ? " (slow)" : "",
		 json_is_true(json_object_get(row, "flapping")) ? " (flap)" : "",
		 time_parse_rfc3339(jstr(row, "last_seen"), &last) == 0 && time_now_ms() - last > STALE_MS
			 ? " (stale)" : "");
	if (strcmp(status, "outage") == 0) {
		snprintf(buf, len, "xx OUTAGE%s", flags);
		kind = 1;
	} else if (strcmp(status, "unknown_instance") == 0) {
		snprintf(buf, len, "!! UNKNOWN %s%s", ident[0] ? ident : "?", flags);
		kind = 2;
	} else if (strcmp(status, "split") == 0) {
		snprintf(buf, len, "<> split %s%s", inst[0] ? inst : "?", flags);
		kind = 3;
	} else {
		snprintf(buf, len, "%s%s%s%s", inst[0] ? inst : "?", rtt[0] ? " " : "", rtt, flags);
	}
	return kind;
}

static const char *kind_color(int kind)
{
	switch (kind) {
	case 1: return "\033[1;2m";
	case 2: return "\033[1;97;41m";
	case 3: return "\033[1;33m";
	default: return "";
	}
}

static int render_matrix(FILE *out, const json_t *rows, int color)
{
	struct col *cols = NULL;
	char (*agents)[RESULT_NAME_MAX] = NULL;
	char (*cells)[CELL_MAX] = NULL;
	int *kinds = NULL;
	size_t ncol = 0, nagent = 0, i, j, idx;
	int w0, *widths = NULL, ret = -ENOMEM;
	const json_t *row;

	if (!json_is_array(rows) || json_array_size(rows) == 0) {
		fprintf(out, "No catchment data yet: no agent has reported.\n");
		return 0;
	}
	cols = calloc(MAX_COLS, sizeof(*cols));
	agents = calloc(MAX_ROWS, sizeof(*agents));
	if (cols == NULL || agents == NULL)
		goto out;

	json_array_foreach(rows, idx, row) {
		char svc[RESULT_NAME_MAX], ag[RESULT_NAME_MAX];
		int fam = jfamily(row);

		sanitise(svc, sizeof(svc), jstr(row, "service"));
		sanitise(ag, sizeof(ag), jstr(row, "agent"));
		for (i = 0; i < ncol && !(strcmp(cols[i].service, svc) == 0 && cols[i].family == fam); i++)
			;
		if (i == ncol && ncol < MAX_COLS) {
			snprintf(cols[ncol].service, sizeof(cols[ncol].service), "%s", svc);
			cols[ncol++].family = fam;
		}
		for (i = 0; i < nagent && strcmp(agents[i], ag) != 0; i++)
			;
		if (i == nagent && nagent < MAX_ROWS)
			snprintf(agents[nagent++], RESULT_NAME_MAX, "%s", ag);
	}
	qsort(cols, ncol, sizeof(*cols), col_cmp);
	qsort(agents, nagent, sizeof(*agents), name_cmp);
	for (i = 0; i < ncol; i++) {
		int both = (i > 0 && strcmp(cols[i - 1].service, cols[i].service) == 0) ||
			   (i + 1 < ncol && strcmp(cols[i + 1].service, cols[i].service) == 0);
		snprintf(cols[i].label, sizeof(cols[i].label), both ? "%s/v%d" : "%s", cols[i].service,
			 cols[i].family);
	}

	cells = calloc(nagent * ncol, sizeof(*cells));
	kinds = calloc(nagent * ncol, sizeof(*kinds));
	widths = calloc(ncol, sizeof(*widths));
	if (cells == NULL || kinds == NULL || widths == NULL)
		goto out;
	for (i = 0; i < nagent * ncol; i++)
		snprintf(cells[i], CELL_MAX, "-");

	json_array_foreach(rows, idx, row) {
		char svc[RESULT_NAME_MAX], ag[RESULT_NAME_MAX];
		struct col key;
		struct col *c;
		char (*a)[RESULT_NAME_MAX];

		sanitise(svc, sizeof(svc), jstr(row, "service"));
		sanitise(ag, sizeof(ag), jstr(row, "agent"));
		memset(&key, 0, sizeof(key));
		snprintf(key.service, sizeof(key.service), "%s", svc);
		key.family = jfamily(row);
		c = bsearch(&key, cols, ncol, sizeof(*cols), col_cmp);
		a = bsearch(ag, agents, nagent, sizeof(*agents), name_cmp);
		if (c == NULL || a == NULL)
			continue;
		i = (size_t)(a - agents) * ncol + (size_t)(c - cols);
		kinds[i] = cell_text(row, cells[i], CELL_MAX);
	}

	w0 = text_width("AGENT");
	for (i = 0; i < nagent; i++)
		if (text_width(agents[i]) > w0)
			w0 = text_width(agents[i]);
	for (j = 0; j < ncol; j++) {
		widths[j] = text_width(cols[j].label);
		for (i = 0; i < nagent; i++)
			if (text_width(cells[i * ncol + j]) > widths[j])
				widths[j] = text_width(cells[i * ncol + j]);
	}

	fprintf(out, "%sAGENT", color ? "\033[1m" : "");
	pad(out, w0 - text_width("AGENT"));
	for (j = 0; j < ncol; j++) {
		fprintf(out, "  %s", cols[j].label);
		if (j + 1 < ncol)
			pad(out, widths[j] - text_width(cols[j].label));
	}
	fprintf(out, "%s\n", color ? "\033[0m" : "");
	for (i = 0; i < nagent; i++) {
		fprintf(out, "%s", agents[i]);
		pad(out, w0 - text_width(agents[i]));
		for (j = 0; j < ncol; j++) {
			const char *t = cells[i * ncol + j];
			int k = kinds[i * ncol + j];
			fprintf(out, "  %s%s%s", color && k ? kind_color(k) : "", t, color && k ? "\033[0m" : "");
			if (j + 1 < ncol)
				pad(out, widths[j] - text_width(t));
		}
		fputc('\n', out);
	}
	fprintf(out, "marks: xx outage (no answer)   !! unknown instance (possible hijack)   "
		     "<> split   (slow) sub-optimal   (flap) flapping   (stale) no recent round   - not measured\n");
	ret = 0;
out:
	free(cols);
	free(agents);
	free(cells);
	free(kinds);
	free(widths);
	return ret;
}

/* ---- events ---- */

#define EV_COLS 6

static void event_fields(const json_t *ev, char f[EV_COLS][CELL_MAX])
{
	char a[RESULT_NAME_MAX], b[RESULT_NAME_MAX], s[RESULT_NAME_MAX];
	const char *key;
	const json_t *v, *detail;
	int64_t ms;
	size_t o = 0;

	if (time_parse_rfc3339(jstr(ev, "time"), &ms) == 0) {
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(f[0], CELL_MAX, "%Y-%m-%d %H:%M:%S", &tm);
	} else {
		sanitise(f[0], CELL_MAX, jstr(ev, "time"));
	}
	sanitise(f[1], CELL_MAX, jstr(ev, "type"));
	sanitise(f[2], CELL_MAX, jstr(ev, "agent")[0] ? jstr(ev, "agent") : "-");
	sanitise(s, sizeof(s), jstr(ev, "service"));
	if (json_is_integer(json_object_get(ev, "family")) && json_integer_value(json_object_get(ev, "family")))
		snprintf(f[3], CELL_MAX, "%s/v%d", s[0] ? s : "-", jfamily(ev));
	else
		snprintf(f[3], CELL_MAX, "%s", s[0] ? s : "-");
	sanitise(a, sizeof(a), jstr(ev, "from_instance"));
	sanitise(b, sizeof(b), jstr(ev, "to_instance"));
	if (strcmp(f[1], "instance_down") == 0 || strcmp(f[1], "instance_up") == 0)
		snprintf(f[4], CELL_MAX, "%s %s", a[0] ? a : b[0] ? b : "?",
			 strcmp(f[1], "instance_down") == 0 ? "down" : "up");
	else if (a[0] || b[0])
		snprintf(f[4], CELL_MAX, "%s -> %s", a[0] ? a : "none", b[0] ? b : "none");
	else
		snprintf(f[4], CELL_MAX, "-");

	/* the detail object's scalar members as key=value */
	f[5][0] = '\0';
	detail = json_object_get(ev, "detail");
	if (json_is_object(detail)) {
		json_object_foreach((json_t *)detail, key, v) {
			char val[64];
			int n;
			if (json_is_string(v))
				sanitise(val, sizeof(val), json_string_value(v));
			else if (json_is_integer(v))
				snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
			else if (json_is_real(v))
				snprintf(val, sizeof(val), "%.1f", json_real_value(v));
			else if (json_is_boolean(v))
				snprintf(val, sizeof(val), "%s", json_is_true(v) ? "true" : "false");
			else
				continue;
			/* incident keys are for alert routing, not for people */
			if (strcmp(key, "incident") == 0 || strcmp(key, "resolves") == 0)
				continue;
			sanitise(s, 32, key);
			n = snprintf(f[5] + o, CELL_MAX - o, "%s%s=%s", o ? " " : "", s, val);
			if (n < 0 || (size_t)n >= CELL_MAX - o) {
				f[5][o] = '\0';
				break;
			}
			o += (size_t)n;
		}
	}
}

static int render_events(FILE *out, const json_t *evs, int color)
{
	static const char *head[EV_COLS] = { "TIME (UTC)", "TYPE", "AGENT", "SERVICE", "CHANGE", "DETAIL" };
	char (*f)[EV_COLS][CELL_MAX];
	size_t n, i;
	int w[EV_COLS], j;

	n = json_is_array(evs) ? json_array_size(evs) : 0;
	if (n == 0) {
		fprintf(out, "No events.\n");
		return 0;
	}
	if ((f = calloc(n, sizeof(*f))) == NULL)
		return -ENOMEM;
	for (j = 0; j < EV_COLS; j++)
		w[j] = text_width(head[j]);
	for (i = 0; i < n; i++) {
		event_fields(json_array_get(evs, i), f[i]);
		for (j = 0; j < EV_COLS; j++)
			if (text_width(f[i][j]) > w[j])
				w[j] = text_width(f[i][j]);
	}
	fprintf(out, "%s", color ? "\033[1m" : "");
	for (j = 0; j < EV_COLS; j++) {
		fprintf(out, "%s%s", j ? "  " : "", head[j]);
		if (j + 1 < EV_COLS)
			pad(out, w[j] - text_width(head[j]));
	}
	fprintf(out, "%s\n", color ? "\033[0m" : "");
	for (i = 0; i < n; i++) {
		int bad = strcmp(f[i][1], "unknown_instance") == 0;
		for (j = 0; j < EV_COLS; j++) {
			if (j == EV_COLS - 1 && f[i][j][0] == '\0')
				break;
			fprintf(out, "%s%s%s%s", j ? "  " : "", color && bad && j == 1 ? "\033[1;31m" : "",
				f[i][j], color && bad && j == 1 ? "\033[0m" : "");
			if (j + 1 < EV_COLS && (j < EV_COLS - 2 || f[i][EV_COLS - 1][0]))
				pad(out, w[j] - text_width(f[i][j]));
		}
		fputc('\n', out);
	}
	free(f);
	return 0;
}

int status_cli_render(FILE *out, const json_t *catchments, const json_t *events, int color)
{
	int rc;

	fprintf(out, "%sCatchments%s\n", color ? "\033[1;4m" : "", color ? "\033[0m" : "");
	if ((rc = render_matrix(out, json_object_get(catchments, "catchments"), color)) < 0)
		return rc;
	fprintf(out, "\n%sLatest events%s (newest first)\n", color ? "\033[1;4m" : "", color ? "\033[0m" : "");
	if ((rc = render_events(out, json_object_get(events, "events"), color)) < 0)
		return rc;
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}

/* ---- HTTP (libcurl easy, blocking: this is a one-shot command) ---- */

struct body {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *nd;

	if (add > MAX_BODY - b->len)
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	if ((nd = realloc(b->data, b->len + add + 1)) == NULL)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* Read a token file, surrounding whitespace stripped. 0 or -1 with err. */
static int read_token(const char *path, char *tok, size_t len, char *err, size_t errlen)
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

/* GET <base>/api/v1/<path> and parse the JSON object it answers. 0 with
 * *out (caller owns), or -1 with a one-line reason in err. */
static int fetch_json(const char *base, const char *path, const char *token, json_t **out, char *err,
		      size_t errlen)
{
	char url[1024], auth[TOKEN_MAX + 32], cerr[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct body b = { NULL, 0 };
	json_error_t jerr;
	long status = 0;
	size_t blen = strlen(base);
	CURL *c;
	CURLcode rc;
	int ret = -1;

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof(url), "%.*s/api/v1/%s", (int)blen, base, path);
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "anycast-collector-status/" ANYCAST_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot reach the collector at %.*s: %s", (int)blen, base,
			 cerr[0] ? cerr : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*out = b.data ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
	if (status != 200) {
		char msg[200];
		sanitise(msg, sizeof(msg), *out ? jstr(*out, "error") : "");
		snprintf(err, errlen, "collector at %.*s answered %ld%s%s%s", (int)blen, base, status,
			 msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	if (*out == NULL || !json_is_object(*out)) {
		snprintf(err, errlen, "collector at %.*s: /api/v1/%s did not answer a JSON object", (int)blen,
			 base, path);
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	ret = 0;
out:
	free(b.data);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: anycast-collector status [--url URL] [--json] [--token-file FILE] [--events N] [--no-color]\n"
		   "  --url URL          collector base URL (default " DEFAULT_URL ")\n"
		   "  --json             print the raw JSON: {\"catchments\": [...], \"events\": [...]}\n"
		   "  --token-file FILE  read token for a collector that requires one\n"
		   "  --events N         how many latest events to show (default 10, max 1000)\n"
		   "  --no-color         plain text even on a terminal\n");
}

int status_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },     { "json", no_argument, NULL, 'j' },
		{ "token-file", required_argument, NULL, 't' }, { "events", required_argument, NULL, 'n' },
		{ "no-color", no_argument, NULL, 'C' },      { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = DEFAULT_URL, *token_file = NULL;
	char token[TOKEN_MAX], err[512], *end;
	char path[64];
	json_t *catchments = NULL, *events = NULL;
	int as_json = 0, no_color = 0, c, ret = 1;
	long nevents = 10;

	optind = 0; /* full re-initialisation: main may have parsed its own options */
	while ((c = getopt_long(argc, argv, "+u:jt:n:Ch", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'j': as_json = 1; break;
		case 't': token_file = optarg; break;
		case 'n':
			errno = 0;
			nevents = strtol(optarg, &end, 10);
			if (errno || *end || nevents < 0 || nevents > 1000) {
				fprintf(stderr, "anycast-collector status: --events wants 0..1000\n");
				return 2;
			}
			break;
		case 'C': no_color = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* tolerate being handed the whole command line: "prog status ..." */
	if (optind < argc && strcmp(argv[optind], "status") == 0)
		optind++;
	if (optind < argc) {
		fprintf(stderr, "anycast-collector status: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	token[0] = '\0';
	if (token_file && read_token(token_file, token, sizeof(token), err, sizeof(err)) < 0) {
		fprintf(stderr, "anycast-collector status: %s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fetch_json(url, "catchments", token, &catchments, err, sizeof(err)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "events?limit=%ld", nevents ? nevents : 1);
	if (fetch_json(url, path, token, &events, err, sizeof(err)) < 0)
		goto fail;
	if (nevents == 0)
		json_array_clear(json_object_get(events, "events"));

	if (as_json) {
		json_t *o = json_object();
		json_object_set(o, "catchments", json_object_get(catchments, "catchments"));
		json_object_set(o, "events", json_object_get(events, "events"));
		ret = json_dumpf(o, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF ? 0 : 1;
		json_decref(o);
	} else {
		int color = !no_color && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
		ret = status_cli_render(stdout, catchments, events, color) == 0 ? 0 : 1;
	}
	goto out;
fail:
	fprintf(stderr, "anycast-collector status: %s\n", err);
	ret = 1;
out:
	json_decref(catchments);
	json_decref(events);
	curl_global_cleanup();
	return ret;
}
