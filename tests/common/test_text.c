/* tests/common/test_text.c - which characters from the network are never
 * shown to a person raw (common/text.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/text.h"

TestSuite(text);

Test(text, hidden_characters_by_class)
{
	cr_assert_eq(text_hidden_len("\n"), 1);
	cr_assert_eq(text_hidden_len("\x1b[0m"), 1);
	cr_assert_eq(text_hidden_len("\x7f"), 1);
	cr_assert_eq(text_hidden_len("\xc2\x9b"), 2);     /* C1 CSI */
	cr_assert_eq(text_hidden_len("\xe2\x80\xae"), 3); /* U+202E RLO */
	cr_assert_eq(text_hidden_len("\xe2\x80\x8b"), 3); /* U+200B ZWSP */
	cr_assert_eq(text_hidden_len("\xe2\x81\xa9"), 3); /* U+2069 PDI */
	cr_assert_eq(text_hidden_len("\xef\xbb\xbf"), 3); /* U+FEFF */
	cr_assert_eq(text_hidden_len("a"), 0);
	cr_assert_eq(text_hidden_len("\xc3\xbc"), 0);     /* ü */
	cr_assert_eq(text_hidden_len("\xe2\x80\x94"), 0); /* em dash */
	cr_assert_eq(text_hidden_len("\xc2"), 0);         /* cut sequence: not read past the end */
	cr_assert_eq(text_hidden_len(""), 0);
}

Test(text, neutralise_in_place)
{
	char s[] = "site\xe2\x80\xae-b\x1b[2J\xc2\x85z\xc3\xbc";

	text_neutralise(s, '?');
	cr_assert_str_eq(s, "site?-b?[2J?z\xc3\xbc");
}
