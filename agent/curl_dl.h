/* agent/curl_dl.h - libcurl loaded at run time, by central mode only.
 *
 * The agent does not link libcurl: a standalone agent would otherwise map it
 * and the 27 libraries it pulls in on Debian 12 (GnuTLS via LDAP and RTMP,
 * Kerberos, SSH, ...), 4 MB of resident memory for code it never runs.
 * agent/curl_dl.c defines the curl_* functions the agent uses (those of
 * <curl/curl.h>, same prototypes) and forwards each call to libcurl.so.4,
 * opened with dlopen() on first use. Callers keep calling curl_easy_init()
 * and friends as usual; the collector links libcurl directly. */
#ifndef ANYCAST_CURL_DL_H
#define ANYCAST_CURL_DL_H

#include <stddef.h>

/* Open libcurl.so.4 and resolve the entry points. Call it at start-up so a
 * missing or too old library is a one-line start-up error; a curl_* call
 * made before it loads the library itself (and exits if it cannot).
 * Returns 0 (also when already loaded), or -1 with a reason in err. Loop
 * thread only, like every curl call in the agent. */
int curl_dl_load(char *err, size_t errlen);

/* 1 once libcurl is loaded in this process, else 0. */
int curl_dl_loaded(void);

#endif
