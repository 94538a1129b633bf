/* common/log.h - one-line logging to stderr or syslog, in OpenBSD ntpd's style. */
#ifndef ANYCAST_LOG_H
#define ANYCAST_LOG_H

#include <stddef.h>

#include <stdarg.h>

/* Set the program name, the destination (syslog when use_syslog) and verbosity
 * (0: info and above, 1: debug too). Safe to call again. */
void log_init(const char *progname, int use_syslog, int verbose);
int log_verbose(void);
/* Copy in to out (outlen bytes, NUL-terminated, cut at a whole character),
 * writing control bytes (C0, DEL), C1 controls and zero-width/bidi code points
 * as \xNN per byte and a backslash as \\. Returns the length written. The
 * logger applies it to every formatted message. */
size_t log_escape(const char *in, char *out, size_t outlen);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1): only at start-up. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
