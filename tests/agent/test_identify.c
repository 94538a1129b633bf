/* tests/agent/test_identify.c - instance identification on synthetic NTP
 * fingerprints and DNS identities: match, ambiguous, unknown, clock update
 * between the unicast queries, configured versus learned identities. */
#include <criterion/criterion.h>
#include <string.h>

#include "agent/identify.h"

static struct identify_fp fp(int stratum, uint32_t refid, uint64_t ref)
{
	struct identify_fp f = { .valid = 1, .stratum = stratum, .refid = refid, .reference = ref };

	return f;
}

static struct identify_ntp_candidate stable(struct identify_fp f)
{
	struct identify_ntp_candidate c = { .before = f, .after = f };

	return c;
}

/* Two sites syncing from the same upstream: same stratum and refid, their
 * own reference times. */
#define UPSTREAM 0xc612ff7bU

TestSuite(identify);

Test(identify, ntp_unique_match)
{
	struct identify_ntp_candidate c[] = { stable(fp(3, UPSTREAM, 1000)),
					      stable(fp(3, UPSTREAM, 2000)),
					      stable(fp(3, UPSTREAM, 3000)) };
	struct identify_fp any = fp(3, UPSTREAM, 2000);
	int idx;

	cr_assert_eq(identify_ntp(&any, c, 3, &idx), IDENTIFY_MATCH);
	cr_assert_eq(idx, 1);
}

Test(identify, ntp_every_field_counts)
{
	struct identify_ntp_candidate c[] = { stable(fp(3, UPSTREAM, 1000)) };
	struct identify_fp other_stratum = fp(4, UPSTREAM, 1000);
	struct identify_fp other_refid = fp(3, UPSTREAM + 1, 1000);
	struct identify_fp other_ref = fp(3, UPSTREAM, 1001);
	int idx;

	cr_assert_eq(identify_ntp(&other_stratum, c, 1, &idx), IDENTIFY_UNKNOWN);
	cr_assert_eq(identify_ntp(&other_refid, c, 1, &idx), IDENTIFY_UNKNOWN);
	cr_assert_eq(identify_ntp(&other_ref, c, 1, &idx), IDENTIFY_UNKNOWN);
	cr_assert_eq(idx, -1);
}

Test(identify, ntp_ambiguous_when_two_share_a_fingerprint)
{
	struct identify_ntp_candidate c[] = { stable(fp(1, 0x47505300, 5000)),
					      stable(fp(1, 0x47505300, 5000)) };
	struct identify_fp any = fp(1, 0x47505300, 5000);
	int idx;

	cr_assert_eq(identify_ntp(&any, c, 2, &idx), IDENTIFY_AMBIGUOUS);
	cr_assert_eq(idx, -1);
}

Test(identify, ntp_unknown_instance)
{
	struct identify_ntp_candidate c[] = { stable(fp(2, UPSTREAM, 1000)),
					      stable(fp(2, UPSTREAM, 2000)) };
	struct identify_fp rogue = fp(2, 0x0a000001, 9999);
	int idx;

	cr_assert_eq(identify_ntp(&rogue, c, 2, &idx), IDENTIFY_UNKNOWN);
}

Test(identify, ntp_clock_update_between_unicast_queries)
{
	/* Site 0 updated its clock between "before" and "after": the anycast
	 * reply matches its old fingerprint, which proves nothing. */
	struct identify_ntp_candidate c[] = {
		{ .before = fp(3, UPSTREAM, 1000), .after = fp(3, UPSTREAM, 1064) },
		stable(fp(3, UPSTREAM, 2000)),
	};
	struct identify_fp any_old = fp(3, UPSTREAM, 1000);
	struct identify_fp any_new = fp(3, UPSTREAM, 1064);
	int idx;

	cr_assert_eq(identify_ntp(&any_old, c, 2, &idx), IDENTIFY_UNSTABLE);
	cr_assert_eq(idx, -1);
	cr_assert_eq(identify_ntp(&any_new, c, 2, &idx), IDENTIFY_UNSTABLE);
	/* The other site still identifies normally in the same round. */
	struct identify_fp any2 = fp(3, UPSTREAM, 2000);
	cr_assert_eq(identify_ntp(&any2, c, 2, &idx), IDENTIFY_MATCH);
	cr_assert_eq(idx, 1);
}

