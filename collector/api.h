/* collector/api.h - the HTTP API of docs/API.md: routing,
 * authentication, JSON answers, metrics, health and the static dashboard.
 * api_handle is the http_server handler; ctx is the struct collector. */
#ifndef ANYCAST_API_H
#define ANYCAST_API_H

#include "collector/http_server.h"

/* http_handler_fn: runs on the loop thread; answers now or after a commit. */
void api_handle(void *ctx, struct http_exchange *ex, const struct http_request *req);

#endif
