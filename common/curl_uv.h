/* common/curl_uv.h - libcurl's multi-socket interface driven by a libuv loop
 * (one uv_poll_t per socket, one uv_timer_t), shared by the agent's reporter
 * and the collector's alert delivery. No threads, no blocking calls. */
#ifndef ANYCAST_CURL_UV_H
#define ANYCAST_CURL_UV_H

#include <curl/curl.h>
#include <uv.h>

struct curl_uv;

/* Runs once per transfer on the loop thread; afterwards the caller owns easy
 * again (already removed from the multi handle) and must clean it up. */
typedef void (*curl_uv_done_fn)(void *arg, CURL *easy, CURLcode result);

/* NULL on allocation failure. max_total_connections 0 = curl default. */
struct curl_uv *curl_uv_new(uv_loop_t *loop, long max_total_connections);
/* Start a transfer. Returns 0, or -1 (done is then never called). */
int curl_uv_add(struct curl_uv *cu, CURL *easy, curl_uv_done_fn done, void *arg);
/* Transfers in flight. */
int curl_uv_in_flight(const struct curl_uv *cu);
/* Abort transfers in flight (their done runs with CURLE_ABORTED_BY_CALLBACK),
 * close handles; cb runs when memory is freed. */
void curl_uv_close(struct curl_uv *cu, void (*cb)(void *arg), void *arg);

#endif
