/* agent/identify.c - which instance answered: DNS identities against the
 * configured (or learned) identities, NTP fingerprints against the
 * management addresses' replies of the same round. Pure: values in, values out. */
#include "agent/identify.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int identify_fp_equal(const struct identify_fp *a, const struct identify_fp *b)
{
	return a->valid && b->valid && a->stratum == b->stratum && a->refid == b->refid &&
	       a->reference == b->reference;
}

char *identify_fp_format(const struct identify_fp *fp, char *out, size_t outlen)
{
	if (!fp->valid) {
		snprintf(out, outlen, "%s", "");
		return out;
	}
	snprintf(out, outlen, "s%d/%u.%u.%u.%u/%016" PRIx64, fp->stratum, fp->refid >> 24,
		 (fp->refid >> 16) & 0xff, (fp->refid >> 8) & 0xff, fp->refid & 0xff,
		 fp->reference);
	return out;
}

enum identify_verdict identify_ntp(const struct identify_fp *anycast,
				   const struct identify_ntp_candidate *c, int n, int *index)
{
	int matches = 0, unstable = 0, found = -1;

	*index = -1;
	if (!anycast->valid)
		return IDENTIFY_UNKNOWN;
	for (int i = 0; i < n; i++) {
		if (identify_fp_equal(&c[i].before, &c[i].after)) {
			if (identify_fp_equal(anycast, &c[i].before)) {
				matches++;
				found = i;
			}
		} else if (identify_fp_equal(anycast, &c[i].before) ||
			   identify_fp_equal(anycast, &c[i].after)) {
			/* The server updated its clock between our queries: its
			 * fingerprint proves nothing this time. */
			unstable++;
		}
	}
	if (matches == 1 && unstable == 0) {
		*index = found;
		return IDENTIFY_MATCH;
	}
	if (matches > 1 || (matches == 1 && unstable > 0))
		return IDENTIFY_AMBIGUOUS;
	if (unstable > 0)
		return IDENTIFY_UNSTABLE;
	return IDENTIFY_UNKNOWN;
}

int identify_dns(const char *identity, const struct identify_dns_candidate *c, int n)
{
	if (identity == NULL || identity[0] == '\0')
		return -1;
	for (int i = 0; i < n; i++)
		if (c[i].configured != NULL && c[i].configured[0] != '\0' &&
		    strcmp(c[i].configured, identity) == 0)
			return i;
	/* The management address speaks for its own instance only, unicast:
	 * a rogue anycast announcement cannot teach us anything here. */
	for (int i = 0; i < n; i++)
		if (c[i].learned != NULL && c[i].learned[0] != '\0' &&
		    strcmp(c[i].learned, identity) == 0)
			return i;
	return -1;
}

int identify_pick_source(const char (*order)[16], int n_order, const char *nsid,
			 const char *id_server, const char *hostname_bind)
{
	for (int i = 0; i < n_order; i++) {
		const char *v = NULL;

		if (strcmp(order[i], "nsid") == 0)
			v = nsid;
		else if (strcmp(order[i], "id.server") == 0)
			v = id_server;
		else if (strcmp(order[i], "hostname.bind") == 0)
			v = hostname_bind;
		if (v != NULL && v[0] != '\0')
			return i;
	}
	return -1;
}
