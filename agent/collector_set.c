/* agent/collector_set.c - which collector to report to, and when to move on
 * or go back to the preferred one (see collector_set.h). */
#include "agent/collector_set.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

void collector_set_init(struct collector_set *cs, int64_t return_ms)
{
	memset(cs, 0, sizeof(*cs));
	cs->return_ms = return_ms > 0 ? return_ms : COLLECTOR_RETURN_MS;
}

int collector_set_add(struct collector_set *cs, const char *list, char *err, size_t errlen)
{
	const char *p = list;
	size_t added = 0;

	for (;;) {
		const char *e = strchr(p, ',');
		const char *end = e ? e : p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		size_t len = (size_t)(end - p);
		if (len == 0 && !e && added > 0)
			return 0; /* a trailing comma */
		if ((len < 8 || strncmp(p, "http://", 7) != 0) &&
		    (len < 9 || strncmp(p, "https://", 8) != 0)) {
			snprintf(err, errlen,
			         "collector URL must start with http:// or https://: %.*s",
			         (int)(len < 200 ? len : 200), p);
			return -EINVAL;
		}
		if (len >= COLLECTOR_URL_MAX) {
			snprintf(err, errlen, "collector URL longer than %d bytes",
			         COLLECTOR_URL_MAX - 1);
			return -EINVAL;
		}
		if (cs->n == COLLECTOR_SET_MAX) {
			snprintf(err, errlen, "more than %d collectors", COLLECTOR_SET_MAX);
			return -EINVAL;
		}
		memcpy(cs->url[cs->n], p, len);
		cs->url[cs->n][len] = '\0';
		cs->n++;
		added++;
		if (!e)
			return 0;
		p = e + 1;
	}
}

size_t collector_set_pick(struct collector_set *cs, int64_t now_ms)
{
	if (cs->cur != 0 && now_ms - cs->left_first_ms >= cs->return_ms) {
		log_info(
		    "collector: trying the preferred collector %s again (%s in use for %" PRId64
		    " s)",
		    cs->url[0], cs->url[cs->cur], (now_ms - cs->left_first_ms) / 1000);
		cs->cur = 0;
		cs->streak = 0;
	}
	return cs->cur;
}

const char *collector_set_url(const struct collector_set *cs, size_t idx)
{
	return idx < cs->n ? cs->url[idx] : "";
}

int collector_set_failed(struct collector_set *cs, size_t idx, const char *why, int64_t now_ms)
{
	if (idx != cs->cur || cs->n == 0)
		return 0;
	cs->streak++;
	if (cs->n == 1)
		return 0;
	if (idx == 0)
		cs->left_first_ms = now_ms;
	cs->cur = (idx + 1) % cs->n;
	log_warnx("collector: switching from %s to %s: %s", cs->url[idx], cs->url[cs->cur], why);
	return cs->streak < cs->n;
}

void collector_set_ok(struct collector_set *cs, size_t idx)
{
	if (idx == cs->cur)
		cs->streak = 0;
}
