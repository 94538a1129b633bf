/* collector/alert_impl.h - state shared by alert.c (routing, dedupe, queue,
 * retries) and alert_send.c (payloads and transfers). Private to them.
 *
 * Ownership: the alerter owns its route copies, the delivery queue and the
 * incident table; a delivery owns its payload, header lists and, while in
 * flight, its easy handle. Loop thread only, except work_cb (thread pool),
 * which touches nothing but its own delivery's easy handle. */
#ifndef ANYCAST_ALERT_IMPL_H
#define ANYCAST_ALERT_IMPL_H

#include <curl/curl.h>
#include <uv.h>

#include "collector/alert.h"
#include "collector/alert_format.h"

#define QUEUE_MAX 1000
#define INCIDENTS_MAX 4096
#define ROUTE_IN_FLIGHT 2
#define TOTAL_IN_FLIGHT 8
#define AM_RESEND_MS 60000         /* default of alerter_set_resend */
#define RESOLVED_KEEP_MS (3600 * 1000)

struct delivery {
	struct delivery *next;
	struct alerter *a;
	struct inv_alert route;     /* copy: a reload does not change queued work */
	struct event ev;
	struct event open;          /* the event that opened the incident */
	int resolved;
	int attempt, in_flight, resend;
	uint64_t first_ms, next_ms; /* uv_now() */
	CURL *easy;
	struct curl_slist *hdrs, *rcpt;
	char *payload;
	size_t len, off;
	char errbuf[CURL_ERROR_SIZE];
	uv_work_t work;             /* email: runs in the thread pool */
	CURLcode work_res;
};

/* What a route has been told about an incident. */
struct alert_incident {
	struct alert_incident *next;
	char route[RESULT_NAME_MAX];
	enum inv_alert_type type;
	char key[sizeof(((struct event *)0)->incident)];
	int firing;
	struct event open;
	uint64_t updated_ms, sent_ms;
};

struct alerter {
	uv_loop_t *loop;
	struct curl_uv *cu;
	uv_timer_t timer;
	struct inv_alert *routes;
	int n_routes;
	alert_delivery_fn on_delivery;
	void *ctx;
	struct delivery *head;
	size_t n_queue;
	struct alert_incident *incidents;
	size_t n_incidents;
	struct alerter_stats st;
	char external_url[512];     /* base of links in alerts, ends with '/' */
	int64_t resend_ms;          /* Alertmanager re-send interval */
	int64_t base_ms, max_ms, give_up_ms, timeout_ms;
	int closing, cu_closed, n_work;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* alert.c: an attempt ended (arg is the delivery; easy is cleaned up here). */
void alert_transfer_done(void *arg, CURL *easy, CURLcode res);
/* alert.c: finish alerter_close once nothing runs any more. */
void alert_maybe_closed(struct alerter *a);
/* alert_send.c: build the payload and handle and start the transfer.
 * 0, or -1 (the caller retries later; nothing was started). */
int alert_send_start(struct alerter *a, struct delivery *d);

#endif
