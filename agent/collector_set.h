/* agent/collector_set.h - the collectors an agent may report to, in order of
 * preference, and which one it uses now. Pure logic: no I/O, the caller
 * passes the time. The reporter and the config fetcher share one set, so
 * both follow the same collector.
 *
 * Transitions (cur is the index in use, 0 the preferred one):
 *   failure on cur  -> cur + 1 (wrapping); logged with why
 *   success on cur  -> stays; the failure streak ends
 *   a request while cur != 0 and return_ms passed since the preferred one
 *   failed          -> 0 (logged); if it fails again, on to the next
 * A failure or success reported for another index than cur (an exchange
 * that started before a switch) changes nothing. */
#ifndef ANYCAST_COLLECTOR_SET_H
#define ANYCAST_COLLECTOR_SET_H

#include <stddef.h>
#include <stdint.h>

#define COLLECTOR_SET_MAX 8
#define COLLECTOR_URL_MAX 512
#define COLLECTOR_RETURN_MS 60000

struct collector_set {
	char url[COLLECTOR_SET_MAX][COLLECTOR_URL_MAX];
	size_t n, cur;
	unsigned streak;       /* failures in a row, across collectors */
	int64_t left_first_ms; /* when the preferred collector last failed */
	int64_t return_ms;     /* retry the preferred one after this long */
};

/* Empty set; return_ms <= 0: COLLECTOR_RETURN_MS. */
void collector_set_init(struct collector_set *cs, int64_t return_ms);
/* Append the URLs of list, comma-separated (blanks around each ignored).
 * Each must start with http:// or https://. Returns 0, or -EINVAL with a
 * one-line reason in err (bad URL, too long, more than COLLECTOR_SET_MAX). */
int collector_set_add(struct collector_set *cs, const char *list, char *err, size_t errlen);
/* The collector for the next request, returning to the preferred one when
 * its time has come (now_ms: wall clock). The index goes back into
 * collector_set_failed/_ok; the string is valid as long as cs. */
size_t collector_set_pick(struct collector_set *cs, int64_t now_ms);
const char *collector_set_url(const struct collector_set *cs, size_t idx);
/* The exchange with collector idx failed (why: one line, for the log).
 * Returns 1 when the caller should try the new current collector at once
 * (it switched and has not yet been round the whole list), else 0: back off. */
int collector_set_failed(struct collector_set *cs, size_t idx, const char *why, int64_t now_ms);
/* Collector idx answered. */
void collector_set_ok(struct collector_set *cs, size_t idx);

#endif
