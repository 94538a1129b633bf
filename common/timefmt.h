/* common/timefmt.h - wall-clock and monotonic times, RFC 3339 formatting and
 * parsing, and the duration strings of the configuration ("500ms", "1s", "5m"). */
#ifndef ANYCAST_TIMEFMT_H
#define ANYCAST_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

int64_t time_now_ms(void);      /* Unix time, ms (CLOCK_REALTIME) */
int64_t time_mono_ns(void);     /* CLOCK_MONOTONIC, ns */

/* "2026-11-26T03:46:35.123Z" into buf (>= 25 bytes). Returns buf. */
char *time_format_rfc3339(int64_t unix_ms, char *buf, size_t buflen);
/* Parses RFC 3339 with optional fraction and Z or +hh:mm offset. 0 or -1. */
int time_parse_rfc3339(const char *s, int64_t *unix_ms);

/* "500ms", "1s", "1.5s", "5m", "2h", "1d", or a bare number of seconds.
 * Returns 0 and the value in ms, or -1. */
int duration_parse_ms(const char *s, int64_t *ms);

#endif
