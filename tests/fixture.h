/* tests/fixture.h - reads one captured reply from tests/fixtures/ for the
 * Criterion suites (dir is the fixture set, e.g. "dns", name the file in it, e.g. "nsd/nsid.bin"). */
#ifndef ANYCAST_TESTS_FIXTURE_H
#define ANYCAST_TESTS_FIXTURE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

/* Reads at most buflen bytes of the fixture into buf; a missing fixture fails the test. */
static inline size_t fixture_load(const char *dir, const char *name, uint8_t *buf,
				  size_t buflen)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s/%s", ANYCAST_SOURCE_DIR, dir,
		 name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "fixture %s missing", path);
	n = fread(buf, 1, buflen, f);
	fclose(f);
	return n;
}

#endif
