/* tests/agent/test_curl_dl.c - libcurl opened at run time: the library loads
 * once, leaves the environment as it found it, and every kind of option
 * argument (long, pointer, function pointer, curl_off_t) reaches libcurl
 * intact through the forwarding functions. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/curl_dl.h"

Test(curl_dl, loads_once_and_restores_the_environment)
{
	char err[256] = "";

	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	cr_assert_eq(curl_dl_load(err, sizeof(err)), 0, "%s", err);
	cr_assert(curl_dl_loaded());
	cr_assert_null(getenv("GNUTLS_NO_IMPLICIT_INIT"));
	cr_assert_eq(curl_dl_load(err, sizeof(err)), 0);
	curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	cr_assert_not_null(v);
	cr_assert_geq(v->version_num, 0x075500u);
}

/* The agent never calls curl_easy_perform (its transfers run on the loop):
 * take it from the library the forwarding functions opened. */
static CURLcode perform(CURL *e)
{
	void *lib = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD);
	CURLcode (*fn)(CURL *);

	cr_assert_not_null(lib, "libcurl.so.4 is not loaded");
	fn = (CURLcode(*)(CURL *))dlsym(lib, "curl_easy_perform");
	cr_assert_not_null(fn);
	dlclose(lib);
	return fn(e);
}

static size_t sink(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

Test(curl_dl, options_of_every_type_pass_through)
{
	static const char body[] = "0123456789";
	char errbuf[CURL_ERROR_SIZE];
	CURL *e = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	char *url = NULL;
	long code = -1;

	cr_assert_not_null(e);
	cr_assert_not_null(h);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_URL, "http://127.0.0.1:1/x"), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_HTTPHEADER, h), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_POSTFIELDS, body), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)10), CURLE_OK);
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"), CURLE_OK);
	/* A value libcurl rejects comes back as its error, not ours. */
	cr_assert_eq(curl_easy_setopt(e, CURLOPT_HTTP_VERSION, 999L), CURLE_UNSUPPORTED_PROTOCOL);

	/* Nothing listens on port 1: the transfer fails fast, and what we set
	 * is what libcurl used. */
	CURLcode rc = perform(e);
	cr_assert_eq(rc, CURLE_COULDNT_CONNECT, "%s", curl_easy_strerror(rc));
	cr_assert_neq(errbuf[0], '\0');
	cr_assert_eq(curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url), CURLE_OK);
	cr_assert_str_eq(url, "http://127.0.0.1:1/x");
	cr_assert_eq(curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
	cr_assert_eq(code, 0);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	curl_slist_free_all(NULL);
}

Test(curl_dl, multi_options_and_strings)
{
	CURLM *m = curl_multi_init();

	cr_assert_not_null(m);
	cr_assert_eq(curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 4L), CURLM_OK);
	cr_assert_eq(curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, NULL), CURLM_OK);
	cr_assert_str_eq(curl_multi_strerror(CURLM_OK), "No error");
	cr_assert_eq(curl_multi_cleanup(m), CURLM_OK);
	cr_assert_eq(curl_getdate("Sun, 06 Nov 1994 08:49:37 GMT", NULL), 784111777);
}
