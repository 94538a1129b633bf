/* common/log.c - one-line logging to stderr or syslog. The log settings are the
 * only process-wide mutable state in the project. Every message is escaped
 * once formatted (log_escape), so a name from the network cannot forge a log
 * line or reach a terminal as a control sequence. */
#include "common/log.h"
#include "common/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_progname = "anycast";
static int log_to_syslog;
static int log_debug_on;

void log_init(const char *progname, int use_syslog, int verbose)
{
	log_progname = progname;
	log_to_syslog = use_syslog;
	log_debug_on = verbose;
	if (use_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_verbose(void)
{
	return log_debug_on;
}

size_t log_escape(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (outlen == 0)
		return 0;
	while (*s) {
		size_t hidden = text_hidden_len((const char *)s);
		size_t raw = hidden ? hidden : (*s < 0x20 || *s == 0x7f || *s == '\\') ? 1 : 0;
		if (raw == 0) {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)*s++;
			continue;
		}
		if (o + 4 * raw >= outlen)
			break;
		for (size_t i = 0; i < raw; i++, s++) {
			if (*s == '\\') {
				out[o++] = '\\';
				out[o++] = '\\';
			} else {
				o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *s);
			}
		}
	}
	out[o] = '\0';
	return o;
}

static void vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char raw[1024], msg[4 * sizeof(raw)];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_escape(raw, msg, sizeof(msg));
	if (log_to_syslog) {
		if (suffix)
			syslog(pri, "%s: %s", msg, suffix);
		else
			syslog(pri, "%s", msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	const char *level = pri == LOG_DEBUG  ? "debug"
	                    : pri == LOG_INFO ? "info"
	                    : pri == LOG_CRIT ? "fatal"
	                                      : "warn";
	if (suffix)
		fprintf(stderr, "%s.%03ldZ %s[%s] %s: %s\n", stamp, ts.tv_nsec / 1000000,
		        log_progname, level, msg, suffix);
	else
		fprintf(stderr, "%s.%03ldZ %s[%s] %s\n", stamp, ts.tv_nsec / 1000000, log_progname,
		        level, msg);
}

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, err);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (!log_debug_on)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