Test(identify, ntp_missing_unicast_reply_never_matches)
{
	struct identify_ntp_candidate c[] = {
		{ .before = fp(3, UPSTREAM, 1000), .after = { 0 } }, /* "after" timed out */
	};
	struct identify_fp any = fp(3, UPSTREAM, 1000);
	struct identify_fp none = { 0 };
	int idx;

	cr_assert_neq(identify_ntp(&any, c, 1, &idx), IDENTIFY_MATCH);
	cr_assert_eq(identify_ntp(&none, c, 1, &idx), IDENTIFY_UNKNOWN);
}

Test(identify, ntp_fingerprint_text)
{
	struct identify_fp f = fp(3, UPSTREAM, 0xeeb22c1d7eb1a54fULL);
	struct identify_fp none = { 0 };
	char buf[64];

	cr_assert_str_eq(identify_fp_format(&f, buf, sizeof(buf)),
			 "s3/198.18.255.123/eeb22c1d7eb1a54f");
	cr_assert_str_eq(identify_fp_format(&none, buf, sizeof(buf)), "");
}

Test(identify, dns_configured_identity)
{
	struct identify_dns_candidate c[] = { { "s1.lab", "" }, { "s2.lab", "" } };

	cr_assert_eq(identify_dns("s2.lab", c, 2), 1);
	cr_assert_eq(identify_dns("s1.lab", c, 2), 0);
	cr_assert_eq(identify_dns("S1.lab", c, 2), -1, "identities compare exactly");
	cr_assert_eq(identify_dns("rogue", c, 2), -1);
	cr_assert_eq(identify_dns("", c, 2), -1);
	cr_assert_eq(identify_dns(NULL, c, 2), -1);
}

Test(identify, dns_learned_identities)
{
	/* Site 1 has no configured identity and its management address said
	 * "s2.lab"; site 0 is configured "s1.lab" and its management address
	 * gave "s1-id" for this source (say id.server, while NSID is "s1.lab"). */
	struct identify_dns_candidate c[] = { { "s1.lab", "s1-id" }, { "", "s2.lab" }, { "", "" } };

	cr_assert_eq(identify_dns("s2.lab", c, 3), 1);
	cr_assert_eq(identify_dns("s1-id", c, 3), 0);
	cr_assert_eq(identify_dns("s1.lab", c, 3), 0);
	cr_assert_eq(identify_dns("s3.lab", c, 3), -1, "nobody said s3.lab");
}

Test(identify, dns_configured_wins_over_learned)
{
	/* Site 1's management address claims site 0's configured identity. */
	struct identify_dns_candidate c[] = { { "s1.lab", "" }, { "s2.lab", "s1.lab" } };

	cr_assert_eq(identify_dns("s1.lab", c, 2), 0);
}

Test(identify, dns_source_order)
{
	const char def[3][16] = { "nsid", "id.server", "hostname.bind" };
	const char chaos_first[2][16] = { "hostname.bind", "nsid" };

	cr_assert_eq(identify_pick_source(def, 3, "n", "i", "h"), 0);
	cr_assert_eq(identify_pick_source(def, 3, NULL, "i", "h"), 1);
	cr_assert_eq(identify_pick_source(def, 3, "", "", "h"), 2);
	cr_assert_eq(identify_pick_source(def, 3, NULL, NULL, NULL), -1);
	cr_assert_eq(identify_pick_source(chaos_first, 2, "n", "i", "h"), 0);
	cr_assert_eq(identify_pick_source(chaos_first, 2, "n", "i", NULL), 1);
	cr_assert_eq(identify_pick_source(chaos_first, 2, NULL, "i", NULL), -1,
		     "id.server is not in this service's list");
}
