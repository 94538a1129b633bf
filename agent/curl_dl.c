/* agent/curl_dl.c - the curl_* entry points the agent uses, forwarded to
 * libcurl.so.4 opened with dlopen() on first use (see curl_dl.h for why).
 *
 * libcurl's state is process-wide (curl_global_init), and so is this table:
 * it is written once, by curl_dl_load() on the loop thread, and only read
 * afterwards. The library is never closed. */
#define CURL_DISABLE_TYPECHECK /* we define the functions, not call them */
#include "agent/curl_dl.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "common/log.h"

#define CURL_SONAME "libcurl.so.4"
/* CURLOPT_PROTOCOLS_STR (agent/reporter_http.c) is 7.85's. */
#define CURL_MIN_VERSION 0x075500
#define CURL_MIN_VERSION_STR "7.85.0"

/* One field per function, named as in libcurl without its "curl_" prefix
 * (RESOLVE below relies on that). */
static struct curl_api {
	void *lib;
	curl_version_info_data *(*version_info)(CURLversion);
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	time_t (*getdate)(const char *, const time_t *);
} api;

/* Debian's libcurl.so.4 does TLS with OpenSSL, but the LDAP and RTMP
 * libraries it links pull in GnuTLS, whose constructor initialises GnuTLS
 * on load (p11-kit trust modules and all: ~0.8 MB resident) for nothing:
 * both libraries call gnutls_global_init() themselves before using it, and
 * our transfers are limited to http and https (reporter_http.c). So the
 * library is opened with GNUTLS_NO_IMPLICIT_INIT=1 in the environment, unless
 * the user set it, and the environment is restored afterwards. */
static void *open_lib(void)
{
	int set = getenv("GNUTLS_NO_IMPLICIT_INIT") == NULL;
	void *lib;

	if (set)
		setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
	lib = dlopen(CURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (set)
		unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	return lib;
}

int curl_dl_load(char *err, size_t errlen)
{
	struct curl_api t = {0};
	const char *missing = NULL;
	curl_version_info_data *v;

	if (api.lib != NULL)
		return 0;
	if ((t.lib = open_lib()) == NULL) {
		snprintf(err, errlen, "central mode needs libcurl (%s): %s", CURL_SONAME,
		         dlerror());
		return -1;
	}
	/* POSIX allows the object-to-function pointer conversion dlsym needs. */
#define RESOLVE(f)                                                                                 \
	if (missing == NULL && (t.f = (__typeof__(t.f))dlsym(t.lib, "curl_" #f)) == NULL)          \
		missing = "curl_" #f;
	RESOLVE(version_info)
	RESOLVE(global_init)
	RESOLVE(global_cleanup)
	RESOLVE(easy_init)
	RESOLVE(easy_setopt)
	RESOLVE(easy_getinfo)
	RESOLVE(easy_cleanup)
	RESOLVE(easy_strerror)
	RESOLVE(multi_init)
	RESOLVE(multi_setopt)
	RESOLVE(multi_add_handle)
	RESOLVE(multi_remove_handle)
	RESOLVE(multi_assign)
	RESOLVE(multi_socket_action)
	RESOLVE(multi_info_read)
	RESOLVE(multi_cleanup)
	RESOLVE(multi_strerror)
	RESOLVE(slist_append)
	RESOLVE(slist_free_all)
	RESOLVE(getdate)
#undef RESOLVE
	if (missing != NULL) {
		snprintf(err, errlen, "%s: no %s", CURL_SONAME, missing);
		goto out;
	}
	v = t.version_info(CURLVERSION_NOW);
	if (v == NULL || v->version_num < CURL_MIN_VERSION) {
		snprintf(err, errlen, "%s is libcurl %s: central mode needs %s or newer",
		         CURL_SONAME, v != NULL ? v->version : "(unknown)", CURL_MIN_VERSION_STR);
		goto out;
	}
	api = t;
	log_debug("loaded libcurl %s (%s)", v->version, v->ssl_version ? v->ssl_version : "no TLS");
	return 0;
out:
	dlclose(t.lib);
	return -1;
}

int curl_dl_loaded(void)
{
	return api.lib != NULL;
}

/* The table, loading the library if start-up did not (unit tests do not). */
static const struct curl_api *need(void)
{
	char err[512];

	if (api.lib == NULL && curl_dl_load(err, sizeof(err)) < 0)
		fatalx("%s", err);
	return &api;
}

/* The variadic setters: libcurl reads the argument by the option's type
 * range (long, pointer or function pointer, curl_off_t, blob pointer), so
 * read it the same way and pass it on with the same type. Function pointers
 * travel as void * here, as POSIX (dlsym) allows. */
#define FORWARD_OPTION(fn, handle, option, ap)                                                     \
	((option) < CURLOPTTYPE_OBJECTPOINT ? (fn)((handle), (option), va_arg((ap), long))         \
	 : (option) < CURLOPTTYPE_OFF_T     ? (fn)((handle), (option), va_arg((ap), void *))       \
	 : (option) < CURLOPTTYPE_BLOB      ? (fn)((handle), (option), va_arg((ap), curl_off_t))   \
	                                    : (fn)((handle), (option), va_arg((ap), void *)))

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	const struct curl_api *a = need();
	va_list ap;
	CURLcode rc;

	va_start(ap, option);
	rc = FORWARD_OPTION(a->easy_setopt, curl, option, ap);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	const struct curl_api *a = need();
	va_list ap;
	CURLMcode rc;

	va_start(ap, option);
	rc = FORWARD_OPTION(a->multi_setopt, multi, option, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	const struct curl_api *a = need();
	va_list ap;
	void *out;

	va_start(ap, info);
	out = va_arg(ap, void *);
	va_end(ap);
	return a->easy_getinfo(curl, info, out);
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	return need()->version_info(v);
}

CURLcode curl_global_init(long flags)
{
	return need()->global_init(flags);
}

void curl_global_cleanup(void)
{
	if (api.lib != NULL)
		api.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return need()->easy_init();
}

void curl_easy_cleanup(CURL *curl)
{
	need()->easy_cleanup(curl);
}

const char *curl_easy_strerror(CURLcode rc)
{
	return need()->easy_strerror(rc);
}

CURLM *curl_multi_init(void)
{
	return need()->multi_init();
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
	return need()->multi_add_handle(multi, curl);
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
	return need()->multi_remove_handle(multi, curl);
}

CURLMcode curl_multi_assign(CURLM *multi, curl_socket_t s, void *p)
{
	return need()->multi_assign(multi, s, p);
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask,
                                   int *running_handles)
{
	return need()->multi_socket_action(multi, s, ev_bitmask, running_handles);
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *msgs_in_queue)
{
	return need()->multi_info_read(multi, msgs_in_queue);
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
	return need()->multi_cleanup(multi);
}

const char *curl_multi_strerror(CURLMcode rc)
{
	return need()->multi_strerror(rc);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return need()->slist_append(list, s);
}

/* curl_slist_free_all(NULL) is a no-op in libcurl; keep it one here too,
 * without loading the library for it. */
void curl_slist_free_all(struct curl_slist *list)
{
	if (list != NULL)
		need()->slist_free_all(list);
}

time_t curl_getdate(const char *p, const time_t *unused)
{
	return need()->getdate(p, unused);
}
