/* common/curl_uv.c - libcurl's multi-socket API on a libuv loop: curl tells us
 * which sockets to watch (one uv_poll_t each) and when to call it back (one
 * uv_timer_t); we tell curl what happened and collect finished transfers. */
#include "common/curl_uv.h"

#include <stdlib.h>

#include "common/log.h"

struct xfer {
	CURL *easy;
	curl_uv_done_fn done;
	void *arg;
	struct xfer *prev, *next;
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct curl_uv *cu;
	struct sock *prev, *next; /* live sockets, so close can stop them */
};

struct curl_uv {
	uv_loop_t *loop;
	CURLM *multi;       /* NULL once closing has cleaned it up */
	uv_timer_t timer;   /* curl's timeout */
	struct xfer *xfers; /* in flight */
	int in_flight;
	struct sock *socks; /* watched sockets (not those being closed) */
	int open_handles;   /* timer + polls not yet through their close callback */
	int closing;
	int in_curl;          /* inside curl_multi_socket_action: user callbacks may run */
	int teardown_pending; /* closed from such a callback: finish when curl returns */
	void (*close_cb)(void *arg);
	void *close_arg;
};

static void maybe_finish(struct curl_uv *cu)
{
	if (!cu->closing || cu->open_handles > 0)
		return;
	void (*cb)(void *) = cu->close_cb;
	void *arg = cu->close_arg;
	free(cu);
	if (cb)
		cb(arg);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct sock *s = h->data;
	struct curl_uv *cu = s->cu;

	free(s);
	cu->open_handles--;
	maybe_finish(cu);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct curl_uv *cu = h->data;

	cu->open_handles--;
	maybe_finish(cu);
}

static void sock_unlink(struct curl_uv *cu, struct sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		cu->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void sock_close(struct curl_uv *cu, struct sock *s)
{
	sock_unlink(cu, s);
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static struct xfer *xfer_find(struct curl_uv *cu, CURL *easy)
{
	for (struct xfer *x = cu->xfers; x; x = x->next)
		if (x->easy == easy)
			return x;
	return NULL;
}

static void xfer_unlink(struct curl_uv *cu, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		cu->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	cu->in_flight--;
}

/* Hands every finished transfer back to its owner. A done callback may add
 * transfers or close cu: re-check the multi handle on each turn. */
static void drain(struct curl_uv *cu)
{
	CURLMsg *msg;
	int left;

	while (cu->multi && (msg = curl_multi_info_read(cu->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;
		struct xfer *x = xfer_find(cu, easy);
		curl_multi_remove_handle(cu->multi, easy);
		if (x == NULL) {
			log_warnx("curl_uv: finished transfer %p is not ours", (void *)easy);
			continue;
		}
		xfer_unlink(cu, x);
		curl_uv_done_fn done = x->done;
		void *arg = x->arg;
		free(x);
		done(arg, easy, result);
	}
}

static void teardown(struct curl_uv *cu);

static void after_action(struct curl_uv *cu)
{
	if (cu->teardown_pending) {
		cu->teardown_pending = 0;
		teardown(cu);
		return;
	}
	drain(cu);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *s = h->data;
	struct curl_uv *cu = s->cu;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* s may be closed by curl inside this call: use only cu afterwards */
	cu->in_curl++;
	curl_multi_socket_action(cu->multi, s->fd, flags, &running);
	cu->in_curl--;
	after_action(cu);
}

static void on_timeout(uv_timer_t *t)
{
	struct curl_uv *cu = t->data;
	int running;

	cu->in_curl++;
	curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	cu->in_curl--;
	after_action(cu);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arm the timer; calling socket_action from
 * here would re-enter curl. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_uv *cu = userp;

	(void)multi;
	if (cu->closing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&cu->timer);
	else
		uv_timer_start(&cu->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket, attached with
 * curl_multi_assign and released through uv_close. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_uv *cu = userp;
	struct sock *s = socketp;
	int events = 0, rc;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(cu, s);
			if (!cu->closing)
				curl_multi_assign(cu->multi, fd, NULL);
		}
		return 0;
	}
	if (cu->closing)
		return 0;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		if ((rc = uv_poll_init_socket(cu->loop, &s->poll, fd)) < 0) {
			log_warnx("curl_uv: cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
			free(s);
			return -1;
		}
		s->fd = fd;
		s->cu = cu;
		s->poll.data = s;
		s->next = cu->socks;
		if (cu->socks)
			cu->socks->prev = s;
		cu->socks = s;
		cu->open_handles++;
		curl_multi_assign(cu->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if ((rc = uv_poll_start(&s->poll, events, on_poll)) < 0) {
		log_warnx("curl_uv: cannot poll socket %d: %s", (int)fd, uv_strerror(rc));
		return -1;
	}
	return 0;
}

struct curl_uv *curl_uv_new(uv_loop_t *loop, long max_total_connections)
{
	struct curl_uv *cu = calloc(1, sizeof(*cu));

	if (cu == NULL)
		return NULL;
	cu->loop = loop;
	if ((cu->multi = curl_multi_init()) == NULL) {
		free(cu);
		return NULL;
	}
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
	if (max_total_connections > 0)
		curl_multi_setopt(cu->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total_connections);
	uv_timer_init(loop, &cu->timer);
	cu->timer.data = cu;
	cu->open_handles = 1;
	return cu;
}

int curl_uv_add(struct curl_uv *cu, CURL *easy, curl_uv_done_fn done, void *arg)
{
	struct xfer *x;
	CURLMcode mc;

	if (cu == NULL || cu->closing || easy == NULL || done == NULL)
		return -1;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	/* no SIGALRM-based DNS timeouts in a loop-driven process */
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	/* curl calls timer_cb from here; the transfer starts on the next loop turn */
	if ((mc = curl_multi_add_handle(cu->multi, easy)) != CURLM_OK) {
		log_warnx("curl_uv: cannot add transfer: %s", curl_multi_strerror(mc));
		free(x);
		return -1;
	}
	x->next = cu->xfers;
	if (cu->xfers)
		cu->xfers->prev = x;
	cu->xfers = x;
	cu->in_flight++;
	return 0;
}

int curl_uv_in_flight(const struct curl_uv *cu)
{
	return cu->in_flight;
}

/* Aborts what is in flight and releases curl; the handles close through the
 * loop and the last close callback frees cu. Never runs inside curl. */
static void teardown(struct curl_uv *cu)
{
	struct xfer *x;

	uv_timer_stop(&cu->timer);
	/* abort what is in flight: owners get their easy handles back */
	while ((x = cu->xfers) != NULL) {
		xfer_unlink(cu, x);
		curl_multi_remove_handle(cu->multi, x->easy);
		x->done(x->arg, x->easy, CURLE_ABORTED_BY_CALLBACK);
		free(x);
	}
	/* stop watching sockets while their descriptors are still open, then
	 * let curl close its cached connections */
	while (cu->socks != NULL)
		sock_close(cu, cu->socks);
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, NULL);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, NULL);
	curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
	uv_close((uv_handle_t *)&cu->timer, on_timer_closed);
}

void curl_uv_close(struct curl_uv *cu, void (*cb)(void *arg), void *arg)
{
	if (cu == NULL || cu->closing)
		return;
	cu->closing = 1;
	cu->close_cb = cb;
	cu->close_arg = arg;
	/* from a write/read/progress callback: curl_multi_cleanup must wait until
	 * curl_multi_socket_action has returned */
	if (cu->in_curl > 0) {
		cu->teardown_pending = 1;
		return;
	}
	teardown(cu);
}
