/* collector/alert_send.c - one delivery attempt: the payload (built once),
 * the curl easy handle per channel, and the transfer: HTTP channels on curl
 * multi via common/curl_uv.h, email in libuv's thread pool.
 *
 * Why email is different: libcurl waits for the SMTP server's answer to the
 * end of the message with a blocking poll even under the multi interface
 * (smtp_done), and again for QUIT when the connection closes; on the loop
 * that would stall everything for as long as a slow mail server takes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alert_impl.h"
#include "common/curl_uv.h"

static size_t
discard_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	(void)buf;
	(void)arg;
	return size * nmemb; /* the receiver's answer body is of no interest */
}

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct delivery *d = arg;
	size_t n = size * nmemb;

	if (n > d->len - d->off)
		n = d->len - d->off;
	memcpy(buf, d->payload + d->off, n);
	d->off += n;
	return n;
}

/* Build the payload once (first attempt) and the easy handle each time. */
static int
prepare(struct alerter *a, struct delivery *d)
{
	char url[600], *p, *tok, *save, to[sizeof(d->route.mail_to)];
	CURL *e;

	if (d->payload == NULL) {
		switch (d->route.type) {
		case INV_ALERT_SLACK:
			d->payload = alert_format_slack(&d->ev, d->resolved);
			break;
		case INV_ALERT_ALERTMANAGER:
			d->payload = alert_format_alertmanager(&d->open, &d->ev, d->resolved, a->external_url);
			break;
		case INV_ALERT_EMAIL:
			d->payload = alert_format_email(&d->ev, d->resolved, d->route.mail_from,
							d->route.mail_to, &d->len);
			break;
		default:
			d->payload = alert_format_webhook(&d->ev, d->resolved, d->route.name);
		}
		if (d->payload == NULL)
			return -ENOMEM;
		if (d->route.type != INV_ALERT_EMAIL)
			d->len = strlen(d->payload);
	}
	if ((e = curl_easy_init()) == NULL)
		return -ENOMEM;
	d->errbuf[0] = '\0';
	d->off = 0;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)a->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->timeout_ms < 5000 ? a->timeout_ms : 5000));
	curl_easy_setopt(e, CURLOPT_PRIVATE, d);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	if (d->route.type == INV_ALERT_EMAIL) {
		if (d->rcpt == NULL) {
			snprintf(to, sizeof(to), "%s", d->route.mail_to);
			for (tok = strtok_r(to, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
				d->rcpt = curl_slist_append(d->rcpt, tok);
		}
		curl_easy_setopt(e, CURLOPT_URL, d->route.url);
		curl_easy_setopt(e, CURLOPT_MAIL_FROM, d->route.mail_from);
		curl_easy_setopt(e, CURLOPT_MAIL_RCPT, d->rcpt);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, d);
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		/* close (QUIT, another blocking exchange) inside the worker, not
		 * later in curl_easy_cleanup on the loop */
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)d->len);
	} else {
		snprintf(url, sizeof(url), "%s", d->route.url);
		if (d->route.type == INV_ALERT_ALERTMANAGER) {
			/* the base URL; tolerate a trailing slash or the full path */
			if (strstr(url, "/api/v2/alerts") == NULL) {
				p = url + strlen(url);
				while (p > url && p[-1] == '/')
					*--p = '\0';
				snprintf(p, sizeof(url) - (size_t)(p - url), "/api/v2/alerts");
			}
		}
		if (d->hdrs == NULL) {
			d->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
			d->hdrs = curl_slist_append(d->hdrs, "Expect:");
		}
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->hdrs);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->payload);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
		curl_easy_setopt(e, CURLOPT_USERAGENT, "anycast-collector/" ANYCAST_VERSION);
	}
	d->easy = e;
	return 0;
}

static void
work_cb(uv_work_t *w)
{
	struct delivery *d = w->data;

	d->work_res = curl_easy_perform(d->easy);
}

static void
after_work_cb(uv_work_t *w, int status)
{
	struct delivery *d = w->data;
	struct alerter *a = d->a;

	a->n_work--;
	alert_transfer_done(d, d->easy,
			    status == UV_ECANCELED ? CURLE_ABORTED_BY_CALLBACK : d->work_res);
	if (a->closing)
		alert_maybe_closed(a);
}

int
alert_send_start(struct alerter *a, struct delivery *d)
{
	if (prepare(a, d) < 0)
		return -1;
	if (d->route.type != INV_ALERT_EMAIL)
		return curl_uv_add(a->cu, d->easy, alert_transfer_done, d);
	d->work.data = d;
	if (uv_queue_work(a->loop, &d->work, work_cb, after_work_cb) < 0)
		return -1;
	a->n_work++;
	return 0;
}
