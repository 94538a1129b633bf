/* tests/common/test_log.c - the logger's escaping: a name from the network
 * cannot forge a log line or send a terminal control sequence. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

TestSuite(log);

Test(log, escapes_control_bytes_and_backslash)
{
	char out[256];

	log_escape("br1\nfake[warn] root login\r\x1b[2Jx\x7f\\", out, sizeof(out));
	cr_assert_str_eq(out, "br1\\x0afake[warn] root login\\x0d\\x1b[2Jx\\x7f\\\\");
}

Test(log, escapes_c1_bidi_and_zero_width)
{
	char out[256];

	/* U+0085 NEL, U+202E RLO, U+2066 LRI, U+200B ZWSP, U+FEFF */
	log_escape("a\xc2\x85"
	           "b\xe2\x80\xae"
	           "c\xe2\x81\xa6"
	           "d\xe2\x80\x8b"
	           "e\xef\xbb\xbf",
	           out, sizeof(out));
	cr_assert_str_eq(
	    out, "a\\xc2\\x85b\\xe2\\x80\\xaec\\xe2\\x81\\xa6d\\xe2\\x80\\x8be\\xef\\xbb\\xbf");
}

Test(log, keeps_printable_utf8)
{
	char out[64];

	log_escape("site-b Zürich \xe2\x80\x94 ok", out, sizeof(out));
	cr_assert_str_eq(out, "site-b Zürich \xe2\x80\x94 ok");
}

Test(log, never_overflows_or_splits_an_escape)
{
	char out[8];

	cr_assert_eq(log_escape("ab\x01\x02\x03", out, sizeof(out)), 6);
	cr_assert_str_eq(out, "ab\\x01");
	cr_assert_eq(log_escape("anything", out, 0), 0);
}

Test(log, every_message_is_escaped, .init = cr_redirect_stderr)
{
	log_init("test", 0, 0);
	log_warnx("agent %s refused", "x\n2026-12-03T00:00:00.000Z test[warn] forged");
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	char line[512];
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		cr_assert(
		    strstr(line, "agent x\\x0a2026-12-03T00:00:00.000Z test[warn] forged refused"),
		    "%s", line);
	}
	cr_assert_eq(lines, 1, "%d lines", lines);
}
