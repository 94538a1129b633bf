/* collector/status_cli.c - "anycast-collector status": fetches catchments, incidents and
 * events from the collector and prints them as text (status_*.c) or JSON */
#include "collector/status_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "collector/cli_token.h"
#include "collector/status_impl.h"
#include "common/timefmt.h"

#define DEFAULT_URL "http://127.0.0.1:8053"
#define MAX_BODY (16u << 20) /* a larger answer is not a collector's */
#define TOKEN_MAX 4096
#define OPEN_MAX 50 /* open incidents fetched */
#define STR_(x) #x
#define STR(x) STR_(x)

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
/* GET <base>/api/v1/<path> and parse the JSON object it answers. 0 with
 * *out (caller owns), or -1 with a one-line reason in err and *http the
 * status the collector answered (0 when it did not answer). */
static int fetch_json(const char *base, const char *path, const char *token, json_t **out,
                      long *http, char *err, size_t errlen)
{
	char url[1024], auth[TOKEN_MAX + 32], cerr[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct body b = {NULL, 0};
	json_error_t jerr;
	long status = 0;
	size_t blen = strlen(base);
	CURL *c;
	CURLcode rc;
	int ret = -1;

	*out = NULL;
	*http = 0;
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
	*http = status;
	*out = b.data ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
	if (status != 200) {
		char msg[200];
		status_sanitise(msg, sizeof(msg), *out ? status_jstr(*out, "error") : "");
		snprintf(err, errlen, "collector at %.*s answered %ld%s%s%s", (int)blen, base,
		         status, msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	if (*out == NULL || !json_is_object(*out)) {
		snprintf(err, errlen, "collector at %.*s: /api/v1/%s did not answer a JSON object",
		         (int)blen, base, path);
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
	fprintf(f, "usage: anycast-collector status [--url URL] [--json] [--token-file FILE] "
	           "[--events N] [--no-color]\n"
	           "  --url URL          collector base URL (default " DEFAULT_URL ")\n"
	           "  --json             print the raw JSON: {\"incidents\": [...], "
	           "\"catchments\": [...], \"events\": [...]}\n"
	           "  --token-file FILE  read token for a collector that requires one\n"
	           "  --events N         how many latest events to show (default 10, max 1000)\n"
	           "  --no-color         plain text even on a terminal\n"
	           "The text view is " STR(
	               STATUS_CLI_WIDTH) " columns wide, or $COLUMNS when wider.\n");
}

int status_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"token-file", required_argument, NULL, 't'},
	    {"events", required_argument, NULL, 'n'},
	    {"no-color", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *url = DEFAULT_URL, *token_file = NULL;
	char token[TOKEN_MAX], err[512], *end;
	char path[64];
	json_t *catchments = NULL, *events = NULL, *open = NULL, *resolved = NULL;
	long http = 0;
	int as_json = 0, no_color = 0, c, ret = 1;
	long nevents = 10;

	optind = 0; /* full re-initialisation: main may have parsed its own options */
	while ((c = getopt_long(argc, argv, "+u:jt:n:Ch", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'n':
			errno = 0;
			nevents = strtol(optarg, &end, 10);
			if (errno || *end || nevents < 0 || nevents > 1000) {
				fprintf(stderr,
				        "anycast-collector status: --events wants 0..1000\n");
				return 2;
			}
			break;
		case 'C':
			no_color = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* tolerate being handed the whole command line: "prog status ..." */
	if (optind < argc && strcmp(argv[optind], "status") == 0)
		optind++;
	if (optind < argc) {
		fprintf(stderr, "anycast-collector status: unexpected argument \"%s\"\n",
		        argv[optind]);
		usage(stderr);
		return 2;
	}
	token[0] = '\0';
	if (token_file && cli_read_token(token_file, token, sizeof(token), err, sizeof(err)) < 0) {
		fprintf(stderr, "anycast-collector status: %s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fetch_json(url, "catchments", token, &catchments, &http, err, sizeof(err)) < 0)
		goto fail;
	/* a collector without incidents answers 404: the view goes without them */
	snprintf(path, sizeof(path), "incidents?state=open&limit=%d", OPEN_MAX);
	if (fetch_json(url, path, token, &open, &http, err, sizeof(err)) < 0 && http != 404)
		goto fail;
	if (open != NULL) {
		snprintf(path, sizeof(path), "incidents?state=resolved&limit=%d", RESOLVED_SHOWN);
		if (fetch_json(url, path, token, &resolved, &http, err, sizeof(err)) < 0)
			goto fail;
	}
	snprintf(path, sizeof(path), "events?limit=%ld", nevents ? nevents : 1);
	if (fetch_json(url, path, token, &events, &http, err, sizeof(err)) < 0)
		goto fail;
	if (nevents == 0)
		json_array_clear(json_object_get(events, "events"));

	if (as_json) {
		json_t *o = json_object();
		if (open != NULL) {
			json_t *all = json_array();
			json_array_extend(all, json_object_get(open, "incidents"));
			json_array_extend(all, json_object_get(resolved, "incidents"));
			json_object_set_new(o, "incidents", all);
		}
		json_object_set(o, "catchments", json_object_get(catchments, "catchments"));
		json_object_set(o, "events", json_object_get(events, "events"));
		ret = json_dumpf(o, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF ? 0
		                                                                               : 1;
		json_decref(o);
	} else {
		struct status_view v = {
		    .catchments = catchments,
		    .events = events,
		    .open = open,
		    .resolved = resolved,
		    .width = status_cli_width(getenv("COLUMNS")),
		    .color = !no_color && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL,
		    .now_ms = time_now_ms(),
		};
		ret = status_cli_render(stdout, &v) == 0 ? 0 : 1;
	}
	goto out;
fail:
	fprintf(stderr, "anycast-collector status: %s\n", err);
	ret = 1;
out:
	json_decref(catchments);
	json_decref(open);
	json_decref(resolved);
	json_decref(events);
	curl_global_cleanup();
	return ret;
}
